# Sourced by the other scripts: make sure uv and the locked environment are there.
# uv comes from PyPI (pinned); `python3 -m uv` works even where pip's script folder is not on PATH.
if ! command -v uv >/dev/null 2>&1; then
  if ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
  fi
  uv() { python3 -m uv "$@"; }
fi
# Use the machine's own Python 3.11; never download one (only the package registries are reachable).
export UV_PYTHON_DOWNLOADS=never
uv sync --frozen --quiet

# Headless Chromium (Debian's) for the tests that open the HTML reports; only the tests need it.
if [ "${MHDEATHS_NEED_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian's chromium for the HTML report tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: run 'sudo apt-get install chromium' (the HTML tests will fail without it)." >&2
  fi
fi

# The validator's web page (web/validator/): its locked JavaScript and DuckDB's WebAssembly, built
# into the package's page_assets/, which `spec publish` copies. Rebuilt only when a source is newer.
_page_built="src/mhdeaths/validate/page_assets/app.js"
if [ ! -f "$_page_built" ] || [ -n "$(find web/validator/src web/validator/package-lock.json web/validator/build.mjs src/mhdeaths/output/templates/validation-report.html.j2 -newer "$_page_built" 2>/dev/null | head -1)" ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd web/validator && npm ci --no-audit --no-fund --silent && npm run build --silent) >/dev/null
  else
    echo "npm is missing: install Node 20 to build the validator's web page (its tests will fail)." >&2
  fi
fi
unset _page_built

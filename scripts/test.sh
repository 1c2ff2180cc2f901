#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, then lint, type check and test.
# Works on a fresh machine that has only Python 3.11, pip and apt.
set -euo pipefail
cd "$(dirname "$0")/.."
MHDEATHS_NEED_BROWSER=1 source scripts/setup.sh

echo "== ruff (lint and format)"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
echo "== mypy (strict, src/)"
uv run --frozen mypy
echo "== pytest"
uv run --frozen pytest -n 2 --dist worksteal -q "$@"

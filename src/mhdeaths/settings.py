"""The settings a user can make once instead of on every command: environment variables and a file.

A provider's data team points the tool at its own profiles folder, a standards team at its copy of
the spec, an analyst at the national warehouse and its key file. Typing the same option on every
command is how mistakes happen (loading into the wrong warehouse), so each of these settings can
come from, in order:

1. the command's own option (``--warehouse``, ``--spec-dir`` ...), when given;
2. the environment variable (``MHDEATHS_WAREHOUSE`` ...);
3. the settings file: ``$MHDEATHS_CONFIG`` if set, else ``mhdeaths.toml`` in the current folder,
   else the ``[tool.mhdeaths]`` table of ``pyproject.toml`` in the current folder;
4. the tool's default.

Every setting is declared once, in ``SETTINGS``; the reference page
(``docs/reference/configuration.md``) and the error for an unknown key are made from it. The
pseudonym key itself is deliberately not a setting of the file: a secret does not belong in a file
that sits beside the work and is copied with it (a key *file*'s path is).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mhdeaths.errors import UserError

CONFIG_ENV = "MHDEATHS_CONFIG"
CACHE_ENV = "MHDEATHS_CACHE_DIR"
"""The folder where a loaded spec is kept between runs (``mhdeaths.spec.cache``); set but empty,
nothing is kept."""
CONFIG_FILE = "mhdeaths.toml"
PYPROJECT_TABLE = ("tool", "mhdeaths")


class SettingsError(UserError):
    """The settings file cannot be used: one sentence naming the file and what is wrong."""


@dataclass(frozen=True)
class Setting:
    key: str
    """The name in the settings file."""
    env: str
    """The environment variable that sets it (and wins over the file)."""
    option: str
    """The command-line option that wins over both."""
    help: str
    default: str


SETTINGS = (
    Setting(
        "warehouse",
        "MHDEATHS_WAREHOUSE",
        "--warehouse",
        "The warehouse file the warehouse, run and benchmark commands use.",
        "./mhdeaths.duckdb",
    ),
    Setting(
        "pseudonym_key_file",
        "MHDEATHS_PSEUDONYM_KEY_FILE",
        "--key-file",
        "A file holding the pseudonym key (the owner's alone: mode 0600). "
        "MHDEATHS_PSEUDONYM_KEY gives the key itself, and only as an environment variable.",
        "none: loading refuses to start without a key",
    ),
    Setting(
        "spec_dir",
        "MHDEATHS_SPEC_DIR",
        "--spec-dir",
        "The spec folder: a standards team's own copy of the spec versions.",
        "the spec versions shipped with mhdeaths",
    ),
    Setting(
        "profiles_dir",
        "MHDEATHS_PROFILES_DIR",
        "(none: --profile names a file)",
        "The folder of provider profiles that --provider looks a provider's code up in.",
        "the profiles shipped with mhdeaths",
    ),
)
_BY_KEY = {setting.key: setting for setting in SETTINGS}


def setting(key: str) -> str | None:
    """The value of a setting from the environment, else the settings file; None when unset.

    A path in the settings file is taken relative to the file's own folder, as a user reading the
    file would take it.
    """
    declared = _BY_KEY[key]
    if os.environ.get(declared.env):
        return os.environ[declared.env]
    found = _settings_file(Path.cwd(), os.environ.get(CONFIG_ENV) or None)
    if found is None:
        return None
    path, table = found
    value = table.get(key)
    if value is None:
        return None
    return str((path.parent / str(value)).expanduser())


def path_setting(key: str) -> Path | None:
    """A setting that names a file or folder, as a path."""
    value = setting(key)
    return Path(value) if value else None


def settings_file() -> Path | None:
    """The settings file in use, if any (for ``--version`` and the docs)."""
    found = _settings_file(Path.cwd(), os.environ.get(CONFIG_ENV) or None)
    return None if found is None else found[0]


def _settings_file(cwd: Path, named: str | None) -> tuple[Path, dict[str, Any]] | None:
    """The settings file that applies, and its mhdeaths table (read again only when it changes)."""
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError(f"${CONFIG_ENV} names {path}, which is not a file.")
        return path, _loaded(path, path.stat().st_mtime_ns, "named")
    local = cwd / CONFIG_FILE
    if local.is_file():
        return local, _loaded(local, local.stat().st_mtime_ns, "whole")
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        table = _loaded(pyproject, pyproject.stat().st_mtime_ns, "tool")
        return (pyproject, table) if table is not None else None
    return None


@cache
def _loaded(path: Path, mtime_ns: int, shape: str) -> Any:
    """The mhdeaths table of a settings file: the whole file (``mhdeaths.toml``), its
    ``[tool.mhdeaths]`` table (``pyproject.toml``; None when it has none), or either (a file
    named by ``$MHDEATHS_CONFIG``)."""
    document = _read(path)
    tool = document.get(PYPROJECT_TABLE[0])
    tool_table = tool.get(PYPROJECT_TABLE[1]) if isinstance(tool, dict) else None
    if shape == "tool":
        return None if tool_table is None else _table(path, tool_table)
    if shape == "named" and tool_table is not None:
        return _table(path, tool_table)
    return _table(path, document)


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # here: most runs have no settings file to parse

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"The settings file {path} is not valid TOML ({exc}).") from None
    except OSError as exc:
        raise SettingsError(f"The settings file {path} cannot be read: {exc.strerror}.") from None


def _table(path: Path, table: object) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise SettingsError(f"The mhdeaths settings in {path} are not a table of keys.")
    for key, value in table.items():
        if key == "pseudonym_key":
            raise SettingsError(
                f"The settings file {path} holds a pseudonym key: keep the key in a file of its "
                "own (pseudonym_key_file) or in $MHDEATHS_PSEUDONYM_KEY, never beside the work."
            )
        if key not in _BY_KEY:
            known = ", ".join(_BY_KEY)
            raise SettingsError(
                f"The settings file {path} has an unknown key {key!r} (known: {known})."
            )
        if not isinstance(value, str) or not value:
            raise SettingsError(f"The setting {key!r} in {path} must be a non-empty string.")
    return table


def reference_page() -> str:
    """``docs/reference/configuration.md``: every setting, where it comes from, in one place."""
    lines = [
        "# Configuration",
        "",
        "Each setting comes from, first found: the command's option; the environment variable;",
        f"the settings file (`${CONFIG_ENV}` if set, else `{CONFIG_FILE}` in the current folder,",
        "else the `[tool.mhdeaths]` table of `pyproject.toml` in the current folder); the default.",
        "A path in the settings file is relative to the file's folder.",
        "`mhdeaths --version` names the settings file in use.",
        "",
        "| setting (file) | environment variable | option | default | what it is |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        lines.append(f"| `{s.key}` | `{s.env}` | `{s.option}` | {s.default} | {s.help} |")
    lines += [
        "",
        "Other environment variables:",
        "",
        "| variable | what it does |",
        "|---|---|",
        "| `MHDEATHS_PSEUDONYM_KEY` | The pseudonym key itself (at least 32 characters of hex or "
        "base64); never read from a settings file. |",
        f"| `{CONFIG_ENV}` | The settings file to read, instead of looking in the current folder. |",
        f"| `{CACHE_ENV}` | Where a spec version, once loaded, is kept for the next run (default: "
        "`$XDG_CACHE_HOME/mhdeaths`, else `~/.cache/mhdeaths`; `%LOCALAPPDATA%\\mhdeaths\\cache` "
        "on Windows). Set empty, nothing is kept. Only a speed-up: a kept spec is used only while "
        "the version's files, and the code that reads them, are byte for byte as they were. |",
        "| `NO_COLOR` | Plain text, no colour, on the terminal. |",
        "",
        "An example `mhdeaths.toml`:",
        "",
        "```toml",
        'warehouse = "/data/mhdeaths/national.duckdb"',
        'pseudonym_key_file = "/secure/mhdeaths.key"',
        'profiles_dir = "profiles"',
        "```",
        "",
    ]
    return "\n".join(lines)

"""What the ``mhdeaths`` process does before and after its command, to start and end sooner.

Most of a small command's time is Python starting and importing polars, pydantic and typer; most
of a large file's is reading it. So the command's files are read on a thread while the rest is
imported, and when the whole process was one command, it ends as soon as its output is written,
rather than having Python free a large file's frames one by one. Standard library only: this runs
before anything else is imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

COMMAND_PROCESS = Path(sys.argv[0]).name in {"mhdeaths", "__main__.py"}
"""This process is the ``mhdeaths`` command (not a test, not another program)."""

_READ_AHEAD: dict[tuple[str, ...], tuple[set[str], set[str]]] = {
    ("validate",): ({"--format", "--out", "--spec", "--spec-dir"}, {"--strict", "--no-strict"}),
    ("warehouse", "load"): (
        {"-w", "--warehouse", "--key-file", "--received-at", "--reports"},
        {"--demo-key"},
    ),
}
"""The commands whose files may be read ahead: their options that take a value, and their flags,
none of which changes how a file is read."""


def files_to_read_ahead() -> list[Path]:
    """The files of ``mhdeaths validate FILE...`` or ``mhdeaths warehouse load FILE...`` when no
    option changes how a file is read (a profile, an encoding, a delimiter) and every one named is
    a file (not a folder); none otherwise."""
    if not COMMAND_PROCESS:
        return []
    command = next((c for c in _READ_AHEAD if tuple(sys.argv[1 : 1 + len(c)]) == c), None)
    if command is None:
        return []
    valued, flags = _READ_AHEAD[command]
    files = []
    args = iter(sys.argv[1 + len(command) :])
    for arg in args:
        if arg in valued:
            next(args, None)
        elif arg.startswith("-"):
            if arg not in flags and not arg.startswith(tuple(f"{v}=" for v in valued)):
                return []
        else:
            files.append(Path(arg))
    return files if all(f.is_file() for f in files) else []


def end_command(code: int) -> None:
    """End the command with ``code``: at once when the process is the command and everything is
    written (freeing a million records' frames takes Python a few tenths of a second); otherwise
    (a test, a program calling the app) by ``SystemExit`` when the code is not 0."""
    if COMMAND_PROCESS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if code:
        raise SystemExit(code)

"""What the ``mhdeaths`` process does before and after its command, to start and end sooner.

Most of a small command's time is Python starting and importing polars, pydantic and the
validator; most of a large file's is reading it. So ``main()`` looks at the command line first,
with the command tree it is about to run (click's own parser: there is no other), and when the
command reads submission files that no option changes the reading of, starts reading them on a
thread before the rest is imported. When the whole process was one command, it ends as soon as
its output is written, rather than having Python free a large file's frames one by one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path, PurePath

from typer._click import Command, Context
from typer.core import TyperGroup

# typer (0.29) carries its own click as ``typer._click``; ``Context`` is the context its parser
# makes, holding the values parsed (``typer.Context`` is a subclass that only typer itself makes).

COMMAND_PROCESS = Path(sys.argv[0]).name in {"mhdeaths", "__main__.py"}
"""This process is the ``mhdeaths`` command (not a test, not another program)."""

_READ_AHEAD: dict[tuple[str, ...], frozenset[str]] = {
    ("validate",): frozenset({"--format", "--out", "--spec", "--spec-dir", "--strict"}),
    ("warehouse", "load"): frozenset(
        {"--warehouse", "--key-file", "--received-at", "--reports", "--demo-key"}
    ),
}
"""The commands whose files may be read ahead, and those of their options that do not change how
a file is read. Any other option given (a profile, an encoding, a delimiter, a limit) stops the
read-ahead, so an option added to the command later is safe until it is named here. Which option
changes the reading is this module's knowledge, not click's; what was given is click's."""


def _find_command(command: TyperGroup, args: Sequence[str]) -> tuple[Context, Command, list[str]]:
    """The context of the group holding the command that ``args`` name, that command, and the
    words left for it to parse: each group's own options taken off by click's parser, and the
    command found by the group, as running the command finds it. Nothing is converted (typer
    converts values with pydantic: half a second to import, which the read-ahead should
    overlap). Raises an exception when ``args`` name no command."""
    ctx = Context(command, info_name="mhdeaths", resilient_parsing=True)
    rest = list(args)
    while True:
        group = ctx.command
        assert isinstance(group, TyperGroup)
        _, rest, _ = group.make_parser(ctx).parse_args(rest)
        name, sub, rest = group.resolve_command(ctx, rest)
        if name is None or sub is None:
            raise ValueError("no command")
        if not isinstance(sub, TyperGroup):
            return ctx, sub, rest
        ctx = Context(sub, info_name=name, parent=ctx, resilient_parsing=True)


def parse_command_line(command: TyperGroup, args: Sequence[str]) -> Context | None:
    """The context click makes for the command that ``args`` name, holding the values it parsed
    for the command's options and arguments: parsed as running the command parses them, but
    with nothing run (no --help, no error: click's resilient parsing). None when ``args`` name
    no command."""
    try:
        parent, leaf, rest = _find_command(command, args)
        return leaf.make_context(leaf.name, rest, parent=parent, resilient_parsing=True)
    except Exception:
        # An unknown command, say: running the command says so, in its own words.
        return None


def command_words(ctx: Context | None) -> tuple[str, ...]:
    """The words naming the command after ``mhdeaths``, e.g. ``("warehouse", "load")``."""
    return tuple(ctx.command_path.split()[1:]) if ctx is not None else ()


def paths_given(ctx: Context | None) -> list[Path]:
    """Every path among the values parsed for the command's options and arguments, a default
    included (benchmark's ``out/benchmarks``), in the order click processed them."""
    if ctx is None:
        return []
    return [path for value in ctx.params.values() for path in _paths(value)]


def option_value(ctx: Context | None, option: str) -> object:
    """The value parsed (or defaulted) for the command's option ``option``, e.g. ``"--out"``;
    None when the command has no such option."""
    for param in ctx.command.params if ctx is not None else []:
        if option in (*param.opts, *param.secondary_opts) and param.name:
            return ctx.params.get(param.name) if ctx is not None else None
    return None


def files_to_read_ahead(command: TyperGroup, args: Sequence[str]) -> list[Path]:
    """The files of ``mhdeaths validate FILE...`` or ``mhdeaths warehouse load FILE...`` when no
    option given changes how a file is read and every one named is a file (not a folder); none
    otherwise, and none when this process is not the command.

    Read with click's parser alone, values unconverted: a millisecond, importing nothing."""
    if not COMMAND_PROCESS:
        return []
    try:
        parent, leaf, rest = _find_command(command, args)
        words = (*command_words(parent), leaf.name or "")
        harmless = _READ_AHEAD.get(words)
        if harmless is None:
            return []
        ctx = Context(leaf, info_name=leaf.name, parent=parent, resilient_parsing=True)
        given, _, _ = leaf.make_parser(ctx).parse_args(list(rest))
    except Exception:
        return []
    files: list[Path] = []
    for param in leaf.params:
        if param.param_type_name == "argument":
            files += [Path(str(v)) for v in given.get(param.name or "") or ()]
        elif param.name in given and not harmless & {*param.opts, *param.secondary_opts}:
            return []
    return files if all(f.is_file() for f in files) else []


def _paths(value: object) -> list[Path]:
    values = value if isinstance(value, list | tuple) else [value]
    return [Path(v) for v in values if isinstance(v, PurePath)]


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

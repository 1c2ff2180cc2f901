"""The ``mhdeaths`` command: its root, its entry point, and user errors turned into exits.

The command groups live one module each beside this one (``spec``, ``profile``, ``validate``,
``synth``, ``benchmark``, ``jobs``, ``warehouse``): each parses its options, calls one library
function and renders the result. This module assembles them into one command tree, in the order
``--help`` lists them, and runs it. Nothing below the command prints. A ``UserError`` from the
library becomes one sentence on stderr and its documented exit code; anything else is a bug and
keeps its traceback.
"""

# No ``from __future__ import annotations``: typer reads the root's annotations as it
# builds the command, on every run, and would compile and evaluate each again if kept as text
# (a hundredth of a one-month validation).
import copy
import gc
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
import typer.core
import typer.main
from typer._click import Context

from mhdeaths import guard
from mhdeaths.cli import benchmark, jobs, profile, spec, synth, validate, warehouse
from mhdeaths.cli.common import err, escape, out, set_verbosity
from mhdeaths.cli.process import (
    command_words,
    end_command,
    files_to_read_ahead,
    option_value,
    parse_command_line,
    paths_given,
)
from mhdeaths.errors import SpecCheckFailed, UserError

app = typer.Typer(
    name="mhdeaths",
    help="A unified national dataset of deaths in NHS mental health services in England.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Show the versions of mhdeaths, its spec and DuckDB, and exit.",
            is_eager=True,
            callback=lambda shown: _version(shown),
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print nothing but errors: the exit code tells."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Say what each step did and how long it took."),
    ] = False,
) -> None:
    """A unified national dataset of deaths in NHS mental health services in England."""
    if quiet and verbose:
        raise UserError("Give --quiet or --verbose, not both.")
    set_verbosity(quiet=quiet, verbose=verbose)


def _version(shown: bool) -> None:
    if not shown:
        return
    from mhdeaths.cli.about import versions

    for line in versions():
        out.print(escape(line))
    raise typer.Exit()


# The commands first, then the groups: the order --help (and docs/reference/cli.md) lists them.
app.command("validate")(validate.validate_command)
app.command("synth")(synth.synth)
app.command("benchmark")(benchmark.benchmark)
app.command("run")(jobs.run)
app.command("demo")(jobs.demo)
app.add_typer(spec.app, name="spec")
app.add_typer(profile.app, name="profile")
app.add_typer(warehouse.app, name="warehouse")


GC_THRESHOLD = 50_000
"""New objects between two runs of Python's garbage collector in the command's process."""

PYDANTIC_PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"
"""pydantic's own switch: ``__all__`` loads none of the plugins installed."""

FILE_UMASK = 0o077
"""The process's umask: files made 0600 and folders 0700, whatever the user's own umask says."""


def main() -> None:
    """Entry point: run the app, turning user errors into one line and an exit code.

    Usage errors are typer's own (exit 2, with the usage line). Every file and folder the command
    makes (the warehouse and its WAL, reports, benchmarks, exports) is the owner's alone: they
    hold pseudonymised records and what providers submitted (docs/warehouse.md, "File
    permissions").
    """
    os.umask(FILE_UMASK)
    # Python's cyclic garbage collector runs every 700 new objects; importing polars, pydantic
    # and the validator makes hundreds of thousands (classes, functions) and almost no garbage:
    # it ran some 150 times in a one-month validation, a fortieth of its time, to free 1,800
    # objects. Every 50,000 is still often for the command's own work, whose large data polars
    # holds outside Python.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    # No pydantic plugin (an observability tool's, installed beside mhdeaths) sees the models the
    # command validates: a plugin is handed their input before the guard masks it. Looking for
    # plugins also read the metadata of every installed package, a fiftieth of a small
    # validation. A value the user set is kept.
    os.environ.setdefault(PYDANTIC_PLUGINS_ENV, "__all__")
    command = command_tree(sys.argv[1:])
    if files := files_to_read_ahead(command, sys.argv[1:]):
        # Read the files on a thread while the command imports what it needs (polars, the spec,
        # the validator: a third of a second, on one core).
        from mhdeaths.validate.reading import read_ahead

        read_ahead(files)
    try:
        command(prog_name="mhdeaths")
    except UserError as exc:
        _fail(exc)
    except Exception as exc:
        # A full disk, a read-only folder or a refused permission, met anywhere below: one
        # sentence and exit 2, like any other input the user can fix.
        # So is running out of memory (a machine smaller than the file needs).
        from mhdeaths.output.storage_errors import out_of_memory, storage_error

        # What the command was given, as click parsed it (the parse is made again, now that
        # the command has imported what typer converts values with).
        invoked = parse_command_line(command, sys.argv[1:])
        kept = _KEPT.get(command_words(invoked))
        mapped: UserError | None = storage_error(
            exc, _paths_named(invoked), kept, _writes_to(invoked)
        )
        mapped = mapped or out_of_memory(exc, kept)
        if mapped is None:
            raise
        _fail(mapped)


def command_tree(args: Sequence[str]) -> typer.core.TyperGroup:
    """The command tree that runs ``args``: the root with only the command or group they name,
    when they name one after nothing but the root's own flags (``-q``, ``-v``); else the whole.

    Typer reads the signature of every command to build the tree (each annotation evaluated from
    its text): 30 ms, a tenth of a small validation, when a command needs only its own. The root
    and the command are built as in the whole tree, so the command parses, runs and shows its
    help the same; anything else (``--help``, ``--version``, no command, a word naming none)
    gets the whole tree, and with it click's own listing, errors and suggestions.
    """
    words = [w for w in args if not w.startswith("-")]
    one = copy.copy(app)
    one.registered_commands = [c for c in app.registered_commands if words and c.name == words[0]]
    one.registered_groups = [g for g in app.registered_groups if words and g.name == words[0]]
    if one.registered_commands or one.registered_groups:
        # get_command, not get_group: it adds the shell-completion options to the root.
        pruned = typer.main.get_command(one)
        assert isinstance(pruned, typer.core.TyperGroup)
        flags = {
            name
            for param in pruned.params
            if isinstance(param, typer.core.TyperOption) and param.is_flag and not param.is_eager
            for name in (*param.opts, *param.secondary_opts)
        }
        if set(args[: list(args).index(words[0])]) <= flags:
            return pruned
    whole = typer.main.get_command(app)
    assert isinstance(whole, typer.core.TyperGroup)
    return whole


def _fail(exc: UserError) -> None:
    # A sentence may carry data from a file: the guard takes out control characters and
    # identifiers, whichever function made it.
    err.print(f"[red]error:[/red] {escape(guard.message(str(exc)))}", soft_wrap=True)
    if isinstance(exc, SpecCheckFailed):
        for problem in exc.problems:
            err.print(f"  - {escape(guard.message(problem))}", soft_wrap=True)
    # At once: a writer left half-open by the error (a workbook's zip on a full disk) would fail
    # again as Python frees it on the way out, and print that failure's traceback after the
    # sentence. Every connection and temporary folder was closed as the error unwound.
    end_command(int(exc.exit_code))


_LOADS_KEPT = (
    "each submission is in the warehouse whole or not at all, and {} skips those already loaded"
)
_KEPT = {
    ("warehouse", "load"): _LOADS_KEPT.format("loading again"),
    ("run",): _LOADS_KEPT.format("running again"),
    ("warehouse", "init"): "the warehouse's schema is as it was",
    ("benchmark",): "the warehouse's record of benchmark runs is as it was",
    ("warehouse", "export"): "nothing was changed in the warehouse",
    ("warehouse", "copy"): "nothing was changed in the warehouse",
    ("warehouse", "query"): "nothing was changed in the warehouse",
    ("warehouse", "status"): "nothing was changed in the warehouse",
    ("warehouse", "history"): "nothing was changed in the warehouse",
}
"""What a refused write leaves as it was, by command (each warehouse write is one transaction)."""


def _writes_to(invoked: Context | None) -> str:
    """Where the command writes, as click parsed it: --out (or its default), else the warehouse
    for a command that has one, else the default warehouse."""
    from mhdeaths.warehouse.store import default_path

    for option in ("--out", "--warehouse"):
        value = option_value(invoked, option)
        if value is not None:
            return str(value)
    return str(default_path())


def _paths_named(invoked: Context | None) -> list[str]:
    """The paths a refused write's sentence may name: those the command was given (or defaults
    to), and the warehouse's defaults (none of them made from a submission's values)."""
    from mhdeaths.warehouse.store import default_path

    warehouse = default_path()
    defaults = [warehouse, warehouse.parent / "reports", warehouse.parent / "benchmarks"]
    return [str(path) for path in [*paths_given(invoked), *defaults]]


__all__ = ["app", "command_tree", "main"]

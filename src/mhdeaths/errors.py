"""Exceptions that mean the tool cannot go on, and the exit code each one maps to.

Findings about a submission are values (see the validation module), never exceptions. The classes
here are for the other case: a spec that does not load, a file that cannot be read, a bad option.
Each user error carries one clear sentence; the CLI prints it without a traceback and exits with
the documented code. Anything that is not a ``UserError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes of the ``mhdeaths`` command (see README and docs/reference/cli.md)."""

    OK = 0
    """Success: the spec is sound, or the submission was accepted (warnings allowed)."""
    FAILED = 1
    """The thing checked failed: a rejected submission, a failing spec check, an understated bump."""
    USAGE = 2
    """Bad usage, or an input the tool cannot read at all."""
    BUSY = 3
    """The warehouse is in use by another process: nothing was done; try again when it is free."""


class MhDeathsError(Exception):
    """Base class of every exception this package raises on purpose."""


class UserError(MhDeathsError):
    """An error the user can fix; shown as one sentence, never with a traceback."""

    exit_code: ExitCode = ExitCode.USAGE


class SpecError(UserError):
    """A spec version cannot be found or loaded."""


class ExpressionError(SpecError):
    """A rule or definition expression is outside the spec's expression language."""


class SpecCheckFailed(UserError):
    """``spec check`` or ``spec diff`` found problems; the message lists them."""

    exit_code = ExitCode.FAILED

    def __init__(self, problems: list[str], headline: str) -> None:
        self.problems = problems
        super().__init__(headline)


class OutputError(UserError):
    """An output folder or file cannot be written."""


class WarehouseError(UserError):
    """The warehouse cannot do what was asked: one sentence saying why."""


class WarehouseBusy(WarehouseError):
    """Another process has the warehouse open; nothing was done."""

    exit_code = ExitCode.BUSY

"""Exceptions that mean the tool cannot go on, and the exit code each one maps to.

Findings about a submission are values (see the validation module), never exceptions. The classes
here are for the other case: a spec that does not load, a file that cannot be read, a bad option.
Each user error carries one clear sentence; the CLI prints it without a traceback and exits with
the documented code. Anything that is not a ``UserError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from string import Formatter


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


@dataclass(frozen=True)
class ProblemKind:
    """One kind of problem a person may be told about: a closed id that a program (or a help desk)
    can match on, a title, and the template its sentence is made from, so that the sentence is
    written once and the documentation lists it from the same place."""

    id: str
    """Closed and stable, as ``area/what-went-wrong`` (``file/encoding-unknown``)."""
    title: str
    template: str
    """A ``str.format`` template; its fields are the values of one occurrence."""

    def text(self, **values: object) -> str:
        """The sentence for one occurrence: the template with its values."""
        return self.template.format(**values)

    @property
    def shape(self) -> str:
        """The template as a person reads it: each value's name in braces, with no conversion or
        format (``{columns}``, not ``{columns:,}``)."""
        return "".join(
            text + ("" if name is None else "{" + name + "}")
            for text, name, _, _ in Formatter().parse(self.template)
        )


class Catalogue:
    """A closed list of problem kinds, each id once, in the order they are written (and listed)."""

    def __init__(self, name: str, kinds: Iterable[ProblemKind]) -> None:
        self.name = name
        self._kinds: dict[str, ProblemKind] = {}
        for kind in kinds:
            if kind.id in self._kinds:
                raise ValueError(f"{name}: the id {kind.id} is in the catalogue twice.")
            self._kinds[kind.id] = kind

    def __getitem__(self, key: str) -> ProblemKind:
        """The kind of an id; an id not in the catalogue is a bug (a ``KeyError``)."""
        return self._kinds[key]

    def __contains__(self, key: object) -> bool:
        return key in self._kinds

    def __iter__(self) -> Iterator[ProblemKind]:
        return iter(self._kinds.values())

    def __len__(self) -> int:
        return len(self._kinds)


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

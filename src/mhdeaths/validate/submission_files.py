"""Which files make up one submission, when a user names many files or folders at once.

A submission is one provider's month: the tables of its spec version (death, activity, and any
optional child tables sent), in one file each or in one workbook. The documented file name, ``<ODS>_<CCYY-MM>_<table>.<ext>`` (what
``mhdeaths synth`` writes and the examples use), says which files belong together; files named
otherwise are grouped by the folder they sit in. The provider and period recorded are always the
ones inside the files, never the name's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mhdeaths import guard
from mhdeaths.errors import UserError

READABLE = frozenset({".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet"})
"""File extensions taken from a folder (a file named directly is read whatever its name)."""

_NAME = re.compile(
    r"^(?P<provider>[A-Za-z0-9]{3,5})_(?P<period>\d{4}-\d{2})_(?P<table>[A-Za-z_]+)$"
)


@dataclass(frozen=True)
class SubmissionFiles:
    """The files of one submission, and the provider and period their names suggest (if any)."""

    paths: tuple[Path, ...]
    provider: str | None = None
    period: str | None = None

    @property
    def label(self) -> str:
        if self.provider and self.period:
            return f"{self.provider} {self.period}"
        return ", ".join(guard.name(p.name) for p in self.paths)


def named_provider_period(path: Path) -> tuple[str, str] | None:
    """The provider and period a file's documented name gives, if it has one."""
    match = _NAME.match(path.stem)
    return (match["provider"].upper(), match["period"]) if match else None


def expand(paths: Sequence[Path]) -> list[Path]:
    """The files named, with each folder replaced by the readable files under it (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in READABLE
            )
            if not found:
                raise UserError(
                    f"The folder {guard.name(path)} holds no CSV, Excel or Parquet files."
                )
            files += found
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def group_submission_files(paths: Sequence[Path]) -> list[SubmissionFiles]:
    """Group files into submissions: by the name convention within a folder, else by folder.

    The order is stable (by folder, then provider and period), and it is the order of loading: a
    folder of resubmissions sorted after the originals supersedes them.
    """
    named: dict[tuple[Path, str, str], list[Path]] = {}
    by_folder: dict[Path, list[Path]] = {}
    for path in expand(paths):
        match = _NAME.match(path.stem)
        if match:
            key = (path.parent, match["provider"].upper(), match["period"])
            named.setdefault(key, []).append(path)
        else:
            by_folder.setdefault(path.parent, []).append(path)
    groups = [
        SubmissionFiles(tuple(sorted(files)), provider, period)
        for (_, provider, period), files in sorted(named.items())
    ]
    groups += [SubmissionFiles(tuple(files)) for _, files in sorted(by_folder.items())]
    return groups

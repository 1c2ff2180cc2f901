"""The shape every reader returns, and what the readers share about it.

Whatever the format, a file becomes a ``SourceFile`` of ``Sheet``s: text columns under the headers
as found, each record keeping the number a person finds it under. The one exception of reading,
``SubmissionFileError``, lives here too, so that every format raises the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mhdeaths import guard
from mhdeaths.errors import UserError


class SubmissionFileError(UserError):
    """The file cannot be read as a submission at all.

    Its sentence names the file (whose name may hold a date or an NHS number) and may quote a
    reader's words, so it is guarded as a name: no control character, no identifier.
    """

    def __init__(self, problem: str, kind: str | None = None) -> None:
        super().__init__(guard.name(problem))
        self.id = kind
        """The failure's closed id in ``failures.READ_FAILURES`` (None only for an error made
        outside the catalogue, which the catalogue's test forbids in this package)."""


@dataclass(frozen=True)
class Sheet:
    """One table's worth of a file: text columns as found, and where each record sits."""

    name: str | None
    """The Excel sheet name, or None for a CSV or Parquet file."""
    frame: pl.DataFrame
    """Every column as text, under the headers as found (duplicates made unique with a suffix)."""
    headers: list[str]
    """The headers as found in the file, in order (duplicates included)."""
    row_numbers: pl.Series
    """For each record, the number the user sees it under (CSV line, Excel row)."""
    blank_rows: int = 0
    """Records with no value at all (kept in Excel so that row numbers match), not validated."""
    header_row: int = 1
    """The number the user sees the header under (its Excel row: rows above it may be empty)."""
    first_column: int = 0
    """The sheet's own position (0 for column A) of the first column read: an Excel reader reads
    from the leftmost column with a value, and a person looks a column up by its letter in Excel."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    format: str
    """csv, xlsx, xls or parquet."""
    sha256: str
    size: int
    sheets: list[Sheet]
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)


def _sheet(
    name: str | None,
    frame: pl.DataFrame,
    headers: list[str],
    rows: pl.Series,
    header_row: int = 1,
    first_column: int = 0,
) -> Sheet:
    """A sheet without its blank records (counted, not validated), keeping every row number."""
    count = 0
    if frame.width and frame.height:
        blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
        count = int(blank.sum())
        if count:
            frame, rows = frame.filter(~blank), rows.filter(~blank)
    return Sheet(name, frame, headers, rows, count, header_row, first_column)


# A header that reads as an NHS number, a date or a postcode is a record's value: the file has no
# header row, so its first record was taken for one. Reports show headers, so such a header is
# hidden, never repeated.
HIDDEN_HEADER = "(value hidden)"


def _hide_identifiers(headers: list[str]) -> list[str]:
    return [
        HIDDEN_HEADER if guard.mask_identifiers(h.strip()) == guard.HIDDEN else h for h in headers
    ]


def _uniquely_named(frame: pl.DataFrame, headers: list[str]) -> pl.DataFrame:
    """Rename the columns to the stripped headers, keeping duplicates apart with a suffix."""
    seen: dict[str, int] = {}
    names = []
    for header in headers[: frame.width] + frame.columns[len(headers) :]:
        n = seen.get(header, 0)
        seen[header] = n + 1
        names.append(header if n == 0 else f"{header}#{n + 1}")
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _reraise_interrupt(exc: BaseException) -> None:
    """Let an interrupt through; anything else a reader raises (a Rust panic is a
    BaseException) means the file cannot be read."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError):
        raise exc


def column_letter(index: int) -> str:
    """The Excel column letter of a 0-based column position (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters

"""How much of the machine one submission file may take, checked before its data is expanded.

A file is read whole into memory, and some formats hold far more than their size on disk: a
zip part (an Excel workbook is a zip) can unzip a thousand times larger, an Excel sheet is held as
its whole used range however few cells are filled, a Parquet file's rows are compressed. So every
reader first checks what the file says it holds against these limits and refuses a file past one
with one sentence naming the limit and how to raise it (``--limit NAME=VALUE``), never its content.
The defaults are far above any month's submission and pass the million-record benchmark file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from mhdeaths.errors import UserError

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB


@dataclass(frozen=True)
class Limits:
    """The limits on one submission file; each is overridable from the command line."""

    file_size: int = _GIB
    """Bytes in any one file (CSV, Excel or Parquet)."""
    decompressed_size: int = _GIB
    """Bytes an Excel workbook (.xlsx, a zip) holds once unzipped, all its parts together, or a
    Parquet file's values once decompressed (its text, and 8 bytes for any other value)."""
    zip_ratio: int = 200
    """How many times larger than on disk one part of an Excel workbook may unzip (parts over
    1 MiB unzipped; a zip bomb unzips about a thousand times larger)."""
    columns: int = 1_000
    """Columns in any one table: a CSV's header, an Excel sheet's used range, a Parquet schema."""
    line_length: int = _MIB
    """Bytes in one line of a CSV file."""
    sheet_cells: int = 20_000_000
    """Cells in the used ranges (rows x columns, empty or not) of an Excel workbook's sheets
    together: the Excel reader holds every one, about 32 bytes each in an .xlsx workbook and
    about 100 in an .xls one (where each counts three)."""
    cells: int = 100_000_000
    """Records x columns of a CSV or Parquet file (every line of a CSV, even an empty one, is a
    record): the reader holds 20 to 40 bytes a cell, so the default allows 2 to 4 GB."""

    @classmethod
    def parse(cls, settings: Sequence[str] | None) -> Limits:
        """The default limits with each ``NAME=VALUE`` given (sizes may end in K, M or G, as
        KiB, MiB or GiB); one sentence for a name or value that is not one."""
        limits = cls()
        for setting in settings or []:
            name, _, value = setting.partition("=")
            key = name.strip().lower().replace("-", "_")
            if key not in NAMES:
                raise UserError(
                    f"--limit {name.strip()!r} is not a limit; give NAME=VALUE, NAME one of "
                    f"{', '.join(n.replace('_', '-') for n in NAMES)}."
                )
            limits = replace(limits, **{key: _number(name.strip(), value)})
        return limits

    def setting(self, name: str) -> str:
        """How a person raises one limit: the option and its current value."""
        return f"--limit {name.replace('_', '-')}={getattr(self, name)}"


NAMES = tuple(f.name for f in fields(Limits))
DEFAULT_LIMITS = Limits()

_NUMBER = re.compile(r"^\s*(\d[\d_,]*)\s*(?:([KMG])(?:I?B)?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": _KIB, "M": _MIB, "G": _GIB}


def _number(name: str, value: str) -> int:
    match = _NUMBER.match(value)
    number = int(match[1].replace("_", "").replace(",", "")) if match else 0
    if not match or number < 1:
        raise UserError(
            f"--limit {name}={value.strip()!r} is not a positive whole number (sizes may end in "
            "K, M or G)."
        )
    return number * _UNITS[(match[2] or "").upper()]


def bytes_text(size: int) -> str:
    """A size as a person reads it: 1 GiB, 512 MiB, 3,000 bytes."""
    for unit, factor in (("GiB", _GIB), ("MiB", _MIB), ("KiB", _KIB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor:,} {unit}"
    return f"{size:,} bytes"

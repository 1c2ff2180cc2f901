"""Read a provider's file, whatever it is, into text columns with the row numbers the user sees.

Providers send CSV (UTF-8, UTF-8 with a byte-order mark, or Windows-1252; comma, semicolon or tab),
Excel (.xlsx, .xls) or Parquet. Every cell is read as text so that nothing is lost before the
spec's own type checks see it (leading zeros stay, a dirty value does not break a column), and
each record keeps the number a person would find it under: its line in the CSV, its row in Excel.
Anything that cannot be read at all raises ``SubmissionFileError`` with one sentence.

One module per format (``delimited``, ``excel``, ``parquet``) over the shared parts: the result's
shape (``source``), the streamed checksum scan (``scan``), the choice of reader by a file's first
bytes (``formats``) and the entry point with its read-ahead thread (``ahead``). The names other
modules and the tests use are re-exported here.
"""

from __future__ import annotations

from mhdeaths.validate.reading.ahead import _AHEAD, _NotReadAhead, fill, read_ahead, read_file
from mhdeaths.validate.reading.scan import _scan, _Stopped, padding
from mhdeaths.validate.reading.source import (
    HIDDEN_HEADER,
    Sheet,
    SourceFile,
    SubmissionFileError,
    column_letter,
)

__all__ = [
    "HIDDEN_HEADER",
    "_AHEAD",
    "Sheet",
    "SourceFile",
    "SubmissionFileError",
    "_NotReadAhead",
    "_Stopped",
    "_scan",
    "column_letter",
    "fill",
    "padding",
    "read_ahead",
    "read_file",
]

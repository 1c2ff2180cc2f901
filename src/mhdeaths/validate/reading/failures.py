"""Every way a file can fail to be read, each with a closed id: the one catalogue of them.

A reader raises ``failure(id, **values)``, never a sentence of its own, so the sentences are
written once, here; the id travels on the exception as data (``SubmissionFileError.id``) for a
program to match on, and the reference page of problems is generated from this list.
"""

from __future__ import annotations

from pathlib import Path

from mhdeaths.errors import Catalogue, ProblemKind
from mhdeaths.limits import Limits, bytes_text
from mhdeaths.validate.reading.source import SubmissionFileError

_K = ProblemKind

READ_FAILURES = Catalogue(
    "file-read failures",
    [
        # --- any file
        _K("file/missing", "No file", "There is no file at {path}."),
        _K("file/folder", "A folder, not a file", "{path} is a folder, not a file."),
        _K("file/unreadable", "The file cannot be read", "{path} cannot be read: {reason}."),
        _K(
            "file/not-regular",
            "Not a regular file",
            "{file} is not a regular file (it is a device, a pipe or a socket, or a link to "
            "one); name the submission file itself.",
        ),
        _K(
            "file/too-large",
            "Larger than the file size limit",
            "{file} is larger than the limit of {limit} for one file; send the submission in "
            "smaller files or raise the limit with --limit file-size=SIZE.",
        ),
        _K(
            "file/misnamed",
            "Named as Excel or Parquet but is not",
            "{file} is named .{suffix} but is not an Excel or Parquet file (it may be damaged or "
            "renamed).",
        ),
        _K(
            "file/too-many-columns",
            "More columns than the limit",
            "{file} has {columns:,} columns, more than the limit of {limit:,}; send only the "
            "spec's fields, or raise the limit with --limit columns=N.",
        ),
        # --- delimited text (CSV, TSV)
        _K(
            "file/binary",
            "Binary data, not text",
            "{file} holds binary data, so it is not a CSV file; send CSV, Excel or Parquet.",
        ),
        _K(
            "file/line-too-long",
            "A line longer than the limit",
            "{file} has a line longer than the limit of {limit} (check it is a CSV file with one "
            "record per line); raise the limit with --limit line-length=SIZE.",
        ),
        _K(
            "file/encoding-unknown",
            "An encoding mhdeaths does not know",
            "{encoding!r} is not an encoding mhdeaths knows.",
        ),
        _K(
            "file/encoding-mismatch",
            "Not text in the stated encoding",
            "{file} is not valid {encoding} text (byte {byte} cannot be read).",
        ),
        _K("file/not-utf8", "Not UTF-8 text", "{file} is not valid UTF-8 text."),
        _K(
            "file/encoding-not-detected",
            "Neither UTF-8 nor Windows-1252",
            "{file} is neither UTF-8 nor Windows-1252 text (byte {byte} cannot be read); save it "
            "as CSV UTF-8 or state its encoding with --encoding.",
        ),
        _K(
            "file/header-line-break",
            "A line break in a column name",
            "The header line of {file} has a column name with a line break in it (an odd number "
            "of quotes); write every column name on the one header line.",
        ),
        _K(
            "file/too-many-records",
            "More cells than the limit (CSV)",
            "{file} has more than {most:,} records of {columns:,} columns, more than the limit of "
            "{limit:,} cells; send the submission in smaller files or raise the limit with "
            "--limit cells=N.",
        ),
        _K(
            "file/csv-too-many-values",
            "A line with more values than the header",
            "{file} cannot be read: line {line} has {values} values but the header has "
            "{expected} (check the delimiter and the quoting).",
        ),
        _K(
            "file/csv-bad-quoting",
            "A cell not quoted properly",
            "{file} cannot be read as CSV: line {line}, column {column} is not quoted properly "
            "(check the quotes in that cell).",
        ),
        _K(
            "file/csv-unreadable",
            "Not readable as CSV",
            "{file} cannot be read as CSV (check the delimiter and the quoting).",
        ),
        _K(
            "file/csv-reader-stopped",
            "The CSV reader stopped",
            "{file} cannot be read as CSV: {reason}.",
        ),
        # --- Excel workbooks
        _K(
            "file/zip-not-workbook",
            "A zip archive, not a workbook",
            "{file} is a zip archive, not an Excel workbook.",
        ),
        _K(
            "file/workbook-damaged",
            "A damaged workbook",
            "{file} is not a readable Excel workbook (it may be damaged or cut short).",
        ),
        _K(
            "file/workbook-unreadable",
            "A workbook the reader cannot open",
            "{file} is not a readable Excel workbook (it may be damaged, cut short or protected "
            "with a password).",
        ),
        _K(
            "file/sheet-unreadable",
            "A sheet the reader cannot read",
            "The sheet {sheet!r} of {file} cannot be read.",
        ),
        _K(
            "file/unzips-too-large",
            "Unzips past the decompressed size limit",
            "{file} unzips to more than the limit of {limit} (an .xlsx file is a zip); save it as "
            "CSV, or raise the limit with --limit decompressed-size=SIZE.",
        ),
        _K(
            "file/zip-bomb",
            "A part that unzips past the ratio limit",
            "{file} holds a part that unzips more than {ratio:,} times larger than it is stored, "
            "as a zip bomb does; save the workbook again from Excel, or raise the limit with "
            "--limit zip-ratio=N.",
        ),
        _K(
            "file/sheet-too-wide",
            "A sheet used past the column limit",
            "{file} has a sheet used across to column {column} ({columns:,} columns), more than "
            "the limit of {limit:,}: delete the empty columns after the data (or raise the "
            "limit with --limit columns=N) and validate again.",
        ),
        _K(
            "file/sheet-too-many-cells",
            "Sheets used past the cell limit",
            "{file} has a sheet used down to row {rows:,} and across to column {column} "
            "({cells:,} cells), too many to read (the limit is {limit:,} cells in a workbook's "
            "sheets): delete the empty rows and columns after the data (or save the sheet as "
            "CSV) and validate again, or raise the limit with --limit sheet-cells=N.",
        ),
        _K(
            "file/xls-sheet-too-many-cells",
            "Sheets used past the cell limit (.xls)",
            "{file} has a sheet used down to row {rows:,} and across to column {column} "
            "({cells:,} cells), too many to read (the limit is {limit:,} cells in a workbook's "
            "sheets, an .xls cell counting three): delete the empty rows and columns after the "
            "data (or save the sheet as CSV) and validate again, or raise the limit with "
            "--limit sheet-cells=N.",
        ),
        _K(
            "file/too-many-shared-strings",
            "More shared strings than the cell limit",
            "{file} has {strings:,} shared strings, too many to read (the limit is {limit:,} "
            "cells in a workbook's sheets): delete the empty rows and columns after the data (or "
            "save the sheet as CSV) and validate again, or raise the limit with "
            "--limit sheet-cells=N.",
        ),
        # --- Parquet
        _K(
            "file/parquet-unreadable",
            "Not a readable Parquet file",
            "{file} is not a readable Parquet file.",
        ),
        _K(
            "file/parquet-too-many-cells",
            "More cells than the limit (Parquet)",
            "{file} has {rows:,} rows of {columns:,} columns, more than the limit of {limit:,} "
            "cells; send the submission in smaller files or raise the limit with "
            "--limit cells=N.",
        ),
        _K(
            "file/parquet-too-large",
            "Values past the decompressed size limit",
            "{file} holds more than the limit of {limit} of values once decompressed; send the "
            "submission in smaller files or raise the limit with --limit decompressed-size=SIZE.",
        ),
        _K(
            "file/column-not-text",
            "A column whose values are not text",
            "The column {column!r} of {file} holds {type} values, which cannot be read as text; "
            "write one plain value per cell.",
        ),
        # --- the submission as a whole, once its files are read
        _K(
            "file/unknown-spec-version",
            "A spec version that is not one of the spec's",
            "The file declares spec version {declared}, which is not one of {known}; correct "
            "it, or choose a version with --spec.",
        ),
        _K(
            "file/version-not-accepted",
            "A spec version no longer accepted for the reporting period",
            "The file declares spec version {declared}, which is not accepted for reporting "
            "period {period}: spec {current} applies from {effective} and accepts {accepted}; "
            "write the file to one of those.",
        ),
        _K(
            "file/no-table",
            "No table of the spec",
            "No {tables} table was found in {files}: name the sheets or files after the "
            "table, use the spec's field names as headers, or give the provider's profile "
            "(--provider), whose sheets and headers map your own names.",
        ),
        _K(
            "file/without-parent",
            "An optional table without its parent",
            "The submission holds the {table} table without its {parents} table: a {table} "
            "record is sent with the record it belongs to, so validate them together.",
        ),
        _K(
            "file/table-twice",
            "The same table twice",
            "The submission has more than one {table} table; validate one file per table (or "
            "one workbook with a sheet per table).",
        ),
    ],
)


def failure(kind: str, **values: object) -> SubmissionFileError:
    """The error for one failure of the catalogue (``kind`` its id), its sentence made from the
    values."""
    return _error(kind, READ_FAILURES[kind].text(**values))


def _error(kind: str, sentence: str) -> SubmissionFileError:
    """The one place a reading error is made: a sentence of this module, with its id."""
    return SubmissionFileError(sentence, kind)


FEED_NO_TABLE = (
    "No {tables} table was found in {files}; it looks like the national {feed} feed: load it "
    "with `mhdeaths warehouse load-feed {feed}`."
)
"""``file/no-table`` for a file shaped as a national feed (death registrations, MHSDS spells): a
provider never submits one, and the analyst who has one needs to know where it goes instead of
how to name a submission's files. One sentence, as every error is."""


def feed_not_a_submission(tables: str, files: str, feed: str) -> SubmissionFileError:
    """``file/no-table`` for a file shaped as a national feed, with where the file belongs."""
    return _error("file/no-table", FEED_NO_TABLE.format(tables=tables, files=files, feed=feed))


def too_large(path: Path, limits: Limits) -> SubmissionFileError:
    """A file past the size limit (found by the scan of any format, or before it)."""
    return failure("file/too-large", file=path.name, limit=bytes_text(limits.file_size))


def too_many_columns(path: Path, columns: int, limits: Limits) -> SubmissionFileError:
    """A CSV header or a Parquet schema past the column limit."""
    return failure("file/too-many-columns", file=path.name, columns=columns, limit=limits.columns)

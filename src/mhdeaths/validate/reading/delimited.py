"""Delimited text (CSV, TSV): finding its encoding and delimiter, and reading it as text columns.

The encoding is UTF-8 (with or without a byte-order mark) or else Windows-1252, unless stated; the
delimiter is the commonest of comma, semicolon and tab in the header line, unless stated. Each
record keeps the line it starts on, even when a quoted value spans lines. A file that cannot be
read says where it stops being readable, by line and column, never quoting a value.
"""

from __future__ import annotations

import contextlib
import csv
import io
import mmap
import os
import re
from concurrent.futures import Future
from pathlib import Path

import polars as pl

from mhdeaths.limits import DEFAULT_LIMITS, Limits, bytes_text
from mhdeaths.validate.reading.failures import failure, too_many_columns
from mhdeaths.validate.reading.scan import _Scan
from mhdeaths.validate.reading.source import (
    Sheet,
    SourceFile,
    SubmissionFileError,
    _hide_identifiers,
    _sheet,
    _uniquely_named,
    column_letter,
)


def _check_line_lengths(path: Path, limits: Limits, newline: bytes) -> None:
    """Refuse a CSV with a line longer than the limit before the reader holds it: the last line
    break within each limit's length of bytes is looked for in the file mapped into memory, so a
    file costs a few searches a mebibyte, each touching a page or two, however many lines."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size <= limits.line_length:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            last = -1  # the last line break found
            while last + limits.line_length + 2 <= size:
                found = view.rfind(newline, last + 1, last + limits.line_length + 2)
                if found < 0:
                    raise _line_too_long(path, limits.line_length)
                last = found


def _line_too_long(path: Path, limit: int) -> SubmissionFileError:
    return failure("file/line-too-long", file=path.name, limit=bytes_text(limit))


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(
    path: Path,
    head: bytes,
    scanning: Future[_Scan],
    encoding: str | None,
    delimiter: str | None,
    limits: Limits = DEFAULT_LIMITS,
) -> SourceFile:
    if not head.strip():
        # An empty file is a submission with no records: the spec's "not empty" rule reports it.
        scan = scanning.result()
        empty = Sheet(None, pl.DataFrame(), [], pl.Series("row", [], dtype=pl.Int64))
        return SourceFile(path, "csv", scan.sha256, scan.size, [empty], "utf-8", ",")
    if b"\x00" in head:
        raise failure("file/binary", file=path.name)
    _check_line_lengths(path, limits, b"\r" if b"\r" in head and b"\n" not in head else b"\n")
    raw: bytes | None = None  # the file's bytes, when they must be changed before reading
    if b"\r" in head and b"\n" not in head:
        # Old Mac line endings (a carriage return alone): read them as newlines.
        raw = path.read_bytes().replace(b"\r", b"\n")
        head = raw[: len(head)]

    def content() -> bytes:
        return raw if raw is not None else path.read_bytes()

    stated = (encoding or "").lower().replace("_", "-")
    source: Path | bytes = path if raw is None else raw
    used = "utf-8"
    if stated and stated not in {"utf-8", "utf8", "utf-8-sig"}:
        text, used = _decode(path, content(), encoding)
        source = text.encode("utf-8")
    header_text = _decode(path, head, encoding or "utf-8-sig", partial=True)[0]
    sep = delimiter or _sniff_delimiter(header_text)
    most = _check_columns(path, header_text, sep, limits)
    frame = _polars_csv(source, sep, most + 1)
    if frame is None:
        if stated.startswith("utf"):
            raise failure("file/not-utf8", file=path.name)
        # Not UTF-8: the usual other encoding of files saved by Excel on Windows.
        text, used = _decode(path, content(), "cp1252")
        header_text = text[:65536]
        sep = delimiter or _sniff_delimiter(header_text)
        most = _check_columns(path, header_text, sep, limits)
        source = text.encode("utf-8")
        frame = _polars_csv(source, sep, most + 1)
    # A file that grew past the size limit is refused as that, whatever else the reader found.
    scanning.result()
    if isinstance(frame, pl.DataFrame):
        _too_many_records(path, most, frame, limits)
    if isinstance(frame, Exception):
        try:
            problem = _csv_problem(path, _whole_text(content(), used), sep, frame)
        except csv.Error as exc:
            problem = failure("file/csv-reader-stopped", file=path.name, reason=exc)
        raise problem
    assert frame is not None
    try:
        headers = _hide_identifiers(_csv_headers(header_text, sep))
    except csv.Error as exc:
        raise failure("file/csv-reader-stopped", file=path.name, reason=exc) from None
    frame = _uniquely_named(frame, headers)
    scan = scanning.result()
    if scan.padded or raw is not None:
        # Trimming every column is costly, so it is done only when some value may need it.
        frame = frame.with_columns(
            pl.col(c).str.strip_chars().replace("", None).alias(c) for c in frame.columns
        )
    newlines = scan.newlines if raw is None else raw.count(b"\n")
    # A file whose line count is its record count plus the header has no value spanning lines.
    ends_without_newline = _ends_without_newline(path) if raw is None else not raw.endswith(b"\n")
    simple = newlines - (0 if ends_without_newline else 1) == frame.height
    try:
        rows = (
            pl.int_range(2, frame.height + 2, eager=True).alias("row")
            if simple
            else _csv_line_numbers(_whole_text(content(), used), sep, frame.height)
        )
    except csv.Error as exc:
        # The csv module reads no value longer than its field size limit (128 KiB).
        raise failure("file/csv-reader-stopped", file=path.name, reason=exc) from None
    sheet = _sheet(None, frame, headers, rows)
    return SourceFile(path, "csv", scan.sha256, scan.size, [sheet], used, sep)


def _check_columns(path: Path, header_text: str, sep: str, limits: Limits) -> int:
    """Refuse a CSV whose header has more columns than the limit, before the reader makes one
    column for each; the most records the cell limit then allows (every line, even an empty
    one, is a record of as many cells as the header has columns)."""
    line = first_line(header_text)
    if line.count('"') % 2:
        # A quoted line break in a column name: the header would run on past its first line, as
        # wide as whatever follows, unseen by this count. No field or alias has a line break.
        raise failure("file/header-line-break", file=path.name)
    columns = line.count(sep) + 1
    if columns > limits.columns:
        with contextlib.suppress(csv.Error):
            columns = len(_csv_headers(line, sep))
        if columns > limits.columns:
            raise too_many_columns(path, columns, limits)
    return max(limits.cells // columns, 1)


def _too_many_records(path: Path, most: int, frame: pl.DataFrame, limits: Limits) -> None:
    """Refuse a CSV read up to one record past the most allowed (the reader stops there)."""
    if frame.height > most:
        raise failure(
            "file/too-many-records",
            file=path.name,
            most=most,
            columns=frame.width,
            limit=limits.cells,
        )


def _polars_csv(
    source: Path | bytes, sep: str, rows: int | None = None
) -> pl.DataFrame | Exception | None:
    """Read CSV text with every column as text, no more than ``rows`` records; None when it is
    not UTF-8."""
    try:
        options = {
            "n_rows": rows,
            "separator": sep,
            "infer_schema": False,
            "has_header": True,
            "quote_char": '"',
            "raise_if_empty": False,
        }
        if isinstance(source, Path) and any(c in str(source) for c in "*?[]{}"):
            # polars reads such a path as a glob pattern: a file named with a bracket (or an
            # escape sequence) would not be found, so it is read as exactly the path named.
            return pl.scan_csv(source, glob=False, **options).collect()  # type: ignore[arg-type]
        return pl.read_csv(source, **options)  # type: ignore[arg-type]
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            return None
        return exc
    except pl.exceptions.PolarsError as exc:
        return exc


def _ends_without_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return True
        fh.seek(-1, 2)
        return fh.read(1) != b"\n"


def _whole_text(data: bytes, encoding: str) -> str:
    return data.decode("utf-8-sig" if encoding == "utf-8" else encoding, "replace")


def _decode(
    path: Path, data: bytes, encoding: str | None, partial: bool = False
) -> tuple[str, str]:
    """Decode as stated, or as UTF-8 (with or without a BOM), falling back to Windows-1252.

    ``partial`` is for the first block of a file, which may end inside a character.
    """
    if partial:
        name = (
            "utf-8-sig" if (encoding or "").lower().startswith("utf") else (encoding or "utf-8-sig")
        )
        try:
            return data.decode(name, "replace"), name
        except LookupError:
            raise failure("file/encoding-unknown", encoding=encoding) from None
    if encoding:
        name = encoding.lower().replace("_", "-")
        if name in {"windows-1252", "cp-1252", "latin-1", "latin1", "iso-8859-1"}:
            name = "cp1252"
        try:
            return data.decode(name), "utf-8" if name.startswith("utf") else name
        except LookupError:
            raise failure("file/encoding-unknown", encoding=encoding) from None
        except UnicodeDecodeError as exc:
            raise failure(
                "file/encoding-mismatch", file=path.name, encoding=encoding, byte=exc.start + 1
            ) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise failure("file/encoding-not-detected", file=path.name, byte=exc.start + 1) from None


def first_line(text: str) -> str:
    end = text.find("\n")
    return text[: end if end >= 0 else len(text)].lstrip("\ufeff")


def _sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: the most frequent of comma, semicolon and tab."""
    line = first_line(text)
    counts = {sep: line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _csv_headers(text: str, sep: str) -> list[str]:
    line = first_line(text)
    return [h.strip() for h in next(csv.reader([line], delimiter=sep), [])]


def _csv_line_numbers(text: str, sep: str, count: int) -> pl.Series:
    """The line each record starts on (line 1 is the header), counted by a CSV reader: only
    needed when a quoted value spans lines, which is rare."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    next(reader, None)
    starts = []
    line = reader.line_num + 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return pl.Series("row", starts[:count], dtype=pl.Int64)


def _csv_problem(path: Path, text: str, sep: str, exc: Exception) -> SubmissionFileError:
    """The failure saying where a CSV file stops being readable."""
    expected = len(_csv_headers(text, sep))
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    for record in reader:
        if len(record) > expected:
            return failure(
                "file/csv-too-many-values",
                file=path.name,
                line=reader.line_num,
                values=len(record),
                expected=expected,
            )
    # The CSV reader's own message quotes the line it stopped at, which holds a record's values:
    # never shown. Where Python's strict reader stops is given instead, by line and column.
    where = _csv_stop(text, sep)
    if where is None:
        return failure("file/csv-unreadable", file=path.name)
    line, column = where
    return failure("file/csv-bad-quoting", file=path.name, line=line, column=column_letter(column))


def _csv_stop(text: str, sep: str) -> tuple[int, int] | None:
    """The line and 0-based column where the quoting first goes wrong, if it does: a quote inside
    an unquoted cell, text after a closing quote, or a quote never closed (where it opened).

    Only the quotes, delimiters and line breaks are visited, so a large file is read quickly."""
    text = text.lstrip("\ufeff")
    line, column, cell_start = 1, 0, 0
    opened: tuple[int, int] | None = None
    tokens = re.compile('["\n]|' + re.escape(sep))
    position = 0
    while True:
        found = tokens.search(text, position)
        if found is None:
            return opened
        at, char = found.start(), found.group()
        if opened is not None:  # inside a quoted cell: only a closing quote matters
            if char == "\n":
                line += 1
            elif char == sep:
                pass
            elif text.startswith('""', at):
                position = at + 2  # an escaped quote
                continue
            else:
                opened = None
                after = text[at + 1 : at + 2]
                if after not in {"", sep, "\n", "\r"}:
                    return line, column
            position = at + 1
            continue
        if char == '"':
            if text[cell_start:at].strip(" \t"):
                return line, column
            opened = (line, column)
        elif char == sep:
            column += 1
            cell_start = at + 1
        else:
            line, column, cell_start = line + 1, 0, at + 1
        position = at + 1

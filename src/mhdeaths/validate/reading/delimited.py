"""Delimited text (CSV, TSV): finding its encoding and delimiter, and reading it as text columns.

The encoding is UTF-8 (with or without a byte-order mark) or else Windows-1252, unless stated; the
delimiter is the commonest of comma, semicolon and tab in the header line, unless stated. Each
record keeps the line it starts on, even when a quoted value spans lines. A file that cannot be
read says where it stops being readable, by line and column, never quoting a value.
"""

from __future__ import annotations

import codecs
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
from mhdeaths.validate.reading.scan import _Scan, search_text, text_after_quote
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
    decoded = bool(stated) and stated not in {"utf-8", "utf8", "utf-8-sig"}
    if decoded:
        text, used = _decode(path, content(), encoding)
        source = text.encode("utf-8")
    header_text = _decode(path, head, encoding or "utf-8-sig", partial=True)[0]
    sep = delimiter or _sniff_delimiter(header_text)
    most = _check_columns(path, header_text, sep, limits)
    # polars refuses a value that is not UTF-8, but names the columns from a header line that
    # is not (with replacement characters): the header's bytes decide the encoding too.
    utf8 = decoded or _utf8_line(head)
    frame = _polars_csv(source, sep, most + 1) if utf8 else None
    if frame is None:
        if stated.startswith("utf"):
            raise failure("file/not-utf8", file=path.name)
        # Not UTF-8: the usual other encoding of files saved by Excel on Windows (a byte it
        # leaves undefined is refused as neither, as no encoding was stated).
        text, used = _decode(path, content(), None)
        header_text = text[:65536]
        sep = delimiter or _sniff_delimiter(header_text)
        most = _check_columns(path, header_text, sep, limits)
        source = text.encode("utf-8")
        frame = _polars_csv(source, sep, most + 1)
    # A file that grew past the size limit is refused as that, whatever else the reader found.
    scanning.result()
    header_fault = _misquoted(sep, 1, first_line(header_text))
    if header_fault is not None:
        # A header's quotes pair up (_check_columns), but polars reads `"a"b"c"` there too.
        raise failure(
            "file/csv-bad-quoting",
            file=path.name,
            line=header_fault[0],
            column=column_letter(header_fault[1]),
        )
    if isinstance(frame, pl.DataFrame):
        _too_many_records(path, most, frame, limits)
    if isinstance(frame, Exception):
        raise _csv_problem(path, _whole_text(content(), used), sep)
    assert frame is not None
    try:
        headers = _hide_identifiers(_csv_headers(header_text, sep))
    except csv.Error as exc:
        raise failure("file/csv-reader-stopped", file=path.name, reason=exc) from None
    frame = _uniquely_named(frame, headers)
    scan = scanning.result()
    # The scan searched the file's bytes: a file in another encoding is searched as read.
    padded, quoted_text = scan.padded, scan.quoted_text
    if used != "utf-8" and isinstance(source, bytes):
        padded, quoted_text = search_text(source, sep)
    # Every value is trimmed alike, whatever the file's others. Trimming every column is costly,
    # so it is skipped where the search finds nothing it would change (it is not made for old
    # Mac line endings).
    if padded or raw is not None:
        frame = frame.with_columns(
            pl.col(c).str.strip_chars().replace("", None).alias(c) for c in frame.columns
        )
    newlines = scan.newlines if raw is None else raw.count(b"\n")
    # A file whose line count is its record count plus the header has no value spanning lines.
    ends_without_newline = _ends_without_newline(path) if raw is None else not raw.endswith(b"\n")
    simple = newlines - (0 if ends_without_newline else 1) == frame.height
    whole = None if simple else _whole_text(content(), used)
    try:
        rows = (
            pl.int_range(2, frame.height + 2, eager=True).alias("row")
            if whole is None
            else _csv_line_numbers(whole, sep)
        )
    except csv.Error as exc:
        # The csv module reads no value longer than its field size limit (128 KiB).
        raise failure("file/csv-reader-stopped", file=path.name, reason=exc) from None
    # A record whose quotes do not pair up is refused wherever it is (_csv_stop), but polars
    # does not always refuse it: it reads the last record, with no line break after it, as it
    # is; it reads no record at all, and says nothing, when told how many records to read at
    # most and the first record is the one; and where a value spans lines, a line break inside
    # quotes can make its count of records come out right.
    faults = []
    if whole is None:
        if ends_without_newline and frame.height:
            faults.append(_misquoted(sep, frame.height + 1, _last_line(source, limits)))
    else:
        if rows.len() != frame.height:
            raise _csv_problem(path, whole, sep)
        faults.append(_misquoted(sep, *_first_unpaired(whole, rows)))
    # Nor does polars refuse a quoted value with text after its closing quote where the record's
    # quotes pair up: it reads `"a"b"c"` as `abc`, a value changed without a word. The scan
    # says whether a line may hold one (a value spanning lines is looked for in every file).
    if whole is not None or quoted_text or raw is not None:
        text = whole if whole is not None else _whole_text(content(), used)
        faults.append(_first_text_after_quote(text, sep, rows, simple=whole is None))
    found = [f for f in faults if f is not None]
    if found:
        line, column = min(found)  # the first, as a reader going down the file meets it
        raise failure(
            "file/csv-bad-quoting", file=path.name, line=line, column=column_letter(column)
        )
    sheet = _sheet(None, frame, headers, rows)
    return SourceFile(path, "csv", scan.sha256, scan.size, [sheet], used, sep)


def _last_line(source: Path | bytes, limits: Limits) -> str:
    """The file's last line, read from the end of what polars read (UTF-8): never longer than
    the line length limit."""
    if isinstance(source, bytes):
        tail = source[-(limits.line_length + 2) :]
    else:
        with source.open("rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - limits.line_length - 2))
            tail = fh.read()
    return tail[tail.rfind(b"\n") + 1 :].decode("utf-8", "replace")


def _first_unpaired(text: str, rows: pl.Series) -> tuple[int, str]:
    """The line and text of the first record holding an odd number of quotes (a quoted value's
    quotes pair up, so the rest are those of its unquoted values), from the lines each record
    starts on; (0, "") when there is none. Counted by polars over the lines, not a quote at a
    time, as this is done for every file with a value spanning lines."""
    lines = text.lstrip("\ufeff").split("\n")
    quotes = pl.Series(lines).str.count_matches('"', literal=True).cum_sum()
    before = pl.concat([pl.Series([0], dtype=quotes.dtype), quotes])  # quotes before each line
    bounds = pl.concat([rows.cast(pl.Int64), pl.Series([len(lines) + 1])]) - 1
    counts = before.gather(bounds)
    odd = (counts.diff().slice(1) % 2 == 1).arg_true()
    if odd.is_empty():
        return 0, ""
    first = int(odd[0])
    start, end = int(bounds[first]), int(bounds[first + 1])
    return start + 1, "\n".join(lines[start:end])


def _misquoted(sep: str, line: int, record: str) -> tuple[int, int] | None:
    """The line and 0-based column where a record's quoting goes wrong, if it does (``line`` the
    one it starts on)."""
    where = _csv_stop(record, sep) if '"' in record else None
    return None if where is None else (line + where[0] - 1, where[1])


def _first_text_after_quote(
    text: str, sep: str, rows: pl.Series, simple: bool
) -> tuple[int, int] | None:
    """Where the first record whose quoting goes wrong, among those with a quoted value that may
    have text after its closing quote, goes wrong (_csv_stop): the records are picked out by a
    regular expression in polars (text_after_quote: it may pick some that are well quoted), and
    only those are walked. ``rows``: the line each record starts on; ``simple``: each is a line."""
    pattern = text_after_quote(sep, across_lines=True)
    if not simple and not pl.Series([text]).str.contains(pattern).item():
        return None  # the scan looked for one on each line, not across lines
    lines = pl.Series("line", text.lstrip("\ufeff").split("\n"))
    if simple:
        records = pl.DataFrame({"record": pl.int_range(0, rows.len(), eager=True)}).with_columns(
            lines.slice(1, rows.len())
        )
    else:
        # Each line belongs to the last record starting at or before it (line 1, the header, to
        # none): a record's lines joined again.
        numbers = pl.int_range(1, lines.len() + 1, eager=True)
        owner = rows.cast(pl.Int64).search_sorted(numbers, side="right").cast(pl.Int64) - 1
        records = (
            pl.DataFrame({"record": owner, "line": lines})
            .filter(pl.col("record") >= 0)
            .group_by("record", maintain_order=True)
            .agg(pl.col("line").str.join("\n"))
        )
    picked = records.filter(pl.col("line").str.contains(pattern))
    for record, record_text in picked.iter_rows():
        where = _misquoted(sep, int(rows[record]), record_text)
        if where is not None:
            return where
    return None


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


def _utf8_line(head: bytes) -> bool:
    """Whether the file's first line, as far as ``head`` holds it, is UTF-8 (a character cut at
    the end of ``head`` is no sign that it is not)."""
    end = head.find(b"\n")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head[: end if end >= 0 else len(head)])
    except UnicodeDecodeError:
        return False
    return True


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


def _csv_line_numbers(text: str, sep: str) -> pl.Series:
    """The line each record starts on (line 1 is the header), counted by a CSV reader: only
    needed when a quoted value spans lines, which is rare."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    next(reader, None)
    starts = []
    line = reader.line_num + 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return pl.Series("row", starts, dtype=pl.Int64)


def _csv_problem(path: Path, text: str, sep: str) -> SubmissionFileError:
    """The failure saying where a CSV file stops being readable. The CSV reader's own message
    quotes the line it stopped at, which holds a record's values: never shown."""
    try:
        return _csv_problem_found(path, text, sep)
    except csv.Error as exc:
        return failure("file/csv-reader-stopped", file=path.name, reason=exc)


def _csv_problem_found(path: Path, text: str, sep: str) -> SubmissionFileError:
    # Where the quoting goes wrong first: a record with too many values is often its outcome,
    # and the page's reader (web/validator) says the same.
    where = _csv_stop(text, sep)
    if where is not None:
        line, column = where
        return failure(
            "file/csv-bad-quoting", file=path.name, line=line, column=column_letter(column)
        )
    expected = len(_csv_headers(text, sep))
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    start = 1
    for record in reader:
        if len(record) > expected:
            return failure(
                "file/csv-too-many-values",
                file=path.name,
                line=start,  # where the record starts, as the rows of findings are
                values=len(record),
                expected=expected,
            )
        start = reader.line_num + 1
    return failure("file/csv-unreadable", file=path.name)


def _csv_stop(text: str, sep: str) -> tuple[int, int] | None:
    """The line and 0-based column where the quoting first goes wrong, if it does, as polars
    reads it: text after a closing quote, a quote never closed (where it opened), or a record
    whose unquoted values hold an odd number of quotes (at the first such value).

    A value is quoted only when its first character is a quote; in any other, a quote is text
    (`ab"c"d`, ` "N" `). polars finds where each record ends by pairing every quote of the file,
    so a record with a quote of its unquoted values left unpaired runs on past its line break (or
    ends at a line break inside a later quoted value) and the file is refused: wherever polars
    reads such a record all the same (_read_csv), it is refused too, so that a stray quote means
    the same on any line.

    Only the quotes, delimiters and line breaks are visited, so a large file is read quickly."""
    text = text.lstrip("\ufeff")
    line, column, cell_start = 1, 0, 0
    opened: tuple[int, int] | None = None
    loose = 0  # quotes in the current value, unquoted, and in the record's earlier values
    in_cell = 0
    odd: tuple[int, int] | None = None  # the record's first unquoted value with an odd number
    tokens = re.compile('["\n]|' + re.escape(sep))
    position = 0

    def end_value() -> None:
        nonlocal loose, in_cell, odd
        if in_cell % 2 and odd is None:
            odd = (line, column)
        loose, in_cell = loose + in_cell, 0

    while True:
        found = tokens.search(text, position)
        if found is None:
            if opened is not None:
                return opened
            end_value()
            return odd if loose % 2 else None
        at, char = found.start(), found.group()
        if opened is not None:  # inside a quoted cell: only a closing quote matters
            if char == "\n":
                if loose % 2:
                    return odd  # polars takes this line break for the record's end
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
            if at == cell_start:
                opened = (line, column)
            else:
                in_cell += 1
        elif char == sep:
            end_value()
            column += 1
            cell_start = at + 1
        else:
            end_value()
            if loose % 2:
                return odd
            line, column, cell_start = line + 1, 0, at + 1
            loose, odd = 0, None
        position = at + 1

"""Read a provider's file, whatever it is, into text columns with the row numbers the user sees.

Providers send CSV (UTF-8, UTF-8 with a byte-order mark, or Windows-1252; comma, semicolon or tab),
Excel (.xlsx, .xls) or Parquet. Every cell is read as text so that nothing is lost before the
spec's own type checks see it (leading zeros stay, a dirty value does not break a column), and
each record keeps the number a person would find it under: its line in the CSV, its row in Excel.
Anything that cannot be read at all raises ``SubmissionFileError`` with one sentence.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import threading
import zipfile
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl

from mhdeaths import guard
from mhdeaths.errors import UserError


class SubmissionFileError(UserError):
    """The file cannot be read as a submission at all.

    Its sentence names the file (whose name may hold a date or an NHS number) and may quote a
    reader's words, so it is guarded as a name: no control character, no identifier.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(guard.name(problem))


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


_MAGIC = {
    b"PK\x03\x04": "xlsx",
    b"\xd0\xcf\x11\xe0": "xls",
    b"PAR1": "parquet",
}


@dataclass
class _Scan:
    """What one pass over the raw bytes tells: checksum, size, line breaks, and whether any value
    may carry spaces around it (so that the costly trimming of every column can be skipped)."""

    sha256: str = ""
    size: int = 0
    newlines: int = 0
    padded: bool = False


# A space or tab next to a delimiter, a quote or a line break: a value that needs trimming;
# and two quotes, which may be an empty quoted value that polars reads as "" rather than empty.
def _padding_table(sep: bytes) -> bytes:
    """A byte table marking delimiters, quotes and line breaks 1 and blanks 2, everything else 0:
    a value needing trimming shows as a byte marked 1 next to one marked 2 (either order)."""
    table = bytearray(256)
    for b in (sep, b'"', b"\n", b"\r"):
        table[b[0]] = 1
    for b in [b" "] if sep == b"\t" else [b" ", b"\t"]:
        table[b[0]] = 2
    return bytes(table)


def _padding_pattern(table: bytes) -> str | None:
    """The same test as one regular expression, for polars to run over the text (its engine
    scans a block far faster than Python's byte methods can); None when a marked byte is not
    ASCII, whose meaning in text differs from the byte's."""
    ends = [i for i, mark in enumerate(table) if mark == 1]
    blanks = [i for i, mark in enumerate(table) if mark == 2]
    if max(ends + blanks) > 0x7F:
        return None
    end = "[" + "".join(f"\\x{{{i:02X}}}" for i in ends) + "]"
    blank = "[" + "".join(f"\\x{{{i:02X}}}" for i in blanks) + "]"
    return f'{end}{blank}|{blank}{end}|""'


def _padded_bytes(window: bytes, table: bytes) -> bool:
    """The test on bytes (text that is not UTF-8, or a delimiter that is not ASCII)."""
    marks = window.translate(table)
    return b"\x01\x02" in marks or b"\x02\x01" in marks or (b'"' in window and b'""' in window)


_BLOCK = 1 << 22
_BATCH = 8
"""Blocks read at a time, and blocks searched by polars at once."""


def _scan(path: Path, sep: bytes = b",", text: bool = True) -> _Scan:
    """The file's checksum and size; for a text file (``text``) also its line breaks and whether
    a value may be padded."""
    digest = hashlib.sha256()
    scan = _Scan()
    table = _padding_table(sep)
    pattern = _padding_pattern(table)
    # Each window is a line break and then whole lines (the last may be cut at the end of the
    # file): no pair of bytes spans two windows, and a value at the start of a line (or of the
    # file) follows a line break in its window.
    windows: list[bytes] = []
    rest = b""
    tail = b"\n"

    def search(windows: list[bytes]) -> None:
        found, newlines = _search_windows(windows, pattern, table, scan.padded)
        scan.newlines += newlines
        scan.padded = scan.padded or found

    with path.open("rb") as fh:
        # Streamed, so that a large CSV is never held in memory twice; hashlib and polars release
        # the GIL, so this runs beside polars' own read.
        for chunk in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(chunk)
            scan.size += len(chunk)
            tail = chunk[-1:]
            if not text:
                continue
            cut = chunk.rfind(b"\n")
            if cut < 0:
                rest += chunk
                continue
            windows.append(b"".join([b"\n", rest, memoryview(chunk)[: cut + 1]]))
            rest = chunk[cut + 1 :]
            if len(windows) >= _BATCH:
                search(windows)
                windows = []
    if rest:
        windows.append(b"\n" + rest)
    if windows:
        search(windows)
    scan.padded = scan.padded or tail == b" "
    scan.sha256 = digest.hexdigest()
    return scan


def _search_windows(
    windows: list[bytes], pattern: str | None, table: bytes, padded: bool
) -> tuple[bool, int]:
    """Whether any window holds a padded value (not searched once one was found), and the line
    breaks in the windows (less the one each starts with)."""
    if pattern is not None:
        try:
            text = pl.Series("t", windows, dtype=pl.Binary).cast(pl.String)
        except pl.exceptions.ComputeError:
            text = None  # Not UTF-8 text: each window on its own.
        if text is not None:
            column = pl.col("t")
            checks = [column.str.count_matches("\n", literal=True).sum().alias("newlines")]
            if not padded:
                checks.append(column.str.contains(pattern).any().alias("padded"))
            result = text.to_frame().select(checks).row(0, named=True)
            return bool(result.get("padded")), int(result["newlines"]) - len(windows)
        if len(windows) > 1:
            found, newlines = False, 0
            for window in windows:
                one = _search_windows([window], pattern, table, padded or found)
                found, newlines = found or one[0], newlines + one[1]
            return found, newlines
    found = not padded and any(_padded_bytes(window, table) for window in windows)
    return found, sum(window.count(b"\n") for window in windows) - len(windows)


T = TypeVar("T")

_AHEAD: dict[Path, Future[SourceFile]] = {}
"""Files being read ahead, until ``read_file`` takes them."""


def read_ahead(paths: Sequence[Path]) -> None:
    """Start reading files on a thread, as ``read_file`` does when the encoding and delimiter are
    detected, so that a command can import what else it needs meanwhile: ``read_file`` then
    takes the result (or raises the error) rather than reading again.

    The thread is a daemon: a command that stops before reading its files does not wait for it.
    """
    ahead: dict[Path, Future[SourceFile]] = {path: Future() for path in paths}
    _AHEAD.update(ahead)

    def run() -> None:
        for path, future in ahead.items():
            fill(future, partial(_read, path, None, None))

    threading.Thread(target=run, name="mhdeaths-read-ahead", daemon=True).start()


def fill(future: Future[T], call: Callable[[], T]) -> None:
    """Give the future the call's result, or its exception (which ``result()`` raises again where
    the result is wanted, as if the call had been made there)."""
    try:
        future.set_result(call())
    except BaseException as exc:
        future.set_exception(exc)


def read_file(path: Path, encoding: str | None = None, delimiter: str | None = None) -> SourceFile:
    """Read a submission file of any supported format."""
    ahead = _AHEAD.pop(path, None) if encoding is None and delimiter is None else None
    if ahead is not None:
        return ahead.result()
    return _read(path, encoding, delimiter)


def _read(path: Path, encoding: str | None, delimiter: str | None) -> SourceFile:
    try:
        with path.open("rb") as fh:
            head = fh.read(65536)
    except FileNotFoundError:
        raise SubmissionFileError(f"There is no file at {path}.") from None
    except IsADirectoryError:
        raise SubmissionFileError(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise SubmissionFileError(f"{path} cannot be read: {exc.strerror}.") from None
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), "csv")
    if kind == "csv" and path.suffix.lower() in {".xlsx", ".xlsm", ".xls", ".parquet"}:
        raise SubmissionFileError(
            f"{path.name} is named .{path.suffix.lower()[1:]} but is not an Excel or Parquet "
            "file (it may be damaged or renamed)."
        )
    if kind in {"xlsx", "xls"}:
        scan = _scan(path, text=False)
        return SourceFile(
            path, kind, scan.sha256, scan.size, _read_excel(path, path.read_bytes(), kind)
        )
    if kind == "parquet":
        scan = _scan(path, text=False)
        return SourceFile(
            path, kind, scan.sha256, scan.size, [_read_parquet(path, path.read_bytes())]
        )
    with ThreadPoolExecutor(max_workers=1) as pool:
        sep = delimiter or _sniff_delimiter(head.decode("utf-8", "replace"))
        scanning = pool.submit(_scan, path, sep.encode("utf-8", "replace")[:1] or b",")
        return _read_csv(path, head, scanning, encoding, delimiter)


# --- CSV ---------------------------------------------------------------------------------------


def _read_csv(
    path: Path,
    head: bytes,
    scanning: Future[_Scan],
    encoding: str | None,
    delimiter: str | None,
) -> SourceFile:
    if not head.strip():
        # An empty file is a submission with no records: the spec's "not empty" rule reports it.
        scan = scanning.result()
        empty = Sheet(None, pl.DataFrame(), [], pl.Series("row", [], dtype=pl.Int64))
        return SourceFile(path, "csv", scan.sha256, scan.size, [empty], "utf-8", ",")
    if b"\x00" in head:
        raise SubmissionFileError(
            f"{path.name} holds binary data, so it is not a CSV file; send CSV, Excel or Parquet."
        )
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
    frame = _polars_csv(source, sep)
    if frame is None:
        if stated.startswith("utf"):
            raise SubmissionFileError(f"{path.name} is not valid UTF-8 text.")
        # Not UTF-8: the usual other encoding of files saved by Excel on Windows.
        text, used = _decode(path, content(), "cp1252")
        header_text = text[:65536]
        sep = delimiter or _sniff_delimiter(header_text)
        source = text.encode("utf-8")
        frame = _polars_csv(source, sep)
    if isinstance(frame, Exception):
        try:
            problem = _csv_problem(path, _whole_text(content(), used), sep, frame)
        except csv.Error as exc:
            problem = f"{path.name} cannot be read as CSV: {exc}."
        raise SubmissionFileError(problem)
    assert frame is not None
    try:
        headers = _hide_identifiers(_csv_headers(header_text, sep))
    except csv.Error as exc:
        raise SubmissionFileError(f"{path.name} cannot be read as CSV: {exc}.") from None
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
        raise SubmissionFileError(f"{path.name} cannot be read as CSV: {exc}.") from None
    sheet = _sheet(None, frame, headers, rows)
    return SourceFile(path, "csv", scan.sha256, scan.size, [sheet], used, sep)


def _sheet(name: str | None, frame: pl.DataFrame, headers: list[str], rows: pl.Series) -> Sheet:
    """A sheet without its blank records (counted, not validated), keeping every row number."""
    if not frame.width or not frame.height:
        return Sheet(name, frame, headers, rows)
    blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    count = int(blank.sum())
    if not count:
        return Sheet(name, frame, headers, rows)
    return Sheet(name, frame.filter(~blank), headers, rows.filter(~blank), count)


def _polars_csv(source: Path | bytes, sep: str) -> pl.DataFrame | Exception | None:
    """Read CSV text with every column as text; None when it is not UTF-8."""
    try:
        if isinstance(source, Path) and any(c in str(source) for c in "*?[]{}"):
            # polars reads such a path as a glob pattern: a file named with a bracket (or an
            # escape sequence) would not be found, so it is read as exactly the path named.
            return pl.scan_csv(
                source,
                separator=sep,
                infer_schema=False,
                has_header=True,
                quote_char='"',
                raise_if_empty=False,
                glob=False,
            ).collect()
        return pl.read_csv(
            source,
            separator=sep,
            infer_schema=False,
            has_header=True,
            quote_char='"',
            raise_if_empty=False,
        )
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
            raise SubmissionFileError(f"{encoding!r} is not an encoding mhdeaths knows.") from None
    if encoding:
        name = encoding.lower().replace("_", "-")
        if name in {"windows-1252", "cp-1252", "latin-1", "latin1", "iso-8859-1"}:
            name = "cp1252"
        try:
            return data.decode(name), "utf-8" if name.startswith("utf") else name
        except LookupError:
            raise SubmissionFileError(f"{encoding!r} is not an encoding mhdeaths knows.") from None
        except UnicodeDecodeError as exc:
            raise SubmissionFileError(
                f"{path.name} is not valid {encoding} text (byte {exc.start + 1} cannot be read)."
            ) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise SubmissionFileError(
            f"{path.name} is neither UTF-8 nor Windows-1252 text (byte {exc.start + 1} cannot be "
            "read); save it as CSV UTF-8 or state its encoding with --encoding."
        ) from None


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


# A header that reads as an NHS number, a date or a postcode is a record's value: the file has no
# header row, so its first record was taken for one. Reports show headers, so such a header is
# hidden, never repeated.
_IDENTIFIER_LIKE = re.compile(
    r"\d{3}[ -]?\d{3}[ -]?\d{4}"
    r"|\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    r"|[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}"
)
HIDDEN_HEADER = "(value hidden)"


def looks_like_identifier(value: str) -> bool:
    """True when a value could be an NHS number, a date (of birth) or a postcode, wherever it
    was found: a shifted column puts such values into fields that are normally safe to show."""
    return _IDENTIFIER_LIKE.search(value) is not None


def _hide_identifiers(headers: list[str]) -> list[str]:
    return [HIDDEN_HEADER if _IDENTIFIER_LIKE.fullmatch(h.strip()) else h for h in headers]


def _uniquely_named(frame: pl.DataFrame, headers: list[str]) -> pl.DataFrame:
    """Rename the columns to the stripped headers, keeping duplicates apart with a suffix."""
    seen: dict[str, int] = {}
    names = []
    for header in headers[: frame.width] + frame.columns[len(headers) :]:
        n = seen.get(header, 0)
        seen[header] = n + 1
        names.append(header if n == 0 else f"{header}#{n + 1}")
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


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


def _csv_problem(path: Path, text: str, sep: str, exc: Exception) -> str:
    """One sentence saying where a CSV file stops being readable."""
    expected = len(_csv_headers(text, sep))
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    for record in reader:
        if len(record) > expected:
            return (
                f"{path.name} cannot be read: line {reader.line_num} has {len(record)} values but "
                f"the header has {expected} (check the delimiter and the quoting)."
            )
    # The CSV reader's own message quotes the line it stopped at, which holds a record's values:
    # never shown. Where Python's strict reader stops is given instead, by line and column.
    where = _csv_stop(text, sep)
    if where is None:
        return f"{path.name} cannot be read as CSV (check the delimiter and the quoting)."
    line, column = where
    return (
        f"{path.name} cannot be read as CSV: line {line}, column {column_letter(column)} is "
        "not quoted properly (check the quotes in that cell)."
    )


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


# --- Excel -------------------------------------------------------------------------------------

# A cell typed as a time of day only is a date-time on Excel's day zero (1900-01-00), which
# calamine writes as 1899-12-31: keep the time, as HH:MM (or HH:MM:SS when it has seconds).
_EXCEL_TIME = r"^1899-12-31[ T](\d{2}:\d{2})(?::00(?:\.0+)?)?$"
_EXCEL_TIME_SECONDS = r"^1899-12-31[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?$"


def _read_excel(path: Path, data: bytes, kind: str) -> list[Sheet]:
    if kind == "xlsx":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "[Content_Types].xml" not in archive.namelist():
                    raise SubmissionFileError(
                        f"{path.name} is a zip archive, not an Excel workbook."
                    )
                _check_used_ranges(path, archive)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            RuntimeError,
            NotImplementedError,
            ValueError,
            OSError,
        ):
            # Damage the zip module finds: a bad checksum or offset, a cut stream, encryption.
            raise SubmissionFileError(
                f"{path.name} is not a readable Excel workbook (it may be damaged or cut short)."
            ) from None
    try:
        import fastexcel

        reader = fastexcel.read_excel(data)
        names = list(reader.sheet_names)
    except BaseException as exc:  # fastexcel raises (and may panic) for every kind of damage
        _reraise_interrupt(exc)
        raise SubmissionFileError(
            f"{path.name} is not a readable Excel workbook (it may be damaged, cut short or "
            "protected with a password)."
        ) from None
    sheets = []
    for name in names:
        try:
            # No header row and no skipped rows: row i of the frame is Excel row i + 1, and
            # every header is as found (a repeated header stays repeated).
            raw = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
            sheets.append(_excel_sheet(name, raw.to_polars()))
        except BaseException as exc:
            _reraise_interrupt(exc)
            raise SubmissionFileError(
                f"The sheet {name!r} of {path.name} cannot be read."
            ) from None
    return sheets


_MOST_CELLS = 20_000_000
"""The Excel reader holds a sheet's whole used range in memory, about 32 bytes a cell, empty or
not: a stray value far below or to the right of the data would take gigabytes (and, past the
machine's memory, end the process), so such a sheet is refused with one sentence instead."""
_DIMENSION = re.compile(
    rb'<(?:\w+:)?dimension ref="\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?"'
)
_ROW = re.compile(rb'<(?:\w+:)?row [^>]*?r="(\d+)"')
_CELL_COLUMN = re.compile(rb'<(?:\w+:)?c r="([A-Z]{1,3})\d')


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _check_used_ranges(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse a workbook with a sheet whose used range is too large to hold (see _MOST_CELLS):
    by the sheet's own <dimension> when it has one, else by its last row and widest cell."""
    for member in archive.namelist():
        if not (member.startswith("xl/worksheets/") and member.endswith(".xml")):
            continue
        with archive.open(member) as stream:
            head = stream.read(16384)
        found = _DIMENSION.search(head)
        if found:
            first_col, first_row, last_col, last_row = found.groups()
            rows = int(last_row or first_row) - int(first_row) + 1
            width = _column_number((last_col or first_col).decode()) - _column_number(
                first_col.decode()
            )
            columns = width + 1
            end_row, end_col = int(last_row or first_row), (last_col or first_col).decode()
        else:
            xml = archive.read(member)
            row_numbers = [int(m) for m in _ROW.findall(xml[-65536:])] or [1]
            letters = {m.decode() for m in _CELL_COLUMN.findall(xml)} or {"A"}
            end_row = max(row_numbers)
            end_col = max(letters, key=_column_number)
            rows, columns = end_row, _column_number(end_col)
        if rows * columns > _MOST_CELLS:
            raise SubmissionFileError(
                f"{path.name} has a sheet used down to row {end_row:,} and across to column "
                f"{end_col} ({rows * columns:,} cells), too many to read: delete the empty rows "
                "and columns after the data (or save the sheet as CSV) and validate again."
            )


def _excel_sheet(name: str, raw: pl.DataFrame) -> Sheet:
    """A sheet read without a header: the header is its first row with a value."""
    no_rows = pl.Series("row", [], dtype=pl.Int64)
    if not raw.width or not raw.height:
        return Sheet(name, pl.DataFrame(), [], no_rows)
    raw = raw.with_columns(
        pl.col(c)
        .cast(pl.String)
        .str.strip_chars()
        .replace("", None)
        .str.replace(_EXCEL_TIME, "$1")
        .str.replace(_EXCEL_TIME_SECONDS, "$1")
        .alias(c)
        for c in raw.columns
    )
    filled = raw.select(pl.any_horizontal(pl.all().is_not_null())).to_series()
    if not filled.any():
        return Sheet(name, pl.DataFrame(), [], no_rows)
    first = int(filled.arg_true()[0])
    headers = _hide_identifiers(["" if v is None else str(v) for v in raw.row(first)])
    body = raw.slice(first + 1)
    # A formatted but empty cell widens the sheet: drop the empty, unnamed columns at its end.
    while (
        headers
        and not headers[-1]
        and body.get_column(body.columns[-1]).null_count() == body.height
    ):
        headers.pop()
        body = body.drop(body.columns[-1])
    frame = _uniquely_named(body, headers)
    # Excel rows: the header is the row found above, its first record the next one; empty rows
    # are kept so that every record keeps its row number.
    rows = pl.int_range(first + 2, first + 2 + frame.height, eager=True).alias("row")
    return _sheet(name, frame, headers, rows)


def _reraise_interrupt(exc: BaseException) -> None:
    """Let an interrupt through; anything else a reader raises (a Rust panic is a
    BaseException) means the file cannot be read."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError):
        raise exc


# --- Parquet -----------------------------------------------------------------------------------


def _read_parquet(path: Path, data: bytes) -> Sheet:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except BaseException as exc:
        _reraise_interrupt(exc)
        raise SubmissionFileError(f"{path.name} is not a readable Parquet file.") from None
    headers = _hide_identifiers(list(frame.columns))
    columns = []
    for name, dtype in frame.schema.items():
        try:
            columns.append(frame.select(_parquet_text(name, dtype)).to_series())
        except (pl.exceptions.PolarsError, ValueError, TypeError):
            raise SubmissionFileError(
                f"The column {name!r} of {path.name} holds {dtype} values, which cannot be read "
                "as text; write one plain value per cell."
            ) from None
    text = pl.DataFrame(columns) if columns else pl.DataFrame()
    text = text.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in text.columns)
    return _sheet(None, text, headers, pl.int_range(1, text.height + 1, eager=True).alias("row"))


def _parquet_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A typed Parquet column as the text a person would type: dates as CCYY-MM-DD, times as
    HH:MM, whole numbers without a decimal point."""
    col = pl.col(name)
    if isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Object | pl.Binary):
        raise TypeError(name)
    if isinstance(dtype, pl.Datetime):
        midnight = col.dt.time() == pl.lit(dt.time(0))
        return (
            pl.when(midnight)
            .then(col.dt.strftime("%Y-%m-%d"))
            .otherwise(col.dt.strftime("%Y-%m-%d %H:%M:%S"))
            .alias(name)
        )
    if isinstance(dtype, pl.Time):
        whole_minute = (col.dt.second() == 0) & (col.dt.nanosecond() == 0)
        return (
            pl.when(whole_minute)
            .then(col.dt.strftime("%H:%M"))
            .otherwise(col.dt.strftime("%H:%M:%S"))
            .alias(name)
        )
    if dtype.is_float():
        whole = col.is_finite() & (col == col.round(0)) & (col.abs() < 1e15)
        return (
            pl.when(whole)
            .then(col.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(col.cast(pl.String))
            .alias(name)
        )
    return col.cast(pl.String).alias(name)


def column_letter(index: int) -> str:
    """The Excel column letter of a 0-based column position (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters

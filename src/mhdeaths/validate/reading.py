"""Read a provider's file, whatever it is, into text columns with the row numbers the user sees.

Providers send CSV (UTF-8, UTF-8 with a byte-order mark, or Windows-1252; comma, semicolon or tab),
Excel (.xlsx, .xls) or Parquet. Every cell is read as text so that nothing is lost before the
spec's own type checks see it (leading zeros stay, a dirty value does not break a column), and
each record keeps the number a person would find it under: its line in the CSV, its row in Excel.
Anything that cannot be read at all raises ``SubmissionFileError`` with one sentence.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import mmap
import os
import re
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl

from mhdeaths import guard
from mhdeaths.errors import UserError
from mhdeaths.limits import DEFAULT_LIMITS, Limits, bytes_text


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


def _scan(
    path: Path,
    sep: bytes = b",",
    text: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    stop: threading.Event | None = None,
) -> _Scan:
    """The file's checksum and size; for a text file (``text``) also its line breaks and whether
    a value may be padded. It reads no more than the file size limit allows, and stops at the
    next block once ``stop`` is set (the file was refused meanwhile)."""
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
            if stop is not None and stop.is_set():
                raise _Stopped
            digest.update(chunk)
            scan.size += len(chunk)
            if scan.size > limits.file_size:
                raise _too_large(path, limits)
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


class _Stopped(Exception):
    """The scan was stopped because the file was refused on another thread."""


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
    return SubmissionFileError(
        f"{path.name} has a line longer than the limit of {bytes_text(limit)} (check it is a CSV "
        "file with one record per line); raise the limit with --limit line-length=SIZE."
    )


def _too_large(path: Path, limits: Limits) -> SubmissionFileError:
    return SubmissionFileError(
        f"{path.name} is larger than the limit of {bytes_text(limits.file_size)} for one file; "
        "send the submission in smaller files or raise the limit with --limit file-size=SIZE."
    )


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
        futures = list(ahead.items())
        for n, (path, future) in enumerate(futures):
            fill(future, partial(_read, path, None, None, DEFAULT_LIMITS))
            if future.exception() is not None:
                # A refused file ends the command: read no further ahead (``read_file`` reads a
                # file it still wants itself).
                for _, rest in futures[n + 1 :]:
                    rest.set_exception(_NotReadAhead())
                return

    threading.Thread(target=run, name="mhdeaths-read-ahead", daemon=True).start()


class _NotReadAhead(Exception):
    """The file was not read ahead, because one before it was refused."""


def fill(future: Future[T], call: Callable[[], T]) -> None:
    """Give the future the call's result, or its exception (which ``result()`` raises again where
    the result is wanted, as if the call had been made there)."""
    try:
        future.set_result(call())
    except BaseException as exc:
        future.set_exception(exc)


def read_file(
    path: Path,
    encoding: str | None = None,
    delimiter: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> SourceFile:
    """Read a submission file of any supported format, within the limits (see mhdeaths.limits)."""
    ahead = _AHEAD.pop(path, None)
    if ahead is not None and encoding is None and delimiter is None and limits == DEFAULT_LIMITS:
        try:
            return ahead.result()
        except _NotReadAhead:
            pass
    return _read(path, encoding, delimiter, limits)


_HEAD = 65536


def _head(path: Path, limits: Limits) -> bytes:
    """The first bytes of a regular file within the size limit (for a CSV whose first line is
    longer, up to the end of that line, within the line length limit).

    The file is opened without waiting for a writer (a named pipe would block) and checked once
    open, so a link to a device, a pipe or a folder is refused before a byte is read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SubmissionFileError(f"There is no file at {path}.") from None
    except IsADirectoryError:
        raise SubmissionFileError(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise SubmissionFileError(f"{path} cannot be read: {exc.strerror}.") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limits.file_size:
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SubmissionFileError(f"{path} is a folder, not a file.")
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionFileError(
                f"{path.name} is not a regular file (it is a device, a pipe or a socket, or a "
                "link to one); name the submission file itself."
            )
        raise _too_large(path, limits)
    with os.fdopen(fd, "rb") as fh:
        try:
            head = fh.read(_HEAD)
            if len(head) == _HEAD and b"\n" not in head and b"\r" not in head:
                head += fh.read(max(limits.line_length + 1 - _HEAD, 0))
        except OSError as exc:
            raise SubmissionFileError(f"{path} cannot be read: {exc.strerror}.") from None
    return head


def _read(path: Path, encoding: str | None, delimiter: str | None, limits: Limits) -> SourceFile:
    head = _head(path, limits)
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), "csv")
    if kind == "csv" and path.suffix.lower() in {".xlsx", ".xlsm", ".xls", ".parquet"}:
        raise SubmissionFileError(
            f"{path.name} is named .{path.suffix.lower()[1:]} but is not an Excel or Parquet "
            "file (it may be damaged or renamed)."
        )
    if kind in {"xlsx", "xls"}:
        scan = _scan(path, text=False, limits=limits)
        return SourceFile(
            path, kind, scan.sha256, scan.size, _read_excel(path, path.read_bytes(), kind, limits)
        )
    if kind == "parquet":
        scan = _scan(path, text=False, limits=limits)
        _check_parquet(path, limits)
        return SourceFile(
            path, kind, scan.sha256, scan.size, [_read_parquet(path, path.read_bytes())]
        )
    # The scan runs beside the read; once the file is refused it stops at its next block (the
    # pool waits for it on leaving).
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        sep = delimiter or _sniff_delimiter(head.decode("utf-8", "replace"))
        scanning = pool.submit(
            _scan, path, sep.encode("utf-8", "replace")[:1] or b",", True, limits, stop
        )
        try:
            return _read_csv(path, head, scanning, encoding, delimiter, limits)
        except BaseException:
            stop.set()
            raise


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
        raise SubmissionFileError(
            f"{path.name} holds binary data, so it is not a CSV file; send CSV, Excel or Parquet."
        )
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
            raise SubmissionFileError(f"{path.name} is not valid UTF-8 text.")
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


def _check_columns(path: Path, header_text: str, sep: str, limits: Limits) -> int:
    """Refuse a CSV whose header has more columns than the limit, before the reader makes one
    column for each; the most records the cell limit then allows (every line, even an empty
    one, is a record of as many cells as the header has columns)."""
    line = first_line(header_text)
    if line.count('"') % 2:
        # A quoted line break in a column name: the header would run on past its first line, as
        # wide as whatever follows, unseen by this count. No field or alias has a line break.
        raise SubmissionFileError(
            f"The header line of {path.name} has a column name with a line break in it (an odd "
            "number of quotes); write every column name on the one header line."
        )
    columns = line.count(sep) + 1
    if columns > limits.columns:
        with contextlib.suppress(csv.Error):
            columns = len(_csv_headers(line, sep))
        if columns > limits.columns:
            raise _too_many_columns(path, columns, limits)
    return max(limits.cells // columns, 1)


def _too_many_records(path: Path, most: int, frame: pl.DataFrame, limits: Limits) -> None:
    """Refuse a CSV read up to one record past the most allowed (the reader stops there)."""
    if frame.height > most:
        raise SubmissionFileError(
            f"{path.name} has more than {most:,} records of {frame.width:,} columns, more than "
            f"the limit of {limits.cells:,} cells; send the submission in smaller files or "
            "raise the limit with --limit cells=N."
        )


def _too_many_columns(path: Path, columns: int, limits: Limits) -> SubmissionFileError:
    return SubmissionFileError(
        f"{path.name} has {columns:,} columns, more than the limit of {limits.columns:,}; send "
        "only the spec's fields, or raise the limit with --limit columns=N."
    )


def _sheet(name: str | None, frame: pl.DataFrame, headers: list[str], rows: pl.Series) -> Sheet:
    """A sheet without its blank records (counted, not validated), keeping every row number."""
    if not frame.width or not frame.height:
        return Sheet(name, frame, headers, rows)
    blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
    count = int(blank.sum())
    if not count:
        return Sheet(name, frame, headers, rows)
    return Sheet(name, frame.filter(~blank), headers, rows.filter(~blank), count)


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


def _read_excel(path: Path, data: bytes, kind: str, limits: Limits = DEFAULT_LIMITS) -> list[Sheet]:
    if kind == "xlsx":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "[Content_Types].xml" not in archive.namelist():
                    raise SubmissionFileError(
                        f"{path.name} is a zip archive, not an Excel workbook."
                    )
                _check_workbook(path, archive, data, limits)
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
    if kind == "xls":
        try:
            ranges = _xls_used_ranges(_xls_workbook_stream(data))
        except (struct.error, ValueError, IndexError):
            raise SubmissionFileError(
                f"{path.name} is not a readable Excel workbook (it may be damaged or cut short)."
            ) from None
        cells = 0
        for rows, columns in ranges:
            used = _UsedRange()
            used.last_row, used.last_column = rows, columns
            # The .xls reader holds about three times what the .xlsx reader does for a cell.
            _check_used_range(path, used, cells, limits, weight=3)
            cells += rows * columns
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


# The Excel reader holds a sheet's whole used range in memory, about 32 bytes a cell, empty or not,
# and every shared string: a stray value far below or to the right of the data, a sheet with no
# <dimension> or one that understates it, or a zip bomb would take gigabytes (and, past the
# machine's memory, end the process). So every part of a workbook is unzipped here first, a block
# at a time and never past the size its zip entry declares, counting each sheet's rows and
# columns (from the cells themselves, not the <dimension>) and the shared strings; a workbook
# past a limit is refused before the reader sees it.
_DIMENSION = re.compile(
    rb'<(?:\w+:)?dimension ref="\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?"'
)
# Counted with the bytes' own searches (a regular expression per cell would take longer than
# the reader itself): tags are made plain first when a piece has a namespace prefix or writes a
# reference attribute in any other way than ` r="`, which Excel always does.
_PREFIX = re.compile(rb"<(/?)[A-Za-z_][\w.-]*:")
_PREFIXED = re.compile(rb":(?:row|c|si)[\s>/]")
_ODD_REFERENCE = re.compile(rb" r *= *['\"]")
_ODD_SIGN = re.compile(rb"r(?: +=|= *'|= )")
_SPACES = bytes.maketrans(b"\t\n\r", b"   ")
_ROW_NUMBER = re.compile(rb' r="\$?(\d+)')
_CELL_COLUMN = re.compile(rb' r="\$?([A-Z]{1,3})\$?\d')
_CELL_ROW = re.compile(rb' r="\$?[A-Z]{1,3}\$?(\d+)')


def _plain(text: bytes) -> bytes:
    """The text with every blank a space, every tag's namespace prefix taken off (when it has
    any) and every cell or row reference written ` r="`."""
    text = text.translate(_SPACES)
    if _PREFIXED.search(text):
        text = _PREFIX.sub(rb"<\1", text)
    if _ODD_SIGN.search(text):
        text = _ODD_REFERENCE.sub(b' r="', text).replace(b"'", b'"')
    return text


def _tags(text: bytes, name: bytes) -> int:
    """How many elements of the name open in the (prefix-free) text."""
    return sum(text.count(b"<" + name + end) for end in (b" ", b">", b"/"))


_PIECE = 1 << 20
_RATIO_FROM = 1 << 20
"""Parts smaller than this unzipped are not held to the ratio limit (tiny parts compress oddly)."""


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


class _UsedRange:
    """A sheet's used range, counted from its XML fed in pieces: the highest row and column any
    cell names (cells and rows without a reference are counted by position, as the reader
    places them), or its <dimension> when that is larger."""

    def __init__(self) -> None:
        self.rest = b""
        self.last_row = 0
        self.unnumbered_rows = 0
        self.last_column = 0
        self.widest_unnumbered = 0
        self.dimension = (0, 0)
        self.started = False

    def feed(self, piece: bytes) -> None:
        if not self.started:
            self.started = True
            found = _DIMENSION.search(piece[:16384])
            if found:
                first_col, first_row, last_col, last_row = found.groups()
                rows = int(last_row or first_row) - int(first_row) + 1
                columns = _column_number((last_col or first_col).decode()) - _column_number(
                    first_col.decode()
                )
                self.dimension = (max(rows, 0), max(columns + 1, 0))
        text = self.rest + piece
        # Counted up to the last row's start, so that no row (or tag) is split between pieces;
        # a long stretch without a row is counted as it is.
        cut = max(text.rfind(b"<row"), text.rfind(b":row"))
        if cut <= 0:
            if len(text) <= 16 * _PIECE:
                self.rest = text
                return
            cut = len(text)
        self._count(text[:cut])
        self.rest = text[cut:]

    def end(self) -> None:
        self._count(self.rest)
        self.rest = b""

    def _count(self, text: bytes) -> None:
        if not text:
            return
        text = _plain(text)
        numbered = _ROW_NUMBER.findall(text)
        if numbered:
            self.last_row = max(self.last_row, *map(int, set(numbered)))
        self.unnumbered_rows += max(_tags(text, b"row") - len(numbered), 0)
        cell_rows = _CELL_ROW.findall(text)
        if cell_rows:
            self.last_row = max(self.last_row, *map(int, set(cell_rows)))
        if _tags(text, b"c") > len(cell_rows):
            # Some cells name no column: each takes the next one in its row.
            widest = max(_tags(row, b"c") for row in text.split(b"<row"))
            self.widest_unnumbered = max(self.widest_unnumbered, widest)
        if cell_rows:
            columns = set(_CELL_COLUMN.findall(text))
            self.last_column = max(self.last_column, *(_column_number(c.decode()) for c in columns))

    @property
    def rows(self) -> int:
        return max(self.last_row + self.unnumbered_rows, self.dimension[0])

    @property
    def columns(self) -> int:
        return max(self.last_column + self.widest_unnumbered, self.dimension[1])


def _unzipped(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A part of the workbook unzipped a block at a time, as the Excel reader would read it from
    its local entry; a part that unzips larger than its entry declares is refused as damaged
    (the declared sizes are what the limits were checked against)."""
    offset = info.header_offset
    header = data[offset : offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(info.filename)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = offset + 30 + name_length + extra_length
    compressed = memoryview(data)[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        for at in range(0, len(compressed), _PIECE):
            yield bytes(compressed[at : at + _PIECE])
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise NotImplementedError(info.compress_type)
    inflate = zlib.decompressobj(-15)
    produced = 0
    for at in range(0, len(compressed), _PIECE):
        pending = bytes(compressed[at : at + _PIECE])
        while pending and not inflate.eof:
            out = inflate.decompress(pending, _PIECE)
            pending = inflate.unconsumed_tail
            produced += len(out)
            if produced > info.file_size:
                raise zipfile.BadZipFile(info.filename)
            if out:
                yield out
        if inflate.eof:
            return
    out = inflate.flush()
    if produced + len(out) > info.file_size:
        raise zipfile.BadZipFile(info.filename)
    if out:
        yield out


def _check_workbook(
    path: Path, archive: zipfile.ZipFile, data: bytes, limits: Limits = DEFAULT_LIMITS
) -> None:
    """Refuse a workbook that unzips too large, or whose sheets' used ranges (or shared strings)
    hold too many cells to read, before the Excel reader expands any of it."""
    parts = archive.infolist()
    if sum(info.file_size for info in parts) > limits.decompressed_size:
        raise SubmissionFileError(
            f"{path.name} unzips to more than the limit of {bytes_text(limits.decompressed_size)} "
            "(an .xlsx file is a zip); save it as CSV, or raise the limit with "
            "--limit decompressed-size=SIZE."
        )
    for info in parts:
        if info.file_size > _RATIO_FROM and info.file_size > limits.zip_ratio * max(
            info.compress_size, 1
        ):
            raise SubmissionFileError(
                f"{path.name} holds a part that unzips more than {limits.zip_ratio:,} times "
                "larger than it is stored, as a zip bomb does; save the workbook again from "
                "Excel, or raise the limit with --limit zip-ratio=N."
            )
    # Every part is counted as a sheet and as shared strings: the workbook's own relationships,
    # not the parts' names, say which is which.
    cells = strings = 0
    for info in parts:
        used = _UsedRange()
        for piece in _unzipped(data, info):
            used.feed(piece)
            _check_used_range(path, used, cells, limits)
            strings += _tags(_plain(piece), b"si")
            if strings > limits.sheet_cells:
                raise _too_many_cells(path, f"{strings:,} shared strings", limits)
        used.end()
        _check_used_range(path, used, cells, limits)
        cells += used.rows * used.columns


def _check_used_range(
    path: Path, used: _UsedRange, before: int, limits: Limits, weight: int = 1
) -> None:
    """Refuse a sheet (counted so far) past the column limit, or past the cell limit with the
    sheets before it (``before`` cells), each cell counting ``weight`` times."""
    if used.columns > limits.columns:
        raise SubmissionFileError(
            f"{path.name} has a sheet used across to column {column_letter(used.columns - 1)} "
            f"({used.columns:,} columns), more than the limit of {limits.columns:,}: delete "
            "the empty columns after the data (or raise the limit with --limit columns=N) "
            "and validate again."
        )
    if (before + used.rows * used.columns) * weight > limits.sheet_cells:
        raise _too_many_cells(
            path,
            f"a sheet used down to row {used.rows:,} and across to column "
            f"{column_letter(max(used.columns - 1, 0))} ({used.rows * used.columns:,} cells)",
            limits,
            ", an .xls cell counting three" if weight == 3 else "",
        )


# An .xls workbook is a compound file (a little file system of sectors) holding a Workbook
# stream of BIFF records; each sheet's cells are records naming their row and column. The
# reader holds a sheet's whole used range, so the range is found from the records first.
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END = 0xFFFFFFFA
"""Sector numbers from here up mark the end of a chain or a free sector."""
_XLS_CELLS = {0x0006, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6, 0x0406}
_XLS_RUNS = {0x00BD, 0x00BE}
"""Records of one cell (row, column first) and of a run of cells (the last column last)."""


def _xls_workbook_stream(data: bytes) -> bytes:
    """The Workbook (or, before Excel 97, Book) stream of a compound file."""
    if data[:8] != _CFB:
        raise ValueError("not a compound file")
    shift, mini_shift = struct.unpack_from("<HH", data, 30)
    if shift not in (9, 12) or mini_shift != 6:
        raise ValueError("sector size")
    size, mini_size = 1 << shift, 1 << mini_shift
    fat_count, directory_start = struct.unpack_from("<II", data, 44)
    cutoff, mini_fat_start, _, difat_start = struct.unpack_from("<IIII", data, 56)
    total = len(data) // size

    def sector(n: int) -> bytes:
        if n >= total:
            raise ValueError("sector past the end")
        return data[(n + 1) * size : (n + 2) * size]

    def numbers(block: bytes) -> list[int]:
        return list(struct.unpack(f"<{len(block) // 4}I", block))

    difat = numbers(data[76:512])
    n, seen = difat_start, 0
    while n < _END:
        seen += 1
        if seen > total:
            raise ValueError("a loop")
        more = numbers(sector(n))
        difat += more[:-1]
        n = more[-1]
    fat = [k for f in difat[:fat_count] if f < _END for k in numbers(sector(f))]

    def chain(start: int, table: list[int]) -> list[int]:
        """A chain of sectors; one that comes back to a sector is damage (or a trap that would
        join the same sector without end)."""
        found: dict[int, None] = {}
        n = start
        while n < _END:
            if n >= len(table) or n in found:
                raise ValueError("a broken chain")
            found[n] = None
            n = table[n]
        return list(found)

    directory = b"".join(sector(n) for n in chain(directory_start, fat))
    entries = [directory[i : i + 128] for i in range(0, len(directory) - 127, 128)]
    for entry in entries:
        length = min(struct.unpack_from("<H", entry, 64)[0], 64)
        name = entry[: max(length - 2, 0)].decode("utf-16-le", "replace")
        if entry[66] == 2 and name in ("Workbook", "Book"):
            start, stream_size = struct.unpack_from("<IQ", entry, 116)
            break
    else:
        raise ValueError("no Workbook stream")
    if stream_size > len(data):
        raise ValueError("a stream larger than the file")
    if stream_size >= cutoff:
        return b"".join(sector(n) for n in chain(start, fat))[:stream_size]
    root_start = struct.unpack_from("<I", entries[0], 116)[0]
    mini_stream = b"".join(sector(n) for n in chain(root_start, fat))
    mini_fat = [k for n in chain(mini_fat_start, fat) for k in numbers(sector(n))]
    return b"".join(
        mini_stream[n * mini_size : (n + 1) * mini_size] for n in chain(start, mini_fat)
    )[:stream_size]


def _xls_used_ranges(stream: bytes) -> list[tuple[int, int]]:
    """Each sheet's used range from the records of a Workbook stream, as (rows, columns) from A1
    to the furthest cell, or its DIMENSIONS record when that is larger."""
    ranges: list[tuple[int, int]] = []
    rows = columns = 0
    at = 0
    while at + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, at)
        body = at + 4
        if kind in _XLS_CELLS and length >= 4:
            row, column = struct.unpack_from("<HH", stream, body)
            rows, columns = max(rows, row + 1), max(columns, column + 1)
        elif kind in _XLS_RUNS and length >= 6:
            row = struct.unpack_from("<H", stream, body)[0]
            last = struct.unpack_from("<H", stream, body + length - 2)[0]
            rows, columns = max(rows, row + 1), max(columns, last + 1)
        elif kind == 0x0200 and length >= 10:
            if length >= 14:
                _, last_row, _, last_column = struct.unpack_from("<IIHH", stream, body)
            else:
                _, last_row, _, last_column = struct.unpack_from("<HHHH", stream, body)
            rows, columns = max(rows, last_row), max(columns, last_column)
        elif kind == 0x000A:  # the end of the workbook's globals or of a sheet
            ranges.append((rows, columns))
            rows = columns = 0
        at = body + length
    ranges.append((rows, columns))
    return ranges


def _too_many_cells(
    path: Path, what: str, limits: Limits, counting: str = ""
) -> SubmissionFileError:
    return SubmissionFileError(
        f"{path.name} has {what}, too many to read (the limit is {limits.sheet_cells:,} cells "
        f"in a workbook's sheets{counting}): delete the empty rows and columns after the data (or save the "
        "sheet as CSV) and validate again, or raise the limit with --limit sheet-cells=N."
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


def _check_parquet(path: Path, limits: Limits) -> None:
    """Refuse a Parquet file with more columns or cells than the limits, or with nested or binary
    values (a list in every cell has no bound), from its footer alone; then one whose values take
    more than the limit once decompressed, measured before any of it is held."""
    try:
        # glob=False: a file name is a name, even when it holds [ or * (polars would expand it).
        footer = pl.scan_parquet(path, glob=False)
        schema = footer.collect_schema()
        rows = int(footer.select(pl.len()).collect().item())
    except BaseException as exc:
        _reraise_interrupt(exc)
        raise SubmissionFileError(f"{path.name} is not a readable Parquet file.") from None
    if len(schema) > limits.columns:
        raise _too_many_columns(path, len(schema), limits)
    if rows * max(len(schema), 1) > limits.cells:
        raise SubmissionFileError(
            f"{path.name} has {rows:,} rows of {len(schema):,} columns, more than the limit of "
            f"{limits.cells:,} cells; send the submission in smaller files or raise the limit "
            "with --limit cells=N."
        )
    for name, dtype in schema.items():
        if isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Binary):
            raise _not_text(path, name, dtype)
    # A Parquet file compresses repeated text to almost nothing (a value written once in a
    # dictionary stands for every row): its text is measured a batch at a time, never held.
    text = [
        pl.col(name).cast(pl.String).str.len_bytes().cast(pl.Int64).sum()
        for name, dtype in schema.items()
        if isinstance(dtype, pl.String | pl.Categorical | pl.Enum)
    ]
    try:
        measured = (
            pl.scan_parquet(path, glob=False)
            .select(pl.sum_horizontal(text))
            .collect(engine="streaming")
            if text
            else None
        )
    except BaseException as exc:
        _reraise_interrupt(exc)
        raise SubmissionFileError(f"{path.name} is not a readable Parquet file.") from None
    size = (measured.item() if measured is not None else 0) + rows * (len(schema) - len(text)) * 8
    if size > limits.decompressed_size:
        raise SubmissionFileError(
            f"{path.name} holds more than the limit of {bytes_text(limits.decompressed_size)} "
            "of values once decompressed; send the submission in smaller files or raise the "
            "limit with --limit decompressed-size=SIZE."
        )


def _not_text(path: Path, name: str, dtype: pl.DataType) -> SubmissionFileError:
    return SubmissionFileError(
        f"The column {name!r} of {path.name} holds {dtype} values, which cannot be read "
        "as text; write one plain value per cell."
    )


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
            raise _not_text(path, name, dtype) from None
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

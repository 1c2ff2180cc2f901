"""Excel workbooks (.xlsx, .xls): measured before they are read, then every sheet read as text.

The Excel reader holds a sheet's whole used range in memory, so a workbook's parts (or an .xls
file's records) are counted first and a workbook past a limit is refused before the reader sees it.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mhdeaths.limits import DEFAULT_LIMITS, Limits, bytes_text
from mhdeaths.validate.reading.failures import failure
from mhdeaths.validate.reading.source import (
    Sheet,
    _hide_identifiers,
    _reraise_interrupt,
    _sheet,
    _uniquely_named,
    column_letter,
)

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
                    raise failure("file/zip-not-workbook", file=path.name)
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
            raise failure("file/workbook-damaged", file=path.name) from None
    if kind == "xls":
        try:
            ranges = _xls_used_ranges(_xls_workbook_stream(data))
        except (struct.error, ValueError, IndexError):
            raise failure("file/workbook-damaged", file=path.name) from None
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
        raise failure("file/workbook-unreadable", file=path.name) from None
    sheets = []
    for name in names:
        try:
            # No header row and no skipped rows: row i of the frame is Excel row i + 1, and
            # every header is as found (a repeated header stays repeated).
            raw = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
            # Rows are read from row 1, columns from the leftmost with a value.
            read = raw.selected_columns
            first = read[0].absolute_index if read else 0
            sheets.append(_excel_sheet(name, raw.to_polars(), first))
        except BaseException as exc:
            _reraise_interrupt(exc)
            raise failure("file/sheet-unreadable", sheet=name, file=path.name) from None
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
        raise failure(
            "file/unzips-too-large", file=path.name, limit=bytes_text(limits.decompressed_size)
        )
    for info in parts:
        if info.file_size > _RATIO_FROM and info.file_size > limits.zip_ratio * max(
            info.compress_size, 1
        ):
            raise failure("file/zip-bomb", file=path.name, ratio=limits.zip_ratio)
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
                raise failure(
                    "file/too-many-shared-strings",
                    file=path.name,
                    strings=strings,
                    limit=limits.sheet_cells,
                )
        used.end()
        _check_used_range(path, used, cells, limits)
        cells += used.rows * used.columns


def _check_used_range(
    path: Path, used: _UsedRange, before: int, limits: Limits, weight: int = 1
) -> None:
    """Refuse a sheet (counted so far) past the column limit, or past the cell limit with the
    sheets before it (``before`` cells), each cell counting ``weight`` times."""
    if used.columns > limits.columns:
        raise failure(
            "file/sheet-too-wide",
            file=path.name,
            column=column_letter(used.columns - 1),
            columns=used.columns,
            limit=limits.columns,
        )
    if (before + used.rows * used.columns) * weight > limits.sheet_cells:
        raise failure(
            "file/xls-sheet-too-many-cells" if weight == 3 else "file/sheet-too-many-cells",
            file=path.name,
            rows=used.rows,
            column=column_letter(max(used.columns - 1, 0)),
            cells=used.rows * used.columns,
            limit=limits.sheet_cells,
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


def _excel_sheet(name: str, raw: pl.DataFrame, first_column: int = 0) -> Sheet:
    """A sheet read without a header: the header is its first row with a value; its first
    column is the sheet's ``first_column`` (0 for A)."""
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
    return _sheet(name, frame, headers, rows, first + 1, first_column)

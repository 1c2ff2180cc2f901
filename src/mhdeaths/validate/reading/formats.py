"""Which reader reads a file: told by its first bytes (never by its name alone).

A file that starts as a zip is a workbook, one that starts as a compound file an .xls workbook,
``PAR1`` a Parquet file; anything else is read as delimited text. A new format is a new entry in
``_MAGIC`` and a branch of ``_read`` calling its own module.
"""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mhdeaths.limits import Limits
from mhdeaths.validate.reading.delimited import _read_csv, _sniff_delimiter
from mhdeaths.validate.reading.excel import _read_excel
from mhdeaths.validate.reading.failures import failure, too_large
from mhdeaths.validate.reading.parquet import _check_parquet, _read_parquet
from mhdeaths.validate.reading.scan import _scan
from mhdeaths.validate.reading.source import SourceFile

_MAGIC = {
    b"PK\x03\x04": "xlsx",
    b"\xd0\xcf\x11\xe0": "xls",
    b"PAR1": "parquet",
}


_HEAD = 65536


def _head(path: Path, limits: Limits) -> bytes:
    """The first bytes of a regular file within the size limit (for a CSV whose first line is
    longer, up to the end of that line, within the line length limit).

    The file is opened without waiting for a writer (a named pipe would block) and checked once
    open, so a link to a device, a pipe or a folder is refused before a byte is read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise failure("file/missing", path=path) from None
    except IsADirectoryError:
        raise failure("file/folder", path=path) from None
    except OSError as exc:
        raise failure("file/unreadable", path=path, reason=exc.strerror) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limits.file_size:
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise failure("file/folder", path=path)
        if not stat.S_ISREG(info.st_mode):
            raise failure("file/not-regular", file=path.name)
        raise too_large(path, limits)
    with os.fdopen(fd, "rb") as fh:
        try:
            head = fh.read(_HEAD)
            if len(head) == _HEAD and b"\n" not in head and b"\r" not in head:
                head += fh.read(max(limits.line_length + 1 - _HEAD, 0))
        except OSError as exc:
            raise failure("file/unreadable", path=path, reason=exc.strerror) from None
    return head


def _read(path: Path, encoding: str | None, delimiter: str | None, limits: Limits) -> SourceFile:
    head = _head(path, limits)
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), "csv")
    if kind == "csv" and path.suffix.lower() in {".xlsx", ".xlsm", ".xls", ".parquet"}:
        raise failure("file/misnamed", file=path.name, suffix=path.suffix.lower()[1:])
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

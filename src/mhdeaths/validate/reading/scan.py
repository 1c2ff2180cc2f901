"""One streamed pass over a file's bytes: its checksum and size, and for text its line breaks,
whether any value may need trimming (so the costly trimming can be skipped) and whether a quoted
value may have text after its closing quote (so that the costlier look for it can be skipped).

It runs on a thread beside the reader of the format, and stops once the file is refused.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.validate.reading.failures import too_large


@dataclass
class _Scan:
    """What one pass over the raw bytes tells: checksum, size, line breaks, and whether any value
    may carry spaces around it (so that the costly trimming of every column can be skipped)."""

    sha256: str = ""
    size: int = 0
    newlines: int = 0
    padded: bool = False
    quoted_text: bool = False
    """A quoted value may have text after its closing quote, on one line (TEXT_AFTER_QUOTE)."""


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


def text_after_quote(sep: str, across_lines: bool) -> str:
    """A regular expression (polars') matching a quoted value with text after its closing quote,
    `"a"b"c"` (which polars reads as `abc`); also some values that are well quoted (it may start
    inside a quoted value), never missing one that is not. Its first quote stands at the start or
    after a delimiter (or, in a block of lines, a line break); ``across_lines``: a quoted value
    may hold a line break."""
    other = f"\\x{{{ord(sep):X}}}"
    inside = '[^"]' if across_lines else '[^"\\n]'
    return f'(?:^|[{other}\\n])"(?:{inside}|"")*"[^{other}\\r\\n"]'


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
    patterns = None if pattern is None else (pattern, text_after_quote(sep.decode(), False))
    # Each window is a line break and then whole lines (the last may be cut at the end of the
    # file): no pair of bytes spans two windows, and a value at the start of a line (or of the
    # file) follows a line break in its window.
    windows: list[bytes] = []
    rest = b""
    tail = b"\n"

    def search(windows: list[bytes]) -> None:
        padded, quoted, newlines = _search_windows(windows, patterns, table, scan)
        scan.newlines += newlines
        scan.padded = scan.padded or padded
        scan.quoted_text = scan.quoted_text or quoted

    with path.open("rb") as fh:
        # Streamed, so that a large CSV is never held in memory twice; hashlib and polars release
        # the GIL, so this runs beside polars' own read.
        for chunk in iter(lambda: fh.read(_BLOCK), b""):
            if stop is not None and stop.is_set():
                raise _Stopped
            digest.update(chunk)
            scan.size += len(chunk)
            if scan.size > limits.file_size:
                raise too_large(path, limits)
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


def _search_windows(
    windows: list[bytes], patterns: tuple[str, str] | None, table: bytes, seen: _Scan
) -> tuple[bool, bool, int]:
    """Whether any window holds a padded value, and a quoted value with text after it (each not
    searched once ``seen`` has it), and the line breaks in the windows (less the one each starts
    with). ``patterns``: the two tests as regular expressions, for text that is UTF-8."""
    if patterns is not None:
        try:
            text = pl.Series("t", windows, dtype=pl.Binary).cast(pl.String)
        except pl.exceptions.ComputeError:
            text = None  # Not UTF-8 text: each window on its own.
        if text is not None:
            column = pl.col("t")
            checks = [column.str.count_matches("\n", literal=True).sum().alias("newlines")]
            if not seen.padded:
                checks.append(column.str.contains(patterns[0]).any().alias("padded"))
            if not seen.quoted_text:
                checks.append(column.str.contains(patterns[1]).any().alias("quoted"))
            result = text.to_frame().select(checks).row(0, named=True)
            newlines = int(result["newlines"]) - len(windows)
            return bool(result.get("padded")), bool(result.get("quoted")), newlines
        if len(windows) > 1:
            found = _Scan(padded=seen.padded, quoted_text=seen.quoted_text)
            for window in windows:
                padded, quoted, newlines = _search_windows([window], patterns, table, found)
                found.padded = found.padded or padded
                found.quoted_text = found.quoted_text or quoted
                found.newlines += newlines
            return found.padded, found.quoted_text, found.newlines
    padded = not seen.padded and any(_padded_bytes(window, table) for window in windows)
    # Text that is not UTF-8 (or a delimiter that is not ASCII): any quote may be one.
    quoted = not seen.quoted_text and any(b'"' in window for window in windows)
    return padded, quoted, sum(window.count(b"\n") for window in windows) - len(windows)

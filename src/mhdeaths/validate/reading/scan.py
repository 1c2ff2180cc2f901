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
    may carry white space around it (so that the costly trimming of every column can be skipped
    where it would change nothing)."""

    sha256: str = ""
    size: int = 0
    newlines: int = 0
    padded: bool = False
    quoted_text: bool = False
    """A quoted value may have text after its closing quote, on one line (text_after_quote)."""


ASCII_BLANKS = "\t\x0b\x0c "
OTHER_BLANKS = (
    "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
"""The white space polars' strip_chars takes off (Rust's), less the line breaks: ASCII, and other
(tests/unit/test_reading_scan.py holds the two, with the line breaks, to what polars strips)."""


@dataclass(frozen=True)
class Padding:
    """Regular expressions (polars') that together match wherever a value, as polars reads it, may
    start or end with white space that trimming takes off, or be an empty quoted value that
    trimming makes missing: so that a file they do not match reads the same trimmed or not, and
    every value is trimmed alike, whatever the file's other values. They may match where nothing
    is to trim (a delimiter or line break inside quotes), never missing what is. Over text that is
    blocks of whole lines, each after a line break.

    A blank next to a delimiter, a quote or a line break, or ending the text; two quotes; a quoted
    value starting or ending with a line break; a carriage return not before a line feed (polars
    keeps one in a value). Each is its own expression, found in a block far faster than all in
    one; white space other than ASCII is looked for next to anything only where there is some."""

    plain: tuple[str, ...]
    """Any one matching: padding."""
    other: tuple[tuple[str, ...], ...]
    """Any one of a group there: white space other than ASCII is, and ``other_padded`` is asked.
    Grouped as polars finds them in a block quickly (by the bytes they start with in UTF-8)."""
    other_padded: str


def padding(sep: str) -> Padding:
    """The tests for padding in text with the delimiter ``sep`` (a delimiter that is white space is
    none: it separates values)."""
    escape = f"\\x{{{ord(sep):X}}}"
    ends = f'[{escape}"\\r\\n]'  # what a value's last character may stand before
    starts = f'[{escape}"\\n]'  # after
    ascii_blank = "[" + "".join(f"\\x{{{ord(c):X}}}" for c in ASCII_BLANKS if c != sep) + "]"
    other_blank = "[" + "".join(f"\\x{{{ord(c):X}}}" for c in OTHER_BLANKS if c != sep) + "]"
    return Padding(
        plain=(
            starts + ascii_blank,
            ascii_blank + ends,
            ascii_blank + "\\z",
            '""',
            f'[{escape}\\n]"[\\r\\n]',
            f'[\\r\\n]"[{escape}\\r\\n]',
            '[\\r\\n]"\\z',
            "\\r[^\\n]",
            "\\r\\z",
        ),
        other=(
            tuple(c for c in OTHER_BLANKS if c < "\u0100"),
            tuple(c for c in OTHER_BLANKS if c >= "\u0100"),
        ),
        other_padded=f"{starts}{other_blank}|{other_blank}(?:{ends}|\\z)",
    )


def text_after_quote(sep: str, across_lines: bool) -> str:
    """A regular expression (polars') matching a quoted value with text after its closing quote,
    `"a"b"c"` (which polars reads as `abc`); also some values that are well quoted (it may start
    inside a quoted value), never missing one that is not. Its first quote stands at the start or
    after a delimiter (or, in a block of lines, a line break); ``across_lines``: a quoted value
    may hold a line break."""
    other = f"\\x{{{ord(sep):X}}}"
    inside = '[^"]' if across_lines else '[^"\\n]'
    return f'(?:^|[{other}\\n])"(?:{inside}|"")*"[^{other}\\r\\n"]'


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
    # A delimiter that is not ASCII stands for other bytes in text than its own (polars reads
    # none such): the bytes are searched as text that is not UTF-8.
    patterns = None
    if sep[0] < 0x80:
        patterns = (padding(sep.decode()), text_after_quote(sep.decode(), False))
    # Each window is a line break and then whole lines (the last may be cut at the end of the
    # file): no pair of bytes spans two windows, and a value at the start of a line (or of the
    # file) follows a line break in its window.
    windows: list[bytes] = []
    rest = b""

    def search(windows: list[bytes]) -> None:
        padded, quoted, newlines = _search_windows(windows, patterns, scan)
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
    scan.sha256 = digest.hexdigest()
    return scan


def search_text(text: bytes, sep: str) -> tuple[bool, bool]:
    """The scan's two tests, padding and text after a closing quote, over UTF-8 text the reader
    made of a file in another encoding (the scan searched the file's own bytes)."""
    if ord(sep) >= 0x80:
        return True, b'"' in text
    patterns = (padding(sep), text_after_quote(sep, across_lines=False))
    padded, quoted, _ = _search_windows([b"\n" + text], patterns, _Scan())
    return padded, quoted


class _Stopped(Exception):
    """The scan was stopped because the file was refused on another thread."""


def _search_windows(
    windows: list[bytes], patterns: tuple[Padding, str] | None, seen: _Scan
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
            pad, after = patterns
            if not seen.padded:
                plain = [column.str.contains(p).any() for p in pad.plain]
                other = [column.str.contains_any(list(group)).any() for group in pad.other]
                checks += [pl.any_horizontal(plain).alias("padded")]
                checks += [pl.any_horizontal(other).alias("other")]
            if not seen.quoted_text:
                checks.append(column.str.contains(after).any().alias("quoted"))
            frame = text.to_frame()
            result = frame.select(checks).row(0, named=True)
            padded = bool(result.get("padded"))
            if not padded and result.get("other"):
                padded = bool(frame.select(column.str.contains(pad.other_padded).any()).item())
            newlines = int(result["newlines"]) - len(windows)
            return padded, bool(result.get("quoted")), newlines
        if len(windows) > 1:
            found = _Scan(padded=seen.padded, quoted_text=seen.quoted_text)
            for window in windows:
                padded, quoted, newlines = _search_windows([window], patterns, found)
                found.padded = found.padded or padded
                found.quoted_text = found.quoted_text or quoted
                found.newlines += newlines
            return found.padded, found.quoted_text, found.newlines
    # Text that is not UTF-8 (or a delimiter that is not ASCII): what it holds is not known here
    # (the reader searches such a file again once decoded, search_text).
    quoted = not seen.quoted_text and any(b'"' in window for window in windows)
    return True, quoted, sum(window.count(b"\n") for window in windows) - len(windows)

"""The pass over a CSV's raw bytes beside polars' read: checksum, size, line breaks, whether a
value may be padded (so that trimming every column can be skipped where it changes nothing), and
whether a quoted value may have text after its closing quote.

The searches run in polars over blocks of whole lines; these tests hold them to what they stand
for on every kind of file: blocks cut anywhere, text that is not UTF-8, white space of any kind.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.validate import reading
from mhdeaths.validate.reading import scan as scan_module

PIECES = [
    *[b"a", b"1", b",", b";", b"\t", b" ", b'"', b'"', b"\n", b"\r", b"\xc3\xa9", b"\xe9"],
    *[" ", "\u00a0", "\u0085", "\u3000", "\u2003", "\u205f", "\x0b", "\x0c", "\x1c", "\ufeff"],
]
"""Bytes, and white space of every kind polars trims (and U+001C and U+FEFF, which it does not)."""


def _bytes(piece: bytes | str) -> bytes:
    return piece.encode() if isinstance(piece, str) else piece


def _trimming_changes(data: bytes, sep: bytes) -> bool | None:
    """Whether trimming changes a value polars reads from the file (None: polars refuses it)."""
    try:
        frame = pl.read_csv(data, separator=sep.decode(), infer_schema=False, quote_char='"')
    except (pl.exceptions.PolarsError, UnicodeDecodeError):
        return None
    trimmed = frame.with_columns(
        pl.col(c).str.strip_chars().replace("", None).alias(c) for c in frame.columns
    )
    return not frame.equals(trimmed)


def test_the_scans_blanks_are_what_polars_trims() -> None:
    """The white space the scan looks for, with the line breaks, is what polars' strip_chars takes
    off: every character tried."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    gone = pl.Series(chars).str.strip_chars().str.len_chars().eq(0).to_list()
    trimmed = {c for c, g in zip(chars, gone, strict=True) if g}
    assert trimmed == set(scan_module.ASCII_BLANKS + scan_module.OTHER_BLANKS + "\r\n")


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 22])
def test_scan_misses_no_value_to_trim(
    block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the scan finds no padding, trimming would change no value: so skipping it leaves
    every value trimmed alike, whatever the file's others are. Its counts are the bytes' own."""
    monkeypatch.setattr(scan_module, "_BLOCK", block)
    monkeypatch.setattr(scan_module, "_BATCH", 2)
    rng = random.Random(block)
    path = tmp_path / "f.csv"
    read = 0
    for size in [0, 1, 2, 3, 6, 12, 40]:
        for _ in range(60):
            data = b"".join(_bytes(rng.choice(PIECES)) for _ in range(size))
            path.write_bytes(data)
            for sep in (b",", b";", b"\t"):
                scan = reading._scan(path, sep)
                counts = (hashlib.sha256(data).hexdigest(), len(data), data.count(b"\n"))
                assert (scan.sha256, scan.size, scan.newlines) == counts
                changes = _trimming_changes(data, sep)
                read += changes is not None
                assert scan.padded or not changes, (data, sep)
    assert read > 500  # polars read enough of them for the test to mean something


@pytest.mark.parametrize(
    ("data", "padded"),
    [
        (b"a,b\n1,2\n", False),
        (b"a,b\n 1,2\n", True),  # a value starting a line
        (b"a,b\n1 ,2\n", True),
        (b'a,b\n"1 ",2\n', True),
        (b'a,b\n1,""\n', True),  # an empty quoted value
        (b"a,b\n1,2 ", True),  # the file ends with a blank
        (b"a,b\n1 2,3\n", False),  # a blank inside a value
        (b"a\tb\n1\t 2\n", True),
        ("a,b\n1,\u00a0N\n".encode(), True),  # white space other than ASCII
        ("a,b\n1,N\u3000\n".encode(), True),
        ("a,b\n1,N\u0085\n".encode(), True),
        (b"a,b\n1,N\x0b\n", True),
        ("a,b\n1,N\u00a0M\n".encode(), False),  # inside a value
        ("a,b\n1,\ufeffN\n".encode(), False),  # not white space
        (b'a,b\n1,"\nN"\n', True),  # a quoted value starting with a line break
        (b'a,b\r\n1,"N\r\n"\r\n', True),  # ... ending with one
        (b'a,b\r\n1,"N"\r\n"M",2\r\n', False),
        (b"a,b\n1\r,2\n", True),  # a carriage return not before a line feed
        (b"a,b\n1,\xe9\n", True),  # Windows-1252 text: the reader trims every value of it
    ],
)
def test_scan_finds_padding(data: bytes, padded: bool, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    sep = b"\t" if b"\t" in data else b","
    assert reading._scan(path, sep).padded is padded


@pytest.mark.parametrize(
    ("data", "quoted_text"),
    [
        (b'a,b\n"1","2"\n"3","4"\n', False),
        (b'a,b\n1,ab"c"d\n', False),  # quotes inside a value that does not start with one
        (b'a,b\n1,"a"b"c"\n', True),
        (b'a,b\n"a"b"c",1\n', True),
        (b'a,b\n1,""x""\n', True),
        (b'a,b\n1,"a,""b"""\n', True),  # well quoted, but picked out: the reader looks closer
        (b'a,b\n1,"\xe9"\n', True),  # Windows-1252 text: any quote may be one
    ],
)
@pytest.mark.parametrize("block", [2, 5, 1 << 22])
def test_scan_finds_text_after_a_closing_quote(
    data: bytes, quoted_text: bool, block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks are cut anywhere; the scan's windows are whole lines whatever the cut."""
    monkeypatch.setattr(scan_module, "_BLOCK", block)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert reading._scan(path, b",").quoted_text is quoted_text

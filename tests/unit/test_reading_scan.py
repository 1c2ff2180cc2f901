"""The pass over a CSV's raw bytes beside polars' read: checksum, size, line breaks, and whether a
value may be padded (so that trimming every column can be skipped).

The padding test runs in polars over blocks of whole lines; these tests hold it to the plain byte
test it stands for, on every kind of file: blocks cut anywhere, text that is not UTF-8, a
delimiter that is not ASCII.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from mhdeaths.validate import reading
from mhdeaths.validate.reading import scan as scan_module


def expected(data: bytes, sep: bytes) -> tuple[str, int, int, bool]:
    """The byte test: a delimiter, quote or line break next to a blank, or two quotes."""
    marks = (b"\n" + data).translate(reading._padding_table(sep))
    padded = b"\x01\x02" in marks or b"\x02\x01" in marks or b'""' in data or data.endswith(b" ")
    return hashlib.sha256(data).hexdigest(), len(data), data.count(b"\n"), padded


def scanned(path: Path, sep: bytes) -> tuple[str, int, int, bool]:
    scan = reading._scan(path, sep)
    return scan.sha256, scan.size, scan.newlines, scan.padded


PIECES = [b"a", b"1", b",", b";", b"\t", b" ", b'"', b"\n", b"\r", b"\xc3\xa9", b"\xe9", b"\xa0"]


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 22])
def test_scan_matches_the_byte_test(
    block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "_BLOCK", block)
    monkeypatch.setattr(scan_module, "_BATCH", 2)
    rng = random.Random(block)
    path = tmp_path / "f.csv"
    for size in [0, 1, 2, 3, 6, 12, 40]:
        for _ in range(60):
            data = b"".join(rng.choice(PIECES) for _ in range(size))
            path.write_bytes(data)
            for sep in (b",", b";", b"\t", "§".encode()[:1]):
                assert scanned(path, sep) == expected(data, sep), (data, sep)


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
        (b"a,b\n1,\xe9 \n", True),  # Windows-1252 text
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

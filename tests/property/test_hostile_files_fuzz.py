"""Damaged and oversized files, made by hypothesis from real CSV, Excel and Parquet submissions,
end within bounded time and memory: the real command, its address space capped at 1.5 GiB and cut
at 30 seconds, ends with a verdict or with one sentence and exit 2 (an oversized file always
with exit 2, naming its limit), never a traceback, a crash or a hang."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..integration.test_hostile_files import (
    ACTIVITY,
    DEATH,
    assert_refused,
    capped,
    repeated,
    sheet_xml,
    with_part,
    workbook,
)
from ..unit.test_reading import xls_bytes

KINDS = ["csv", "xlsx", "xls", "parquet"]


def base_file(kind: str, folder: Path) -> Path:
    path = folder / f"base_death.{kind}"
    if kind == "csv":
        path.write_bytes(DEATH.read_bytes())
    elif kind == "xlsx":
        workbook(path, rows=5)
    elif kind == "xls":
        frame = pl.read_csv(DEATH, infer_schema=False)
        path.write_bytes(xls_bytes({"death": [frame.columns, *map(list, frame.rows())]}))
    else:
        pl.read_csv(DEATH, infer_schema=False).write_parquet(path)
    return path


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """The bytes cut short, overwritten in places, or with bytes put in."""
    how = draw(st.sampled_from(["cut", "overwrite", "insert"]))
    if how == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(out)))
        noise = draw(st.binary(min_size=1, max_size=64))
        if how == "overwrite":
            out[at : at + len(noise)] = noise
        else:
            out[at:at] = noise
    return bytes(out)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(kind=st.sampled_from(KINDS), data=st.data())
@pytest.mark.slow
def test_a_damaged_file_ends_in_a_verdict_or_one_sentence(kind: str, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = base_file(kind, folder).read_bytes()
        path = folder / f"damaged_death.{kind}"
        path.write_bytes(data.draw(damaged(source)))
        ended = capped("validate", path, ACTIVITY)
        assert ended.code in (0, 1, 2), ended
        assert "Traceback" not in ended.stderr + ended.stdout, ended
        if ended.code == 2:
            assert_refused(ended)


def oversized(kind: str, how: int, size: int, folder: Path) -> tuple[Path, str]:
    """A file past one limit (the ``how``-th way for its kind, ``size`` scaling it), and the
    limit's name as the sentence gives it."""
    path = folder / f"big_death.{kind}"
    if kind == "csv":
        header = DEATH.read_bytes().split(b"\n", 1)[0]
        if how == 0:  # too wide
            path.write_bytes(b",".join(b"c%d" % i for i in range(1_001 + size)) + b"\n1\n")
            return path, "--limit columns=N"
        # a line too long, somewhere after the header
        body = b"1," * ((1 << 19) + size) + b"1\n"
        path.write_bytes(header + b"\n" + b"2\n" * size + body)
        return path, "--limit line-length=SIZE"
    if kind == "xlsx":
        base = workbook(folder / "base.xlsx")
        if how == 0:  # a stray cell far away, and no dimension
            far = b'<row r="%d"><c r="ZZ%d"><v>1</v></c></row>' % ((30_000 + size,) * 2)
            with_part(base, path, "xl/worksheets/sheet1.xml", sheet_xml(iter([far])))
            return path, "--limit sheet-cells=N"
        # a zip bomb, past the ratio or the unzipped size
        total = (2 << 20) + size * (1 << 20)
        part = "xl/sharedStrings.xml" if how == 1 else "xl/media/image1.png"
        with_part(base, path, part, repeated(b"\x00", total))
        return path, "--limit zip-ratio=N"
    if kind == "xls":  # a stray cell far below (each .xls cell counting three)
        far: list[list[object]] = [["death_record_id"], *[[]] * (30_000 + size), [*[None] * 255, 1]]
        path.write_bytes(xls_bytes({"death": far}))
        return path, "--limit sheet-cells=N"
    columns = 1_001 + size if how == 0 else 2
    pl.DataFrame({f"c{i}": [1] for i in range(columns)}).write_parquet(path)
    return path, "--limit columns=N"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), how=st.integers(0, 2), size=st.integers(0, 200))
@pytest.mark.slow
def test_an_oversized_file_is_refused_naming_its_limit(kind: str, how: int, size: int) -> None:
    if kind in ("parquet", "xls"):
        how = 0
    with tempfile.TemporaryDirectory() as tmp:
        path, limit = oversized(kind, how, size, Path(tmp))
        ended = capped("validate", path, ACTIVITY)
        assert_refused(ended, limit)
        assert ended.cpu_seconds < 20


def test_the_fuzzed_workbooks_are_real_workbooks(tmp_path: Path) -> None:
    """The base workbook is read (so that damage, not the base, is what the fuzz tests find)."""
    path = base_file("xlsx", tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert "xl/sharedStrings.xml" in archive.namelist()
    assert capped("validate", path, ACTIVITY).code in (0, 1)

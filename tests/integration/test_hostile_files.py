"""Hostile and damaged files end in one sentence and exit 2, within bounded time and memory.

Each file is built for real (a zip bomb inside an Excel workbook, a sheet with no <dimension>, a
CSV a million columns wide, a Parquet file 20,000 columns wide, a link to an endless device, a
named pipe, cut and random files) and given to the real ``mhdeaths`` command in a subprocess whose
address space is capped at 1.5 GiB and whose run is cut at 30 seconds: before the limits, the
worst took over 6 GiB or never ended.
"""

from __future__ import annotations

import importlib.util
import os
import random
import resource
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from mhdeaths.limits import Limits

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions/examples"
DEATH = EXAMPLES / "RZ1/RZ1_2027-06_death.csv"
ACTIVITY = EXAMPLES / "RZ1/RZ1_2027-06_activity.csv"

MEMORY = 3 << 29  # 1.5 GiB of address space
SECONDS = 30


@dataclass(frozen=True)
class Ended:
    code: int
    stdout: str
    stderr: str
    cpu_seconds: float
    """CPU seconds the command used (user and system): unlike its wall time, barely moved by
    other work on a loaded machine, so a bound on it fails for the command's own doing. Its wall
    time is bounded by the run's cut at :data:`SECONDS`."""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def capped(*args: str | Path, cap: bool = True) -> Ended:
    """The real command, run with its memory capped (unless not ``cap``) and its time bounded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "mhdeaths", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        preexec_fn=_cap_memory if cap else None,
        timeout=SECONDS,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Ended(proc.returncode, proc.stdout, proc.stderr, cpu)


def assert_refused(ended: Ended, *phrases: str) -> str:
    """Exit 2 with one sentence (no traceback) saying each phrase; the sentence is returned."""
    assert ended.code == 2, ended
    assert "Traceback" not in ended.stderr, ended.stderr
    message = ended.stderr.strip()
    assert message.startswith("error: "), message
    assert "\n" not in message, message
    assert message.endswith("."), message
    for phrase in phrases:
        assert phrase in message, message
    return message


def validate(*paths: Path, limits: tuple[str, ...] = ()) -> Ended:
    return capped("validate", *[a for name in limits for a in ("--limit", name)], *paths)


# --- Building hostile workbooks -------------------------------------------------------------


def workbook(path: Path, rows: int = 3) -> Path:
    """A real, small workbook with a death sheet of text (so it has shared strings)."""
    frame = pl.read_csv(DEATH, infer_schema=False)
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("death")
    sheet.write_row(0, 0, frame.columns)
    for r, row in enumerate(frame.head(rows).iter_rows(), start=1):
        sheet.write_row(r, 0, ["" if v is None else v for v in row])
    book.close()
    return path


def repeated(unit: bytes, total: int, head: bytes = b"", tail: bytes = b"") -> Iterator[bytes]:
    """``total`` bytes of ``unit`` over and over, a block at a time, between a head and a tail."""
    yield head
    block = unit * max(1, (1 << 20) // len(unit))
    left = total
    while left > 0:
        piece = block[:left]
        yield piece
        left -= len(piece)
    yield tail


def with_part(source: Path, target: Path, name: str, content: Iterator[bytes]) -> Path:
    """A copy of a workbook with one part replaced (or added), streamed into the zip."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename != name:
                new.writestr(info.filename, old.read(info))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with new.open(info, "w", force_zip64=True) as part:
            for piece in content:
                part.write(piece)
    return target


def sheet_xml(rows: Iterator[bytes], dimension: bytes = b"") -> Iterator[bytes]:
    yield (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://'
        b'schemas.openxmlformats.org/spreadsheetml/2006/main">' + dimension + b"<sheetData>"
    )
    yield from rows
    yield b"</sheetData></worksheet>"


def lie_about_size(path: Path, name: str, declared: int) -> None:
    """Make a part's zip entry declare fewer unzipped bytes than it holds (both headers)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:
        length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + length] == name.encode():
            struct.pack_into("<I", data, entry + 24, declared)
            break
        entry = data.find(b"PK\x01\x02", entry + 4)
    assert entry >= 0
    path.write_bytes(bytes(data))


# --- Excel ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_zip_bomb_in_the_shared_strings_is_refused_before_it_is_unzipped(
    tmp_path: Path,
) -> None:
    """About 1 MB on disk, over 1 GiB unzipped: it took over 6 GiB and was killed."""
    bomb = with_shared_strings(tmp_path, "bomb_death.xlsx", (1 << 30) + (64 << 20))
    assert bomb.stat().st_size < 4 << 20
    ended = validate(bomb)
    assert_refused(ended, "bomb_death.xlsx unzips to more than the limit of 1 GiB", "--limit")
    assert ended.cpu_seconds < 10


def test_a_part_that_unzips_far_larger_than_it_is_stored_is_refused(tmp_path: Path) -> None:
    bomb = with_shared_strings(tmp_path, "ratio_death.xlsx", 200 << 20)
    assert_refused(validate(bomb), "more than 200 times larger", "--limit zip-ratio=N")


def test_a_part_that_unzips_larger_than_it_declares_is_refused_as_damaged(tmp_path: Path) -> None:
    """The limits are checked on the declared sizes, so a part may not hold more than it says."""
    liar = with_shared_strings(tmp_path, "liar_death.xlsx", 64 << 20)
    lie_about_size(liar, "xl/sharedStrings.xml", 1000)
    assert_refused(validate(liar), "liar_death.xlsx is not a readable Excel workbook")


def test_a_sheet_with_no_dimension_is_counted_from_its_cells(tmp_path: Path) -> None:
    """No <dimension>, a value at A1 and one at Z1,000,000: 26 million cells held, refused."""
    rows = iter([b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'])
    far = b'<row r="1000000"><c r="Z1000000"><v>1</v></c></row>'
    path = with_part(
        workbook(tmp_path / "plain.xlsx"),
        tmp_path / "far_death.xlsx",
        "xl/worksheets/sheet1.xml",
        sheet_xml(iter([*rows, far])),
    )
    assert_refused(
        validate(path),
        "far_death.xlsx has a sheet used down to row 1,000,000 and across to column Z "
        "(26,000,000 cells), too many to read",
        "--limit sheet-cells=N",
    )


def test_a_sheet_whose_dimension_understates_it_is_counted_from_its_cells(
    tmp_path: Path,
) -> None:
    rows = iter([b'<row r="1"><c r="A1"><v>1</v></c></row>', b'<row r="900000"><c r="ZZ900000"/>'])
    path = with_part(
        workbook(tmp_path / "plain.xlsx"),
        tmp_path / "small_death.xlsx",
        "xl/worksheets/sheet1.xml",
        sheet_xml(iter([*rows, b"</row>"]), b'<dimension ref="A1"/>'),
    )
    assert_refused(
        validate(path),
        "used down to row 900,000 and across to column ZZ (631,800,000 cells), too many to read",
    )


def with_shared_strings(tmp_path: Path, name: str, size: int) -> Path:
    """A real workbook named ``name`` whose one shared string is ``size`` bytes of A (it zips to
    almost nothing)."""
    plain = workbook(tmp_path / "plain.xlsx")
    strings = repeated(b"A", size, b'<sst count="1"><si><t>', b"</t></si></sst>")
    return with_part(plain, tmp_path / name, "xl/sharedStrings.xml", strings)


def with_sheet(tmp_path: Path, name: str, rows: Iterator[bytes]) -> Path:
    """A real workbook named ``name`` whose death sheet is made of ``rows`` (raw <row> XML)."""
    plain = workbook(tmp_path / "plain.xlsx")
    return with_part(plain, tmp_path / name, "xl/worksheets/sheet1.xml", sheet_xml(rows))


@pytest.mark.slow
def test_a_sheet_of_many_cells_with_no_references_is_counted_by_position(tmp_path: Path) -> None:
    """No <dimension> and no cell references: 21,000 rows of 1,000 cells are 21 million cells."""
    row = b"<row>" + b"<c><v>1</v></c>" * 1000 + b"</row>"
    path = with_sheet(tmp_path, "many_death.xlsx", repeated(row, len(row) * 21_000))
    # Rows this alike unzip like a bomb: the ratio limit is raised to reach the cell count, which
    # refuses the sheet as soon as it passes the limit, before its end.
    ended = validate(path, limits=("zip-ratio=5000",))
    message = assert_refused(ended, "and across to column ALL (", "cells), too many to read")
    assert "(the limit is 20,000,000 cells" in message
    assert ended.cpu_seconds < 15


def test_a_sheet_wider_than_the_column_limit_is_refused(tmp_path: Path) -> None:
    row = b"<row>" + b"<c><v>1</v></c>" * 1500 + b"</row>"
    path = with_sheet(tmp_path, "wide_death.xlsx", iter([row, row]))
    assert_refused(validate(path), "(1,500 columns), more than the limit of 1,000")


def test_too_many_shared_strings_are_refused(tmp_path: Path) -> None:
    path = with_part(
        workbook(tmp_path / "plain.xlsx"),
        tmp_path / "strings_death.xlsx",
        "xl/sharedStrings.xml",
        repeated(b"<si><t/></si>", 13 * 30_000, b"<sst>", b"</sst>"),
    )
    assert_refused(
        validate(path, limits=("sheet-cells=20000",)),
        "has 30,000 shared strings, too many to read (the limit is 20,000 cells",
    )


def test_an_xls_sheet_with_a_stray_cell_is_refused_from_its_records(tmp_path: Path) -> None:
    """A 3 KB .xls with one value at IV65535 took the reader over 4 GB (about three times what
    an .xlsx cell takes): its used range is found from the workbook's records first."""
    from ..unit.test_reading import xls_bytes

    rows: list[list[object]] = [["death_record_id", "x"], *[[]] * 65_533, [*[None] * 255, "x"]]
    path = tmp_path / "stray_death.xls"
    path.write_bytes(xls_bytes({"death": rows}))
    assert path.stat().st_size < 10_000
    assert_refused(
        validate(path),
        "stray_death.xls has a sheet used down to row 65,535 and across to column IV "
        "(16,776,960 cells), too many to read (the limit is 20,000,000 cells in a workbook's "
        "sheets, an .xls cell counting three)",
    )
    # Within the limit, the same kind of workbook is read.
    small = tmp_path / "small_death.xls"
    small.write_bytes(xls_bytes({"death": [["death_record_id", "x"], ["A1", "1"]]}))
    assert validate(small).code in (0, 1)


# --- CSV ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_csv_a_million_columns_wide_is_refused_by_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "wide_death.csv"
    path.write_bytes(b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n" + b"1," * 999_999)
    assert_refused(validate(path), "has a line longer than the limit of 1 MiB")
    # With the line length raised, the column count refuses it, still before it is read.
    assert_refused(
        validate(path, limits=("line-length=64M",)),
        "has 1,000,000 columns, more than the limit of 1,000",
        "--limit columns=N",
    )


def test_a_csv_wider_than_the_column_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide_death.csv"
    path.write_text(",".join(f"c{i}" for i in range(2_000)) + "\n" + "1," * 1_999 + "1\n")
    assert_refused(validate(path), "has 2,000 columns, more than the limit of 1,000")


def _with_a_long_line(path: Path, length: int) -> Path:
    """The example death file with one quoted value of ``length`` bytes after its first record."""
    lines = DEATH.read_bytes().splitlines(keepends=True)
    with path.open("wb") as fh:
        fh.writelines(lines[:2])
        fh.write(b'"' + b"A" * length + b'"\n')
        fh.writelines(lines[2:])
    return path


def test_a_very_long_line_is_refused(tmp_path: Path) -> None:
    """One value of 48 MiB after a normal header and record."""
    path = _with_a_long_line(tmp_path / "long_death.csv", 48 << 20)
    assert_refused(validate(path), "long_death.csv has a line longer than the limit of 1 MiB")


def test_the_line_length_limit_can_be_raised(tmp_path: Path) -> None:
    path = _with_a_long_line(tmp_path / "long_death.csv", 2 << 20)
    assert_refused(validate(path), "long_death.csv has a line longer than the limit of 1 MiB")
    # Raised, the same file is read (and then rejected for what it holds).
    assert validate(path, limits=("line-length=4M",)).code in (0, 1)


def test_a_csv_of_empty_lines_is_read_no_further_than_the_cell_limit(tmp_path: Path) -> None:
    """Every line, even an empty one, is a record of as many (empty) cells as the header has
    columns: 20 MB of line breaks under a 44-column header would be 900 million cells. The
    reader stops one record past the limit (lowered here, as the default allows about 2 GB)."""
    path = tmp_path / "empty_death.csv"
    header = DEATH.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(header + b"\n" + b"\n" * (20 << 20))
    ended = validate(path, limits=("cells=1M",))
    assert_refused(
        ended,
        "empty_death.csv has more than 23,831 records of 44 columns, more than the limit of "
        "1,048,576 cells",
        "--limit cells=N",
    )
    assert ended.cpu_seconds < 10


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    assert_refused(
        validate(DEATH, ACTIVITY, limits=("file-size=1K",)),
        "is larger than the limit of 1 KiB for one file",
        "--limit file-size=SIZE",
    )
    assert validate(DEATH, ACTIVITY, limits=("file-size=64K",)).code == 0


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_link_to_an_endless_device_is_refused(tmp_path: Path, device: str) -> None:
    """It never ended: the checksum thread kept reading after the file was refused."""
    link = tmp_path / "endless_death.csv"
    link.symlink_to(device)
    ended = validate(link, ACTIVITY)
    assert_refused(ended, "endless_death.csv is not a regular file")
    assert ended.cpu_seconds < 10


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe_death.csv"
    os.mkfifo(fifo)
    assert_refused(validate(fifo), "pipe_death.csv is not a regular file")


def test_a_folder_named_as_a_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder_death.csv"
    folder.mkdir()
    assert_refused(validate(folder), "folder_death.csv is a folder, not a file")


# --- Parquet --------------------------------------------------------------------------------


def test_a_parquet_file_20000_columns_wide_is_refused_from_its_footer(tmp_path: Path) -> None:
    """It took 33 seconds to read."""
    path = tmp_path / "wide_death.parquet"
    pl.DataFrame({f"c{i}": [1] for i in range(20_000)}).write_parquet(path)
    ended = validate(path)
    assert_refused(ended, "has 20,000 columns, more than the limit of 1,000")
    assert ended.cpu_seconds < 10


def test_a_parquet_file_with_too_many_cells_is_refused_from_its_footer(tmp_path: Path) -> None:
    path = tmp_path / "long_death.parquet"
    pl.DataFrame({"a": range(5_000), "b": range(5_000)}).write_parquet(path)
    assert_refused(
        validate(path, limits=("cells=9999",)),
        "has 5,000 rows of 2 columns, more than the limit of 9,999 cells",
    )


def test_a_parquet_file_of_repeated_text_is_measured_before_it_is_read(tmp_path: Path) -> None:
    """3 KB on disk, 1.6 GB of text once decompressed (one value in a dictionary stands for
    every row): it ended the process, out of memory."""
    path = tmp_path / "repeated_death.parquet"
    pl.DataFrame({"spec_version": ["x" * 4096] * 400_000}).write_parquet(path)
    assert path.stat().st_size < 10_000
    ended = validate(path)
    assert_refused(ended, "holds more than the limit of 1 GiB of values once decompressed")
    assert ended.cpu_seconds < 10


def test_a_parquet_list_column_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A list in each cell has no bound that rows and columns can give."""
    path = tmp_path / "lists_death.parquet"
    pl.DataFrame({"codes": [[1] * 1000] * 1000}).write_parquet(path)
    assert_refused(validate(path), "holds List(Int64) values, which cannot be read as text")


# --- Damaged files --------------------------------------------------------------------------


def _parquet_example(path: Path) -> Path:
    pl.read_csv(DEATH, infer_schema=False).write_parquet(path)
    return path


@pytest.mark.parametrize("kind", ["xlsx", "parquet"])
def test_cut_files_are_refused(tmp_path: Path, kind: str) -> None:
    whole = (
        workbook(tmp_path / "whole.xlsx")
        if kind == "xlsx"
        else _parquet_example(tmp_path / "whole.parquet")
    )
    data = whole.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 10):
        path = tmp_path / f"cut_death.{kind}"
        path.write_bytes(data[:cut])
        assert_refused(validate(path), "cut_death")


@pytest.mark.parametrize(("kind", "magic"), [("xlsx", b"PK\x03\x04"), ("parquet", b"PAR1")])
def test_random_bytes_named_as_a_workbook_or_parquet_are_refused(
    tmp_path: Path, kind: str, magic: bytes
) -> None:
    rng = random.Random(20)
    for n, head in enumerate((b"", magic)):
        path = tmp_path / f"random{n}_death.{kind}"
        path.write_bytes(head + rng.randbytes(200_000) + (magic if kind == "parquet" else b""))
        assert_refused(validate(path), f"random{n}_death.{kind}")


# --- Every command --------------------------------------------------------------------------


def test_warehouse_load_refuses_a_hostile_file_with_exit_2(tmp_path: Path) -> None:
    link = tmp_path / "RZ1_2027-06_death.csv"
    link.symlink_to("/dev/zero")
    ended = capped("warehouse", "load", "-w", tmp_path / "w.duckdb", "--demo-key", link, ACTIVITY)
    assert_refused(ended, "is not a regular file")


@pytest.mark.slow
def test_warehouse_load_and_run_take_the_limits(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for source in (DEATH, ACTIVITY):
        (inbox / source.name).write_bytes(source.read_bytes())
    ended = capped(
        "warehouse", "load", "-w", tmp_path / "w.duckdb", "--demo-key", "--limit",
        "file-size=1K", inbox,
    )  # fmt: skip
    assert_refused(ended, "is larger than the limit of 1 KiB for one file")
    # run lists an unreadable submission and goes on (exit 1), naming the limit.
    ran = capped("run", inbox, "-w", tmp_path / "w.duckdb", "--demo-key", "--limit", "file-size=1K")
    assert ran.code == 1, ran
    assert "larger than the limit of 1 KiB" in ran.stdout
    # DuckDB sizes its memory by the machine's, not by the cap, so this load runs uncapped.
    loaded = capped(
        "warehouse", "load", "-w", tmp_path / "w.duckdb", "--demo-key", inbox, cap=False
    )
    assert loaded.code == 0, loaded


@pytest.mark.parametrize(
    ("setting", "phrase"),
    [
        ("size=1G", "--limit 'size' is not a limit"),
        ("file-size=lots", "is not a positive whole number"),
        ("columns=0", "is not a positive whole number"),
    ],
)
def test_a_wrong_limit_is_one_sentence(setting: str, phrase: str) -> None:
    assert_refused(validate(DEATH, ACTIVITY, limits=(setting,)), phrase)


@pytest.mark.slow
def test_the_defaults_pass_the_benchmark_file_with_room(tmp_path: Path) -> None:
    """The million-record benchmark file, measured on a fiftieth of it (same records, same
    columns), is well inside every default limit, and that fiftieth is read."""
    spec = importlib.util.spec_from_file_location(
        "bench_validate", Path(__file__).resolve().parents[2] / "benchmarks/bench_validate.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "big_death.csv"
    bench.big_file(path, 20_000)
    limits = Limits()
    data = path.read_bytes()
    lines = data.splitlines()
    assert len(data) * 50 * 3 < limits.file_size  # about 300 MB for a million records
    assert max(map(len, lines)) * 100 < limits.line_length
    assert len(lines[0].split(b",")) * 10 < limits.columns
    assert validate(path).code in (0, 1)


def test_the_limits_table_in_the_docs_is_the_code_s() -> None:
    """docs/validator.md lists every limit with the default the code has."""
    from mhdeaths.limits import NAMES, bytes_text

    text = (Path(__file__).resolve().parents[2] / "docs/validator.md").read_text()
    table = text[text.index("## Limits") : text.index("## What it reports")]
    rows = {
        cells[0].strip("` "): cells[1].strip()
        for line in table.splitlines()
        if line.startswith("| `")
        for cells in [line.strip("|").split("|")]
    }
    defaults = Limits()
    sizes = {"file_size", "decompressed_size", "line_length"}
    assert rows == {
        name.replace("_", "-"): bytes_text(getattr(defaults, name))
        if name in sizes
        else f"{getattr(defaults, name):,}"
        for name in NAMES
    }


def test_a_header_running_past_its_line_is_refused(tmp_path: Path) -> None:
    """A quoted line break in the first column name hid 300,000 columns from the column count
    (the header was counted on its first line): 1.4 GB and 10 s before it was refused."""
    path = tmp_path / "runon_death.csv"
    wide = '"a\nb"' + "," * 300_000 + "\n"
    path.write_text(wide + "1" + "," * 300_000 + "\n", encoding="utf-8")
    assert_refused(validate(path), "runon_death.csv", "line break", "header line")

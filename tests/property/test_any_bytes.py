"""Any bytes at all, named as any supported file, either validate or raise a ``UserError`` (one
sentence, a documented exit code): never any other exception, never a traceback."""

from __future__ import annotations

import random
import tempfile
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mhdeaths.errors import UserError
from mhdeaths.spec import available_versions, load_spec
from mhdeaths.validate.validator import ValidationResult, validate

from ..unit.test_reading import xls_bytes

EXAMPLE = Path(__file__).resolve().parents[2] / "submissions/examples/RZ1/RZ1_2027-06_death.csv"

PREFIXES = [
    b"",
    b"PK\x03\x04",  # a zip archive, as xlsx is
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # a compound file, as xls is
    b"PAR1",  # parquet
    b"\xef\xbb\xbf",  # a UTF-8 byte-order mark
    b"\xff\xfe",  # a UTF-16 byte-order mark
    b"spec_version,org_id_provider,reporting_period\n",
    b"spec_version;death_record_id\r\n1.1.0;",
]
NAMES = [
    "RZ1_2027-10_death.csv",
    "RZ1_2027-10_activity.csv",
    "submission.csv",
    "death.xlsx",
    "death.xls",
    "death.parquet",
    "death.txt",
]


FIELDS = {f.name for v in available_versions() for t in load_spec(v).tables for f in t.fields}


def outcome(path: Path) -> ValidationResult | UserError:
    """What validate does with the file: a result, or the user error it raises."""
    try:
        return validate([path])
    except UserError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip(), message
        assert "Traceback" not in message
        return exc


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=2048),
    name=st.sampled_from(NAMES),
)
def test_any_bytes_validate_or_raise_a_user_error(prefix: bytes, body: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(prefix + body)
        outcome(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(max_size=400),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-le", "cp1252", "utf-8-sig"]),
    sep=st.sampled_from([",", ";", "\t"]),
)
def test_any_text_under_a_real_header(text: str, encoding: str, sep: str) -> None:
    header = EXAMPLE.read_text().splitlines()[0].replace(",", sep)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "RZ1_2027-06_death.csv"
        path.write_bytes(f"{header}\n{text}".encode(encoding, "replace"))
        outcome(path)


def _workbook(path: Path) -> bytes:
    frame = pl.read_csv(EXAMPLE, infer_schema=False)
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("death")
    sheet.write_row(0, 0, frame.columns)
    for r, record in enumerate(frame.iter_rows(), start=1):
        sheet.write_row(r, 0, ["" if v is None else v for v in record])
    book.close()
    return path.read_bytes()


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("book") / "RZ1_2027-06_death.xlsx"
    data = _workbook(path)
    assert validate([path]).report.findings == [], "the whole workbook must validate"
    return data


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_truncated_workbook(tmp_path: Path, workbook: bytes, cut: float) -> None:
    path = tmp_path / "RZ1_2027-06_death.xlsx"
    path.write_bytes(workbook[: int(len(workbook) * cut)])
    result = outcome(path)
    assert isinstance(result, UserError)
    assert "RZ1_2027-06_death.xlsx is not a readable Excel workbook" in str(result)


@pytest.mark.parametrize("cut", [0.1, 0.3, 0.5, 0.9])
def test_truncated_xls(tmp_path: Path, cut: float) -> None:
    frame = pl.read_csv(EXAMPLE, infer_schema=False)
    rows: list[list[object]] = [list(frame.columns), *(list(r) for r in frame.iter_rows())]
    whole = xls_bytes({"death": rows})
    path = tmp_path / "RZ1_2027-06_death.xls"
    path.write_bytes(whole)
    assert isinstance(outcome(path), ValidationResult)
    path.write_bytes(whole[: int(len(whole) * cut)])
    result = outcome(path)
    assert isinstance(result, UserError)
    assert "RZ1_2027-06_death.xls is not a readable Excel workbook" in str(result)


def test_a_workbook_with_a_damaged_member(tmp_path: Path, workbook: bytes) -> None:
    """A zip whose central directory is whole but whose sheet is garbage."""
    source = tmp_path / "good.xlsx"
    source.write_bytes(workbook)
    path = tmp_path / "RZ1_2027-06_death.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2] + b"\x00<row r='x'>"
            new.writestr(item, data)
    assert isinstance(outcome(path), UserError | ValidationResult)


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "death.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    result = outcome(path)
    assert isinstance(result, UserError)
    assert str(result) == "death.xlsx is a zip archive, not an Excel workbook."


def test_a_ten_megabyte_single_line(tmp_path: Path) -> None:
    path = tmp_path / "RZ1_2027-06_death.csv"
    path.write_bytes(b"spec_version," + b"x" * 10_000_000)
    result = outcome(path)
    assert isinstance(result, UserError | ValidationResult)


def test_a_ten_megabyte_quoted_value_over_many_lines(tmp_path: Path) -> None:
    header = EXAMPLE.read_text().splitlines()[0]
    body = ('"' + "a\n" * 5_000_000 + '"').encode()
    path = tmp_path / "RZ1_2027-06_death.csv"
    path.write_bytes(header.encode() + b"\n" + body + b"\n")
    assert isinstance(outcome(path), UserError | ValidationResult)


def test_a_binary_file_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "RZ1_2027-06_death.csv"
    path.write_bytes(random.Random(7).randbytes(50_000))
    result = outcome(path)
    assert isinstance(result, UserError)
    assert "holds binary data" in str(result) or "cannot be read" in str(result)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text(tmp_path: Path, encoding: str) -> None:
    rng = random.Random(encoding)
    text = EXAMPLE.read_text() + "".join(chr(rng.randrange(32, 0xD7FF)) for _ in range(500))
    path = tmp_path / "RZ1_2027-06_death.csv"
    path.write_bytes(text.encode(encoding))
    result = outcome(path)
    assert isinstance(result, UserError)
    assert "holds binary data" in str(result)


@pytest.mark.parametrize("name", ["submission.csv", "death.xlsx", "death.xls", "death.parquet"])
def test_an_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    result = outcome(path)
    assert isinstance(result, UserError)
    assert name in str(result)


def test_mac_line_endings_and_a_lone_carriage_return(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text().splitlines()
    path = tmp_path / "RZ1_2027-06_death.csv"
    path.write_text("\r".join(lines) + "\r", newline="")
    result = outcome(path)
    assert isinstance(result, ValidationResult)
    assert result.report.findings == []
    # A carriage return inside a line of an otherwise Unix file.
    path.write_text(lines[0] + "\n" + lines[1].replace(",", ",\r", 1) + "\n", newline="")
    assert isinstance(outcome(path), UserError | ValidationResult)

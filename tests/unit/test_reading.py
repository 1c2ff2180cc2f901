"""The validator's inputs: every format a provider sends, read as text with the row numbers the
user sees, and the findings located in them by rule, row, column letter and header.

Every file is made here from synthetic data: a clean one-month submission written by
``mhdeaths.synth`` (spec 1.1.0), or the bundled examples, changed cell by cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from mhdeaths.errors import UserError
from mhdeaths.spec import Severity, load_spec
from mhdeaths.standard.publish.excel import write_template
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.validate.reading import HIDDEN_HEADER, SubmissionFileError, column_letter, read_file
from mhdeaths.validate.report import Finding, Report, Verdict
from mhdeaths.validate.validator import validate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "submissions" / "examples"
SPEC = load_spec("1.1.0")
DEATH_FIELDS = [f.name for f in SPEC.table("death").submitted_fields]
# Column letters of spec 1.1.0's death fields in a file written in the spec's order.
LETTER = {"death_record_id": "D", "local_patient_id": "G", "ethnic_category": "L"}
LETTER |= {"death_date": "N", "death_time": "O", "lfpse_event_id": "AO"}


# --- Helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One provider-month of spec 1.1.0, death and activity, which validates with no finding."""
    out = tmp_path_factory.mktemp("synth")
    result = generate(SPEC, SynthOptions(providers=1, months=1, start="2027-10", seed=3), out)
    files = {p.stem.split("_", 2)[2]: p for p in result.files}
    report = validate(list(files.values())).report
    assert report.findings == [], "the synthetic base submission must be clean"
    assert text_frame(files["death"]).height >= 4
    return files


def text_frame(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def death(clean: dict[str, Path]) -> pl.DataFrame:
    return text_frame(clean["death"])


def with_values(frame: pl.DataFrame, column: str, values: dict[int, str | None]) -> pl.DataFrame:
    """The frame with some cells of one column replaced (by 0-based record index)."""
    cells = frame.get_column(column).to_list()
    for index, value in values.items():
        cells[index] = value
    return frame.with_columns(pl.Series(column, cells, dtype=pl.String))


def write_csv(
    frame: pl.DataFrame,
    path: Path,
    *,
    sep: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
    headers: Sequence[str] | None = None,
) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=sep, lineterminator=newline)
    writer.writerow(headers or frame.columns)
    writer.writerows([["" if v is None else v for v in row] for row in frame.iter_rows()])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def check(paths: Sequence[Path], **options: object) -> Report:
    return validate(list(paths), **options).report  # type: ignore[arg-type]


def found(report: Report, rule_id: str) -> list[Finding]:
    return [f for f in report.findings if f.rule_id == rule_id]


def where(report: Report) -> set[tuple[str, int | None, str | None, str | None]]:
    return {(f.rule_id, f.row, f.column, f.header) for f in report.findings}


# --- CSV: encodings ----------------------------------------------------------------------------


def test_utf8_csv_is_read_as_text_with_csv_line_numbers(clean: dict[str, Path]) -> None:
    source = read_file(clean["death"])
    assert (source.format, source.encoding, source.delimiter) == ("csv", "utf-8", ",")
    (sheet,) = source.sheets
    frame = death(clean)
    assert sheet.headers == DEATH_FIELDS
    assert list(sheet.row_numbers) == list(range(2, frame.height + 2))
    # Every cell as text: leading zeros of codes stay.
    assert sheet.frame.get_column("patient_status_at_death").to_list() == (
        frame.get_column("patient_status_at_death").to_list()
    )
    assert all(dtype == pl.String for dtype in sheet.frame.dtypes)


def test_utf8_with_a_byte_order_mark(clean: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "bom_death.csv"
    path.write_bytes(b"\xef\xbb\xbf" + clean["death"].read_bytes())
    source = read_file(path)
    assert source.encoding == "utf-8"
    assert source.sheets[0].headers[0] == "spec_version"
    report = check([path])
    assert report.spec_version_declared == "1.1.0"
    assert report.findings == []


@pytest.mark.parametrize("stated", [None, "windows-1252", "cp1252", "latin-1"])
def test_windows_1252_detected_or_stated(
    clean: dict[str, Path], tmp_path: Path, stated: str | None
) -> None:
    frame = with_values(death(clean), "local_patient_id", {1: "P£é1234"})
    path = write_csv(frame, tmp_path / "ansi_death.csv", encoding="cp1252", newline="\r\n")
    assert "£".encode("cp1252") in path.read_bytes()
    source = read_file(path, encoding=stated)
    assert source.encoding == "cp1252"
    assert source.sheets[0].frame.get_column("local_patient_id")[1] == "P£é1234"
    assert list(source.sheets[0].row_numbers) == list(range(2, frame.height + 2))
    assert check([path], encoding=stated).findings == []


def test_utf8_text_is_not_mistaken_for_windows_1252(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = with_values(death(clean), "local_patient_id", {0: "P£é1234"})
    source = read_file(write_csv(frame, tmp_path / "u_death.csv"))
    assert source.encoding == "utf-8"
    assert source.sheets[0].frame.get_column("local_patient_id")[0] == "P£é1234"


def test_stating_utf8_for_a_windows_1252_file_is_one_sentence(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    frame = with_values(death(clean), "local_patient_id", {1: "Pé"})
    path = write_csv(frame, tmp_path / "ansi_death.csv", encoding="cp1252")
    with pytest.raises(SubmissionFileError, match=r"^ansi_death\.csv is not valid UTF-8 text\.$"):
        read_file(path, encoding="utf-8")


@pytest.mark.parametrize("header", ["cost\u00a3", "patient\u2019s id"])
def test_a_windows_1252_header_decides_the_encoding(
    clean: dict[str, Path], tmp_path: Path, header: str
) -> None:
    """Every value ASCII, one header Windows-1252: the header reads as that, not with
    replacement characters (polars checks the values, not the names it gives the columns)."""
    lines = clean["death"].read_text().splitlines()
    path = tmp_path / "ansi_death.csv"
    path.write_bytes("\n".join([lines[0] + "," + header, *lines[1:]]).encode("cp1252") + b"\n")
    source = read_file(path)
    assert source.encoding == "cp1252"
    assert source.sheets[0].headers == [*DEATH_FIELDS, header]
    with pytest.raises(SubmissionFileError, match=r"^ansi_death\.csv is not valid UTF-8 text\.$"):
        read_file(path, encoding="utf-8")


@pytest.mark.parametrize("where", ["header", "value"])
def test_a_byte_neither_encoding_defines_is_one_sentence(
    clean: dict[str, Path], tmp_path: Path, where: str
) -> None:
    lines = clean["death"].read_bytes().split(b"\n")
    at = 0 if where == "header" else 1
    lines[at] = lines[at].replace(b",", b"\x81,", 1)
    path = tmp_path / "odd_death.csv"
    path.write_bytes(b"\n".join(lines))
    byte = len(b"\n".join(lines[:at])) + (1 if at else 0) + lines[at].index(b"\x81") + 1
    with pytest.raises(SubmissionFileError) as refused:
        read_file(path)
    assert refused.value.id == "file/encoding-not-detected"
    assert f"(byte {byte} cannot be read)" in str(refused.value)


def test_an_unknown_encoding_is_one_sentence(clean: dict[str, Path]) -> None:
    with pytest.raises(SubmissionFileError, match="not an encoding mhdeaths knows"):
        read_file(clean["death"], encoding="klingon")


# --- CSV: delimiters, quoting, line endings ---------------------------------------------------


@pytest.mark.parametrize("sep", [",", ";", "\t"])
@pytest.mark.parametrize("stated", [False, True])
def test_delimiters(clean: dict[str, Path], tmp_path: Path, sep: str, stated: bool) -> None:
    frame = with_values(death(clean), "ethnic_category", {2: "QQ"})
    path = write_csv(frame, tmp_path / "sep_death.csv", sep=sep)
    source = read_file(path, delimiter=sep if stated else None)
    assert source.delimiter == sep
    assert source.sheets[0].headers == DEATH_FIELDS
    assert source.sheets[0].frame.equals(frame.with_columns(pl.all().str.strip_chars()))
    report = check([path], delimiter=sep if stated else None)
    assert where(report) == {("death.code_list.ethnic_category", 4, "L", "ethnic_category")}
    assert found(report, "death.code_list.ethnic_category")[0].value == "QQ"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_quoted_values_spanning_lines_keep_each_record_at_its_first_line(
    clean: dict[str, Path], tmp_path: Path, newline: str
) -> None:
    frame = death(clean)
    # Record 1 (line 2) holds a delimiter, a quote and two line breaks in one value; record 4
    # starts on line 5 + 2 = 7, record 5 on line 8.
    odd = 'LFPSE, "first"\nsecond\nthird'
    frame = with_values(frame, "lfpse_event_id", {0: odd})
    frame = with_values(frame, "ethnic_category", {3: "QQ"})
    frame = with_values(frame, "death_record_id", {4: None})
    path = write_csv(frame, tmp_path / "quoted_death.csv", newline=newline)
    text = path.read_text()
    assert text.splitlines()[6].startswith("1.1.0,")  # the 4th record, on line 7
    sheet = read_file(path).sheets[0]
    assert list(sheet.row_numbers) == [2, *range(5, frame.height + 4)]
    assert sheet.frame.get_column("lfpse_event_id")[0] == odd
    report = check([path])
    assert where(report) == {
        ("death.code_list.ethnic_category", 7, "L", "ethnic_category"),
        ("death.mandatory.death_record_id", 8, "D", "death_record_id"),
    }


def write_quoted(frame: pl.DataFrame, path: Path) -> Path:
    """As exports that quote every value write a file: an empty value as ""."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(frame.columns)
    writer.writerows([["" if v is None else v for v in row] for row in frame.iter_rows()])
    path.write_text(buffer.getvalue(), newline="")
    return path


def test_every_value_quoted(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = with_values(death(clean), "death_record_id", {1: None})
    path = write_quoted(frame, tmp_path / "quoted_death.csv")
    data = path.read_bytes()
    assert b',"",' in data
    assert not any(pad in data for pad in (b'" ', b' "', b", ", b" ,"))  # nothing to trim
    assert read_file(path).sheets[0].frame.get_column("death_record_id")[1] is None
    assert where(check([path])) == {("death.mandatory.death_record_id", 3, "D", "death_record_id")}


def test_values_padded_with_spaces(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = with_values(death(clean), "local_patient_id", {2: "   "})
    frame = with_values(frame, "ethnic_category", {3: " A "})
    path = write_quoted(frame, tmp_path / "padded_death.csv")
    sheet = read_file(path).sheets[0]
    assert sheet.frame.get_column("ethnic_category")[3] == "A"
    assert where(check([path])) == {
        ("death.mandatory.local_patient_id", 4, "G", "local_patient_id")
    }


@pytest.mark.parametrize("blank", ["\u00a0", "\u0085", "\u3000", "\x0b", " "])
@pytest.mark.parametrize("elsewhere", ["", " "])
def test_a_value_is_trimmed_whatever_the_files_other_values(
    clean: dict[str, Path], tmp_path: Path, blank: str, elsewhere: str
) -> None:
    """A value padded with any white space polars trims is read trimmed, whether or not another
    value of the file has a space around it (``elsewhere``, in a free-text field)."""
    frame = with_values(death(clean), "ethnic_category", {1: f"{blank}A{blank}"})
    frame = with_values(frame, "local_patient_id", {0: f"{elsewhere}P1{elsewhere}"})
    path = write_csv(frame, tmp_path / "padded_death.csv")
    read = read_file(path).sheets[0].frame
    assert read.get_column("ethnic_category")[1] == "A"
    assert read.get_column("local_patient_id")[0] == "P1"
    assert found(check([path]), "death.code_list.ethnic_category") == []


@pytest.mark.parametrize(
    ("data", "read"),
    [
        (b"h,i\n1,\xa0A\n2,\xe9\n", [("1", "A"), ("2", "\u00e9")]),  # read as Windows-1252
        (b"h,i\n1,A\xa0B\n2,\xe9\n", [("1", "A\u00a0B"), ("2", "\u00e9")]),
        (b"h,i\n1,\xe9\x0b\n2,\x85\n", [("1", "\u00e9"), ("2", "\u2026")]),
    ],
)
def test_a_file_in_another_encoding_is_trimmed_as_read(
    tmp_path: Path, data: bytes, read: list[tuple[str, str]]
) -> None:
    """The scan searched the bytes; a file decoded before it is read is searched as decoded."""
    path = tmp_path / "cp1252.csv"
    path.write_bytes(data)
    assert read_file(path).sheets[0].frame.rows() == read


def test_old_mac_line_endings(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = with_values(death(clean), "ethnic_category", {1: "QQ"})
    path = write_csv(frame, tmp_path / "mac_death.csv", newline="\r")
    sheet = read_file(path).sheets[0]
    assert sheet.headers == DEATH_FIELDS
    assert sheet.frame.height == frame.height
    assert where(check([path])) == {("death.code_list.ethnic_category", 3, "L", "ethnic_category")}


def test_a_blank_line_keeps_the_line_numbers_after_it(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    frame = with_values(death(clean), "ethnic_category", {2: "QQ"})
    lines = write_csv(frame, tmp_path / "a.csv").read_text().splitlines(keepends=True)
    path = tmp_path / "blank_death.csv"
    path.write_text("".join([*lines[:2], "\n", *lines[2:]]))
    report = check([path])
    # Record 3 was on line 4 and is now on line 5.
    assert where(report) == {("death.code_list.ethnic_category", 5, "L", "ethnic_category")}
    assert report.tables[0].records == frame.height
    assert report.tables[0].blank_rows == 1


def test_a_ragged_line_is_one_sentence_with_its_line_number(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    lines = clean["death"].read_text().splitlines()
    lines[3] += ",extra,values"
    path = tmp_path / "ragged_death.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SubmissionFileError, match=r"line 4 has 47 values but the header has 45"):
        read_file(path)


@pytest.mark.parametrize(
    ("text", "read"),
    [
        # Quotes inside a value that does not start with one are text, where they pair up in the
        # record: in one value, around it, or across two.
        ('h,i\n1,ab"c"d\n2,x\n', [("1", 'ab"c"d'), ("2", "x")]),
        ('h,i\n1, "N" \n2,x', [("1", '"N"'), ("2", "x")]),
        ('h,i\nx"y,a"b\n2,x\n', [('x"y', 'a"b'), ("2", "x")]),
        ('h,i\n1,"a\nb"\n2,ab"c"d', [("1", "a\nb"), ("2", 'ab"c"d')]),
        # Escaped quotes after a delimiter inside a quoted value, well quoted.
        ('h,i\n1,"a,""b"""\n2,"c"\n', [("1", 'a,"b"'), ("2", "c")]),
        ('h,i\n1,"a,""b""\nc"\n2,"c"\n', [("1", 'a,"b"\nc'), ("2", "c")]),
    ],
)
def test_quotes_inside_a_value_pair_up_as_text(
    tmp_path: Path, text: str, read: list[tuple[str, str]]
) -> None:
    path = tmp_path / "quotes.csv"
    path.write_bytes(text.encode())
    assert read_file(path).sheets[0].frame.rows() == read


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        # A stray quote is refused on any line: polars read the first record as no record at all,
        # and the last, without a line break after it, as text.
        ('h,i\n1,x"y\n2,x\n3,x\n', 2, "B"),
        ('h,i\nx"y,1\n2,x\n', 2, "A"),
        ('h,i\n1,x\n2,x"y\n3,x\n', 3, "B"),
        ('h,i\n1,x\n2,x"y', 3, "B"),
        ('h,i\r\n1,x\r\n2,xy"', 3, "B"),
        ('h,i\n1,"a\nb"\n2,x"y', 4, "B"),
        # The first value with an odd number of quotes, not a value whose quotes pair up.
        ('h,i\n1,ab"c"d\n2,x"y\n', 3, "B"),
        ('h,i,j\n1,x"y,a"b"c\n', 2, "B"),
        # A quote left unpaired where a line break inside a later quoted value made polars'
        # count of records come out right.
        ('h,i\nz,q"\n"a\nb",q"\n3,x\n', 2, "B"),
        # A line break in quotes after a stray quote: polars ends the record there.
        ('h,i,j\nq","a\nb",x"y\n2,x,y\n', 2, "A"),
        # Text after a closing quote.
        ('h,i\n1,x\n2,"a"x"', 3, "B"),
    ],
)
def test_a_stray_quote_is_refused_on_any_line(
    tmp_path: Path, text: str, line: int, column: str
) -> None:
    path = tmp_path / "stray.csv"
    path.write_bytes(text.encode())
    with pytest.raises(SubmissionFileError) as refused:
        read_file(path)
    assert refused.value.id == "file/csv-bad-quoting"
    assert f"line {line}, column {column} is not quoted properly" in str(refused.value)


@pytest.mark.parametrize(
    ("data", "line", "column"),
    [
        # polars reads each of these, `"a"b"c"` as `abc`: a value changed without a word.
        (b'h,i\n1,"a"b"c"\n2,x\n', 2, "B"),
        (b'h,i\n1,x\n2,"a"b"c"', 3, "B"),
        (b'h,i\r\n1,x\r\n"a"b"c",2\r\n', 3, "A"),
        (b'"h"x"",i\n1,2\n', 1, "A"),  # in the header
        (b'h,i\n1,"\xe9"b"c"\n', 2, "B"),  # Windows-1252 text
        # Where a value spans lines: at the closing quote's line, as where polars refuses it.
        (b'h,i\n1,"x\ny"\n2,"a"b"c"\n', 4, "B"),
        (b'h,i\n1,"x\ny"b"c"\n3,z\n', 3, "B"),
        # The first fault going down the file, a stray quote or text after a closing quote.
        (b'h,i\n1,x\n2,"a"b"c"\n3,x"y', 3, "B"),
        (b'h,i\n1,x"y,"q\n"\n3,"a"b"c"\n', 2, "B"),
    ],
)
def test_text_after_a_closing_quote_is_refused(
    tmp_path: Path, data: bytes, line: int, column: str
) -> None:
    path = tmp_path / "after.csv"
    path.write_bytes(data)
    with pytest.raises(SubmissionFileError) as refused:
        read_file(path)
    assert refused.value.id == "file/csv-bad-quoting"
    assert f"line {line}, column {column} is not quoted properly" in str(refused.value)


def test_a_stray_quote_is_the_problem_before_the_values_it_shifts(tmp_path: Path) -> None:
    """The quote that broke a record is named, not the record with too many values it made; a
    record with too many values is named by the line it starts on."""
    path = tmp_path / "shifted.csv"
    path.write_bytes(b'h,i\n1,a"b"c"\n2,"q\n3,x\n')
    with pytest.raises(SubmissionFileError, match=r"line 2, column B is not quoted properly"):
        read_file(path)
    path.write_bytes(b'h,i\n1,"a\nb",x\n')
    with pytest.raises(SubmissionFileError, match=r"line 2 has 3 values but the header has 2"):
        read_file(path)


# --- Excel ------------------------------------------------------------------------------------


def _excel_value(name: str, value: str, typed: bool) -> object:
    if typed and value and name.endswith("_date"):
        return dt.date.fromisoformat(value)
    if typed and name == "death_time" and value:
        return dt.time.fromisoformat(value)
    return value


def test_xlsx_typed_and_text_dates_with_an_empty_row(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    frame = with_values(death(clean), "death_time", {0: "03:14", 1: "23:05"})
    frame = with_values(frame, "ethnic_category", {3: "QQ"})
    path = tmp_path / "book_death.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Deaths")
    date_cell = book.add_format({"num_format": "dd/mm/yyyy"})
    time_cell = book.add_format({"num_format": "hh:mm"})
    sheet.write_row(0, 0, frame.columns)
    excel_rows = []
    row = 1
    for index, record in enumerate(frame.iter_rows(named=True)):
        if index == 2:
            row += 1  # an empty row between the second and third records
        typed = index % 2 == 0  # typed date and time cells on every other record
        for col, name in enumerate(frame.columns):
            value = record[name]
            if value is None:
                continue
            cell = _excel_value(name, value, typed)
            if isinstance(cell, dt.date):
                sheet.write_datetime(row, col, dt.datetime.combine(cell, dt.time()), date_cell)
            elif isinstance(cell, dt.time):
                sheet.write_datetime(row, col, cell, time_cell)
            else:
                sheet.write_string(row, col, str(cell))
        excel_rows.append(row + 1)
        row += 1
    book.close()
    assert excel_rows[:4] == [2, 3, 5, 6]

    (read,) = read_file(path).sheets
    assert read.name == "Deaths"
    assert list(read.row_numbers) == excel_rows
    assert read.blank_rows == 1
    assert read.frame.get_column("death_time").to_list()[:2] == ["03:14", "23:05"]
    report = check([path])
    # Typed dates and times are understood: the only finding is the planted one.
    assert where(report) == {
        ("death.code_list.ethnic_category", excel_rows[3], "L", "ethnic_category"),
    }
    assert report.tables[0].blank_rows == 1
    assert any("1 blank row" in note for note in report.notes)


def test_xlsx_numbers_typed_as_numbers_read_as_typed(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    frame = death(clean)
    path = tmp_path / "numbers_death.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("death")
    sheet.write_row(0, 0, frame.columns)
    for r, record in enumerate(frame.iter_rows(), start=1):
        for c, value in enumerate(record):
            if value is None:
                continue
            if value.isdigit() and not value.startswith("0"):
                sheet.write_number(r, c, int(value))  # an NHS number or a code typed as a number
            else:
                sheet.write_string(r, c, value)
    book.close()
    read = read_file(path).sheets[0]
    assert read.frame.get_column("nhs_number").to_list() == frame.get_column("nhs_number").to_list()
    assert check([path]).findings == []


def test_xlsx_rows_above_the_header_count(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = with_values(death(clean), "ethnic_category", {1: "QQ"})
    path = tmp_path / "low_death.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("death")
    sheet.write_row(2, 0, frame.columns)  # header on row 3, rows 1 and 2 empty
    for r, record in enumerate(frame.iter_rows(), start=3):
        sheet.write_row(r, 0, ["" if v is None else v for v in record])
    book.close()
    assert list(read_file(path).sheets[0].row_numbers) == list(range(4, frame.height + 4))
    assert where(check([path])) == {("death.code_list.ethnic_category", 5, "L", "ethnic_category")}


def test_a_sheet_starting_right_of_column_a_has_its_own_letters_and_rows(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    """The Excel reader reads from the leftmost column with a value; a person looks the column
    up by the sheet's own letter, and the row by its own number."""
    frame = with_values(death(clean), "ethnic_category", {1: "QQ"})
    path = tmp_path / "offset_death.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("death")
    sheet.write_row(2, 2, frame.columns)  # header at C3
    for r, record in enumerate(frame.iter_rows(), start=3):
        sheet.write_row(r, 2, ["" if v is None else v for v in record])
    book.close()
    assert list(read_file(path).sheets[0].row_numbers) == list(range(4, frame.height + 4))
    assert where(check([path])) == {("death.code_list.ethnic_category", 5, "N", "ethnic_category")}
    # A column no field has, named by a structure rule at its header's own row, and the same in
    # an .xls workbook.
    rows: list[list[object]] = [[], [None, None, *frame.columns, "notes"]]
    rows += [[None, None, *record, "x"] for record in frame.iter_rows()]
    old = tmp_path / "offset_death.xls"
    old.write_bytes(xls_bytes({"death": rows}))
    report = check([old])
    assert ("death.code_list.ethnic_category", 4, "N", "ethnic_category") in where(report)
    unknown = found(report, "death.structure.unknown_column")
    assert [(f.row, f.column, f.header) for f in unknown] == [(2, column_letter(2 + 45), "notes")]


def test_xlsx_repeated_header_is_kept_and_rejected(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = death(clean)
    path = tmp_path / "dup_death.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("death")
    sheet.write_row(0, 0, [*frame.columns, "ethnic_category"])
    for r, record in enumerate(frame.iter_rows(), start=1):
        sheet.write_row(r, 0, ["" if v is None else v for v in record] + ["A"])
    # A formatted, empty cell far to the right widens the sheet but is no column.
    sheet.write_blank(1, 60, None, book.add_format({"bold": True}))
    book.close()
    read = read_file(path).sheets[0]
    assert read.headers == [*DEATH_FIELDS, "ethnic_category"]
    report = check([path])
    assert report.verdict is Verdict.REJECTED
    duplicates = found(report, "death.structure.duplicate_column")
    assert {(f.row, f.header, f.severity) for f in duplicates} == {
        (1, "ethnic_category", Severity.FILE_REJECT)
    }
    assert not found(report, "death.structure.unknown_column")


def test_each_copy_of_a_repeated_header_is_located_at_its_own_column(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    frame = death(clean).with_columns(pl.col("ethnic_category").alias("ethnic_category_2"))
    path = write_csv(frame, tmp_path / "dup_death.csv", headers=[*DEATH_FIELDS, "ethnic_category"])
    report = check([path])
    assert {f.column for f in found(report, "death.structure.duplicate_column")} == {"L", "AT"}


def test_xlsx_with_a_stray_value_at_the_bottom_is_one_sentence(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    """The Excel reader would hold 47 million empty cells (gigabytes); the file is refused."""
    frame = death(clean)
    path = tmp_path / "stray_death.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("death")
    sheet.write_row(0, 0, frame.columns)
    sheet.write_row(1, 0, ["" if v is None else v for v in frame.row(0)])
    sheet.write_string(1_048_575, 44, " x")
    book.close()
    with pytest.raises(SubmissionFileError) as caught:
        read_file(path)
    assert str(caught.value).startswith(
        "stray_death.xlsx has a sheet used down to row 1,048,576 and across to column AS "
        "(47,185,920 cells), too many to read"
    )


def _biff(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def xls_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """A minimal Excel 97-2003 (BIFF8) workbook in a compound file: text cells as LABEL records,
    numbers as NUMBER records, dates as NUMBER records with a date format. Nothing installed here
    writes .xls, so the test makes its own."""
    end_of_chain, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF

    def bof(kind: int) -> bytes:
        return _biff(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))

    def sheet_stream(rows: list[list[object]]) -> bytes:
        cells = []
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, dt.date):
                    serial = float((value - dt.date(1899, 12, 30)).days)
                    cells.append(_biff(0x0203, struct.pack("<HHHd", r, c, 1, serial)))
                elif isinstance(value, int | float):
                    cells.append(_biff(0x0203, struct.pack("<HHHd", r, c, 0, float(value))))
                else:
                    text = str(value).encode("utf-16-le")
                    head = struct.pack("<HHHHB", r, c, 0, len(text) // 2, 1)
                    cells.append(_biff(0x0204, head + text))
        width = max((len(r) for r in rows), default=0)
        dimensions = _biff(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
        return bof(0x0010) + dimensions + b"".join(cells) + _biff(0x000A)

    def bound_sheet(position: int, name: str) -> bytes:
        text = name.encode("utf-16-le")
        return _biff(0x0085, struct.pack("<IBBBB", position, 0, 0, len(text) // 2, 1) + text)

    def xf(number_format: int) -> bytes:
        return _biff(0x00E0, struct.pack("<HH", 0, number_format) + bytes(16))

    head = bof(0x0005) + _biff(0x0042, struct.pack("<H", 1200)) + xf(0) + xf(14)
    bodies = {name: sheet_stream(rows) for name, rows in sheets.items()}
    position = len(head) + sum(len(bound_sheet(0, n)) for n in sheets) + 4
    bound = b""
    for name, body in bodies.items():
        bound += bound_sheet(position, name)
        position += len(body)
    stream = (head + bound + _biff(0x000A) + b"".join(bodies.values())).ljust(4096, b"\0")
    sectors = math.ceil(len(stream) / 512)
    fats = 1
    while fats * 128 < fats + 1 + sectors:
        fats += 1
    fat = [free] * (fats * 128)
    fat[:fats] = [fat_sector] * fats
    fat[fats] = end_of_chain  # the directory
    for k in range(sectors):
        fat[fats + 1 + k] = fats + 2 + k if k < sectors - 1 else end_of_chain
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<9I", 0, fats, fats, 0, 4096, end_of_chain, 0, end_of_chain, 0)
        + struct.pack("<109I", *(list(range(fats)) + [free] * (109 - fats)))
    )

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\0\0" if name else b""
        links = struct.pack("<HBBIII", len(encoded), kind, 1, no_stream, no_stream, child)
        return (
            encoded.ljust(64, b"\0")
            + links
            + bytes(16)
            + struct.pack("<IQQIII", 0, 0, 0, start, size, 0)
        )

    directory = (
        entry("Root Entry", 5, 1, end_of_chain, 0)
        + entry("Workbook", 2, no_stream, fats + 1, len(stream))
        + entry("", 0, no_stream, 0, 0) * 2
    )
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return header + fat_bytes + directory + stream.ljust(sectors * 512, b"\0")


def test_xls_workbook_with_typed_dates(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = with_values(death(clean), "ethnic_category", {2: "QQ"})
    rows: list[list[object]] = [list(frame.columns)]
    for index, record in enumerate(frame.iter_rows(named=True)):
        if index == 1:
            rows.append([])  # an empty row: the records after it are one row further down
        rows.append([_excel_value(n, v or "", index % 2 == 0) for n, v in record.items()])
    path = tmp_path / "old_death.xls"
    path.write_bytes(xls_bytes({"death": rows}))
    source = read_file(path)
    assert source.format == "xls"
    (sheet,) = source.sheets
    assert sheet.headers == DEATH_FIELDS
    assert list(sheet.row_numbers) == [2, *range(4, frame.height + 3)]
    report = check([path])
    assert where(report) == {("death.code_list.ethnic_category", 5, "L", "ethnic_category")}


# --- The published Excel template ------------------------------------------------------------


def test_the_published_template_filled_in(clean: dict[str, Path], tmp_path: Path) -> None:
    (template,) = write_template(SPEC, tmp_path)
    book = openpyxl.load_workbook(template)
    assert {"death", "activity"} <= set(book.sheetnames)
    planted_row = None
    for table in ("death", "activity"):
        sheet = book[table]
        headers = [c.value for c in sheet[1]]
        frame = text_frame(clean[table])
        assert headers == frame.columns
        for r, record in enumerate(frame.iter_rows(named=True), start=2):
            for c, name in enumerate(headers, start=1):
                value = record[name]
                if value is None:
                    continue
                cell = sheet.cell(row=r, column=c)
                if name.endswith("_date"):
                    cell.value = dt.date.fromisoformat(value)
                    cell.number_format = "yyyy-mm-dd"
                else:
                    cell.value = value
        if table == "death":
            planted_row = 3
            sheet.cell(row=planted_row, column=headers.index("ethnic_category") + 1).value = "QQ"
    path = tmp_path / "filled.xlsx"
    book.save(path)

    report = check([path])
    assert {(t.name, t.sheet, t.records) for t in report.tables} == {
        ("death", "death", death(clean).height),
        ("activity", "activity", text_frame(clean["activity"]).height),
    }
    assert [f.name for f in report.files] == ["filled.xlsx"]
    assert report.files[0].tables == ["death", "activity"]
    assert where(report) == {
        ("death.code_list.ethnic_category", planted_row, "L", "ethnic_category")
    }


def test_workbook_with_death_and_activity_sheets(clean: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "both.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("README").write(0, 0, "Deaths and activity, 2027-10")
    for table in ("activity", "death"):
        frame = text_frame(clean[table])
        sheet = book.add_worksheet(table)
        sheet.write_row(0, 0, frame.columns)
        for r, record in enumerate(frame.iter_rows(), start=1):
            sheet.write_row(r, 0, ["" if v is None else v for v in record])
    book.close()
    report = check([path])
    assert report.verdict is Verdict.ACCEPTED
    assert sorted(t.name for t in report.tables) == ["activity", "death"]
    assert report.findings == []


# --- Parquet ----------------------------------------------------------------------------------


def test_parquet_of_text(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = with_values(death(clean), "ethnic_category", {1: "QQ"})
    path = tmp_path / "death.parquet"
    frame.write_parquet(path)
    source = read_file(path)
    assert source.format == "parquet"
    assert source.sheets[0].frame.equals(frame)
    # Parquet has no header line: records are numbered from 1.
    assert where(check([path])) == {("death.code_list.ethnic_category", 2, "L", "ethnic_category")}


def test_parquet_with_typed_columns(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = death(clean)
    dates = [c for c in frame.columns if c.endswith("_date")]
    typed = frame.with_columns(
        *(pl.col(c).str.to_date("%Y-%m-%d") for c in dates if c != "death_date"),
        pl.col("death_date").str.to_datetime("%Y-%m-%d").alias("death_date"),
        pl.col("death_time").str.to_time("%H:%M"),
        # A column of whole numbers with gaps is a float column in many tools.
        pl.col("nhs_number").cast(pl.Float64),
    )
    path = tmp_path / "typed_death.parquet"
    typed.write_parquet(path)
    read = read_file(path).sheets[0].frame
    for name in [*dates, "death_time", "nhs_number"]:
        assert read.get_column(name).to_list() == frame.get_column(name).to_list(), name
    assert check([path]).findings == []


def test_parquet_with_a_nested_column_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "nested_death.parquet"
    pl.DataFrame({"spec_version": ["1.1.0"], "codes": [[1, 2]]}).write_parquet(path)
    with pytest.raises(SubmissionFileError, match=r"^The column 'codes' of nested_death\.parquet"):
        read_file(path)


# --- Provider profiles -----------------------------------------------------------------------


RZ9 = EXAMPLES / "RZ9" / "RZ9_2027-05_death.csv"


def test_rz9_export_with_its_profile_has_no_finding() -> None:
    activity = RZ9.with_name("RZ9_2027-05_activity.csv")
    assert "NHS No" in RZ9.read_text().splitlines()[0]
    assert "/05/2027" in RZ9.read_text()  # day-first dates
    report = check([RZ9, activity], provider="RZ9")
    assert report.profile == "RZ9"
    assert report.spec_version == "1.0.0"
    assert report.verdict is Verdict.ACCEPTED
    assert report.findings == []


def test_rz9_export_without_its_profile_has_structure_findings() -> None:
    report = check([RZ9])
    assert report.verdict is Verdict.REJECTED
    missing = {f.field for f in found(report, "death.structure.missing_mandatory_column")}
    assert {"spec_version", "nhs_number"} - missing == {"nhs_number"}  # nhs_number is required
    assert {"death_record_id", "death_date", "record_action"} <= missing
    unknown = {(f.header, f.column, f.row) for f in found(report, "death.structure.unknown_column")}
    assert {("NHS No", "F", 1), ("Date of Death", "N", 1), ("Mortality Ref", "D", 1)} <= unknown
    assert all(
        f.severity is Severity.FILE_REJECT
        for f in found(report, "death.structure.missing_mandatory_column")
    )


def test_rz9_export_without_its_profile_counts_every_record() -> None:
    report = check([RZ9])
    assert report.tables[0].records == 6
    # Its own headers are unknown columns, each mandatory field a missing column (once, not
    # again on every record), and the report points to the provider's profile.
    assert found(report, "death.structure.missing_mandatory_column")
    assert not found(report, "death.mandatory.death_record_id")
    assert any("try --provider RZ9" in note for note in report.notes)


# --- Findings at their row, column and header --------------------------------------------------


def test_bad_code_bad_date_and_missing_mandatory_value(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    frame = with_values(death(clean), "ethnic_category", {0: "Q"})
    frame = with_values(frame, "death_date", {1: "2027-02-30"})
    frame = with_values(frame, "death_record_id", {2: None})
    frame = with_values(frame, "death_time", {3: "25:61"})
    report = check([write_csv(frame, tmp_path / "bad_death.csv")])
    assert report.verdict is Verdict.REJECTED
    assert {
        ("death.code_list.ethnic_category", 2, "L", "ethnic_category"),
        ("death.type.death_date", 3, "N", "death_date"),
        ("death.mandatory.death_record_id", 4, "D", "death_record_id"),
        ("death.type.death_time", 5, "O", "death_time"),
    } <= where(report)
    # Anything else follows from the unreadable date of death on row 3.
    assert {f.row for f in report.findings} == {2, 3, 4, 5}
    assert {f.rule_id for f in report.findings if f.row != 3} == {
        "death.code_list.ethnic_category",
        "death.mandatory.death_record_id",
        "death.type.death_time",
    }
    (code,) = found(report, "death.code_list.ethnic_category")
    assert (code.value, code.field, code.severity, code.file) == (
        "Q",
        "ethnic_category",
        Severity.RECORD_REJECT,
        "bad_death.csv",
    )
    assert code.example in {"A", "B", "C"}
    assert code.message and code.fix
    (date,) = found(report, "death.type.death_date")
    assert date.value is None  # a date is never repeated in a report


def test_an_unreadable_date_is_not_also_called_empty(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    frame = with_values(death(clean), "death_date", {1: "2027-02-30"})
    report = check([write_csv(frame, tmp_path / "bad_death.csv")])
    assert found(report, "death.type.death_date")
    assert not found(report, "death.mandatory.death_date")


def test_missing_mandatory_column(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = death(clean).drop("death_date")
    report = check([write_csv(frame, tmp_path / "nodate_death.csv")])
    assert report.verdict is Verdict.REJECTED
    (missing,) = found(report, "death.structure.missing_mandatory_column")
    assert (missing.field, missing.row, missing.column, missing.header) == (
        "death_date",
        None,
        None,
        None,
    )
    assert missing.severity is Severity.FILE_REJECT


def test_unknown_column_is_a_warning(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = death(clean).with_columns(pl.lit("free text").alias("Notes"))
    report = check([write_csv(frame, tmp_path / "notes_death.csv")])
    assert report.verdict is Verdict.ACCEPTED_WITH_WARNINGS
    assert where(report) == {("death.structure.unknown_column", 1, "AT", "Notes")}
    assert report.findings[0].severity is Severity.WARNING


def test_duplicated_column_header_rejects_the_file(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = death(clean).with_columns(pl.col("death_date").alias("second"))
    path = write_csv(frame, tmp_path / "dup_death.csv", headers=[*DEATH_FIELDS, "death_date"])
    assert read_file(path).sheets[0].headers.count("death_date") == 2
    report = check([path])
    assert report.verdict is Verdict.REJECTED
    duplicates = found(report, "death.structure.duplicate_column")
    assert duplicates and {(f.header, f.row, f.severity) for f in duplicates} == {
        ("death_date", 1, Severity.FILE_REJECT)
    }


@pytest.mark.parametrize("table", ["death", "activity"])
def test_a_header_only_file_is_empty(clean: dict[str, Path], tmp_path: Path, table: str) -> None:
    path = tmp_path / f"RZ1_2027-10_{table}.csv"
    path.write_text(clean[table].read_text().splitlines()[0] + "\n")
    report = check([path])
    assert report.verdict is Verdict.REJECTED
    (empty,) = found(report, f"{table}.file.not_empty")
    assert (empty.row, empty.severity) == (None, Severity.FILE_REJECT)
    assert report.tables[0].records == 0


def test_an_empty_file_not_named_after_a_table_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "submission.csv"
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"No death or activity table was found in submission\.csv"):
        validate([path])


def test_a_zero_byte_death_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "RZ1_2027-10_death.csv"
    path.write_bytes(b"")
    report = check([path])
    assert [f.rule_id for f in report.findings if f.severity is Severity.FILE_REJECT] == [
        "death.file.not_empty"
    ]


def test_a_wrong_declared_version_is_one_sentence(clean: dict[str, Path], tmp_path: Path) -> None:
    frame = death(clean).with_columns(pl.lit("9.9.9").alias("spec_version"))
    path = write_csv(frame, tmp_path / "v9_death.csv")
    with pytest.raises(SubmissionFileError) as caught:
        validate([path])
    message = str(caught.value)
    assert message.startswith("The file declares spec version 9.9.9, which is not one of 1.0.0")
    assert message.count(". ") == 0 and message.endswith(".")
    # --spec overrides what the file declares.
    assert check([path], spec_version="1.1.0").spec_version == "1.1.0"


def test_spec_override_checks_against_the_chosen_version() -> None:
    v1 = EXAMPLES / "RZ1" / "RZ1_2027-06_death.csv"
    assert check([v1]).findings == []
    report = check([v1], spec_version="1.1.0")
    assert report.spec_version == "1.1.0"
    # 1.1.0 added family_involvement: the 1.0.0 file has no column for it.
    assert ("death.structure.missing_column", None, None, None) in where(report)
    assert {f.field for f in found(report, "death.structure.missing_column")} == {
        "family_involvement"
    }
    assert report.verdict is Verdict.ACCEPTED_WITH_WARNINGS


def test_spec_override_still_reports_the_declared_version() -> None:
    report = check([EXAMPLES / "RZ1" / "RZ1_2027-06_death.csv"], spec_version="1.1.0")
    assert report.spec_version_declared == "1.0.0"


# --- Privacy ----------------------------------------------------------------------------------


def test_a_file_without_a_header_row_shows_no_identifier(
    clean: dict[str, Path], tmp_path: Path
) -> None:
    lines = clean["death"].read_text().splitlines(keepends=True)
    path = tmp_path / "noheader_death.csv"
    path.write_text("".join(lines[1:]))  # the first record is taken for the header
    first = text_frame(clean["death"]).row(0, named=True)
    identifiers = [first[n] for n in ("nhs_number", "person_birth_date", "postcode") if first[n]]
    assert len(identifiers) == 3
    headers = read_file(path).sheets[0].headers
    assert not set(identifiers) & set(headers)
    assert headers[DEATH_FIELDS.index("nhs_number")] == HIDDEN_HEADER
    assert headers[DEATH_FIELDS.index("postcode")] == HIDDEN_HEADER
    assert headers[DEATH_FIELDS.index("record_action")] == first["record_action"]  # a code stays
    report = check([path])
    assert report.verdict is Verdict.REJECTED
    dumped = report.model_dump_json()
    for value in identifiers:
        assert value not in dumped

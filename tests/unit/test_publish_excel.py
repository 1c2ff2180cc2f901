"""The Excel template opens in a real reader with the sheets, headers and drop-downs promised."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import ColumnDimension
from openpyxl.worksheet.worksheet import Worksheet

from mhdeaths.spec import Table, load_spec
from mhdeaths.standard.publish.excel import DATA_ROWS, fit, template_bytes, write_template

SPEC = load_spec("1.0.0")


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    (path,) = write_template(SPEC, tmp_path_factory.mktemp("template"))
    assert path.name == "template-1.0.0.xlsx"
    return openpyxl.load_workbook(path)


def validations_by_column(sheet: Worksheet) -> dict[str, DataValidation]:
    found = {}
    for validation in sheet.data_validations.dataValidation:
        for cells in str(validation.sqref).split():
            min_col, min_row, max_col, max_row = range_boundaries(cells)
            assert (min_row, max_row) == (2, DATA_ROWS + 1), cells
            for col in range(min_col, max_col + 1):
                found[get_column_letter(col)] = validation
    return found


def column_dimension(sheet: Worksheet, col: int) -> ColumnDimension:
    # Excel stores neighbouring columns of the same width and format as one <col> span, which
    # openpyxl keys by the span's first letter only.
    for dimension in sheet.column_dimensions.values():
        if dimension.min is not None and dimension.min <= col <= (dimension.max or dimension.min):
            return dimension
    raise AssertionError(f"column {col} has no width or format of its own")


def lookup_values(workbook: Workbook, formula: str) -> list[str]:
    sheet_name, cells = formula.lstrip("=").split("!")
    sheet = workbook[sheet_name.strip("'")]
    return [c.value for row in sheet[cells.replace("$", "")] for c in row]


def test_sheets_are_readme_tables_codes_and_hidden_lookups(workbook: Workbook) -> None:
    assert workbook.sheetnames == ["README", *(t.name for t in SPEC.tables), "codes", "lookups"]
    assert workbook["lookups"].sheet_state == "hidden"
    assert all(workbook[n].sheet_state == "visible" for n in workbook.sheetnames[:-1])
    assert workbook.active is not None and workbook.active.title == "README"


def test_readme_states_the_version_and_the_mandation_legend(workbook: Workbook) -> None:
    text = " ".join(str(c.value) for row in workbook["README"].iter_rows() for c in row if c.value)
    assert "1.0.0" in text
    for words in ("mandatory", "required", "optional", "How to fill it in", "CCYY-MM-DD"):
        assert words in text


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_table_sheet_has_the_submitted_fields_as_a_frozen_text_header(
    workbook: Workbook, table: Table
) -> None:
    sheet = workbook[table.name]
    header = [c.value for c in sheet[1]]
    assert header == [f.name for f in table.submitted_fields]
    assert sheet.freeze_panes == "A2"
    for col, field in enumerate(table.submitted_fields, start=1):
        dimension = column_dimension(sheet, col)
        # The whole column is text, so 01 and 9434765919 survive being typed or pasted.
        assert dimension.number_format == "@", field.name
        assert dimension.width >= len(field.name), field.name


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_code_list_columns_have_drop_downs_from_the_lookups_sheet(
    workbook: Workbook, table: Table
) -> None:
    validations = validations_by_column(workbook[table.name])
    for col, field in enumerate(table.submitted_fields, start=1):
        validation = validations[get_column_letter(col)]
        if field.code_list is None:
            assert validation.type != "list", field.name
            continue
        assert validation.type == "list", field.name
        assert validation.formula1.startswith("lookups!"), field.name
        # Codes are text in the lookups sheet: 01 stays 01.
        codes = SPEC.code_list(field.code_list).valid_codes()
        assert lookup_values(workbook, validation.formula1) == codes, field.name


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_every_column_prompts_with_the_fields_definition(workbook: Workbook, table: Table) -> None:
    validations = validations_by_column(workbook[table.name])
    for col, field in enumerate(table.submitted_fields, start=1):
        validation = validations[get_column_letter(col)]
        assert validation.showInputMessage, field.name
        assert validation.promptTitle and len(validation.promptTitle) <= 32, field.name
        assert validation.prompt and len(validation.prompt) <= 255, field.name
        assert validation.prompt.startswith(field.definition.split()[0]), field.name


def test_max_length_columns_limit_text_length(workbook: Workbook) -> None:
    validations = validations_by_column(workbook["death"])
    names = [f.name for f in SPEC.table("death").submitted_fields]
    validation = validations[get_column_letter(names.index("local_patient_id") + 1)]
    assert (validation.type, validation.operator, validation.formula1) == (
        "textLength",
        "lessThanOrEqual",
        "20",
    )


def test_codes_sheet_lists_every_code_with_its_label(workbook: Workbook) -> None:
    rows = list(workbook["codes"].iter_rows(min_row=2, values_only=True))
    expected = [(c.name, code.code, code.label) for c in SPEC.code_lists for code in c.codes]
    assert [tuple(r[:3]) for r in rows] == expected


def test_the_same_spec_gives_the_same_bytes() -> None:
    assert template_bytes(SPEC) == template_bytes(SPEC)


@pytest.mark.parametrize(
    ("text", "limit", "suffix", "expected"),
    [
        ("Short", 32, "", "Short"),
        ("Learning disability and autism status", 32, "", "Learning disability and autism…"),
        ("a b  c", 10, " (x)", "a b c (x)"),
        ("word " * 10, 12, " (x)", "word… (x)"),
        ("abcdefghij", 6, "", "abcde…"),
        ("😀" * 20, 10, "", "😀😀😀😀…"),
    ],
)
def test_fit_cuts_to_excels_utf16_limit(text: str, limit: int, suffix: str, expected: str) -> None:
    result = fit(text, limit, suffix)
    assert result == expected
    assert len(result.encode("utf-16-le")) // 2 <= limit


def test_template_is_written_where_asked(tmp_path: Path) -> None:
    (path,) = write_template(SPEC, tmp_path / "nested")
    assert path == tmp_path / "nested" / "template-1.0.0.xlsx"
    assert path.read_bytes()[:2] == b"PK"

"""The Excel submission template of a spec version, written with xlsxwriter.

Most providers fill in or paste into a spreadsheet before they have an automated extract, as they
did with the MHSDS Intermediate Database's fixed template. A template made from the spec gives them
the exact headers, drop-downs of valid codes, and each field's definition as a prompt, and formats
every cell as text: Excel otherwise turns code 01 into 1 and an NHS number into 9.4E+09, which is
the commonest way a spreadsheet submission goes wrong (USERS.md §2).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_range_abs

from mhdeaths.output.writing import write_bytes
from mhdeaths.spec import CodeList, FieldType, Mandation, Spec, SpecField
from mhdeaths.standard.publish.common import MANDATION_LETTERS, MANDATION_MEANINGS, code_list_of

README = "README"
CODES = "codes"
LOOKUPS = "lookups"
#: Data rows that get drop-downs and prompts (rows 2 to 1001); the text format covers whole columns.
DATA_ROWS = 1000
#: Excel's own limits on a data validation's prompt, in UTF-16 code units.
TITLE_LIMIT = 32
MESSAGE_LIMIT = 255
TEXT = "@"

HEADER_COLOURS: dict[Mandation, tuple[str, str]] = {
    # (fill, font): the darker the header, the more a provider must fill the column in.
    Mandation.MANDATORY: ("#005EB8", "#FFFFFF"),
    Mandation.REQUIRED: ("#9FC4E8", "#000000"),
    Mandation.OPTIONAL: ("#E8EDEE", "#000000"),
    Mandation.DERIVED: ("#FFFFFF", "#000000"),
}


def template_name(spec: Spec) -> str:
    return f"template-{spec.version}.xlsx"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int, suffix: str = "") -> str:
    """Text cut to Excel's limit (counted as Excel counts, in UTF-16 units), keeping ``suffix``.

    xlsxwriter drops a validation whose prompt is too long (with only a warning), so every
    prompt is cut here first.
    """
    text = " ".join(text.split())
    if _utf16_len(text + suffix) <= limit:
        return text + suffix
    room = limit - _utf16_len(suffix) - 1
    kept = ""
    for char in text:
        if _utf16_len(kept + char) > room:
            break
        kept += char
    # Cut at a word boundary when one is near enough, so a prompt never ends in half a word.
    space = kept.rfind(" ")
    if space > len(kept) // 2:
        kept = kept[:space]
    return kept.rstrip() + "…" + suffix


def prompt(field: SpecField) -> str:
    return fit(
        field.definition, MESSAGE_LIMIT, f" ({field.mandation.value}; format {field.format})"
    )


def column_width(field: SpecField, code_list: CodeList | None) -> float:
    # Wide enough for the header, the example and the longest code, so nothing typed is hidden;
    # capped so a long identifier does not push the other columns off screen.
    widths = [len(field.name), len(field.example or "")]
    if code_list is not None:
        widths.append(max(len(c) for c in code_list.valid_codes()))
    if field.max_length is not None:
        widths.append(min(field.max_length, 24))
    if field.type in {FieldType.DATE, FieldType.TIME}:
        widths.append(10)
    return float(min(max(widths) + 3, 60))


class _Formats:
    """The workbook's cell formats, made once: Excel files have a limited style table."""

    def __init__(self, book: Any) -> None:
        self.text = book.add_format({"num_format": TEXT})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.bold = book.add_format({"bold": True})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.header = {
            m: book.add_format(
                {
                    "bold": True,
                    "num_format": TEXT,
                    "bg_color": fill,
                    "font_color": font,
                    "border": 1,
                }
            )
            for m, (fill, font) in HEADER_COLOURS.items()
        }


def _check(status: int, what: str) -> None:
    # xlsxwriter reports a bad argument by returning a negative number and warning, then writes
    # the workbook without it; a template missing a drop-down must not be published.
    if status != 0:
        raise RuntimeError(f"xlsxwriter refused {what} (status {status}).")


def _write_readme(book: Any, spec: Spec, fmt: _Formats) -> None:
    sheet = book.add_worksheet(README)
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 110, fmt.wrap)
    tables = ", ".join(t.name for t in spec.tables)
    rows: list[tuple[str, str]] = [
        ("Spec version", spec.version),
        ("Status", spec.status),
        ("Published", spec.published.isoformat()),
        ("Applies from reporting period", spec.effective_from),
    ]
    steps = [
        f"Use one sheet per table ({tables}). Keep the sheet names and the header row exactly "
        "as they are: do not rename, add, remove or reorder columns.",
        *[
            f"The {t.name} sheet is optional: leave it empty when there is nothing to send "
            f"(its records go with the {' or '.join(p.name for p in spec.parents_of(t))} "
            "records they belong to)."
            for t in spec.tables
            if t.optional
        ],
        "Enter one record per row, starting in row 2. Every cell is formatted as text so that "
        "codes and identifiers keep their leading zeros; when you paste, paste values only.",
        "Write dates as CCYY-MM-DD (for example 2027-04-12) and times as HH:MM, as text, not as "
        "Excel dates.",
        f"Pick codes from the drop-down in each coded column. The '{CODES}' sheet lists every "
        "code with its label; the data dictionary explains each list.",
        "Select a cell to see the field's definition. Leave a cell empty when the value is not "
        "known and the field is not mandatory; for a required field, use the list's 'not known' "
        "code where it has one.",
        f"Fill in spec_version with {spec.version} on every record.",
        "Fields the warehouse derives (such as death_category) are not in the template: do not "
        "add them.",
        f"Drop-downs and prompts cover the first {DATA_ROWS:,} records of each sheet; the "
        "validator checks every row, however many there are.",
        "Check the file with 'mhdeaths validate' before you submit it: the check runs on your "
        "computer and nothing is uploaded.",
    ]
    sheet.write_string(0, 0, "mhdeaths submission template", fmt.title)
    sheet.write_string(1, 0, spec.title, fmt.bold)
    row = 3
    for label, value in rows:
        sheet.write_string(row, 0, label, fmt.bold)
        sheet.write_string(row, 1, value)
        row += 1
    row += 1
    sheet.write_string(row, 0, "How to fill it in", fmt.bold)
    for number, step in enumerate(steps, start=1):
        row += 1
        sheet.write_string(row, 0, str(number))
        sheet.write_string(row, 1, step)
    row += 2
    sheet.write_string(row, 0, "Mandation (header colour)", fmt.bold)
    for mandation in (Mandation.MANDATORY, Mandation.REQUIRED, Mandation.OPTIONAL):
        row += 1
        sheet.write_string(row, 0, MANDATION_LETTERS[mandation], fmt.header[mandation])
        sheet.write_string(row, 1, f"{mandation.value}: {MANDATION_MEANINGS[mandation]}")


def lookup_ranges(spec: Spec) -> dict[str, str]:
    """Each code list's range on the lookups sheet, as a drop-down's source formula.

    An inline drop-down list is limited to 255 characters, so every list, short or long, is a
    range: one rule for all lists, and a list that grows in a later version cannot break.
    """
    ranges = {}
    for col, code_list in enumerate(spec.code_lists):
        cells = xl_range_abs(1, col, len(code_list.valid_codes()), col)
        ranges[code_list.name] = f"={quote_sheetname(LOOKUPS)}!{cells}"
    return ranges


def _write_lookups(book: Any, spec: Spec, fmt: _Formats) -> None:
    """One column per code list, in the order ``lookup_ranges`` assumes."""
    sheet = book.add_worksheet(LOOKUPS)
    for col, code_list in enumerate(spec.code_lists):
        sheet.set_column(col, col, max(len(code_list.name), 8) + 2, fmt.text)
        sheet.write_string(0, col, code_list.name, fmt.bold)
        for row, code in enumerate(code_list.valid_codes(), start=1):
            # As strings in a text column: code 01 must reach the drop-down as 01, not 1.
            sheet.write_string(row, col, code, fmt.text)
    # Hidden, not deleted or protected: the drop-downs read it, providers never need to.
    sheet.hide()


def _write_codes(book: Any, spec: Spec, fmt: _Formats) -> None:
    sheet = book.add_worksheet(CODES)
    headers = ["code list", "code", "label", "default code", "valid from", "valid to"]
    for col, header in enumerate(headers):
        sheet.write_string(0, col, header, fmt.header[Mandation.OPTIONAL])
    sheet.set_column(0, 0, 26, fmt.text)
    sheet.set_column(1, 1, 8, fmt.text)
    sheet.set_column(2, 2, 90, fmt.text)
    sheet.set_column(3, 5, 13, fmt.text)
    sheet.freeze_panes(1, 0)
    row = 0
    for code_list in spec.code_lists:
        for code in code_list.codes:
            row += 1
            values = [
                code_list.name,
                code.code,
                code.label,
                "yes" if code.default else "",
                code.valid_from.isoformat() if code.valid_from else "",
                code.valid_to.isoformat() if code.valid_to else "",
            ]
            for col, value in enumerate(values):
                sheet.write_string(row, col, value, fmt.text)
    sheet.autofilter(0, 0, row, len(headers) - 1)


def _validation(field: SpecField, code_list: CodeList | None, source: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "input_title": fit(field.title, TITLE_LIMIT),
        "input_message": prompt(field),
    }
    if code_list is not None and source is not None:
        return {
            **options,
            "validate": "list",
            "source": source,
            "error_type": "stop",
            "error_title": "Not a code of this field",
            "error_message": fit(
                f"Pick a code of the {code_list.title} list from the drop-down, or leave the "
                "cell empty if the field is not mandatory.",
                MESSAGE_LIMIT,
            ),
        }
    if field.max_length is not None:
        # A length check works on text cells; a whole-number or date check would reject the
        # very text values the columns are formatted to hold.
        return {
            **options,
            "validate": "length",
            "criteria": "<=",
            "value": field.max_length,
            "error_type": "stop",
            "error_title": "Too long",
            "error_message": fit(
                f"{field.title} must be at most {field.max_length} characters.", MESSAGE_LIMIT
            ),
        }
    return {**options, "validate": "any"}


def _write_table_sheets(book: Any, spec: Spec, fmt: _Formats, ranges: dict[str, str]) -> None:
    for table in spec.tables:
        sheet = book.add_worksheet(table.name)
        for col, field in enumerate(table.submitted_fields):
            code_list = code_list_of(spec, field)
            sheet.set_column(col, col, column_width(field, code_list), fmt.text)
            sheet.write_string(0, col, field.name, fmt.header[field.mandation])
            source = ranges.get(code_list.name) if code_list is not None else None
            options = _validation(field, code_list, source)
            status = sheet.data_validation(1, col, DATA_ROWS, col, options)
            _check(status, f"the validation of {table.name}.{field.name}")
        sheet.freeze_panes(1, 0)
        # Open on the first data cell, so its prompt is the first thing a provider sees.
        sheet.set_selection(1, 0, 1, 0)


def template_bytes(spec: Spec) -> bytes:
    buffer = io.BytesIO()
    # In memory: xlsxwriter then stamps every zip entry 1980-01-01, and with the created date
    # fixed to the spec's publication day the same spec always gives the same bytes (and hash).
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties(
        {
            "title": f"mhdeaths submission template {spec.version}",
            "subject": spec.title,
            "author": "mhdeaths",
            "comments": f"Generated from mhdeaths spec {spec.version}.",
            "created": dt.datetime.combine(spec.published, dt.time()),
        }
    )
    fmt = _Formats(book)
    # Sheets appear in the order they are added: the README first, then the tables, then the
    # code labels, with the hidden lookups sheet last.
    _write_readme(book, spec, fmt)
    _write_table_sheets(book, spec, fmt, lookup_ranges(spec))
    _write_codes(book, spec, fmt)
    _write_lookups(book, spec, fmt)
    book.close()
    return buffer.getvalue()


def write_template(spec: Spec, out: Path) -> list[Path]:
    return [write_bytes(out / template_name(spec), template_bytes(spec))]

"""The published artefacts of the spec 2.0.0 draft, with its three optional child tables (review,
pfd_addressee and theme), read by their real clients: every record of a synthetic 2.0.0 submission satisfies
the JSON Schemas and the Data Package (jsonschema, frictionless), the Excel template has a sheet
per table and, filled with that submission, validates clean (openpyxl, the validator), and each
table's GX suite expresses or lists every rule of the table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import frictionless
import openpyxl
import polars as pl
import pytest
from jsonschema import Draft202012Validator

from mhdeaths.spec import Severity, Spec, load_spec
from mhdeaths.standard.publish import publish
from mhdeaths.standard.publish.excel import template_name
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.validate.validator import validate

VERSION = "2.0.0"
CHILDREN = ("review", "pfd_addressee", "theme")
NOTE = "Optional: a submission may leave this table out"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(VERSION)


@pytest.fixture(scope="module")
def out(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("published")
    publish(spec, folder, [spec.change])
    return folder


@pytest.fixture(scope="module")
def submission(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One provider-month of synthetic 2.0.0 files with every table, by table name."""
    folder = tmp_path_factory.mktemp("synth")
    options = SynthOptions(providers=6, months=12, seed=2, resubmissions=1.0)
    files = generate(spec, options, folder).files
    months: dict[tuple[Path, str], dict[str, Path]] = {}
    for path in files:
        _, period, table = path.stem.split("_", 2)
        months.setdefault((path.parent, period), {})[table] = path
    full = [m for m in months.values() if set(m) == {t.name for t in spec.tables}]
    assert full, "no synthetic month has every table"
    return full[0]


def records(path: Path) -> list[dict[str, str | None]]:
    return pl.read_csv(path, infer_schema=False).to_dicts()


def test_the_child_tables_are_published_and_said_to_be_optional(spec: Spec, out: Path) -> None:
    descriptor = json.loads((out / "datapackage.json").read_text("utf-8"))
    assert [r["name"] for r in descriptor["resources"]] == [t.name for t in spec.tables]
    for name in CHILDREN:
        schema = json.loads((out / "schema" / f"{name}.schema.json").read_text("utf-8"))
        assert NOTE in schema["description"]
        (resource,) = [r for r in descriptor["resources"] if r["name"] == name]
        assert NOTE in resource["description"]
        assert resource["schema"]["primaryKey"] == list(spec.table(name).key)
        suite = json.loads((out / f"gx-suite-{name}.json").read_text("utf-8"))
        assert suite["meta"]["presence"] == "optional"
    death = json.loads((out / "schema" / "death.schema.json").read_text("utf-8"))
    assert "Optional:" not in death["description"]


@pytest.mark.parametrize("table", ["death", *CHILDREN, "activity"])
def test_every_synthetic_record_satisfies_its_json_schema(
    spec: Spec, out: Path, submission: dict[str, Path], table: str
) -> None:
    schema = json.loads((out / "schema" / f"{table}.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    checker = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    rows = records(submission[table])
    assert rows
    for row in rows:
        assert [e.message for e in checker.iter_errors(row)] == []
    coded = next(f.name for f in spec.table(table).submitted_fields if f.code_list)
    assert [e.path[0] for e in checker.iter_errors({**rows[0], coded: "~~"})] == [coded]


def test_frictionless_finds_a_synthetic_submission_valid(
    out: Path, submission: dict[str, Path], tmp_path: Path
) -> None:
    report = frictionless.Package.validate_descriptor(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["type", "note"])
    shutil.copy(out / "datapackage.json", tmp_path / "datapackage.json")
    for table, path in submission.items():
        shutil.copy(path, tmp_path / f"{table}.csv")
    report = frictionless.Package(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type"])


def test_each_gx_suite_expresses_or_lists_every_rule_of_its_table(spec: Spec, out: Path) -> None:
    for table in spec.tables:
        suite = json.loads((out / f"gx-suite-{table.name}.json").read_text("utf-8"))
        # A rule may take more than one expectation (a date's shape, then its calendar).
        expressed = {e["meta"]["rule_id"] for e in suite["expectations"] if e["meta"]["rule_id"]}
        listed = suite["meta"]["not_expressible"]
        assert expressed.isdisjoint(listed) and len(set(listed)) == len(listed)
        assert sorted(expressed | set(listed)) == sorted(r.id for r in spec.rules_for(table.name))


def test_the_excel_template_filled_with_a_submission_validates_clean(
    spec: Spec, out: Path, submission: dict[str, Path], tmp_path: Path
) -> None:
    book = openpyxl.load_workbook(out / template_name(spec))
    names = [t.name for t in spec.tables]
    assert [n for n in book.sheetnames if n in names] == names
    readme = " ".join(str(c.value) for row in book["README"].iter_rows() for c in row if c.value)
    for name in CHILDREN:
        assert f"The {name} sheet is optional" in readme
    counts = {}
    for table in spec.tables:
        sheet = book[table.name]
        headers = [c.value for c in sheet[1]]
        assert headers == [f.name for f in table.submitted_fields]
        rows = records(submission[table.name])
        counts[table.name] = len(rows)
        for r, row in enumerate(rows, start=2):
            for c, name in enumerate(headers, start=1):
                sheet.cell(row=r, column=c, value=row[name])
    filled = tmp_path / f"{submission['death'].stem.rsplit('_', 1)[0]}.xlsx"
    book.save(filled)
    report = validate([filled], spec_version=VERSION).report
    assert {t.name: t.records for t in report.tables} == counts
    assert [
        (f.rule_id, f.row)
        for f in report.findings
        if f.severity in (Severity.FILE_REJECT, Severity.RECORD_REJECT) or f.table in CHILDREN
    ] == []


def test_every_field_new_in_2_0_0_is_in_every_artefact_with_its_national_source(
    spec: Spec, out: Path
) -> None:
    """The dictionary (with the field's MHSDS or other national source), the JSON Schema, the
    Data Package, the Excel template and the GX suite all carry each field 2.0.0 added."""
    # Markdown escapes (ward\_type) aside, the dictionary's text is the spec's.
    dictionary = (out / "data-dictionary.md").read_text("utf-8").replace("\\", "")
    package = json.loads((out / "datapackage.json").read_text("utf-8"))
    book = openpyxl.load_workbook(out / template_name(spec))
    new = 0
    for table in spec.tables:
        schema = json.loads((out / "schema" / f"{table.name}.schema.json").read_text("utf-8"))
        (resource,) = [r for r in package["resources"] if r["name"] == table.name]
        in_package = {f["name"] for f in resource["schema"]["fields"]}
        headers = {c.value for c in book[table.name][1]}
        suite = (out / f"gx-suite-{table.name}.json").read_text("utf-8")
        for field in table.submitted_fields:
            if field.since != VERSION:
                continue
            new += 1
            assert field.name in schema["properties"], field.name
            assert field.name in in_package and field.name in headers, field.name
            assert f'"{field.name}"' in suite, field.name
            assert field.name in dictionary and field.source in dictionary, field.name
    # Part 1 (the definitions) and part 2 (oversight, case-mix, method, themes) of 2.0.0.
    assert new >= 60

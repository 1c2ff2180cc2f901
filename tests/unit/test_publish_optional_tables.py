"""The published artefacts of a spec with an optional child table include it, and say it is
optional: JSON Schema, Data Package, Excel template, GX suite, data dictionary, each read by its
own real client (jsonschema, frictionless, openpyxl) where there is one."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import frictionless
import openpyxl
import pytest
from jsonschema import Draft202012Validator

from mhdeaths.paths import default_spec_root
from mhdeaths.spec import Spec, load_spec
from mhdeaths.standard.publish import publish
from mhdeaths.standard.publish.excel import template_name
from mhdeaths.validate.validator import validate
from tests.child_table import VERSION, add_review_table

NOTE = "Optional: a submission may leave this table out"


@pytest.fixture(scope="module")
def spec_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spec") / "spec"
    shutil.copytree(default_spec_root(), root)
    add_review_table(root)
    return root


@pytest.fixture(scope="module")
def spec(spec_root: Path) -> Spec:
    return load_spec(VERSION, spec_root)


@pytest.fixture(scope="module")
def out(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("published")
    publish(spec, folder, [spec.change])
    return folder


def _review_record(spec: Spec) -> dict[str, str | None]:
    return {f.name: f.example for f in spec.table("review").submitted_fields}


def test_every_artefact_has_the_child_table(out: Path) -> None:
    for path in (
        "schema/review.schema.json",
        "tableschema/review.json",
        "gx-suite-review.json",
    ):
        assert (out / path).is_file(), path
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert "schema/review.schema.json" in json.dumps(manifest)


def test_the_json_schema_checks_a_review_record_and_says_it_is_optional(
    spec: Spec, out: Path
) -> None:
    schema = json.loads((out / "schema" / "review.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    checker = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    record = _review_record(spec)
    assert list(checker.iter_errors(record)) == []
    assert [e.path[0] for e in checker.iter_errors({**record, "review_method": "77"})] == [
        "review_method"
    ]
    assert NOTE in schema["description"] and "with its death table" in schema["description"]
    # A main table says nothing of presence.
    death = json.loads((out / "schema" / "death.schema.json").read_text("utf-8"))
    assert "Optional:" not in death["description"]


def test_the_data_package_has_the_child_resource_and_frictionless_checks_it(
    spec: Spec, out: Path, tmp_path: Path
) -> None:
    descriptor = json.loads((out / "datapackage.json").read_text("utf-8"))
    assert [r["name"] for r in descriptor["resources"]] == ["death", "review", "activity"]
    (review,) = [r for r in descriptor["resources"] if r["name"] == "review"]
    assert NOTE in review["description"]
    assert review["schema"]["primaryKey"] == ["org_id_provider", "death_record_id", "review_id"]
    report = frictionless.Package.validate_descriptor(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["type", "note"])
    # The package beside a provider's files: header-only death and activity files, and a review
    # file with one good record and one with a code that is not in its list.
    shutil.copy(out / "datapackage.json", tmp_path / "datapackage.json")
    for table in spec.tables:
        names = [f.name for f in table.submitted_fields]
        rows = []
        if table.name == "review":
            good = _review_record(spec)
            rows = [
                [good[n] for n in names],
                [{**good, "review_id": "R2", "review_method": "77"}[n] for n in names],
            ]
        with (tmp_path / f"{table.name}.csv").open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([names, *rows])
    report = frictionless.Package(str(tmp_path / "datapackage.json")).validate()
    errors = report.flatten(["rowNumber", "fieldName", "type"])
    assert errors == [[3, "review_method", "constraint-error"]]


def test_the_gx_suite_of_the_child_table_says_it_is_optional(out: Path) -> None:
    suite = json.loads((out / "gx-suite-review.json").read_text("utf-8"))
    assert suite["meta"]["table"] == "review" and suite["meta"]["presence"] == "optional"
    ids = {e["meta"]["rule_id"] for e in suite["expectations"]}
    assert "review.mandatory.review_id" in ids
    assert "presence" not in json.loads((out / "gx-suite-death.json").read_text("utf-8"))["meta"]


def test_the_excel_template_has_one_sheet_per_table_and_validates_when_filled(
    spec: Spec, spec_root: Path, out: Path, tmp_path: Path
) -> None:
    path = out / template_name(spec)
    book = openpyxl.load_workbook(path)
    assert [n for n in book.sheetnames if n in {"death", "review", "activity"}] == [
        "death",
        "review",
        "activity",
    ]
    headers = [c.value for c in book["review"][1]]
    assert headers == [f.name for f in spec.table("review").submitted_fields]
    readme = " ".join(str(c.value) for row in book["README"].iter_rows() for c in row if c.value)
    assert "The review sheet is optional" in readme
    # Filled in as a provider would (text cells), the template validates, review sheet and all.
    death, activity = spec.table("death"), spec.table("activity")
    for table in (death, activity, spec.table("review")):
        sheet = book[table.name]
        for col, f in enumerate(table.submitted_fields, start=1):
            # The examples' spec_version is the field's first version, not this one.
            value = spec.version if f.name == "spec_version" else f.example
            sheet.cell(row=2, column=col, value=value)
    review = book["review"]
    by_name = {c.value: c.column for c in review[1]}
    review.cell(
        row=2, column=by_name["death_record_id"], value=death.field("death_record_id").example
    )
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    report = validate([filled], spec_root=spec_root).report
    assert {t.name: t.records for t in report.tables} == {"death": 1, "review": 1, "activity": 1}
    assert [(f.rule_id, f.row) for f in report.findings if f.table == "review"] == []


def test_the_data_dictionary_has_the_child_table_and_its_presence(out: Path) -> None:
    markdown = (out / "data-dictionary.md").read_text("utf-8")
    html = (out / "data-dictionary.html").read_text("utf-8")
    assert "## Table: Review (`review`)" in markdown
    assert f"| Presence | {NOTE}" in markdown
    assert 'id="table-review"' in html and "Presence" in html
    # Main tables have no presence row, so the released dictionaries are unchanged.
    assert markdown.count("| Presence |") == 1

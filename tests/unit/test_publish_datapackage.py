"""The published Data Package checks CSV extracts with frictionless, as an analyst would."""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import frictionless
import pytest

from mhdeaths.spec import Mandation, Rule, Table, load_spec
from mhdeaths.standard.publish.datapackage import expressible, write_data_package

SPEC = load_spec("1.0.0")
Record = dict[str, str | None]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("published")
    write_data_package(SPEC, out)
    return out


def example_record(table: Table) -> Record:
    return {f.name: f.example for f in table.submitted_fields}


def write_csv(path: Path, table: Table, records: Sequence[Record]) -> None:
    # As a provider's extract: every submitted field, in spec order, empty for a missing value.
    names = [f.name for f in table.submitted_fields]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for record in records:
            writer.writerow(["" if record.get(n) is None else record[n] for n in names])


def package_with(published: Path, folder: Path, records: dict[str, Sequence[Record]]) -> Path:
    """A copy of the published descriptor with the given records as its CSV files beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(published / "datapackage.json", folder / "datapackage.json")
    for table in SPEC.tables:
        write_csv(folder / f"{table.name}.csv", table, records.get(table.name, ()))
    return folder / "datapackage.json"


def cell_errors(report: frictionless.Report) -> set[tuple[int, str, str]]:
    return {
        (row, field, kind)
        for row, field, kind in report.flatten(["rowNumber", "fieldName", "type"])
        if kind in {"constraint-error", "type-error"}
    }


def test_descriptor_is_a_tabular_data_package(published: Path) -> None:
    descriptor = json.loads((published / "datapackage.json").read_text("utf-8"))
    assert descriptor["profile"] == "tabular-data-package"
    assert [r["path"] for r in descriptor["resources"]] == [f"{t.name}.csv" for t in SPEC.tables]
    report = frictionless.Package.validate_descriptor(str(published / "datapackage.json"))
    assert report.valid, report.flatten(["type", "note"])


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_standalone_table_schema_is_the_resources_schema(published: Path, table: Table) -> None:
    descriptor = json.loads((published / "datapackage.json").read_text("utf-8"))
    (resource,) = [r for r in descriptor["resources"] if r["name"] == table.name]
    standalone = json.loads((published / "tableschema" / f"{table.name}.json").read_text("utf-8"))
    assert standalone == resource["schema"]
    report = frictionless.Schema.validate_descriptor(standalone)
    assert report.valid, report.flatten(["type", "note"])
    assert standalone["primaryKey"] == list(table.key)
    assert standalone["missingValues"] == [""]
    required = [f["name"] for f in standalone["fields"] if f.get("constraints", {}).get("required")]
    assert required == [f.name for f in table.fields if f.mandation is Mandation.MANDATORY]


def test_valid_extracts_pass(published: Path, tmp_path: Path) -> None:
    records = {t.name: [example_record(t)] for t in SPEC.tables}
    report = frictionless.Package(package_with(published, tmp_path, records)).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_empty_optional_cells_and_leading_zeros_pass(published: Path, tmp_path: Path) -> None:
    table = SPEC.table("death")
    record = {
        f.name: (f.example if f.mandation is Mandation.MANDATORY else None)
        for f in table.submitted_fields
    }
    record["notification_source"] = "01"
    report = frictionless.Package(package_with(published, tmp_path, {"death": [record]})).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_a_wrong_code_is_a_constraint_error(published: Path, tmp_path: Path) -> None:
    good = example_record(SPEC.table("death"))
    bad = {**good, "death_record_id": "D2", "record_action": "Q"}
    path = package_with(published, tmp_path, {"death": [good, bad]})
    report = frictionless.Package(path).validate()
    assert not report.valid
    # Row 1 is the header, as in Excel and goodtables.
    assert cell_errors(report) == {(3, "record_action", "constraint-error")}


def _keys(table: Table) -> Any:
    # Distinct key values for each row, so that the only errors are the ones planted.
    if table.name == "activity":
        ages = SPEC.code_list("age_band").valid_codes()
        genders = SPEC.code_list("stated_gender").valid_codes()
        return ({"age_band": a, "stated_gender": g} for a, g in itertools.product(ages, genders))
    return ({"death_record_id": f"D{n}"} for n in itertools.count())


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_each_per_field_rules_counterexample_is_reported_on_its_row(
    published: Path, tmp_path: Path, table: Table
) -> None:
    # One row per rejecting per-field rule, each holding that rule's own counterexample value:
    # frictionless must flag exactly that cell, and nothing else.
    rules: list[Rule] = [
        r
        for r in SPEC.rules_for(table.name)
        if r.generated_from in {"mandatory", "code_list", "pattern", "type", "range", "max_length"}
    ]
    rows, expected = [], set()
    keys = _keys(table)
    for number, rule in enumerate(rules, start=2):
        (field,) = rule.fields
        (bad,) = rule.counterexample
        row = {**example_record(table), **next(keys)}
        row[field] = bad[field]
        rows.append(row)
        expected.add((number, field))
    path = package_with(published, tmp_path, {table.name: rows})
    report = frictionless.Package(path).validate()
    assert {(row, field) for row, field, _ in cell_errors(report)} == expected


def test_the_rules_table_schema_cannot_state_are_listed(published: Path) -> None:
    descriptor = json.loads((published / "datapackage.json").read_text("utf-8"))
    assert "mhdeaths_not_expressible" in descriptor["description"]
    for resource in descriptor["resources"]:
        listed = {r["rule_id"]: r for r in resource["mhdeaths_not_expressible"]}
        for rule in SPEC.rules_for(resource["name"]):
            # Stated (a one-field check Table Schema has) or listed, never both.
            assert (rule.id in listed) != expressible(SPEC, rule), rule.id
        kinds = {r["kind"] for r in listed.values()}
        assert {"cross_field", "cross_record", "file"} <= kinds, resource["name"]
        assert all(r["why"] and r["title"] for r in listed.values())

"""A value that does not read as its type is reported once, as the root cause: the rules that
would have judged it as empty stay silent on that record."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mhdeaths.validate.validator import validate

EXAMPLE = Path(__file__).resolve().parents[2] / "submissions/examples/RZ1/RZ1_2027-10_death.csv"


def test_an_unreadable_date_is_one_finding_not_a_cascade(tmp_path: Path) -> None:
    frame = pl.read_csv(EXAMPLE, infer_schema=False)
    first = (
        frame.with_row_index()
        .with_columns(
            pl.when(pl.col("index") == 0)
            .then(pl.lit("31/10/2027"))
            .otherwise(pl.col("death_date"))
            .alias("death_date")
        )
        .drop("index")
    )
    path = tmp_path / "RZ1_2027-10_death.csv"
    first.write_csv(path)
    report = validate([path]).report
    at_row_2 = sorted(f.rule_id for f in report.findings if f.row == 2)
    assert at_row_2 == ["death.type.death_date"]
    # The same cross-field rules still judge the other records.
    assert report.verdict.value == "rejected"


def _without(tmp_path: Path, *columns: str) -> Path:
    path = tmp_path / "RZ1_2027-10_death.csv"
    pl.read_csv(EXAMPLE, infer_schema=False).drop(columns).write_csv(path)
    return path


def test_a_missing_mandatory_column_is_one_finding_and_its_rules_stay_silent(
    tmp_path: Path,
) -> None:
    whole = validate([EXAMPLE]).report
    report = validate([_without(tmp_path, "death_record_id", "record_action")]).report
    assert sorted((f.rule_id, f.field) for f in report.findings if f.severity == "file_reject") == [
        ("death.structure.missing_mandatory_column", "death_record_id"),
        ("death.structure.missing_mandatory_column", "record_action"),
    ]
    # No record is rejected for a key or action it could not have: those rules were left out,
    # and the report says so.
    assert not [f for f in report.findings if f.severity == "record_reject"]
    assert report.rules_checked < whole.rules_checked
    (note,) = [n for n in report.notes if "were not checked" in n]
    assert "(death_record_id, record_action)" in note


def test_a_missing_optional_column_leaves_every_rule_checked(tmp_path: Path) -> None:
    whole = validate([EXAMPLE]).report
    report = validate([_without(tmp_path, "postcode")]).report
    assert report.rules_checked == whole.rules_checked
    assert not [n for n in report.notes if "were not checked" in n]
    assert [f.rule_id for f in report.findings if f.field == "postcode"] == [
        "death.structure.missing_column"
    ]

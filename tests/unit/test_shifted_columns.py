"""A shifted column puts identifiers into fields that are normally safe to show: findings withhold
any value that looks like an NHS number, a date or a postcode, or is longer than any code."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mhdeaths.validate.validator import validate

EXAMPLE = Path(__file__).resolve().parents[2] / "submissions/examples/RZ1/RZ1_2027-10_death.csv"


def test_identifier_like_values_in_coded_fields_are_withheld(tmp_path: Path) -> None:
    frame = pl.read_csv(EXAMPLE, infer_schema=False)
    shifted = frame.with_columns(
        pl.col("nhs_number").alias("ethnic_category"),
        pl.col("postcode").alias("place_of_death_type"),
        pl.col("person_birth_date").alias("ld_autism_status"),
        pl.lit("ZZ").alias("gender_identity"),
    )
    path = tmp_path / "RZ1_2027-10_death.csv"
    shifted.write_csv(path)
    report = validate([path]).report
    shown = {f.field: f.value for f in report.findings if f.rule_id.startswith("death.code_list.")}
    assert shown["ethnic_category"] == "(value withheld)"
    assert shown["place_of_death_type"] == "(value withheld)"
    assert shown["ld_autism_status"] == "(value withheld)"
    assert shown["gender_identity"] == "ZZ"  # a wrong code is still shown, to be found
    text = report.model_dump_json()
    for column in ("nhs_number", "postcode", "person_birth_date"):
        for value in frame[column].drop_nulls():
            assert value not in text

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

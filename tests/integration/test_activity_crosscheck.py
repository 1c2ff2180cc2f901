"""The activity cross-check (issue 16): a provider's submitted activity against the same measures
counted from the MHSDS spells feed, on hand-made spells whose counts are worked out below."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from mhdeaths.warehouse.feeds import load_feed
from mhdeaths.warehouse.linkage import BED_DAYS_TOLERANCE
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.overview import status
from mhdeaths.warehouse.pseudonym import demo_key

from ..functional.test_load_feed_cli import SPELL_FIELDS, write_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples" / "RZ1"
APRIL = sorted(EXAMPLES.glob("RZ1_2028-04_*.csv"))

# RZ1's spells as MHSDS delivers them for April and May 2028. April, by hand:
#   S1 admitted 30 March, discharged alive 2 April: 1 discharge, 1 midnight in April (1 April);
#   S2 admitted 10 April, still open: 1 admission, 21 midnights (10 to 30 April);
#   S3 admitted and died on 5 April: 1 admission, 1 death, no midnight;
#   S4 admitted 20 April, discharged 3 May: 1 admission, 11 midnights in April (20 to 30 April).
SPELLS = {
    "2028-04": [
        ["RZ1", "S1", "2028-04", "9434765919", "", "2028-03-30", "2028-04-02", "1", "19", "01"],
        ["RZ1", "S2", "2028-04", "9434765870", "", "2028-04-10", "", "", "", "01"],
        ["RZ1", "S3", "2028-04", "9434765862", "", "2028-04-05", "2028-04-05", "4", "79", "01"],
        ["RZ1", "S4", "2028-04", "", "", "2028-04-20", "", "", "", "01"],
    ],
    # May's delivery: S4 closes; S2 is still open (its April midnights are unchanged).
    "2028-05": [
        ["RZ1", "S2", "2028-05", "9434765870", "", "2028-04-10", "", "", "", "01"],
        ["RZ1", "S4", "2028-05", "", "", "2028-04-20", "2028-05-03", "1", "19", "01"],
    ],
}
FROM_SPELLS = {"admissions": 3, "discharges_live": 1, "deaths_in_spell": 1, "occupied_bed_days": 33}
MEASURES = tuple(FROM_SPELLS)


@pytest.fixture(scope="module")
def crosscheck(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("crosscheck")
    warehouse = folder / "w.duckdb"
    key = demo_key()
    load(warehouse, APRIL, key=key)
    files = [
        write_csv(folder / f"spells_{month}.csv", SPELL_FIELDS, rows)
        for month, rows in SPELLS.items()
    ]
    outcomes = load_feed(warehouse, "spells", files, key=key)
    assert [o.status for o in outcomes] == ["loaded", "loaded"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute("SELECT * FROM activity_crosscheck")
        names = [d[0] for d in cursor.description or ()]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        quality = con.execute(
            "SELECT reporting_period, activity_differs FROM data_quality WHERE provider = 'RZ1'"
        ).fetchall()
    assert len(rows) == 1, rows  # May has spells but no submission: not compared
    return {"row": rows[0], "quality": dict(quality), "differs": status(warehouse).activity_differs}


def test_the_spells_are_counted_by_month_and_midnight(crosscheck: dict[str, object]) -> None:
    row = crosscheck["row"]
    assert isinstance(row, dict)
    assert (row["provider"], row["reporting_period"]) == ("RZ1", "2028-04")
    assert {m: row[f"{m}_spells"] for m in MEASURES} == FROM_SPELLS


def test_the_submitted_activity_is_summed_over_its_strata(crosscheck: dict[str, object]) -> None:
    row = crosscheck["row"]
    assert isinstance(row, dict)
    activity = pl.read_csv(EXAMPLES / "RZ1_2028-04_activity.csv").select(MEASURES).sum()
    submitted = activity.row(0, named=True)
    assert {m: row[f"{m}_submitted"] for m in MEASURES} == submitted
    for m in MEASURES:
        difference = submitted[m] - FROM_SPELLS[m]
        assert row[f"{m}_difference"] == difference
    for m in ("admissions", "discharges_live", "deaths_in_spell"):
        assert row[f"{m}_differs"] == (submitted[m] != FROM_SPELLS[m])
    larger = max(submitted["occupied_bed_days"], FROM_SPELLS["occupied_bed_days"])
    gap = abs(submitted["occupied_bed_days"] - FROM_SPELLS["occupied_bed_days"])
    assert row["occupied_bed_days_differs"] == (gap > BED_DAYS_TOLERANCE * larger)


def test_data_quality_flags_a_period_whose_activity_differs(crosscheck: dict[str, object]) -> None:
    quality = crosscheck["quality"]
    assert isinstance(quality, dict)
    row = crosscheck["row"]
    assert isinstance(row, dict)
    assert quality["2028-04"] is any(row[f"{m}_differs"] for m in MEASURES)
    assert quality["2028-04"] is True  # the examples' activity is not these four spells
    assert all(v is None for p, v in quality.items() if p != "2028-04")


def test_status_names_the_provider_whose_activity_differs(crosscheck: dict[str, object]) -> None:
    assert crosscheck["differs"] == (("RZ1", 1),)

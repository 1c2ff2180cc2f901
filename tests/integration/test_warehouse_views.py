"""The warehouse's spec 2.0.0 views (build plan 9.4), on real DuckDB files loaded with real
submissions: synthetic 2.0.0 files with planted cases written into them (two providers giving
one death different dates, a death after a transfer the receiving provider never reports, a
coroner's report with a response not sent, a review whose death record is withdrawn), each of
which the view meant to find must find, once, and the as-at forms must give back an earlier
state after later submissions changed it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, Transfer, generate
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key
from mhdeaths.warehouse.store import connect

from ..conftest import LOADABLE, SPEC_ROOT

LATEST = load_spec(LOADABLE[-1], SPEC_ROOT)
KEY = demo_key()
# The synthetic months (2028-04 to 2028-06) arrive in July; corrections in September.
FIRST = dt.datetime(2028, 7, 10, 9, 0)
SECOND = dt.datetime(2028, 9, 10, 9, 0)
# Seed 7 writes an addressee of a coroner's report (RZ2, 2028-05) with no response sent: the
# report is dated 2029-05-11, so the response is due on 2029-07-06.
SEED = 7
PFD_DUE = dt.date(2029, 7, 6)


@dataclass(frozen=True)
class Planted:
    folder: Path
    warehouse: Path
    conflict: Transfer
    """The sending provider's record of this death now gives the day before."""
    unmatched: Transfer
    """The receiving provider's record of this death is gone."""


def _file(folder: Path, provider: str, record_id: str, table: str = "death") -> Path:
    """The file of the month a synthetic record id names (``RZ1-D-202804-0001``)."""
    period = record_id.split("-")[2]
    return folder / provider / f"{provider}_{period[:4]}-{period[4:]}_{table}.csv"


def _rewrite(path: Path, change: pl.Expr | None = None, keep: pl.Expr | None = None) -> None:
    frame = pl.read_csv(path, infer_schema=False)
    if keep is not None:
        frame = frame.filter(keep)
    if change is not None:
        frame = frame.with_columns(change)
    frame.write_csv(path)


def plant(folder: Path, transfers: list[Transfer]) -> tuple[Transfer, Transfer]:
    """Write the conflict and the unmatched transfer into the synthetic files."""
    conflict = None
    for transfer in transfers:
        path = _file(folder, transfer.sending_provider, transfer.sending_record_id)
        frame = pl.read_csv(path, infer_schema=False).filter(
            pl.col("death_record_id") == transfer.sending_record_id
        )
        death = dt.date.fromisoformat(frame["death_date"][0])
        discharge = dt.date.fromisoformat(frame["discharge_date"][0])
        if (death - discharge).days >= 2:
            conflict = transfer
            earlier = (death - dt.timedelta(days=1)).isoformat()
            _rewrite(
                path,
                pl.when(pl.col("death_record_id") == transfer.sending_record_id)
                .then(pl.lit(earlier))
                .otherwise(pl.col("death_date"))
                .alias("death_date"),
            )
            break
    assert conflict is not None, "the fixture needs a transfer death two days after discharge"
    unmatched = next(t for t in transfers if t is not conflict)
    gone = pl.col("death_record_id") != unmatched.receiving_record_id
    receiver, record = unmatched.receiving_provider, unmatched.receiving_record_id
    _rewrite(_file(folder, receiver, record), keep=gone)
    review = _file(folder, receiver, record, "review")
    if review.is_file():
        _rewrite(review, keep=gone)
    return conflict, unmatched


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    root = tmp_path_factory.mktemp("views")
    folder = root / "synthetic"
    result = generate(
        LATEST,
        SynthOptions(providers=2, months=3, start="2028-04", seed=SEED, transfers=1.0),
        folder,
    )
    conflict, unmatched = plant(folder, result.transfers)
    warehouse = root / "w.duckdb"
    outcomes = load(warehouse, [folder], key=KEY, received_at=FIRST)
    assert [o.status for o in outcomes if o.status != "loaded"] == [], outcomes
    return Planted(folder, warehouse, conflict, unmatched)


def rows(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with connect(path, read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def dicts(path: Path, sql: str, *params: object) -> list[dict[str, object]]:
    with connect(path, read_only=True) as con:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_duplicate_deaths_group_by_person_and_show_no_pseudonym(planted: Planted) -> None:
    groups = dicts(planted.warehouse, "SELECT * FROM duplicate_deaths")
    assert groups and "nhs_number_pseudonym" not in groups[0]
    # Every transfer but the unmatched one is one death reported twice, whatever its dates.
    assert len(groups) == len(
        rows(
            planted.warehouse,
            "SELECT DISTINCT nhs_number_pseudonym FROM deaths WHERE times_reported > 1",
        )
    )
    conflict = [g for g in groups if planted.conflict.sending_record_id in str(g["reported_as"])]
    assert len(conflict) == 1
    assert conflict[0]["records"] == 2
    assert conflict[0]["dates_of_death"] == 2
    assert conflict[0]["days_apart"] == 1
    others = [g for g in groups if g is not conflict[0]]
    assert others and all(g["dates_of_death"] == 1 and g["days_apart"] == 0 for g in others)


def test_two_dates_of_death_make_one_conflict_row(planted: Planted) -> None:
    conflicts = dicts(planted.warehouse, "SELECT * FROM death_date_conflicts")
    assert len(conflicts) == 1
    (row,) = conflicts
    assert "nhs_number_pseudonym" not in row
    t = planted.conflict
    # The receiving provider's inpatient death is counted, with its own date (plan Q9).
    assert row["reported_as"] == (
        f"{t.receiving_provider}:{t.receiving_record_id}, {t.sending_provider}:{t.sending_record_id}"
    )
    assert row["attributed_provider"] == t.receiving_provider
    assert str(row["death_date"]) == t.death_date
    earlier = (dt.date.fromisoformat(t.death_date) - dt.timedelta(days=1)).isoformat()
    assert row["death_dates"] == f"{t.death_date}, {earlier}"
    assert row["dates_of_death"] == 2 and row["days_apart"] == 1
    # Still one death, counted once.
    counted = rows(
        planted.warehouse,
        "SELECT count(*) FILTER (WHERE counted), count(*) FROM deaths WHERE death_record_id IN (?, ?)",
        t.sending_record_id,
        t.receiving_record_id,
    )
    assert counted == [(1, 2)]

"""The warehouse's spec 2.0.0 views (build plan 9.4), on real DuckDB files loaded with real
submissions: synthetic 2.0.0 files with planted cases written into them (two providers giving
one death different dates, a death after a transfer the receiving provider never reports, a
coroner's report with a response not sent, a review whose death record is withdrawn), each of
which the view meant to find must find, once, and the as-at forms must give back an earlier
state after later submissions changed it.
"""

from __future__ import annotations

import datetime as dt
import json
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
from ..functional.cli import mhdeaths
from .test_warehouse_reliability import ENV

LATEST = load_spec(LOADABLE[-1], SPEC_ROOT)
KEY = demo_key()
# The synthetic months (2028-04 to 2028-06) are loaded as received on FIRST (before the test
# runs, so that "as at now" sees them), their corrections on SECOND (after every date in them).
FIRST = dt.datetime(2026, 11, 2, 9, 0)
SECOND = dt.datetime(2029, 9, 1, 9, 0)
# Seed 7 writes an addressee of a coroner's report (RZ2, 2028-05, addressee 2) with no response
# sent: the report is dated 2029-05-11, so the response is due on 2029-07-06.
SEED = 7
PFD = ("RZ2", "RZ2-D-202805-0001", "2")
PFD_DUE = dt.date(2029, 7, 6)
# The resubmission withdraws this death (out of scope, no transfer) and leaves its review.
WITHDRAWN = ("RZ1", "RZ1-D-202804-0001")


@dataclass(frozen=True)
class Planted:
    folder: Path
    warehouse: Path
    conflict: Transfer
    """The sending provider's record of this death now gives the day before."""
    unmatched: Transfer
    """The receiving provider's record of this death is gone."""
    before: dict[str, list[tuple[object, ...]]]
    """Views read after the first load, before the corrections."""
    read_at: dt.datetime


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


def corrections(folder: Path, out: Path) -> None:
    """Resubmit two months: RZ2 2028-05 sends the missing response to the coroner's report;
    RZ1 2028-04 withdraws one death and leaves its review (an orphan)."""
    for provider, period in (("RZ2", "2028-05"), ("RZ1", "2028-04")):
        (out / provider).mkdir(parents=True)
        for source in (folder / provider).glob(f"{provider}_{period}_*.csv"):
            frame = pl.read_csv(source, infer_schema=False)
            if "record_action" in frame.columns:
                frame = frame.with_columns(record_action=pl.lit("U"))
            if source.name.endswith("_death.csv"):
                frame = frame.with_columns(
                    record_action=pl.when(pl.col("death_record_id") == WITHDRAWN[1])
                    .then(pl.lit("D"))
                    .otherwise(pl.col("record_action"))
                )
            if source.name.endswith("_pfd_addressee.csv"):
                frame = frame.with_columns(
                    response_sent_date=pl.when(pl.col("addressee_id") == PFD[2])
                    .then(pl.lit("2029-08-20"))
                    .otherwise(pl.col("response_sent_date"))
                )
            frame.write_csv(out / provider / source.name)


READ_BEFORE = {
    "data_quality": "SELECT * FROM data_quality ORDER BY ALL",
    "pfd_responses": "SELECT * FROM pfd_responses ORDER BY ALL",
    "transfers_unmatched": "SELECT * FROM transfers_unmatched ORDER BY ALL",
    "death_date_conflicts": "SELECT * FROM death_date_conflicts ORDER BY ALL",
}


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
    read_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    before = {name: rows(warehouse, sql) for name, sql in READ_BEFORE.items()}
    corrections(folder, root / "corrections")
    outcomes = load(warehouse, [root / "corrections"], key=KEY, received_at=SECOND)
    assert [o.status for o in outcomes] == ["loaded", "loaded"], outcomes
    return Planted(folder, warehouse, conflict, unmatched, before, read_at)


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


def test_a_transfer_the_receiver_never_reported_is_one_unmatched_row(planted: Planted) -> None:
    t = planted.unmatched
    death = dt.date.fromisoformat(t.death_date)
    period = f"{t.sending_record_id.split('-')[2][:4]}-{t.sending_record_id.split('-')[2][4:]}"
    assert rows(planted.warehouse, "SELECT * FROM transfers_unmatched_as_at(?)", FIRST) == [
        (
            t.sending_provider,
            t.sending_record_id,
            t.receiving_provider,
            period,
            (FIRST.date() - death).days,
        )
    ]
    # Before anything was received there is nothing to match.
    assert rows(
        planted.warehouse,
        "SELECT count(*) FROM transfers_unmatched_as_at(?)",
        FIRST - dt.timedelta(days=1),
    ) == [(0,)]
    # The matched transfers are not listed: each has the receiver's record of the same person.
    matched = rows(
        planted.warehouse,
        "SELECT count(*) FROM deaths WHERE transfer_discharge AND death_category = 'D30'",
    )[0][0]
    assert matched > 1
    assert len(planted.before["transfers_unmatched"]) == 1


def test_a_death_in_detention_is_listed_once(planted: Planted) -> None:
    listed = dicts(planted.warehouse, "SELECT * FROM deaths_in_state_detention")
    expected = rows(
        planted.warehouse,
        "SELECT org_id_provider, death_record_id FROM deaths WHERE counted AND died_in_state_detention",
    )
    assert listed, "the fixture needs a death of a detained patient"
    assert sorted((r["org_id_provider"], r["death_record_id"]) for r in listed) == sorted(expected)
    months = dict(
        rows(
            planted.warehouse,
            "SELECT death_record_id, strftime(death_date, '%Y-%m') FROM deaths WHERE counted",
        )
    )
    for row in listed:
        assert row["detention_group"] in {"02", "03", "04"}
        assert row["death_month"] == months[row["death_record_id"]]
    # A detained patient reported by two providers is still one row.
    every = rows(
        planted.warehouse,
        "SELECT count(DISTINCT nhs_number_pseudonym), count(*) FROM deaths WHERE died_in_state_detention",
    )[0]
    assert len(listed) == every[0] <= every[1]


def test_an_unanswered_coroners_report_is_overdue_only_after_its_due_date(
    planted: Planted,
) -> None:
    query = (
        "SELECT overdue, days_overdue, response_due_date FROM pfd_responses_as_at(?) "
        "WHERE org_id_provider = ? AND death_record_id = ? AND addressee_id = ?"
    )
    after_due = dt.datetime.combine(PFD_DUE + dt.timedelta(days=10), dt.time(12))
    on_due = dt.datetime.combine(PFD_DUE, dt.time(12))
    assert rows(planted.warehouse, query, after_due, *PFD) == [(True, 10, PFD_DUE)]
    assert rows(planted.warehouse, query, on_due, *PFD) == [(False, None, PFD_DUE)]
    # Only that addressee is overdue: the other response was sent (late, but sent).
    overdue = rows(
        planted.warehouse,
        "SELECT org_id_provider, death_record_id, addressee_id FROM pfd_responses_as_at(?) "
        "WHERE overdue",
        after_due,
    )
    assert overdue == [PFD]
    # The response sent in the resubmission closes it, in the current view and after receipt.
    assert rows(planted.warehouse, query, SECOND, *PFD) == [(False, None, PFD_DUE)]
    current = dicts(
        planted.warehouse,
        "SELECT * FROM pfd_responses WHERE org_id_provider = ? AND death_record_id = ? "
        "AND addressee_id = ?",
        *PFD,
    )
    assert [(r["record_action"], str(r["response_sent_date"]), r["overdue"]) for r in current] == [
        ("U", "2029-08-20", False)
    ]
    # The history keeps both versions of the addressee, the first one superseded.
    history = rows(
        planted.warehouse,
        "SELECT submission_status, response_sent_date IS NULL FROM pfd_addressee_history "
        "WHERE org_id_provider = ? AND death_record_id = ? AND addressee_id = ? ORDER BY received_at",
        *PFD,
    )
    assert history == [("superseded", True), ("current", False)]


def test_an_inquest_open_over_12_months_is_listed_once(planted: Planted) -> None:
    open_inquests = rows(
        planted.warehouse,
        "SELECT DISTINCT inquest_opened_date FROM deaths WHERE counted AND inquest_status = 'O'",
    )
    assert open_inquests, "the fixture needs an open inquest"
    opened = min(r[0] for r in open_inquests)
    assert isinstance(opened, dt.date)
    year_on = dt.datetime.combine(opened.replace(year=opened.year + 1), dt.time(12))
    query = "SELECT count(*) FROM inquests_open_over_12_months_as_at(?)"
    assert rows(planted.warehouse, query, year_on) == [(0,)]
    later = rows(planted.warehouse, query, year_on + dt.timedelta(days=1))[0][0]
    assert later == sum(1 for (d,) in open_inquests if d == opened)
    # Counted deaths only: a death both providers report is one row.
    assert (
        later
        == rows(
            planted.warehouse,
            "SELECT count(DISTINCT nhs_number_pseudonym) FROM deaths "
            "WHERE inquest_status = 'O' AND inquest_opened_date = ?",
            opened,
        )[0][0]
    )


def _period(record_id: str) -> str:
    month = record_id.split("-")[2]
    return f"{month[:4]}-{month[4:]}"


def test_data_quality_counts_each_planted_case_where_it_belongs(planted: Planted) -> None:
    quality = {
        (r["provider"], r["reporting_period"]): r
        for r in dicts(planted.warehouse, "SELECT * FROM data_quality")
    }
    assert len(quality) == 6  # two providers, three months

    def where(column: str) -> dict[tuple[str, str], object]:
        return {k: r[column] for k, r in quality.items() if r[column]}

    c, u = planted.conflict, planted.unmatched
    # A provider is in a conflict when any of its records is: both providers, once each.
    assert where("death_date_conflicts") == {
        (c.sending_provider, _period(c.sending_record_id)): 1,
        (c.receiving_provider, _period(c.receiving_record_id)): 1,
    }
    # The unmatched transfer: sent by one, missing at the other (by the sender's period).
    assert where("transfers_unmatched_sent") == {
        (u.sending_provider, _period(u.sending_record_id)): 1
    }
    assert where("transfers_unmatched_received") == {
        (u.receiving_provider, _period(u.sending_record_id)): 1
    }
    # The review left behind by the withdrawn death, and nowhere else.
    assert where("orphan_reviews") == {(WITHDRAWN[0], "2028-04"): 1}
    assert rows(
        planted.warehouse,
        "SELECT count(*) FROM reviews WHERE org_id_provider = ? AND death_record_id = ?",
        *WITHDRAWN,
    ) == [(1,)]
    # Before the withdrawal there was no orphan, and the withdrawn death was out of scope.
    first = {
        (r["provider"], r["reporting_period"]): r
        for r in dicts(planted.warehouse, "SELECT * FROM data_quality_as_at(?)", FIRST)
    }
    assert sum(r["orphan_reviews"] for r in first.values()) == 0
    out_of_scope = rows(
        planted.warehouse,
        "SELECT NOT in_reporting_scope FROM deaths_as_at(?) WHERE org_id_provider = ? "
        "AND death_record_id = ?",
        FIRST,
        *WITHDRAWN,
    )[0][0]
    assert first[WITHDRAWN[0], "2028-04"]["out_of_scope_records"] == int(out_of_scope)
    assert quality[WITHDRAWN[0], "2028-04"]["out_of_scope_records"] == 0


def test_data_quality_measures_agree_with_the_records(planted: Planted) -> None:
    measured = rows(
        planted.warehouse,
        "SELECT provider, reporting_period, notification_lag_median_days, pds_traced_pct, "
        "nhs_number_unmatchable_pct FROM data_quality ORDER BY ALL",
    )
    frame = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in sorted(planted.folder.glob("*/*_death.csv"))]
    )
    withdrawn = (pl.col("org_id_provider") == WITHDRAWN[0]) & (
        pl.col("death_record_id") == WITHDRAWN[1]
    )
    frame = frame.filter(~withdrawn).with_columns(
        lag=(
            pl.col("date_provider_notified").str.to_date() - pl.col("death_date").str.to_date()
        ).dt.total_days()
    )
    for provider, period, median_lag, pds_pct, unmatchable_pct in measured:
        month = frame.filter(
            (pl.col("org_id_provider") == provider) & (pl.col("reporting_period") == period)
        )
        after = month.filter(pl.col("patient_status_at_death") == "07")
        if after.height:
            assert median_lag == after["lag"].median()
            assert pds_pct == round(100 * after["pds_traced_date"].count() / after.height, 1)
        else:
            assert median_lag is None and pds_pct is None
        unmatchable = month.filter(pl.col("nhs_number_status").is_in(["04", "07"])).height
        assert unmatchable_pct == round(100 * unmatchable / month.height, 1)


def test_cause_unknown_is_measured_only_for_deaths_over_a_year_old(planted: Planted) -> None:
    query = "SELECT sum(cause_none_over_12_months_pct IS NOT NULL) FROM data_quality_as_at(?)"
    # Every synthetic death is in 2028-04 to 2028-06: none a year old in 2028, all by 2029-07.
    assert rows(planted.warehouse, query, dt.datetime(2029, 3, 1))[0][0] == 0
    later = dt.datetime(2029, 7, 1)
    assert rows(planted.warehouse, query, later)[0][0] == 6
    expected = rows(
        planted.warehouse,
        "SELECT org_id_provider, reporting_period, "
        "round(100.0 * count(*) FILTER (WHERE cause_basis = 'NONE') / count(*), 1) "
        "FROM deaths_as_at(?) GROUP BY ALL ORDER BY ALL",
        later,
    )
    assert expected == rows(
        planted.warehouse,
        "SELECT provider, reporting_period, cause_none_over_12_months_pct "
        "FROM data_quality_as_at(?) ORDER BY ALL",
        later,
    )


def test_the_as_at_forms_give_back_what_was_read_before_the_corrections(
    planted: Planted,
) -> None:
    """Read after the first load, and asked "as at then" after the corrections: the same rows.
    The corrections (received later) changed the data quality and the responses since."""
    for name, before in planted.before.items():
        sql = READ_BEFORE[name].replace(f"FROM {name}", f"FROM {name}_as_at(?)")
        again = rows(planted.warehouse, sql, planted.read_at)
        assert again == before, name
    changed = {
        name: rows(planted.warehouse, sql) != planted.before[name]
        for name, sql in READ_BEFORE.items()
    }
    assert changed["data_quality"] and changed["pfd_responses"], changed


def test_status_and_history_count_reviews_and_coroners_report_addressees(
    planted: Planted,
) -> None:
    expected = rows(
        planted.warehouse,
        "SELECT (SELECT count(*) FROM review_record), (SELECT count(*) FROM reviews), "
        "(SELECT count(*) FROM pfd_addressee_record), (SELECT count(*) FROM pfd_responses), "
        "(SELECT count(*) FROM pfd_responses WHERE overdue)",
    )[0]
    run = mhdeaths("warehouse", "status", "--format", "json", "-w", planted.warehouse, env=ENV)
    assert run.code == 0, run.output
    status = json.loads(run.stdout)
    assert (
        status["review_records_stored"],
        status["reviews"],
        status["pfd_addressee_records_stored"],
        status["pfd_addressees"],
        status["pfd_responses_overdue"],
    ) == expected
    assert status["orphan_reviews"] == 1
    # Three addressees (one overdue in 2029, but not today), RZ2's two sent again in the correction.
    assert (status["pfd_addressees"], status["pfd_addressee_records_stored"]) == (3, 5)
    text = mhdeaths("warehouse", "status", "-w", planted.warehouse, env=ENV)
    assert text.code == 0, text.output
    assert f"reviews now: {expected[1]} (1 of no current death record)" in text.stdout
    assert "addressees now: 3 (0 responses overdue)" in text.stdout

    run = mhdeaths("warehouse", "history", "--format", "json", "-w", planted.warehouse, env=ENV)
    assert run.code == 0, run.output
    history = {(r["submission_id"]): r for r in json.loads(run.stdout)}
    stored = rows(
        planted.warehouse,
        "SELECT submission_id, review_rows, pfd_addressee_rows FROM submission ORDER BY 1",
    )
    assert [
        (i, history[i]["review_rows"], history[i]["pfd_addressee_rows"]) for i, *_ in stored
    ] == stored
    assert sum(r["pfd_addressee_rows"] for r in history.values()) == 5
    table = mhdeaths("warehouse", "history", "-w", planted.warehouse, env=ENV)
    assert table.code == 0 and "PFD addressees" in table.stdout, table.output


def test_the_export_writes_reviews_and_addressees_beside_deaths(
    planted: Planted, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    run = mhdeaths("warehouse", "export", "--out", out, "-w", planted.warehouse, env=ENV)
    assert run.code == 0, run.output
    for folder, view in (("reviews", "reviews"), ("pfd_addressees", "pfd_responses")):
        parts = sorted((out / folder).rglob("*.parquet"))
        assert parts and all(p.parent.name.startswith("provider=RZ") for p in parts), folder
        with connect(planted.warehouse, read_only=True) as con:
            expected = con.execute(
                f"SELECT org_id_provider, count(*) FROM {view} GROUP BY ALL ORDER BY ALL"
            ).fetchall()
            back = con.execute(
                "SELECT provider, count(*) FROM read_parquet(?, hive_partitioning = true) "
                "GROUP BY ALL ORDER BY ALL",
                [str(out / folder / "**" / "*.parquet")],
            ).fetchall()
        assert back == expected, folder

"""The synthetic national feeds (``mhdeaths synth --feeds``, issue 16): they leave the providers'
files as they were, load without rejection, give back each provider-month's activity in the
warehouse's own cross-check, and hold exactly the deaths a provider was made to leave out."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import duckdb
import nhs_number
import polars as pl
import pytest

from mhdeaths.spec import Spec, load_spec
from mhdeaths.synth import SynthOptions, SynthResult, generate
from mhdeaths.warehouse.feeds import FeedOutcome, load_feed
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key

from ..functional.cli import mhdeaths

UNDER = "RZ2"
SHARE = 0.4
GAPS = "RZ3"
OPTIONS = SynthOptions(
    providers=3,
    months=4,
    start="2028-04",
    seed=21,
    resubmissions=0.4,
    transfers=0.25,
    planted_cases=True,
    feeds=True,
    background_deaths=2000,
    under_report=((UNDER, SHARE),),
    spells_missing=((GAPS, 0.05),),
    # Deaths referred to a coroner are registered months later: an extract long enough for them.
    registrations_to="2029-12",
)
MEASURES = ("admissions", "discharges_live", "deaths_in_spell", "occupied_bed_days")
EXTRACT_END = dt.date(2029, 12, 31)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec("2.0.0")


@pytest.fixture(scope="module")
def run(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthResult]:
    out = tmp_path_factory.mktemp("synth-feeds")
    return out, generate(spec, OPTIONS, out)


@pytest.fixture(scope="module")
def warehouse(
    run: tuple[Path, SynthResult], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[FeedOutcome], list[FeedOutcome]]:
    _, result = run
    assert result.feeds is not None
    path = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    key = demo_key()
    loaded = load(path, result.files, key=key)
    assert {o.status for o in loaded} == {"loaded"}
    spells = load_feed(path, "spells", result.feeds.spell_files, key=key)
    registrations = load_feed(path, "registrations", result.feeds.registration_files, key=key)
    return path, spells, registrations


def query(path: Path, sql: str) -> list[dict[str, object]]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_providers_files_are_the_same_with_or_without_the_feeds(
    spec: Spec, run: tuple[Path, SynthResult], tmp_path: Path
) -> None:
    out, with_feeds = run
    plain = replace(OPTIONS, feeds=False, under_report=(), spells_missing=())
    without = generate(spec, plain, tmp_path)
    assert [f.relative_to(tmp_path) for f in without.files] == [
        f.relative_to(out) for f in with_feeds.files
    ]
    for a, b in zip(with_feeds.files, without.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not (tmp_path / "feeds").exists()


def test_the_feeds_are_one_file_a_month_and_a_year(run: tuple[Path, SynthResult]) -> None:
    out, result = run
    assert result.feeds is not None
    names = [p.name for p in result.feeds.spell_files + result.feeds.registration_files]
    months = [f"spells_2028-{m:02d}.parquet" for m in range(4, 8)]
    assert names == [*months, "registrations_2028.parquet", "registrations_2029.parquet"]
    assert all(p.parent == out / "feeds" for p in result.feeds.spell_files)
    assert result.feeds.unmatched_months == []


def test_the_feeds_load_without_rejection(
    warehouse: tuple[Path, list[FeedOutcome], list[FeedOutcome]],
) -> None:
    _, spells, registrations = warehouse
    assert [o.status for o in spells] == ["loaded"] * 4
    assert [o.status for o in registrations] == ["loaded"] * 2
    for loaded in registrations:
        # Most registrations are of people never in care: counted, discarded, never stored.
        assert loaded.discarded_unlinked > loaded.rows_kept > 0
        assert loaded.unlinkable == 0


def test_the_spells_give_back_each_provider_months_activity(
    warehouse: tuple[Path, list[FeedOutcome], list[FeedOutcome]],
) -> None:
    path, _, _ = warehouse
    rows = query(path, "SELECT * FROM activity_crosscheck")
    assert {(r["provider"], r["reporting_period"]) for r in rows} == {
        (p, f"2028-{m:02d}") for p in ("RZ1", "RZ2", "RZ3") for m in range(4, 8)
    }
    for row in rows:
        if row["provider"] == GAPS:
            continue
        for m in ("admissions", "discharges_live", "deaths_in_spell"):
            assert row[f"{m}_spells"] == row[f"{m}_submitted"], (row["reporting_period"], m)
        spells, submitted = row["occupied_bed_days_spells"], row["occupied_bed_days_submitted"]
        assert isinstance(spells, int) and isinstance(submitted, int)
        assert abs(spells - submitted) <= 0.02 * submitted
        assert not any(row[f"{m}_differs"] for m in MEASURES)


def test_a_provider_whose_spells_are_missing_differs(
    run: tuple[Path, SynthResult],
    warehouse: tuple[Path, list[FeedOutcome], list[FeedOutcome]],
) -> None:
    _, result = run
    assert result.feeds is not None
    assert result.feeds.spells_missing[GAPS] > 0
    path, _, _ = warehouse
    rows = query(path, f"SELECT * FROM activity_crosscheck WHERE provider = '{GAPS}'")
    # A death's spell is never left out: only the counts of the spells left out fall short.
    assert all(r["admissions_differs"] or r["discharges_live_differs"] for r in rows)
    assert not any(r["deaths_in_spell_differs"] for r in rows)


def test_the_deaths_left_out_are_exactly_the_registrations_no_provider_reported(
    run: tuple[Path, SynthResult],
    warehouse: tuple[Path, list[FeedOutcome], list[FeedOutcome]],
) -> None:
    _, result = run
    planted = [m for m in result.planted_missed if m.registration_date <= EXTRACT_END.isoformat()]
    assert planted, "the run plants no missed death within the extract"
    assert {m.provider for m in result.planted_missed} == {UNDER}
    assert {m.category for m in result.planted_missed} <= {"D30", "OOS"}
    for m in result.planted_missed:
        assert "2028-04-01" <= m.death_date <= m.registration_date
    path, _, _ = warehouse
    # Kept registrations of people no provider reported: a spell links them, and only a planted
    # missed death is in a spell's window without a record (later deaths fall outside it).
    unreported = query(
        path,
        """
        SELECT count(*) AS n FROM registrations_as_at(TIMESTAMP 'infinity') AS r
        WHERE NOT EXISTS (
            SELECT 1 FROM death_records_as_at(TIMESTAMP 'infinity') AS d
            WHERE d.record_action <> 'D' AND d.nhs_number_pseudonym = r.nhs_number_pseudonym)
        """,
    )
    assert unreported == [{"n": len(planted)}]


def test_under_reporting_leaves_out_the_share_asked_for(spec: Spec, tmp_path: Path) -> None:
    options = replace(
        OPTIONS, months=12, resubmissions=0.0, transfers=0.0, planted_cases=False,
        background_deaths=0, spells_missing=(),
    )  # fmt: skip
    result = generate(spec, options, tmp_path)
    reported = pl.concat(
        pl.read_csv(f, infer_schema=False) for f in result.files if f.name.endswith("_death.csv")
    ).filter((pl.col("org_id_provider") == UNDER) & (pl.col("patient_status_at_death") == "07"))
    after_discharge = reported.filter(
        pl.col("death_date").str.to_date()
        <= pl.col("discharge_date").str.to_date().dt.offset_by("3mo")
    ).height
    assert after_discharge > 10
    assert len(result.planted_missed) == round(SHARE / (1 - SHARE) * after_discharge)


def test_every_reported_death_is_registered_once(spec: Spec, tmp_path: Path) -> None:
    options = replace(
        OPTIONS, background_deaths=0, registrations_to="2031-12", under_report=(),
        spells_missing=(), feed_format="csv",
    )  # fmt: skip
    result = generate(spec, options, tmp_path)
    assert result.feeds is not None
    records = pl.concat(
        pl.read_csv(f, infer_schema=False).select("nhs_number", "death_date", "record_action")
        for f in result.files
        if f.name.endswith("_death.csv")
    )
    # A death withdrawn as reported in error was no death: that person is not registered.
    withdrawn = records.filter(pl.col("record_action") == "D")["nhs_number"].implode()
    deaths = records.filter(~pl.col("nhs_number").is_in(withdrawn))
    registrations = pl.concat(
        pl.read_csv(f, infer_schema=False) for f in result.feeds.registration_files
    )
    assert registrations["nhs_number"].is_unique().all()
    assert set(deaths["nhs_number"]) <= set(registrations["nhs_number"])
    # Every other registration is a death 4 to 12 months after a live discharge of a spell.
    spells = pl.concat(pl.read_csv(f, infer_schema=False) for f in result.feeds.spell_files).unique(
        ["org_id_provider", "hosp_prov_spell_id"], keep="last"
    )
    later = registrations.filter(~pl.col("nhs_number").is_in(deaths["nhs_number"].implode()))
    joined = later.join(spells, on="nhs_number").with_columns(
        gap=pl.col("death_date").str.to_date() - pl.col("discharge_date").str.to_date()
    )
    assert joined.height == later.height > 0
    assert joined["gap"].min() >= dt.timedelta(days=122)
    assert (joined["discharge_method"] != "4").all()
    lag = registrations.select(
        pl.col("registration_date").str.to_date() - pl.col("death_date").str.to_date()
    ).to_series()
    assert lag.min() >= dt.timedelta(0)


def test_background_numbers_are_valid_distinct_and_nobody_elses(
    run: tuple[Path, SynthResult],
) -> None:
    _, result = run
    assert result.feeds is not None
    registrations = pl.concat(pl.read_parquet(f) for f in result.feeds.registration_files)
    assert registrations["registration_date"].max() <= EXTRACT_END
    assert registrations["nhs_number"].is_unique().all()
    spells = pl.concat(pl.read_parquet(f) for f in result.feeds.spell_files)
    people = pl.concat([registrations["nhs_number"], spells["nhs_number"]]).unique()
    assert all(nhs_number.is_valid(n) for n in people)
    assert all("9000000000" <= n <= "9999999999" for n in people)
    # A spell is one person's: no generated person has two spells, at one provider or two.
    per_spell = spells.unique(["org_id_provider", "hosp_prov_spell_id"])
    generated = per_spell.filter(pl.col("hosp_prov_spell_id").str.starts_with("H"))
    assert generated["nhs_number"].is_unique().all()
    # April 2028 to December 2029 at 2,000 a year.
    assert 0.95 * 2000 * 21 / 12 < result.feeds.background < 1.05 * 2000 * 21 / 12


def test_each_month_holds_the_spells_open_in_it_as_they_stood(
    run: tuple[Path, SynthResult],
) -> None:
    _, result = run
    assert result.feeds is not None
    for path in result.feeds.spell_files:
        month = pl.read_parquet(path)
        period = path.stem.split("_")[1]
        start = dt.date.fromisoformat(f"{period}-01")
        end = (start + dt.timedelta(days=32)).replace(day=1)
        assert (month["reporting_period"] == period).all()
        assert month.select("org_id_provider", "hosp_prov_spell_id").is_unique().all()
        assert (month["admission_date"] < end).all()
        discharged = month.filter(pl.col("discharge_date").is_not_null())
        assert discharged["discharge_date"].is_between(start, end, closed="left").all()
        assert discharged["discharge_method"].is_not_null().all()
        open_ = month.filter(pl.col("discharge_date").is_null())
        assert open_["discharge_method"].is_null().all()


CLI = ("synth", "--spec", "2.0.0", "--providers", "2", "--months", "2", "--start", "2028-04")


def test_the_command_writes_the_feeds_and_says_what_was_planted(tmp_path: Path) -> None:
    run = mhdeaths(
        *CLI, "--feeds", "--feed-format", "csv", "--background-deaths", "500",
        "--under-report", "RZ1=0.5", "--spells-missing", "RZ2=0.1", "--out", tmp_path,
    )  # fmt: skip
    assert run.code == 0, run.output
    assert "Wrote the national feeds" in run.stdout
    assert "RZ2's spells feed leaves out" in run.stdout
    names = sorted(p.name for p in (tmp_path / "feeds").iterdir())
    assert names == ["registrations_2028.csv", "spells_2028-04.csv", "spells_2028-05.csv"]
    # Counts only: no NHS number or date is printed.
    assert not re.search(r"\b\d{10}\b|\b\d{4}-\d{2}-\d{2}\b", run.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ("--under-report", "RZ1=0.3"),  # without --feeds
        ("--feeds", "--under-report", "RZ9=0.3"),  # not a generated provider
        ("--feeds", "--under-report", "RZ1"),  # no share
    ],
)
def test_feed_options_that_cannot_work_are_refused_in_one_sentence(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    run = mhdeaths(*CLI, *args, "--out", tmp_path)
    assert run.code == 2, run.output
    assert len(run.output.strip().splitlines()) == 1, run.output

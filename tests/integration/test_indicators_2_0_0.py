"""The indicators of definitions 2.0.0 (build plan 9.5), each computed on a real warehouse loaded
with synthetic 2.0.0 submissions, and checked against counts made here, in Python, from the
deaths and activity the warehouse holds: the plan's definition of each indicator written a
second time, so that a wrong condition in a YAML file (or a column that means something else)
shows as a difference. Retired ids are refused through the real command."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mhdeaths.benchmark.compute import Benchmarks, compute, maturity_day, window_ending
from mhdeaths.benchmark.indicators import load_indicators
from mhdeaths.benchmark.provider_summary import QUARTER_LINES, quarter_counts
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.overview import reading
from mhdeaths.warehouse.pseudonym import demo_key

from ..functional.cli import mhdeaths
from .test_warehouse_reliability import built_once

PERIOD = "2028-12"
IN_SCOPE = ("IPD", "D30", "AWA")
Death = dict[str, object]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built once per run for both workers: the tests only read it.
    def build(folder: Path) -> None:
        options = SynthOptions(providers=5, months=24, start="2027-01", seed=5, transfers=0.1)
        generate(load_spec("2.0.0"), options, folder / "inbox")
        outcomes = load(folder / "warehouse.duckdb", [folder / "inbox"], key=demo_key())
        assert all(o.status == "loaded" for o in outcomes)

    return built_once(tmp_path_factory, "indicators-2-0-0", build) / "warehouse.duckdb"


@pytest.fixture(scope="module")
def benchmarks(warehouse: Path) -> Benchmarks:
    return compute(warehouse, PERIOD)


@pytest.fixture(scope="module")
def deaths(warehouse: Path) -> list[Death]:
    """Every counted death, as the warehouse holds it."""
    with reading(warehouse) as con:
        cursor = con.execute(
            "SELECT org_id_provider, death_date, discharge_date, death_category, inpatient_death,"
            " transfer_discharge, cause_group, ncish_suicide, review_required, review_expected,"
            " first_review_completed_date, crr_completed_date, investigated, problems_in_care_crr,"
            " family_involved, within_3_months, died_in_state_detention, detention_group,"
            " notification_lag_days, within_7_days, followed_up_within_72h,"
            " restrictive_intervention_24h FROM deaths WHERE counted"
        )
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def activity(warehouse: Path) -> dict[str, tuple[float, float, float]]:
    """Per reporting period: (occupied bed days, live discharges less transfers, detained bed
    days)."""
    with reading(warehouse) as con:
        rows = con.execute(
            "SELECT reporting_period, sum(occupied_bed_days), "
            "sum(discharges_live) - sum(coalesce(discharges_transfer, 0)), "
            "sum(detained_bed_days) FROM activity GROUP BY 1"
        ).fetchall()
    return {str(p): (float(b), float(d), float(t)) for p, b, d, t in rows}


def _needs_review(d: Death) -> bool:
    return d["death_category"] in IN_SCOPE and (
        d["review_required"] == "Y" or d["review_expected"] is True
    )


def _months_after(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later, or that month's last day if it is shorter
    (as the spec's ``add_months`` and SQL's month interval count)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _within(months: int) -> Callable[[Death], bool]:
    def done(d: Death) -> bool:
        completed, died = d["first_review_completed_date"], d["death_date"]
        assert isinstance(died, dt.date)
        # An open review (no date) is not within any time.
        return isinstance(completed, dt.date) and completed <= _months_after(died, months)

    return done


def _sui(d: Death) -> bool:
    return d["cause_group"] == "SUI"


def _unn(d: Death) -> bool:
    return d["cause_group"] in ("SUI", "UNN")


def _ncish(d: Death) -> bool:
    return d["ncish_suicide"] is True


def _ipd(d: Death) -> bool:
    return d["inpatient_death"] is True


def _in_state_detention(d: Death) -> bool:
    detained = (
        d["died_in_state_detention"]
        if d["died_in_state_detention"] is not None
        else d["detention_group"] in ("02", "03", "04")
    )
    return detained is True


def _d30(d: Death) -> bool:
    return d["death_category"] == "D30" and d["transfer_discharge"] is False


# key: (numerator, denominator deaths or None for activity, activity column index, date)
SHARES: dict[str, tuple[Callable[[Death], bool], Callable[[Death], bool]]] = {
    "deaths_case_record_reviewed": (lambda d: d["crr_completed_date"] is not None, _needs_review),
    "deaths_investigated": (lambda d: d["investigated"] is True, _needs_review),
    "required_reviews_within_3_months": (_within(3), _needs_review),
    "required_reviews_within_6_months": (_within(6), _needs_review),
    "problems_in_care_crr": (
        lambda d: d["problems_in_care_crr"] == "Y",
        lambda d: d["death_category"] in IN_SCOPE and d["problems_in_care_crr"] in ("Y", "N"),
    ),
    "family_involvement": (
        lambda d: d["family_involved"] == "Y",
        lambda d: d["death_category"] in IN_SCOPE and d["family_involved"] in ("Y", "D", "N"),
    ),
    "no_follow_up_within_72_hours": (
        lambda d: d["followed_up_within_72h"] is False,
        lambda d: d["death_category"] == "D30" and d["followed_up_within_72h"] is not None,
    ),
}
RATES: dict[str, tuple[Callable[[Death], bool], int, str]] = {
    "inpatient_deaths.all": (_ipd, 0, "death_date"),
    "inpatient_deaths.suicide_ons": (lambda d: _ipd(d) and _sui(d), 0, "death_date"),
    "inpatient_deaths.suicide_ncish": (lambda d: _ipd(d) and _ncish(d), 0, "death_date"),
    "inpatient_deaths.unnatural_ons": (lambda d: _ipd(d) and _unn(d), 0, "death_date"),
    "deaths_after_discharge_v2.all": (_d30, 1, "discharge_date"),
    "deaths_after_discharge_v2.suicide_ons": (lambda d: _d30(d) and _sui(d), 1, "discharge_date"),
    "deaths_after_discharge_v2.suicide_ncish": (
        lambda d: _d30(d) and _ncish(d),
        1,
        "discharge_date",
    ),
    "deaths_after_discharge_v2.unnatural_ons": (
        lambda d: _d30(d) and _unn(d),
        1,
        "discharge_date",
    ),
    "deaths_within_7_days": (lambda d: _d30(d) and d["within_7_days"] is True, 1, "discharge_date"),
    "detained_deaths": (lambda d: _ipd(d) and _in_state_detention(d), 2, "death_date"),
}


def _placed(deaths: list[Death], date: str, start: dt.date, end: dt.date) -> list[Death]:
    """The deaths whose date (of death, or of the discharge) falls in the window."""
    return [d for d in deaths if isinstance(d[date], dt.date) and start <= d[date] < end]  # type: ignore[operator]


# Sentinels: (condition, date); listed per provider, never rated or banded.
LISTED: dict[str, tuple[Callable[[Death], bool], str]] = {
    "deaths_within_3_months": (lambda d: d["within_3_months"] is True, "discharge_date"),
    "deaths_in_state_detention": (_in_state_detention, "death_date"),
    "deaths_awaiting_admission": (lambda d: d["death_category"] == "AWA", "death_date"),
    "deaths_after_restrictive_intervention": (
        lambda d: d["death_category"] in IN_SCOPE and d["restrictive_intervention_24h"] == "Y",
        "death_date",
    ),
    "notification_lag": (
        lambda d: d["death_category"] in IN_SCOPE and d["notification_lag_days"] is not None,
        "death_date",
    ),
}


def _result(benchmarks: Benchmarks, key: str):  # type: ignore[no-untyped-def]
    return next(r for r in benchmarks.results if r.key == key)


def test_every_indicator_in_use_is_checked_here(benchmarks: Benchmarks) -> None:
    assert {r.key for r in benchmarks.results} == set(SHARES) | set(RATES) | set(LISTED)


@pytest.mark.parametrize("key", sorted(RATES))
def test_a_rate_counts_what_the_plan_defines(
    benchmarks: Benchmarks,
    deaths: list[Death],
    activity: dict[str, tuple[float, float, float]],
    key: str,
) -> None:
    condition, column, date = RATES[key]
    result = _result(benchmarks, key)
    window = window_ending(PERIOD, result.indicator.pooling_months)
    placed = _placed(deaths, date, window.start, window.end)
    observed = sum(1 for d in placed if condition(d))
    denominator = sum(v[column] for p, v in activity.items() if window.first <= p <= window.last)
    assert (result.national["observed"], result.national["denominator"]) == (
        observed,
        denominator,
    )
    assert observed > 0  # the synthetic history has deaths of every kind the plan names
    per_provider = dict(
        zip(result.providers["provider"], result.providers["observed"], strict=True)
    )
    assert sum(per_provider.values()) == observed


def test_transfers_are_left_out_of_both_counts_after_discharge(
    benchmarks: Benchmarks, deaths: list[Death], activity: dict[str, tuple[float, float, float]]
) -> None:
    # The synthetic history has transfers: the new indicator's counts are lower on both sides.
    window = window_ending(PERIOD, 36)
    placed = _placed(deaths, "discharge_date", window.start, window.end)
    transfers = [d for d in placed if d["death_category"] == "D30" and d["transfer_discharge"]]
    assert transfers
    result = _result(benchmarks, "deaths_after_discharge_v2.all")
    all_d30 = sum(1 for d in placed if d["death_category"] == "D30")
    assert result.national["observed"] == all_d30 - len(transfers)


@pytest.mark.parametrize("key", sorted(SHARES))
def test_a_share_of_deaths_counts_what_the_plan_defines(
    benchmarks: Benchmarks, deaths: list[Death], key: str
) -> None:
    numerator, denominator = SHARES[key]
    result = _result(benchmarks, key)
    window = window_ending(PERIOD, result.indicator.pooling_months)
    # With no as-at, maturity counts back from the day after the period (the synthetic history
    # is dated ahead of the clock).
    assert benchmarks.mature_at == dt.date(2029, 1, 1)
    months = result.indicator.mature_months
    placed = [
        d
        for d in _placed(deaths, "death_date", window.start, window.end)
        if denominator(d) and _months_after(d["death_date"], months) <= benchmarks.mature_at  # type: ignore[arg-type]
    ]
    assert result.national["denominator"] == len(placed)
    assert result.national["observed"] == sum(1 for d in placed if numerator(d))
    assert len(placed) > 0


@pytest.mark.parametrize("key", sorted(LISTED))
def test_a_sentinel_is_listed_per_provider_and_never_banded(
    benchmarks: Benchmarks, deaths: list[Death], key: str
) -> None:
    condition, date = LISTED[key]
    result = _result(benchmarks, key)
    window = window_ending(PERIOD, result.indicator.pooling_months)
    placed = [d for d in _placed(deaths, date, window.start, window.end) if condition(d)]
    assert placed
    assert result.national["observed"] == len(placed)
    per_provider = dict(
        zip(result.providers["provider"], result.providers["observed"], strict=True)
    )
    for provider in {str(d["org_id_provider"]) for d in placed}:
        assert per_provider[provider] == sum(1 for d in placed if d["org_id_provider"] == provider)
    assert result.funnel is None and "band_95" not in result.providers.columns
    if key == "notification_lag":
        lags = sorted(float(d["notification_lag_days"]) for d in placed)  # type: ignore[arg-type]
        assert result.national["value"] == pytest.approx(statistics.median(lags))
    else:
        assert result.indicator.kind == "count" and result.national["value"] is None


def test_within_3_months_counts_open_reviews_as_not_in_time(deaths: list[Death]) -> None:
    # The synthetic history has open reviews of deaths needing one: the indicator's point.
    assert any(_needs_review(d) and d["first_review_completed_date"] is None for d in deaths)


def test_a_retired_id_is_refused_in_one_sentence_by_the_command(
    warehouse: Path, tmp_path: Path
) -> None:
    run = mhdeaths(
        "benchmark", "-w", warehouse, "--out", tmp_path / "out", "--indicator", "deaths_reviewed"
    )
    assert run.code == 2, run.output
    assert run.output.strip() == (
        "error: Indicator deaths_reviewed was retired with definitions 2.0.0; use "
        "deaths_case_record_reviewed or deaths_investigated."
    )
    assert "Traceback" not in run.output
    assert not (tmp_path / "out").exists()
    run = mhdeaths(
        "benchmark",
        "-w",
        warehouse,
        "--out",
        tmp_path / "out",
        "--indicator",
        "inpatient_deaths",
        "--indicator",
        "inpatient_deaths.suicide",
    )
    assert run.code == 2
    assert (
        "Variant inpatient_deaths.suicide was retired with definitions 2.0.0; use "
        "inpatient_deaths.suicide_ons or inpatient_deaths.suicide_ncish." in run.output
    )


def test_an_unknown_id_is_refused_without_repeating_it(warehouse: Path, tmp_path: Path) -> None:
    run = mhdeaths(
        "benchmark", "-w", warehouse, "--out", tmp_path / "out", "--indicator", "9434765919"
    )
    assert run.code == 2
    assert "9434765919" not in run.output
    assert "the indicators in use are inpatient_deaths, deaths_after_discharge_v2" in run.output


def test_the_indicator_option_computes_only_those_named(warehouse: Path, tmp_path: Path) -> None:
    run = mhdeaths(
        "benchmark",
        "-w",
        warehouse,
        "--out",
        tmp_path,
        "--period",
        PERIOD,
        "--indicator",
        "deaths_investigated",
        "--indicator",
        "deaths_after_discharge_v2.all",
    )
    assert run.code == 0, run.output
    document = json.loads((tmp_path / "benchmarks.json").read_text())
    assert [m["indicator"] for m in document["indicators"]] == [
        "deaths_after_discharge_v2.all",
        "deaths_after_discharge_v2.suicide_ons",
        "deaths_after_discharge_v2.suicide_ncish",
        "deaths_after_discharge_v2.unnatural_ons",
        "deaths_investigated",
    ]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    day=st.dates(dt.date(2028, 1, 1), dt.date(2029, 3, 31)),
    months=st.integers(1, 7),
)
def test_mature_months_leave_out_recent_deaths_from_both_counts(
    warehouse: Path, deaths: list[Death], day: dt.date, months: int
) -> None:
    # A death less than N calendar months before the as-at is in neither count; one N months
    # before or earlier is in both. The submissions were all received before any such as-at,
    # so only maturity moves the counts.
    base = next(i for i in load_indicators() if i.id == "deaths_case_record_reviewed")
    indicator = base.model_copy(update={"mature_months": months})
    as_at = dt.datetime.combine(day, dt.time(12))
    result = compute(warehouse, PERIOD, as_at=as_at, indicators=(indicator,)).results[0]
    window = window_ending(PERIOD, indicator.pooling_months)
    placed = [
        d for d in _placed(deaths, "death_date", window.start, window.end) if _needs_review(d)
    ]
    mature = [d for d in placed if _months_after(d["death_date"], months) <= day]  # type: ignore[arg-type]
    assert result.national["denominator"] == len(mature)
    reviewed = sum(1 for d in mature if d["crr_completed_date"] is not None)
    assert result.national["observed"] == reviewed


def test_maturity_counts_back_from_the_as_at_and_never_from_before_the_period() -> None:
    at = dt.datetime(2029, 2, 3, 10)
    assert maturity_day(at, "2028-12") == dt.date(2029, 2, 3)
    # No as-at: now, or the day after the period when the period is ahead of the clock.
    assert maturity_day(None, "2999-12") == dt.date(3000, 1, 1)
    assert maturity_day(None, "2020-01") == dt.date.today()


def test_a_provider_summary_counts_the_quarters_transfers_and_timely_reviews(
    warehouse: Path, benchmarks: Benchmarks, deaths: list[Death]
) -> None:
    counts = quarter_counts(warehouse, benchmarks)
    quarter = window_ending(PERIOD, 3)
    transfer = QUARTER_LINES.index("deaths.6")
    timely = QUARTER_LINES.index("learning.7")
    for provider in benchmarks.providers:
        theirs = [
            d
            for d in _placed(deaths, "death_date", quarter.start, quarter.end)
            if d["org_id_provider"] == provider
        ]
        row = counts.get(provider, (0,) * len(QUARTER_LINES))
        assert row[transfer] == sum(
            1 for d in theirs if d["death_category"] == "D30" and d["transfer_discharge"]
        )
        assert row[timely] == sum(1 for d in theirs if _needs_review(d) and _within(3)(d))


def test_a_rate_can_be_standardised_by_the_2_0_0_strata_too(warehouse: Path) -> None:
    """Ward type group and broad ethnic group are strata of the activity table from 2.0.0, and
    of the deaths: an indicator standardised by them counts the same deaths over the same bed
    days, and only its expected counts (its case-mix) change."""
    (plain,) = [i for i in load_indicators() if i.id == "inpatient_deaths"]
    mixed = plain.model_copy(
        update={"standardise_by": ("age_band", "stated_gender", "ward_type_group", "ethnic_group")}
    )
    by_age = _result(compute(warehouse, PERIOD, indicators=(plain,)), "inpatient_deaths.all")
    by_mix = _result(compute(warehouse, PERIOD, indicators=(mixed,)), "inpatient_deaths.all")
    for column in ("observed", "denominator"):
        assert by_mix.national[column] == by_age.national[column] > 0
    age_expected = dict(
        zip(by_age.providers["provider"], by_age.providers["expected"], strict=True)
    )
    mix_expected = dict(
        zip(by_mix.providers["provider"], by_mix.providers["expected"], strict=True)
    )
    assert age_expected.keys() == mix_expected.keys()
    assert sum(mix_expected.values()) == pytest.approx(sum(age_expected.values()))
    assert any(abs(mix_expected[p] - age_expected[p]) > 1e-6 for p in age_expected)

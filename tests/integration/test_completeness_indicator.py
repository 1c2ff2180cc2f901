"""Completeness by linkage (issue 16, "Must show"): providers that under-report deaths after
discharge are found. The synthetic national history of the benchmark tests (twenty providers,
two years) is loaded once; here its national feeds, made by the same synthetic run with three
providers leaving out 40% of their deaths after discharge, are linked to a copy of it."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pytest

from mhdeaths.benchmark.compute import Benchmarks, IndicatorResult, compute
from mhdeaths.benchmark.disclosure_control import release
from mhdeaths.benchmark.indicators import load_indicators
from mhdeaths.benchmark.provider_summary import provider_summaries
from mhdeaths.spec import load_spec
from mhdeaths.stats import disclose
from mhdeaths.stats.funnel import BAND_LOWER
from mhdeaths.synth import SynthResult, generate
from mhdeaths.warehouse.feeds import load_feed
from mhdeaths.warehouse.pseudonym import demo_key

from .test_benchmarks import PERIOD, national_history_options, shared_warehouse

UNDER_REPORTING = ("RZ5", "RZB", "RZG")
SHARE_LEFT_OUT = 0.4
EXTRACT_END = "2029-06"
"""Registrations up to six months after the period: the deaths of the window are registered."""


@dataclass(frozen=True)
class Linked:
    warehouse: Path
    synth: SynthResult
    benchmarks: Benchmarks

    @property
    def completeness(self) -> IndicatorResult:
        (result,) = [
            r for r in self.benchmarks.results if r.indicator.id == "reported_completeness"
        ]
        return result


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Linked:
    base = national_history_options()
    history = shared_warehouse(tmp_path_factory, "national-history", base)
    folder = tmp_path_factory.mktemp("completeness")
    options = replace(
        base,
        feeds=True,
        background_deaths=3000,
        under_report=tuple((p, SHARE_LEFT_OUT) for p in UNDER_REPORTING),
        registrations_to=EXTRACT_END,
    )
    made = generate(load_spec("1.1.0"), options, folder / "inbox")
    assert made.feeds is not None
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(history, warehouse)
    key = demo_key()
    for feed, files in (
        ("spells", made.feeds.spell_files),
        ("registrations", made.feeds.registration_files),
    ):
        outcomes = load_feed(warehouse, feed, files, key=key)
        assert {o.status for o in outcomes} == {"loaded"}
    (indicator,) = [i for i in load_indicators() if i.id == "reported_completeness"]
    return Linked(warehouse, made, compute(warehouse, PERIOD, indicators=(indicator,)))


def test_the_submissions_are_the_history_the_feeds_were_made_with(linked: Linked) -> None:
    """The feeds come from their own random streams: the synthetic run with them writes the very
    files the national history loaded, so the feeds describe that history."""
    made = {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in linked.synth.files
        if p.suffix == ".csv" and "feeds" not in p.parts
    }
    with duckdb.connect(str(linked.warehouse), read_only=True) as con:
        loaded = {r[0] for r in con.execute("SELECT sha256 FROM submission_file").fetchall()}
    assert made == loaded


def test_missed_deaths_per_provider_equal_the_planted(linked: Linked) -> None:
    planted = Counter(
        m.provider for m in linked.synth.planted_missed if m.registration_date[:7] <= EXTRACT_END
    )
    assert set(planted) == set(UNDER_REPORTING)
    with duckdb.connect(str(linked.warehouse), read_only=True) as con:
        missed = dict(
            con.execute(
                "SELECT expected_provider, count(*) FROM deaths_missed GROUP BY 1"
            ).fetchall()
        )
    assert missed == dict(planted)


def test_providers_that_under_report_are_banded_low(linked: Linked) -> None:
    rows = {r["provider"]: r for r in linked.completeness.providers.iter_rows(named=True)}
    low = {p for p, r in rows.items() if r["band_998"] == BAND_LOWER}
    assert low == set(UNDER_REPORTING), {p: (r["value"], r["band_998"]) for p, r in rows.items()}
    for provider in UNDER_REPORTING:
        assert rows[provider]["value"] == pytest.approx(100 * (1 - SHARE_LEFT_OUT), abs=15)
    others = [r["value"] for p, r in rows.items() if p not in UNDER_REPORTING and r["value"]]
    assert others and min(others) == 100


def test_the_provider_pages_show_the_released_count_of_missed_deaths(linked: Linked) -> None:
    released = release(linked.benchmarks, "nhs_england")
    with duckdb.connect(str(linked.warehouse), read_only=True) as con:
        quarter = dict(
            con.execute(
                "SELECT provider, sum(missed) FROM reconciliation "
                "WHERE death_month BETWEEN '2028-10' AND '2028-12' GROUP BY 1"
            ).fetchall()
        )
    label = "Registered deaths your spells link to that you have not reported"
    shown = {}
    for summary in provider_summaries(linked.warehouse, linked.benchmarks, released):
        (line,) = [q for q in summary.quality if q.label == label]
        shown[summary.provider] = line.value
        (text,) = disclose([float(quarter.get(summary.provider, 0))], rule="nhs_england").text
        assert line.value == (text if text == "*" else int(float(text))), summary.provider
    assert any(shown[p] not in (0, "*") or quarter.get(p) for p in UNDER_REPORTING)

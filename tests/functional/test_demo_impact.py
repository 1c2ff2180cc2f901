"""``mhdeaths spec impact 2.0.0 --against 1.1.0`` on the demo's warehouse, as a standards team
would run it: the review's hard cases planted in the examples move for the reason the 2.0.0
definitions give; a figure both versions compute moves only where a death moved; and the page
opens offline in a real browser (Debian's chromium) with every count released."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser

from ..examples_warehouse import examples_warehouse
from .cli import mhdeaths
from .test_reports_in_browser import Opened, browser, open_offline

__all__ = ["browser"]  # the fixture, imported so pytest finds it here

#: The hard cases of submissions/examples/README.md and what moves each under 2.0.0.
PLANTED = {
    # Two providers, dates 3 days apart: 1.1.0 counted two deaths, 2.0.0 one (at RZ2).
    ("RZ1", "RZ1-D-202804-0004"): "attribution",
    # A transfer the receiver never reports: out of the deaths-after-discharge rate.
    ("RZ2", "RZ2-D-202805-0002"): "transfer_discharge",
    # Undetermined intent at 12: suicide under 1.1.0, not under the ONS ages.
    ("RZ1", "RZ1-D-202804-0002"): "icd_cause_class",
}


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = examples_warehouse(tmp_path_factory)
    out = tmp_path_factory.mktemp("demo-impact") / "impact"
    run = mhdeaths("spec", "impact", "2.0.0", "--against", "1.1.0", "-w", warehouse, "-o", out)
    assert run.code == 0, run.output
    return out


def moved(out: Path) -> pl.DataFrame:
    return pl.read_csv(out / "moved_deaths.csv", skip_rows=1, infer_schema=False)


def test_each_planted_case_moves_for_its_reason(assessed: Path) -> None:
    found = {
        (r["org_id_provider"], r["death_record_id"]): r
        for r in moved(assessed).iter_rows(named=True)
    }
    for record, reason in PLANTED.items():
        assert found[record]["moved_by"] == reason, record
    twice = found[("RZ1", "RZ1-D-202804-0004")]
    assert (twice["counted_old"], twice["counted_new"]) == ("true", "false")
    assert twice["attributed_provider_new"] == "RZ2"
    child = found[("RZ1", "RZ1-D-202804-0002")]
    assert (child["cause_group_old"], child["cause_group_new"]) == ("SUI", "UNN")


def test_the_benchmarks_differ_only_where_the_definitions_changed(assessed: Path) -> None:
    figures = pl.read_csv(assessed / "indicators.csv", infer_schema=False)
    records = moved(assessed).filter(pl.col("moved_by") == "attribution")
    touched = set(records["attributed_provider_old"]) | set(records["attributed_provider_new"])
    assert touched == {"RZ1", "RZ2"}
    kept = figures.filter(
        (pl.col("indicator_old") == pl.col("indicator_new"))
        & (pl.col("variant_old") == pl.col("variant_new"))
    )
    assert set(kept["indicator_new"]) == {
        "inpatient_deaths",
        "family_involvement",
        # Sentinels 2.0.0 added that read no definition 2.0.0 changed.
        "deaths_awaiting_admission",
        "deaths_after_restrictive_intervention",
    }
    for row in kept.iter_rows(named=True):
        # A figure both versions compute reads no changed definition: it moves only for a
        # provider one of whose deaths the matching moved, and for England.
        same = all(row[f"{n}_old"] == row[f"{n}_new"] for n in ("observed", "denominator"))
        assert same or row["provider"] in touched | {"England"}, row
    # Every other figure is a retired one against its replacements, or new with 2.0.0.
    changed = figures.filter(pl.col("indicator_old") != pl.col("indicator_new"))
    assert set(changed["indicator_old"]) == {
        "deaths_after_discharge",
        "deaths_reviewed",
        "days_to_review",
        "problems_in_care",
    }


def test_a_withheld_band_is_never_said_to_have_changed(assessed: Path) -> None:
    figures = pl.read_csv(assessed / "indicators.csv", infer_schema=False)
    withheld = figures.filter((pl.col("band_old") == "*") | (pl.col("band_new") == "*"))
    assert withheld.height > 0
    assert set(withheld["band_changed"]) == {"false"}
    summary = json.loads((assessed / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["providers"]) >= {"RZ1", "RZ2"}  # the two the matching moved a death of


@pytest.fixture(scope="module")
def page(browser: Browser, assessed: Path) -> Iterator[Opened]:
    yield from open_offline(browser, assessed / "impact.html")


def test_the_impact_page_renders_offline_with_released_counts(page: Opened, assessed: Path) -> None:
    view = page.page
    assert view.title().startswith("Impact of mhdeaths spec 2.0.0 against 1.1.0")
    assert not page.errors and not page.dialogs
    assert [m.text for m in page.console if m.type == "error"] == []
    assert all(url.startswith("file://") for url in page.requests)
    assert view.locator("script").count() == 0
    summary = json.loads((assessed / "summary.json").read_text(encoding="utf-8"))
    shown = view.locator("#moved + p + table td.count").all_text_contents()
    assert shown[-1] == summary["deaths_moved"]
    counts = view.locator("td.count").all_text_contents()
    assert counts and all(c == "*" or int(c.replace(",", "")) % 5 == 0 for c in counts), counts
    assert view.locator("h2#rejections").is_visible()
    rows = view.locator("h2#indicators + p + table tbody tr").count()
    assert rows == len(summary["indicators"]) > 0
    assert view.locator("h2#providers + table tbody tr").count() == len(summary["providers"])

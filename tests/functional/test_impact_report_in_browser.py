"""The impact assessment's page (``mhdeaths spec impact``) in a real browser (Debian's chromium),
opened from file:// with every network request blocked: it renders with no console error, script
or request, and shows the moves and the rejections in tables whose every count is released."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from mhdeaths.benchmark.impact import assess_impact, write_impact
from mhdeaths.jobs.demo import EXAMPLES
from mhdeaths.spec import load_spec
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key

from .test_reports_in_browser import Opened, browser, open_offline

__all__ = ["browser"]  # the fixture, imported so pytest finds it here


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("impact-browser")
    warehouse = folder / "warehouse.duckdb"
    load(warehouse, [EXAMPLES], key=demo_key())
    impact = assess_impact(
        warehouse, load_spec("2.0.0"), load_spec("1.1.0"), recent_months=12, indicators=True
    )
    write_impact(impact, folder / "impact")
    return folder / "impact"


@pytest.fixture(scope="module")
def page(browser: Browser, written: Path) -> Iterator[Opened]:
    yield from open_offline(browser, written / "impact.html")


def test_the_impact_page_renders_offline_with_released_counts(page: Opened, written: Path) -> None:
    view = page.page
    assert view.title().startswith("Impact of mhdeaths spec 2.0.0 against 1.1.0")
    assert not page.errors and not page.dialogs
    assert [m.text for m in page.console if m.type == "error"] == []
    assert all(url.startswith("file://") for url in page.requests)
    assert view.locator("script").count() == 0
    summary = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    moved = view.locator("section, body").locator("#moved + p + table td.count")
    shown = moved.all_text_contents()
    assert shown[-1] == summary["deaths_moved"]
    counts = view.locator("td.count").all_text_contents()
    assert counts and all(c == "*" or int(c.replace(",", "")) % 5 == 0 for c in counts), counts
    assert view.locator("h2#rejections").is_visible()
    assert view.locator("h2#indicators").is_visible()
    rows = view.locator("h2#indicators + p + table tbody tr").count()
    assert rows == len(summary["indicators"]) > 0

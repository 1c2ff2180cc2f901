"""The published benchmark report and a provider's summary in a real browser (Debian's chromium).

Opened from file:// with every network request blocked, as a reader with no connection would:
the summary, a funnel plot per banded indicator with every plotted provider labelled, the
tables, and no console error, script or request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from mhdeaths.benchmark.run import Published, publish_benchmarks

from ..examples_warehouse import examples_warehouse
from .test_reports_in_browser import Opened, browser, open_offline

__all__ = ["browser"]  # the fixture, imported so pytest finds it here


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    folder = tmp_path_factory.mktemp("benchmark-browser")
    return publish_benchmarks(examples_warehouse(tmp_path_factory), folder / "out")


@pytest.fixture(scope="module")
def report(browser: Browser, published: Published) -> Iterator[Opened]:
    yield from open_offline(browser, published.report)


def test_the_report_renders_offline_without_errors(report: Opened, published: Published) -> None:
    page = report.page
    assert page.title().startswith("Deaths in NHS mental health services: provider benchmarks")
    assert page.locator("h2#summary").is_visible()
    assert not report.errors and not report.dialogs
    assert [m.text for m in report.console if m.type == "error"] == []
    assert all(url.startswith("file://") for url in report.requests)
    assert page.locator("script").count() == 0
    # Each standardised ratio with a published expected count, and each proportion on its funnel
    # with a published denominator, says what its funnel can detect. (The examples withhold every
    # provider's review counts, so no proportion has a funnel here; test_benchmarks has them.)
    stated = [
        meta
        for meta in published.released.indicators
        if meta["detectable_expected"] is not None or meta["detectable_denominator"] is not None
    ]
    for kind in ("ratio", "proportion"):
        statements = page.locator(f"p.power[data-kind='{kind}']")
        assert statements.count() == sum(m["detectable_kind"] == kind for m in stated), kind
    assert page.locator("p.power[data-kind='ratio']").first.is_visible()


def test_every_banded_indicator_has_a_funnel_plot_with_labelled_providers(
    report: Opened, published: Published
) -> None:
    page = report.page
    # A plot for every banded indicator with at least one provider whose count is released and
    # at risk (a plot of withheld providers alone would give their counts back; a provider with
    # nothing at risk, such as no death old enough for a review indicator, is no point), and a
    # funnel on the released counts (none where the released national share is 0% or 100%).
    plotted = [
        r
        for r in published.released.results
        if r.funnel is not None
        and any(
            row["indicator"] == r.key
            and row["provider"] != "England"
            and row["observed"] != "*"
            and isinstance(row["denominator"], int | float)
            and row["denominator"] > 0
            for row in published.released.rows
        )
    ]
    assert plotted
    assert page.locator("section.indicator svg").count() == len(plotted)
    # The first plot (an indicator whose providers are all withheld has none).
    svg = page.locator("section.indicator svg").first
    box = svg.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    # Four limit sets (95% and 99.8%, adjusted and not), each with a lower and an upper curve.
    assert svg.locator("polyline").count() == 8
    labels = svg.locator("g > text").all_text_contents()
    plotted = svg.locator("circle").count()
    assert plotted >= 1
    assert sum(text.startswith(("RZ", "RY")) for text in labels) == plotted


def test_the_tables_show_suppressed_counts_as_a_star(report: Opened) -> None:
    cells = report.page.locator("td.count").all_inner_texts()
    assert "*" in cells
    assert not {c.strip() for c in cells} & set("1234567")


def test_a_provider_summary_renders(browser: Browser, published: Published) -> None:
    page_path = published.report.parent / "providers" / "RZ1.html"
    for opened in open_offline(browser, Path(page_path)):
        page = opened.page
        assert page.locator("h1").inner_text().startswith("RZ1")
        assert page.get_by_text("Learning from deaths").first.is_visible()
        assert page.locator("li.power[data-kind='ratio']").count() >= 1
        assert page.locator("li.power[data-kind='ratio']").first.is_visible()
        assert not opened.errors
        assert [m.text for m in opened.console if m.type == "error"] == []


def test_the_inequalities_and_themes_sections_render(report: Opened, published: Published) -> None:
    page = report.page
    section = page.locator("section#inequalities")
    assert section.locator("h2").is_visible()
    # The examples hold one quarter of 2.0.0 activity: the section says what it covers and what
    # it withholds, and still shows its three tables (two by ethnic group, one by decile).
    coverage = section.locator("p.coverage").inner_text()
    assert "submitted to spec 2.0.0" in coverage and "withheld (*)" in coverage
    assert section.locator("table.inequality").count() == 3
    assert section.locator("table.inequality").first.is_visible()
    assert section.locator("table.inequality tbody tr").count() == 2 * 7 + 12
    themes = page.locator("section#themes")
    assert themes.locator("h2").is_visible()
    tables = published.released.tables
    assert tables is not None
    assert themes.locator("table.themes-national tbody tr").count() == len(tables.theme_labels)
    assert themes.locator("table.themes-providers").first.is_visible()  # the latest year is open
    labels = themes.locator("table.themes-national tbody td:first-child").all_inner_texts()
    assert labels[0].startswith(next(iter(tables.theme_labels.values())))


def test_a_provider_summary_shows_its_sentinel_events(
    browser: Browser, published: Published
) -> None:
    page_path = published.report.parent / "providers" / "RZ1.html"
    for opened in open_offline(browser, Path(page_path)):
        page = opened.page
        assert page.locator("h2#sentinels").is_visible()
        rows = page.locator("table.sentinels tr")
        assert rows.count() == 6
        assert rows.first.is_visible()
        assert "Deaths by a non-anchored ligature" in page.locator("table.sentinels").inner_text()
        assert not opened.errors


def test_the_report_and_provider_pages_show_the_cusum_thresholds_and_no_alert(
    report: Opened, browser: Browser, published: Published
) -> None:
    """On the example submissions (small counts): the monitoring section says alerts are not
    published and lists a threshold (or why none) per provider and monitored indicator; the
    same on a provider's page."""
    page = report.page
    assert page.locator("h2", has_text="Monitoring").is_visible()
    assert page.locator("section#monitoring p.not-published").is_visible()
    assert "docs/privacy.md" in page.locator("section#monitoring p.not-published").inner_text()
    rows = page.locator("section#monitoring table.thresholds tbody tr")
    assert rows.count() == len(published.released.monitoring) * len(published.benchmarks.providers)
    statuses = set(rows.evaluate_all("rows => rows.map(r => r.dataset.status)"))
    assert statuses <= {"charted", "*", "nothing expected"}
    assert page.locator("svg.alerts, [data-month]").count() == 0
    for opened in open_offline(browser, published.report.parent / "providers" / "RZ1.html"):
        own = opened.page.locator("table.thresholds tbody tr")
        assert own.count() == 2 and own.first.is_visible()
        assert opened.page.locator("svg.alerts, [data-month]").count() == 0
        assert not opened.errors
        assert [m.text for m in opened.console if m.type == "error"] == []


def test_the_outliers_alerts_are_in_the_restricted_pack_and_not_in_the_publication(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On the national history with two providers planted at four times their rates: their
    charts alert, and neither the report nor their pages shows it (their rows look like every
    in-control provider's); the restricted monitoring pack lists and draws the alerts."""
    from ..integration.test_benchmarks import (
        OUTLIERS,
        PERIOD,
        national_history_options,
        shared_warehouse,
    )

    warehouse = shared_warehouse(tmp_path_factory, "national-history", national_history_options())
    folder = tmp_path_factory.mktemp("monitoring-browser")
    out = folder / "out"
    published = publish_benchmarks(warehouse, out, period=PERIOD, pack=folder / "pack")
    alerted = {
        p for m in published.released.monitoring for p, a in m.unpublished_alerts.items() if a
    }
    assert alerted == set(OUTLIERS)
    for opened in open_offline(browser, published.report):
        page = opened.page
        rows = page.locator("section#monitoring table.thresholds tbody tr")
        assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"charted"}
        assert page.locator("svg.alerts, [data-month]").count() == 0
        assert all(url.startswith("file://") for url in opened.requests)
        assert not opened.errors
    for opened in open_offline(browser, out / "providers" / f"{OUTLIERS[0]}.html"):
        rows = opened.page.locator("table.thresholds tbody tr")
        assert rows.count() == 2 and rows.first.is_visible()
        assert opened.page.locator("svg.alerts, [data-month]").count() == 0
        assert all(url.startswith("file://") for url in opened.requests)
        assert not opened.errors

    # The restricted pack, where the alerts do go: the index names the outliers' alert months,
    # and an outlier's own page draws its charts with each alert marked, offline.
    pack = folder / "pack"
    for opened in open_offline(browser, pack / "index.html"):
        page = opened.page
        assert page.title().startswith("RESTRICTED:")
        assert page.locator("p.restricted").is_visible()
        marked = page.locator("tr.alert").evaluate_all("rows => rows.map(r => r.dataset.provider)")
        assert set(marked) == set(OUTLIERS)
        assert all(url.startswith("file://") for url in opened.requests)
        assert not opened.errors and page.locator("script").count() == 0
    for provider in OUTLIERS:
        for opened in open_offline(browser, pack / "providers" / f"{provider}.html"):
            page = opened.page
            charts = page.locator("svg[aria-label^='CUSUM chart']")
            assert charts.count() == 2 and charts.first.is_visible()
            box = charts.first.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            expected = [
                month
                for m in published.released.monitoring
                for month in m.restricted[provider].alerts
            ]
            shown = page.locator("svg circle.alert").evaluate_all(
                "marks => marks.map(m => m.dataset.month)"
            )
            assert shown == expected and shown
            assert all(url.startswith("file://") for url in opened.requests)
            assert not opened.errors
            assert [m.text for m in opened.console if m.type == "error"] == []
            if provider == OUTLIERS[0]:
                page.set_viewport_size({"width": 1000, "height": 900})
                PACK_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(PACK_SCREENSHOT))
                assert PACK_SCREENSHOT.stat().st_size > 10_000


PACK_SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "docs" / "monitoring-pack.png"
"""Where the test draws an outlier's page of the restricted pack; docs/img/monitoring-pack.png,
shown in the analysts' guide, is a copy taken once."""

"""The HTML report in a real browser: Debian's chromium, driven by Playwright, offline.

The report of a rejected submission is opened from file:// with every network request blocked;
it must render the verdict and each failing rule's findings at the right rows, log no console
error, run no script, and show a value planted to look like HTML as plain text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Route, sync_playwright

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate

from .cli import mhdeaths

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCRIPT = "<b>"  # as short as a code, or the guard withholds it as free text (docs/validator.md)
ENTITY = "&lt;"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium), "
            "as .ci/run does; the HTML report cannot be checked without it."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@dataclass
class Opened:
    page: Page
    console: list[ConsoleMessage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_offline(browser: Browser, path: Path) -> Iterator[Opened]:
    page = browser.new_page()
    opened = Opened(page)
    page.on("console", lambda message: opened.console.append(message))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))

    def on_dialog(dialog: Dialog) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    def route(route: Route) -> None:
        url = route.request.url
        opened.requests.append(url)
        if url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    try:
        yield opened
    finally:
        page.close()


@pytest.fixture(scope="module")
def rejected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The HTML and JSON reports of a rejected synthetic submission, written by the command."""
    folder = tmp_path_factory.mktemp("browser")
    spec = load_spec("1.1.0")
    result = generate(spec, SynthOptions(providers=1, months=1, start="2027-10", seed=3), folder)
    (path,) = [p for p in result.files if p.stem.endswith("_death")]
    frame = pl.read_csv(path, infer_schema=False)
    planted = {
        "ethnic_category": {0: "QQ", 3: "ZZ"},
        "death_date_basis": {2: SCRIPT},
        "notification_source": {4: ENTITY},
    }
    for column, cells in planted.items():
        values = frame.get_column(column).to_list()
        for index, value in cells.items():
            values[index] = value
        frame = frame.with_columns(pl.Series(column, values, dtype=pl.String))
    frame.write_csv(path)
    out = folder / "reports"
    run = mhdeaths("validate", path, "--out", out, "--format", "html", "--format", "json")
    assert run.code == 1, run.output
    html = out / f"{path.stem.removesuffix('_death')}.report.html"
    report = json.loads(
        html.with_name(html.name.replace(".report.html", ".report.json")).read_text()
    )
    return {"html": html, "report": report}


@pytest.fixture(scope="module")
def page(browser: Browser, rejected: dict[str, object]) -> Iterator[Opened]:
    html = rejected["html"]
    assert isinstance(html, Path)
    yield from open_offline(browser, html)


def test_the_verdict_renders(page: Opened) -> None:
    assert page.page.locator("#verdict").inner_text().strip() == "Verdict: rejected"
    assert "rejected" in (page.page.locator("#verdict").get_attribute("class") or "")
    assert page.page.title().startswith("Validation report: rejected")


def test_each_failing_rule_has_its_findings_at_their_rows(
    page: Opened, rejected: dict[str, object]
) -> None:
    report = rejected["report"]
    assert isinstance(report, dict)
    rules = [r["rule_id"] for r in report["rules"]]
    assert {
        "death.code_list.ethnic_category",
        "death.code_list.death_date_basis",
        "death.code_list.notification_source",
    } <= set(rules)
    assert page.page.locator("section.rule").count() == len(rules)
    for rule_id in rules:
        section = page.page.locator(f"section.rule[id='{rule_id}']")
        assert section.count() == 1, rule_id
        assert section.locator("h3").inner_text().startswith(rule_id)
        cells = section.locator("tbody tr td:nth-child(2)").all_inner_texts()
        expected = [
            "" if f["row"] is None else str(f["row"])
            for f in report["findings"]
            if f["rule_id"] == rule_id
        ]
        assert cells == expected, rule_id
    ethnic = page.page.locator("section.rule[id='death.code_list.ethnic_category'] tbody tr")
    assert [row.locator("td").all_inner_texts()[1:6] for row in ethnic.all()] == [
        ["2", "L", "ethnic_category", "ethnic_category", "QQ"],
        ["5", "L", "ethnic_category", "ethnic_category", "ZZ"],
    ]
    # The summary table links each rule to its section.
    link = page.page.locator("h2#rules + table a[href='#death.code_list.ethnic_category']")
    assert link.count() == 1
    # The verdict leads, then the findings by rule and by row; files and field quality follow.
    assert page.page.locator("h2").evaluate_all("hs => hs.map(h => h.id)") == [
        "rules",
        "findings",
        "by-row",
        "files",
        "quality",
    ]
    by_row = page.page.locator("h2#by-row ~ table").first.locator("tbody tr")
    rows = [r.locator("td").all_inner_texts() for r in by_row.all()]
    listed = [f for f in report["findings"] if f["row"] is not None]
    assert sorted((r[0], int(r[1]), r[4]) for r in rows) == sorted(
        (f["file"], f["row"], f["rule_id"]) for f in listed
    )
    assert [int(r[1]) for r in rows] == sorted(int(r[1]) for r in rows)


def test_values_that_look_like_html_show_as_text_and_run_nothing(page: Opened) -> None:
    value = page.page.locator(
        "section.rule[id='death.code_list.death_date_basis'] tbody tr td:nth-child(6)"
    )
    assert value.all_inner_texts() == [SCRIPT]
    other = page.page.locator(
        "section.rule[id='death.code_list.notification_source'] tbody tr td:nth-child(6)"
    )
    assert other.all_inner_texts() == [ENTITY]
    assert page.page.locator("script").count() == 0
    assert page.page.locator("main b").count() == 0
    assert page.dialogs == []


def test_no_console_error_no_page_error_and_no_network(page: Opened) -> None:
    page.page.wait_for_timeout(200)  # anything deferred has had its chance to fail
    assert [m.text for m in page.console if m.type == "error"] == []
    assert page.errors == []
    assert [url for url in page.requests if not url.startswith("file://")] == []
    assert len(page.requests) == 1  # the page itself: no stylesheet, font or image fetched

"""The documentation site says what the spec and the command say, builds strictly, and opens offline.

The reference pages are generated and committed, so they can go stale silently: these tests fail
until they are regenerated, check that nothing a user can meet (a command, a rule id, a definition,
a code list) is missing from them, build the whole site with ``mkdocs build --strict`` (a broken
link or anchor, or a page left out of the nav, fails it), and open the built pages from file:// in
headless Chromium with the network blocked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from playwright.sync_api import Browser
from typer.core import TyperGroup

from mhdeaths.cli.app import app
from mhdeaths.docsite import NOTICE, REGENERATE, reference_pages
from mhdeaths.output.templating import md, mdcode
from mhdeaths.spec import Spec
from mhdeaths.standard.publish.dictionary import code_list_anchor, definition_anchor, rule_anchor
from tests.functional.test_reports_in_browser import (  # the same browser, launched the same way
    Opened,
    browser,  # noqa: F401 (a fixture)
    open_offline,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
STALE = f"docs/reference is out of date: regenerate it with `{REGENERATE}`"


def reference(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return reference_pages()


def test_the_reference_on_disk_is_what_the_spec_and_the_command_generate_now(
    pages: dict[str, str],
) -> None:
    # By path inside docs/reference: the national feeds' pages are in reference/feeds/.
    on_disk = {
        name: p.read_text(encoding="utf-8")
        for p in REFERENCE.rglob("*")
        if (name := p.relative_to(REFERENCE).as_posix()) in pages
    }
    missing = sorted(pages.keys() - on_disk.keys())
    assert not missing, f"{STALE} ({', '.join(missing)} missing)."
    changed = sorted(name for name, text in pages.items() if on_disk[name] != text)
    assert not changed, f"{STALE} ({', '.join(changed)} changed)."
    extra = sorted(
        name
        for p in REFERENCE.rglob("*.md")
        if (name := p.relative_to(REFERENCE).as_posix()) not in pages
    )
    assert not extra, (
        f"docs/reference holds pages the generator does not make ({', '.join(extra)}): "
        f"`{REGENERATE}` deletes those it once made; a hand-written page belongs in docs/."
    )


def test_every_generated_page_says_so_and_how_to_regenerate_it(pages: dict[str, str]) -> None:
    assert REGENERATE in NOTICE
    for name, text in pages.items():
        if name.endswith(".md"):
            assert text.startswith("# "), name
            assert text.splitlines()[2] == NOTICE, name


def test_each_feed_version_has_a_page_headed_by_who_loads_it(pages: dict[str, str]) -> None:
    feeds = sorted(name for name in pages if name.startswith("feeds/"))
    assert feeds == ["feeds/registrations-1.0.0.md", "feeds/spells-1.0.0.md"]
    for name in feeds:
        assert pages[name].splitlines()[4] == (
            "**Loaded by the national analysts with `mhdeaths warehouse load-feed`; never "
            "submitted by providers.**"
        ), name
        assert f"({name})" in pages["index.md"]
    # The dataset's own pages never show a feed's table.
    for name in ("dictionary.md", "rules.md", "codelists.md"):
        assert "registered_sex" not in pages[name] and "rule-spell." not in pages[name], name


def commands(ctx: typer.Context) -> Iterator[typer.Context]:
    """Every command under ``ctx``, walked through click's own command tree."""
    yield ctx
    if isinstance(ctx.command, TyperGroup):
        for name in ctx.command.list_commands(ctx):
            sub = ctx.command.get_command(ctx, name)
            assert sub is not None
            if not sub.hidden:
                yield from commands(typer.Context(sub, info_name=name, parent=ctx))


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    text = reference("cli.md")
    top = typer.main.get_command(app)
    found = list(commands(typer.Context(top, info_name="mhdeaths")))
    assert {"mhdeaths validate", "mhdeaths spec publish", "mhdeaths warehouse query"} <= {
        ctx.command_path for ctx in found
    }
    for ctx in found:
        path = ctx.command_path
        anchor = f'<a id="cli-{path.replace(" ", "-")}"></a>'
        assert anchor in text, f"{path} is not in cli.md. {STALE}."
        section = text.split(anchor, 1)[1].split('<a id="cli-', 1)[0]
        assert mdcode(path) in section.splitlines()[2], path
        assert f"Usage: {path} " in section, path
        for param in ctx.command.get_params(ctx):
            for option in (*param.opts, *param.secondary_opts):
                if option.startswith("-"):
                    assert option in section, f"{path} {option} is not in cli.md. {STALE}."


def test_every_rule_of_every_version_is_in_the_rules_reference(any_spec: Spec) -> None:
    text = reference("rules.md")
    for rule in any_spec.rules:
        anchor = f'<a id="{rule_anchor(rule.id)}"></a>'
        assert anchor in text, f"{rule.id} ({any_spec.version}) is not in rules.md. {STALE}."
        section = text.split(anchor, 1)[1].split("<a id=", 1)[0]
        assert f"### {mdcode(rule.id)}: " in section, rule.id
        for shown in ("Severity", "Message", "Fix", "Valid example"):
            assert shown in section, (rule.id, shown)


def test_every_definition_and_code_list_of_every_version_is_in_the_reference(
    any_spec: Spec,
) -> None:
    definitions, code_lists = reference("definitions.md"), reference("codelists.md")
    # A definition a later version changed is shown there as the later version has it, and
    # links to this version's own dictionary page, which shows it as this version has it.
    own = "\n".join(
        reference(p.name) for p in REFERENCE.glob("dictionary*.md") if any_spec.version in p.name
    ) or reference("dictionary.md")
    for definition in any_spec.definitions:
        assert f'<a id="{definition_anchor(definition.name)}"></a>' in definitions
        for example in definition.worked_examples:
            shown = f"| {md(example.title)} |" in definitions
            assert shown or f"{md(example.title)} |" in own, (definition.name, example.name)
    for code_list in any_spec.code_lists:
        assert f'<a id="{code_list_anchor(code_list.name)}"></a>' in code_lists
        for code in code_list.codes:
            row = f"| {mdcode(code.code)} | {md(code.label)} |"
            assert row in code_lists or row in own, code_list.name


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole site, built as a user would build it, strictly, into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    config = ROOT / "mkdocs.yml"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr}"
    return out


def test_the_site_builds_strictly_with_every_page(site: Path, pages: dict[str, str]) -> None:
    for page in ("index", "providers", "analysts", "standards", "validator", "warehouse"):
        assert (site / f"{page}.html").is_file(), page
    for name in pages:
        built = name.removesuffix(".md") + ".html" if name.endswith(".md") else name
        assert (site / "reference" / built).is_file(), name


@pytest.fixture(
    scope="module",
    params=[
        ("index.html", "mhdeaths", "a[href='providers.html']"),
        ("reference/rules.html", "Rules", "[id='rule-death.discharged.live_discharge']"),
    ],
    ids=["index", "rules"],
)
def opened(
    request: pytest.FixtureRequest,
    browser: Browser,  # noqa: F811 (the imported fixture)
    site: Path,
) -> Iterator[tuple[Opened, str, str]]:
    page, title, selector = request.param
    for shown in open_offline(browser, site / page):
        yield shown, title, selector


def test_built_pages_render_offline_with_no_console_error(
    opened: tuple[Opened, str, str],
) -> None:
    shown, title, selector = opened
    page = shown.page
    page.wait_for_timeout(200)  # anything deferred has had its chance to fail
    assert [m.text for m in shown.console if m.type == "error"] == []
    assert shown.errors == []
    assert [url for url in shown.requests if not url.startswith("file://")] == []
    assert page.locator("[role=main] h1").first.inner_text().strip() == title
    assert page.locator(f"[role=main] {selector}").count() >= 1, selector
    # The nav reaches every guide and the reference from every page.
    for guide in ("Provider data teams", "National analysts", "Standards teams", "Rules"):
        assert page.locator("nav a", has_text=guide).count() >= 1, guide


def test_every_test_the_privacy_page_names_exists() -> None:
    """docs/privacy.md holds each guarantee to a named test; a renamed or deleted test would leave
    a guarantee that nothing holds, so every name must be a test function in its file."""
    text = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    named, current = [], None
    for match in re.finditer(r"`(tests/[\w/]+\.py)?::(\w+)`", text):
        current = match.group(1) or current
        assert current is not None, f"::{match.group(2)} names no file before it."
        named.append((current, match.group(2)))
    assert len(named) >= 20, "docs/privacy.md should name the tests that hold its guarantees."
    missing = [
        f"{path}::{name}"
        for path, name in named
        if f"def {name}(" not in (ROOT / path).read_text(encoding="utf-8")
    ]
    assert not missing, f"docs/privacy.md names tests that do not exist: {', '.join(missing)}."

"""The data dictionary shows every part of the spec, escapes every value, and fetches nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest

from mhdeaths.output.templating import fenced, md, mdcode
from mhdeaths.spec import Spec, load_spec
from mhdeaths.standard.publish.dictionary import render_html, render_markdown

SPEC = load_spec("1.0.0")
HOSTILE = '<script>alert("x")</script><img src="https://evil.example/x.png">'


def hostile_spec(spec: Spec) -> Spec:
    """The spec with markup planted in a field, a code label, a rule and a definition."""
    death = spec.table("death")
    fields = tuple(
        f.model_copy(update={"definition": HOSTILE, "title": f"Action {HOSTILE}"})
        if f.name == "record_action"
        else f
        for f in death.fields
    )
    record_action = spec.code_list("record_action")
    codes = (record_action.codes[0].model_copy(update={"label": HOSTILE}), *record_action.codes[1:])
    return spec.model_copy(
        update={
            "tables": tuple(
                death.model_copy(update={"fields": fields}) if t.name == "death" else t
                for t in spec.tables
            ),
            "code_lists": tuple(
                record_action.model_copy(update={"codes": codes})
                if c.name == "record_action"
                else c
                for c in spec.code_lists
            ),
            "rules": (spec.rules[0].model_copy(update={"message": HOSTILE}), *spec.rules[1:]),
            "definitions": (
                spec.definitions[0].model_copy(update={"description": HOSTILE}),
                *spec.definitions[1:],
            ),
        }
    )


class _Resources(HTMLParser):
    """Every tag that could fetch or run something, and every URL attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "link", "img", "iframe", "object", "embed", "base"}:
            self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "srcset", "href", "action", "data"} and value is not None:
                self.urls.append(value)
            if name == "id" and value is not None:
                self.ids.append(value)
            if name == "href" and value is not None and value.startswith("#"):
                self.links.append(value[1:])


@pytest.fixture(scope="module")
def html() -> str:
    return render_html(SPEC)


@pytest.fixture(scope="module")
def markdown() -> str:
    return render_markdown(SPEC)


def parsed(text: str) -> _Resources:
    parser = _Resources()
    parser.feed(text)
    parser.close()
    return parser


def test_html_fetches_and_runs_nothing(html: str) -> None:
    resources = parsed(html)
    assert resources.tags == []
    assert [u for u in resources.urls if not u.startswith("#")] == []
    assert not re.search(r"https?://", html)
    assert "@import" not in html and "url(" not in html


def test_html_escapes_every_value() -> None:
    html = render_html(hostile_spec(SPEC))
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    assert parsed(html).tags == []


def test_markdown_escapes_every_value() -> None:
    markdown = render_markdown(hostile_spec(SPEC))
    # Markdown escapes with a backslash, so the words stay but no "<" may open a tag.
    assert "\\<script\\>" in markdown
    raw_tags = set(re.findall(r"(?<!\\)<(/?[a-zA-Z]+)", markdown))
    assert raw_tags == {"a", "/a"}, raw_tags


def test_html_anchors_are_unique_and_every_link_lands(html: str) -> None:
    resources = parsed(html)
    assert len(resources.ids) == len(set(resources.ids))
    assert set(resources.links) <= set(resources.ids)


def test_markdown_anchors_are_unique_and_every_link_lands(markdown: str) -> None:
    ids = re.findall(r'<a id="([^"]+)"></a>', markdown)
    links = set(re.findall(r"\]\(#([^)]+)\)", markdown))
    assert len(ids) == len(set(ids))
    assert links <= set(ids)


@pytest.mark.parametrize("render", [render_html, render_markdown], ids=["html", "markdown"])
def test_dictionary_shows_every_part_of_the_spec(render: Callable[[Spec], str]) -> None:
    text = render(SPEC)
    for table in SPEC.tables:
        assert f"table-{table.name}" in text
        assert table.grain in text
        for field in table.fields:
            assert f"field-{table.name}-{field.name}" in text
    for code_list in SPEC.code_lists:
        assert f"code-list-{code_list.name}" in text
    for rule in SPEC.rules:
        assert f"rule-{rule.id}" in text
    for definition in SPEC.definitions:
        assert f"definition-{definition.name}" in text
        for example in definition.worked_examples:
            assert example.name in text


def test_field_details_link_code_lists_and_derivations(html: str) -> None:
    assert '<a href="#code-list-record_action">' in html
    assert '<a href="#definition-death_category">' in html
    section = html.split('id="field-death-nhs_number"')[1].split("</section>")[0]
    assert "Personal identifier: never shown in reports." in section
    assert "NHS NUMBER" in section


def test_every_identifier_field_is_flagged(html: str) -> None:
    flagged = {
        name
        for name in re.findall(r'id="field-death-([a-z0-9_]+)"', html)
        if "never shown in reports"
        in html.split(f'id="field-death-{name}"')[1].split("</section>")[0]
    }
    assert flagged == {f.name for f in SPEC.table("death").fields if f.identifier}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("plain words", "plain words"),
        ("a|b", "a\\|b"),
        ("<b>bold</b>", "\\<b\\>bold\\</b\\>"),
        ("*not* _em_", "\\*not\\* \\_em\\_"),
        ("1. not a list", "1\\. not a list"),
        ("- not a list", "\\- not a list"),
        ("# not a heading", "\\# not a heading"),
        ("version 1.0.0", "version 1.0.0"),
        ("two\nlines", "two lines"),
    ],
)
def test_md_escapes_markdown_and_html(value: object, expected: str) -> None:
    assert md(value) == expected


def test_mdcode_survives_backticks_and_table_pipes() -> None:
    assert mdcode("a|b") == "`a\\|b`"
    assert mdcode("x `y` z") == "``x `y` z``"
    assert mdcode("`edge") == "`` `edge ``"


def test_fenced_block_cannot_be_closed_by_its_content() -> None:
    block = fenced("before\n```\nafter", "text")
    assert block.startswith("````text\n") and block.endswith("\n````")

"""Findings speak in words: formats, cross-table counts and examples, made from the spec."""

from __future__ import annotations

import pytest

from mhdeaths import language as ex
from mhdeaths.spec import load_spec
from mhdeaths.spec.words import aggregate_in_words, example_in_words, format_in_words

SPEC = load_spec("1.1.0")


@pytest.mark.parametrize(
    ("notation", "words"),
    [
        ("an10 CCYY-MM-DD", "CCYY-MM-DD"),
        ("an5 HH:MM", "HH:MM"),
        ("max an10, MAJOR.MINOR.PATCH", "MAJOR.MINOR.PATCH"),
        ("an1", "exactly 1 letter or digit"),
        ("n10", "exactly 10 digits"),
        ("max n7", "up to 7 digits"),
        ("max an36", "up to 36 letters or digits"),
        ("min an3 max an5", "3 to 5 letters or digits"),
        ("boolean", "true or false"),
    ],
)
def test_formats_in_the_dictionarys_notation_read_as_words(notation: str, words: str) -> None:
    assert format_in_words(notation) == words


def test_every_format_of_the_latest_spec_has_words_without_notation() -> None:
    spec = load_spec("2.0.0")
    for table in spec.tables:
        for field in table.submitted_fields:
            words = format_in_words(field.format)
            assert not any(token in words.split() for token in ("min", "max")), field.name
            assert not any(w.startswith(("an", "n")) and w[-1:].isdigit() for w in words.split())


def test_a_cross_table_rule_counts_in_words() -> None:
    rule = SPEC.rule("activity.deaths_match_death_records")
    calls = ex.aggregate_nodes(ex.parse(rule.expression))
    tables = [{n.table for n in c.walk() if isinstance(n, ex.Col)}.pop() for c in calls]
    said = [aggregate_in_words(SPEC, str(t), c) for t, c in zip(tables, calls, strict=True)]
    assert said == [
        "total deaths in spell in activity",
        "death records where inpatient death and record action is not D",
    ]


def test_examples_are_field_value_pairs_never_json() -> None:
    for rule in SPEC.rules:
        text = example_in_words(rule)
        if text is not None:
            assert "{" not in text and '"' not in text, rule.id
    cross = example_in_words(SPEC.rule("activity.deaths_match_death_records"))
    assert cross is not None and cross.startswith("activity: org_id_provider = RX4, ")
    assert "; death: org_id_provider = RX4, " in cross


def test_type_messages_say_the_format_in_words_in_every_version() -> None:
    rule = load_spec("2.0.0").rule("death.type.death_date")
    assert rule.message == "Date of death is not a valid date (CCYY-MM-DD)."
    assert rule.fix.startswith("Write Date of death as CCYY-MM-DD, for example ")
    # A released version's files never change; its {format} is rendered in words all the same.
    old = load_spec("1.0.0").rule("death.type.death_date")
    assert old.message == "Date of death is not a valid date in the format CCYY-MM-DD."

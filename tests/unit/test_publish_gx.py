"""The GX suites have GX 1.x's shape and stand for the spec's per-field rules, id by id."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mhdeaths.spec import Mandation, RuleKind, Table, load_spec, rule_kind
from mhdeaths.standard.publish.common import integer_range_pattern
from mhdeaths.standard.publish.gx import write_gx_suites

SPEC = load_spec("1.0.0")
KINDS = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_match_strftime_format",
    "expect_column_value_lengths_to_be_between",
    "expect_column_values_to_be_between",
    "expect_table_columns_to_match_set",
}


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gx")
    paths = write_gx_suites(SPEC, out)
    assert [p.name for p in paths] == [f"gx-suite-{t.name}.json" for t in SPEC.tables]
    return {
        t.name: json.loads(p.read_text("utf-8")) for t, p in zip(SPEC.tables, paths, strict=True)
    }


def of_kind(suite: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {e["kwargs"]["column"]: e for e in suite["expectations"] if e["type"] == kind}


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_suite_has_the_gx_1_shape(suites: dict[str, dict[str, Any]], table: Table) -> None:
    suite = suites[table.name]
    assert set(suite) == {"name", "expectations", "meta"}
    assert suite["name"] == f"mhdeaths-1.0.0-{table.name}"
    assert suite["meta"]["spec_version"] == "1.0.0"
    for expectation in suite["expectations"]:
        assert set(expectation) == {"type", "kwargs", "meta", "severity"}
        assert expectation["type"] in KINDS
        assert expectation["severity"] in {"critical", "warning", "info"}
        assert set(expectation["meta"]) == {"rule_id", "notes"}
    assert suite["meta"]["usage"].count(f"gx-suite-{table.name}.json") == 1


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_every_mandatory_field_has_a_critical_not_null_expectation(
    suites: dict[str, dict[str, Any]], table: Table
) -> None:
    not_null = of_kind(suites[table.name], "expect_column_values_to_not_be_null")
    for field in table.submitted_fields:
        if field.mandation is Mandation.MANDATORY:
            assert not_null[field.name]["severity"] == "critical", field.name
            assert not_null[field.name]["meta"]["rule_id"] == f"{table.name}.mandatory.{field.name}"
        elif field.mandation is Mandation.REQUIRED:
            assert not_null[field.name]["severity"] == "warning", field.name
        else:
            assert field.name not in not_null


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_code_list_fields_expect_their_codes(
    suites: dict[str, dict[str, Any]], table: Table
) -> None:
    in_set = of_kind(suites[table.name], "expect_column_values_to_be_in_set")
    coded = {f.name: f.code_list for f in table.submitted_fields if f.code_list}
    assert set(in_set) == set(coded)
    for name, code_list in coded.items():
        assert in_set[name]["kwargs"]["value_set"] == SPEC.code_list(code_list).valid_codes()


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_every_rule_is_expressed_or_listed_as_not_expressible(
    suites: dict[str, dict[str, Any]], table: Table
) -> None:
    suite = suites[table.name]
    # A date's type takes two expectations (its shape, and that the day exists).
    expressed = list({e["meta"]["rule_id"] for e in suite["expectations"] if e["meta"]["rule_id"]})
    listed = suite["meta"]["not_expressible"]
    rules = [r.id for r in SPEC.rules_for(table.name)]
    assert sorted(expressed + listed) == sorted(rules)
    # Only a rule on one field's own value has GX built-ins; the rest are listed.
    assert set(listed) == {
        r.id for r in SPEC.rules_for(table.name) if rule_kind(SPEC, r) is not RuleKind.FIELD
    }


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_regexes_accept_each_fields_example(
    suites: dict[str, dict[str, Any]], table: Table
) -> None:
    # GX runs the regex with Python's re as a search; the example values must pass it. A range
    # leaves a text that is no number to the type rule, so only the others refuse "~5~".
    for expectation in suites[table.name]["expectations"]:
        if expectation["type"] == "expect_column_values_to_match_regex":
            field = table.field(expectation["kwargs"]["column"])
            assert re.search(expectation["kwargs"]["regex"], field.example or ""), field.name
            refused = not re.search(expectation["kwargs"]["regex"], f"~{field.example}~")
            assert refused != (".range." in expectation["meta"]["rule_id"]), field.name


def test_ranges_are_stated_on_the_text(suites: dict[str, dict[str, Any]]) -> None:
    # Read as text, a range is a regex: in range or not an integer at all (the type rule's).
    (admissions,) = [
        e
        for e in suites["activity"]["expectations"]
        if e["meta"]["rule_id"] == "activity.range.admissions"
    ]
    assert admissions["type"] == "expect_column_values_to_match_regex"
    regex = admissions["kwargs"]["regex"]
    for text in ["0", "1000000", "+17", "007", "-0", "many", "1.5"]:
        assert re.search(regex, text), text
    for text in ["1000001", "-1", "99999999", "-007"]:
        assert not re.search(regex, text), text


@given(st.integers(-(10**9), 10**9), st.integers(-(10**9), 10**9), st.integers(-(10**10), 10**10))
@example(0, 1000000, 1000000)
@example(0, 0, -0)
def test_integer_range_pattern_holds_exactly_the_range(low: int, high: int, value: int) -> None:
    pattern = f"({integer_range_pattern(low, high)})"
    for text in {str(value), f"+{value}" if value >= 0 else str(value), f"{value:+08d}"}:
        assert bool(re.fullmatch(pattern, text)) == (low <= value <= high), text
    assert bool(re.fullmatch(f"({integer_range_pattern(None, high)})", str(value))) == (
        value <= high
    )
    assert bool(re.fullmatch(f"({integer_range_pattern(low, None)})", str(value))) == (value >= low)


def test_lengths_are_expected(suites: dict[str, dict[str, Any]]) -> None:
    lengths = of_kind(suites["death"], "expect_column_value_lengths_to_be_between")
    assert lengths["local_patient_id"]["kwargs"] == {"column": "local_patient_id", "max_value": 20}


@pytest.mark.parametrize("table", SPEC.tables, ids=lambda t: t.name)
def test_table_columns_are_expected_at_the_specs_severities(
    suites: dict[str, dict[str, Any]], table: Table
) -> None:
    columns = [
        (e["kwargs"], e["severity"])
        for e in suites[table.name]["expectations"]
        if e["type"] == "expect_table_columns_to_match_set"
    ]
    mandatory = [f.name for f in table.submitted_fields if f.mandation is Mandation.MANDATORY]
    assert columns == [
        ({"column_set": mandatory, "exact_match": False}, "critical"),
        ({"column_set": [f.name for f in table.submitted_fields], "exact_match": True}, "warning"),
    ]


def test_suites_do_not_import_great_expectations(tmp_path: Path) -> None:
    import sys

    write_gx_suites(SPEC, tmp_path)
    assert "great_expectations" not in sys.modules

"""The expression language: what it accepts, what it refuses, and what it means in polars."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pytest

from mhdeaths import language as ex
from mhdeaths.errors import ExpressionError
from mhdeaths.spec import Spec


def evaluate(text: str, **columns: list[object]) -> list[object]:
    frame = pl.DataFrame(columns)
    return frame.select(ex.to_polars(text).alias("v"))["v"].to_list()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = ", "does not parse"),
        ("SELECT a FROM t", "language does not have"),
        ("frobnicate(a)", "unknown function frobnicate()"),
        ("days_between(a)", "takes 2"),
        ("matches(a, b)", "must be a quoted text"),
        ("add_months(d, n)", "argument 2 of add_months() must be a whole number"),
        ("add_months(d, 1.5)", "must be a whole number"),
        ("add_months(d, '3')", "must be a whole number"),
        ("add_days(d, TRUE)", "must be a whole number"),
        ("add_days(d, 1 + 1)", "must be a whole number"),
        ("CAST(a AS INTEGER) = 1", "only date literals"),
        ("a LIKE 'x%'", "language does not have"),
    ],
)
def test_expressions_outside_the_language_are_refused_with_a_reason(
    text: str, message: str
) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ex.parse(text)


def test_parse_reports_the_columns_named_with_their_tables() -> None:
    parsed = ex.parse("SUM(activity.deaths_in_spell) = COUNT_IF(death.inpatient_death)")
    assert parsed.columns == {"activity.deaths_in_spell", "death.inpatient_death"}
    assert parsed.aggregate


def test_a_window_is_not_an_aggregate() -> None:
    assert not ex.parse("COUNT(*) OVER (PARTITION BY a) = 1").aggregate


def test_days_between_counts_calendar_days_from_day_zero() -> None:
    a = [dt.date(2027, 3, 1), dt.date(2027, 3, 1), None]
    b = [dt.date(2027, 3, 1), dt.date(2027, 3, 31), dt.date(2027, 3, 1)]
    assert evaluate("days_between(a, b)", a=a, b=b) == [0, 30, None]


def test_years_between_counts_completed_years_including_leap_birthdays() -> None:
    born = [dt.date(2000, 2, 29), dt.date(2000, 2, 29), dt.date(1980, 5, 17)]
    died = [dt.date(2027, 2, 28), dt.date(2027, 3, 1), dt.date(2027, 5, 17)]
    assert evaluate("years_between(a, b)", a=born, b=died) == [26, 27, 47]


def test_add_months_and_add_days_go_back_for_a_negative_count() -> None:
    days = [dt.date(2027, 3, 31), dt.date(2028, 3, 1), None]
    assert evaluate("add_months(d, -1)", d=days) == [
        dt.date(2027, 2, 28),
        dt.date(2028, 2, 1),
        None,
    ]
    assert evaluate("add_days(d, -1)", d=days) == [dt.date(2027, 3, 30), dt.date(2028, 2, 29), None]


def test_in_keeps_sql_null_semantics() -> None:
    assert evaluate("a IN ('x', 'y')", a=["x", "z", None]) == [True, False, None]


def test_matches_is_a_whole_string_match() -> None:
    assert evaluate("matches(a, '[0-9]{2}')", a=["12", "123", "x12", None]) == [
        True,
        False,
        False,
        None,
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("X70X", "X70"), ("x70", "X70"), ("F32.9", "F329"), ("F329", "F329"), ("Y87.0", "Y870")],
)
def test_icd10_normal_form(text: str, expected: str) -> None:
    assert evaluate("icd10(a)", a=[text]) == [expected]


def test_text_type_checks_pass_empty_values() -> None:
    assert evaluate("is_date(a)", a=["2027-02-28", "2027-02-30", "28/02/2027", None]) == [
        True,
        False,
        False,
        None,
    ]
    assert evaluate("is_integer(a)", a=["12", "-3", "1.5", None]) == [True, True, False, None]
    assert evaluate("is_time(a)", a=["23:59", "24:00", "07:05:09", None]) == [
        True,
        False,
        True,
        None,
    ]


def test_bind_codes_quotes_each_code() -> None:
    assert ex.bind_codes("x IN ({codes})", ["A", "O'B"]) == "x IN ('A', 'O''B')"


def _outcome(make: Callable[[], ex.Expression]) -> object:
    try:
        return make()
    except ExpressionError as exc:
        return str(exc)


@pytest.mark.parametrize(
    "text",
    [
        "x IN ({codes})",
        "x NOT IN ({codes}) OR y IN ({codes})",
        "coalesce(x IN ({codes}), FALSE) AND x IS NOT NULL",
        "x IN ('Z', {codes})",  # beside another value: bound as text
        "x = {codes}",  # not an IN list: as text (a parse error when several codes)
        "x = '{codes}'",  # inside a text: as text
        "x IN ('\x00{codes}')",
        "x IS NULL",
    ],
)
@pytest.mark.parametrize("codes", [[], ["A"], ["A", "O'B", "1", "{codes}"]])
def test_binding_the_parsed_tree_is_parsing_the_bound_text(text: str, codes: list[str]) -> None:
    assert _outcome(lambda: ex.parse_bound(text, codes)) == _outcome(
        lambda: ex.parse(ex.bind_codes(text, codes))
    )


def test_every_rule_binds_as_its_bound_text_parses(any_spec: Spec) -> None:
    for rule in any_spec.rules:
        code_list = any_spec.code_list(rule.code_list) if rule.code_list else None
        days = {c.valid_from for c in code_list.codes} | {None} if code_list else {None}
        for day in days:
            codes = code_list.valid_codes(day) if code_list else []
            bound = ex.parse_bound(rule.expression, codes)
            assert bound == ex.parse(ex.bind_codes(rule.expression, codes)), rule.id


def test_bind_codes_with_no_valid_code_fails_every_present_value() -> None:
    text = ex.bind_codes("x IN ({codes})", [])
    assert evaluate(text, x=["A", None]) == [False, None]


def test_duckdb_rendering_expands_the_language_functions() -> None:
    sql = ex.to_duckdb("days_between(a, b) <= 30 AND matches(c, '[A-Z]')")
    assert "DATE_DIFF" in sql.upper()
    assert "REGEXP_FULL_MATCH" in sql.upper()
    assert "days_between" not in sql


def test_simple_case_compares_its_subject_with_each_value() -> None:
    text = "CASE a WHEN 'IPD' THEN 1 WHEN 'D30' THEN 2 ELSE 4 END"
    assert evaluate(text, a=["D30", "IPD", "OOS", None]) == [2, 1, 4, 4]

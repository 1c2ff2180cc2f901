"""Codes valid by an event's own date, bound once in the language for both engines.

``bind_dated_codes`` turns ``x IN ({codes})`` into a test of each record's code against its own
date (the field's ``dated_by``). Each case here is evaluated in polars and in DuckDB from the same
bound tree, which must agree. The probe of the spec 2.0.0 plan (section 7.1): a code valid from
2027-10-01, on a review started 3 November (accepted) or 20 September (rejected).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from mhdeaths import language as ex
from mhdeaths.engines import sql_engine
from mhdeaths.errors import ExpressionError
from mhdeaths.periods import period_start

SEPTEMBER = period_start("2027-09")
CODES = [
    ex.DatedCode("01"),
    ex.DatedCode("11", valid_from=dt.date(2027, 10, 1)),
    ex.DatedCode("12", valid_to=dt.date(2027, 9, 30)),
    ex.DatedCode("13", valid_from=dt.date(2027, 6, 1), valid_to=dt.date(2027, 6, 30)),
]
IN_SEPTEMBER = ["01", "12"]  # what the code list says is valid in the period


def verdicts(expression: ex.Expression, rows: list[tuple[str | None, dt.date | None]]) -> list:
    """Each record's verdict (True passes, False fails, None: NULL, which passes) in polars, after
    checking DuckDB gives the same."""
    frame = pl.DataFrame(rows, schema={"x": pl.String, "d": pl.Date}, orient="row")
    from_polars = frame.select(ex.to_polars(expression).alias("v"))["v"].to_list()
    con = duckdb.connect()
    try:
        sql_engine.register_frame(con, "t", frame.with_row_index("_row"))
        sql = f"SELECT ({ex.to_duckdb(expression)}) FROM t ORDER BY _row"
        from_duckdb = [r[0] for r in con.sql(sql).fetchall()]
    finally:
        con.close()
    assert from_polars == from_duckdb
    return from_polars


def test_a_dated_code_is_judged_by_the_records_own_date() -> None:
    bound = ex.bind_dated_codes("x IN ({codes})", "d", CODES, IN_SEPTEMBER)
    rows = [
        ("11", dt.date(2027, 11, 3)),  # the probe: valid from October, started in November
        ("11", dt.date(2027, 9, 20)),  # the probe: started before the code existed
        ("11", dt.date(2027, 10, 1)),  # its first day is included
        ("12", dt.date(2027, 9, 30)),  # its last day is included
        ("12", dt.date(2027, 10, 1)),
        ("13", dt.date(2027, 6, 15)),  # a code valid for one month, outside the period
        ("13", dt.date(2027, 7, 1)),
        ("01", dt.date(1999, 1, 1)),  # a code with no dates is valid on any day
        ("99", dt.date(2027, 11, 3)),  # not a code at all
    ]
    assert verdicts(bound, rows) == [True, False, True, True, False, True, False, True, False]


def test_without_a_date_the_codes_of_the_reporting_period_apply() -> None:
    bound = ex.bind_dated_codes("x IN ({codes})", "d", CODES, IN_SEPTEMBER)
    # 11 with no date would pass if its test were only "x = '11' AND d >= ...": TRUE AND NULL
    # is NULL, and a rule passes on NULL. It must fail: 11 is not valid in September.
    rows = [("11", None), ("12", None), ("01", None), ("99", None)]
    assert verdicts(bound, rows) == [False, True, True, False]


def test_an_empty_value_is_left_to_the_mandation_checks() -> None:
    bound = ex.bind_dated_codes("x IN ({codes})", "d", CODES, IN_SEPTEMBER)
    assert [v is not False for v in verdicts(bound, [(None, None), (None, SEPTEMBER)])] == [
        True,
        True,
    ]


def test_not_in_is_the_negation_of_the_dated_test() -> None:
    bound = ex.bind_dated_codes("x NOT IN ({codes})", "d", CODES, IN_SEPTEMBER)
    rows = [("11", dt.date(2027, 11, 3)), ("11", dt.date(2027, 9, 20)), ("11", None)]
    assert verdicts(bound, rows) == [False, True, True]


def test_no_code_valid_in_the_period_fails_every_undated_record() -> None:
    bound = ex.bind_dated_codes("x IN ({codes})", "d", [ex.DatedCode("11", SEPTEMBER)], [])
    assert verdicts(bound, [("11", None), ("11", SEPTEMBER)]) == [False, True]


def test_codes_outside_an_in_list_cannot_be_dated() -> None:
    with pytest.raises(ExpressionError, match=r"outside 'x IN \(\{codes\}\)'"):
        ex.bind_dated_codes("x = {codes}", "d", CODES, IN_SEPTEMBER)


def test_an_expression_without_codes_is_only_parsed() -> None:
    assert (
        ex.bind_dated_codes("x IS NOT NULL", "d", CODES, []).tree == ex.parse("x IS NOT NULL").tree
    )

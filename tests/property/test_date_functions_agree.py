"""add_months and add_days give the same dates in polars and in DuckDB, and the calendar's.

Month arithmetic is where engines differ: whether the 31st three months on is the 30th or the 1st
of the month after, whether 29 February a year on is the 28th, whether DuckDB's result is a date or
a timestamp. Every month end and every 29 February of three decades is in each example, with a
generated count of months (negative too) and any other generated dates; a plain-Python calendar
is the third opinion.
"""

from __future__ import annotations

import calendar
import datetime as dt

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from mhdeaths import language as ex
from mhdeaths.engines import sql_engine

MONTH_ENDS = [
    dt.date(year, month, calendar.monthrange(year, month)[1])
    for year in range(2000, 2031)
    for month in range(1, 13)
]
LEAP_DAYS = [dt.date(year, 2, 29) for year in range(2000, 2031) if calendar.isleap(year)]
EDGES = [*MONTH_ENDS, *LEAP_DAYS, *(dt.date(y, 2, 28) for y in range(2000, 2031))]


def calendar_add_months(day: dt.date, n: int) -> dt.date:
    """The same day n months on, or that month's last day (the function table's meaning)."""
    months = day.year * 12 + day.month - 1 + n
    year, month = divmod(months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# One in-memory DuckDB for every example: a new one costs more than the example (some 50 ms, a
# hundred times over); each example registers its dates and unregisters them, so none sees another.
_CON = duckdb.connect()


def both_engines(expression: str, days: list[dt.date | None]) -> tuple[list[object], list[object]]:
    frame = pl.DataFrame({"d": days}, schema={"d": pl.Date})
    from_polars = frame.select(ex.to_polars(expression).alias("v"))
    sql_engine.register_frame(_CON, "dates", frame.with_row_index("_row"))
    try:
        query = _CON.sql(f"SELECT ({ex.to_duckdb(expression)}) AS v FROM dates ORDER BY _row")
        from_duckdb, sql_type = [r[0] for r in query.fetchall()], str(query.types[0])
    finally:
        _CON.unregister("dates")
    assert from_polars.schema["v"] == pl.Date
    assert sql_type == "DATE"
    return from_polars["v"].to_list(), from_duckdb


others = st.lists(
    st.one_of(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)), st.none()), max_size=20
)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(-1200, 1200), more=others)
def test_add_months_agrees_in_both_engines_on_every_month_end(
    n: int, more: list[dt.date | None]
) -> None:
    days: list[dt.date | None] = [*EDGES, *more]
    from_polars, from_duckdb = both_engines(f"add_months(d, {n})", days)
    assert from_polars == from_duckdb
    assert from_polars == [None if d is None else calendar_add_months(d, n) for d in days]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(-5000, 5000), more=others)
def test_add_days_agrees_in_both_engines_on_every_month_end(
    n: int, more: list[dt.date | None]
) -> None:
    days: list[dt.date | None] = [*EDGES, *more]
    from_polars, from_duckdb = both_engines(f"add_days(d, {n})", days)
    assert from_polars == from_duckdb
    assert from_polars == [None if d is None else d + dt.timedelta(days=n) for d in days]


def test_the_oracle_clamps_as_the_function_table_says() -> None:
    # The third opinion is only worth having if it is right on the table's own cases.
    assert calendar_add_months(dt.date(2027, 1, 31), 3) == dt.date(2027, 4, 30)
    assert calendar_add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    assert calendar_add_months(dt.date(2028, 2, 29), 12) == dt.date(2029, 2, 28)
    assert calendar_add_months(dt.date(2027, 3, 31), -1) == dt.date(2027, 2, 28)

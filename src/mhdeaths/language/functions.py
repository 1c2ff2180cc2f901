"""The language's functions: one table saying, for each, what it means and how each engine computes it.

Every function a spec expression may call beyond plain SQL (``days_between``, ``matches``,
``nhs_number_valid``...) is one ``Function`` in ``FUNCTIONS``: its name and arity (the parser
checks calls against them), its polars form (the validator), its DuckDB form (the warehouse) and
its meaning. The two forms sit side by side so that a change to one is seen next to the other.
The aggregates and the few SQL functions passed through unchanged are listed here too, so that
this module is the one place that says which names an expression may call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import polars as pl

AGGREGATES = frozenset({"count", "count_if", "sum", "min", "max"})
#: The aggregates that count: over a group a table does not have, they are zero. MIN and MAX
#: of no records are unknown (NULL), as in SQL, and a date has no zero.
COUNTING_AGGREGATES = frozenset({"count", "count_if", "sum"})
#: SQL functions both engines have under the same name, with their arity (None: one or more; a
#: pair: either count).
BUILTINS: dict[str, int | tuple[int, ...] | None] = {
    "coalesce": None,
    "length": 1,
    "upper": 1,
    "substr": (2, 3),
    "nullif": 2,
}


class Type(StrEnum):
    """The type of a function's argument or result, named as the spec's field types are."""

    STRING = "string"
    INTEGER = "integer"
    DATE = "date"
    BOOLEAN = "boolean"


Value = str | int | bool | dt.date | None
"""A value in an example record or result (None is SQL's NULL)."""


@dataclass(frozen=True)
class Example:
    """What a function does, shown: an expression calling it over a tiny record set, and the
    value it gives on each record. The tests run every example in both engines, and the function
    table in spec/README.md shows it, so the documentation is a test that passes."""

    expression: str
    records: tuple[Mapping[str, Value], ...]
    """Columns named as the function's parameters, with values of their types."""
    expected: tuple[Value, ...]
    """The expression's value on each record, in order."""


@dataclass(frozen=True)
class Function:
    """A function of the language: its signature, its meaning with an example, its polars form
    and its DuckDB form."""

    name: str
    parameters: tuple[tuple[str, Type], ...]
    """Each argument's name (as the documentation calls it) and type."""
    result: Type
    description: str
    example: Example
    polars: Callable[..., pl.Expr]
    duckdb: str
    """DuckDB SQL with {0}, {1}... for the arguments (already rendered as SQL)."""
    literal_args: tuple[int, ...] = ()
    """Positions that must be literals, written in the expression itself: a quoted text for a
    string parameter (a regular expression), a whole number for an integer one (a count of months,
    so that polars offsets every row by one constant rather than row by row)."""

    @property
    def arity(self) -> int:
        return len(self.parameters)

    @property
    def signature(self) -> str:
        """How a call is written, as ``matches(x, 'regex')``: a literal text argument is quoted."""
        names = [
            f"'{n}'" if i in self.literal_args and t is Type.STRING else n
            for i, (n, t) in enumerate(self.parameters)
        ]
        return f"{self.name}({', '.join(names)})"


def null_safe(x: pl.Expr, test: pl.Expr) -> pl.Expr:
    """A predicate on x that is NULL when x is NULL, as in SQL."""
    return pl.when(x.is_null()).then(pl.lit(None, dtype=pl.Boolean)).otherwise(test)


def _full_match(x: pl.Expr, pattern: str) -> pl.Expr:
    return x.str.contains(f"^(?:{pattern})$")


DATE_FORMAT = "%Y-%m-%d"
DATE_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def date_check(x: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """is_date(x), given x already read as a date (``parsed``): the validator reuses the typed
    value it computes anyway rather than reading every date twice."""
    return null_safe(x, _full_match(x, DATE_SHAPE) & parsed.is_not_null())


def _is_date(x: pl.Expr) -> pl.Expr:
    return date_check(x, x.str.to_date(DATE_FORMAT, strict=False))


def _years_between(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    before_birthday = (b.dt.month().cast(pl.Int32) * 100 + b.dt.day().cast(pl.Int32)) < (
        a.dt.month().cast(pl.Int32) * 100 + a.dt.day().cast(pl.Int32)
    )
    return b.dt.year().cast(pl.Int32) - a.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
"""The weights of an NHS number's first nine digits (NHS Data Dictionary, modulus 11)."""

TABLES_FROM = 50_000
"""The batch of records from which the NHS number check looks its weighted sums up in tables
(made once per process, then used for every batch) rather than computing them digit by digit.
Making the tables takes about 13 ms, a tenth of a microsecond saved per record repays it only
over a large file (polars hands a large column over in batches of 100,000); a month's file of a
few records needs 13 ms less without them."""


def _weighted_table(weights: Sequence[int]) -> pl.Series:
    """For each number of len(weights) digits (its index): the sum of its digits times the
    weights, modulo 11."""
    numbers = pl.int_range(0, 10 ** len(weights), dtype=pl.Int64, eager=True)
    total = numbers * 0
    for i, weight in enumerate(weights):
        total = total + numbers // 10 ** (len(weights) - 1 - i) % 10 * weight
    return total % 11


@lru_cache(maxsize=1)
def _nhs_tables() -> tuple[pl.Series, pl.Series]:
    # The weights of the first nine digits, 10 down to 2, split four and five.
    return _weighted_table(NHS_WEIGHTS[:4]), _weighted_table(NHS_WEIGHTS[4:])


def _nhs_number_valid(x: pl.Expr) -> pl.Expr:
    # Modulus 11 over the first nine digits, weights 10 down to 2 (NHS Data Dictionary). On a
    # large column the weighted sum is looked up for the first four digits and for the next five
    # (two tables of 10,000 and 100,000 sums) rather than computed digit by digit. It runs on the
    # whole column at once because the number, the shape test and the check are each used more
    # than once, and within one expression polars would compute them again for every use.
    return x.map_batches(_nhs_numbers_valid, return_dtype=pl.Boolean, is_elementwise=True)


def nhs_weighted_sum(number: pl.Series, by_table: bool) -> pl.Series:
    """The weighted sum of a ten-digit number's first nine digits, modulo 11 or not (the check
    takes it modulo 11): looked up in the tables, or computed digit by digit."""
    if by_table:
        first, rest = _nhs_tables()
        return first.gather(number // 1_000_000) + rest.gather(number // 10 % 100_000)
    total = number * 0
    for i, weight in enumerate(NHS_WEIGHTS):
        total = total + number // 10 ** (len(NHS_WEIGHTS) - i) % 10 * weight
    return total


def _nhs_numbers_valid(text: pl.Series) -> pl.Series:
    shaped = text.str.contains("^[0-9]{10}$")
    # Only ten-digit text is read as a number, so the lookups stay within their tables.
    number = text.cast(pl.Int64, strict=False).zip_with(shaped.fill_null(False), pl.Series([None]))
    by_table = len(text) >= TABLES_FROM or _nhs_tables.cache_info().currsize > 0
    total = nhs_weighted_sum(number, by_table)
    check = (11 - total % 11) % 11
    valid = (shaped & (check != 10) & (check == number % 10)).fill_null(False)
    # NULL where the text is missing, as in SQL; otherwise TRUE or FALSE.
    return valid.zip_with(text.is_not_null(), pl.Series([None], dtype=pl.Boolean)).alias(text.name)


_NHS_SQL = (
    "CASE WHEN {0} IS NULL THEN NULL ELSE (regexp_full_match({0}, '[0-9]{{10}}') AND "
    "coalesce((11 - ("
    + " + ".join(f"TRY_CAST(substr({{0}}, {i + 1}, 1) AS INTEGER) * {10 - i}" for i in range(9))
    + ") % 11) % 11 = TRY_CAST(substr({0}, 10, 1) AS INTEGER), FALSE)) END"
)


def _icd10(x: pl.Expr) -> pl.Expr:
    upper = x.str.to_uppercase()
    return pl.concat_str([upper.str.slice(0, 3), upper.str.slice(3).str.replace_all("[^0-9]", "")])


def _regex_sql(pattern: str) -> str:
    return "CASE WHEN {0} IS NULL THEN NULL ELSE regexp_full_match({0}, '" + pattern + "') END"


def _add_months(d: pl.Expr, n: int) -> pl.Expr:
    # offset_by moves by calendar months and clamps to the month's last day, as DuckDB does.
    return d.dt.offset_by(f"{n}mo")


_MARCH_1, _MARCH_31 = dt.date(2027, 3, 1), dt.date(2027, 3, 31)
_LEAP_DAY = dt.date(2000, 2, 29)


def _one(expression: str, column: str, *cases: tuple[Value, Value]) -> Example:
    """An example over one column: each case is (its value, the result)."""
    return Example(expression, tuple({column: v} for v, _ in cases), tuple(r for _, r in cases))


def _two(expression: str, *cases: tuple[Value, Value, Value]) -> Example:
    """An example over columns a and b: each case is (a, b, the result)."""
    return Example(
        expression, tuple({"a": a, "b": b} for a, b, _ in cases), tuple(r for _, _, r in cases)
    )


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function(
            "days_between",
            (("a", Type.DATE), ("b", Type.DATE)),
            Type.INTEGER,
            "Calendar days from the first date to the second (the first day is day 0).",
            _two(
                "days_between(a, b)",
                (_MARCH_1, _MARCH_1, 0),
                (_MARCH_1, _MARCH_31, 30),
                (_MARCH_31, _MARCH_1, -30),
                (None, _MARCH_1, None),
            ),
            lambda a, b: (b - a).dt.total_days().cast(pl.Int64),
            "date_diff('day', {0}, {1})",
        ),
        Function(
            "years_between",
            (("a", Type.DATE), ("b", Type.DATE)),
            Type.INTEGER,
            "Completed years from the first date to the second (an age).",
            _two(
                "years_between(a, b)",
                (_LEAP_DAY, dt.date(2027, 2, 28), 26),
                (_LEAP_DAY, _MARCH_1, 27),
                (dt.date(1980, 5, 17), dt.date(2027, 5, 17), 47),
                (_LEAP_DAY, None, None),
            ),
            _years_between,
            "(year({1}) - year({0}) - CASE WHEN month({1}) * 100 + day({1}) < "
            "month({0}) * 100 + day({0}) THEN 1 ELSE 0 END)",
        ),
        Function(
            "month_of",
            (("d", Type.DATE),),
            Type.STRING,
            "The month of a date, written CCYY-MM (a reporting period).",
            _one("month_of(d)", "d", (_MARCH_31, "2027-03"), (None, None)),
            lambda d: d.dt.strftime("%Y-%m"),
            "strftime({0}, '%Y-%m')",
        ),
        Function(
            "matches",
            (("x", Type.STRING), ("regex", Type.STRING)),
            Type.BOOLEAN,
            "True when the whole text matches the regular expression.",
            _one(
                "matches(x, '[0-9]{2}')",
                "x",
                ("12", True),
                ("123", False),
                ("x12", False),
                (None, None),
            ),
            lambda x, p: _full_match(x, p),
            "regexp_full_match({0}, {1})",
            literal_args=(1,),
        ),
        Function(
            "nhs_number_valid",
            (("x", Type.STRING),),
            Type.BOOLEAN,
            "True when the text is ten digits whose last is the NHS number modulus 11 check digit.",
            # Numbers of the synthetic range, never issued to a person.
            _one(
                "nhs_number_valid(x)",
                "x",
                ("9990000018", True),
                ("9990000019", False),
                ("9990000000", False),
                ("999000001", False),
                (None, None),
            ),
            _nhs_number_valid,
            _NHS_SQL,
        ),
        Function(
            "icd10",
            (("x", Type.STRING),),
            Type.STRING,
            "An ICD-10 code in one normal form: the category then its digits (X70X, X70 → X70; "
            "F32.9, F329 → F329).",
            _one(
                "icd10(x)",
                "x",
                ("X70X", "X70"),
                ("x70", "X70"),
                ("F32.9", "F329"),
                ("F329", "F329"),
                (None, None),
            ),
            _icd10,
            "(upper(substr({0}, 1, 3)) || regexp_replace(upper(substr({0}, 4)), '[^0-9]', '', 'g'))",
        ),
        Function(
            "is_date",
            (("x", Type.STRING),),
            Type.BOOLEAN,
            "True when the text is a real calendar date written CCYY-MM-DD.",
            _one(
                "is_date(x)",
                "x",
                ("2027-02-28", True),
                ("2027-02-30", False),
                ("28/02/2027", False),
                (None, None),
            ),
            _is_date,
            "CASE WHEN {0} IS NULL THEN NULL ELSE (regexp_full_match({0}, "
            "'[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') AND try_strptime({0}, '%Y-%m-%d') IS NOT NULL) END",
        ),
        Function(
            "is_integer",
            (("x", Type.STRING),),
            Type.BOOLEAN,
            "True when the text is a whole number (digits, optionally signed, at most 15 digits).",
            _one(
                "is_integer(x)",
                "x",
                ("12", True),
                ("-3", True),
                ("1.5", False),
                ("1234567890123456", False),
                (None, None),
            ),
            lambda x: null_safe(x, _full_match(x, "[+-]?[0-9]{1,15}")),
            _regex_sql("[+-]?[0-9]{{1,15}}"),
        ),
        Function(
            "is_decimal",
            (("x", Type.STRING),),
            Type.BOOLEAN,
            "True when the text is a decimal number such as 12 or 12.5.",
            _one(
                "is_decimal(x)",
                "x",
                ("12", True),
                ("12.5", True),
                ("1,5", False),
                (".5", False),
                (None, None),
            ),
            lambda x: null_safe(x, _full_match(x, r"[+-]?[0-9]{1,15}(\.[0-9]+)?")),
            _regex_sql(r"[+-]?[0-9]{{1,15}}(\.[0-9]+)?"),
        ),
        Function(
            "is_time",
            (("x", Type.STRING),),
            Type.BOOLEAN,
            "True when the text is a time of day written HH:MM or HH:MM:SS (24-hour clock).",
            _one(
                "is_time(x)",
                "x",
                ("23:59", True),
                ("07:05:09", True),
                ("24:00", False),
                (None, None),
            ),
            lambda x: null_safe(x, _full_match(x, "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")),
            _regex_sql("([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"),
        ),
        Function(
            "add_months",
            (("d", Type.DATE), ("n", Type.INTEGER)),
            Type.DATE,
            "The same day of the month n calendar months later (earlier when n is negative), or "
            "that month's last day when it has no such day. n is a whole number written in the "
            "expression.",
            _one(
                "add_months(d, 3)",
                "d",
                (dt.date(2027, 1, 31), dt.date(2027, 4, 30)),
                (dt.date(2027, 11, 30), dt.date(2028, 2, 29)),
                (dt.date(2027, 3, 15), dt.date(2027, 6, 15)),
                (None, None),
            ),
            _add_months,
            # Adding an interval gives a timestamp in DuckDB; the language's result is a date.
            "CAST({0} + to_months({1}) AS DATE)",
            literal_args=(1,),
        ),
        Function(
            "add_days",
            (("d", Type.DATE), ("n", Type.INTEGER)),
            Type.DATE,
            "The date n days later (earlier when n is negative). n is a whole number written in "
            "the expression.",
            _one(
                "add_days(d, 56)",
                "d",
                (dt.date(2028, 1, 20), dt.date(2028, 3, 16)),
                (dt.date(2028, 2, 28), dt.date(2028, 4, 24)),
                (dt.date(2027, 2, 28), dt.date(2027, 4, 25)),
                (None, None),
            ),
            lambda d, n: d + pl.duration(days=n),
            "{0} + {1}",
            literal_args=(1,),
        ),
    ]
}

"""The language's functions: one table saying, for each, what it means and how each engine computes it.

Every function a spec expression may call beyond plain SQL (``days_between``, ``matches``,
``nhs_number_valid``...) is one ``Function`` in ``FUNCTIONS``: its name and arity (the parser
checks calls against them), its polars form (the validator), its DuckDB form (the warehouse) and
its meaning. The two forms sit side by side so that a change to one is seen next to the other.
The aggregates and the few SQL functions passed through unchanged are listed here too, so that
this module is the one place that says which names an expression may call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

AGGREGATES = frozenset({"count", "count_if", "sum", "min", "max"})
#: SQL functions both engines have under the same name, with their arity (None: one or more; a
#: pair: either count).
BUILTINS: dict[str, int | tuple[int, ...] | None] = {
    "coalesce": None,
    "length": 1,
    "upper": 1,
    "substr": (2, 3),
}


@dataclass(frozen=True)
class Function:
    """A function of the language: its arity, its polars form and its DuckDB form."""

    name: str
    arity: int
    description: str
    polars: Callable[..., pl.Expr]
    duckdb: str
    """DuckDB SQL with {0}, {1}... for the arguments (already rendered as SQL)."""
    literal_args: tuple[int, ...] = ()
    """Positions that must be string literals (regular expressions)."""


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
    return _weighted_table([10, 9, 8, 7]), _weighted_table([6, 5, 4, 3, 2])


def _nhs_number_valid(x: pl.Expr) -> pl.Expr:
    # Modulus 11 over the first nine digits, weights 10 down to 2 (NHS Data Dictionary). The
    # weighted sum is looked up for the first four digits and for the next five (two tables of
    # 10,000 and 100,000 sums) rather than computed digit by digit. It runs on the whole column
    # at once because the number, the shape test and the check are each used more than once, and
    # within one expression polars would compute them again for every use.
    return x.map_batches(_nhs_numbers_valid, return_dtype=pl.Boolean, is_elementwise=True)


def _nhs_numbers_valid(text: pl.Series) -> pl.Series:
    shaped = text.str.contains("^[0-9]{10}$")
    # Only ten-digit text is read as a number, so the lookups stay within their tables.
    number = text.cast(pl.Int64, strict=False).zip_with(shaped.fill_null(False), pl.Series([None]))
    first, rest = _nhs_tables()
    total = first.gather(number // 1_000_000) + rest.gather(number // 10 % 100_000)
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


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function(
            "days_between",
            2,
            "Calendar days from the first date to the second (the first day is day 0).",
            lambda a, b: (b - a).dt.total_days().cast(pl.Int64),
            "date_diff('day', {0}, {1})",
        ),
        Function(
            "years_between",
            2,
            "Completed years from the first date to the second (an age).",
            _years_between,
            "(year({1}) - year({0}) - CASE WHEN month({1}) * 100 + day({1}) < "
            "month({0}) * 100 + day({0}) THEN 1 ELSE 0 END)",
        ),
        Function(
            "month_of",
            1,
            "The month of a date, written CCYY-MM (a reporting period).",
            lambda d: d.dt.strftime("%Y-%m"),
            "strftime({0}, '%Y-%m')",
        ),
        Function(
            "matches",
            2,
            "True when the whole text matches the regular expression.",
            lambda x, p: _full_match(x, p),
            "regexp_full_match({0}, {1})",
            literal_args=(1,),
        ),
        Function(
            "nhs_number_valid",
            1,
            "True when the text is ten digits whose last is the NHS number modulus 11 check digit.",
            _nhs_number_valid,
            _NHS_SQL,
        ),
        Function(
            "icd10",
            1,
            "An ICD-10 code in one normal form: the category then its digits (X70X, X70 -> X70; "
            "F32.9, F329 -> F329).",
            _icd10,
            "(upper(substr({0}, 1, 3)) || regexp_replace(upper(substr({0}, 4)), '[^0-9]', '', 'g'))",
        ),
        Function(
            "is_date",
            1,
            "True when the text is a real calendar date written CCYY-MM-DD.",
            _is_date,
            "CASE WHEN {0} IS NULL THEN NULL ELSE (regexp_full_match({0}, "
            "'[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') AND try_strptime({0}, '%Y-%m-%d') IS NOT NULL) END",
        ),
        Function(
            "is_integer",
            1,
            "True when the text is a whole number (digits, optionally signed, at most 15 digits).",
            lambda x: null_safe(x, _full_match(x, "[+-]?[0-9]{1,15}")),
            _regex_sql("[+-]?[0-9]{{1,15}}"),
        ),
        Function(
            "is_decimal",
            1,
            "True when the text is a decimal number such as 12 or 12.5.",
            lambda x: null_safe(x, _full_match(x, r"[+-]?[0-9]{1,15}(\.[0-9]+)?")),
            _regex_sql(r"[+-]?[0-9]{{1,15}}(\.[0-9]+)?"),
        ),
        Function(
            "is_time",
            1,
            "True when the text is a time of day written HH:MM or HH:MM:SS (24-hour clock).",
            lambda x: null_safe(x, _full_match(x, "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")),
            _regex_sql("([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"),
        ),
    ]
}

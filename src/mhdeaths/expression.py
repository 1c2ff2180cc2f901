"""The spec's expression language: one text, evaluated the same way by polars and by DuckDB.

A rule or a definition in ``spec/`` carries one expression written in a small, documented subset of
SQL (spec/README.md, "Expressions"). The validator evaluates it with polars, the warehouse with
DuckDB. Neither engine's own SQL dialect would do on its own: polars' SQL has no date difference
and searches where DuckDB matches whole strings. So the text is parsed once (sqlglot), checked
against the subset, and compiled to each engine by the two small translators below. A property
test evaluates every spec expression in both engines on generated data and compares the results.

Null semantics are SQL's: a rule *passes* unless its expression is FALSE (as a CHECK constraint),
so a missing value is left to the mandation checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from mhdeaths.errors import ExpressionError

_AGGREGATES = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.CountIf)

# Node types a spec expression may use, beyond the functions in FUNCTIONS below.
_ALLOWED = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Cast,
    exp.DataType,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Case,
    exp.If,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Coalesce,
    exp.Length,
    exp.Upper,
    exp.Substring,
    exp.DPipe,
    exp.Window,
    exp.Star,
    exp.Distinct,
    exp.Anonymous,
    exp.Table,
    *_AGGREGATES,
)


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


def _null_safe(x: pl.Expr, test: pl.Expr) -> pl.Expr:
    """A predicate on x that is NULL when x is NULL, as in SQL."""
    return pl.when(x.is_null()).then(pl.lit(None, dtype=pl.Boolean)).otherwise(test)


def _full_match(x: pl.Expr, pattern: str) -> pl.Expr:
    return x.str.contains(f"^(?:{pattern})$")


def _is_date(x: pl.Expr) -> pl.Expr:
    shaped = _full_match(x, r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    parsed = x.str.to_date("%Y-%m-%d", strict=False).is_not_null()
    return _null_safe(x, shaped & parsed)


def _years_between(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    before_birthday = (b.dt.month().cast(pl.Int32) * 100 + b.dt.day().cast(pl.Int32)) < (
        a.dt.month().cast(pl.Int32) * 100 + a.dt.day().cast(pl.Int32)
    )
    return b.dt.year().cast(pl.Int32) - a.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


def _nhs_number_valid(x: pl.Expr) -> pl.Expr:
    # Modulus 11 over the first nine digits, weights 10 down to 2 (NHS Data Dictionary).
    digits = [x.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    total = sum((digits[i] * (10 - i) for i in range(9)), start=pl.lit(0, dtype=pl.Int32))
    check = (11 - total % 11) % 11
    return _null_safe(x, _full_match(x, "[0-9]{10}") & (check != 10) & (check == digits[9]))


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
            lambda x: _null_safe(x, _full_match(x, "[+-]?[0-9]{1,15}")),
            _regex_sql("[+-]?[0-9]{{1,15}}"),
        ),
        Function(
            "is_decimal",
            1,
            "True when the text is a decimal number such as 12 or 12.5.",
            lambda x: _null_safe(x, _full_match(x, r"[+-]?[0-9]{1,15}(\.[0-9]+)?")),
            _regex_sql(r"[+-]?[0-9]{{1,15}}(\.[0-9]+)?"),
        ),
        Function(
            "is_time",
            1,
            "True when the text is a time of day written HH:MM or HH:MM:SS (24-hour clock).",
            lambda x: _null_safe(x, _full_match(x, "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")),
            _regex_sql("([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"),
        ),
    ]
}


@dataclass(frozen=True)
class Expression:
    """A parsed, checked spec expression."""

    text: str
    tree: exp.Expr
    columns: frozenset[str]
    """Every column it names, as ``field`` or ``table.field``."""
    aggregate: bool
    """True when it uses an aggregate outside a window (a table or cross-table rule)."""


def bind_codes(text: str, codes: Sequence[str]) -> str:
    """Replace ``{codes}`` with a quoted list of codes (the valid codes for a period)."""
    if "{codes}" not in text:
        return text
    # No valid code at all: a value that no code can equal, so every present value fails.
    quoted = ", ".join(_quote(c) for c in codes) if codes else "'\u0000'"
    return text.replace("{codes}", quoted)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@lru_cache(maxsize=4096)
def parse(text: str) -> Expression:
    """Parse an expression and check it stays inside the language."""
    try:
        tree = sqlglot.parse_one(text, dialect="duckdb")
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ExpressionError(f"The expression {text!r} does not parse: {first}.") from None
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(
                f"The expression {text!r} uses {node.key.upper()}, which the spec's expression "
                "language does not have."
            )
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            fn = FUNCTIONS.get(name)
            if fn is None:
                raise ExpressionError(
                    f"The expression {text!r} calls an unknown function {name}()."
                )
            if len(node.expressions) != fn.arity:
                raise ExpressionError(
                    f"The expression {text!r} calls {name}() with {len(node.expressions)} "
                    f"argument(s); it takes {fn.arity}."
                )
            for i in fn.literal_args:
                arg = node.expressions[i]
                if not (isinstance(arg, exp.Literal) and arg.is_string):
                    raise ExpressionError(
                        f"The expression {text!r}: argument {i + 1} of {name}() must be a quoted text."
                    )
        if isinstance(node, exp.Cast) and not (
            isinstance(node.this, exp.Literal) and node.to.this == exp.DataType.Type.DATE
        ):
            raise ExpressionError(
                f"The expression {text!r} uses a cast; only date literals (DATE 'CCYY-MM-DD') are allowed."
            )
    columns = frozenset(
        f"{c.table}.{c.name}" if c.table else c.name for c in tree.find_all(exp.Column)
    )
    aggregate = any(
        isinstance(node, _AGGREGATES) and node.find_ancestor(exp.Window) is None
        for node in tree.walk()
    )
    return Expression(text=text, tree=tree, columns=columns, aggregate=aggregate)


# --- polars ----------------------------------------------------------------------------------


def to_polars(expression: Expression | str) -> pl.Expr:
    """Compile an expression to one polars expression over the columns of a frame."""
    parsed = parse(expression) if isinstance(expression, str) else expression
    return _pl(parsed.tree)


_COMPARE: dict[type[exp.Expr], Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
    exp.And: lambda a, b: a & b,
    exp.Or: lambda a, b: a | b,
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: lambda a, b: a / b,
    exp.Mod: lambda a, b: a % b,
}


def _literal(node: exp.Expr) -> object:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        return int(node.this) if node.this.lstrip("-").isdigit() else float(node.this)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Cast):
        return dt.date.fromisoformat(node.this.this)
    if isinstance(node, exp.Neg):
        value = _literal(node.this)
        if isinstance(value, int | float):
            return -value
    raise ExpressionError(f"{node.sql()} must be a literal value.")


def _pl(node: exp.Expr) -> pl.Expr:
    match node:
        case exp.Column():
            return pl.col(node.name)
        case exp.Literal() | exp.Boolean() | exp.Cast():
            value = _literal(node)
            return pl.lit(value, dtype=pl.Date) if isinstance(value, dt.date) else pl.lit(value)
        case exp.Null():
            return pl.lit(None)
        case exp.Paren():
            return _pl(node.this)
        case exp.Not():
            return ~_pl(node.this)
        case exp.Neg():
            return -_pl(node.this)
        case exp.Is():
            return _pl(node.this).is_null()
        case exp.In():
            values = [_literal(v) for v in node.expressions]
            subject = _pl(node.this)
            return _null_safe(subject, subject.is_in(values))
        case exp.Between():
            subject = _pl(node.this)
            return (subject >= _pl(node.args["low"])) & (subject <= _pl(node.args["high"]))
        case exp.Case():
            # CASE x WHEN v THEN ... (the simple form) compares x with each v.
            case_subject = _pl(node.this) if node.this is not None else None

            def condition(branch: exp.Expr) -> pl.Expr:
                value = _pl(branch.this)
                return value if case_subject is None else case_subject == value

            branches = node.args["ifs"]
            builder: Any = pl.when(condition(branches[0])).then(_pl(branches[0].args["true"]))
            for branch in branches[1:]:
                builder = builder.when(condition(branch)).then(_pl(branch.args["true"]))
            default = node.args.get("default")
            result: pl.Expr = builder.otherwise(
                _pl(default) if default is not None else pl.lit(None)
            )
            return result
        case exp.Coalesce():
            return pl.coalesce([_pl(node.this), *(_pl(e) for e in node.expressions)])
        case exp.Length():
            return _pl(node.this).str.len_chars().cast(pl.Int64)
        case exp.Upper():
            return _pl(node.this).str.to_uppercase()
        case exp.Substring():
            start = int(_literal(node.args["start"]))  # type: ignore[call-overload]
            length = node.args.get("length")
            return _pl(node.this).str.slice(start - 1, int(_literal(length)) if length else None)  # type: ignore[call-overload]
        case exp.DPipe():
            return pl.concat_str([_pl(node.this), _pl(node.expression)])
        case exp.Window():
            inner = _pl(node.this)
            keys = [_pl(k) for k in node.args.get("partition_by") or []]
            return inner.over(keys) if keys else inner
        case exp.Count():
            arg = node.this
            if isinstance(arg, exp.Star):
                return pl.len().cast(pl.Int64)
            if isinstance(arg, exp.Distinct):
                return _pl(arg.expressions[0]).drop_nulls().n_unique().cast(pl.Int64)
            return _pl(arg).count().cast(pl.Int64)
        case exp.CountIf():
            return _pl(node.this).fill_null(False).sum().cast(pl.Int64)
        case exp.Sum():
            return _pl(node.this).sum()
        case exp.Min():
            return _pl(node.this).min()
        case exp.Max():
            return _pl(node.this).max()
        case exp.Anonymous():
            fn = FUNCTIONS[node.name.lower()]
            args: list[object] = [
                _literal(a) if i in fn.literal_args else _pl(a)
                for i, a in enumerate(node.expressions)
            ]
            return fn.polars(*args)
    op = _COMPARE.get(type(node))
    if op is not None:
        return op(_pl(node.this), _pl(node.expression))
    raise ExpressionError(f"{node.sql()} cannot be compiled for polars.")


# --- DuckDB ----------------------------------------------------------------------------------


def to_duckdb(expression: Expression | str) -> str:
    """Render an expression as DuckDB SQL, with the language's functions expanded."""
    parsed = parse(expression) if isinstance(expression, str) else expression

    def expand(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous):
            fn = FUNCTIONS[node.name.lower()]
            args = [a.sql(dialect="duckdb") for a in node.expressions]
            return exp.Paren(this=sqlglot.parse_one(fn.duckdb.format(*args), dialect="duckdb"))
        if isinstance(node, exp.In):
            # SQL's IN already gives NULL for a NULL subject, as the polars form does.
            return node
        return node

    return parsed.tree.copy().transform(expand).sql(dialect="duckdb")


def duckdb_literal(value: object) -> str:
    """A Python value as a DuckDB literal (for example records in tests and spec checks)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, dt.time):
        return f"TIME '{value.isoformat()}'"
    return _quote(str(value))


def aggregate_nodes(expression: Expression) -> list[exp.Expr]:
    """The aggregate calls of a table or cross-table expression (outside windows)."""
    return [
        node
        for node in expression.tree.walk()
        if isinstance(node, _AGGREGATES) and node.find_ancestor(exp.Window) is None
    ]


def columns_by_table(expression: Expression) -> Mapping[str, set[str]]:
    """For a cross-table expression: the fields it names in each table."""
    found: dict[str, set[str]] = {}
    for column in expression.tree.find_all(exp.Column):
        found.setdefault(column.table or "", set()).add(column.name)
    return found

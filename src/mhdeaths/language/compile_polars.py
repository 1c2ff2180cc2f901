"""Compile an expression to one polars expression: how the validator evaluates rules.

Each node becomes the polars expression with SQL's meaning, NULLs included (``IN`` is NULL on a
missing value, as in SQL, where polars' ``is_in`` would say FALSE); the language's own functions
take their polars form from the function table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import polars as pl

from mhdeaths.errors import ExpressionError
from mhdeaths.language.functions import FUNCTIONS, null_safe
from mhdeaths.language.parser import parse
from mhdeaths.language.tree import (
    Between,
    Binary,
    Call,
    Case,
    Col,
    Expression,
    In,
    IsNull,
    Lit,
    Node,
    Unary,
    transform,
)


def to_polars(expression: Expression | str, columns: Mapping[str, str] | None = None) -> pl.Expr:
    """Compile an expression to one polars expression over the columns of a frame.

    ``columns`` renames the columns it reads (a field -> the frame's column holding it).
    """
    parsed = parse(expression) if isinstance(expression, str) else expression
    return compiled(parsed.tree, columns, _compile)


def _compile(tree: Node, columns: Mapping[str, str]) -> pl.Expr:
    if columns:
        tree = transform(
            tree,
            lambda n: Col(columns[n.name]) if isinstance(n, Col) and n.name in columns else None,
        )
    return _pl(tree)


def compiled(
    tree: Node,
    columns: Mapping[str, str] | None,
    make: Callable[[Node, Mapping[str, str]], pl.Expr],
) -> pl.Expr:
    """``make(tree, columns)``, made once and then reused: every submission under a spec
    version compiles the same few hundred rules and definitions, and building their polars
    expressions took about a third of a small submission's validation. A polars expression is
    immutable, so one can serve every query.

    Equal trees can still differ in their literals' types (``Lit(1) == Lit(True)``, and
    ``Lit(1) == Lit(1.0)``), which compile differently: the types are part of the key.
    """
    renames = tuple(sorted(columns.items())) if columns else ()
    types = tuple(type(n.value) for n in tree.walk() if isinstance(n, Lit))
    return _memo(tree, renames, types, make)


@lru_cache(maxsize=8192)
def _memo(
    tree: Node,
    renames: tuple[tuple[str, str], ...],
    types: tuple[type, ...],
    make: Callable[[Node, Mapping[str, str]], pl.Expr],
) -> pl.Expr:
    return make(tree, dict(renames))


_OPS: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "AND": lambda a, b: a & b,
    "OR": lambda a, b: a | b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: a % b,
    "||": lambda a, b: pl.concat_str([a, b]),
}


def _pl_lit(value: object) -> pl.Expr:
    if isinstance(value, dt.date):
        return pl.lit(value, dtype=pl.Date)
    return pl.lit(value)


def _pl(node: Node) -> pl.Expr:
    match node:
        case Col():
            return pl.col(node.name)
        case Lit():
            return _pl_lit(node.value)
        case Unary(op="NOT"):
            return ~_pl(node.operand)
        case Unary():
            return -_pl(node.operand)
        case Binary(op="=", left=Call(name="count", star=True, over=keys), right=Lit(value=1)) if (
            keys
        ):
            # "Appears once in its group": is_duplicated does in one hash pass what a window
            # count does in two; both count empty keys as equal, as SQL's PARTITION BY does.
            return ~pl.struct([_pl(k) for k in keys]).is_duplicated()
        case Binary():
            return _OPS[node.op](_pl(node.left), _pl(node.right))
        case IsNull():
            test = _pl(node.operand).is_null()
            return ~test if node.negated else test
        case In():
            subject = _pl(node.operand)
            test = null_safe(subject, subject.is_in([v.value for v in node.values]))
            return ~test if node.negated else test
        case Between():
            subject = _pl(node.operand)
            test = (subject >= _pl(node.low)) & (subject <= _pl(node.high))
            return ~test if node.negated else test
        case Case():
            # CASE x WHEN v THEN ... (the simple form) compares x with each v.
            case_subject = None if node.subject is None else _pl(node.subject)

            def condition(cond: Node) -> pl.Expr:
                return _pl(cond) if case_subject is None else case_subject == _pl(cond)

            (first, value), *rest = node.whens
            builder: Any = pl.when(condition(first)).then(_pl(value))
            for cond, value in rest:
                builder = builder.when(condition(cond)).then(_pl(value))
            result: pl.Expr = builder.otherwise(
                pl.lit(None) if node.default is None else _pl(node.default)
            )
            return result
        case Call():
            return _pl_call(node)
    raise ExpressionError(f"{node} cannot be compiled for polars.")  # pragma: no cover


def _pl_call(node: Call) -> pl.Expr:
    args = node.args
    match node.name:
        case "count" if node.star:
            counted = pl.len().cast(pl.Int64)
            if node.over is None:
                return counted
            keys = [_pl(k) for k in node.over]
            return counted.over(keys) if keys else counted
        case "count" if node.distinct:
            return _pl(args[0]).drop_nulls().n_unique().cast(pl.Int64)
        case "count":
            return _pl(args[0]).count().cast(pl.Int64)
        case "count_if":
            return _pl(args[0]).fill_null(False).sum().cast(pl.Int64)
        case "sum":
            return _pl(args[0]).sum()
        case "min":
            return _pl(args[0]).min()
        case "max":
            return _pl(args[0]).max()
        case "coalesce":
            return pl.coalesce([_pl(a) for a in args])
        case "length":
            return _pl(args[0]).str.len_chars().cast(pl.Int64)
        case "upper":
            return _pl(args[0]).str.to_uppercase()
        case "nullif":
            first = _pl(args[0])
            return pl.when(first == _pl(args[1])).then(None).otherwise(first)
        case "substr":
            start = _int_literal(args[1])
            length = _int_literal(args[2]) if len(args) > 2 else None
            return _pl(args[0]).str.slice(start - 1, length)
    fn = FUNCTIONS[node.name]
    compiled = [
        a.value if i in fn.literal_args and isinstance(a, Lit) else _pl(a)
        for i, a in enumerate(args)
    ]
    return fn.polars(*compiled)


def _int_literal(node: Node) -> int:
    if isinstance(node, Lit) and isinstance(node.value, int):
        return node.value
    raise ExpressionError("substr() takes whole-number literals for its start and length.")

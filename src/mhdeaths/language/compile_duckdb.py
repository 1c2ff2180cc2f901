"""Render an expression as DuckDB SQL: how the warehouse derives and counts.

Most of the language is DuckDB's own SQL, so most nodes are written back as they were read (fully
parenthesised, so precedence never depends on the reader); the language's own functions are
expanded into SQL from their DuckDB form in the function table.
"""

from __future__ import annotations

import datetime as dt

from mhdeaths.errors import ExpressionError
from mhdeaths.language.functions import AGGREGATES, BUILTINS, FUNCTIONS
from mhdeaths.language.parser import parse, quote
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
    expression_of,
)


def to_duckdb(expression: Expression | str) -> str:
    """Render an expression as DuckDB SQL, with the language's functions expanded."""
    parsed = parse(expression) if isinstance(expression, str) else expression
    return _duck(parsed.tree)


def duckdb_literal(value: object) -> str:
    """A Python value as a DuckDB literal."""
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
    return quote(str(value))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck(node: Node) -> str:
    match node:
        case Col():
            return f"{_ident(node.table)}.{_ident(node.name)}" if node.table else _ident(node.name)
        case Lit():
            return duckdb_literal(node.value)
        case Unary(op="NOT"):
            return f"(NOT {_duck(node.operand)})"
        case Unary():
            return f"(-{_duck(node.operand)})"
        case Binary():
            return f"({_duck(node.left)} {node.op} {_duck(node.right)})"
        case IsNull():
            return f"({_duck(node.operand)} IS {'NOT ' if node.negated else ''}NULL)"
        case In():
            values = ", ".join(_duck(v) for v in node.values)
            return f"({_duck(node.operand)} {'NOT ' if node.negated else ''}IN ({values}))"
        case Between():
            negated = "NOT " if node.negated else ""
            return (
                f"({_duck(node.operand)} {negated}BETWEEN {_duck(node.low)} AND {_duck(node.high)})"
            )
        case Case():
            parts = ["CASE"]
            if node.subject is not None:
                parts.append(_duck(node.subject))
            for cond, value in node.whens:
                parts.append(f"WHEN {_duck(cond)} THEN {_duck(value)}")
            if node.default is not None:
                parts.append(f"ELSE {_duck(node.default)}")
            parts.append("END")
            return "(" + " ".join(parts) + ")"
        case Call():
            return _duck_call(node)
    raise ExpressionError(f"{node} cannot be rendered for DuckDB.")  # pragma: no cover


def _duck_call(node: Call) -> str:
    if node.name in AGGREGATES or node.name in BUILTINS:
        inner = "*" if node.star else ", ".join(_duck(a) for a in node.args)
        text = f"{node.name}({'DISTINCT ' if node.distinct else ''}{inner})"
        if node.over is not None:
            keys = ", ".join(_duck(k) for k in node.over)
            text += f" OVER ({'PARTITION BY ' + keys if keys else ''})"
        return text
    fn = FUNCTIONS[node.name]
    return "(" + fn.duckdb.format(*(_duck(a) for a in node.args)) + ")"


def from_tree(tree: Node) -> Expression:
    """An Expression for a tree made by ``transform`` (its text is the DuckDB rendering)."""
    return expression_of(_duck(tree), tree)

"""The spec's expressions and examples in words, for the people who read findings.

A provider's data team reads a finding's counts and example, not the expression language: a
cross-table finding that said ``count_if((inpatient_death AND (record_action <> 'D'))) = 1``, or an
example printed as JSON, told them nothing they could act on. The words are made from the same
spec the checks are (field titles, the expression's own tree), so they cannot drift from what was
checked; an expression shape with no words here falls back to its text, never to nothing.
"""

from __future__ import annotations

import datetime as dt
import re

from mhdeaths import language as ex
from mhdeaths.language.tree import Between, Binary, Call, Col, In, IsNull, Lit, Node, Unary
from mhdeaths.spec.model import Rule, Spec

_COMPARED = {
    "=": "is",
    "<>": "is not",
    "<": "is before or less than",
    "<=": "is at most",
    ">": "is after or more than",
    ">=": "is at least",
}


def _title(spec: Spec, table: str, name: str) -> str:
    try:
        return spec.table(table).field(name).title.lower()
    except KeyError:
        return name.replace("_", " ")


def _value(node: Lit) -> str:
    if isinstance(node.value, dt.date):
        return node.value.isoformat()
    if node.value is None:
        return "empty"
    return str(node.value)


def in_words(spec: Spec, table: str, node: Node) -> str:
    """A condition in words: ``inpatient death and record action is not D``."""

    def words(n: Node) -> str:
        if isinstance(n, Col):
            return _title(spec, n.table or table, n.name)
        if isinstance(n, Lit):
            return _value(n)
        if isinstance(n, Unary) and n.op == "NOT":
            return f"not ({words(n.operand)})"
        if isinstance(n, Binary) and n.op in ("AND", "OR"):
            return f"{words(n.left)} {n.op.lower()} {words(n.right)}"
        if isinstance(n, Binary) and n.op in _COMPARED:
            return f"{words(n.left)} {_COMPARED[n.op]} {words(n.right)}"
        if isinstance(n, IsNull):
            return f"{words(n.operand)} is {'filled' if n.negated else 'empty'}"
        if isinstance(n, In):
            values = ", ".join(_value(v) for v in n.values)
            return f"{words(n.operand)} is {'not ' if n.negated else ''}one of {values}"
        if isinstance(n, Between):
            return f"{words(n.operand)} is {'not ' if n.negated else ''}from {words(n.low)} to {words(n.high)}"
        return ex.to_duckdb(ex.from_tree(n)).replace('"', "")

    return words(node)


def aggregate_in_words(spec: Spec, table: str, call: Call) -> str:
    """What a cross-table rule counts in one table, in words: ``death records where inpatient
    death and record action is not D``, ``total deaths in spell in activity``."""
    if call.name == "count" and (call.star or not call.args):
        return f"{table} records"
    if call.name == "count_if" and call.args:
        return f"{table} records where {in_words(spec, table, call.args[0])}"
    if call.name == "count" and call.args:
        return f"{table} records with {in_words(spec, table, call.args[0])} filled"
    lead = {"sum": "total", "min": "lowest", "max": "highest"}.get(call.name)
    if lead and call.args:
        return f"{lead} {in_words(spec, table, call.args[0])} in {table}"
    return f"{table}: {ex.to_duckdb(ex.from_tree(call)).replace(chr(34), '')}"


def example_in_words(rule: Rule) -> str | None:
    """A rule's valid example as a short text: the value alone for a one-field check, else
    ``field = value`` pairs of its first record, per table for a cross-table rule."""
    records = rule.example
    if isinstance(records, dict):
        parts = [
            f"{table}: {_pairs(rows[0])}" for table, rows in records.items() if rows and rows[0]
        ]
        return "; ".join(parts) or None
    if not records:
        return None
    first = {k: v for k, v in records[0].items() if v is not None}
    if rule.generated_from and len(first) == 1:
        return str(next(iter(first.values())))
    return _pairs(first)


def _pairs(record: object) -> str:
    assert isinstance(record, dict)
    return ", ".join(f"{k} = {v}" for k, v in record.items() if v is not None)


def format_in_words(format_: str) -> str:
    """A field's format, written in the NHS Data Dictionary's notation (``an10 CCYY-MM-DD``,
    ``max n7``, ``min an3 max an5``), in words a data team reads: ``CCYY-MM-DD``,
    ``up to 7 digits``, ``3 to 5 letters or digits``. A word that is not a length (``an10``,
    ``min``, ``max``) is taken as the shape the value is written in.
    """
    text = format_.strip()
    if text == "boolean":
        return "true or false"
    words = text.replace(",", " ").split()
    shape_words = [w for w in words if not _LENGTH.fullmatch(w) and w not in ("min", "max")]
    if shape_words:
        return " ".join(shape_words)
    low = high = None
    digits = False
    i = 0
    while i < len(words):
        word = words[i]
        bound = None
        if word in ("min", "max") and i + 1 < len(words):
            bound, word = word, words[i + 1]
            i += 1
        match = _LENGTH.fullmatch(word)
        if match is None:
            return format_
        digits = match.group(1) == "n"
        size = int(match.group(2))
        if bound == "min":
            low = size
        elif bound == "max":
            high = size
        else:
            low = high = size
        i += 1
    unit = ("digit", "digits") if digits else ("letter or digit", "letters or digits")
    if low is not None and low == high:
        return f"exactly {low} {unit[low != 1]}"
    if low is not None and high is not None:
        return f"{low} to {high} {unit[1]}"
    if high is not None:
        return f"up to {high} {unit[high != 1]}"
    if low is not None:
        return f"at least {low} {unit[low != 1]}"
    return format_


_LENGTH = re.compile(r"(an|n)(\d+)")

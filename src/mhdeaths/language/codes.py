"""Binding ``{codes}``: which codes of a code list an expression accepts.

A code-list check is written once, in the spec's check template (``{field} IN ({codes})``), and
bound here, once for both engines: the validator's polars and the warehouse's DuckDB compile the
same bound tree, so they cannot disagree on which codes a record may hold.

Most fields take the codes valid in the reporting period (``bind_codes``). A field that records
an event with a date of its own (a review, dated by the day it started) takes the codes valid on
that date instead (``bind_dated_codes``, for fields with ``dated_by``): a review started in
November of a September death may use a method that only became valid in October.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from mhdeaths.errors import ExpressionError
from mhdeaths.language.compile_duckdb import from_tree
from mhdeaths.language.parser import parse, quote
from mhdeaths.language.tree import (
    Between,
    Binary,
    Col,
    Expression,
    In,
    IsNull,
    Lit,
    Node,
    Unary,
    expression_of,
    transform,
)

PLACEHOLDER = "{codes}"
#: No code at all: a value no code can equal, so every present value fails.
_NO_CODE = "\u0000"
#: What ``{codes}`` stands for while a dated binding parses the text: a text no code can be.
_MARK = "\u0000{codes}"


@dataclass(frozen=True)
class DatedCode:
    """A code and the days it is valid on, both ends included (None: open at that end), as the
    code list's ``valid_from`` and ``valid_to`` say."""

    code: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


def bind_codes(text: str, codes: Sequence[str]) -> str:
    """Replace ``{codes}`` with a quoted list of codes (the valid codes for a period)."""
    if PLACEHOLDER not in text:
        return text
    quoted = ", ".join(quote(c) for c in codes) if codes else quote(_NO_CODE)
    return text.replace(PLACEHOLDER, quoted)


def marked(text: str) -> str:
    """The text with ``{codes}`` written as one value no code can be: what is parsed once, for
    every period's codes to be put in its place (``parse_bound``, ``bind_dated_codes``)."""
    return text.replace(PLACEHOLDER, quote(_MARK))


def parse_bound(text: str, codes: Sequence[str]) -> Expression:
    """``parse(bind_codes(text, codes))``, made from the parse of the ``marked`` text, which is
    the same for every period (and kept with the spec: ``parser.keep``).

    The two are the same tree when each ``{codes}`` fills an IN list alone: the texts then
    differ only inside those lists, which parse to the codes as text values, in order. Written
    anywhere else, the bound text is parsed as it is."""
    if PLACEHOLDER not in text:
        return parse(text)
    return _parse_bound(text, tuple(codes))


@lru_cache(maxsize=4096)
def _parse_bound(text: str, codes: tuple[str, ...]) -> Expression:
    bound_text = bind_codes(text, codes)
    try:
        tree = parse(marked(text)).tree
    except ExpressionError:
        return parse(bound_text)
    values = tuple(Lit(c) for c in codes) or (Lit(_NO_CODE),)
    lists = [n for n in tree.walk() if isinstance(n, In) and n.values == (Lit(_MARK),)]
    marks = [n for n in tree.walk() if isinstance(n, Lit) and n.value == _MARK]
    if len(lists) != text.count(PLACEHOLDER) or len(marks) != len(lists):
        return parse(bound_text)

    def codes_in(node: Node) -> Node | None:
        if isinstance(node, In) and node.values == (Lit(_MARK),):
            return In(node.operand, values, node.negated)
        return None

    return expression_of(bound_text, transform(tree, codes_in))


def bind_dated_codes(
    text: str, dated_by: str, codes: Sequence[DatedCode], period_codes: Sequence[str]
) -> Expression:
    """The expression with each ``x IN ({codes})`` replaced by a test of x against the codes
    valid on the record's own date (the field ``dated_by``):

        x IN (<codes valid on every day>)
        OR (x = 'c' AND <dated_by> IS NOT NULL AND <dated_by> BETWEEN <from> AND <to>) -- per dated code
        OR (<dated_by> IS NULL AND x IN (<period_codes>))

    ``codes`` is the whole code list with its dates; ``period_codes`` the codes valid in the
    reporting period, for a record without a date (as ``bind_codes`` would bind them). A code open
    at one end is compared at the other only, as the period check does. The ``IS NOT NULL`` keeps
    a dated code without a date from passing: ``TRUE AND NULL`` is NULL, which a rule passes.
    """
    if PLACEHOLDER not in text:
        return parse(text)
    tree = parse(marked(text)).tree
    day = Col(dated_by)

    def dated_test(node: Node) -> Node | None:
        if not (isinstance(node, In) and node.values == (Lit(_MARK),)):
            return None
        return _dated_in(node, day, codes, period_codes)

    bound = transform(tree, dated_test)
    if any(isinstance(n, Lit) and n.value == _MARK for n in bound.walk()):
        raise ExpressionError(
            f"The expression {text!r} uses {{codes}} outside 'x IN ({{codes}})', the only place "
            "a field dated by another can bind its codes."
        )
    return expression_of(from_tree(bound).text, bound)


def _dated_in(node: In, day: Col, codes: Sequence[DatedCode], period_codes: Sequence[str]) -> Node:
    subject = node.operand
    undated = tuple(Lit(c.code) for c in codes if c.valid_from is None and c.valid_to is None)
    terms: list[Node] = []
    if undated:
        terms.append(In(subject, undated))
    for code in codes:
        if code.valid_from is None and code.valid_to is None:
            continue
        test: Node = IsNull(day, negated=True)
        if code.valid_from is not None and code.valid_to is not None:
            test = Binary("AND", test, Between(day, Lit(code.valid_from), Lit(code.valid_to)))
        elif code.valid_from is not None:
            test = Binary("AND", test, Binary(">=", day, Lit(code.valid_from)))
        else:
            test = Binary("AND", test, Binary("<=", day, Lit(code.valid_to)))
        terms.append(Binary("AND", Binary("=", subject, Lit(code.code)), test))
    in_period = tuple(Lit(c) for c in period_codes) or (Lit(_NO_CODE),)
    terms.append(Binary("AND", IsNull(day), In(subject, in_period)))
    result = terms[0]
    for term in terms[1:]:
        result = Binary("OR", result, term)
    return Unary("NOT", result) if node.negated else result

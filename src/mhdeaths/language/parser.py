"""Parse an expression's text into a tree, refusing anything outside the language.

The parser is written by hand rather than taken from a general SQL parser: the language is small,
the errors can speak of the language rather than of SQL at large, and the validator starts in a
fraction of the time (it runs on every provider's laptop, for every file). Each call is checked
against the function table (``functions``) as it is parsed, so an expression that parses is one
both engines can compile.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from mhdeaths.errors import ExpressionError
from mhdeaths.language.functions import AGGREGATES, BUILTINS, FUNCTIONS, Type
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

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'(?:[^']|'')*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|<>|!=|\|\||[=<>+\-*/%(),.])
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    [
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "IN",
        "BETWEEN",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "TRUE",
        "FALSE",
        "DATE",
        "OVER",
        "PARTITION",
        "BY",
        "DISTINCT",
    ]
)
_NOT_IN_LANGUAGE = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "ORDER",
        "HAVING",
        "JOIN",
        "UNION",
        "LIKE",
        "ILIKE",
        "SIMILAR",
        "GLOB",
        "EXISTS",
        "ANY",
        "ALL",
        "INTERVAL",
        "LIMIT",
        "WITH",
        "AS",
    ]
)


@dataclass(frozen=True)
class Token:
    kind: str
    """number, string, name, keyword, op or end."""
    text: str
    position: int


def _tokens(text: str) -> list[Token]:
    out, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise ExpressionError(
                f"The expression {text!r} does not parse: unexpected {text[position:].strip()[:1]!r}."
            )
        kind = match.lastgroup or "op"
        value, start = match.group(kind), match.start(kind)
        if kind == "name" and value.upper() in {"CAST", "TRY_CAST"}:
            raise ExpressionError(
                f"The expression {text!r} uses a cast; only date literals "
                "(DATE 'CCYY-MM-DD') are allowed."
            )
        if kind == "name" and value.upper() in _KEYWORDS:
            kind, value = "keyword", value.upper()
        elif kind == "name" and value.upper() in _NOT_IN_LANGUAGE:
            raise ExpressionError(
                f"The expression {text!r} uses {value.upper()}, which the spec's expression "
                "language does not have."
            )
        out.append(Token(kind, value, start))
        position = match.end()
    out.append(Token("end", "", len(text)))
    return out


@dataclass
class _Parser:
    text: str
    tokens: list[Token]
    at: int = 0
    depth: int = field(default=0)

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.at += 1
        return token

    def accept(self, *words: str) -> bool:
        token = self.peek()
        if token.kind in {"keyword", "op"} and token.text in words:
            self.at += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            self.fail(f"expected {word}")

    def fail(self, what: str) -> None:
        token = self.peek()
        near = repr(token.text) if token.text else "the end"
        raise ExpressionError(f"The expression {self.text!r} does not parse: {what} near {near}.")

    # Precedence, lowest first: OR, AND, NOT, comparison, ||, + -, * / %, unary minus.
    def expression(self) -> Node:
        self.depth += 1
        if self.depth > 200:
            self.fail("nested too deeply")
        node = self.disjunction()
        self.depth -= 1
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.accept("OR"):
            node = Binary("OR", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept("AND"):
            node = Binary("AND", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.accept("NOT"):
            return Unary("NOT", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.concatenation()
        while True:
            token = self.peek()
            if token.kind == "op" and token.text in {"=", "<>", "!=", "<", "<=", ">", ">="}:
                self.next()
                op = "<>" if token.text == "!=" else token.text
                node = Binary(op, node, self.concatenation())
            elif self.accept("IS"):
                negated = self.accept("NOT")
                self.expect("NULL")
                node = IsNull(node, negated)
            elif token.kind == "keyword" and token.text in {"IN", "BETWEEN", "NOT"}:
                negated = self.accept("NOT")
                if self.accept("IN"):
                    node = In(node, self.literal_list(), negated)
                elif self.accept("BETWEEN"):
                    low = self.concatenation()
                    self.expect("AND")
                    node = Between(node, low, self.concatenation(), negated)
                else:
                    self.fail("expected IN or BETWEEN after NOT")
            else:
                return node

    def literal_list(self) -> tuple[Lit, ...]:
        self.expect("(")
        values = []
        while True:
            item = self.unary()
            if not isinstance(item, Lit):
                self.fail("IN takes a list of values")
            assert isinstance(item, Lit)
            values.append(item)
            if not self.accept(","):
                break
        self.expect(")")
        return tuple(values)

    def concatenation(self) -> Node:
        node = self.additive()
        while self.accept("||"):
            node = Binary("||", node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while True:
            token = self.peek()
            if token.kind == "op" and token.text in {"+", "-"}:
                self.next()
                node = Binary(token.text, node, self.multiplicative())
            else:
                return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while True:
            token = self.peek()
            if token.kind == "op" and token.text in {"*", "/", "%"}:
                self.next()
                node = Binary(token.text, node, self.unary())
            else:
                return node

    def unary(self) -> Node:
        if self.accept("-"):
            operand = self.unary()
            if isinstance(operand, Lit) and isinstance(operand.value, int | float):
                return Lit(-operand.value)
            return Unary("-", operand)
        return self.primary()

    def primary(self) -> Node:
        token = self.next()
        if token.kind == "number":
            return Lit(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return Lit(token.text[1:-1].replace("''", "'"))
        if token.kind == "keyword":
            if token.text in {"TRUE", "FALSE"}:
                return Lit(token.text == "TRUE")
            if token.text == "NULL":
                return Lit(None)
            if token.text == "DATE":
                literal = self.next()
                if literal.kind != "string":
                    self.at -= 1
                    self.fail("DATE takes a quoted date")
                try:
                    return Lit(dt.date.fromisoformat(literal.text[1:-1]))
                except ValueError:
                    raise ExpressionError(
                        f"The expression {self.text!r}: {literal.text} is not a date written "
                        "CCYY-MM-DD."
                    ) from None
            if token.text == "CASE":
                return self.case()
        if token.kind == "op" and token.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if token.kind == "name":
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.call(token.text)
            if self.accept("."):
                column = self.next()
                if column.kind != "name":
                    self.at -= 1
                    self.fail("expected a field name after the table name")
                return Col(column.text, token.text)
            return Col(token.text)
        self.at -= 1
        self.fail("expected a value")
        raise AssertionError  # pragma: no cover - fail() raises

    def case(self) -> Node:
        subject = None if self.peek().text == "WHEN" else self.expression()
        whens = []
        while self.accept("WHEN"):
            condition = self.expression()
            self.expect("THEN")
            whens.append((condition, self.expression()))
        if not whens:
            self.fail("CASE needs at least one WHEN")
        default = self.expression() if self.accept("ELSE") else None
        self.expect("END")
        return Case(subject, tuple(whens), default)

    def call(self, name: str) -> Node:
        lowered = name.lower()
        if lowered in {"cast", "try_cast"}:
            raise ExpressionError(
                f"The expression {self.text!r} uses a cast; only date literals "
                "(DATE 'CCYY-MM-DD') are allowed."
            )
        self.expect("(")
        star = distinct = False
        args: list[Node] = []
        if lowered == "count" and self.accept("*"):
            star = True
            self.expect(")")
        elif not self.accept(")"):
            distinct = self.accept("DISTINCT")
            args.append(self.expression())
            while self.accept(","):
                args.append(self.expression())
            self.expect(")")
        over: tuple[Node, ...] | None = None
        if self.accept("OVER"):
            self.expect("(")
            keys: list[Node] = []
            if self.accept("PARTITION"):
                self.expect("BY")
                keys.append(self.expression())
                while self.accept(","):
                    keys.append(self.expression())
            self.expect(")")
            over = tuple(keys)
        node = Call(lowered, tuple(args), star, distinct, over)
        self.check_call(node)
        return node

    def check_call(self, node: Call) -> None:
        name, count = node.name, len(node.args)
        if node.over is not None and not (name == "count" and node.star):
            raise ExpressionError(
                f"The expression {self.text!r}: only COUNT(*) may be used as a window."
            )
        if name in AGGREGATES:
            wanted = 0 if node.star else 1
            if count != wanted:
                raise ExpressionError(
                    f"The expression {self.text!r} calls {name}() with {count} argument(s); it takes 1."
                )
            return
        if name in BUILTINS:
            arity = BUILTINS[name]
            ok = (
                count >= 1
                if arity is None
                else (count in arity if isinstance(arity, tuple) else count == arity)
            )
            if not ok:
                raise ExpressionError(
                    f"The expression {self.text!r} calls {name}() with {count} argument(s)."
                )
            return
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise ExpressionError(
                f"The expression {self.text!r} calls an unknown function {name}()."
            )
        if count != fn.arity:
            raise ExpressionError(
                f"The expression {self.text!r} calls {name}() with {count} argument(s); it takes "
                f"{fn.arity}."
            )
        for i in fn.literal_args:
            arg = node.args[i]
            value = arg.value if isinstance(arg, Lit) else None
            if fn.parameters[i][1] is Type.INTEGER:
                # bool is an int to Python, not to the language.
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ExpressionError(
                        f"The expression {self.text!r}: argument {i + 1} of {name}() must be a "
                        "whole number written in the expression, such as 3 or -1."
                    )
            elif not isinstance(value, str):
                raise ExpressionError(
                    f"The expression {self.text!r}: argument {i + 1} of {name}() must be a quoted text."
                )


def quote(value: str) -> str:
    """A text as a quoted SQL string."""
    return "'" + value.replace("'", "''") + "'"


_KEPT: dict[str, Expression] = {}
"""Expressions parsed by an earlier process (``keep``), by their text."""


def parse(text: str) -> Expression:
    """Parse an expression and check it stays inside the language."""
    kept = _KEPT.get(text)
    return kept if kept is not None else _parse(text)


def keep(parsed: Iterable[Expression]) -> None:
    """Take expressions parsed before (by another process, with this parser) as the parse of
    their texts: a spec kept in the cache brings its own, and parsing its few hundred rules
    again was a tenth of a one-month validation."""
    _KEPT.update((e.text, e) for e in parsed)


@lru_cache(maxsize=4096)
def _parse(text: str) -> Expression:
    parser = _Parser(text, _tokens(text))
    tree = parser.expression()
    if parser.peek().kind != "end":
        parser.fail("unexpected text")
    return expression_of(text, tree)

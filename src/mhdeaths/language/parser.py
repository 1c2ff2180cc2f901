"""The spec's expression language: one text, evaluated the same way by polars and by DuckDB.

A rule or a definition in ``spec/`` carries one expression written in a small, documented subset of
SQL (spec/README.md, "Expressions"). The validator evaluates it with polars, the warehouse with
DuckDB. Neither engine's own SQL dialect would do on its own: polars' SQL has no date difference
and searches where DuckDB matches whole strings. So the text is parsed once, here, into a small
tree, and compiled to each engine by the two translators below. A property test evaluates every
spec expression in both engines on generated data and compares the results.

The parser is written by hand rather than taken from a general SQL parser: the language is small,
the errors can speak of the language rather than of SQL at large, and the validator starts in a
fraction of the time (it runs on every provider's laptop, for every file).

Null semantics are SQL's: a rule *passes* unless its expression is FALSE (as a CHECK constraint),
so a missing value is left to the mandation checks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import polars as pl

from mhdeaths.errors import ExpressionError

# --- The tree ----------------------------------------------------------------------------------


class Node:
    """A node of an expression tree."""

    def children(self) -> Iterator[Node]:
        return iter(())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(frozen=True)
class Col(Node):
    name: str
    table: str | None = None

    @property
    def key(self) -> str:
        return f"{self.table}.{self.name}" if self.table else self.name


@dataclass(frozen=True)
class Lit(Node):
    value: str | int | float | bool | dt.date | None


@dataclass(frozen=True)
class Unary(Node):
    op: str
    """NOT or -."""
    operand: Node

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True)
class In(Node):
    operand: Node
    values: tuple[Lit, ...]
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield self.operand
        yield from self.values


@dataclass(frozen=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node
    negated: bool = False

    def children(self) -> Iterator[Node]:
        yield from (self.operand, self.low, self.high)


@dataclass(frozen=True)
class Case(Node):
    subject: Node | None
    whens: tuple[tuple[Node, Node], ...]
    default: Node | None

    def children(self) -> Iterator[Node]:
        if self.subject is not None:
            yield self.subject
        for cond, value in self.whens:
            yield cond
            yield value
        if self.default is not None:
            yield self.default


@dataclass(frozen=True)
class Call(Node):
    name: str
    """Lower case."""
    args: tuple[Node, ...] = ()
    star: bool = False
    """COUNT(*)."""
    distinct: bool = False
    over: tuple[Node, ...] | None = None
    """The PARTITION BY of a window (empty for OVER ()); None when not a window."""

    def children(self) -> Iterator[Node]:
        yield from self.args
        yield from self.over or ()


AGGREGATES = frozenset({"count", "count_if", "sum", "min", "max"})
_BUILTINS = {"coalesce": None, "length": 1, "upper": 1, "substr": (2, 3)}


# --- The language's own functions ---------------------------------------------------------------


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


DATE_FORMAT = "%Y-%m-%d"
DATE_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def date_check(x: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """is_date(x), given x already read as a date (``parsed``): the validator reuses the typed
    value it computes anyway rather than reading every date twice."""
    return _null_safe(x, _full_match(x, DATE_SHAPE) & parsed.is_not_null())


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


# --- Parsing -----------------------------------------------------------------------------------

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
        if name in _BUILTINS:
            arity = _BUILTINS[name]
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
            if not (isinstance(arg, Lit) and isinstance(arg.value, str)):
                raise ExpressionError(
                    f"The expression {self.text!r}: argument {i + 1} of {name}() must be a quoted text."
                )


@dataclass(frozen=True)
class Expression:
    """A parsed, checked spec expression."""

    text: str
    tree: Node
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
    parser = _Parser(text, _tokens(text))
    tree = parser.expression()
    if parser.peek().kind != "end":
        parser.fail("unexpected text")
    return _expression(text, tree)


def _expression(text: str, tree: Node) -> Expression:
    columns = frozenset(n.key for n in tree.walk() if isinstance(n, Col))
    return Expression(text, tree, columns, bool(aggregate_nodes(tree)))


def aggregate_nodes(tree: Node | Expression) -> list[Call]:
    """The aggregate calls of an expression, outside windows (outermost only)."""
    root = tree.tree if isinstance(tree, Expression) else tree
    found: list[Call] = []

    def visit(node: Node) -> None:
        if isinstance(node, Call) and node.name in AGGREGATES and node.over is None:
            found.append(node)
            return
        for child in node.children():
            visit(child)

    visit(root)
    return found


def transform(node: Node, change: Callable[[Node], Node | None]) -> Node:
    """A copy of the tree with each node that ``change`` maps (to not None) replaced."""
    new = change(node)
    if new is not None:
        return new
    match node:
        case Unary():
            return replace(node, operand=transform(node.operand, change))
        case Binary():
            return replace(
                node, left=transform(node.left, change), right=transform(node.right, change)
            )
        case IsNull():
            return replace(node, operand=transform(node.operand, change))
        case In():
            return replace(node, operand=transform(node.operand, change))
        case Between():
            return replace(
                node,
                operand=transform(node.operand, change),
                low=transform(node.low, change),
                high=transform(node.high, change),
            )
        case Case():
            return Case(
                None if node.subject is None else transform(node.subject, change),
                tuple((transform(c, change), transform(v, change)) for c, v in node.whens),
                None if node.default is None else transform(node.default, change),
            )
        case Call():
            over = None if node.over is None else tuple(transform(k, change) for k in node.over)
            return replace(node, args=tuple(transform(a, change) for a in node.args), over=over)
    return node


def unqualified(node: Node) -> Node:
    """The tree with table names dropped from its columns."""
    return transform(node, lambda n: Col(n.name) if isinstance(n, Col) and n.table else None)


def from_tree(tree: Node) -> Expression:
    """An Expression for a tree made by ``transform`` (its text is the DuckDB rendering)."""
    return _expression(_duck(tree), tree)


# --- polars ------------------------------------------------------------------------------------


def to_polars(expression: Expression | str, columns: Mapping[str, str] | None = None) -> pl.Expr:
    """Compile an expression to one polars expression over the columns of a frame.

    ``columns`` renames the columns it reads (a field -> the frame's column holding it).
    """
    parsed = parse(expression) if isinstance(expression, str) else expression
    tree = parsed.tree
    if columns:
        tree = transform(
            tree,
            lambda n: Col(columns[n.name]) if isinstance(n, Col) and n.name in columns else None,
        )
    return _pl(tree)


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
            test = _null_safe(subject, subject.is_in([v.value for v in node.values]))
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


# --- DuckDB ------------------------------------------------------------------------------------


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
    return _quote(str(value))


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
    if node.name in AGGREGATES or node.name in _BUILTINS:
        inner = "*" if node.star else ", ".join(_duck(a) for a in node.args)
        text = f"{node.name}({'DISTINCT ' if node.distinct else ''}{inner})"
        if node.over is not None:
            keys = ", ".join(_duck(k) for k in node.over)
            text += f" OVER ({'PARTITION BY ' + keys if keys else ''})"
        return text
    fn = FUNCTIONS[node.name]
    return "(" + fn.duckdb.format(*(_duck(a) for a in node.args)) + ")"


def columns_by_table(expression: Expression) -> dict[str, set[str]]:
    """For a cross-table expression: the fields it names in each table."""
    found: dict[str, set[str]] = {}
    for node in expression.tree.walk():
        if isinstance(node, Col):
            found.setdefault(node.table or "", set()).add(node.name)
    return found

"""The tree an expression is parsed into, and the few ways of walking and rewriting it.

Both engines compile from these nodes, and the validator and the warehouse rewrite them (to
evaluate a cross-table rule's aggregates one table at a time, say), so the tree is plain frozen
data with no knowledge of either engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from mhdeaths.language.functions import AGGREGATES


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


@dataclass(frozen=True)
class Expression:
    """A parsed, checked spec expression."""

    text: str
    tree: Node
    columns: frozenset[str]
    """Every column it names, as ``field`` or ``table.field``."""
    aggregate: bool
    """True when it uses an aggregate outside a window (a table or cross-table rule)."""


def expression_of(text: str, tree: Node) -> Expression:
    """The Expression of a tree: the columns it names and whether it aggregates."""
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


def columns_by_table(expression: Expression) -> dict[str, set[str]]:
    """For a cross-table expression: the fields it names in each table."""
    found: dict[str, set[str]] = {}
    for node in expression.tree.walk():
        if isinstance(node, Col):
            found.setdefault(node.table or "", set()).add(node.name)
    return found

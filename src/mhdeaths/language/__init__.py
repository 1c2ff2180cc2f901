"""The expression language the spec's rules and definitions are written in.

A rule or a derivation is text in the spec; this package parses it into a tree, knows its
functions and their types, and is the one description of the language both engines compile from.
The names below are its public surface: the rest of ``mhdeaths`` imports them from here
(``from mhdeaths import language as ex``), never from the module that defines them.
"""

from mhdeaths.language.parser import (
    AGGREGATES,
    DATE_FORMAT,
    DATE_SHAPE,
    FUNCTIONS,
    Between,
    Binary,
    Call,
    Case,
    Col,
    Expression,
    Function,
    In,
    IsNull,
    Lit,
    Node,
    Unary,
    aggregate_nodes,
    bind_codes,
    columns_by_table,
    date_check,
    duckdb_literal,
    from_tree,
    parse,
    to_duckdb,
    to_polars,
    transform,
    unqualified,
)

__all__ = [
    "AGGREGATES",
    "DATE_FORMAT",
    "DATE_SHAPE",
    "FUNCTIONS",
    "Between",
    "Binary",
    "Call",
    "Case",
    "Col",
    "Expression",
    "Function",
    "In",
    "IsNull",
    "Lit",
    "Node",
    "Unary",
    "aggregate_nodes",
    "bind_codes",
    "columns_by_table",
    "date_check",
    "duckdb_literal",
    "from_tree",
    "parse",
    "to_duckdb",
    "to_polars",
    "transform",
    "unqualified",
]

"""The spec's expression language: one text, evaluated the same way by polars and by DuckDB.

A rule or a definition in ``spec/`` carries one expression written in a small, documented subset of
SQL (spec/README.md, "Expressions"). The validator evaluates it with polars, the warehouse with
DuckDB. Neither engine's own SQL dialect would do on its own: polars' SQL has no date difference
and searches where DuckDB matches whole strings. So the text is parsed once into a small tree and
compiled to each engine. A property test evaluates every spec expression in both engines on
generated data and compares the results, and every function's own example is run in both.

Null semantics are SQL's: a rule *passes* unless its expression is FALSE (as a CHECK constraint),
so a missing value is left to the mandation checks.

The modules, each with one job: ``functions`` (the one table of the language's functions),
``tree`` (the nodes and walking them), ``parser`` (text to tree, refusing what is outside the
language), ``compile_polars`` and ``compile_duckdb`` (tree to each engine), ``codes`` (binding
``{codes}``: the codes valid in the period, or on a record's own date). The names below are
the package's public surface: the rest of ``mhdeaths`` imports them from here
(``from mhdeaths import language as ex``), never from the module that defines them.
"""

from mhdeaths.language.codes import DatedCode, bind_codes, bind_dated_codes, marked, parse_bound
from mhdeaths.language.compile_duckdb import duckdb_literal, from_tree, to_duckdb
from mhdeaths.language.compile_polars import compiled, to_polars
from mhdeaths.language.functions import (
    AGGREGATES,
    COUNTING_AGGREGATES,
    DATE_FORMAT,
    DATE_SHAPE,
    FUNCTIONS,
    Example,
    Function,
    Type,
    date_check,
)
from mhdeaths.language.parser import keep, parse
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
    aggregate_nodes,
    columns_by_table,
    transform,
    unqualified,
)

__all__ = [
    "AGGREGATES",
    "COUNTING_AGGREGATES",
    "DATE_FORMAT",
    "DATE_SHAPE",
    "FUNCTIONS",
    "Between",
    "Binary",
    "Call",
    "Case",
    "Col",
    "DatedCode",
    "Example",
    "Expression",
    "Function",
    "In",
    "IsNull",
    "Lit",
    "Node",
    "Type",
    "Unary",
    "aggregate_nodes",
    "bind_codes",
    "bind_dated_codes",
    "columns_by_table",
    "compiled",
    "date_check",
    "duckdb_literal",
    "from_tree",
    "keep",
    "marked",
    "parse",
    "parse_bound",
    "to_duckdb",
    "to_polars",
    "transform",
    "unqualified",
]

"""Evaluate a spec's definitions and rules in DuckDB, from the same expression text as polars.

The warehouse derives the death category itself rather than trusting the provider's, and it does so
in SQL over the stored records. This module writes that SQL from the spec: the derivations as a
chain of projections, and each rule scope as a query returning what fails. ``polars_engine`` is the polars
twin; a property test runs both on generated data and compares them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

import duckdb
import polars as pl

from mhdeaths import language as ex
from mhdeaths.engines.polars_engine import (
    aggregate_labels,
    bound_expression,
    example_tables,
    text_frame,
    to_typed,
)
from mhdeaths.spec import Rule, Scope, Spec, Stage


def ident(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def derive_sql(spec: Spec, table: str, source: str, keep: Collection[str] = ()) -> str:
    """A query over ``source`` adding the table's derived fields, in the order written; those
    named in ``keep`` are not derived but read from ``source`` as they are.

    A definition reads the source and the definitions written before it. Each is computed in the
    first layer after everything it reads, so definitions that do not read one another share a
    layer: DuckDB binds a query of 27 definitions nested one inside another in about 20 ms, which
    was most of the time a small submission's insert took."""
    definitions = [d for d in spec.definitions_for(table) if d.name not in keep]
    if not definitions:
        return f"SELECT * FROM {source}"
    layer: dict[str, int] = {}
    for definition in definitions:
        reads = ex.parse(definition.expression).columns
        layer[definition.name] = 1 + max((layer[r] for r in reads if r in layer), default=0)
    query = f"SELECT * FROM {source}"
    for level in range(1, max(layer.values()) + 1):
        made = ", ".join(
            f"({ex.to_duckdb(d.expression)}) AS {ident(d.name)}"
            for d in definitions
            if layer[d.name] == level
        )
        query = f"SELECT *, {made} FROM ({query}) AS d{level}"
    if max(layer.values()) == 1:
        return query
    # The derived fields in the order written, after the source's columns.
    names = ", ".join(ident(d.name) for d in definitions)
    return f"SELECT * EXCLUDE ({names}), {names} FROM ({query}) AS derived"


def record_failures_sql(
    spec: Spec, rule: Rule, source: str, row_id: str, period: dt.date | None
) -> str:
    """A query returning ``row_id`` of every record of ``source`` that fails a record rule.

    The verdict is computed in a projection first because DuckDB allows no window in WHERE.
    """
    verdict = ex.to_duckdb(bound_expression(spec, rule, period))
    return (
        f"SELECT {ident(row_id)} FROM (SELECT {ident(row_id)}, ({verdict}) AS _ok FROM {source}) "
        f"AS v WHERE _ok IS FALSE ORDER BY 1"
    )


def table_verdict_sql(spec: Spec, rule: Rule, source: str, period: dt.date | None) -> str:
    """A query returning one boolean: FALSE when the table fails a table rule."""
    return f"SELECT ({ex.to_duckdb(bound_expression(spec, rule, period))}) FROM {source}"


def cross_table_failures_sql(
    spec: Spec,
    rule: Rule,
    sources: dict[str, str],
    period: dt.date | None,
    detail: bool = False,
) -> str:
    """A query returning the ``group_by`` keys of every group that fails a cross-table rule, and
    (``detail``) a ``detail`` column: each aggregate's value, as ``polars_engine`` words it.

    Aggregates are computed per table and group, then joined; a group missing from one table counts
    as zero there (its MIN or MAX is NULL), as in the polars engine.
    """
    parsed = bound_expression(spec, rule, period)
    keys = ", ".join(ident(k) for k in rule.group_by)
    ctes: list[str] = []
    names: dict[ex.Node, ex.Col] = {}
    for i, node in enumerate(ex.aggregate_nodes(parsed)):
        (table,) = {c.table for c in node.walk() if isinstance(c, ex.Col)}
        names[node] = ex.Col(f"coalesce__agg{i}")
        body = ex.to_duckdb(ex.from_tree(ex.unqualified(node)))
        ctes.append(
            f"a{i} AS (SELECT {keys}, ({body}) AS _agg{i} FROM {sources[str(table)]} GROUP BY ALL)"
        )
    joined = "a0"
    for i in range(1, len(ctes)):
        joined += f" FULL OUTER JOIN a{i} USING ({keys})"
    fills = ", ".join(
        f"coalesce(_agg{i}, 0) AS coalesce__agg{i}"
        if node.name in ex.COUNTING_AGGREGATES
        else f"_agg{i} AS coalesce__agg{i}"
        for i, node in enumerate(ex.aggregate_nodes(parsed))
    )
    verdict = ex.to_duckdb(ex.from_tree(ex.transform(parsed.tree, lambda n: names.get(n))))
    shown = keys
    if detail:
        # As polars' concat_str: NULL when any aggregate is.
        parts = [
            f"{ex.duckdb_literal(label + ' = ')} || CAST(coalesce__agg{i} AS VARCHAR)"
            for i, label in enumerate(aggregate_labels(spec, parsed))
        ]
        shown += ", " + " || '; ' || ".join(parts) + " AS detail"
    return (
        f"WITH {', '.join(ctes)} SELECT {shown} FROM (SELECT {keys}, {fills} FROM {joined}) AS j "
        f"WHERE ({verdict}) IS FALSE ORDER BY ALL"
    )


def scope_sql(
    spec: Spec, rule: Rule, sources: dict[str, str], row_id: str, period: dt.date | None
) -> str:
    """The failure query of a rule of any scope."""
    if rule.scope is Scope.CROSS_TABLE:
        return cross_table_failures_sql(spec, rule, sources, period)
    if rule.scope is Scope.TABLE:
        return table_verdict_sql(spec, rule, sources[rule.table], period)
    return record_failures_sql(spec, rule, sources[rule.table], row_id, period)


class ArrowStream:
    """A polars frame as an Arrow C stream, which DuckDB scans without pyarrow (and without
    copying to a file first).

    DuckDB asks for the stream each time a statement reading it runs, so a prepared statement
    reads whatever frame is here by then (the loader swaps in each submission's)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


SCAN_BATCH = 122_880
"""Records per Arrow batch handed to DuckDB (its row group)."""


def scannable(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in batches DuckDB scans in parallel (slices, not copies): DuckDB scans one batch
    per thread, so a frame in one piece, as polars often holds it, would be scanned, computed on
    and inserted by one thread (a million records on two cores: 1 s rather than 0.5 s)."""
    if frame.height > SCAN_BATCH:
        slices = [frame.slice(at, SCAN_BATCH) for at in range(0, frame.height, SCAN_BATCH)]
        return pl.concat(slices, rechunk=False)
    return frame


def register_frame(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Make a polars frame scannable in DuckDB under ``name`` (until unregistered), in batches
    (``scannable``)."""
    con.register(name, ArrowStream(scannable(frame)))


def example_fails(
    spec: Spec,
    rule: Rule,
    records: object,
    period: dt.date | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> bool:
    """The DuckDB twin of ``engine.example_fails``: DuckDB derives and evaluates by itself.

    In a new in-memory database, or in ``con``: a new database costs more than most examples
    (some 30-50 ms), so a caller evaluating hundreds passes one; what the example adds to it is
    dropped again before this returns.
    """
    by_table = example_tables(rule, records)
    db = duckdb.connect() if con is None else con
    registered: list[str] = []
    views: list[str] = []
    try:
        sources = {}
        for name, rows in by_table.items():
            table = spec.table_of(rule) if name == rule.table else spec.table(name)
            typed = to_typed(table, text_frame(table, rows)).with_row_index("_row")
            text = text_frame(table, rows).with_row_index("_row")
            for suffix, frame in (("_typed", typed), ("_text", text)):
                register_frame(db, f"{name}{suffix}", frame)
                registered.append(f"{name}{suffix}")
            derived = (
                f"SELECT * FROM {ident(name + '_typed')}"
                if rule.scope is Scope.STRUCTURE
                else derive_sql(spec, name, ident(name + "_typed"))
            )
            db.execute(f"CREATE VIEW {ident(name)} AS {derived}")
            views.append(ident(name))
            sources[name] = ident(f"{name}_text") if rule.stage is Stage.TEXT else ident(name)
        rows_out = db.execute(scope_sql(spec, rule, sources, "_row", period)).fetchall()
    finally:
        if con is None:
            db.close()
        else:
            for view in reversed(views):
                db.execute(f"DROP VIEW IF EXISTS {view}")
            for name in registered:
                db.unregister(name)
    if rule.scope is Scope.TABLE:
        return rows_out[0][0] is False
    if rule.scope is Scope.CROSS_TABLE:
        return bool(rows_out)
    return any(r[0] == 0 for r in rows_out)


def attribution_window_sql(spec: Spec, columns: Mapping[str, str] | None = None) -> str:
    """The window of the spec's attribution: records of one death, in attribution order.

    ``columns`` names the SQL that stands for a ``match_on`` field where the stored column
    differs (the warehouse matches on the pseudonym, not the number).
    """
    rule = spec.counting_rule
    columns = columns or {}
    order = ", ".join(
        f"({ex.to_duckdb(k.expression)}) {'DESC' if k.descending else 'ASC'} NULLS LAST"
        for k in rule.order_by
    )
    partition = ", ".join(columns.get(m, ident(m)) for m in rule.match_on)
    return f"PARTITION BY {partition} ORDER BY {order}"


def attribution_rank_sql(spec: Spec, columns: Mapping[str, str] | None = None) -> str:
    """The SQL window giving each death record its rank among the records of the same death."""
    return f"row_number() OVER ({attribution_window_sql(spec, columns)})"

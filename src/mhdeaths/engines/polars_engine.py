"""Evaluate a spec's fields, definitions and rules over polars frames.

This is the polars half of "one expression, two engines" (the DuckDB half is ``sql_engine``). It
knows how a table's text becomes typed columns, how the agreed definitions add derived columns, and
how each rule scope (record, table, cross-table) turns an expression into failures. The validator
builds on it for whole files; ``spec check`` uses it to run every rule's own examples and every
definition's worked examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache

import polars as pl

from mhdeaths import language as ex
from mhdeaths.spec import ExampleRecord, FieldType, Rule, Scope, Spec, SpecField, Stage, Table
from mhdeaths.spec.words import aggregate_in_words

POLARS_TYPES: dict[FieldType, pl.DataType] = {
    FieldType.STRING: pl.String(),
    FieldType.CODE: pl.String(),
    FieldType.INTEGER: pl.Int64(),
    FieldType.DECIMAL: pl.Float64(),
    FieldType.DATE: pl.Date(),
    FieldType.TIME: pl.Time(),
    FieldType.BOOLEAN: pl.Boolean(),
}


def typed_column(field: SpecField, source: str | None = None) -> pl.Expr:
    """The typed value of a field from its text (in column ``source``, by default the field's own);
    text that does not parse becomes null.

    The ``type`` check (stage text) reports such text, so nothing is lost silently.
    """
    return _typed(field.name, field.type, source or field.name)


@lru_cache(maxsize=4096)
def _typed(name: str, kind: FieldType, source: str) -> pl.Expr:
    """A field's typed value, made once per field and column (see ``ex.compiled``)."""
    text = pl.col(source)
    match kind:
        case FieldType.INTEGER:
            value = text.str.strip_prefix("+").cast(pl.Int64, strict=False)
        case FieldType.DECIMAL:
            value = text.cast(pl.Float64, strict=False)
        case FieldType.DATE:
            value = text.str.to_date(ex.DATE_FORMAT, strict=False)
        case FieldType.BOOLEAN:
            lowered = text.str.to_lowercase()
            value = (
                pl.when(lowered.is_in(["true", "y", "yes", "1"]))
                .then(True)
                .when(lowered.is_in(["false", "n", "no", "0"]))
                .then(False)
            )
        case FieldType.TIME:
            value = pl.coalesce(
                text.str.to_time("%H:%M:%S", strict=False), text.str.to_time("%H:%M", strict=False)
            )
        case _:
            value = text
    return value.alias(name)


def text_frame(table: Table, records: Sequence[ExampleRecord]) -> pl.DataFrame:
    """A text frame holding every submitted field of a table (absent fields are empty)."""
    names = [f.name for f in table.submitted_fields]
    data = {name: [r.get(name) for r in records] for name in names}
    return pl.DataFrame(data, schema=dict.fromkeys(names, pl.String))


def to_typed(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        typed_column(f) for f in table.submitted_fields if f.name in frame.columns
    )


def derive(spec: Spec, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Add the table's derived fields, one definition after another, in the order written."""
    for definition in spec.definitions_for(table):
        frame = frame.with_columns(ex.to_polars(definition.expression).alias(definition.name))
    return frame


def bound_expression(spec: Spec, rule: Rule, period: dt.date | None) -> ex.Expression:
    """The rule's expression with ``{codes}`` replaced by the codes valid in the period, or, for
    a field with ``dated_by``, on each record's own date (the SQL engine binds through here too)."""
    if not rule.code_list:
        return ex.parse_bound(rule.expression, [])
    code_list = spec.code_list(rule.code_list)
    codes = code_list.valid_codes(period)
    if rule.dated_by is None:
        return ex.parse_bound(rule.expression, codes)
    dated = [ex.DatedCode(c.code, c.valid_from, c.valid_to) for c in code_list.codes]
    return ex.bind_dated_codes(rule.expression, rule.dated_by, dated, codes)


def fails(node: ex.Node, columns: Mapping[str, str] | None = None) -> pl.Expr:
    """True where a record fails a rule: where its expression is FALSE (not NULL).

    The same as comparing the whole compiled expression with FALSE, but the AND, OR and NOT at the
    top are taken apart by SQL's three-valued logic (``a OR b`` is FALSE only where both are,
    ``a AND b`` where either is, ``NOT a`` where ``a`` is TRUE), so that each part is tested
    directly: a null test or a code list needs no NULL-keeping wrapper, which costs more than the
    test itself over a million records.
    """
    return ex.compiled(node, columns, _fails)


def _fails(node: ex.Node, columns: Mapping[str, str]) -> pl.Expr:
    return _truth(node, False, columns)


def _truth(node: ex.Node, wanted: bool, columns: Mapping[str, str]) -> pl.Expr:
    """True where the expression is ``wanted`` (TRUE or FALSE, never NULL)."""
    match node:
        case ex.Binary(op="OR" | "AND"):
            left = _truth(node.left, wanted, columns)
            right = _truth(node.right, wanted, columns)
            # TRUE OR: either is TRUE; FALSE OR: both are FALSE (and the reverse for AND).
            return left | right if (node.op == "OR") is wanted else left & right
        case ex.Unary(op="NOT"):
            return _truth(node.operand, not wanted, columns)
        case ex.IsNull(operand=ex.Col(name=name)):
            column = pl.col(columns.get(name, name))
            # Never NULL itself: IS NULL is TRUE where the value is missing.
            return column.is_null() if wanted is not node.negated else column.is_not_null()
        case ex.In(operand=ex.Col(name=name)):
            column = pl.col(columns.get(name, name))
            found = column.is_in([v.value for v in node.values])
            # NULL where the value is missing, as in SQL.
            return column.is_not_null() & (found if wanted is not node.negated else ~found)
    compiled = ex.to_polars(ex.from_tree(node), columns)
    return compiled.eq(wanted).fill_null(False)


def record_failures(
    spec: Spec, rule: Rule, text: pl.DataFrame, typed: pl.DataFrame, period: dt.date | None
) -> pl.Series:
    """For a record rule: a boolean per record, True where the record fails the rule."""
    frame = text if rule.stage is Stage.TEXT else typed
    return failure_masks(spec, [rule], frame, period).get_column(rule.id)


def failure_masks(
    spec: Spec, rules: Sequence[Rule], frame: pl.DataFrame, period: dt.date | None
) -> pl.DataFrame:
    """For rules read row by row from one frame: a boolean column per rule id, True where the
    row fails it, in one query (a query costs more than a small file's few rows)."""
    return frame.select(fails(bound_expression(spec, r, period).tree).alias(r.id) for r in rules)


def table_fails(spec: Spec, rule: Rule, typed: pl.DataFrame, period: dt.date | None) -> bool:
    """For a table rule: True when the table as a whole fails."""
    return tables_fail(spec, [rule], typed, period)[rule.id]


def tables_fail(
    spec: Spec, rules: Sequence[Rule], typed: pl.DataFrame, period: dt.date | None
) -> dict[str, bool]:
    """For table rules of one table: whether the table as a whole fails each, in one query."""
    values = typed.select(
        ex.to_polars(bound_expression(spec, r, period)).alias(r.id) for r in rules
    )
    return {r.id: values.get_column(r.id).item() is False for r in rules}


def aggregate_labels(spec: Spec, parsed: ex.Expression) -> list[str]:
    """How a cross-table finding names each aggregate of its rule in its ``detail``: what it
    counts, in words (``mhdeaths.spec.words``; both engines word the detail so)."""
    labels = []
    for node in ex.aggregate_nodes(parsed):
        (table_name,) = {c.table for c in node.walk() if isinstance(c, ex.Col)}
        labels.append(aggregate_in_words(spec, str(table_name), node))
    return labels


def cross_table_failures(
    spec: Spec, rule: Rule, frames: Mapping[str, pl.DataFrame], period: dt.date | None
) -> pl.DataFrame:
    """For a cross-table rule: the groups (``group_by`` values) that fail, with a ``detail``
    column giving each aggregate's value in the group (counts, never a person's data).

    Each aggregate is computed in its own table per group; a group missing from a table counts as
    zero there (a stratum with nothing to count may be left out of the activity table), and its
    MIN or MAX there is unknown (NULL).
    """
    parsed = bound_expression(spec, rule, period)
    keys = list(rule.group_by)
    grouped: list[pl.DataFrame] = []
    names: dict[ex.Node, ex.Col] = {}
    labels = aggregate_labels(spec, parsed)
    for i, node in enumerate(ex.aggregate_nodes(parsed)):
        (table_name,) = {c.table for c in node.walk() if isinstance(c, ex.Col)}
        names[node] = ex.Col(f"_agg{i}")
        grouped.append(
            frames[str(table_name)]
            .group_by(keys)
            .agg(ex.to_polars(ex.from_tree(ex.unqualified(node))).alias(f"_agg{i}"))
        )
    joined = grouped[0]
    for other in grouped[1:]:
        joined = joined.join(other, on=keys, how="full", coalesce=True, nulls_equal=True)
    counting = [
        f"_agg{i}"
        for i, node in enumerate(ex.aggregate_nodes(parsed))
        if node.name in ex.COUNTING_AGGREGATES
    ]
    joined = joined.with_columns(pl.col(name).fill_null(0) for name in counting)
    scalar = ex.transform(parsed.tree, lambda n: names.get(n))
    verdict = ex.to_polars(ex.from_tree(scalar))
    detail = pl.concat_str(
        [
            pl.concat_str([pl.lit(f"{label} = "), pl.col(f"_agg{i}").cast(pl.String)])
            for i, label in enumerate(labels)
        ],
        separator="; ",
    ).alias("detail")
    return joined.filter(verdict.eq(False).fill_null(False)).select([*keys, detail])


def tables_read(rule: Rule) -> set[str]:
    """The tables a cross-table rule's expression names (its columns are ``table.field``; an
    unqualified column names no table the spec has, so a rule with one is never evaluated)."""
    columns = ex.parse_bound(rule.expression, []).columns
    return {c.split(".")[0] for c in columns}


def example_tables(rule: Rule, records: object) -> Mapping[str, Sequence[ExampleRecord]]:
    """A rule's example records per table; a table a cross-table example leaves out has none
    (as an optional table left out of a submission)."""
    if isinstance(records, Mapping):
        return {t: () for t in sorted(tables_read(rule))} | dict(records)
    assert isinstance(records, Sequence)
    return {rule.table: records}


def empty_typed(spec: Spec, name: str) -> pl.DataFrame:
    """A table with no records, typed and derived: what an optional table left out holds."""
    table = spec.table(name)
    return derive(spec, name, to_typed(table, text_frame(table, [])))


def example_frames(spec: Spec, rule: Rule, records: object) -> dict[str, pl.DataFrame]:
    """Text and typed-and-derived frames of a rule's example records, per table."""
    by_table: Mapping[str, Sequence[ExampleRecord]]
    if isinstance(records, Mapping):
        by_table = example_tables(rule, records)
    else:
        assert isinstance(records, Sequence)
        by_table = {rule.table: records}
    named = {c.rpartition(".")[2] for c in ex.parse(ex.bind_codes(rule.expression, [])).columns}
    frames = {}
    for name, rows in by_table.items():
        table = spec.table_of(rule) if name == rule.table else spec.table(name)
        text = text_frame(table, rows)
        frames[name] = text
        typed = to_typed(table, text)
        # Deriving costs more than the check itself; only do it when the rule reads a derived field.
        if rule.scope is not Scope.STRUCTURE and any(
            not table.field(c).submitted for c in named if c in table.field_names
        ):
            typed = derive(spec, name, typed)
        frames[f"{name}:typed"] = typed
    return frames


def example_fails(spec: Spec, rule: Rule, records: object, period: dt.date | None = None) -> bool:
    """True when the rule finds a failure in its example records (the first record for a record
    rule, any group for a cross-table rule, the table for a table rule)."""
    frames = example_frames(spec, rule, records)
    if rule.scope is Scope.CROSS_TABLE:
        tables = {name.split(":")[0]: f for name, f in frames.items() if name.endswith(":typed")}
        return cross_table_failures(spec, rule, tables, period).height > 0
    text, typed = frames[rule.table], frames[f"{rule.table}:typed"]
    if rule.scope is Scope.TABLE:
        return table_fails(spec, rule, typed, period)
    return bool(record_failures(spec, rule, text, typed, period)[0])


def attribution_rank(spec: Spec, frame: pl.DataFrame) -> pl.Series:
    """Each death record's rank among the records of the same death (1 = the one counted).

    Records of one death share the attribution's ``match_on`` fields; they are ordered by its
    ``order_by`` keys, empty values last, so the choice never depends on the order of loading.
    """
    rule = spec.counting_rule
    keys = [ex.to_polars(k.expression).alias(f"_key{i}") for i, k in enumerate(rule.order_by)]
    ranked = (
        frame.with_row_index("_pos")
        .with_columns(keys)
        .sort(
            [f"_key{i}" for i in range(len(keys))],
            descending=[k.descending for k in rule.order_by],
            nulls_last=True,
        )
        .with_columns(pl.int_range(1, pl.len() + 1).over(list(rule.match_on)).alias("_rank"))
        .sort("_pos")
    )
    return ranked.get_column("_rank")

"""The validator's check step as DuckDB SQL: what the in-browser validator runs.

The page published with a spec version (``standard.publish.validator_page``) runs in a browser
with DuckDB compiled to WebAssembly and nothing of Python. So that no rule is written twice, every
statement it runs is written here, from the spec, by the same compilers the warehouse uses
(``language.to_duckdb``, ``sql_engine``): the typed value of each field from its text, the agreed
definitions, every rule of every scope, the root-cause filter of ``validate.evaluation`` (a value
that does not read as its type is reported once, not echoed by the rules reading it) and the
field-quality measures. The page only reads the file into text tables and runs these statements.

The names the statements read and write are fixed here (``TEXT``, ``COLUMNS``, ``TYPED``...): the
page creates ``text__<table>`` (a table or view: ``__pos`` the record's 0-based position, ``__row``
the row a person sees it on, then one text column per submitted field, NULL where the file has
none) and ``columns__<table>`` (the column table of the structure rules, plus ``__pos``), and runs
the rest. DuckDB in a browser runs on one thread: the statements store only what is read more
than once (``TablePlan``).

Which codes a code-list check accepts depends on the reporting period (``bind_codes``): the
statements are written once per *epoch*, a span of days in which no code list changes, and once
for a submission without a readable period (every code accepted, as the validator does).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mhdeaths import language as ex
from mhdeaths.engines.polars_engine import bound_expression, tables_read
from mhdeaths.engines.sql_engine import cross_table_failures_sql, derive_sql, ident
from mhdeaths.language.functions import AGGREGATES
from mhdeaths.spec import STRUCTURE_TABLE, FieldType, Rule, Scope, Spec, Stage, Table
from mhdeaths.spec.kinds import VALIDITY_CHECKS

TEXT = "text__{}"
COLUMNS = "columns__{}"
TYPED = "typed__{}"
FAILS = "fails__{}"
RAW = "raw::"
"""The prefix of a field's text column beside its typed value (as in ``validate.evaluation``)."""


def typed_sql(kind: FieldType, source: str) -> str:
    """The typed value of a text column in DuckDB, null where the text does not read as the type:
    the twin of ``polars_engine.typed_column`` (a property test compares the two on any text).

    Each cast is guarded by the shape polars accepts, since DuckDB's casts are kinder (they trim
    spaces, and read ``1.0`` as an integer)."""
    text = source
    match kind:
        case FieldType.INTEGER:
            digits = f"(CASE WHEN starts_with({text}, '+') THEN substr({text}, 2) ELSE {text} END)"
            return (
                f"(CASE WHEN regexp_full_match({digits}, '[+-]?[0-9]+') "
                f"THEN TRY_CAST({digits} AS BIGINT) END)"
            )
        case FieldType.DECIMAL:
            return (
                f"(CASE WHEN regexp_full_match({text}, "
                "'[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)', 'i') "
                f"THEN TRY_CAST({text} AS DOUBLE) END)"
            )
        case FieldType.DATE:
            return f"CAST(try_strptime({text}, '{ex.DATE_FORMAT}') AS DATE)"
        case FieldType.TIME:
            return (
                f"CAST(coalesce(try_strptime({text}, '%H:%M:%S'), "
                f"try_strptime({text}, '%H:%M')) AS TIME)"
            )
        case FieldType.BOOLEAN:
            return (
                f"(CASE WHEN lower({text}) IN ('true', 'y', 'yes', '1') THEN TRUE "
                f"WHEN lower({text}) IN ('false', 'n', 'no', '0') THEN FALSE END)"
            )
        case _:
            return text


def epochs(spec: Spec) -> list[tuple[dt.date | None, dt.date | None]]:
    """The spans of days (first day, last day; None: open) in which no code list of the spec
    changes, in order: a period's codes are those of the span its first day falls in."""
    bounds: set[dt.date] = set()
    for code_list in spec.code_lists:
        for code in code_list.codes:
            if code.valid_from is not None:
                bounds.add(code.valid_from)
            if code.valid_to is not None:
                bounds.add(code.valid_to + dt.timedelta(days=1))
    starts: list[dt.date | None] = [None, *sorted(bounds)]
    return [
        (start, None if i + 1 == len(starts) else _day_before(starts[i + 1]))
        for i, start in enumerate(starts)
    ]


def _day_before(day: dt.date | None) -> dt.date | None:
    return None if day is None else day - dt.timedelta(days=1)


def _typed_table(table: Table, source: str, keep_raw: bool) -> str:
    """The typed columns of a table from its text table (and the text beside, when kept)."""
    columns = ["__pos", "__row"]
    for f in table.submitted_fields:
        columns.append(f"{typed_sql(f.type, ident(f.name))} AS {ident(f.name)}")
        if keep_raw:
            columns.append(f"{ident(f.name)} AS {ident(RAW + f.name)}")
    return f"SELECT {', '.join(columns)} FROM {source}"


def _raw_names(tree: ex.Node, table: Table) -> ex.Node:
    """A text-stage expression reading the text columns kept beside the typed values."""
    names = set(table.field_names)
    return ex.transform(
        tree,
        lambda n: ex.Col(RAW + n.name) if isinstance(n, ex.Col) and n.name in names else None,
    )


def _verdict(spec: Spec, rule: Rule, period: dt.date | None, table: Table | None = None) -> str:
    tree = bound_expression(spec, rule, period).tree
    if table is not None and rule.stage is Stage.TEXT:
        tree = _raw_names(tree, table)
    return ex.to_duckdb(ex.from_tree(tree))


def _windowed(spec: Spec, rule: Rule, period: dt.date | None) -> bool:
    """Whether the rule's verdict reads a window (a count over a partition: the duplicates)."""
    tree = bound_expression(spec, rule, period).tree
    return any(isinstance(n, ex.Call) and n.over is not None for n in tree.walk())


def _window_verdicts(
    spec: Spec, rules: Sequence[Rule], period: dt.date | None, table: Table, source: str
) -> str:
    """The verdicts of rules reading windows, per record (``__wpos``, then one column a rule).

    An aggregate over a partition is the same aggregate grouped by the partition's keys, joined
    back to each record by its keys (NULL keys a group of their own, as in a partition): in
    DuckDB-WASM the grouping and join took half the time of the window, which sorts every record
    it holds."""
    joins: list[str] = []
    found: dict[ex.Node, ex.Node] = {}

    def grouped(node: ex.Node) -> ex.Node | None:
        if not (isinstance(node, ex.Call) and node.over is not None and node.name in AGGREGATES):
            return None
        if node not in found:
            k = len(found)
            keys = [ex.to_duckdb(ex.from_tree(key)) for key in node.over]
            made = [f"{key} AS __k{k}_{i}" for i, key in enumerate(keys)]
            made.append(f"{ex.to_duckdb(ex.from_tree(replace(node, over=None)))} AS __w{k}")
            on = " AND ".join(
                f"({key}) IS NOT DISTINCT FROM g{k}.__k{k}_{i}" for i, key in enumerate(keys)
            )
            joins.append(
                f"LEFT JOIN (SELECT {', '.join(made)} FROM {source}"
                f"{' GROUP BY ALL' if keys else ''}) AS g{k} ON {on or 'TRUE'}"
            )
            found[node] = ex.Col(f"__w{k}")
        return found[node]

    verdicts = []
    for r in rules:
        tree = bound_expression(spec, r, period).tree
        if r.stage is Stage.TEXT:
            tree = _raw_names(tree, table)
        verdict = ex.to_duckdb(ex.from_tree(ex.transform(tree, grouped)))
        verdicts.append(f"(({verdict}) IS FALSE) AS {ident(r.id)}")
    return f"SELECT __pos AS __wpos, {', '.join(verdicts)} FROM {source} AS t {' '.join(joins)}"


@dataclass(frozen=True)
class TablePlan:
    """The statements of one table, in the order the page runs them.

    Only the verdicts are stored (``fails__<table>``, one boolean a rule): the typed values are a
    view, computed once as the verdicts are, since DuckDB in a browser runs on one thread and
    copying every text and typed value into a table cost more than typing them."""

    typed: str
    """Creates the view ``typed__<table>`` over ``text__<table>``: typed values, text kept,
    definitions."""
    empty: str
    """Creates ``typed__<table>`` with no records: an optional table left out."""
    fails: str
    """Creates ``fails__<table>``: per record, one boolean per record rule (True: fails), the
    root-cause filter applied, and whether each field is filled and holds a default code."""
    findings: str
    """One row: per record rule, how many records fail it."""
    rows: dict[str, str]
    """Per record rule, the position and row of the first records failing it (run only for a rule
    that failed; the page runs those of a table together)."""
    measures: str
    """One row: per submitted field, records filled, valid and holding a default code."""
    structure: str | None
    """Each structure rule's failing columns: rows of the rule id (``__rule``) and the column's
    position in ``columns__<table>`` (``__pos``), in order; None for a table without such rules."""
    table_rules: str | None
    """One row: per table rule, a boolean, True when the table fails it; None without such rules.
    (Statements are run together where they can be: in a browser each costs a round trip to
    DuckDB's worker and its planning.)"""


FILLED = "filled::"
DEFAULT = "default::"
"""The prefixes of the measures' columns in ``fails__<table>``."""


def table_plan(spec: Spec, name: str, period: dt.date | None, sample: int) -> TablePlan:
    table = spec.table(name)
    rules = [r for r in spec.rules_for(name) if r.scope is Scope.RECORD]
    typed_source = f"({_typed_table(table, ident(TEXT.format(name)), keep_raw=True)}) AS t"
    typed = f"CREATE OR REPLACE VIEW {ident(TYPED.format(name))} AS " + derive_sql(
        spec, name, typed_source
    )
    empty_text = ", ".join(
        ["CAST(NULL AS INTEGER) AS __pos", "CAST(NULL AS INTEGER) AS __row"]
        + [f"CAST(NULL AS VARCHAR) AS {ident(f.name)}" for f in table.submitted_fields]
    )
    empty_source = (
        f"({_typed_table(table, f'(SELECT {empty_text} WHERE FALSE) AS e', keep_raw=True)}) AS t"
    )
    empty = f"CREATE OR REPLACE VIEW {ident(TYPED.format(name))} AS " + derive_sql(
        spec, name, empty_source
    )
    by_field: dict[str, list[str]] = {}
    for r in rules:
        if r.generated_from in VALIDITY_CHECKS:
            by_field.setdefault(r.fields[0], []).append(r.id)
    defaults = {
        f.name: spec.code_list(f.code_list).default_codes() if f.code_list else []
        for f in table.submitted_fields
    }
    # What the measures count, per record: filled, and holding a default code.
    flags = [
        f"({ident(RAW + f.name)} IS NOT NULL) AS {ident(FILLED + f.name)}"
        for f in table.submitted_fields
    ]
    for f in table.submitted_fields:
        if defaults[f.name]:
            listed = ", ".join(ex.duckdb_literal(c) for c in defaults[f.name])
            flags.append(
                f"coalesce({ident(RAW + f.name)} IN ({listed}), FALSE) AS {ident(DEFAULT + f.name)}"
            )
    # Each rule's verdict, then the root-cause filter: where a field's text is not of its type,
    # the other rules reading the field judged an empty value and are not reported there. A
    # window (a duplicate count) is taken over the few columns it reads, apart: in the one
    # projection it held every column of every record while it counted (_window_verdicts).
    windowed = {r.id for r in rules if _windowed(spec, r, period)}

    def verdicts(chosen: list[Rule]) -> list[str]:
        return [f"(({_verdict(spec, r, period, table)}) IS FALSE) AS {ident(r.id)}" for r in chosen]

    source = ident(TYPED.format(name))
    plain = f"SELECT {', '.join(['__pos', '__row', *flags, *verdicts([r for r in rules if r.id not in windowed])])} FROM {source}"
    if windowed:
        windows = _window_verdicts(
            spec, [r for r in rules if r.id in windowed], period, table, source
        )
        plain = f"SELECT * FROM ({plain}) AS p JOIN ({windows}) AS w ON p.__pos = w.__wpos"
    unreadable = {r.fields[0]: r.id for r in rules if r.generated_from == "type"}
    filtered = []
    for r in rules:
        causes = [unreadable[f] for f in r.fields if f in unreadable and r.generated_from != "type"]
        if causes:
            blocked = " OR ".join(ident(c) for c in causes)
            filtered.append(f"({ident(r.id)} AND NOT ({blocked})) AS {ident(r.id)}")
        else:
            filtered.append(ident(r.id))
    kept = [ident(FILLED + f.name) for f in table.submitted_fields] + [
        ident(DEFAULT + f) for f, codes in defaults.items() if codes
    ]
    fails_table = ident(FAILS.format(name))
    fails = (
        f"CREATE OR REPLACE TABLE {fails_table} AS SELECT "
        + ", ".join(["__pos", "__row", *kept, *filtered])
        + f" FROM ({plain}) AS v"
    )
    parts = ["count(*) AS __records"]
    parts += [f"count_if({ident(r.id)}) AS {ident(r.id + ':failed')}" for r in rules]
    findings = f"SELECT {', '.join(parts)} FROM {fails_table}"
    rows = {
        r.id: f"SELECT __pos, __row FROM {fails_table} WHERE {ident(r.id)} "
        f"ORDER BY __pos LIMIT {sample}"
        for r in rules
    }
    measure_parts = ["count(*) AS __records"]
    for f in table.submitted_fields:
        filled = ident(FILLED + f.name)
        measure_parts.append(f"count_if({filled}) AS {ident(f.name + ':filled')}")
        checks = by_field.get(f.name, [])
        if checks:
            invalid = " OR ".join(ident(c) for c in checks)
            measure_parts.append(
                f"count_if({filled} AND NOT ({invalid})) AS {ident(f.name + ':valid')}"
            )
        else:
            measure_parts.append(f"count_if({filled}) AS {ident(f.name + ':valid')}")
        if defaults[f.name]:
            measure_parts.append(
                f"count_if({ident(DEFAULT + f.name)}) AS {ident(f.name + ':defaults')}"
            )
        else:
            measure_parts.append(f"0 AS {ident(f.name + ':defaults')}")
    measures = f"SELECT {', '.join(measure_parts)} FROM {fails_table}"
    structure_source = (
        "(SELECT __pos, "
        + ", ".join(
            f"{typed_sql(f.type, ident(f.name))} AS {ident(f.name)}" for f in STRUCTURE_TABLE.fields
        )
        + f" FROM {ident(COLUMNS.format(name))}) AS c"
    )
    structure_checks = [
        f"SELECT {ex.duckdb_literal(r.id)} AS __rule, __pos FROM (SELECT __pos, "
        f"({_verdict(spec, r, period)}) AS _ok FROM {structure_source}) AS v WHERE _ok IS FALSE"
        for r in spec.rules_for(name)
        if r.scope is Scope.STRUCTURE
    ]
    structure = (
        f"SELECT * FROM ({' UNION ALL '.join(structure_checks)}) AS s ORDER BY __rule, __pos"
        if structure_checks
        else None
    )
    table_checks = [
        f"(({_verdict(spec, r, period)}) IS FALSE) AS {ident(r.id)}"
        for r in spec.rules_for(name)
        if r.scope is Scope.TABLE
    ]
    table_rules = (
        f"SELECT {', '.join(table_checks)} FROM {ident(TYPED.format(name))}"
        if table_checks
        else None
    )
    return TablePlan(typed, empty, fails, findings, rows, measures, structure, table_rules)


def cross_table_plan(spec: Spec, period: dt.date | None) -> dict[str, str]:
    """Per cross-table rule, the failing groups: its ``group_by`` values, in order, and the
    ``detail`` a finding shows (each aggregate's value in the group)."""
    return {
        r.id: cross_table_failures_sql(
            spec, r, {t.name: ident(TYPED.format(t.name)) for t in spec.tables}, period, True
        )
        for r in spec.rules
        if r.scope is Scope.CROSS_TABLE
    }


def plan(spec: Spec, period: dt.date | None, sample: int) -> dict[str, Any]:
    """Every statement the page runs for a submission whose period starts on ``period``."""
    tables = {}
    for t in spec.tables:
        p = table_plan(spec, t.name, period, sample)
        tables[t.name] = {
            "typed": p.typed,
            "empty": p.empty,
            "fails": p.fails,
            "findings": p.findings,
            "rows": p.rows,
            "measures": p.measures,
            "structure": p.structure,
            "table_rules": p.table_rules,
        }
    return {"tables": tables, "cross_table": cross_table_plan(spec, period)}


def rule_tables(rule: Rule) -> Sequence[str]:
    """The tables a cross-table rule reads, sorted."""
    return sorted(tables_read(rule))

"""Apply every rule of a spec version to a submission's tables and collect every finding.

This is the core the validator is built on: the submission's text is read into typed columns, the
agreed definitions are derived, and the rules of the spec are evaluated over whole columns (no loop
per record): every record rule of a table in one polars pass, which is what keeps a million-row file
close to the cost of reading it. A finding is a value: the rule, its severity, and the record,
group or file it concerns. Each rule's failures are counted in full; only a sample of positions is
kept when asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from mhdeaths import language as ex
from mhdeaths.engines import polars_engine as engine
from mhdeaths.spec import STRUCTURE_TABLE, FieldType, Mandation, Rule, Scope, Spec, Stage
from mhdeaths.spec.kinds import VALIDITY_CHECKS


@dataclass
class RuleOutcome:
    """How one rule fared on a submission."""

    rule: Rule
    failed: int = 0
    """Records (or groups, or files) that failed: always the full count."""
    rows: list[int] = field(default_factory=list)
    """Positions (0-based) of failing records, in order; only the first ``sample`` when capped."""
    groups: list[tuple[str, ...]] = field(default_factory=list)
    """For a cross-table rule: the ``group_by`` values of the failing groups."""
    details: list[str] = field(default_factory=list)
    """For a cross-table rule: each failing group's aggregates, e.g. the two counts compared."""

    @property
    def truncated(self) -> bool:
        return self.failed > max(len(self.rows), len(self.groups), 1)


@dataclass(frozen=True)
class FieldMeasures:
    """The NHS Data Quality Maturity Index measures of one field in one table."""

    table: str
    field: str
    records: int
    present: bool
    """Coverage: the file has a column for the field."""
    filled: int
    """Records with a value (completeness)."""
    valid: int
    """Records whose value passes the field's own checks (validity)."""
    defaults: int
    """Records holding a default code such as 'not known' (default-code use)."""


@dataclass
class Evaluation:
    outcomes: list[RuleOutcome]
    typed: dict[str, pl.DataFrame]
    """Each table's typed values and derived fields."""
    measures: list[FieldMeasures]
    unchecked: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Rules left out because they read a mandatory field whose column is missing: rule id ->
    those fields. The missing column is the finding; the rule's would be its echoes."""


def evaluate(
    spec: Spec,
    tables: Mapping[str, pl.DataFrame],
    period: dt.date | None,
    columns: Mapping[str, pl.DataFrame] | None = None,
    sample: int | None = None,
) -> Evaluation:
    """Evaluate every rule of the spec on the tables given (text frames, one column per field).

    ``columns`` holds each table's column table (``STRUCTURE_TABLE``) for the structure rules.
    Tables absent from ``tables`` are skipped. A cross-table rule that needs an absent table is
    skipped too, unless the table is optional: an optional table left out has no records, and the
    rule sees it empty (a death reviewed, but no review sent).
    """
    columns = columns or {}
    typed: dict[str, pl.DataFrame] = {}
    outcomes: list[RuleOutcome] = []
    measures: list[FieldMeasures] = []
    lacking = _missing_mandatory(spec, columns)
    unchecked: dict[str, tuple[str, ...]] = {}

    anything_lacking = any(lacking.values())

    def checked(rule: Rule) -> bool:
        if not anything_lacking:
            return True  # every mandatory column is there: nothing to leave out
        needs = sorted(f for t, f in spec.reads.rule(rule) if f in lacking.get(t, ()))
        if needs:
            unchecked[rule.id] = tuple(needs)
        return not needs

    for name, text in tables.items():
        rules = [r for r in spec.rules_for(name) if r.scope is Scope.RECORD and checked(r)]
        typed[name], masks = _typed_and_masks(spec, name, text, rules, period)
        masks = _without_echoes(rules, masks)
        for rule in rules:
            mask = masks.get_column(rule.id)
            failed = int(mask.sum())
            rows = mask.arg_true().to_list() if failed else []
            outcomes.append(RuleOutcome(rule, failed, rows[:sample] if sample else rows))
        present = (
            set(columns[name].filter(pl.col("present") == "true")["field_name"])
            if name in columns
            else set(text.columns)
        )
        measures += _measures(spec, name, text, masks, rules, present)
    empty = {
        t.name: engine.empty_typed(spec, t.name)
        for t in spec.tables
        if t.optional and t.name not in typed
    }
    others = [r for r in spec.rules if r.scope is not Scope.RECORD and checked(r)]
    batched = _per_table(spec, others, tables, typed, columns, period)
    for rule in others:
        if rule.scope in (Scope.STRUCTURE, Scope.TABLE):
            outcome = batched.get(rule.id)
        else:
            outcome = _cross_table(spec, rule, typed | empty, period)
        if outcome is not None:
            if sample:
                outcome.rows, outcome.groups = outcome.rows[:sample], outcome.groups[:sample]
                outcome.details = outcome.details[:sample]
            outcomes.append(outcome)
    return Evaluation(outcomes, typed, measures, unchecked)


def _missing_mandatory(spec: Spec, columns: Mapping[str, pl.DataFrame]) -> dict[str, set[str]]:
    """Per table with a column table: the mandatory fields that have no column in its file.

    Only mandatory ones: the file is rejected for them already, so leaving out the rules that
    read them hides no verdict. A missing optional column stays read as empty, so a rule that
    needs it on some records (a discharge date for a discharged patient) still says which.
    """
    lacking: dict[str, set[str]] = {}
    for name, frame in columns.items():
        present = set(frame.filter(pl.col("present") == "true")["field_name"])
        lacking[name] = {
            f.name
            for f in spec.table(name).submitted_fields
            if f.mandation is Mandation.MANDATORY and f.name not in present
        }
    return lacking


def _without_echoes(rules: list[Rule], masks: pl.DataFrame) -> pl.DataFrame:
    """Report the root cause, not its echoes: where a value does not read as its type, the other
    rules that use that field are not reported on that record (they judged an empty value).

    The type finding stands; the echoes would say, for example, that a date of death written
    31/02/2027 makes the declared category disagree with the derived one.
    """
    unreadable = {r.fields[0]: r.id for r in rules if r.generated_from == "type"}
    changes = []
    for rule in rules:
        if rule.generated_from == "type":
            continue
        causes = [pl.col(unreadable[f]) for f in rule.fields if f in unreadable]
        if causes:
            changes.append((pl.col(rule.id) & ~pl.any_horizontal(causes)).alias(rule.id))
    return masks.with_columns(changes) if changes else masks


_RAW = "raw::"
"""The prefix of the text columns while the typed columns carry the fields' own names."""


def _typed_and_masks(
    spec: Spec, name: str, text: pl.DataFrame, rules: list[Rule], period: dt.date | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The typed and derived values of a table, and one boolean column per record rule (True
    where the record fails it), in one lazy query.

    One query lets polars plan the whole table at once and run the expressions across cores.
    """
    table = spec.table(name)
    raw = {c: f"{_RAW}{c}" for c in text.columns}
    # A rule that computes what a derived field holds reads the field instead (an age, say).
    derived: dict[ex.Node, ex.Node] = {
        tree: ex.Col(d.name)
        for d in spec.definitions_for(name)
        if not isinstance(tree := ex.parse(d.expression).tree, ex.Col | ex.Lit)
    }

    once = _appears_once(spec, name, text, [r for r in rules if r.stage is Stage.TYPED], period)

    def fails(rule: Rule, columns: Mapping[str, str] | None = None) -> pl.Expr:
        tree = engine.bound_expression(spec, rule, period).tree
        if rule.stage is Stage.TYPED:
            tree = ex.transform(tree, lambda n: derived.get(n) or once.get(n))
        return engine.fails(tree, columns).alias(f"{_RAW}rule::{rule.id}")

    def reads_a_date(rule: Rule) -> bool:
        # A date's type check given its typed value, which is computed anyway.
        (field,) = rule.fields if len(rule.fields) == 1 else ("",)
        return (
            field in raw
            and table.field(field).type is FieldType.DATE
            and rule.expression == f"is_date({field})"
        )

    def date_fails(rule: Rule) -> pl.Expr:
        # is_date: a value that is not a real date or is not written CCYY-MM-DD.
        field = rule.fields[0]
        shape = ex.to_polars(f"matches({field}, '{ex.DATE_SHAPE}')", raw)
        fails = pl.col(raw[field]).is_not_null() & (pl.col(field).is_null() | ~shape)
        return fails.alias(f"{_RAW}rule::{rule.id}")

    on_text = [r for r in rules if r.stage is Stage.TEXT and not reads_a_date(r)]
    query = text.lazy().rename(raw)
    query = query.with_columns(
        [engine.typed_column(f, raw[f.name]) for f in table.submitted_fields if f.name in raw]
        + [fails(r, raw) for r in on_text]
    )
    for definition in spec.definitions_for(name):
        query = query.with_columns(ex.to_polars(definition.expression).alias(definition.name))
    query = query.with_columns(
        [fails(r) for r in rules if r.stage is Stage.TYPED]
        + [date_fails(r) for r in rules if r.stage is Stage.TEXT and reads_a_date(r)]
    )
    # Common-subexpression elimination, tried here, held every shared intermediate of a million
    # records at once (1.5 GB more at peak) and ran slower: it stays off.
    frame = query.collect(optimizations=pl.QueryOptFlags(comm_subexpr_elim=False))
    prefix = f"{_RAW}rule::"
    # Split by taking the columns themselves: a select here went through the query engine again,
    # which copied the whole frame (1.3 GB at a million records).
    masks = pl.DataFrame([frame.get_column(f"{prefix}{r.id}").alias(r.id) for r in rules])
    values = pl.DataFrame([s for s in frame.get_columns() if not s.name.startswith(_RAW)])
    return values, masks


def _appears_once(
    spec: Spec, name: str, text: pl.DataFrame, rules: list[Rule], period: dt.date | None
) -> dict[ex.Node, ex.Node]:
    """Duplicate checks (``COUNT(*) OVER (PARTITION BY keys) = 1``) that the data settle at once,
    each with what it then says on every record.

    Finding duplicates costs a hash table of whole values; counting distinct hashes costs less
    than half that. When the records with every key filled all hash apart, none of them shares
    its keys with another (equal values hash alike); with at most one record missing a key, the
    check holds everywhere, and with one key and several records missing it, it holds exactly
    where the key is filled (the missing ones make one group). Otherwise (a duplicate, or two
    values hashing alike) the check is left as it is. Only keys whose typed value is their text
    (strings and codes) are counted here, before the typed values exist.
    """
    table = spec.table(name)
    textual = {
        f.name
        for f in table.submitted_fields
        if f.name in text.columns and f.type in {FieldType.STRING, FieldType.CODE}
    }
    checks: dict[ex.Node, tuple[str, ...]] = {}
    for rule in rules:
        for node in engine.bound_expression(spec, rule, period).tree.walk():
            match node:
                case ex.Binary(
                    op="=", left=ex.Call(name="count", star=True, over=over), right=ex.Lit(value=1)
                ) if over and all(isinstance(k, ex.Col) and k.name in textual for k in over):
                    checks[node] = tuple(k.name for k in over if isinstance(k, ex.Col))
    if not checks or not text.height:
        return {}
    exprs = []
    for i, keys in enumerate(checks.values()):
        filled = pl.all_horizontal([pl.col(k).is_not_null() for k in keys])
        hashes = pl.struct(list(keys)).hash().filter(filled)
        exprs += [hashes.n_unique().alias(f"{i}:distinct"), filled.sum().alias(f"{i}:filled")]
    counts = text.lazy().select(exprs).collect().row(0, named=True)
    settled: dict[ex.Node, ex.Node] = {}
    for i, (node, keys) in enumerate(checks.items()):
        complete = int(counts[f"{i}:filled"])
        if int(counts[f"{i}:distinct"]) != complete:
            continue
        if text.height - complete <= 1:
            settled[node] = ex.Lit(True)
        elif len(keys) == 1:
            settled[node] = ex.IsNull(ex.Col(keys[0]), negated=True)
    return settled


def _measures(
    spec: Spec,
    name: str,
    text: pl.DataFrame,
    masks: pl.DataFrame,
    rules: list[Rule],
    present_fields: set[str],
) -> list[FieldMeasures]:
    table = spec.table(name)
    by_field: dict[str, list[str]] = {}
    for rule in rules:
        if rule.generated_from in VALIDITY_CHECKS:
            by_field.setdefault(rule.fields[0], []).append(rule.id)
    exprs: list[pl.Expr] = []
    for f in table.submitted_fields:
        value = pl.col(f.name)
        exprs.append(value.count().alias(f"{f.name}:filled"))
        # A field without checks of its own is valid wherever filled; without default codes,
        # it holds none: neither is computed.
        checks = by_field.get(f.name, [])
        if checks:
            invalid = pl.any_horizontal([pl.col(r) for r in checks])
            exprs.append((value.is_not_null() & ~invalid).sum().alias(f"{f.name}:valid"))
        defaults = spec.code_list(f.code_list).default_codes() if f.code_list else []
        if defaults:
            # A comparison per default code (one or two) costs half a set lookup per record;
            # a missing value compares as NULL, which the sum skips.
            uses = pl.any_horizontal([value == code for code in defaults]).sum()
            exprs.append(uses.alias(f"{f.name}:defaults"))
    totals = pl.concat([text, masks], how="horizontal").select(exprs).row(0, named=True)
    measures = []
    for f in table.submitted_fields:
        filled = int(totals[f"{f.name}:filled"])
        valid = int(totals.get(f"{f.name}:valid", filled))
        used = int(totals.get(f"{f.name}:defaults", 0))
        present = f.name in present_fields
        measures.append(FieldMeasures(name, f.name, text.height, present, filled, valid, used))
    return measures


def _per_table(
    spec: Spec,
    rules: list[Rule],
    tables: Mapping[str, pl.DataFrame],
    typed: Mapping[str, pl.DataFrame],
    columns: Mapping[str, pl.DataFrame],
    period: dt.date | None,
) -> dict[str, RuleOutcome]:
    """The outcome of each structure and table rule whose table is here, by rule id: a table's
    structure rules in one query over its column table (one value per column), its table rules
    in one query over its typed values (one value each), as its record rules are. A query has a
    cost of its own that a small file's few records do not repay, rule by rule."""
    outcomes: dict[str, RuleOutcome] = {}
    for name in dict.fromkeys(r.table for r in rules):
        structure = [r for r in rules if r.table == name and r.scope is Scope.STRUCTURE]
        if structure and name in columns:
            frame = engine.to_typed(STRUCTURE_TABLE, columns[name])
            masks = engine.failure_masks(spec, structure, frame, period)
            for rule in structure:
                rows = masks.get_column(rule.id).arg_true().to_list()
                outcomes[rule.id] = RuleOutcome(rule, len(rows), rows)
        # A table rule judges a file: an optional table left out has none.
        whole = [r for r in rules if r.table == name and r.scope is Scope.TABLE]
        if whole and name in tables:
            verdicts = engine.tables_fail(spec, whole, typed[name], period)
            for rule in whole:
                outcomes[rule.id] = RuleOutcome(rule, int(verdicts[rule.id]))
    return outcomes


def _cross_table(
    spec: Spec, rule: Rule, typed: Mapping[str, pl.DataFrame], period: dt.date | None
) -> RuleOutcome | None:
    """Evaluate a cross-table rule; None when a table it reads is not here."""
    if not engine.tables_read(rule) <= typed.keys():
        return None
    # In the groups' order, so that the sample listed and the report are the same on every run
    # (a group_by gives its groups in any order), and the validator page's.
    groups = engine.cross_table_failures(spec, rule, typed, period).sort(
        rule.group_by, nulls_last=True
    )
    keys = [tuple(str(v) for v in g) for g in groups.drop("detail").iter_rows()]
    return RuleOutcome(rule, len(keys), groups=keys, details=groups["detail"].to_list())

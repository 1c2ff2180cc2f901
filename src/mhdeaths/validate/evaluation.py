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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, cast

import polars as pl

from mhdeaths import language as ex
from mhdeaths.engines import polars_engine as engine
from mhdeaths.spec import STRUCTURE_TABLE, FieldType, Mandation, Rule, Scope, Spec, Stage, Table
from mhdeaths.spec.kinds import VALIDITY_CHECKS

T = TypeVar("T")


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


def _without_echoes(rules: list[Rule], prefix: str) -> list[pl.Expr]:
    """Report the root cause, not its echoes: where a value does not read as its type, the other
    rules that use that field are not reported on that record (they judged an empty value).

    The type finding stands; the echoes would say, for example, that a date of death written
    31/02/2027 makes the declared category disagree with the derived one. The changes read the
    mask columns, each named ``prefix`` and the rule's id.
    """
    unreadable = {r.fields[0]: f"{prefix}{r.id}" for r in rules if r.generated_from == "type"}
    changes = []
    for rule in rules:
        if rule.generated_from == "type":
            continue
        causes = [pl.col(unreadable[f]) for f in rule.fields if f in unreadable]
        if causes:
            own = f"{prefix}{rule.id}"
            changes.append((pl.col(own) & ~pl.any_horizontal(causes)).alias(own))
    return changes


_RAW = "raw::"
"""The prefix of the text columns while the typed columns carry the fields' own names."""

_RULE = f"{_RAW}rule::"
"""The prefix of the rules' mask columns in the query."""


class _Same:
    """A spec as a key, by identity: what is worked out from a loaded version is kept for that
    object (its own equality would compare every rule; a version loaded again after its files
    change is another object). Held in a key, the spec stays alive, so its id is not reused."""

    __slots__ = ("spec",)

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def __hash__(self) -> int:
        return id(self.spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.spec is self.spec


_KEPT: dict[tuple[object, ...], object] = {}
_KEEP = 512
"""The plans kept: a few per table and spec version (and per set of codes in force: the codes
valid in the reporting period are part of a rule's expression), oldest dropped first."""


def _kept(key: tuple[object, ...], make: Callable[[], T]) -> T:
    """``make()``, made once per key: the same spec version, table, columns and period give the
    same polars expressions for every submission, and building them anew (parsing the rules,
    binding their codes, compiling the trees) cost about as much as a small file's whole query."""
    if key in _KEPT:
        return cast(T, _KEPT[key])
    if len(_KEPT) >= _KEEP:
        _KEPT.pop(next(iter(_KEPT)), None)
    made = _KEPT[key] = make()
    return made


@dataclass(frozen=True)
class _RecordPlan:
    """The one query of a table's record rules (see ``_typed_and_masks``), as expressions."""

    raw: dict[str, str]
    """Each text column -> its name in the query, beside the typed one."""
    stages: tuple[list[pl.Expr], ...]
    """Applied in turn with ``with_columns``."""


def _typed_and_masks(
    spec: Spec, name: str, text: pl.DataFrame, rules: list[Rule], period: dt.date | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The typed and derived values of a table, and one boolean column per record rule (True
    where the record fails it, echoes left out: ``_without_echoes``), in one lazy query.

    One query lets polars plan the whole table at once and run the expressions across cores.
    """
    typed_rules = [r for r in rules if r.stage is Stage.TYPED]
    once = _appears_once(spec, name, text, typed_rules, period)
    columns = tuple(text.columns)
    codes = _in_force(spec, period)
    key = ("record", _Same(spec), name, columns, tuple(r.id for r in rules), codes, once)
    plan = _kept(key, lambda: _record_plan(spec, name, columns, rules, period, once))
    query = text.lazy().rename(plan.raw)
    for stage in plan.stages:
        query = query.with_columns(stage)
    # Common-subexpression elimination, tried here, held every shared intermediate of a million
    # records at once (1.5 GB more at peak) and ran slower: it stays off.
    frame = query.collect(optimizations=pl.QueryOptFlags(comm_subexpr_elim=False))
    # Split by taking the columns themselves: a select here went through the query engine again,
    # which copied the whole frame (1.3 GB at a million records).
    masks = pl.DataFrame([frame.get_column(f"{_RULE}{r.id}").alias(r.id) for r in rules])
    values = pl.DataFrame([s for s in frame.get_columns() if not s.name.startswith(_RAW)])
    return values, masks


def _record_plan(
    spec: Spec,
    name: str,
    columns: tuple[str, ...],
    rules: list[Rule],
    period: dt.date | None,
    settled: tuple[tuple[int, bool], ...],
) -> _RecordPlan:
    table = spec.table(name)
    raw = {c: f"{_RAW}{c}" for c in columns}
    # A rule that computes what a derived field holds reads the field instead (an age, say).
    derived: dict[ex.Node, ex.Node] = {
        tree: ex.Col(d.name)
        for d in spec.definitions_for(name)
        if not isinstance(tree := ex.parse(d.expression).tree, ex.Col | ex.Lit)
    }
    checks = _duplicate_checks(
        spec, name, columns, [r for r in rules if r.stage is Stage.TYPED], period
    )
    once: dict[ex.Node, ex.Node] = {}
    for i, everywhere in settled:
        node, keys = checks[i]
        once[node] = ex.Lit(True) if everywhere else ex.IsNull(ex.Col(keys[0]), negated=True)

    def fails(rule: Rule, columns: Mapping[str, str] | None = None) -> pl.Expr:
        tree = engine.bound_expression(spec, rule, period).tree
        if rule.stage is Stage.TYPED:
            tree = ex.transform(tree, lambda n: derived.get(n) or once.get(n))
        return engine.fails(tree, columns).alias(f"{_RULE}{rule.id}")

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
        return fails.alias(f"{_RULE}{rule.id}")

    on_text = [r for r in rules if r.stage is Stage.TEXT and not reads_a_date(r)]
    stages = [
        [engine.typed_column(f, raw[f.name]) for f in table.submitted_fields if f.name in raw]
        + [fails(r, raw) for r in on_text]
    ]
    for definition in spec.definitions_for(name):
        stages.append([ex.to_polars(definition.expression).alias(definition.name)])
    stages.append(
        [fails(r) for r in rules if r.stage is Stage.TYPED]
        + [date_fails(r) for r in rules if r.stage is Stage.TEXT and reads_a_date(r)]
    )
    echoes = _without_echoes(rules, _RULE)
    if echoes:
        stages.append(echoes)
    return _RecordPlan(raw, tuple(stages))


def _duplicate_checks(
    spec: Spec, name: str, columns: tuple[str, ...], rules: list[Rule], period: dt.date | None
) -> tuple[tuple[ex.Node, tuple[str, ...]], ...]:
    """The duplicate checks among the rules that ``_appears_once`` may settle, each with its keys
    (found once per version, table, columns and period: every rule's tree is walked)."""

    def find() -> tuple[tuple[ex.Node, tuple[str, ...]], ...]:
        table = spec.table(name)
        textual = {
            f.name
            for f in table.submitted_fields
            if f.name in columns and f.type in {FieldType.STRING, FieldType.CODE}
        }
        checks: dict[ex.Node, tuple[str, ...]] = {}
        for rule in rules:
            for node in engine.bound_expression(spec, rule, period).tree.walk():
                match node:
                    case ex.Binary(
                        op="=",
                        left=ex.Call(name="count", star=True, over=over),
                        right=ex.Lit(value=1),
                    ) if over and all(isinstance(k, ex.Col) and k.name in textual for k in over):
                        checks[node] = tuple(k.name for k in over if isinstance(k, ex.Col))
        return tuple(checks.items())

    codes = _in_force(spec, period)
    key = ("duplicates", _Same(spec), name, columns, tuple(r.id for r in rules), codes)
    return _kept(key, find)


def _in_force(spec: Spec, period: dt.date | None) -> tuple[tuple[str, ...], ...]:
    """The codes of every code list valid in the period: all a rule's expression takes from the
    period (``engine.bound_expression``), so periods with the same codes share their plans."""
    key = ("codes", _Same(spec), period)
    return _kept(key, lambda: tuple(tuple(c.valid_codes(period)) for c in spec.code_lists))


def _appears_once(
    spec: Spec, name: str, text: pl.DataFrame, rules: list[Rule], period: dt.date | None
) -> tuple[tuple[int, bool], ...]:
    """Duplicate checks (``COUNT(*) OVER (PARTITION BY keys) = 1``) that the data settle at once,
    each as its place among ``_duplicate_checks`` and what it then says on every record: True
    where it holds on every record, False where it holds exactly where its one key is filled.

    Finding duplicates costs a hash table of whole values; counting distinct hashes costs less
    than half that. When the records with every key filled all hash apart, none of them shares
    its keys with another (equal values hash alike); with at most one record missing a key, the
    check holds everywhere, and with one key and several records missing it, it holds exactly
    where the key is filled (the missing ones make one group). Otherwise (a duplicate, or two
    values hashing alike) the check is left as it is. Only keys whose typed value is their text
    (strings and codes) are counted here, before the typed values exist.
    """
    checks = _duplicate_checks(spec, name, tuple(text.columns), rules, period)
    if not checks or not text.height:
        return ()
    exprs = []
    for i, (_, keys) in enumerate(checks):
        filled = pl.all_horizontal([pl.col(k).is_not_null() for k in keys])
        hashes = pl.struct(list(keys)).hash().filter(filled)
        exprs += [hashes.n_unique().alias(f"{i}:distinct"), filled.sum().alias(f"{i}:filled")]
    counts = text.lazy().select(exprs).collect().row(0, named=True)
    settled: list[tuple[int, bool]] = []
    for i, (_, keys) in enumerate(checks):
        complete = int(counts[f"{i}:filled"])
        if int(counts[f"{i}:distinct"]) != complete:
            continue
        if text.height - complete <= 1:
            settled.append((i, True))
        elif len(keys) == 1:
            settled.append((i, False))
    return tuple(settled)


def _measures(
    spec: Spec,
    name: str,
    text: pl.DataFrame,
    masks: pl.DataFrame,
    rules: list[Rule],
    present_fields: set[str],
) -> list[FieldMeasures]:
    table = spec.table(name)
    key = ("measures", _Same(spec), name, tuple(r.id for r in rules))
    exprs = _kept(key, lambda: _measure_exprs(spec, table, rules))
    totals = pl.concat([text, masks], how="horizontal").select(exprs).row(0, named=True)
    measures = []
    for f in table.submitted_fields:
        filled = int(totals[f"{f.name}:filled"])
        valid = int(totals.get(f"{f.name}:valid", filled))
        used = int(totals.get(f"{f.name}:defaults", 0))
        present = f.name in present_fields
        measures.append(FieldMeasures(name, f.name, text.height, present, filled, valid, used))
    return measures


def _measure_exprs(spec: Spec, table: Table, rules: list[Rule]) -> list[pl.Expr]:
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
    return exprs


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

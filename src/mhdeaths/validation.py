"""Apply every rule of a spec version to a submission's tables and collect every finding.

This is the core the validator is built on: the submission's text is read into typed columns, the
agreed definitions are derived, and each rule of the spec is evaluated over whole columns (no loop
per record). A finding is a value: the rule, its severity, the table and the record it concerns.
Reading files, provider profiles and the reports are layered on top of this module.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from mhdeaths import engine
from mhdeaths.spec import STRUCTURE_TABLE, Rule, Scope, Severity, Spec, Stage


@dataclass(frozen=True)
class Finding:
    """One rule failing on one record (``row`` is its 0-based position), group or file."""

    rule_id: str
    severity: Severity
    table: str
    row: int | None
    """The failing record's position in its table; None for a table or cross-table finding."""
    fields: tuple[str, ...]
    group: tuple[str, ...] = ()
    """For a cross-table finding: the ``group_by`` values of the failing group."""


@dataclass
class RuleOutcome:
    """How one rule fared: how many records (or groups) failed, and the findings."""

    rule: Rule
    failed: int = 0
    findings: list[Finding] = field(default_factory=list)


def evaluate(
    spec: Spec,
    tables: Mapping[str, pl.DataFrame],
    period: dt.date | None,
    columns: Mapping[str, pl.DataFrame] | None = None,
) -> list[RuleOutcome]:
    """Evaluate every rule of the spec on the tables given (text frames, one column per field).

    ``columns`` holds each table's column table (``STRUCTURE_TABLE``) for the structure rules.
    Tables absent from ``tables`` are skipped, and so are cross-table rules that need one of them.
    """
    columns = columns or {}
    typed: dict[str, pl.DataFrame] = {}
    for name, text in tables.items():
        table = spec.table(name)
        typed[name] = engine.derive(spec, name, engine.to_typed(table, text))
    outcomes = []
    for rule in spec.rules:
        outcome = RuleOutcome(rule)
        if rule.scope is Scope.CROSS_TABLE:
            needed = {c.split(".")[0] for c in _columns(rule)}
            if not needed <= typed.keys():
                continue
            groups = engine.cross_table_failures(spec, rule, typed, period)
            outcome.failed = groups.height
            outcome.findings = [
                Finding(rule.id, rule.severity, rule.table, None, rule.fields, tuple(map(str, g)))
                for g in groups.iter_rows()
            ]
        elif rule.scope is Scope.STRUCTURE:
            if rule.table not in columns:
                continue
            frame = engine.to_typed(STRUCTURE_TABLE, columns[rule.table])
            rows = engine.record_failures(spec, rule, frame, frame, period).arg_true().to_list()
            outcome.failed = len(rows)
            outcome.findings = [
                Finding(rule.id, rule.severity, rule.table, row, rule.fields) for row in rows
            ]
        elif rule.table not in typed:
            continue
        elif rule.scope is Scope.TABLE:
            if engine.table_fails(spec, rule, typed[rule.table], period):
                outcome.failed = 1
                outcome.findings = [Finding(rule.id, rule.severity, rule.table, None, rule.fields)]
        else:
            text = tables[rule.table] if rule.stage is Stage.TEXT else typed[rule.table]
            fails = engine.record_failures(spec, rule, text, typed[rule.table], period)
            rows = fails.arg_true().to_list()
            outcome.failed = len(rows)
            outcome.findings = [
                Finding(rule.id, rule.severity, rule.table, row, rule.fields) for row in rows
            ]
        outcomes.append(outcome)
    return outcomes


def _columns(rule: Rule) -> set[str]:
    from mhdeaths import expression as ex

    return set(ex.parse(ex.bind_codes(rule.expression, [])).columns)


def severity_counts(outcomes: list[RuleOutcome]) -> Counter[Severity]:
    counts: Counter[Severity] = Counter()
    for outcome in outcomes:
        counts[outcome.rule.severity] += outcome.failed
    return counts

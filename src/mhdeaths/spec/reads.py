"""What an expression reads: the submitted fields behind a rule or a definition.

A rule that reads a derived field (``inpatient_death``) reads, through it, the submitted fields the
definition is made from. Knowing that closure lets the validator leave out the rules a missing
column would make meaningless (a file with local headers and no profile would otherwise fail the
duplicate checks on every record, their keys all empty), and lets the warehouse derive again only
the definitions a changed field feeds. Both ask the spec (``spec.reads``), so both answer alike.
"""

from __future__ import annotations

from mhdeaths import language as ex
from mhdeaths.spec.model import Rule, Scope, Spec


class Reads:
    """The reads of one spec version's rules and definitions, each worked out once."""

    def __init__(self, spec: Spec) -> None:
        self._spec = spec
        self._definitions: dict[str, dict[str, frozenset[str]]] = {}
        self._rules: dict[str, frozenset[tuple[str, str]]] = {}

    def definitions(self, table: str) -> dict[str, frozenset[str]]:
        """Per definition of ``table``, in the order written: the submitted fields it reads,
        directly or through the definitions written before it."""
        if table not in self._definitions:
            closure: dict[str, frozenset[str]] = {}
            for definition in self._spec.definitions_for(table):
                found: set[str] = set()
                for name in ex.parse(definition.expression).columns:
                    found |= closure.get(name, {name})
                closure[definition.name] = frozenset(found)
            self._definitions[table] = closure
        return self._definitions[table]

    def readers_of(self, table: str, fields: set[str] | frozenset[str]) -> list[str]:
        """The table's definitions that read any of ``fields``, directly or through another
        definition, in the order written (so each can be derived after what it reads)."""
        return [name for name, read in self.definitions(table).items() if read & fields]

    def rule(self, rule: Rule) -> frozenset[tuple[str, str]]:
        """The submitted fields a rule reads, as (table, field): its expression's columns (a
        cross-table rule's are ``table.field``) and groups, through any definitions they name.
        A structure rule reads the file's column table, no field."""
        if rule.id not in self._rules:
            self._rules[rule.id] = self._rule(rule)
        return self._rules[rule.id]

    def _rule(self, rule: Rule) -> frozenset[tuple[str, str]]:
        if rule.scope is Scope.STRUCTURE:
            return frozenset()
        columns = ex.parse_bound(rule.expression, []).columns
        named: set[tuple[str, str]]
        if rule.scope is Scope.CROSS_TABLE:
            named = {(t, f) for t, _, f in (c.partition(".") for c in columns) if f}
            named |= {(t, g) for t in {t for t, _ in named} for g in rule.group_by}
        else:
            named = {(rule.table, c) for c in columns}
        tables = {t.name for t in self._spec.tables}
        found: set[tuple[str, str]] = set()
        for table, name in named:
            derived = self.definitions(table) if table in tables else {}
            found |= {(table, f) for f in derived.get(name, {name})}
        return frozenset(found)

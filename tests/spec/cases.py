"""Which rule of which version a spec test runs: each rule once while it stays the same.

A rule that did not change between versions, over fields and definitions that did not change
either, behaves the same in both: it is tested in the newest version that has it so, and every
rule of every version is still covered (``covered``).
"""

from __future__ import annotations

from mhdeaths.spec import Rule, Spec, load_spec

from ..conftest import SPEC_ROOT, VERSIONS

SPECS: dict[str, Spec] = {v: load_spec(v, SPEC_ROOT) for v in VERSIONS}


def _case(spec: Spec, rule: Rule) -> object:
    """What a rule's test depends on: the rule, the fields it names and the definitions of its
    table (a rule may read a derived field)."""
    tables = [t for t in spec.tables if t.name == rule.table]
    return (
        rule,
        tuple(f for t in tables for f in t.fields if f.name in rule.fields),
        tuple(d for d in spec.definitions if d.table == rule.table),
    )


def rule_cases() -> list[tuple[str, str]]:
    """Each rule of each version, except where the next version has the same case."""
    cases = []
    for i, version in enumerate(VERSIONS):
        spec = SPECS[version]
        later = SPECS[VERSIONS[i + 1]] if i + 1 < len(VERSIONS) else None
        for rule in spec.rules:
            unchanged = (
                later is not None
                and rule.id in {r.id for r in later.rules}
                and _case(later, later.rule(rule.id)) == _case(spec, rule)
            )
            if not unchanged:
                cases.append((version, rule.id))
    return cases


def covered(cases: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The rules of every version that have no case of their own nor the same case later."""
    missing = []
    for i, version in enumerate(VERSIONS):
        for rule in SPECS[version].rules:
            if not any(
                (v, rule.id) in cases
                and _case(SPECS[v], SPECS[v].rule(rule.id)) == _case(SPECS[version], rule)
                for v in VERSIONS[i:]
            ):
                missing.append((version, rule.id))
    return missing

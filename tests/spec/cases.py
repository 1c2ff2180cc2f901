"""Which rule or worked example of which version a spec test runs: each once while it stays the same.

A rule that did not change between versions, over fields and definitions that did not change
either, behaves the same in both: it is tested in the newest version that has it so, and every
rule of every version is still covered (``covered``). The worked examples of the definitions and
of the attribution are chosen the same way (``definition_cases``, ``attribution_cases``), with
the meta-tests' ``definitions_uncovered`` and ``attribution_uncovered``.

The national feeds' versions (``spec/feeds/<feed>/``) are covered the same way, each feed a chain
of its own: a case's version is written ``<feed>/<version>`` (``spells/1.0.0``), and ``located``
gives the folder and version number to load or validate it with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from mhdeaths import language as ex
from mhdeaths.spec import Rule, Spec, SpecField, available_versions, feed_roots, load_spec

from ..conftest import SPEC_ROOT, VERSIONS

FEED_ROOTS = feed_roots(SPEC_ROOT)
CHAINS: list[list[str]] = [
    VERSIONS,
    *([f"{feed}/{v}" for v in available_versions(root)] for feed, root in FEED_ROOTS.items()),
]
"""The dataset's versions, then each feed's, oldest first: a case is looked for again only later
in its own chain (a feed's rule is never the dataset's rule under another version)."""


def located(key: str) -> tuple[Path, str]:
    """The spec folder and the version number of a case's version (``2.0.0``, ``spells/1.0.0``)."""
    feed, _, version = key.rpartition("/")
    return (FEED_ROOTS[feed] if feed else SPEC_ROOT), version


SPECS: dict[str, Spec] = {
    key: load_spec(located(key)[1], located(key)[0]) for chain in CHAINS for key in chain
}


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
    for chain, i, version in _each():
        spec = SPECS[version]
        later = SPECS[chain[i + 1]] if i + 1 < len(chain) else None
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
    for chain, i, version in _each():
        for rule in SPECS[version].rules:
            if not any(
                (v, rule.id) in cases
                and _case(SPECS[v], SPECS[v].rule(rule.id)) == _case(SPECS[version], rule)
                for v in chain[i:]
            ):
                missing.append((version, rule.id))
    return missing


def _each() -> list[tuple[list[str], int, str]]:
    """Each version of each chain, with its chain and its place in it."""
    return [(chain, i, version) for chain in CHAINS for i, version in enumerate(chain)]


def _named(expressions: Iterable[str]) -> set[str]:
    """The fields some expressions name."""
    return {
        name
        for text in expressions
        for names in ex.columns_by_table(ex.parse(text)).values()
        for name in names
    }


def _fields(spec: Spec, table: str, names: Iterable[str]) -> tuple[SpecField, ...]:
    wanted = set(names)
    return tuple(f for f in spec.table(table).fields if f.name in wanted)


def _definition_keys(spec: Spec) -> dict[tuple[str, str], object]:
    """What each worked example of a definition depends on: itself, every definition of its table
    (all are derived, in order, and one may read another) and the fields that those, the example's
    record and its expected values name, as the version types them."""
    keys: dict[tuple[str, str], object] = {}
    for definition in spec.definitions:
        table = tuple(spec.definitions_for(definition.table))
        named = _named(d.expression for d in table)
        for example in definition.worked_examples:
            names = named | set(example.record) | set(example.expected)
            keys[(definition.name, example.name)] = (
                example,
                table,
                _fields(spec, definition.table, names),
            )
    return keys


def _attribution_keys(spec: Spec) -> dict[tuple[str], object]:
    """What each worked example of the attribution depends on: itself, the attribution and the
    fields of the death table that those name, as the version types them."""
    attribution = spec.attribution
    if attribution is None:  # a feed counts no deaths
        return {}
    named = _named([*attribution.match_on, *(k.expression for k in attribution.order_by)])
    keys: dict[tuple[str], object] = {}
    for example in attribution.worked_examples:
        names = named | {n for record in example["records"] for n in record}
        keys[(str(example.get("name")),)] = (
            example,
            attribution,
            _fields(spec, "death", names),
        )
    return keys


def _newest(keys: Callable[[Spec], Mapping[tuple[str, ...], object]]) -> list[tuple[str, ...]]:
    """Each (version, *id) of every version, except where the next version has the same case."""
    cases = []
    for chain, i, version in _each():
        own = keys(SPECS[version])
        later = keys(SPECS[chain[i + 1]]) if i + 1 < len(chain) else {}
        cases += [(version, *id_) for id_, key in own.items() if later.get(id_) != key]
    return cases


def _uncovered(
    keys: Callable[[Spec], Mapping[tuple[str, ...], object]], cases: list[tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """The (version, *id) of every version with no case of its own nor the same case later."""
    by_version = {v: keys(SPECS[v]) for v in SPECS}
    return [
        (version, *id_)
        for chain, i, version in _each()
        for id_, key in by_version[version].items()
        if not any((v, *id_) in cases and by_version[v].get(id_) == key for v in chain[i:])
    ]


def definition_cases() -> list[tuple[str, ...]]:
    """(version, definition, example): each worked example once while its case stays the same."""
    return _newest(_definition_keys)


def definitions_uncovered(cases: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return _uncovered(_definition_keys, cases)


def attribution_cases() -> list[tuple[str, ...]]:
    """(version, example): each attribution example once while its case stays the same."""
    return _newest(_attribution_keys)


def attribution_uncovered(cases: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return _uncovered(_attribution_keys, cases)

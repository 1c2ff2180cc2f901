"""Self-checks of the spec: what ``mhdeaths spec check`` reports before a version is released.

A spec is data written by people, so it is checked as data: references resolve (code lists, fields,
definitions), every expression stays inside the expression language and names known fields, every
rule passes its own valid example and fails its counterexample, every worked example of the agreed
definitions derives what it says, rule ids are never reused with a new meaning across versions, and
released versions have not moved from their recorded checksums.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import semver
import yaml

from mhdeaths import language as ex
from mhdeaths.engines import polars_engine as engine
from mhdeaths.errors import ExpressionError, SpecError
from mhdeaths.spec import (
    STRUCTURE_TABLE,
    Definition,
    FieldType,
    Mandation,
    Rule,
    Scope,
    Spec,
    available_versions,
    load_spec,
    version_checksums,
)

RELEASED_FILE = "released.yaml"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec version, located by the item it concerns."""

    version: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.version} {self.where}: {self.message}"


def check_spec(spec: Spec, root: Path | None = None, *, releasing: bool = False) -> list[Problem]:
    """Every problem found in one version (and in how it relates to the others under root).

    ``releasing``: the version is about to be released, so its saying "released" before its
    checksums are recorded is expected, not a problem.
    """
    root = root or spec.path.parent
    problems: list[Problem] = []

    def add(where: str, message: str) -> None:
        problems.append(Problem(spec.version, where, message))

    _check_fields(spec, add)
    _check_rules(spec, add)
    _check_definitions(spec, add)
    _check_attribution(spec, add)
    _check_change(spec, add)
    _check_rule_history(spec, root, add)
    _check_against_previous(spec, root, add)
    _check_released(spec, root, add, releasing)
    return problems


def _check_fields(spec: Spec, add: Any) -> None:
    names = {c.name for c in spec.code_lists}
    for code_list in spec.code_lists:
        seen: set[str] = set()
        for code in code_list.codes:
            if code.code in seen:
                add(f"code list {code_list.name}", f"code {code.code!r} is listed twice.")
            seen.add(code.code)
            if code.valid_from and code.valid_to and code.valid_to < code.valid_from:
                add(f"code list {code_list.name}", f"code {code.code!r} ends before it starts.")
    definitions = {d.name for d in spec.definitions}
    for table in spec.tables:
        field_names = table.field_names
        for name in {n for n in field_names if field_names.count(n) > 1}:
            add(f"table {table.name}", f"field {name!r} is defined more than once.")
        for key in table.key:
            if key not in field_names:
                add(f"table {table.name}", f"key field {key!r} is not a field of the table.")
        for f in table.fields:
            where = f"field {table.name}.{f.name}"
            if f.code_list and f.code_list not in names:
                add(where, f"refers to code list {f.code_list!r}, which is missing.")
            if semver.Version.is_valid(f.since) and semver.Version.parse(f.since) > spec.semver:
                add(where, f"says it was introduced in {f.since}, after this version.")
            if f.mandation is Mandation.DERIVED:
                if f.derivation not in definitions:
                    add(where, f"is derived by {f.derivation!r}, which is not a definition.")
            elif f.type is FieldType.BOOLEAN:
                add(
                    where,
                    "is boolean, which only derived fields may be; submit a Y/N code instead.",
                )
            if f.submitted and f.example is None:
                add(where, "has no example value.")
            if (
                f.code_list in names
                and f.example is not None
                and f.example not in spec.code_list(f.code_list).valid_codes()
            ):
                add(where, f"example {f.example!r} is not a code of {f.code_list}.")


def _known_fields(spec: Spec, table: str, rule: Rule | None = None) -> set[str]:
    if rule is not None and rule.scope is Scope.STRUCTURE:
        return set(STRUCTURE_TABLE.field_names)
    return set(spec.table(table).field_names)


def _check_expression(spec: Spec, rule_or_def: Rule | Definition, add: Any, where: str) -> bool:
    text = ex.bind_codes(rule_or_def.expression, ["X"])
    try:
        parsed = ex.parse(text)
    except ExpressionError as exc:
        add(where, str(exc))
        return False
    table_names = {t.name for t in spec.tables}
    ok = True
    for column in sorted(parsed.columns):
        table, _, name = column.rpartition(".")
        table = table or rule_or_def.table
        if table not in table_names:
            add(where, f"the expression names table {table!r}, which the spec does not have.")
            ok = False
        elif name not in _known_fields(
            spec, table, rule_or_def if isinstance(rule_or_def, Rule) else None
        ):
            add(where, f"the expression names {column!r}, which is not a field of {table}.")
            ok = False
    return ok


def _check_rules(spec: Spec, add: Any) -> None:
    seen: set[str] = set()
    for rule in spec.rules:
        where = f"rule {rule.id}"
        if rule.id in seen:
            add(where, "the rule id is used more than once.")
            continue
        seen.add(rule.id)
        if rule.table not in {t.name for t in spec.tables}:
            add(where, f"belongs to table {rule.table!r}, which the spec does not have.")
            continue
        for name in rule.fields:
            if name not in _known_fields(spec, rule.table, rule):
                add(where, f"lists field {name!r}, which is not a field of {rule.table}.")
        if rule.code_list and rule.code_list not in {c.name for c in spec.code_lists}:
            # Reported once, at the field that names the list.
            continue
        if not _check_expression(spec, rule, add, where):
            continue
        parsed = ex.parse(ex.bind_codes(rule.expression, ["X"]))
        if rule.scope in {Scope.RECORD, Scope.STRUCTURE} and parsed.aggregate:
            add(where, "is a record rule but its expression aggregates; make it a table rule.")
            continue
        if rule.scope in {Scope.TABLE, Scope.CROSS_TABLE} and not parsed.aggregate:
            add(where, f"is a {rule.scope.value} rule but its expression does not aggregate.")
            continue
        if rule.scope is Scope.CROSS_TABLE:
            for key in rule.group_by:
                for table in ex.columns_by_table(parsed):
                    if key not in _known_fields(spec, table):
                        add(where, f"groups by {key!r}, which is not a field of {table}.")
        try:
            if engine.example_fails(spec, rule, rule.example):
                add(where, "its own valid example fails it.")
            if not engine.example_fails(spec, rule, rule.counterexample):
                add(where, "its counterexample passes it, so the rule could never fail as written.")
        except (pl.exceptions.PolarsError, SpecError, KeyError, ValueError) as exc:
            add(where, f"its examples cannot be evaluated: {str(exc).splitlines()[0]}")


def _check_definitions(spec: Spec, add: Any) -> None:
    for definition in spec.definitions:
        where = f"definition {definition.name}"
        if not _check_expression(spec, definition, add, where):
            continue
        table = spec.table(definition.table)
        if definition.name not in table.field_names:
            add(where, f"derives {definition.name!r}, which is not a field of {table.name}.")
            continue
        for example in definition.worked_examples:
            frame = engine.text_frame(table, [example.record])
            try:
                derived = engine.derive(spec, table.name, engine.to_typed(table, frame)).row(
                    0, named=True
                )
            except pl.exceptions.PolarsError as exc:
                add(where, f"worked example {example.name} cannot be evaluated: {exc}")
                continue
            for name, expected in example.expected.items():
                got = derived.get(name)
                if _plain(got) != _plain(expected):
                    add(
                        where,
                        f"worked example {example.name} derives {name} = {got!r}, "
                        f"but it says {expected!r}.",
                    )


def _plain(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _check_attribution(spec: Spec, add: Any) -> None:
    death = _known_fields(spec, "death")
    for key in spec.attribution.order_by:
        try:
            parsed = ex.parse(key.expression)
        except ExpressionError as exc:
            add("attribution", str(exc))
            continue
        for column in parsed.columns - death:
            add("attribution", f"orders by {column!r}, which is not a field of death.")
    for name in spec.attribution.match_on:
        if name not in death:
            add("attribution", f"matches on {name!r}, which is not a field of death.")
    table = spec.table("death")
    for example in spec.attribution.worked_examples:
        name = example.get("name", "?")
        records = example.get("records") or []
        frame = engine.to_typed(table, engine.text_frame(table, records))
        given = pl.DataFrame(
            {"death_category": [r.get("death_category") for r in records]},
            schema={"death_category": pl.String},
        )
        frame = frame.with_columns(given)
        try:
            ranks = engine.attribution_rank(spec, frame).to_list()
        except pl.exceptions.PolarsError as exc:
            add("attribution", f"worked example {name} cannot be evaluated: {exc}")
            continue
        chosen = [
            r.get("org_id_provider") for r, rank in zip(records, ranks, strict=True) if rank == 1
        ]
        if chosen != [example.get("attributed_to")]:
            add(
                "attribution",
                f"worked example {name} attributes the death to {', '.join(map(str, chosen))}, "
                f"but it says {example.get('attributed_to')}.",
            )


def _check_change(spec: Spec, add: Any) -> None:
    change = spec.change
    if change.version != spec.version:
        add("changes.yaml", f"is the entry of version {change.version}, not {spec.version}.")
    if change.bump not in {"major", "minor", "patch"}:
        add("changes.yaml", f"bump {change.bump!r} is not major, minor or patch.")
    if change.status not in {"draft", "approved", "effective", "retired", "released"}:
        add(
            "changes.yaml",
            f"status {change.status!r} is not draft, approved, effective or retired.",
        )
    ids = {r.id for r in spec.rules}
    for rule_id in change.rules_added:
        if rule_id not in ids:
            add("changes.yaml", f"lists {rule_id!r} as added, but the version has no such rule.")
    for rule_id in change.rules_retired:
        if rule_id in ids:
            add("changes.yaml", f"lists {rule_id!r} as retired, but the version still has it.")


def _check_against_previous(spec: Spec, root: Path, add: Any) -> None:
    """The change log says what changed since the version before: rules added and retired, a
    later effective period, and the bump the version numbers make."""
    earlier = [v for v in available_versions(root) if semver.Version.parse(v) < spec.semver]
    if not earlier:
        return
    try:
        previous = load_spec(earlier[-1], root)
    except SpecError:
        return  # Reported when that version itself is checked.
    change = spec.change
    ours, theirs = {r.id for r in spec.rules}, {r.id for r in previous.rules}
    for rule_id in sorted(ours - theirs - set(change.rules_added)):
        add(
            "changes.yaml",
            f"rule {rule_id} is new since {previous.version} but is not listed in rules_added.",
        )
    for rule_id in sorted(theirs - ours - set(change.rules_retired)):
        add(
            "changes.yaml",
            f"rule {rule_id} of {previous.version} is gone but is not listed in rules_retired.",
        )
    if change.effective_from <= previous.effective_from:
        add(
            "changes.yaml",
            f"takes effect from {change.effective_from}, not after {previous.version} "
            f"({previous.effective_from}).",
        )
    a, b = previous.semver, spec.semver
    declared = "major" if b.major != a.major else "minor" if b.minor != a.minor else "patch"
    if change.bump != declared:
        add(
            "changes.yaml",
            f"says the bump is {change.bump}, but {previous.version} to {spec.version} is {declared}.",
        )


def _meaning(rule: Rule) -> tuple[object, ...]:
    """What a rule id stands for: changing any of these needs a new id."""
    return (rule.table, rule.scope, tuple(sorted(rule.fields)), " ".join(rule.expression.split()))


def _check_rule_history(spec: Spec, root: Path, add: Any) -> None:
    """Rule ids are stable: same id, same meaning, in every version; a retired id stays retired."""
    retired: dict[str, str] = {}
    for version in available_versions(root):
        if version == spec.version:
            other = spec
        else:
            try:
                other = load_spec(version, root)
            except SpecError:
                continue  # Reported when that version itself is checked.
        for rule_id in other.change.rules_retired:
            retired.setdefault(rule_id, version)
        if other.semver >= spec.semver:
            continue
        theirs = {r.id: r for r in other.rules}
        for rule in spec.rules:
            earlier = theirs.get(rule.id)
            if earlier is not None and _meaning(earlier) != _meaning(rule):
                add(
                    f"rule {rule.id}",
                    f"the id is reused with a new meaning (its expression, fields or scope differ "
                    f"from version {version}); give the changed rule a new id and retire this one.",
                )
    for rule in spec.rules:
        when = retired.get(rule.id)
        if when is not None and semver.Version.parse(when) <= spec.semver:
            add(f"rule {rule.id}", f"the id was retired in {when} and must not be used again.")


def released_checksums(root: Path) -> dict[str, dict[str, str]]:
    path = root / RELEASED_FILE
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(v): dict(files) for v, files in data.items()}


def _check_released(spec: Spec, root: Path, add: Any, releasing: bool) -> None:
    recorded = released_checksums(root).get(spec.version)
    if recorded is None:
        if spec.status == "released" and not releasing:
            add("version.yaml", "says released, but no checksums are recorded in released.yaml.")
        return
    actual = version_checksums(spec.path)
    for name in sorted(set(recorded) | set(actual)):
        if name not in actual:
            add(name, "a file of this released version has been removed.")
        elif name not in recorded:
            add(name, "a file has been added to this released version.")
        elif recorded[name] != actual[name]:
            add(
                name, "this file of a released version has changed; released versions never change."
            )


def record_release(spec: Spec, root: Path) -> Path:
    """Record the checksums of a version's files in released.yaml (making it immutable)."""
    path = root / RELEASED_FILE
    data = released_checksums(root)
    data[spec.version] = version_checksums(spec.path)
    header = (
        "# Checksums (SHA-256) of every file of each released spec version. A released version\n"
        "# never changes: the tests and `mhdeaths spec check` fail when a file moves.\n"
    )
    ordered = dict(sorted(data.items(), key=lambda kv: semver.Version.parse(kv[0])))
    path.write_text(header + yaml.safe_dump(ordered, sort_keys=True), encoding="utf-8")
    return path

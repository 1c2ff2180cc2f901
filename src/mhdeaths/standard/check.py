"""Self-checks of the spec: what ``mhdeaths spec check`` reports before a version is released.

A spec is data written by people, so it is checked as data: references resolve (code lists, fields,
definitions), every expression stays inside the expression language and names known fields, every
rule passes its own valid example and fails its counterexample, every worked example of the agreed
definitions derives what it says, rule ids are never reused with a new meaning across versions, and
released versions have not moved from their recorded checksums.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    SpecField,
    Table,
    available_versions,
    load_spec,
    version_checksums,
)
from mhdeaths.standard.problems import SPEC_PROBLEMS

RELEASED_FILE = "released.yaml"

Add = Callable[..., None]
"""How a check reports a problem: ``add(where, id, **values)``, the id one of ``SPEC_PROBLEMS``."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec version, located by the item it concerns."""

    version: str
    where: str
    message: str
    id: str
    """The kind of problem, an id of ``SPEC_PROBLEMS`` (the sentence is made from its template)."""

    def __str__(self) -> str:
        return f"{self.version} {self.where}: {self.message}"


def check_spec(spec: Spec, root: Path | None = None, *, releasing: bool = False) -> list[Problem]:
    """Every problem found in one version (and in how it relates to the others under root).

    ``releasing``: the version is about to be released, so its saying "released" before its
    checksums are recorded is expected, not a problem.
    """
    root = root or spec.path.parent
    problems: list[Problem] = []

    def add(where: str, kind: str, **values: object) -> None:
        problems.append(Problem(spec.version, where, SPEC_PROBLEMS[kind].text(**values), kind))

    _check_fields(spec, add)
    _check_presence(spec, add)
    _check_rules(spec, add)
    _check_definitions(spec, add)
    _check_attribution(spec, add)
    _check_change(spec, add)
    _check_rule_history(spec, root, add)
    _check_against_previous(spec, root, add)
    _check_released(spec, root, add, releasing)
    return problems


def _check_fields(spec: Spec, add: Add) -> None:
    names = {c.name for c in spec.code_lists}
    for code_list in spec.code_lists:
        seen: set[str] = set()
        for code in code_list.codes:
            if code.code in seen:
                add(f"code list {code_list.name}", "spec/code-listed-twice", code=code.code)
            seen.add(code.code)
            if code.valid_from and code.valid_to and code.valid_to < code.valid_from:
                add(f"code list {code_list.name}", "spec/code-ends-before-start", code=code.code)
    definitions = {d.name for d in spec.definitions}
    for table in spec.tables:
        field_names = table.field_names
        for name in {n for n in field_names if field_names.count(n) > 1}:
            add(f"table {table.name}", "spec/field-defined-twice", field=name)
        for key in table.key:
            if key not in field_names:
                add(f"table {table.name}", "spec/key-not-a-field", field=key)
        for f in table.fields:
            where = f"field {table.name}.{f.name}"
            if f.code_list and f.code_list not in names:
                add(where, "spec/code-list-missing", code_list=f.code_list)
            if semver.Version.is_valid(f.since) and semver.Version.parse(f.since) > spec.semver:
                add(where, "spec/field-later-than-version", since=f.since)
            if f.mandation is Mandation.DERIVED:
                if f.derivation not in definitions:
                    add(where, "spec/derivation-missing", definition=f.derivation)
            elif f.type is FieldType.BOOLEAN:
                add(where, "spec/boolean-submitted")
            if f.submitted and f.example is None:
                add(where, "spec/example-missing")
            if f.dated_by is not None:
                _check_dated_by(table, f, add)
            if (
                f.code_list in names
                and f.example is not None
                and f.example not in spec.code_list(f.code_list).valid_codes()
            ):
                add(where, "spec/example-not-a-code", example=f.example, code_list=f.code_list)


def _check_dated_by(table: Table, field: SpecField, add: Add) -> bool:
    """True when the field's ``dated_by`` can choose its codes; otherwise says why."""
    where = f"field {table.name}.{field.name}"
    if field.code_list is None:
        add(where, "spec/dated-by-without-code-list", dated_by=field.dated_by)
        return False
    return _names_a_date(table, str(field.dated_by), where, add)


def _dates_codes(table: Table, rule: Rule, add: Add) -> bool:
    """True when a rule's ``dated_by`` is a date field of its table. A generated rule's is
    reported at its field (``_check_dated_by``), so it is passed ``_ignore``."""
    return _names_a_date(table, str(rule.dated_by), f"rule {rule.id}", add)


def _names_a_date(table: Table, dated_by: str, where: str, add: Add) -> bool:
    """True when ``dated_by`` is a date field of the table; otherwise says why."""
    if dated_by not in table.field_names:
        add(where, "spec/dated-by-not-a-field", dated_by=dated_by, table=table.name)
    elif table.field(dated_by).type is not FieldType.DATE:
        add(where, "spec/dated-by-not-a-date", dated_by=dated_by)
    else:
        return True
    return False


def _ignore(where: str, kind: str, **values: object) -> None:
    """An ``add`` that reports nothing: for asking again what a check has reported already."""


def _check_presence(spec: Spec, add: Add) -> None:
    """Optional tables: a submission still needs a main table, an optional table belongs to one
    (its key holds the main table's), and its own table rules hold when it has no records (its
    file left out means no records)."""
    if spec.tables and not spec.main_tables:
        add("tables", "spec/no-main-table")
    for table in spec.tables:
        if not table.optional:
            continue
        if not spec.parents_of(table):
            add(f"table {table.name}", "spec/optional-table-without-parent")
        empty = engine.derive(
            spec, table.name, engine.to_typed(table, engine.text_frame(table, []))
        )
        for rule in spec.rules_for(table.name):
            if rule.scope is not Scope.TABLE:
                continue
            try:
                fails = engine.table_fails(spec, rule, empty, None)
            except (pl.exceptions.PolarsError, SpecError, ExpressionError, KeyError):
                continue  # The rule's own check reports an expression that does not evaluate.
            if fails:
                add(f"table {table.name}", "spec/optional-table-needs-records", rule=rule.id)


def _known_fields(spec: Spec, table: str, rule: Rule | None = None) -> set[str]:
    if rule is not None and rule.scope is Scope.STRUCTURE:
        return set(STRUCTURE_TABLE.field_names)
    return set(spec.table(table).field_names)


def _check_expression(spec: Spec, rule_or_def: Rule | Definition, add: Add, where: str) -> bool:
    text = ex.bind_codes(rule_or_def.expression, ["X"])
    try:
        parsed = ex.parse(text)
    except ExpressionError as exc:
        add(where, "spec/expression-invalid", error=exc)
        return False
    table_names = {t.name for t in spec.tables}
    ok = True
    for column in sorted(parsed.columns):
        table, _, name = column.rpartition(".")
        table = table or rule_or_def.table
        if table not in table_names:
            add(where, "spec/expression-unknown-table", table=table)
            ok = False
        elif name not in _known_fields(
            spec, table, rule_or_def if isinstance(rule_or_def, Rule) else None
        ):
            add(where, "spec/expression-unknown-field", column=column, table=table)
            ok = False
    return ok


def _check_rules(spec: Spec, add: Add) -> None:
    seen: set[str] = set()
    for rule in spec.rules:
        where = f"rule {rule.id}"
        if rule.id in seen:
            add(where, "spec/rule-id-twice")
            continue
        seen.add(rule.id)
        if rule.table not in {t.name for t in spec.tables}:
            add(where, "spec/rule-unknown-table", table=rule.table)
            continue
        for name in rule.fields:
            if name not in _known_fields(spec, rule.table, rule):
                add(where, "spec/rule-unknown-field", field=name, table=rule.table)
        if rule.code_list and rule.code_list not in {c.name for c in spec.code_lists}:
            # Reported once, at the field that names the list.
            continue
        if rule.dated_by is not None and not _dates_codes(
            spec.table(rule.table), rule, add if rule.generated_from is None else _ignore
        ):
            continue
        if not _check_expression(spec, rule, add, where):
            continue
        parsed = ex.parse(ex.bind_codes(rule.expression, ["X"]))
        if rule.scope in {Scope.RECORD, Scope.STRUCTURE} and parsed.aggregate:
            add(where, "spec/record-rule-aggregates")
            continue
        if rule.scope in {Scope.TABLE, Scope.CROSS_TABLE} and not parsed.aggregate:
            add(where, "spec/table-rule-does-not-aggregate", scope=rule.scope.value)
            continue
        if rule.scope is Scope.CROSS_TABLE:
            for key in rule.group_by:
                for table in ex.columns_by_table(parsed):
                    if key not in _known_fields(spec, table):
                        add(where, "spec/group-by-unknown-field", key=key, table=table)
        try:
            if engine.example_fails(spec, rule, rule.example):
                add(where, "spec/example-fails")
            if not engine.example_fails(spec, rule, rule.counterexample):
                add(where, "spec/counterexample-passes")
        except (pl.exceptions.PolarsError, SpecError, KeyError, ValueError) as exc:
            add(where, "spec/examples-not-evaluable", error=str(exc).splitlines()[0])


def _check_definitions(spec: Spec, add: Add) -> None:
    for definition in spec.definitions:
        where = f"definition {definition.name}"
        if not _check_expression(spec, definition, add, where):
            continue
        table = spec.table(definition.table)
        if definition.name not in table.field_names:
            add(where, "spec/definition-not-a-field", name=definition.name, table=table.name)
            continue
        for example in definition.worked_examples:
            frame = engine.text_frame(table, [example.record])
            try:
                derived = engine.derive(spec, table.name, engine.to_typed(table, frame)).row(
                    0, named=True
                )
            except pl.exceptions.PolarsError as exc:
                add(where, "spec/worked-example-not-evaluable", example=example.name, error=exc)
                continue
            for name, expected in example.expected.items():
                got = derived.get(name)
                if _plain(got) != _plain(expected):
                    add(
                        where,
                        "spec/worked-example-wrong",
                        example=example.name,
                        field=name,
                        got=got,
                        expected=expected,
                    )


def _plain(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _check_attribution(spec: Spec, add: Add) -> None:
    if spec.attribution is None:
        if not spec.is_feed:
            add("attribution", "spec/attribution-missing")
        return
    death = _known_fields(spec, "death")
    for key in spec.attribution.order_by:
        try:
            parsed = ex.parse(key.expression)
        except ExpressionError as exc:
            add("attribution", "spec/expression-invalid", error=exc)
            continue
        for column in parsed.columns - death:
            add("attribution", "spec/attribution-order-unknown-field", column=column)
    for name in spec.attribution.match_on:
        if name not in death:
            add("attribution", "spec/attribution-match-unknown-field", field=name)
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
            add("attribution", "spec/worked-example-not-evaluable", example=name, error=exc)
            continue
        chosen = [
            r.get("org_id_provider") for r, rank in zip(records, ranks, strict=True) if rank == 1
        ]
        if chosen != [example.get("attributed_to")]:
            add(
                "attribution",
                "spec/attribution-example-wrong",
                example=name,
                chosen=", ".join(map(str, chosen)),
                expected=example.get("attributed_to"),
            )


def _check_change(spec: Spec, add: Add) -> None:
    change = spec.change
    if change.version != spec.version:
        add("changes.yaml", "spec/change-other-version", entry=change.version, version=spec.version)
    if change.bump not in {"major", "minor", "patch"}:
        add("changes.yaml", "spec/change-bump-unknown", bump=change.bump)
    if change.status not in {"draft", "approved", "effective", "retired", "released"}:
        add("changes.yaml", "spec/change-status-unknown", status=change.status)
    ids = {r.id for r in spec.rules}
    for rule_id in change.rules_added:
        if rule_id not in ids:
            add("changes.yaml", "spec/change-added-rule-missing", rule=rule_id)
    for rule_id in change.rules_retired:
        if rule_id in ids:
            add("changes.yaml", "spec/change-retired-rule-present", rule=rule_id)


def _check_against_previous(spec: Spec, root: Path, add: Add) -> None:
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
            "spec/change-new-rule-unlisted",
            rule=rule_id,
            previous=previous.version,
        )
    for rule_id in sorted(theirs - ours - set(change.rules_retired)):
        add(
            "changes.yaml",
            "spec/change-gone-rule-unlisted",
            rule=rule_id,
            previous=previous.version,
        )
    if change.effective_from <= previous.effective_from:
        add(
            "changes.yaml",
            "spec/change-not-later",
            effective_from=change.effective_from,
            previous=previous.version,
            previous_from=previous.effective_from,
        )
    a, b = previous.semver, spec.semver
    declared = "major" if b.major != a.major else "minor" if b.minor != a.minor else "patch"
    if change.bump != declared:
        add(
            "changes.yaml",
            "spec/change-wrong-bump",
            bump=change.bump,
            previous=previous.version,
            version=spec.version,
            declared=declared,
        )


def _meaning(rule: Rule) -> tuple[object, ...]:
    """What a rule id stands for: changing any of these needs a new id."""
    return (rule.table, rule.scope, tuple(sorted(rule.fields)), " ".join(rule.expression.split()))


def _check_rule_history(spec: Spec, root: Path, add: Add) -> None:
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
                add(f"rule {rule.id}", "spec/rule-id-reused", version=version)
    for rule in spec.rules:
        when = retired.get(rule.id)
        if when is not None and semver.Version.parse(when) <= spec.semver:
            add(f"rule {rule.id}", "spec/rule-id-retired", version=when)


def released_checksums(root: Path) -> dict[str, dict[str, str]]:
    path = root / RELEASED_FILE
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(v): dict(files) for v, files in data.items()}


def _check_released(spec: Spec, root: Path, add: Add, releasing: bool) -> None:
    recorded = released_checksums(root).get(spec.version)
    if recorded is None:
        if spec.status == "released" and not releasing:
            add("version.yaml", "spec/released-unrecorded")
        return
    actual = version_checksums(spec.path)
    for name in sorted(set(recorded) | set(actual)):
        if name not in actual:
            add(name, "spec/released-file-removed")
        elif name not in recorded:
            add(name, "spec/released-file-added")
        elif recorded[name] != actual[name]:
            add(name, "spec/released-file-changed")


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

"""Compare two spec versions and say which version bump the changes need.

The bump follows the Australian national minimum data set convention that DOMAIN.md adopts:
MAJOR when structure or a definition changes (a field, a table, the meaning of a rule or a derived
category), MINOR when a code domain changes or something optional is added (old extracts still
validate), PATCH for wording only. ``spec diff`` fails when the version numbers understate it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from mhdeaths.spec import Mandation, Rule, Severity, Spec


class Bump(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Change:
    kind: str
    """table, field, code_list, code, rule, check, definition or attribution."""
    item: str
    change: str
    bump: Bump
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True)
class SpecDiff:
    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def needed(self) -> Bump:
        return max((c.bump for c in self.changes), default=Bump.NONE)

    @property
    def declared(self) -> Bump:
        """The bump the two version numbers declare."""
        a, b = _parts(self.old), _parts(self.new)
        if b <= a:
            return Bump.NONE
        if b[0] != a[0]:
            return Bump.MAJOR
        if b[1] != a[1]:
            return Bump.MINOR
        return Bump.PATCH

    @property
    def understated(self) -> bool:
        return self.declared < self.needed


def _parts(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p.split("-")[0].split("+")[0]) for p in version.split(".")[:3])
    return major, minor, patch


_WORDING = ("title", "definition", "description", "source", "notes", "format", "example", "grain")


def diff_specs(old: Spec, new: Spec) -> SpecDiff:
    changes: list[Change] = []
    changes += _diff_tables(old, new)
    changes += _diff_code_lists(old, new)
    changes += _diff_rules(old, new)
    changes += _diff_named(
        "check",
        {t.check: t for t in old.check_templates},
        {t.check: t for t in new.check_templates},
        structural=("applies_to", "severity", "stage", "expression"),
        added=Bump.MAJOR,
    )
    changes += _diff_named(
        "definition",
        {d.name: d for d in old.definitions},
        {d.name: d for d in new.definitions},
        structural=("expression", "table", "type"),
        added=Bump.MINOR,
    )
    if old.attribution != new.attribution:
        same_rule = (old.attribution is not None and new.attribution is not None) and (
            old.attribution.match_on,
            old.attribution.order_by,
        ) == (new.attribution.match_on, new.attribution.order_by)
        changes.append(
            Change("attribution", "attribution", "changed", Bump.PATCH if same_rule else Bump.MAJOR)
        )
    return SpecDiff(old.version, new.version, tuple(changes))


def _diff_named(
    kind: str,
    old: dict[str, Any],
    new: dict[str, Any],
    structural: Sequence[str],
    added: Bump,
    removed: Bump = Bump.MAJOR,
    severity: Callable[[str, Any, Any], Bump] | None = None,
) -> list[Change]:
    """Changes between two sets of named items: added, removed, and per attribute."""
    changes = []
    for name in sorted(new.keys() - old.keys()):
        bump = added if severity is None else severity("added", None, new[name])
        changes.append(Change(kind, name, "added", bump, new=_summary(new[name])))
    for name in sorted(old.keys() - new.keys()):
        bump = removed if severity is None else severity("removed", old[name], None)
        changes.append(Change(kind, name, "removed", bump, old=_summary(old[name])))
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name].model_dump(), new[name].model_dump()
        for attr in sorted(a):
            if attr in {"since", "fields", "codes"} or a[attr] == b.get(attr):
                continue
            if severity is not None:
                bump = severity(attr, old[name], new[name])
            else:
                bump = Bump.MAJOR if attr in structural else Bump.PATCH
            changes.append(
                Change(kind, name, f"{attr} changed", bump, _show(a[attr]), _show(b[attr]))
            )
    return changes


def _summary(item: Any) -> str | None:
    """A few words on an added or removed item, for the diff's old and new columns."""
    if hasattr(item, "mandation"):
        return f"{item.mandation.value} {item.type.value}" + (
            f", code list {item.code_list}" if item.code_list else ""
        )
    if hasattr(item, "label"):
        return str(item.label)
    if hasattr(item, "severity") and hasattr(item, "expression"):
        return f"{item.severity.value}: {_show(item.expression)}"
    if hasattr(item, "codes"):
        return f"{len(item.codes)} codes"
    return None


def _show(value: object) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _diff_tables(old: Spec, new: Spec) -> list[Change]:
    changes = _diff_named(
        "table",
        {t.name: t for t in old.tables},
        {t.name: t for t in new.tables},
        # A table made optional, or one made required, changes what a submission must hold.
        structural=("key", "presence"),
        added=Bump.MAJOR,
    )
    for table in new.tables:
        try:
            before = old.table(table.name)
        except Exception:
            continue

        def field_bump(what: str, a: Any, b: Any) -> Bump:
            if what == "added":
                # An optional or derived field leaves old extracts valid; anything more does not.
                return (
                    Bump.MINOR
                    if b.mandation in {Mandation.OPTIONAL, Mandation.DERIVED}
                    else Bump.MAJOR
                )
            if what == "removed":
                return Bump.MAJOR
            if what == "mandation":
                return _mandation_bump(a.mandation, b.mandation)
            # A field's codes checked on another date accept or refuse other records.
            if what in {"code_list", "dated_by", "type", "pattern", "minimum", "maximum"}:
                return Bump.MAJOR
            if what == "max_length":
                return Bump.MINOR if (b.max_length or 0) > (a.max_length or 0) else Bump.MAJOR
            if what in {"identifier", "derivation"}:
                return Bump.MAJOR
            return Bump.PATCH if what in _WORDING else Bump.MINOR

        changes += [
            Change(c.kind, f"{table.name}.{c.item}", c.change, c.bump, c.old, c.new)
            for c in _diff_named(
                "field",
                {f.name: f for f in before.fields},
                {f.name: f for f in table.fields},
                structural=(),
                added=Bump.MINOR,
                severity=field_bump,
            )
        ]
    return changes


_MANDATION_ORDER = {
    Mandation.OPTIONAL: 0,
    Mandation.DERIVED: 0,
    Mandation.REQUIRED: 1,
    Mandation.MANDATORY: 2,
}


def _mandation_bump(old: Mandation, new: Mandation) -> Bump:
    # Relaxing never breaks an old extract; tightening to mandatory can reject one.
    if _MANDATION_ORDER[new] <= _MANDATION_ORDER[old]:
        return Bump.MINOR
    return Bump.MAJOR if new is Mandation.MANDATORY else Bump.MINOR


def _diff_code_lists(old: Spec, new: Spec) -> list[Change]:
    changes = _diff_named(
        "code_list",
        {c.name: c for c in old.code_lists},
        {c.name: c for c in new.code_lists},
        structural=(),
        added=Bump.MINOR,
    )
    for code_list in new.code_lists:
        before = next((c for c in old.code_lists if c.name == code_list.name), None)
        if before is None:
            continue

        def code_bump(what: str, a: Any, b: Any) -> Bump:
            if what in {"added", "valid_to", "valid_from", "default"}:
                return Bump.MINOR
            if what == "removed":
                return Bump.MAJOR
            return Bump.PATCH

        changes += [
            Change("code", f"{code_list.name}.{c.item}", c.change, c.bump, c.old, c.new)
            for c in _diff_named(
                "code",
                {c.code: c for c in before.codes},
                {c.code: c for c in code_list.codes},
                structural=(),
                added=Bump.MINOR,
                severity=code_bump,
            )
        ]
    return changes


_REJECTS = {Severity.FILE_REJECT, Severity.RECORD_REJECT}
_SEVERITY_ORDER = {
    Severity.INFO: 0,
    Severity.WARNING: 1,
    Severity.RECORD_REJECT: 2,
    Severity.FILE_REJECT: 3,
}


def _written(rules: Iterable[Rule]) -> dict[str, Rule]:
    # Rules made from check templates follow their field; the field's change carries the bump.
    return {r.id: r for r in rules if r.generated_from is None}


def _diff_rules(old: Spec, new: Spec) -> list[Change]:
    def rule_bump(what: str, a: Any, b: Any) -> Bump:
        if what == "added":
            return Bump.MAJOR if b.severity in _REJECTS else Bump.MINOR
        if what == "removed":
            return Bump.MINOR
        if what == "severity":
            up = _SEVERITY_ORDER[b.severity] > _SEVERITY_ORDER[a.severity]
            return Bump.MAJOR if up and b.severity in _REJECTS else Bump.MINOR
        if what in {"expression", "scope", "table", "group_by", "stage"}:
            return Bump.MAJOR
        return Bump.PATCH

    return _diff_named(
        "rule",
        _written(old.rules),
        _written(new.rules),
        structural=(),
        added=Bump.MINOR,
        severity=rule_bump,
    )

"""The specification's model: the frozen shapes a spec version is loaded into.

Everything else in mhdeaths (the validator, the warehouse, the published artefacts, the synthetic
data) reads a ``Spec`` and nothing else, so the YAML and CSV files under ``spec/`` stay the one
source of truth. This module says what a version is made of (tables, fields, code lists, rules,
definitions, the change log); ``mhdeaths.spec.loading`` reads one from its folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import semver
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mhdeaths.errors import SpecError

if TYPE_CHECKING:
    from mhdeaths.spec.reads import Reads

#: A record as written in the spec's examples: field name to its text, as a provider would send it.
ExampleRecord = dict[str, str | None]
#: Records of one table, or (for a cross-table rule) records per table.
Examples = tuple[ExampleRecord, ...] | dict[str, tuple[ExampleRecord, ...]]


class Frozen(BaseModel):
    # Each model builds its validator when first validating, not when its class is made: a spec
    # kept in the cache (``mhdeaths.spec.cache``) is never validated again, so a run that takes
    # it from there builds none.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class FieldType(StrEnum):
    """How a field's text is read; the check ``type`` tests that the text parses."""

    STRING = "string"
    CODE = "code"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    TIME = "time"
    BOOLEAN = "boolean"
    """Only for derived fields: providers send codes (Y/N/U), never booleans."""


class Mandation(StrEnum):
    """NHS Data Dictionary style mandation: M, R, O and D."""

    MANDATORY = "mandatory"
    """Must be present; a record without it is rejected."""
    REQUIRED = "required"
    """Should be present; a record without it gets a warning."""
    OPTIONAL = "optional"
    """May be present."""
    DERIVED = "derived"
    """Never submitted: the warehouse derives it from the agreed definitions."""


class Severity(StrEnum):
    """How serious a finding is, in SDCS Cloud's vocabulary."""

    FILE_REJECT = "file_reject"
    RECORD_REJECT = "record_reject"
    WARNING = "warning"
    INFO = "info"


class Scope(StrEnum):
    """What a rule's expression is evaluated over."""

    RECORD = "record"
    """One value per record; a record fails when the expression is false."""
    TABLE = "table"
    """One value for the whole table (aggregates); the file fails when it is false."""
    CROSS_TABLE = "cross_table"
    """Aggregates of two tables compared per group (``group_by``); a group fails when false."""
    STRUCTURE = "structure"
    """One value per column of the file (the column table, ``STRUCTURE_TABLE``)."""


class Stage(StrEnum):
    """Which values a rule sees: the text as submitted, or the typed values after reading."""

    TEXT = "text"
    TYPED = "typed"


class Code(Frozen):
    code: str
    label: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    default: bool = False
    """A default code ("not known", "not stated"), counted as default-code use by the DQMI."""
    maps: dict[str, str] = {}
    """The code's counterpart in other lists, by the list's name: a crosswalk kept as data (each
    further column of the code list's file), e.g. an ethnic category 2021 code's 2001 code."""

    def valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


class CodeList(Frozen):
    name: str
    title: str
    description: str
    source: str
    codes: tuple[Code, ...]

    def valid_codes(self, on: dt.date | None = None) -> list[str]:
        """The codes valid on a day (every code when no day is given)."""
        return [c.code for c in self.codes if on is None or c.valid_on(on)]

    def default_codes(self) -> list[str]:
        return [c.code for c in self.codes if c.default]

    def label_of(self, code: str) -> str | None:
        return next((c.label for c in self.codes if c.code == code), None)

    def crosswalk(self, target: str) -> dict[str, str]:
        """Each code's counterpart in the list ``target`` (codes with none are left out)."""
        return {c.code: c.maps[target] for c in self.codes if c.maps.get(target)}


class SpecField(Frozen):
    """One field of a table, as the data dictionary describes it."""

    name: str
    title: str
    definition: str
    type: FieldType
    format: str
    """The NHS Data Dictionary format notation, e.g. ``an2``, ``n10``, ``an10 CCYY-MM-DD``."""
    mandation: Mandation
    code_list: str | None = None
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    identifier: bool = False
    """A personal identifier (NHS number, date of birth, postcode): never shown in any output."""
    reference: bool = False
    """A reference into another system (coroner, CQC, LeDeR, LFPSE): text the provider types,
    checked so it cannot carry a personal identifier into the warehouse."""
    source: str
    since: str
    example: str | None = None
    derivation: str | None = None
    """For a derived field: the name of the definition that produces it."""
    notes: str | None = None
    dated_by: str | None = None
    """For a coded event: the date field of the same table whose value, not the reporting period,
    says which codes were valid (a review's method on the day the review started)."""

    @property
    def submitted(self) -> bool:
        return self.mandation is not Mandation.DERIVED


class Presence(StrEnum):
    """Whether a submission may leave a table out, and what leaving it out means."""

    MAIN = "main"
    """A table a submission is made of: a submission holds at least one main table. One left
    out is not read (a month without deaths sends no death file), so its rules, and the
    cross-table rules that need it, do not run."""
    OPTIONAL = "optional"
    """A child table a submission may leave out (reviews, report addressees): its absence means
    no records, so the cross-table rules that name it see an empty table. Sent, it comes with
    the main table it belongs to (``Spec.parents_of``)."""


class Table(Frozen):
    name: str
    title: str
    description: str
    grain: str
    key: tuple[str, ...]
    presence: Presence = Presence.MAIN
    fields: tuple[SpecField, ...]

    @property
    def optional(self) -> bool:
        return self.presence is Presence.OPTIONAL

    def field(self, name: str) -> SpecField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def submitted_fields(self) -> list[SpecField]:
        return [f for f in self.fields if f.submitted]


class CheckTemplate(Frozen):
    """A check that applies to every field with a given property (type, mandation, code list...).

    Each template becomes one rule per field it applies to, with the id ``<table>.<check>.<field>``.
    """

    check: str
    applies_to: str
    """Which fields: ``all``, ``mandatory``, ``required``, ``code_list``, ``pattern``, ``range``,
    ``max_length``."""
    severity: Severity
    stage: Stage = Stage.TYPED
    title: str
    message: str
    fix: str
    expression: str


class Rule(Frozen):
    """A named check with a stable id, one expression, and the words shown with each finding."""

    id: str
    table: str
    severity: Severity
    scope: Scope = Scope.RECORD
    stage: Stage = Stage.TYPED
    fields: tuple[str, ...]
    title: str
    message: str
    fix: str
    expression: str
    example: Examples
    """A valid example: records that satisfy the rule (for a cross-table rule, per table)."""
    counterexample: Examples
    """Records that break the rule (the first record is the one that must fail)."""
    group_by: tuple[str, ...] = ()
    """For a cross-table rule: the fields both tables are grouped by."""
    since: str
    generated_from: str | None = None
    """For a rule made from a check template: the template's check name."""
    code_list: str | None = None
    """For a code-list check: the list whose valid codes replace ``{codes}``."""
    dated_by: str | None = None
    """For a code-list check of a field with ``dated_by``: the date field that chooses the valid
    codes of each record (``language.bind_dated_codes``)."""

    @field_validator("example", "counterexample", mode="before")
    @classmethod
    def _records(cls, value: Any) -> Any:
        # A single record may be written as a mapping; a cross-table example maps table names
        # to lists of records.
        if isinstance(value, Mapping) and not all(isinstance(v, list) for v in value.values()):
            return (dict(value),)
        return value


class WorkedExample(Frozen):
    name: str
    title: str
    record: ExampleRecord
    expected: dict[str, str | int | bool | None]
    explanation: str


class Definition(Frozen):
    """An agreed definition: a derived field, its expression, its precedents and edge cases."""

    name: str
    title: str
    table: str
    type: FieldType | str
    description: str
    expression: str
    precedents: tuple[str, ...] = ()
    worked_examples: tuple[WorkedExample, ...] = ()


class OrderKey(Frozen):
    expression: str
    descending: bool = False


class Attribution(Frozen):
    """How one death reported by more than one provider is counted once."""

    description: str
    match_on: tuple[str, ...]
    order_by: tuple[OrderKey, ...]
    worked_examples: tuple[dict[str, Any], ...] = ()


class ChangeItem(Frozen):
    kind: str
    """table, field, code, rule, definition or wording."""
    item: str
    change: str
    old: str | None = None
    new: str | None = None


class ChangeLogEntry(Frozen):
    id: str
    version: str
    bump: str
    status: str
    published: dt.date
    effective_from: str
    """The first reporting period (CCYY-MM) the version applies to."""
    end_of_life: str | None = None
    driver: str
    summary: str
    changes: tuple[ChangeItem, ...] = ()
    impact_on_extracts: str
    time_series_break: str = "none"
    rules_added: tuple[str, ...] = ()
    rules_retired: tuple[str, ...] = ()
    mapping_notes: str | None = None
    approver: str


DRAFT = "draft"
"""The status of a version that is still being written (version.yaml)."""


class Spec(Frozen):
    """One spec version, loaded and frozen."""

    version: str
    title: str
    status: str
    published: dt.date
    effective_from: str
    accepts_previous: tuple[str, ...] = ()
    """Earlier versions still accepted during an overlap (dual acceptance)."""
    tables: tuple[Table, ...]
    code_lists: tuple[CodeList, ...]
    check_templates: tuple[CheckTemplate, ...]
    rules: tuple[Rule, ...]
    """Every rule: those written in rules.yaml and those generated from the check templates."""
    definitions: tuple[Definition, ...]
    attribution: Attribution | None
    """How one death reported twice is counted once; None for a feed, which counts nothing."""
    change: ChangeLogEntry
    path: Path = Field(exclude=True)
    kind: Literal["dataset", "feed"] = "dataset"
    """``dataset``: what providers submit. ``feed``: a national extract (death registrations,
    MHSDS spells) that only the national analysts load, kept in its own folder under
    ``spec/feeds/`` so that no provider's tooling ever sees it."""
    feed: str | None = None
    """A feed's name (the folder above its versions); None for the dataset."""

    @property
    def counting_rule(self) -> Attribution:
        """The attribution, for the code that counts deaths (only the dataset has one)."""
        if self.attribution is None:
            raise SpecError(
                f"{self.title} {self.version} is a national feed, and a feed counts no deaths."
            )
        return self.attribution

    @property
    def is_feed(self) -> bool:
        return self.kind == "feed"

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise SpecError(f"Spec {self.version} has no table called {name!r}.")

    def code_list(self, name: str) -> CodeList:
        for c in self.code_lists:
            if c.name == name:
                return c
        raise SpecError(f"Spec {self.version} has no code list called {name!r}.")

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def table_of(self, rule: Rule) -> Table:
        """The table a rule's expression reads: its own, or the column table for structure rules."""
        return STRUCTURE_TABLE if rule.scope is Scope.STRUCTURE else self.table(rule.table)

    @property
    def draft(self) -> bool:
        """Whether the version is still being written: used when named or declared, never by
        default, and loaded into the warehouse only once its canonical model maps it."""
        return self.status == DRAFT

    @property
    def main_tables(self) -> list[Table]:
        """The tables a submission is made of (at least one must be present)."""
        return [t for t in self.tables if not t.optional]

    def parents_of(self, table: Table) -> list[Table]:
        """The main tables an optional table belongs to: those whose key is part of its key
        (a review's key holds its death's)."""
        return [t for t in self.main_tables if t is not table and set(t.key) <= set(table.key)]

    def rules_for(self, table: str) -> list[Rule]:
        return [r for r in self.rules if r.table == table]

    def definitions_for(self, table: str) -> list[Definition]:
        return [d for d in self.definitions if d.table == table]

    def definition(self, name: str) -> Definition:
        for d in self.definitions:
            if d.name == name:
                return d
        raise SpecError(f"Spec {self.version} has no definition called {name!r}.")

    @cached_property
    def semver(self) -> semver.Version:
        return semver.Version.parse(self.version)

    @cached_property
    def reads(self) -> Reads:
        """What each rule and definition of this version reads, worked out once."""
        from mhdeaths.spec.reads import Reads

        return Reads(self)


def _structure_field(name: str, type_: FieldType, definition: str) -> SpecField:
    return SpecField(
        name=name,
        title=name.replace("_", " ").capitalize(),
        definition=definition,
        type=type_,
        format="",
        mandation=Mandation.OPTIONAL,
        source="mhdeaths",
        since="1.0.0",
        example="",
    )


#: The column table that structure rules read: one record per column found in a file or field
#: expected by the spec. Part of the expression language (spec/README.md), not of any version.
STRUCTURE_TABLE = Table(
    name="columns",
    title="Columns of a file",
    description="One record per column found in the file or field expected by the spec.",
    grain="one record per column or expected field",
    key=("column_name", "field_name"),
    fields=(
        _structure_field(
            "column_name", FieldType.STRING, "The header as found (after profile aliases)."
        ),
        _structure_field("field_name", FieldType.STRING, "The spec field it is, if any."),
        _structure_field("mandation", FieldType.STRING, "The field's mandation."),
        _structure_field("present", FieldType.BOOLEAN, "The file has a column for the field."),
        _structure_field("occurrences", FieldType.INTEGER, "How many columns carry this header."),
        _structure_field("known", FieldType.BOOLEAN, "The header is a field of the spec version."),
    ),
)

"""The specification in memory: load a spec version from ``spec/<version>/`` into frozen models.

Everything else in mhdeaths (the validator, the warehouse, the published artefacts, the synthetic
data) reads a ``Spec`` and nothing else, so the YAML and CSV files under ``spec/`` stay the one
source of truth. Loading does only what is needed to build the models: parsing, field-level rule
generation from the spec's own check templates, and the structural errors that make a version
unusable. The deeper self-checks (expressions, examples, cross-version rule ids) live in
``speccheck`` so that a broken version can still be loaded and reported on.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Mapping
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import semver
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mhdeaths.errors import SpecError

#: A record as written in the spec's examples: field name to its text, as a provider would send it.
ExampleRecord = dict[str, str | None]
#: Records of one table, or (for a cross-table rule) records per table.
Examples = tuple[ExampleRecord, ...] | dict[str, tuple[ExampleRecord, ...]]


def default_spec_root() -> Path:
    """The ``spec/`` folder of this checkout, or the one named by ``MHDEATHS_SPEC_DIR``."""
    import os

    env = os.environ.get("MHDEATHS_SPEC_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "spec"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
    source: str
    since: str
    example: str | None = None
    derivation: str | None = None
    """For a derived field: the name of the definition that produces it."""
    notes: str | None = None

    @property
    def submitted(self) -> bool:
        return self.mandation is not Mandation.DERIVED


class Table(Frozen):
    name: str
    title: str
    description: str
    grain: str
    key: tuple[str, ...]
    fields: tuple[SpecField, ...]

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
    attribution: Attribution
    change: ChangeLogEntry
    path: Path = Field(exclude=True)

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

    def rules_for(self, table: str) -> list[Rule]:
        return [r for r in self.rules if r.table == table]

    def definitions_for(self, table: str) -> list[Definition]:
        return [d for d in self.definitions if d.table == table]

    @cached_property
    def semver(self) -> semver.Version:
        return semver.Version.parse(self.version)


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


def parse_version(text: str) -> semver.Version:
    try:
        return semver.Version.parse(text)
    except ValueError:
        raise SpecError(f"{text!r} is not a semantic version such as 1.0.0.") from None


def available_versions(root: Path | None = None) -> list[str]:
    """Every version folder under the spec root, oldest first."""
    root = root or default_spec_root()
    if not root.is_dir():
        raise SpecError(f"There is no spec folder at {root}.")
    found = []
    for child in root.iterdir():
        if child.is_dir() and semver.Version.is_valid(child.name):
            found.append(child.name)
    return sorted(found, key=semver.Version.parse)


def latest_version(root: Path | None = None) -> str:
    versions = available_versions(root)
    if not versions:
        raise SpecError("The spec folder holds no versions.")
    return versions[-1]


# libyaml's loader when PyYAML was built with it (its wheels are): several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_YAML_LOADER)
    except FileNotFoundError:
        raise SpecError(f"The spec file {path} is missing.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"The spec file {path} is not valid YAML{where}.") from None


def _read_code_list(path: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = []
    for row in rows:
        codes.append(
            {
                "code": row["code"],
                "label": row["label"],
                "valid_from": row.get("valid_from") or None,
                "valid_to": row.get("valid_to") or None,
                "default": (row.get("default") or "").strip().lower() in {"y", "yes", "true"},
            }
        )
    return {**meta, "codes": codes}


def _expand_template(
    template: CheckTemplate, table: Table, field: SpecField, code_lists: Mapping[str, CodeList]
) -> Rule | None:
    """Make the rule a check template gives one field, or None when it does not apply."""
    if not field.submitted:
        return None
    applies = {
        "all": True,
        "mandatory": field.mandation is Mandation.MANDATORY,
        "required": field.mandation is Mandation.REQUIRED,
        "code_list": field.code_list is not None,
        "pattern": field.pattern is not None,
        "range": field.minimum is not None or field.maximum is not None,
        "max_length": field.max_length is not None and field.type is FieldType.STRING,
        "typed": field.type
        in {FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.TIME},
    }
    if template.applies_to not in applies:
        raise SpecError(
            f"Check {template.check!r} applies to {template.applies_to!r}, which is not one of "
            f"{', '.join(sorted(applies))}."
        )
    if not applies[template.applies_to]:
        return None
    values = _template_values(field)
    example_value = field.example
    counter: str | None
    match template.applies_to:
        case "mandatory" | "required":
            counter = None
        case "code_list":
            counter = "~~"
        case "pattern":
            counter = "~"
        case "range":
            counter = str((field.maximum if field.maximum is not None else 0) + 1)
        case "max_length":
            counter = "x" * ((field.max_length or 0) + 1)
        case _:
            counter = f"not a {field.type.value}"
    return Rule(
        id=f"{table.name}.{template.check}.{field.name}",
        table=table.name,
        severity=template.severity,
        scope=Scope.RECORD,
        stage=template.stage,
        fields=(field.name,),
        title=template.title.format(**values),
        message=template.message.format(**values),
        fix=template.fix.format(**values),
        expression=template.expression.format(**values),
        example=({field.name: example_value},),
        counterexample=({field.name: counter},),
        since=field.since,
        generated_from=template.check,
        code_list=field.code_list,
    )


def _template_values(field: SpecField) -> dict[str, str]:
    """The placeholders a check template may use."""
    return {
        "field": field.name,
        "title": field.title,
        "type": field.type.value,
        "format": field.format,
        "pattern": (field.pattern or "").replace("'", "''"),
        "min": str(field.minimum),
        "max": str(field.maximum),
        "max_length": str(field.max_length),
        "code_list": field.code_list or "",
        # {codes} is left for the engines: the valid codes depend on the reporting period.
        "codes": "{codes}",
        "example": field.example or "",
    }


def load_spec(version: str | None = None, root: Path | None = None) -> Spec:
    """Load one spec version (the latest when none is named)."""
    root = root or default_spec_root()
    version = version or latest_version(root)
    parse_version(version)
    folder = root / version
    if not folder.is_dir():
        known = ", ".join(available_versions(root)) or "none"
        raise SpecError(f"There is no spec version {version} (known versions: {known}).")
    # A loaded version is kept while none of its files changes (a spec is read many times).
    stamp = tuple(
        (p.as_posix(), p.stat().st_mtime_ns, p.stat().st_size) for p in iter_version_files(folder)
    )
    return _load_cached(folder.resolve(), version, stamp)


@lru_cache(maxsize=32)
def _load_cached(folder: Path, version: str, stamp: tuple[tuple[str, int, int], ...]) -> Spec:
    try:
        return _load_folder(folder, version)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecError(
            f"Spec {version} does not load: {where}: {first['msg']} ({exc.error_count()} problem(s))."
        ) from None


def _load_folder(folder: Path, version: str) -> Spec:
    head = _read_yaml(folder / "version.yaml")
    if str(head.get("version")) != version:
        raise SpecError(
            f"{folder / 'version.yaml'} declares version {head.get('version')}, "
            f"but its folder is named {version}."
        )
    tables = [Table(**_read_yaml(folder / "tables" / f"{name}.yaml")) for name in head["tables"]]
    index = _read_yaml(folder / "codelists" / "index.yaml") or {}
    code_lists = {}
    for name, meta in index.items():
        path = folder / "codelists" / f"{name}.csv"
        if not path.is_file():
            raise SpecError(
                f"Code list {name!r} is listed in codelists/index.yaml but {path} is missing."
            )
        code_lists[name] = CodeList(**_read_code_list(path, {"name": name, **meta}))
    templates = [CheckTemplate(**t) for t in _read_yaml(folder / "checks.yaml")]
    written = [Rule(**r) for r in _read_yaml(folder / "rules.yaml")]
    generated = [
        rule
        for template in templates
        for table in tables
        for field in table.fields
        if (rule := _expand_template(template, table, field, code_lists)) is not None
    ]
    defs_doc = _read_yaml(folder / "definitions.yaml")
    definitions = [Definition(**d) for d in defs_doc["definitions"]]
    attribution = Attribution(**defs_doc["attribution"])
    change = ChangeLogEntry(**_read_yaml(folder / "changes.yaml"))
    return Spec(
        version=version,
        title=head["title"],
        status=head["status"],
        published=head["published"],
        effective_from=str(head["effective_from"]),
        accepts_previous=tuple(head.get("accepts_previous") or ()),
        tables=tuple(tables),
        code_lists=tuple(code_lists.values()),
        check_templates=tuple(templates),
        rules=tuple(generated + written),
        definitions=tuple(definitions),
        attribution=attribution,
        change=change,
        path=folder,
    )


def iter_version_files(folder: Path) -> Iterator[Path]:
    """Every file of a version folder, in a stable order (for checksums)."""
    yield from sorted(p for p in folder.rglob("*") if p.is_file())


def version_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in a version folder, keyed by its path inside the folder."""
    sums = {}
    for path in iter_version_files(folder):
        # Normalise line endings so a checkout with CRLF endings does not look like an edit.
        data = path.read_bytes().replace(b"\r\n", b"\n")
        sums[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return sums


_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def period_start(period: str) -> dt.date:
    """The first day of a reporting period written CCYY-MM."""
    if not _PERIOD.match(period):
        raise SpecError(f"{period!r} is not a reporting period written CCYY-MM.")
    year, month = period.split("-")
    return dt.date(int(year), int(month), 1)


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month ``n`` months after ``month``'s (before it, for negative ``n``)."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)

"""Frictionless Table Schemas and a Data Package describing the submission files.

Analysts and open-data tools (frictionless, goodtables, CSVW converters, Open Data Editor) read
Table Schema natively, and frictionless reports problems in the error vocabulary our own reports
borrow (``constraint-error``, ``type-error``, row numbers with the header as row 1). Publishing the
schemas lets anyone check a CSV extract with those tools, offline, without mhdeaths. The package
names ``<table>.csv`` resources but ships no data: a provider puts its own files beside it.

Table Schema states one field's own value; it has no cross-field rule, no warning and no negated
pattern. Each resource lists the rules it cannot state (``mhdeaths_not_expressible``, each with its
kind from ``mhdeaths.spec.kinds``), so no one takes a clean frictionless report for a validation;
a test runs frictionless on every example submission and finds exactly the validator's findings
of the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mhdeaths.output.writing import dump_json, write_text
from mhdeaths.spec import (
    KIND_WORDS,
    FieldType,
    Mandation,
    Rule,
    RuleKind,
    Severity,
    Spec,
    SpecField,
    Table,
    rule_kind,
)
from mhdeaths.standard.publish.common import code_list_of, field_description, presence_note

#: Table Schema type of each spec type. Codes are strings, so leading zeros survive.
TABLE_SCHEMA_TYPES: dict[FieldType, str] = {
    FieldType.STRING: "string",
    FieldType.CODE: "string",
    FieldType.INTEGER: "integer",
    FieldType.DECIMAL: "number",
    FieldType.DATE: "date",
    FieldType.TIME: "time",
    FieldType.BOOLEAN: "boolean",
}


def _format(field: SpecField) -> str:
    # Table Schema's default time format is HH:MM:SS, but the spec's times are written HH:MM;
    # "default" dates are already CCYY-MM-DD.
    if field.type is FieldType.TIME:
        return "%H:%M:%S" if "HH:MM:SS" in field.format else "%H:%M"
    return "default"


def schema_field(spec: Spec, field: SpecField) -> dict[str, Any]:
    constraints: dict[str, Any] = {}
    if field.mandation is Mandation.MANDATORY:
        constraints["required"] = True
    code_list = code_list_of(spec, field)
    if code_list is not None:
        constraints["enum"] = code_list.valid_codes()
    # Table Schema patterns match the whole value (XML Schema style), as the spec's do, so the
    # spec pattern goes in unchanged.
    if field.pattern and TABLE_SCHEMA_TYPES[field.type] == "string":
        constraints["pattern"] = field.pattern
    if field.minimum is not None:
        constraints["minimum"] = field.minimum
    if field.maximum is not None:
        constraints["maximum"] = field.maximum
    if field.max_length is not None and TABLE_SCHEMA_TYPES[field.type] == "string":
        constraints["maxLength"] = field.max_length
    described: dict[str, Any] = {
        "name": field.name,
        "title": field.title,
        "description": field_description(spec, field, range_note=False),
        "type": TABLE_SCHEMA_TYPES[field.type],
        "format": _format(field),
    }
    if field.example is not None:
        described["example"] = field.example
    if constraints:
        described["constraints"] = constraints
    return described


#: The one-field checks a Table Schema states: a required warning has no severity to go with, and
#: a pattern a value must not match (``no_identifier``) has no place in Table Schema.
STATED_CHECKS = frozenset({"mandatory", "code_list", "pattern", "type", "range", "max_length"})


def expressible(spec: Spec, rule: Rule) -> bool:
    """True when the Table Schema states ``rule`` exactly."""
    return rule_kind(spec, rule) is RuleKind.FIELD and rule.generated_from in STATED_CHECKS


def not_expressible(spec: Spec, table: Table) -> list[dict[str, str]]:
    found = []
    for rule in spec.rules_for(table.name):
        if not expressible(spec, rule):
            kind = rule_kind(spec, rule)
            why = KIND_WORDS[kind] if kind is not RuleKind.FIELD else _FIELD_WHY[rule.severity]
            found.append({"rule_id": rule.id, "kind": kind.value, "title": rule.title, "why": why})
    return found


_FIELD_WHY = {
    Severity.WARNING: "a warning: Table Schema has no severities",
    Severity.INFO: "information: Table Schema has no severities",
    Severity.RECORD_REJECT: "a pattern the value must not match",
    Severity.FILE_REJECT: "a pattern the value must not match",
}


def table_schema(spec: Spec, table: Table) -> dict[str, Any]:
    submitted = table.submitted_fields
    schema: dict[str, Any] = {
        "fields": [schema_field(spec, f) for f in submitted],
        # Only an empty cell is missing: "NA" or "-" are values, which the rules then judge.
        "missingValues": [""],
    }
    names = {f.name for f in submitted}
    # A key that leans on a derived field cannot be checked in a submitted file, so it is left
    # out rather than published half-true.
    if table.key and set(table.key) <= names:
        schema["primaryKey"] = list(table.key)
    return schema


def data_package(spec: Spec) -> dict[str, Any]:
    return {
        "profile": "tabular-data-package",
        "name": f"mhdeaths-{spec.version}",
        "title": spec.title,
        "description": (
            f"The submission files of mhdeaths spec {spec.version}, one CSV per table. The "
            "package ships no data: place your own files, named as each resource's path, beside "
            "this descriptor to check them. Table Schema states each field's own value only: "
            "each resource's mhdeaths_not_expressible lists the rules it cannot state (rules "
            "across fields, records or tables, on the file's columns, on codes valid only in "
            "some periods, and warnings), which only the mhdeaths validator checks."
        ),
        "version": spec.version,
        "created": f"{spec.published.isoformat()}T00:00:00Z",
        "resources": [
            {
                "name": table.name,
                "path": f"{table.name}.csv",
                "profile": "tabular-data-resource",
                "title": table.title,
                "description": " ".join(
                    [f"{table.description.strip()} Grain: {table.grain}."]
                    + [n for n in [presence_note(spec, table)] if n]
                ),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": table_schema(spec, table),
                "mhdeaths_not_expressible": not_expressible(spec, table),
            }
            for table in spec.tables
        ],
    }


def write_data_package(spec: Spec, out: Path) -> list[Path]:
    written = [write_text(out / "datapackage.json", dump_json(data_package(spec)))]
    written += [
        write_text(out / "tableschema" / f"{t.name}.json", dump_json(table_schema(spec, t)))
        for t in spec.tables
    ]
    return written

"""Great Expectations 1.x expectation suites, one per table, written as plain JSON.

Some analytics teams already run GX over their warehouse tables. GX is an export target, not an
engine here (USERS.md §4): it is heavy, has no polars backend, and its results echo failing values,
which for identifiers is a leak. So the suite is built from the spec's generated per-field rules
without importing GX, and each expectation carries the rule id it stands for. Rules GX has no
built-in expectation for (cross-field, file-level, cross-table) are listed by id instead, so a GX
user knows what the suite does not check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mhdeaths.output.writing import dump_json, write_text
from mhdeaths.spec import FieldType, Mandation, Rule, Severity, Spec, Table
from mhdeaths.standard.publish.common import TYPE_PATTERNS, anchored, has_dated_codes

#: GX 1.x severities. Both kinds of reject stop a submission, which is what "critical" means.
GX_SEVERITY: dict[Severity, str] = {
    Severity.FILE_REJECT: "critical",
    Severity.RECORD_REJECT: "critical",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}

_AS_TEXT = "Read the column as text, as the file carries it."


def suite_name(spec: Spec, table: Table) -> str:
    return f"mhdeaths-{spec.version}-{table.name}"


def _expectation(
    kind: str, kwargs: dict[str, Any], rule: Rule | None, severity: str, notes: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "kwargs": kwargs,
        "meta": {"rule_id": rule.id if rule else None, "notes": notes},
        "severity": severity,
    }


def expectation_for(spec: Spec, table: Table, rule: Rule) -> dict[str, Any] | None:
    """The GX built-in that checks what a generated per-field rule checks, or None if none does."""
    if rule.generated_from is None or len(rule.fields) != 1:
        return None
    field = table.field(rule.fields[0])
    column = {"column": field.name}
    severity = GX_SEVERITY[rule.severity]
    notes = f"{rule.title}. {rule.message}"
    kind: str
    kwargs: dict[str, Any]
    match rule.generated_from:
        case "mandatory" | "required":
            kind, kwargs = "expect_column_values_to_not_be_null", column
        case "code_list" if field.code_list:
            code_list = spec.code_list(field.code_list)
            kind = "expect_column_values_to_be_in_set"
            kwargs = {**column, "value_set": code_list.valid_codes()}
            if has_dated_codes(code_list):
                notes += " The set holds every code of any period; the validator checks dates."
        case "pattern" if field.pattern:
            kind = "expect_column_values_to_match_regex"
            kwargs = {**column, "regex": anchored(field.pattern)}
            notes += f" {_AS_TEXT}"
        case "type" if field.type in TYPE_PATTERNS:
            kind = "expect_column_values_to_match_regex"
            kwargs = {**column, "regex": anchored(TYPE_PATTERNS[field.type])}
            notes += f" {_AS_TEXT}"
            if field.type is FieldType.DATE:
                notes += " A regex checks the shape only, not that the date exists."
        case "range" if field.minimum is not None or field.maximum is not None:
            kind = "expect_column_values_to_be_between"
            kwargs = {**column, "min_value": field.minimum, "max_value": field.maximum}
            notes += " Read the column as a number first: compared as text, 9 > 10."
        case "max_length" if field.max_length is not None:
            kind = "expect_column_value_lengths_to_be_between"
            kwargs = {**column, "max_value": field.max_length}
        case _:
            return None
    return _expectation(kind, kwargs, rule, severity, notes)


def column_expectations(table: Table) -> list[dict[str, Any]]:
    """The file's columns, at the severities the spec gives a missing or an unknown column.

    A missing mandatory column rejects the file, but a missing optional or an unknown column is
    only a warning, so one exact-match expectation would overstate the second case. Neither is
    tied to a rule id: the spec's structure rules also see provider aliases and repeated headers,
    which GX cannot, so they stay listed as not expressible.
    """
    submitted = table.submitted_fields
    mandatory = [f.name for f in submitted if f.mandation is Mandation.MANDATORY]
    return [
        _expectation(
            "expect_table_columns_to_match_set",
            {"column_set": mandatory, "exact_match": False},
            None,
            "critical",
            "Every mandatory field has a column; other columns may be present.",
        ),
        _expectation(
            "expect_table_columns_to_match_set",
            {"column_set": [f.name for f in submitted], "exact_match": True},
            None,
            "warning",
            "The file has exactly the submitted fields of the table (derived fields are never "
            "submitted); a missing optional column or an unknown column is a warning.",
        ),
    ]


def suite(spec: Spec, table: Table) -> dict[str, Any]:
    expectations = column_expectations(table)
    not_expressible = []
    for rule in spec.rules_for(table.name):
        expectation = expectation_for(spec, table, rule)
        if expectation is None:
            not_expressible.append(rule.id)
        else:
            expectations.append(expectation)
    return {
        "name": suite_name(spec, table),
        "expectations": expectations,
        "meta": {
            "spec_version": spec.version,
            "table": table.name,
            **({"presence": table.presence.value} if table.optional else {}),
            "not_expressible": not_expressible,
            "notes": (
                "Generated from the mhdeaths spec; each expectation's meta.rule_id names the rule "
                "it stands for. The rules listed in not_expressible have no GX built-in and are "
                "checked only by the mhdeaths validator. GX results include failing values: do "
                "not publish them for identifier fields."
            ),
        },
    }


def write_gx_suites(spec: Spec, out: Path) -> list[Path]:
    return [
        write_text(out / f"gx-suite-{t.name}.json", dump_json(suite(spec, t))) for t in spec.tables
    ]

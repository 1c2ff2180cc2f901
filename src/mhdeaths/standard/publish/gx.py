"""Great Expectations 1.x expectation suites, one per table, written as plain JSON.

Some analytics teams already run GX over their warehouse tables. GX is an export target, not an
engine here (USERS.md §4): it is heavy, has no polars backend, and its results echo failing values,
which for identifiers is a leak. So the suite is built from the spec's generated per-field rules
without importing GX, and each expectation carries the rule id it stands for. Rules GX has no
built-in expectation for (every kind but a field's own value: ``mhdeaths.spec.kinds``) are listed
by id instead, so a GX user knows what the suite does not check.

A GX user reads a CSV into pandas; read with pandas' defaults, a code such as ``01`` becomes the
number 1 and fails its code list, so the suite is written for every column read as text (its
``meta.usage`` shows how) and states a number's range as a regular expression on the text. A test
runs GX 1.x with the suite on every example submission and finds exactly the validator's findings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mhdeaths import language as ex
from mhdeaths.output.writing import dump_json, write_text
from mhdeaths.spec import FieldType, Mandation, Rule, RuleKind, Severity, Spec, Table, rule_kind
from mhdeaths.standard.publish.common import TYPE_PATTERNS, anchored, integer_range_pattern

#: GX 1.x severities. Both kinds of reject stop a submission, which is what "critical" means.
GX_SEVERITY: dict[Severity, str] = {
    Severity.FILE_REJECT: "critical",
    Severity.RECORD_REJECT: "critical",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}


#: How a GX user checks a file with a published suite: read every column as text (a code keeps
#: its leading zero; only an empty cell is missing, as the validator reads it), then validate.
#: The docs show this text for the death table, and a test runs it from there.
USAGE = """\
import json

import great_expectations as gx
import pandas as pd

frame = pd.read_csv("{table}.csv", dtype=str, keep_default_na=False, na_values=[""])
context = gx.get_context(mode="ephemeral")
with open("gx-suite-{table}.json", encoding="utf-8") as f:
    suite = context.suites.add(gx.ExpectationSuite(**json.load(f)))
batch = context.data_sources.pandas_default.read_dataframe(frame)
result = batch.validate(suite)
for failed in (r for r in result.results if not r.success):
    print(failed.expectation_config.meta["rule_id"], failed.result.get("unexpected_count"))
"""


def usage(table: Table) -> str:
    return USAGE.format(table=table.name)


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


def expectations_for(spec: Spec, table: Table, rule: Rule) -> list[dict[str, Any]]:
    """The GX built-ins that together check what a one-field rule checks; [] if none can.

    Every expectation reads the column as text (``READING``): a code keeps its leading zero, and a
    number or a date is checked as the validator checks the text a provider sent.
    """
    if rule_kind(spec, rule) is not RuleKind.FIELD:
        return []
    field = table.field(rule.fields[0])
    column = {"column": field.name}
    severity = GX_SEVERITY[rule.severity]
    notes = f"{rule.title}. {rule.message}"

    def one(kind: str, kwargs: dict[str, Any], note: str = "") -> list[dict[str, Any]]:
        return [_expectation(kind, {**column, **kwargs}, rule, severity, notes + note)]

    match rule.generated_from:
        case "mandatory" | "required":
            return one("expect_column_values_to_not_be_null", {})
        case "code_list" if field.code_list:
            return one(
                "expect_column_values_to_be_in_set",
                {"value_set": spec.code_list(field.code_list).valid_codes()},
            )
        case "pattern" if field.pattern:
            return one("expect_column_values_to_match_regex", {"regex": anchored(field.pattern)})
        case "type" if field.type is FieldType.DATE:
            # The regex holds the shape, strptime that the day exists (it alone would take
            # 2027-1-5); a value failing either fails the rule.
            return one(
                "expect_column_values_to_match_regex",
                {"regex": anchored(TYPE_PATTERNS[field.type])},
            ) + one(
                "expect_column_values_to_match_strftime_format",
                {"strftime_format": "%Y-%m-%d"},
                " A real day of the calendar, in the format CCYY-MM-DD.",
            )
        case "type" if field.type in TYPE_PATTERNS:
            return one(
                "expect_column_values_to_match_regex",
                {"regex": anchored(TYPE_PATTERNS[field.type])},
            )
        case "range" if field.type is FieldType.INTEGER:
            # A text that is not an integer is the type rule's finding, not this one's.
            not_integer = f"^(?!({TYPE_PATTERNS[FieldType.INTEGER]})$)"
            in_range = anchored(integer_range_pattern(field.minimum, field.maximum))
            return one(
                "expect_column_values_to_match_regex",
                {"regex": f"{not_integer}|{in_range}"},
                " Stated on the text, as the column is read as text: a number from "
                f"{field.minimum} to {field.maximum} (any text that is not an integer is left "
                "to the type rule).",
            )
        case "max_length" if field.max_length is not None:
            return one("expect_column_value_lengths_to_be_between", {"max_value": field.max_length})
        case "no_identifier":
            return one(
                "expect_column_values_to_not_match_regex",
                {"regex": anchored(_matched_pattern(rule))},
            )
    return []


def _matched_pattern(rule: Rule) -> str:
    """The regular expression of the one ``matches(field, '...')`` call in a rule."""
    (call,) = [
        n
        for n in ex.parse(rule.expression).tree.walk()
        if isinstance(n, ex.Call) and n.name == "matches"
    ]
    literal = call.args[1]
    assert isinstance(literal, ex.Lit) and isinstance(literal.value, str)
    return literal.value


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
        expressed = expectations_for(spec, table, rule)
        if expressed:
            expectations += expressed
        else:
            not_expressible.append(rule.id)
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
                "it stands for. Read every column as text, as the usage does: a code keeps its "
                "leading zero, and the numbers' ranges are stated on the text. The rules listed "
                "in not_expressible look at more than one field's own value (other fields, other "
                "records, other tables, the file's columns) or at a code list that changes with "
                "the reporting period; GX has no built-in for them and only the mhdeaths "
                "validator checks them. GX results include failing values: do not publish them "
                "for identifier fields."
            ),
            "usage": usage(table),
        },
    }


def write_gx_suites(spec: Spec, out: Path) -> list[Path]:
    return [
        write_text(out / f"gx-suite-{t.name}.json", dump_json(suite(spec, t))) for t in spec.tables
    ]

"""The validation report: what a provider's data team reads, as one documented data structure.

The report is a pydantic model so that its JSON form has a schema (docs/reference/report.schema.json,
generated and checked by the tests) that other tools can rely on. It holds the verdict first, then
counts per rule, then the NHS Data Quality Maturity Index measures per field, then the findings,
each located by file, row and column, with the spec's message, fix hint and a valid example. It
never holds an NHS number, a date of birth or a postcode: a finding shows the submitted value only
for coded fields that identify no one. Every text in it passes ``mhdeaths.guard`` as the model is
built (names as names, the rest as sentences), so whatever renders it (terminal, JSON, CSV, HTML)
shows no control character and no identifier, whichever code path made the text.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mhdeaths import __version__, guard
from mhdeaths.spec import Rule, Severity

REPORT_SCHEMA_VERSION = "1.0"


def example_text(rule: Rule) -> str | None:
    """A rule's valid example as a finding shows it, a short text (its first record's values):
    the validator's report and the validator page's bundle both take it from here."""
    records = rule.example
    if isinstance(records, dict):
        return json.dumps({k: list(v) for k, v in records.items()})
    if not records:
        return None
    first = {k: v for k, v in records[0].items() if v is not None}
    if rule.generated_from and len(first) == 1:
        return next(iter(first.values()))
    return ", ".join(f"{k} = {v}" for k, v in first.items())


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    """No finding that rejects: the submission can be loaded."""
    ACCEPTED_WITH_WARNINGS = "accepted with warnings"
    """Accepted, with warnings worth fixing."""
    REJECTED = "rejected"
    """At least one file or record reject (or, with --strict, a warning)."""


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields holding a file, sheet or column name (guarded as names: dates hidden too)."""
    unguarded_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields that hold no text from a file (a checksum, the spec's own sentences)."""

    @model_validator(mode="before")
    @classmethod
    def _guard(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            key: item if key in cls.unguarded_fields else _guarded(item, key in cls.name_fields)
            for key, item in data.items()
        }


def _guarded(item: Any, is_name: bool) -> Any:
    if isinstance(item, str):
        return guard.name(item) if is_name else guard.message(item)
    if isinstance(item, list | tuple):
        return [_guarded(one, is_name) for one in item]
    return item


class FileInfo(Model):
    name_fields = frozenset({"name"})
    unguarded_fields = frozenset({"sha256"})

    name: str = Field(description="The file's name (without its folder).")
    format: str = Field(description="csv, xlsx, xls or parquet.")
    sha256: str
    size: int = Field(description="Bytes.")
    encoding: str | None = None
    delimiter: str | None = None
    tables: list[str] = Field(description="The spec tables found in the file.")


class TableInfo(Model):
    name_fields = frozenset({"file", "sheet"})

    name: str
    file: str
    sheet: str | None = None
    records: int = Field(description="Records validated (blank rows are not counted).")
    blank_rows: int = 0
    columns: int


class RuleSummary(Model):
    rule_id: str
    severity: Severity = Field(description="The effective severity, after any derogation.")
    spec_severity: Severity = Field(description="The severity the spec gives the rule.")
    table: str
    title: str
    failed: int = Field(description="Records, groups or files that failed: the full count.")
    shown: int = Field(description="Findings listed in this report for the rule.")
    truncated: bool = Field(description="True when more failed than are listed.")
    derogation: str | None = Field(None, description="Why the rule is downgraded, and until when.")


class FieldQuality(Model):
    """One field's measures in the NHS Data Quality Maturity Index vocabulary (percentages)."""

    table: str
    field: str
    title: str
    mandation: str
    coverage: float = Field(description="100 when the file has a column for the field, else 0.")
    completeness: float = Field(description="Share of records with a value.")
    validity: float | None = Field(
        description="Share of the values present that pass the field's own checks."
    )
    default_code_use: float | None = Field(
        description="Share of the values present that are default codes ('not known', ...)."
    )


class Finding(Model):
    name_fields = frozenset({"file", "header"})
    # The spec's own words, never a file's: a fix hint may quote the spec's example NHS number.
    unguarded_fields = frozenset({"message", "fix", "example"})

    rule_id: str
    severity: Severity
    table: str
    file: str
    row: int | None = Field(
        description="The number the user sees the record under: its CSV line (the header is "
        "line 1) or its Excel row. None for a finding about the file or a group."
    )
    column: str | None = Field(description="The column letter, as Excel shows it.")
    header: str | None = Field(description="The column's header as found in the file.")
    field: str | None = Field(description="The spec field.")
    group: list[str] | None = Field(None, description="For a cross-table finding: the group.")
    value: str | None = Field(
        None,
        description="The value found, for coded fields that identify no one (else absent); for "
        "a cross-table finding, the counts compared.",
    )
    message: str
    fix: str
    example: str | None = Field(description="A valid value or record, from the spec.")


class Report(Model):
    schema_version: str = REPORT_SCHEMA_VERSION
    tool: str = f"mhdeaths {__version__}"
    spec_version: str
    spec_version_declared: str | None = Field(description="The version the file declares.")
    provider: str | None
    reporting_period: str | None
    profile: str | None = Field(description="The provider profile applied, if any.")
    verdict: Verdict
    strict: bool
    counts: dict[Severity, int] = Field(description="Findings per severity (effective).")
    files: list[FileInfo]
    tables: list[TableInfo]
    rules: list[RuleSummary] = Field(description="Every rule that failed, most severe first.")
    rules_checked: int
    fields: list[FieldQuality]
    findings: list[Finding]
    truncated: bool = Field(description="True when some rule's findings were cut to a sample.")
    sample_limit: int = Field(description="The most findings listed for any one rule.")
    notes: list[str] = []

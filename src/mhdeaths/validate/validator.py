"""Validate a provider's submission: every finding by file, row, column and rule, offline.

This is the validator's public entry point. Validation is two steps: the read step
(``read_submission``, in ``intake``) reads the files, maps the provider's own headers and codes
and picks the spec version the file declares; the check step (``check_submission``) evaluates
every rule of that version (``evaluation``) and assembles the ``Report``. ``validate`` is the two
in turn. Only when nothing is rejected does the check step also return a ``ValidatedSubmission``:
the one object the warehouse accepts, so unvalidated data cannot reach it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mhdeaths import guard
from mhdeaths.engines import polars_engine as engine
from mhdeaths.errors import SpecError
from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.periods import period_start
from mhdeaths.spec import Scope, Severity, Spec
from mhdeaths.spec.words import example_in_words
from mhdeaths.steps import step
from mhdeaths.validate.evaluation import Evaluation, FieldMeasures, RuleOutcome, evaluate
from mhdeaths.validate.intake import (
    ReadSubmission,
    TablePart,
    field_of,
    first_value,
    read_submission,
)
from mhdeaths.validate.profiles import Profile, profile_for
from mhdeaths.validate.reading import SourceFile, column_letter
from mhdeaths.validate.report import (
    FieldQuality,
    FileInfo,
    Finding,
    Report,
    RuleSummary,
    TableInfo,
    Verdict,
)

DEFAULT_SAMPLE = 100
"""The most findings listed per rule; every failure is still counted."""

_ORDER = {Severity.FILE_REJECT: 0, Severity.RECORD_REJECT: 1, Severity.WARNING: 2, Severity.INFO: 3}


class ValidatedSubmission:
    """A submission that passed validation: the only thing the warehouse will load.

    Built only by ``check_submission``; its tables hold the typed values and the derived fields.
    """

    def __init__(
        self,
        token: object,
        spec: Spec,
        report: Report,
        tables: dict[str, pl.DataFrame],
        source_rows: dict[str, pl.Series],
        provider: str | None = None,
        reporting_period: str | None = None,
    ):
        if token is not _TOKEN:
            raise TypeError(
                "A ValidatedSubmission is made only by mhdeaths.validate.validator.check_submission."
            )
        self.spec = spec
        self.report = report
        self.tables = tables
        self.source_rows = source_rows
        """Per table, the row each record came from as the user sees it (CSV line, Excel row)."""
        # As submitted (the report holds them as the guard shows them): the spec's rules have
        # checked them, and the warehouse records the submission under them.
        self.provider = provider
        self.reporting_period = reporting_period


_TOKEN = object()


@dataclass(frozen=True)
class ValidationResult:
    report: Report
    submission: ValidatedSubmission | None = field(default=None)

    @property
    def accepted(self) -> bool:
        return self.report.verdict is not Verdict.REJECTED


def validate(
    paths: Sequence[Path],
    *,
    spec_version: str | None = None,
    profile: Profile | None = None,
    provider: str | None = None,
    spec_root: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    strict: bool = False,
    sample: int = DEFAULT_SAMPLE,
    limits: Limits = DEFAULT_LIMITS,
) -> ValidationResult:
    """Validate the files of one submission (one file per table, or one workbook of both): the
    read step then the check step. ``limits`` bound what each file may take to read (see
    ``mhdeaths.limits``)."""
    with step(f"Read {len(paths)} file(s)"):
        read = read_submission(
            paths,
            spec_version=spec_version,
            profile=profile,
            provider=provider,
            spec_root=spec_root,
            encoding=encoding,
            delimiter=delimiter,
            limits=limits,
        )
    return check_submission(read, strict=strict, sample=sample)


def check_submission(
    read: ReadSubmission, *, strict: bool = False, sample: int = DEFAULT_SAMPLE
) -> ValidationResult:
    """The check step: evaluate every rule of the spec version on what the read step found, and
    make the report; and, only when nothing is rejected, the ``ValidatedSubmission``."""
    spec, parts = read.spec, list(read.parts)
    # A national feed's file spans many providers and months: it has no one provider or period.
    period_text = None if spec.is_feed else first_value(parts, "reporting_period")
    try:
        period = period_start(period_text) if period_text else None
    except SpecError:
        period = None  # The pattern check reports it; codes are then checked against every code.
    rows = ", ".join(f"{p.table} {p.text.height:,} records" for p in parts) or "no table"
    with step(f"Checked {len(spec.rules)} rules of spec {spec.version} on {rows}"):
        evaluation = evaluate(
            spec,
            read.texts,
            period,
            {p.table: p.columns for p in parts},
            sample=sample,
        )
    severities = _effective_severities(spec, read.profile, period)
    report = _report(
        spec,
        list(read.sources),
        parts,
        evaluation,
        severities,
        read.profile,
        strict,
        sample,
        read.declared,
        period_text,
        read.profile_set_aside,
    )
    if report.verdict is Verdict.REJECTED or (strict and report.counts.get(Severity.WARNING)):
        return ValidationResult(report)
    submission = ValidatedSubmission(
        _TOKEN,
        spec,
        report,
        evaluation.typed,
        read.rows,
        None if spec.is_feed else first_value(parts, "org_id_provider"),
        period_text,
    )
    return ValidationResult(report, submission)


# --- Severities and the report ------------------------------------------------------------------


def _effective_severities(
    spec: Spec, profile: Profile | None, period: dt.date | None
) -> dict[str, Severity]:
    """Each rule's severity after the profile's time-boxed derogations."""
    severities = {r.id: r.severity for r in spec.rules}
    if profile is None:
        return severities
    on = period or dt.date.today()
    for derogation in profile.derogations:
        if derogation.rule in severities and derogation.active(on):
            severities[derogation.rule] = derogation.severity
    return severities


def _report(
    spec: Spec,
    sources: list[SourceFile],
    parts: list[TablePart],
    evaluation: Evaluation,
    severities: dict[str, Severity],
    profile: Profile | None,
    strict: bool,
    sample: int,
    declared: str | None,
    period_text: str | None,
    set_aside: str | None = None,
) -> Report:
    by_table = {p.table: p for p in parts}
    # A missing column is one structure finding; every record being "empty" there is its echo.
    failed = [
        o
        for o in evaluation.outcomes
        if o.failed
        and not (
            o.rule.generated_from in {"mandatory", "required"}
            and o.rule.table in by_table
            and o.rule.fields[0] not in by_table[o.rule.table].field_headers
        )
    ]
    failed.sort(key=lambda o: (_ORDER[severities[o.rule.id]], o.rule.table, o.rule.id))
    findings: list[Finding] = []
    summaries: list[RuleSummary] = []
    for outcome in failed:
        rule = outcome.rule
        severity = severities[rule.id]
        shown = _findings(spec, outcome, severity, by_table)
        findings += shown
        derogation = None
        if profile is not None and severity is not rule.severity:
            d = next(d for d in profile.derogations if d.rule == rule.id)
            derogation = f"{d.reason.strip()} (until {d.until.isoformat()})"
        summaries.append(
            RuleSummary(
                rule_id=rule.id,
                severity=severity,
                spec_severity=rule.severity,
                table=rule.table,
                title=rule.title,
                failed=outcome.failed,
                shown=len(shown),
                truncated=outcome.failed > len(shown),
                derogation=derogation,
            )
        )
    counts = {s: 0 for s in Severity}
    for summary in summaries:
        counts[summary.severity] += summary.failed
    if counts[Severity.FILE_REJECT] or counts[Severity.RECORD_REJECT]:
        verdict = Verdict.REJECTED
    elif counts[Severity.WARNING]:
        verdict = Verdict.REJECTED if strict else Verdict.ACCEPTED_WITH_WARNINGS
    else:
        verdict = Verdict.ACCEPTED
    notes = []
    if any(s.truncated for s in summaries):
        notes.append(
            f"Some rules failed on more records than are listed: each rule lists at most {sample} "
            "findings, and its count is always complete."
        )
    provider = None if spec.is_feed else _shown_field(spec, parts, "org_id_provider")
    period_shown = guard.value(period_text, field_of(spec, parts[0].table, "reporting_period"))
    if profile is not None and provider is not None and provider != profile.provider:
        notes.append(
            f"The profile of {profile.provider} was applied, but the records are from {provider}."
        )
    if profile is None and _unknown_headers(parts):
        prefix = sources[0].path.name.split("_")[0].upper()
        if profile_for(prefix) is not None:
            notes.append(
                f"Many columns are not fields of the spec, and a profile exists for {prefix}: "
                f"try --provider {prefix}."
            )
    if set_aside:
        notes.append(set_aside)
    if evaluation.unchecked:
        fields = sorted({f for needs in evaluation.unchecked.values() for f in needs})
        notes.append(
            f"{len(evaluation.unchecked)} rule(s) were not checked: they read mandatory fields "
            f"with no column in the file ({', '.join(fields)}), which are reported once each."
        )
    for part in parts:
        if part.sheet.blank_rows:
            notes.append(
                f"{guard.name(part.source.path.name)}: {part.sheet.blank_rows} blank row(s) "
                "were skipped."
            )
    return Report(
        spec_version=spec.version,
        spec_version_declared=declared,
        provider=provider,
        reporting_period=period_shown,
        profile=profile.provider if profile else None,
        verdict=verdict,
        strict=strict,
        counts=counts,
        files=[
            FileInfo(
                name=s.path.name,
                format=s.format,
                sha256=s.sha256,
                size=s.size,
                encoding=s.encoding,
                delimiter=s.delimiter,
                tables=[p.table for p in parts if p.source is s],
            )
            for s in sources
        ],
        tables=[
            TableInfo(
                name=p.table,
                file=p.source.path.name,
                sheet=p.sheet.name,
                records=p.text.height,
                blank_rows=p.sheet.blank_rows,
                columns=len(p.sheet.headers),
            )
            for p in parts
        ],
        rules=summaries,
        rules_checked=sum(
            1 for r in spec.rules if r.table in by_table and r.id not in evaluation.unchecked
        ),
        fields=[_quality(spec, m) for m in evaluation.measures],
        findings=findings,
        truncated=any(s.truncated for s in summaries),
        sample_limit=sample,
        notes=notes,
    )


def _unknown_headers(parts: list[TablePart]) -> bool:
    """True when most of a table's columns are not fields of the spec."""
    return any(
        len(p.sheet.headers) > 2 * max(len(p.field_headers), 1) for p in parts if p.sheet.headers
    )


def _findings(
    spec: Spec, outcome: RuleOutcome, severity: Severity, parts: dict[str, TablePart]
) -> list[Finding]:
    rule = outcome.rule
    part = parts.get(rule.table)
    if part is None and rule.scope is Scope.CROSS_TABLE:
        # The rule's own table is an optional one left out: the finding is about the records
        # of a table that was sent.
        part = next((parts[t] for t in sorted(engine.tables_read(rule)) if t in parts), None)
    if part is None:
        return []
    base = {
        "rule_id": rule.id,
        "severity": severity,
        "table": rule.table,
        "file": part.source.path.name,
        "message": rule.message,
        "fix": rule.fix,
    }
    first_column = part.sheet.first_column

    def letter(position: int) -> str:
        # The sheet's own letter: a workbook's table may start right of column A.
        return column_letter(position + first_column)

    if rule.scope is Scope.STRUCTURE:
        out = []
        for row in outcome.rows:
            record = part.columns.row(row, named=True)
            name = record["field_name"]
            header = record["column_name"]
            # The column table lists the file's columns first, in order: its row is the position.
            position = row if record["present"] == "true" else None
            out.append(
                Finding(
                    **base,
                    row=part.sheet.header_row if header is not None else None,
                    column=None if position is None else letter(position),
                    header=header,
                    field=name,
                    example=name,
                )
            )
        return out
    if rule.scope is Scope.CROSS_TABLE:
        return [
            Finding(
                **base,
                row=None,
                column=None,
                header=None,
                field=rule.fields[0] if rule.fields else None,
                group=[
                    guard.value(v, field_of(spec, rule.table, f), spec) or ""
                    for v, f in zip(g, rule.group_by or [], strict=False)
                ],
                value=detail,
                example=example_in_words(rule),
            )
            for g, detail in zip(outcome.groups, outcome.details, strict=True)
        ]
    name = rule.fields[0] if rule.fields else None
    position, header = part.field_headers.get(name, (None, None)) if name else (None, None)
    if rule.scope is Scope.TABLE:
        return [
            Finding(
                **base,
                row=None,
                column=None if position is None else letter(position),
                header=header,
                field=name,
                example=example_in_words(rule),
            )
        ]
    table = spec.table(rule.table)
    shown_field = table.field(name) if name and name in table.field_names else None
    show_value = shown_field is not None and guard.is_code(shown_field)
    values = part.text.get_column(name) if show_value and name else None
    row_numbers = part.sheet.row_numbers
    return [
        Finding(
            **base,
            row=int(row_numbers[row]),
            column=None if position is None else letter(position),
            header=header,
            field=name,
            value=None if values is None else guard.value(values[row], shown_field, spec),
            example=example_in_words(rule),
        )
        for row in outcome.rows
    ]


def _shown_field(spec: Spec, parts: list[TablePart], name: str) -> str | None:
    """The value most records hold in a field, as the report may show it (see ``guard.value``)."""
    return guard.value(first_value(parts, name), field_of(spec, parts[0].table, name), spec)


def _quality(spec: Spec, m: FieldMeasures) -> FieldQuality:
    f = spec.table(m.table).field(m.field)

    def share(part: int, whole: int) -> float | None:
        return round(100.0 * part / whole, 2) if whole else None

    return FieldQuality(
        table=m.table,
        field=m.field,
        title=f.title,
        mandation=f.mandation.value,
        coverage=100.0 if m.present else 0.0,
        completeness=share(m.filled, m.records) or 0.0,
        validity=share(m.valid, m.filled),
        default_code_use=share(m.defaults, m.filled) if f.code_list else None,
    )


__all__ = [
    "DEFAULT_SAMPLE",
    "ReadSubmission",
    "ValidatedSubmission",
    "ValidationResult",
    "check_submission",
    "read_submission",
    "validate",
]

"""Validate a provider's submission: every finding by file, row, column and rule, offline.

This is the validator's public entry point. ``validate`` reads the files (``reading``), maps the
provider's own headers and codes (``profile``), picks the spec version the file declares, evaluates
every rule of that version (``validation``) and assembles the ``Report``. Only when nothing is
rejected does it also return a ``ValidatedSubmission``: the one object the warehouse accepts, so
unvalidated data cannot reach it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from mhdeaths import guard
from mhdeaths.errors import SpecError, UserError
from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.periods import period_start
from mhdeaths.spec import (
    FieldType,
    Rule,
    Scope,
    Severity,
    Spec,
    SpecField,
    Table,
    available_versions,
    load_spec,
)
from mhdeaths.validate.evaluation import Evaluation, FieldMeasures, RuleOutcome, evaluate
from mhdeaths.validate.profiles import Profile, ProfileError, apply_profile, profile_for
from mhdeaths.validate.reading import (
    Sheet,
    SourceFile,
    SubmissionFileError,
    column_letter,
    read_file,
)
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

_REJECTS = (Severity.FILE_REJECT, Severity.RECORD_REJECT)
_ORDER = {Severity.FILE_REJECT: 0, Severity.RECORD_REJECT: 1, Severity.WARNING: 2, Severity.INFO: 3}


@dataclass(frozen=True)
class TablePart:
    """One table of the submission as found: where it came from and its text under field names."""

    table: str
    source: SourceFile
    sheet: Sheet
    text: pl.DataFrame
    """One column per submitted field of the spec version (absent ones empty)."""
    field_headers: dict[str, tuple[int, str]]
    """Field name -> (0-based column position, header as found)."""
    columns: pl.DataFrame
    """The column table the structure rules read."""


class ValidatedSubmission:
    """A submission that passed validation: the only thing the warehouse will load.

    Built only by ``validate``; its tables hold the typed values and the derived fields.
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
                "A ValidatedSubmission is made only by mhdeaths.validate.validator.validate."
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
    on_read: Callable[[Spec, Mapping[str, pl.DataFrame], Mapping[str, pl.Series]], None]
    | None = None,
) -> ValidationResult:
    """Validate the files of one submission (one file per table, or one workbook of both).

    ``on_read`` is given the spec version, each table's text (under field names) and each
    record's row in its file as soon as they are known, before the rules run: the loader starts
    its own work on them there, to overlap with the validation. ``limits`` bound what each file
    may take to read (see ``mhdeaths.limits``).
    """
    if not paths:
        raise UserError("Name at least one file to validate.")
    if profile is None and provider is not None:
        profile = profile_for(provider)
        if profile is None:
            raise ProfileError(f"There is no profile for provider {provider} in validators/.")
    sources = [
        read_file(
            p,
            encoding or (profile.encoding if profile else None),
            delimiter or (profile.delimiter if profile else None),
            limits,
        )
        for p in paths
    ]
    # With --spec the file's own declaration is still reported, but need not be a known version.
    declared = _declared_version(sources, profile, spec_root, check=spec_version is None)
    version = spec_version or declared
    spec = load_spec(version or (profile.spec_version if profile else None), spec_root)
    parts = _table_parts(spec, sources, profile)
    texts = {p.table: p.text for p in parts}
    rows = {p.table: p.sheet.row_numbers for p in parts}
    if on_read is not None:
        on_read(spec, texts, rows)
    period_text = _first(parts, "reporting_period")
    try:
        period = period_start(period_text) if period_text else None
    except SpecError:
        period = None  # The pattern check reports it; codes are then checked against every code.
    evaluation = evaluate(
        spec,
        texts,
        period,
        {p.table: p.columns for p in parts},
        sample=sample,
    )
    severities = _effective_severities(spec, profile, period)
    shown_version = _version_shown(declared, available_versions(spec_root), spec_root)
    report = _report(
        spec,
        sources,
        parts,
        evaluation,
        severities,
        profile,
        strict,
        sample,
        shown_version,
        period_text,
    )
    if report.verdict is Verdict.REJECTED or (strict and report.counts.get(Severity.WARNING)):
        return ValidationResult(report)
    submission = ValidatedSubmission(
        _TOKEN,
        spec,
        report,
        evaluation.typed,
        rows,
        _first(parts, "org_id_provider"),
        period_text,
    )
    return ValidationResult(report, submission)


# --- Reading the tables -------------------------------------------------------------------------


def _declared_version(
    sources: list[SourceFile], profile: Profile | None, spec_root: Path | None, check: bool = True
) -> str | None:
    """The spec version the file declares in its spec_version column (None if it does not)."""
    aliases = {"spec_version"}
    if profile:
        aliases |= {
            h
            for mapping in profile.headers.values()
            for h, f in mapping.items()
            if f == "spec_version"
        }
    counts: Counter[str] = Counter()
    for source in sources:
        for sheet in source.sheets:
            for column in sheet.frame.columns:
                if column in aliases:
                    values = sheet.frame.get_column(column).drop_nulls()
                    for value, n in values.value_counts().iter_rows():
                        counts[str(value)] += int(n)
    if not counts:
        return None
    # The version most records declare (ties: the lowest), whatever their order; a file mixing
    # versions is rejected by the spec's own file rule.
    declared = min(counts, key=lambda v: (-counts[v], v))
    known = available_versions(spec_root)
    if check and declared not in known:
        raise SubmissionFileError(
            f"The file declares spec version {_version_shown(declared, known, spec_root)}, "
            f"which is not one of {', '.join(known)}; correct it, or choose a version with --spec."
        )
    return declared


def _version_shown(declared: str | None, known: list[str], spec_root: Path | None) -> str | None:
    """A declared version as a report may show it: a known version as it is; anything else only
    if it is shaped as the spec's versions are and reads as no identifier."""
    if declared is None or declared in known:
        return declared
    spec = load_spec(known[-1] if known else None, spec_root)
    field = _field_of(spec, "", "spec_version")
    shown = guard.WITHHELD
    pattern = field.pattern if field else None
    if pattern and re.fullmatch(pattern, declared) and len(declared) <= 12:
        shown = declared if not guard.looks_identifying(declared) else guard.WITHHELD
    return shown


def _table_parts(spec: Spec, sources: list[SourceFile], profile: Profile | None) -> list[TablePart]:
    parts: list[TablePart] = []
    for source in sources:
        for sheet in source.sheets:
            table = _which_table(spec, source, sheet, profile, several=len(source.sheets) > 1)
            if table is None:
                continue
            if any(p.table == table.name for p in parts):
                raise UserError(
                    f"The submission has more than one {table.name} table; validate one file per "
                    "table (or one workbook with a sheet per table)."
                )
            parts.append(_part(spec, table, source, sheet, profile))
    if not parts:
        names = ", ".join(guard.name(s.path.name) for s in sources)
        raise SubmissionFileError(
            f"No death or activity table was found in {names}: name the sheets or files after the "
            "table, or use the spec's field names as headers."
        )
    return parts


def _which_table(
    spec: Spec, source: SourceFile, sheet: Sheet, profile: Profile | None, several: bool
) -> Table | None:
    """The spec table a sheet holds: by sheet name, by file name, or by the headers it has."""
    names = {t.name for t in spec.tables}
    if sheet.name and sheet.name.strip().lower() in names:
        return spec.table(sheet.name.strip().lower())
    if several:
        return None  # Other sheets of a workbook (a README, code lists) are not tables.
    stem = source.path.stem.lower()
    for name in names:
        if stem == name or stem.endswith(f"_{name}") or stem.endswith(f"-{name}"):
            return spec.table(name)
    best, score = None, 0
    for table in spec.tables:
        aliases = profile.headers.get(table.name, {}) if profile else {}
        fields = {f.name for f in table.submitted_fields}
        hits = sum(1 for h in sheet.headers if aliases.get(h, h) in fields)
        # Fields only this table has decide between tables that share some (provider, period).
        if hits > score:
            best, score = table, hits
    return best if score >= 3 else None


def _part(
    spec: Spec, table: Table, source: SourceFile, sheet: Sheet, profile: Profile | None
) -> TablePart:
    aliases = profile.headers.get(table.name, {}) if profile else {}
    submitted = {f.name: f for f in table.submitted_fields}
    counts = Counter(aliases.get(h, h) for h in sheet.headers)
    field_headers: dict[str, tuple[int, str]] = {}
    column_rows = []
    for position, header in enumerate(sheet.headers):
        name = aliases.get(header, header)
        known = name in submitted
        if known and name not in field_headers:
            field_headers[name] = (position, header)
        column_rows.append(
            {
                "column_name": header,
                "field_name": name if known else None,
                "mandation": submitted[name].mandation.value if known else None,
                "present": "true",
                "occurrences": str(counts[name]),
                "known": "true" if known else "false",
            }
        )
    for name, f in submitted.items():
        # A file with no header at all is empty: "not empty" names that, not each missing column.
        if name not in field_headers and sheet.headers:
            column_rows.append(
                {
                    "column_name": None,
                    "field_name": name,
                    "mandation": f.mandation.value,
                    "present": "false",
                    "occurrences": "0",
                    "known": "true",
                }
            )
    columns = pl.DataFrame(
        column_rows,
        schema=dict.fromkeys(
            ["column_name", "field_name", "mandation", "present", "occurrences", "known"], pl.String
        ),
    )
    frame = sheet.frame
    # The first column carrying a field's header is the field; a repeated one is reported.
    picked = {
        name: pl.col(frame.columns[pos]).alias(name) for name, (pos, _) in field_headers.items()
    }
    # A field without a column is empty on every record (the row index keeps the height even
    # when no column at all is a field of the spec).
    text = frame.select(
        pl.int_range(pl.len()).alias("__row"),
        *[
            picked.get(f.name, pl.lit(None, dtype=pl.String).alias(f.name))
            for f in table.submitted_fields
        ],
    ).drop("__row")
    text = _normalise_excel_dates(table, text) if source.format in {"xlsx", "xls"} else text
    if profile is not None:
        text = apply_profile(profile, spec, table.name, text)
    return TablePart(table.name, source, sheet, text, field_headers, columns)


def _normalise_excel_dates(table: Table, text: pl.DataFrame) -> pl.DataFrame:
    """A typed Excel date comes back as 'CCYY-MM-DD 00:00:00'; keep its date."""
    dates = [f.name for f in table.submitted_fields if f.type is FieldType.DATE]
    return text.with_columns(
        pl.col(d).str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(\.0+)?$", "$1") for d in dates
    )


def _first(parts: list[TablePart], name: str) -> str | None:
    """The value of a field that the submission's records hold most often (ties: the lowest).

    Whatever order the records come in, the same value is chosen (a file mixing periods or
    providers is rejected by the spec's file rules anyway).
    """
    counts: Counter[str] = Counter()
    for part in parts:
        values = part.text.get_column(name).drop_nulls()
        if values.len():
            for value, n in values.value_counts().iter_rows():
                counts[str(value)] += int(n)
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


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
    provider = _shown_field(spec, parts, "org_id_provider")
    period_shown = guard.value(period_text, _field_of(spec, parts[0].table, "reporting_period"))
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
        rules_checked=sum(1 for r in spec.rules if r.table in by_table),
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
                    row=1 if header is not None else None,
                    column=column_letter(position) if position is not None else None,
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
                    guard.value(v, _field_of(spec, rule.table, f), spec) or ""
                    for v, f in zip(g, rule.group_by or [], strict=False)
                ],
                value=detail,
                example=_example(rule),
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
                column=None if position is None else column_letter(position),
                header=header,
                field=name,
                example=_example(rule),
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
            column=None if position is None else column_letter(position),
            header=header,
            field=name,
            value=None if values is None else guard.value(values[row], shown_field, spec),
            example=_example(rule),
        )
        for row in outcome.rows
    ]


def _field_of(spec: Spec, table: str, name: str) -> SpecField | None:
    """The field of that name in the table, else in any table (a cross-table group's fields)."""
    tables = sorted(spec.tables, key=lambda t: t.name != table)
    return next((t.field(name) for t in tables if name in t.field_names), None)


def _shown_field(spec: Spec, parts: list[TablePart], name: str) -> str | None:
    """The value most records hold in a field, as the report may show it (see ``guard.value``)."""
    return guard.value(_first(parts, name), _field_of(spec, parts[0].table, name), spec)


def _example(rule: Rule) -> str | None:
    """The rule's valid example, as a short text (its first record's values)."""
    records = rule.example
    if isinstance(records, dict):
        return json.dumps({k: list(v) for k, v in records.items()})
    if not records:
        return None
    first = {k: v for k, v in records[0].items() if v is not None}
    if rule.generated_from and len(first) == 1:
        return next(iter(first.values()))
    return ", ".join(f"{k} = {v}" for k, v in first.items())


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


__all__ = ["DEFAULT_SAMPLE", "ValidatedSubmission", "ValidationResult", "validate"]

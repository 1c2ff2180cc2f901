"""Load submissions into the warehouse: only validated ones, each in one transaction, with history.

The loader validates every submission itself and refuses a rejected one (writing its report for
the provider to read). An accepted submission goes in whole or not at all: its registry row, its
files, every record as submitted, in the canonical model, with pseudonyms in place of NHS numbers
and the agreed definitions derived by DuckDB from the spec's own expressions. The same content
loaded twice changes nothing; a later submission for the same provider and period supersedes the
earlier one, which stays queryable as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from mhdeaths import __version__
from mhdeaths.errors import WarehouseError
from mhdeaths.profile import Profile, profile_for
from mhdeaths.pseudonym import PseudonymKey, pseudonymise
from mhdeaths.report import Report, Verdict
from mhdeaths.report_render import write_reports
from mhdeaths.spec import FieldType, Severity, Spec
from mhdeaths.sqlengine import derive_sql, ident, register_frame
from mhdeaths.submission_files import SubmissionFiles, group_submission_files
from mhdeaths.validate import ValidatedSubmission, validate
from mhdeaths.warehouse.canonical import (
    CanonicalModel,
    canonical_spec,
    dropped_fields,
    load_canonical,
    staged_frame,
)
from mhdeaths.warehouse.schema import upgrade
from mhdeaths.warehouse.store import connect

Status = Literal["loaded", "unchanged", "rejected"]


@dataclass(frozen=True)
class LoadOutcome:
    """What became of one submission."""

    label: str
    status: Status
    report: Report
    """The validation report (for a rejected submission, also written to ``reports``)."""
    submission_id: int | None = None
    """The new submission's id, or (unchanged) the id of the identical one already loaded."""
    supersedes: int | None = None
    """The submission this one replaced as current for its provider and period."""
    current: bool = True
    """False when a later submission for the same provider and period was already loaded."""
    death_rows: int = 0
    activity_rows: int = 0
    reports: tuple[Path, ...] = ()
    """For a rejected submission: its validation report, to read and fix."""

    @property
    def provider(self) -> str | None:
        return self.report.provider

    @property
    def reporting_period(self) -> str | None:
        return self.report.reporting_period

    @property
    def spec_version(self) -> str:
        return self.report.spec_version

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict


def content_sha256(report: Report) -> str:
    """The submission's identity: a hash of its files' hashes, whatever they are named."""
    digests = sorted(f.sha256 for f in report.files)
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()


def load(
    warehouse: Path,
    paths: Sequence[Path],
    *,
    key: PseudonymKey,
    received_at: dt.datetime | None = None,
    profile: Profile | None = None,
    provider: str | None = None,
    spec_root: Path | None = None,
    reports_dir: Path | None = None,
    progress: Callable[[LoadOutcome], None] | None = None,
) -> list[LoadOutcome]:
    """Validate and load every submission among the files; a rejected one is reported, not loaded.

    The warehouse is opened (and upgraded) first, so a busy warehouse fails before any work.
    """
    groups = group_submission_files(paths)
    model = load_canonical()
    canonical = canonical_spec(model, spec_root)
    reports_dir = reports_dir or warehouse.parent / "reports"
    outcomes = []
    with connect(warehouse) as con:
        upgrade(con, spec_root)
        _check_key(con, key)
        # A large insert is otherwise compressed and written to the file as it goes, then its
        # blocks taken over at commit: for a million records that costs 1.5 s of CPU more than
        # keeping the records in memory and writing them once at the commit (still atomic).
        con.execute("SET enable_optimistic_write = false")
        for group in groups:
            outcome = _load_one(
                con,
                group,
                model,
                canonical,
                key,
                received_at or _now(),
                profile,
                provider,
                spec_root,
                reports_dir,
            )
            outcomes.append(outcome)
            if progress:
                progress(outcome)
    return outcomes


def _now() -> dt.datetime:
    """UTC, without a zone: the registry's timestamps are all UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _check_key(con: duckdb.DuckDBPyConnection, key: PseudonymKey) -> None:
    """Pseudonyms made under two keys never match, so one warehouse holds one key's."""
    row = con.execute("SELECT key_fingerprint FROM submission LIMIT 1").fetchone()
    if row and row[0] != key.fingerprint:
        raise WarehouseError(
            f"This warehouse's pseudonyms were made with the key whose fingerprint is {row[0]}, "
            f"not with this key ({key.fingerprint}); pseudonyms under two keys would never link."
        )


def _load_one(
    con: duckdb.DuckDBPyConnection,
    group: SubmissionFiles,
    model: CanonicalModel,
    canonical: Spec,
    key: PseudonymKey,
    received: dt.datetime,
    profile: Profile | None,
    provider: str | None,
    spec_root: Path | None,
    reports_dir: Path,
) -> LoadOutcome:
    if profile is None and provider is None and group.provider:
        profile = profile_for(group.provider)
    early = _EarlyPseudonyms(model, key)
    result = validate(
        list(group.paths),
        profile=profile,
        provider=provider,
        spec_root=spec_root,
        on_read=early.start,
    )
    report = result.report
    base = LoadOutcome(label=group.label, status="rejected", report=report)
    if result.submission is None:
        stem = "_".join(
            filter(None, [report.provider, report.reporting_period, content_sha256(report)[:8]])
        )
        written = write_reports(report, reports_dir, stem, ["html", "json"])
        return replace(base, reports=tuple(written))
    return _store(con, result.submission, model, canonical, key, received, base, early)


EARLY_PSEUDONYMS = 20_000
"""Records from which a table's pseudonyms are made on a thread while it is validated."""


class _EarlyPseudonyms:
    """Pseudonyms made on a thread while the submission is still being validated.

    Hashing is a Python loop (about a second for a million NHS numbers), while the validation
    spends most of its time in polars with the GIL released and, on two cores, leaves one of them
    idle much of the time. An NHS number is a string, so the text the validator types it from is
    the value it keeps: the pseudonyms are those of the validated numbers. A rejected submission's
    pseudonyms are made for nothing, and never kept.
    """

    def __init__(self, model: CanonicalModel, key: PseudonymKey) -> None:
        self.model = model
        self.key = key
        self.running: dict[str, dict[str, _Background]] = {}

    def start(self, spec: Spec, texts: Mapping[str, pl.DataFrame]) -> None:
        mapping = self.model.versions.get(spec.version)
        if mapping is None:
            return  # The loader refuses the version later, with its own message.
        for table, text in texts.items():
            if text.height < EARLY_PSEUDONYMS:
                continue  # Not worth a thread.
            own = {canonical: name for name, canonical in mapping.renamed.get(table, {}).items()}
            for field, treatment in self.model.identifiers.get(table, {}).items():
                name = own.get(field, field)
                if (
                    treatment.treatment == "pseudonym"
                    and name in text.columns
                    and spec.table(table).field(name).type in {FieldType.STRING, FieldType.CODE}
                ):
                    call = partial(pseudonymise, self.key, text.get_column(name))
                    self.running.setdefault(table, {})[field] = _Background(call)

    def made(self, table: str) -> dict[str, pl.Series]:
        return {field: job.result() for field, job in self.running.get(table, {}).items()}


class _Background:
    """One call run on a daemon thread (a rejected submission's need not be waited for)."""

    def __init__(self, call: Callable[[], pl.Series]) -> None:
        self.call = call
        self.value: pl.Series | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            self.value = self.call()
        except BaseException as exc:  # Raised again where the result is wanted.
            self.error = exc

    def result(self) -> pl.Series:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


def _store(
    con: duckdb.DuckDBPyConnection,
    submission: ValidatedSubmission,
    model: CanonicalModel,
    canonical: Spec,
    key: PseudonymKey,
    received: dt.datetime,
    base: LoadOutcome,
    early: _EarlyPseudonyms,
) -> LoadOutcome:
    report = submission.report
    digest = content_sha256(report)
    frames = {
        table: staged_frame(model, canonical, submission, table, key, early.made(table))
        for table in submission.tables
    }
    con.execute("BEGIN TRANSACTION")
    try:
        same = con.execute(
            "SELECT submission_id FROM submission WHERE content_sha256 = ?", [digest]
        ).fetchone()
        if same:
            con.execute("ROLLBACK")
            return replace(base, status="unchanged", submission_id=same[0])
        row = con.execute("SELECT coalesce(max(submission_id), 0) + 1 FROM submission").fetchone()
        submission_id = int(row[0]) if row else 1
        before = con.execute(
            "SELECT submission_id, received_at FROM submissions "
            "WHERE provider = ? AND reporting_period = ? AND status = 'current'",
            [report.provider, report.reporting_period],
        ).fetchone()
        counts = {t: frames[t].height if t in frames else 0 for t in ("death", "activity")}
        con.execute(
            "INSERT INTO submission VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                submission_id,
                report.provider,
                report.reporting_period,
                report.spec_version,
                digest,
                received,
                _now(),
                counts["death"],
                counts["activity"],
                report.verdict.value,
                report.counts.get(Severity.WARNING, 0),
                report.profile,
                json.dumps(_summary(report)),
                key.fingerprint,
                model.canonical_version,
                __version__,
            ],
        )
        for f in report.files:
            con.execute(
                "INSERT INTO submission_file VALUES (?, ?, ?, ?, ?, ?)",
                [submission_id, f.name, f.format, f.sha256, f.size, list(f.tables)],
            )
        for table, frame in frames.items():
            _insert_records(con, model, canonical, table, frame, submission_id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    supersedes, current = None, True
    if before is not None:
        if before[1] <= received:
            supersedes = int(before[0])
        else:
            current = False
    return replace(
        base,
        status="loaded",
        submission_id=submission_id,
        supersedes=supersedes,
        current=current,
        death_rows=counts["death"],
        activity_rows=counts["activity"],
    )


def _insert_records(
    con: duckdb.DuckDBPyConnection,
    model: CanonicalModel,
    canonical: Spec,
    table: str,
    frame: pl.DataFrame,
    submission_id: int,
) -> None:
    """Insert one table's records: DuckDB derives the agreed definitions from the spec's own
    expressions, then the dropped identifiers are left behind, never written."""
    staged = f"staged_{table}"
    register_frame(con, staged, frame)
    try:
        derived = derive_sql(canonical, table, ident(staged))
        dropped = dropped_fields(model, table)
        exclude = f" EXCLUDE ({', '.join(ident(d) for d in dropped)})" if dropped else ""
        con.execute(
            f"INSERT INTO {ident(table + '_record')} BY NAME "
            f"SELECT {submission_id} AS submission_id, *{exclude} FROM ({derived}) AS d"
        )
    finally:
        con.unregister(staged)


def _summary(report: Report) -> dict[str, object]:
    """What the registry keeps of the validation: counts per rule and measures per field (the
    report's sampled findings are left out: they name rows of the file, not values, but the
    registry needs only the totals)."""
    return {
        "verdict": report.verdict.value,
        "counts": {s.value: n for s, n in report.counts.items()},
        "rules": [
            {"id": r.rule_id, "severity": r.severity.value, "failed": r.failed}
            for r in report.rules
        ],
        "fields": [f.model_dump(mode="json") for f in report.fields],
        "spec_version_declared": report.spec_version_declared,
    }

"""Load submissions into the warehouse: only validated ones, each in one transaction, with history.

The loader validates every submission itself and refuses a rejected one, returning its report
(the caller writes it where its provider will read it: see ``mhdeaths.jobs.load_reports``). It
writes nothing but the warehouse. An accepted submission goes in whole or not at all:
its registry row, its files, every record as submitted, in the canonical model, with pseudonyms in
place of NHS numbers and the agreed definitions, both made by DuckDB as it inserts (the
definitions from the spec's own expressions). The same content loaded twice changes nothing; a later submission for the same
provider and period supersedes the earlier one, which stays queryable as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from mhdeaths import __version__
from mhdeaths import language as ex
from mhdeaths.engines.polars_engine import to_typed
from mhdeaths.engines.sql_engine import ArrowStream, derive_sql, ident, scannable
from mhdeaths.errors import WarehouseError
from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.spec import Severity, Spec
from mhdeaths.steps import step
from mhdeaths.validate.intake import ReadSubmission, read_submission
from mhdeaths.validate.profiles import Profile, profile_for
from mhdeaths.validate.reading import fill
from mhdeaths.validate.report import Report, Verdict
from mhdeaths.validate.submission_files import SubmissionFiles, group_submission_files
from mhdeaths.validate.validator import ValidatedSubmission, check_submission
from mhdeaths.warehouse.canonical import (
    DEFINITIONS_COLUMN,
    CanonicalModel,
    canonical_columns,
    canonical_spec,
    dropped_fields,
    load_canonical,
    mapped_sql,
    pseudonymised_fields,
    split_sql,
    staged_frame,
)
from mhdeaths.warehouse.pseudonym import PADS, PseudonymKey, pseudonym_pads, pseudonym_sql
from mhdeaths.warehouse.schema import upgrade
from mhdeaths.warehouse.store import connect, rollback, table_columns

Status = Literal["loaded", "unchanged", "rejected"]


@dataclass(frozen=True)
class LoadOutcome:
    """What became of one submission."""

    label: str
    status: Status
    report: Report
    """The validation report, for the caller to show or write (the loader writes no file)."""
    paths: tuple[Path, ...] = ()
    """The submission's files (a report's name falls back on their names)."""
    submission_id: int | None = None
    """The new submission's id, or (unchanged) the id of the identical one already loaded."""
    supersedes: int | None = None
    """The submission this one replaced as current for its provider and period."""
    current: bool = True
    """False when a later submission for the same provider and period was already loaded."""
    death_rows: int = 0
    activity_rows: int = 0
    reports: tuple[Path, ...] = ()
    """The validation report's files, once a caller has written them (``mhdeaths.jobs.
    load_reports``): a rejected submission's in a folder of reports, or every submission's beside
    its files."""

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
    progress: Callable[[LoadOutcome], None] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    root: Path | None = None,
) -> list[LoadOutcome]:
    """Validate and load every submission among the files; a rejected one is not loaded, and its
    outcome carries its report. ``progress`` is given each outcome as soon as it is known.

    The warehouse is opened (and upgraded) first, so a busy warehouse fails before any work.
    ``root`` is the warehouse model's folder (``warehouse/`` of this checkout unless given).
    """
    groups = group_submission_files(paths)
    outcomes = []
    with open_loader(warehouse, key=key, spec_root=spec_root, root=root) as loader:
        for group in groups:
            outcome = loader.load(
                group,
                received_at=received_at,
                profile=profile,
                provider=provider,
                limits=limits,
            )
            outcomes.append(outcome)
            if progress:
                progress(outcome)
    return outcomes


@contextmanager
def open_loader(
    warehouse: Path,
    *,
    key: PseudonymKey,
    spec_root: Path | None = None,
    root: Path | None = None,
) -> Iterator[Loader]:
    """The warehouse open for loading: upgraded and its key checked once, however many
    submissions then go in (each in its own transaction)."""
    model = load_canonical(root)
    canonical = canonical_spec(model, spec_root)
    with connect(warehouse) as con:
        # DuckDB holds five row groups of a large insert before writing them; one is as fast
        # and keeps a million records' load about 240 MB smaller (docs/performance.md).
        con.execute("SET write_buffer_row_group_count = 1")
        # DuckDB rewrites a list of ten codes or so (`x IN (...)`) into a join against the list;
        # the definitions hold a dozen such lists, and the joins' start-up then cost more than a
        # small submission's whole insert (a few death records: 43 ms, 26 ms without). A million
        # records insert with less CPU without them too (6.1 to 7.2 s rather than 7.1 to 8.5 s).
        con.execute("SET disabled_optimizers = 'in_clause'")
        upgrade(con, spec_root, root)
        _require_canonical_tables(con, model, canonical)
        check_key(con, key)
        yield Loader(con, model, canonical, key, spec_root, _Inserts(con, model, canonical, key))


def _require_canonical_tables(
    con: duckdb.DuckDBPyConnection, model: CanonicalModel, canonical: Spec
) -> None:
    """Refuse to load when the record tables, as the migrations made them, are not the ones the
    canonical model implies: a spec version mapped into the model without the migration that
    adds its columns would otherwise fail inside an insert, with DuckDB's words."""
    built = table_columns(con)
    for table in canonical.tables:
        expected = canonical_columns(model, canonical, table.name)
        have = built.get(f"{table.name}_record", {})
        missing = [c for c in expected if c not in have]
        if missing:
            raise WarehouseError(
                f"The warehouse's {table.name}_record table has no column for "
                f"{', '.join(missing)}, which the canonical model (canonical version "
                f"{model.canonical_version}) maps: add a migration in warehouse/migrations that "
                "adds it, then load again (nothing was loaded)."
            )


@dataclass(frozen=True)
class Loader:
    """Loads submissions, one at a time, into an open warehouse (see ``open_loader``)."""

    con: duckdb.DuckDBPyConnection
    model: CanonicalModel
    canonical: Spec
    key: PseudonymKey
    spec_root: Path | None
    inserts: _Inserts

    def load(
        self,
        group: SubmissionFiles,
        *,
        received_at: dt.datetime | None = None,
        profile: Profile | None = None,
        provider: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> LoadOutcome:
        """Validate one submission and load it if accepted; a rejected one's outcome carries its
        report, for the caller to write where it wants.

        A file that cannot be read at all raises its ``UserError`` before anything is written.
        """
        received = received_at or now()  # when it came in, not when its validation ended
        found = profile is None and provider is None and bool(group.provider)
        if found and group.provider:
            profile = profile_for(group.provider)
        with step(f"Read {len(group.paths)} file(s) of a submission"):
            read = read_submission(
                list(group.paths),
                profile=profile,
                provider=provider,
                spec_root=self.spec_root,
                limits=limits,
                profile_found=found,
            )
        # Between the read step and the check step: the insert runs while the rules do.
        early = _EarlyInsert(self.con, self.model, self.canonical, self.key, self.inserts)
        try:
            early.start(read)
            result = check_submission(read)
        except BaseException:
            early.abandon()
            raise
        report = result.report
        base = LoadOutcome(label=group.label, status="rejected", report=report, paths=group.paths)
        if result.submission is None:
            early.abandon()
            return base
        return _store(
            self.con,
            result.submission,
            self.model,
            self.canonical,
            self.key,
            received,
            base,
            early,
            self.inserts,
        )


def now() -> dt.datetime:
    """UTC, without a zone: the registry's timestamps are all UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def check_key(con: duckdb.DuckDBPyConnection, key: PseudonymKey) -> None:
    """Pseudonyms made under two keys never match, so one warehouse holds one key's: the key
    of whatever came first, a submission or a national feed."""
    # All of it fetched: a result left unfinished would keep DuckDB from registering a frame next.
    found = [
        r[0]
        for r in con.execute(
            "SELECT key_fingerprint FROM submission UNION ALL "
            "SELECT key_fingerprint FROM feed_load LIMIT 1"
        ).fetchall()
    ]
    if found and found[0] != key.fingerprint:
        raise WarehouseError(
            f"This warehouse's pseudonyms were made with the key whose fingerprint is {found[0]}, "
            f"not with this key ({key.fingerprint}); pseudonyms under two keys would never link."
        )


EARLY_RECORDS = 20_000
"""Records from which a submission's records are inserted while it is still being validated."""


@dataclass(frozen=True)
class _Inserted:
    """Records inserted in the transaction left open for the rest of the submission."""

    submission_id: int
    counts: dict[str, int]


class _EarlyInsert:
    """A large submission's records, inserted on a thread while validation's check step runs.

    The loader starts it between the read step and the check step. On two cores the checks
    leave one of them idle much of the time, and the insert (DuckDB's scan, pseudonyms,
    derivations and compression) is about as long again: run side by side, they take little more
    than the longer of the two. The records are typed from the text the read step found, by the
    same function the checks type them with (so they are the validated values), and go into a
    transaction that only a validated submission's registry row commits; a rejected
    submission's is rolled back. Nothing else uses the connection until the thread is done.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        model: CanonicalModel,
        canonical: Spec,
        key: PseudonymKey,
        inserts: _Inserts,
    ) -> None:
        self.con = con
        self.model = model
        self.canonical = canonical
        self.key = key
        self.inserts = inserts
        self.job: Future[_Inserted] | None = None
        self.began = False

    def start(self, read: ReadSubmission) -> None:
        """Start inserting the records the read step found, if there are enough to be worth it."""
        texts = read.texts
        if max((t.height for t in texts.values()), default=0) >= EARLY_RECORDS:
            self.job = Future()
            insert = partial(self._insert, read.spec, texts, read.rows)
            threading.Thread(target=fill, args=(self.job, insert), daemon=True).start()

    def _insert(
        self, spec: Spec, texts: dict[str, pl.DataFrame], rows: dict[str, pl.Series]
    ) -> _Inserted:
        frames = {
            name: staged_frame(
                self.model,
                self.canonical,
                spec,
                name,
                to_typed(spec.table(name), text),
                rows[name],
                self.key,
            )
            for name, text in texts.items()
        }
        self.con.execute("BEGIN TRANSACTION")
        self.began = True
        submission_id = _next_id(self.con)
        for name, frame in frames.items():
            self.inserts.insert(spec.version, name, frame, submission_id)
        return _Inserted(submission_id, {name: f.height for name, f in frames.items()})

    def finish(self) -> _Inserted | None:
        """The records inserted (the transaction still open), or None when none were."""
        if self.job is None:
            return None
        try:
            return self.job.result()
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Wait for the thread, and roll back whatever it inserted."""
        if self.job is not None:
            self.job.exception()  # waits for the thread; its own error, if any, is not wanted here
            self.job = None
        if self.began:
            self.began = False
            rollback(self.con)


def _next_id(con: duckdb.DuckDBPyConnection) -> int:
    ((next_id,),) = con.execute(
        "SELECT coalesce(max(submission_id), 0) + 1 FROM submission"
    ).fetchall()
    return int(next_id)


_REGISTRY_LOOKUP = """
SELECT
    any_value(submission_id) FILTER (WHERE content_sha256 = $1),
    coalesce(max(submission_id), 0) + 1,
    max({'received_at': received_at, 'submission_id': submission_id})
        FILTER (WHERE provider = $2 AND reporting_period = $3)
FROM submission
"""
"""What the registry says of a submission before it goes in, in one statement (a small
submission's load is mostly statements, each with a cost of its own): the id of one with the same
content, the next id, and the current submission for its provider and period. Current is as the
``submissions`` view has it: the last by receipt time, then id (the one no other supersedes)."""


@dataclass(frozen=True)
class _Registered:
    same: int | None
    """The submission with the same content, if there is one."""
    next_id: int
    current: tuple[int, dt.datetime] | None
    """The current submission for the provider and period, and when it was received."""


def _registry_lookup(
    con: duckdb.DuckDBPyConnection, digest: str, provider: str | None, period: str | None
) -> _Registered:
    row = con.execute(_REGISTRY_LOOKUP, [digest, provider, period]).fetchone()
    assert row is not None  # an aggregate without GROUP BY has one row
    same, next_id, current = row
    return _Registered(
        None if same is None else int(same),
        int(next_id),
        None if current is None else (int(current["submission_id"]), current["received_at"]),
    )


def _store(
    con: duckdb.DuckDBPyConnection,
    submission: ValidatedSubmission,
    model: CanonicalModel,
    canonical: Spec,
    key: PseudonymKey,
    received: dt.datetime,
    base: LoadOutcome,
    early: _EarlyInsert,
    inserts: _Inserts,
) -> LoadOutcome:
    report = submission.report
    digest = content_sha256(report)
    inserted = early.finish()
    frames: dict[str, pl.DataFrame] = {}
    if inserted is None:
        frames = {
            table: staged_frame(
                model,
                canonical,
                submission.spec,
                table,
                submission.tables[table],
                submission.source_rows[table],
                key,
            )
            for table in submission.tables
        }
        con.execute("BEGIN TRANSACTION")
    try:
        registered = _registry_lookup(con, digest, submission.provider, submission.reporting_period)
        if registered.same is not None:
            con.execute("ROLLBACK")
            return replace(base, status="unchanged", submission_id=registered.same)
        submission_id = inserted.submission_id if inserted else registered.next_id
        before = registered.current
        heights = inserted.counts if inserted else {t: f.height for t, f in frames.items()}
        counts = {t.name: heights.get(t.name, 0) for t in canonical.tables}
        registry = {
            "submission_id": submission_id,
            "provider": submission.provider,
            "reporting_period": submission.reporting_period,
            "spec_version": report.spec_version,
            "content_sha256": digest,
            "received_at": received,
            "loaded_at": now(),
            **{f"{table}_rows": n for table, n in counts.items()},
            "verdict": report.verdict.value,
            "warnings": report.counts.get(Severity.WARNING, 0),
            "profile": report.profile,
            "validation_summary": json.dumps(validation_summary(report)),
            "key_fingerprint": key.fingerprint,
            "canonical_version": model.canonical_version,
            "tool_version": __version__,
        }
        con.execute(
            f"INSERT INTO submission ({', '.join(ident(c) for c in registry)}) "
            f"VALUES ({', '.join('?' * len(registry))})",
            list(registry.values()),
        )
        if report.files:  # one statement for every file
            con.execute(
                "INSERT INTO submission_file VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(report.files)),
                [
                    value
                    for f in report.files
                    for value in (submission_id, f.name, f.format, f.sha256, f.size, list(f.tables))
                ],
            )
        for table, frame in frames.items():
            inserts.insert(submission.spec.version, table, frame, submission_id)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
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


class _Inserts:
    """The record inserts of an open loader: each planned once per spec version, table and shape of
    staged frame, then run for every submission of that shape.

    DuckDB plans a death table's insert (its dozens of definitions, and the pseudonyms) in some
    20 ms, most of a small submission's insert: a national history of 555 submissions planned the
    same statement 555 times. Each is prepared instead, reading its records from one registered
    object whose frame is swapped for each submission's (DuckDB asks the object for its stream
    each time the statement runs; a frame registered anew would not do: the prepared statement
    would go on reading the frame it was prepared with). The padded keys are registered once, as
    a one-row frame the pseudonyms read (``pseudonym_pads``): never in the SQL text, and gone
    with the connection. The same thread never runs two inserts at once: the connection is used
    by one at a time.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        model: CanonicalModel,
        canonical: Spec,
        key: PseudonymKey,
    ) -> None:
        self.con = con
        self.model = model
        self.canonical = canonical
        con.register(PADS, ArrowStream(pseudonym_pads(key)))
        self.prepared: dict[object, tuple[list[str], ArrowStream]] = {}

    def insert(self, version: str, table: str, frame: pl.DataFrame, submission_id: int) -> None:
        """Insert one table's records, and the child rows the version's mapping splits from them."""
        shape = (version, table, tuple(frame.schema.items()))
        if shape not in self.prepared:
            self.prepared[shape] = self._prepare(version, table, frame)
        statements, source = self.prepared[shape]
        source.frame = scannable(frame)
        try:
            for name in statements:
                self.con.execute(f"EXECUTE {name}({int(submission_id)})")
        finally:
            source.frame = frame.clear()  # the records are not held on to

    def _prepare(
        self, version: str, table: str, frame: pl.DataFrame
    ) -> tuple[list[str], ArrowStream]:
        """DuckDB fills what the version's mapping backfills, makes the pseudonyms and derives the
        agreed definitions from the spec's own expressions, then the numbers and the dropped
        identifiers are left behind, never written. The child rows the version's mapping splits
        from these records go in alongside, derived the same way."""
        model, canonical = self.model, self.canonical
        n = len(self.prepared)
        staged = ident(f"staged_{n}")
        source = ArrowStream(frame.clear())
        self.con.register(f"staged_{n}", source)
        mapped = mapped_sql(model, canonical, version, table, staged, frame.columns)
        derived = derive_sql(canonical, table, mapped)
        pseudonyms = pseudonymised_fields(model, table)
        made = "".join(
            f", {pseudonym_sql(ident(f), PADS)} AS {ident(column)}"
            for f, column in pseudonyms.items()
        )
        left = [*dropped_fields(model, table), *pseudonyms]
        exclude = f" EXCLUDE ({', '.join(ident(d) for d in left)})" if left else ""
        stamp = f"{ex.duckdb_literal(canonical.version)} AS {ident(DEFINITIONS_COLUMN)}"
        submission = "CAST($1 AS INTEGER) AS submission_id"
        queries = [
            f"INSERT INTO {ident(table + '_record')} BY NAME "
            f"SELECT {submission}{made}, *{exclude}, {stamp} FROM ({derived}) AS d"
        ]
        for child, rows in split_sql(model, canonical, version, table, staged).items():
            queries.append(
                f"INSERT INTO {ident(child + '_record')} BY NAME "
                f"SELECT {submission}, *, {stamp} "
                f"FROM ({derive_sql(canonical, child, rows)}) AS d"
            )
        names = []
        for i, query in enumerate(queries):
            names.append(f"insert_{n}_{i}")
            self.con.execute(f"PREPARE {names[-1]} AS {query}")
        return names, source


def validation_summary(report: Report) -> dict[str, object]:
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

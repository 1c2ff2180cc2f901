"""Load the national feeds (death registrations, MHSDS spells) into the warehouse (issue 16).

Only the national analysts load them, with ``mhdeaths warehouse load-feed``; a provider never
submits one. Each file is validated by the same validator against its feed's own spec
(``spec/feeds/<feed>/``) and, when accepted, loaded in one transaction with history, as a
submission is: a registry row in ``feed_load``, the records, NHS numbers turned into the
warehouse's pseudonyms by DuckDB inside the insert, under the same key as the submissions'.

Data minimisation: a registration is stored only when it links, to a spell of the same person
open at death or with a live discharge in the reporting window (``linkage.window_sql``), or to a
death a provider reported. Every other registration (most deaths in England are of people never
in mental health care) is counted and never written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mhdeaths import __version__
from mhdeaths import language as ex
from mhdeaths.engines.sql_engine import ident, register_frame
from mhdeaths.errors import UserError, WarehouseError
from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.paths import warehouse_root
from mhdeaths.spec import Severity, Spec, feed_root, load_feed_spec
from mhdeaths.validate.intake import read_submission
from mhdeaths.validate.report import Report
from mhdeaths.validate.validator import ValidatedSubmission, check_submission
from mhdeaths.warehouse.canonical import canonical_spec, load_canonical
from mhdeaths.warehouse.linkage import window_sql
from mhdeaths.warehouse.loading import check_key, now, validation_summary
from mhdeaths.warehouse.pseudonym import (
    PseudonymKey,
    normalised_numbers,
    pseudonym_parameters,
    pseudonym_sql,
    refuse_demo_key_for_real_numbers,
)
from mhdeaths.warehouse.schema import upgrade
from mhdeaths.warehouse.store import connect, rollback

FEED_SUFFIXES = (".csv", ".txt", ".parquet")
"""What a feed is read from: NHS England's extracts come as delimited text or Parquet."""

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeedIdentifier(_Model):
    treatment: Literal["pseudonym"]
    column: str


class FeedMapping(_Model):
    """How one feed's records land in the warehouse (``warehouse/feeds.yaml``)."""

    table: str
    record_table: str
    identifiers: dict[str, FeedIdentifier] = {}
    collect: dict[str, tuple[str, ...]] = {}
    versions: tuple[str, ...]


def load_feed_mappings(root: Path | None = None) -> dict[str, FeedMapping]:
    path = (root or warehouse_root()) / "feeds.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {name: FeedMapping.model_validate(m) for name, m in data["feeds"].items()}
    except (OSError, yaml.YAMLError, ValidationError, KeyError, TypeError) as exc:
        raise WarehouseError(f"The feeds model {path} cannot be read: {exc}") from None


Status = Literal["loaded", "unchanged", "rejected"]


@dataclass(frozen=True)
class FeedOutcome:
    """What became of one feed file: counts only, never a value of a record."""

    feed: str
    status: Status
    report: Report
    paths: tuple[Path, ...]
    feed_version: str
    feed_load_id: int | None = None
    """The new load's id, or (unchanged) the id of the identical load already there."""
    rows_read: int = 0
    rows_kept: int = 0
    kept_by_spell: int = 0
    kept_by_report_only: int = 0
    discarded_unlinked: int = 0
    unlinkable: int = 0
    covers_from: dt.date | None = None
    covers_to: dt.date | None = None
    reports: tuple[Path, ...] = ()
    """The validation report's files, once a caller has written them (a rejected file's)."""

    @property
    def label(self) -> str:
        return self.paths[0].name if self.paths else self.feed


def feed_files(paths: Sequence[Path]) -> list[Path]:
    """The feed files named, folders opened, in name order (each loads in its own transaction:
    the documented names, ``<feed>_<CCYY-MM>.<ext>``, put them in delivery order)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in FEED_SUFFIXES)
        elif path.suffix.lower() in EXCEL_SUFFIXES:
            raise UserError(
                f"{path.name} is a spreadsheet, and a national feed is read from CSV or Parquet: "
                "export the extract as one of them."
            )
        else:
            found.append(path)
    if not found:
        raise UserError("No feed file was found in what was named (CSV or Parquet files).")
    return sorted(found, key=lambda p: p.name)


def load_feed(
    warehouse: Path,
    feed: str,
    paths: Sequence[Path],
    *,
    key: PseudonymKey,
    version: str | None = None,
    received_at: dt.datetime | None = None,
    spec_root: Path | None = None,
    root: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Callable[[FeedOutcome], None] | None = None,
) -> list[FeedOutcome]:
    """Validate and load each file of one national feed; a rejected file is not loaded and its
    outcome carries its report. The warehouse is opened (and upgraded) first, so a busy
    warehouse fails before any work."""
    mappings = load_feed_mappings(root)
    if feed not in mappings:
        raise UserError(
            f"There is no national feed called {feed!r} (known: {', '.join(mappings)})."
        )
    mapping = mappings[feed]
    spec = load_feed_spec(feed, version, spec_root)
    if spec.version not in mapping.versions:
        raise WarehouseError(
            f"This release of the warehouse loads the {feed} feed in version(s) "
            f"{', '.join(mapping.versions)}, not {spec.version}."
        )
    files = feed_files(paths)
    outcomes = []
    with open_feed_loader(warehouse, key=key, spec_root=spec_root, root=root) as loader:
        for path in files:
            outcome = loader.load(feed, mapping, spec, path, received_at=received_at, limits=limits)
            outcomes.append(outcome)
            if progress:
                progress(outcome)
    return outcomes


@dataclass(frozen=True)
class FeedLoader:
    con: duckdb.DuckDBPyConnection
    canonical: Spec
    key: PseudonymKey
    spec_root: Path | None

    def load(
        self,
        feed: str,
        mapping: FeedMapping,
        spec: Spec,
        path: Path,
        *,
        received_at: dt.datetime | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> FeedOutcome:
        received = received_at or now()
        read = read_submission(
            [path],
            spec_version=spec.version,
            spec_root=feed_root(feed, self.spec_root),
            limits=limits,
        )
        result = check_submission(read)
        base = FeedOutcome(
            feed=feed,
            status="rejected",
            report=result.report,
            paths=(path,),
            feed_version=spec.version,
        )
        if result.submission is None:
            return base
        return _store(
            self.con, self.canonical, mapping, result.submission, self.key, received, base
        )


@contextmanager
def open_feed_loader(
    warehouse: Path,
    *,
    key: PseudonymKey,
    spec_root: Path | None = None,
    root: Path | None = None,
) -> Iterator[FeedLoader]:
    """The warehouse open for loading feeds: upgraded, and its key checked once."""
    canonical = canonical_spec(load_canonical(root), spec_root)
    with connect(warehouse) as con:
        con.execute("SET write_buffer_row_group_count = 1")
        upgrade(con, spec_root, root)
        check_key(con, key)
        yield FeedLoader(con, canonical, key, spec_root)


def _staged(
    mapping: FeedMapping, frame: pl.DataFrame, rows: pl.Series, key: PseudonymKey
) -> tuple[pl.DataFrame, int]:
    """The records in their record table's shape (numbers still to be made pseudonyms by the
    insert, and emptied where they cannot link), and how many cannot link."""
    columns: dict[str, pl.Series] = {}
    collected = {f for fields in mapping.collect.values() for f in fields}
    for column in frame.get_columns():
        if column.name not in collected:
            columns[column.name] = column
    for name, fields in mapping.collect.items():
        listed = frame.select(pl.concat_list(fields).list.drop_nulls().alias(name))
        columns[name] = listed.to_series()
    unlinkable = 0
    valid = ex.to_polars("nhs_number_valid(n)")
    for name in mapping.identifiers:
        digits = normalised_numbers(columns[name])
        refuse_demo_key_for_real_numbers(key, digits)
        # A number that fails its check digit could link only by a typist's coincidence.
        usable = pl.DataFrame({"n": digits}).select(pl.when(valid).then(pl.col("n")).alias(name))
        columns[name] = usable.to_series()
        unlinkable = columns[name].null_count()
    columns["source_row"] = rows.cast(pl.Int32).alias("source_row")
    return pl.DataFrame(list(columns.values())), unlinkable


def _store(
    con: duckdb.DuckDBPyConnection,
    canonical: Spec,
    mapping: FeedMapping,
    submission: ValidatedSubmission,
    key: PseudonymKey,
    received: dt.datetime,
    base: FeedOutcome,
) -> FeedOutcome:
    report = submission.report
    (file,) = report.files
    frame, unlinkable = _staged(
        mapping,
        submission.tables[mapping.table],
        submission.source_rows[mapping.table],
        key,
    )
    registrations = base.feed == "registrations"
    state = _linkage_state(con) if registrations else None
    staged = "staged_feed"
    register_frame(con, staged, frame)
    con.execute("BEGIN TRANSACTION")
    try:
        same = con.execute(
            "SELECT feed_load_id FROM feed_load WHERE feed = ? AND file_sha256 = ? "
            "AND linkage_state IS NOT DISTINCT FROM ?",
            [base.feed, file.sha256, state],
        ).fetchone()
        if same:
            con.execute("ROLLBACK")
            return replace(base, status="unchanged", feed_load_id=int(same[0]))
        ((load_id,),) = con.execute(
            "SELECT coalesce(max(feed_load_id), 0) + 1 FROM feed_load"
        ).fetchall()
        pseudonyms = "".join(
            f", {pseudonym_sql(ident(f))} AS {ident(i.column)}"
            for f, i in mapping.identifiers.items()
        )
        left = ", ".join(ident(f) for f in mapping.identifiers)
        source = f"SELECT * EXCLUDE ({left}){pseudonyms} FROM {ident(staged)}"
        counts: dict[str, int | None] = dict.fromkeys(
            ("kept_by_spell", "kept_by_report_only", "discarded")
        )
        if registrations:
            counts = _insert_kept_registrations(con, canonical, mapping, source, load_id, key)
            kept = int(counts["kept"] or 0)
        else:
            con.execute(
                f"INSERT INTO {ident(mapping.record_table)} BY NAME "
                f"SELECT {int(load_id)} AS feed_load_id, * FROM ({source}) AS s",
                pseudonym_parameters(key),
            )
            kept = frame.height
        covers_from, covers_to = _coverage(frame, registrations)
        registry = {
            "feed_load_id": load_id,
            "feed": base.feed,
            "feed_version": base.feed_version,
            "file_name": file.name,
            "file_format": file.format,
            "file_sha256": file.sha256,
            "file_size": file.size,
            "linkage_state": state,
            "received_at": received,
            "loaded_at": now(),
            "covers_from": covers_from,
            "covers_to": covers_to,
            "rows_read": frame.height,
            "rows_kept": kept,
            "kept_by_spell": counts["kept_by_spell"],
            "kept_by_report_only": counts["kept_by_report_only"],
            "rows_discarded_unlinked": counts["discarded"],
            "rows_unlinkable": unlinkable,
            "verdict": report.verdict.value,
            "warnings": report.counts.get(Severity.WARNING, 0),
            "validation_summary": json.dumps(validation_summary(report)),
            "key_fingerprint": key.fingerprint,
            "tool_version": __version__,
        }
        con.execute(
            f"INSERT INTO feed_load ({', '.join(ident(c) for c in registry)}) "
            f"VALUES ({', '.join('?' * len(registry))})",
            list(registry.values()),
        )
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    finally:
        con.unregister(staged)
    return replace(
        base,
        status="loaded",
        feed_load_id=int(load_id),
        rows_read=frame.height,
        rows_kept=kept,
        kept_by_spell=int(counts["kept_by_spell"] or 0),
        kept_by_report_only=int(counts["kept_by_report_only"] or 0),
        discarded_unlinked=int(counts["discarded"] or 0),
        unlinkable=unlinkable,
        covers_from=covers_from,
        covers_to=covers_to,
    )


def _insert_kept_registrations(
    con: duckdb.DuckDBPyConnection,
    canonical: Spec,
    mapping: FeedMapping,
    source: str,
    load_id: int,
    key: PseudonymKey,
) -> dict[str, int | None]:
    """Insert the registrations that link, marked with why they were kept; count the rest.

    The join runs over the staged file inside the load's transaction, and only the kept rows
    are written: a registration that links to nothing never reaches the warehouse file."""
    table = ident(mapping.record_table)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE feed_candidates AS
        WITH r AS ({source}),
        by_spell AS (
            SELECT DISTINCT r.source_row
            FROM r
            JOIN (SELECT nhs_number_pseudonym, admission_date, discharge_date, discharge_method
                  FROM spells_as_at(TIMESTAMP 'infinity')
                  WHERE nhs_number_pseudonym IS NOT NULL) AS s
              USING (nhs_number_pseudonym)
            WHERE {window_sql(canonical)}
        ),
        reported AS (
            SELECT DISTINCT nhs_number_pseudonym
            FROM death_records_as_at(TIMESTAMP 'infinity')
            WHERE record_action <> 'D' AND nhs_number_pseudonym IS NOT NULL
        )
        SELECT r.*,
               b.source_row IS NOT NULL AS by_spell,
               p.nhs_number_pseudonym IS NOT NULL AS by_report
        FROM r
        LEFT JOIN by_spell AS b USING (source_row)
        LEFT JOIN reported AS p USING (nhs_number_pseudonym)
        WHERE r.nhs_number_pseudonym IS NOT NULL
        """,
        pseudonym_parameters(key),
    )
    try:
        con.execute(
            f"INSERT INTO {table} BY NAME "
            f"SELECT {int(load_id)} AS feed_load_id, * EXCLUDE (by_spell, by_report), "
            "CASE WHEN by_spell AND by_report THEN 'both' WHEN by_spell THEN 'spell' "
            "ELSE 'report' END AS kept_by "
            "FROM feed_candidates WHERE by_spell OR by_report"
        )
        ((by_spell, by_report_only, discarded),) = con.execute(
            "SELECT count(*) FILTER (WHERE by_spell), "
            "count(*) FILTER (WHERE by_report AND NOT by_spell), "
            "count(*) FILTER (WHERE NOT by_spell AND NOT by_report) FROM feed_candidates"
        ).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS feed_candidates")
    return {
        "kept": int(by_spell) + int(by_report_only),
        "kept_by_spell": int(by_spell),
        "kept_by_report_only": int(by_report_only),
        "discarded": int(discarded),
    }


def _linkage_state(con: duckdb.DuckDBPyConnection) -> str:
    """What a registrations file is linked against: the last spells load and the last
    submission. Loading the same file again after either links again (design D9)."""
    ((spells, submissions),) = con.execute(
        "SELECT (SELECT max(feed_load_id) FROM feed_load WHERE feed = 'spells'), "
        "(SELECT max(submission_id) FROM submission)"
    ).fetchall()
    text = f"spells:{spells or 0};submissions:{submissions or 0}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _coverage(frame: pl.DataFrame, registrations: bool) -> tuple[dt.date | None, dt.date | None]:
    """What a file covers: registration dates, or the months of the spells' deliveries."""
    if frame.is_empty():
        return None, None
    if registrations:
        dates = frame["registration_date"]
        return dates.min(), dates.max()  # type: ignore[return-value]
    months = sorted(frame["reporting_period"].drop_nulls().unique().to_list())
    first = dt.date.fromisoformat(f"{months[0]}-01")
    last = dt.date.fromisoformat(f"{months[-1]}-01")
    following = dt.date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)

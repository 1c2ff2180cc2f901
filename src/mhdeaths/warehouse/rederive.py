"""Every record derived under the newest definitions (build plan 9.3).

The loader derives the agreed definitions of the canonical spec version as it inserts a record,
and stamps the record with that version (``definitions_version``). When the canonical version
moves on (or, while it is a draft, its files change), records loaded earlier carry the old
definitions' values: a benchmark over them would mix two meanings of the same figure. So when the
warehouse is opened for writing, this module derives every derived column again from the stored
columns, in the transaction that brings the schema up to date, and logs the run in
``derivation_run``.

A definition that reads an identifier the warehouse does not keep as written (the date of birth
is dropped, the NHS number becomes a pseudonym) cannot be derived again: it is *frozen*, its
stored value is an input to the others (``age_band`` is derived again from the stored
``age_at_death``). Which definitions are frozen is read from their parsed expressions, not listed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mhdeaths import language as ex
from mhdeaths.engines.sql_engine import derive_sql, ident
from mhdeaths.errors import WarehouseError
from mhdeaths.spec import Spec
from mhdeaths.spec.loading import version_checksums
from mhdeaths.warehouse.canonical import DEFINITIONS_COLUMN, CanonicalModel

RUN_TABLE = "derivation_run"


@dataclass(frozen=True)
class Rederived:
    """One derivation run: the definitions it applied and the records it derived, per table."""

    definitions_version: str
    spec_sha256: str
    records: dict[str, int]


def spec_sha256(spec: Spec) -> str:
    """The SHA-256 of a spec version's files: of the list of each file's path and SHA-256 (as
    ``released.yaml`` records them), so that it moves whenever any file of the version does."""
    listing = "".join(f"{path} {digest}\n" for path, digest in version_checksums(spec.path).items())
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def frozen_definitions(model: CanonicalModel, spec: Spec, table: str) -> set[str]:
    """The definitions of ``table`` whose expression reads an identifier the warehouse does not
    store as written: their stored values stand."""
    hidden = set(model.identifiers.get(table, {}))
    return {d.name for d in spec.definitions_for(table) if ex.parse(d.expression).columns & hidden}


def record_tables(con: duckdb.DuckDBPyConnection, spec: Spec) -> list[str]:
    """The canonical spec's tables that have a record table in this warehouse."""
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return [t.name for t in spec.tables if f"{t.name}_record" in present]


def needs_rederiving(con: duckdb.DuckDBPyConnection, spec: Spec, digest: str) -> bool:
    """True when any record carries other definitions than the canonical version's (or none), or
    the latest run derived under other spec files (a draft edited since)."""
    for table in record_tables(con, spec):
        stale = con.execute(
            f"SELECT 1 FROM {ident(table + '_record')} "
            f"WHERE {ident(DEFINITIONS_COLUMN)} IS DISTINCT FROM ? LIMIT 1",
            [spec.version],
        ).fetchone()
        if stale:
            return True
    latest = con.execute(
        f"SELECT definitions_version, spec_sha256 FROM {RUN_TABLE} ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    return latest != (spec.version, digest)


def rederive(con: duckdb.DuckDBPyConnection, model: CanonicalModel, spec: Spec) -> Rederived | None:
    """Derive every record again under ``spec``'s definitions, if any record needs it, and log
    the run. Runs inside the caller's transaction (the schema upgrade's), so a crash leaves the
    warehouse as it was; a warehouse whose schema has no run log yet is left alone."""
    if not con.execute(
        "SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [RUN_TABLE]
    ).fetchone():
        return None
    digest = spec_sha256(spec)
    if not needs_rederiving(con, spec, digest):
        return None
    started = _now()
    records = {}
    for table in record_tables(con, spec):
        records[table] = _rederive_table(con, model, spec, table)
    logged = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
            "AND column_name LIKE '%\\_records' ESCAPE '\\' ORDER BY column_index",
            [RUN_TABLE],
        ).fetchall()
    ]
    counts = {c: records.get(c.removesuffix("_records"), 0) for c in logged}
    names = ["run_id", "definitions_version", "spec_sha256", "started_at", "finished_at", *counts]
    con.execute(
        f"INSERT INTO {RUN_TABLE} ({', '.join(ident(n) for n in names)}) "
        f"SELECT coalesce(max(run_id), 0) + 1, ?, ?, ?, ?{', ?' * len(counts)} FROM {RUN_TABLE}",
        [spec.version, digest, started, _now(), *counts.values()],
    )
    return Rederived(spec.version, digest, records)


def _rederive_table(
    con: duckdb.DuckDBPyConnection, model: CanonicalModel, spec: Spec, table: str
) -> int:
    """Derive one record table again from its stored columns; returns its number of records."""
    target = ident(f"{table}_record")
    frozen = frozen_definitions(model, spec, table)
    again = [d.name for d in spec.definitions_for(table) if d.name not in frozen]
    stamp = f"{ident(DEFINITIONS_COLUMN)} = ?"
    if again:
        stored = f"(SELECT * EXCLUDE ({', '.join(ident(n) for n in again)}) FROM {target})"
        derived = derive_sql(spec, table, stored, keep=frozen)
        keys = ("submission_id", "source_row")
        picked = ", ".join(ident(c) for c in (*keys, *again))
        sets = ", ".join(f"{ident(n)} = n.{ident(n)}" for n in again)
        match = " AND ".join(f"t.{ident(k)} = n.{ident(k)}" for k in keys)
        con.execute(
            f"UPDATE {target} AS t SET {sets}, {stamp} "
            f"FROM (SELECT {picked} FROM ({derived}) AS d) AS n WHERE {match}",
            [spec.version],
        )
    else:
        con.execute(f"UPDATE {target} SET {stamp}", [spec.version])
    ((count,),) = con.execute(f"SELECT count(*) FROM {target}").fetchall()
    return int(count)


@dataclass(frozen=True)
class Definitions:
    """The definitions every record of a warehouse was derived under, for a published figure to
    name: the spec version and the SHA-256 of its files. The files, not the day, say exactly which
    definitions: a draft's edits change the hash, and the same warehouse contents give the same
    figures whenever they are derived."""

    version: str
    sha256: str

    @property
    def line(self) -> str:
        return f"Definitions: mhdeaths spec {self.version} (spec files SHA-256 {self.sha256[:12]})"


def definitions_in_force(con: duckdb.DuckDBPyConnection, path: Path) -> Definitions:
    """The one definitions version the warehouse's records carry, with the day it was last
    derived; a warehouse whose records carry more than one (which re-derivation prevents, so
    only a hand-edited file) is refused, since its figures would mix two meanings."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_columns() WHERE column_name = ? "
            "AND table_name LIKE '%\\_record' ESCAPE '\\' ORDER BY table_name",
            [DEFINITIONS_COLUMN],
        ).fetchall()
    ]
    found: set[str | None] = set()
    for table in tables:
        rows = con.execute(
            f"SELECT DISTINCT {ident(DEFINITIONS_COLUMN)} FROM {ident(table)}"
        ).fetchall()
        found |= {r[0] for r in rows}
    if len(found) > 1 or None in found:
        listed = ", ".join(sorted(v or "none" for v in found))
        raise WarehouseError(
            f"The warehouse {path} holds records derived under more than one definitions "
            f"version ({listed}), so its figures would mix two meanings: open it for writing "
            "once (`mhdeaths warehouse init`) to derive every record under one."
        )
    run = con.execute(
        f"SELECT definitions_version, spec_sha256 FROM {RUN_TABLE} "
        + ("WHERE definitions_version = ? " if found else "")
        + "ORDER BY run_id DESC LIMIT 1",
        list(found),
    ).fetchone()
    if run is None:
        raise WarehouseError(
            f"The warehouse {path} logs no derivation of its records under definitions "
            f"{', '.join(sorted(v or 'none' for v in found))}: run `mhdeaths warehouse init`."
        )
    return Definitions(str(run[0]), str(run[1]))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)

"""The analyst's surface: read-only SQL over the warehouse, and a Parquet export.

A query runs on a read-only connection that DuckDB also bars from every file but the warehouse
(no COPY, no ATTACH, no reading other files), so a query can neither change the warehouse nor
carry data out of it by the side door. The export writes the current views as Parquet,
partitioned Hive-style by year and provider, which DuckDB, polars, Spark and R all read back.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mhdeaths.errors import OutputError, WarehouseError
from mhdeaths.output.storage_errors import refusal
from mhdeaths.warehouse.store import connect

_READ_ONLY = re.compile(r'Cannot execute statement of type "(\w+)"')


class QueryError(WarehouseError):
    """The SQL cannot run: one line saying why."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]


def query(path: Path, sql: str) -> QueryResult:
    """Run one analyst's SQL on a read-only connection; a write or a bad query is one clear line."""
    if not sql.strip():
        raise QueryError("The query is empty: give one SQL statement.")
    with connect(path, read_only=True, external=False) as con:
        try:
            cursor = con.execute(sql)
            if cursor.description is None:
                raise QueryError("The statement returned no rows: give a query (SELECT, FROM...).")
            columns = tuple(c[0] for c in cursor.description)
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise QueryError(_explain(exc)) from None
    return QueryResult(columns, rows)


def _explain(exc: duckdb.Error) -> str:
    text = " ".join(str(exc).split())
    refused = _READ_ONLY.search(text)
    if refused or "read-only" in text:
        kind = refused[1] if refused else "this"
        return f"The warehouse is read-only to queries: a {kind} statement is refused."
    if isinstance(exc, duckdb.PermissionException):
        return "Queries may read only the warehouse: files and other databases are out of reach."
    words = re.findall(r"[A-Z][a-z]*", type(exc).__name__.removesuffix("Exception"))
    kind = " ".join(words).lower() or "database"
    message = text.split(": ", 1)[1] if ": " in text else text
    message = message.split(" LINE ", 1)[0]
    return f"The query cannot run ({kind} error): {message}"


EXPORTS = {
    "deaths": ("SELECT *, year(death_date) AS year, org_id_provider AS provider FROM deaths", True),
    "activity": (
        "SELECT *, CAST(left(reporting_period, 4) AS INTEGER) AS year, "
        "org_id_provider AS provider FROM activity",
        True,
    ),
    # Reviews, coroners' report addressees and themes by the year of their own reporting period.
    "reviews": (
        "SELECT *, CAST(left(reporting_period, 4) AS INTEGER) AS year, "
        "org_id_provider AS provider FROM reviews",
        True,
    ),
    "pfd_addressees": (
        "SELECT *, CAST(left(reporting_period, 4) AS INTEGER) AS year, "
        "org_id_provider AS provider FROM pfd_responses",
        True,
    ),
    "themes": (
        "SELECT *, CAST(left(reporting_period, 4) AS INTEGER) AS year, "
        "org_id_provider AS provider FROM themes",
        True,
    ),
    "submissions": ("SELECT * FROM submissions", False),
    "data_quality": ("SELECT * FROM data_quality", False),
    # The national feeds' linkage (empty until they are loaded): no pseudonym in either.
    "expected_deaths": (
        "SELECT *, year(death_date) AS year, expected_provider AS provider FROM expected_deaths",
        True,
    ),
    "reconciliation": ("SELECT * FROM reconciliation", False),
}
"""What the export writes: each view, partitioned by year and provider where it has records."""


def export(path: Path, out: Path) -> list[Path]:
    """Write the current views as Parquet under ``out``; the folders and files written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"The export folder {out} cannot be made: {exc.strerror}.") from None
    written = []
    with connect(path, read_only=True) as con:
        for name, (select, partitioned) in EXPORTS.items():
            target = out / name if partitioned else out / f"{name}.parquet"
            literal = "'" + str(target).replace("'", "''") + "'"
            options = "FORMAT parquet"
            if partitioned:
                options += ", PARTITION_BY (year, provider), OVERWRITE true"
            try:
                con.execute(f"COPY ({select}) TO {literal} ({options})")
            except duckdb.Error as exc:
                if refusal(exc) is not None:
                    raise  # a full disk or a refused write: the command says so in one sentence
                raise OutputError(f"The export to {target} failed: {_explain(exc)}") from None
            written.append(target)
    return written


def as_text(value: object) -> str:
    """A value as CSV and the terminal show it (dates in ISO form, empty for NULL)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


OLDEST_STORAGE = "v1.0.0"
"""The oldest storage format DuckDB 2.x writes. A warehouse copied in it opens in DuckDB 1.1 and
newer (tested with 1.1.3, 1.2.2, 1.3.2, 1.4.5 and 1.5.6); DuckDB 1.0 cannot read its views."""


def copy_for_older_duckdb(path: Path, target: Path, storage_version: str = OLDEST_STORAGE) -> Path:
    """Copy the whole warehouse (tables, views, macros) into a new file in an older storage
    format, for tools whose DuckDB is 1.x (R's duckdb package, the Node client, an older
    notebook): the warehouse itself is in DuckDB 2's format, which they refuse to open."""
    if target.exists():
        raise OutputError(f"{target} exists already: name a new file for the copy.")
    source = "'" + str(path).replace("'", "''") + "'"
    literal = "'" + str(target).replace("'", "''") + "'"
    version = "'" + storage_version.replace("'", "''") + "'"
    if not path.is_file():
        raise OutputError(f"There is no warehouse at {path} to copy.")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {source} AS warehouse (READ_ONLY)")
        try:
            con.execute(f"ATTACH {literal} AS copy (STORAGE_VERSION {version})")
        except duckdb.Error as exc:
            if refusal(exc) is not None:
                raise
            raise OutputError(
                f"DuckDB cannot write storage version {storage_version}: {_explain(exc)}"
            ) from None
        try:
            con.execute("COPY FROM DATABASE warehouse TO copy")
        except duckdb.Error as exc:
            con.close()
            target.unlink(missing_ok=True)
            if refusal(exc) is not None:
                raise
            raise OutputError(f"The copy to {target} failed: {_explain(exc)}") from None
    finally:
        con.close()
    return target

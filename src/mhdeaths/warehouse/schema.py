"""How the warehouse's schema is brought up to date: migrations, then views.

Its tables come from ordered, append-only SQL migrations (``warehouse/migrations/NNNN_name.sql``),
each applied once and recorded with its checksum, so a warehouse made by an earlier release
upgrades in place. Its views and macros are written from ``warehouse/views/*.sql`` and the spec
(the attribution order, the required fields, when a submission is due), and are rewritten whenever
that text changes; every table, view, column and table macro is then described again with
``COMMENT ON`` from the warehouse catalogue (``catalogue``), since a replaced view loses its
comments. Opening a current warehouse compares one checksum and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from mhdeaths.errors import WarehouseError
from mhdeaths.output.storage_errors import refusal
from mhdeaths.paths import warehouse_root
from mhdeaths.warehouse.store import first_line, rollback

if TYPE_CHECKING:
    from mhdeaths.spec import Spec
    from mhdeaths.warehouse.canonical import CanonicalModel
    from mhdeaths.warehouse.catalogue import Catalogue
    from mhdeaths.warehouse.rederive import Rederived

_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def migrations(root: Path | None = None) -> tuple[Migration, ...]:
    """The migrations in order; their numbers must run 1, 2, 3... with no gap or repeat."""
    folder = (root or warehouse_root()) / "migrations"
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION.match(path.name)
        if not match:
            raise WarehouseError(f"The migration {path.name} is not named NNNN_name.sql.")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise WarehouseError(f"Migration {expected:04d} is missing from {folder}.")
    return tuple(found)


def views_sql(model: CanonicalModel, spec: Spec, root: Path | None = None) -> str:
    """The text of every view and macro, rendered from warehouse/views and the spec."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from mhdeaths.engines.sql_engine import attribution_window_sql, ident
    from mhdeaths.spec import Mandation
    from mhdeaths.warehouse.linkage import (
        BED_DAYS_TOLERANCE,
        candidates_sql,
        registered_cause_sql,
        registrations_spec,
    )

    folder = (root or warehouse_root()) / "views"
    env = Environment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    pseudonym = model.treatment("death", "nhs_number")
    columns = {"nhs_number": "_match"} if pseudonym else {}
    death = spec.table("death")
    stored = {f.name for f in death.submitted_fields} - set(model.identifiers.get("death", {}))
    context = {
        "due_months": model.due_months_after_period,
        "window": attribution_window_sql(spec, columns),
        "partition": ", ".join(columns.get(m, ident(m)) for m in spec.counting_rule.match_on),
        "match_description": " and ".join(spec.counting_rule.match_on),
        "bed_days_tolerance": BED_DAYS_TOLERANCE,
        "registered_deaths": registered_cause_sql(spec),
        "linked_candidates": candidates_sql(spec, registrations_spec(spec)),
        "bed_days_tolerance_pct": round(BED_DAYS_TOLERANCE * 100),
        "required": [
            ident(f.name)
            for f in death.submitted_fields
            if f.mandation is Mandation.REQUIRED and f.name in stored
        ],
    }
    parts = [env.get_template(p.name).render(context) for p in sorted(folder.glob("*.sql"))]
    return "\n".join(parts)


_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_views (
    sha256 VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
"""


@dataclass(frozen=True)
class Upgrade:
    applied: tuple[str, ...]
    """The migrations applied now ("0002_name"), empty if the schema was already current."""
    views_rewritten: bool
    schema_version: int
    rederived: Rederived | None = None
    """The records derived again under the canonical version's definitions, if any needed it."""


def applied_migrations(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Version -> checksum of every migration the warehouse records (empty for a new file)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migration'"
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    return dict(con.execute("SELECT version, sha256 FROM schema_migration").fetchall())


def pending(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> list[Migration]:
    """The migrations this release has and the warehouse has not; fails on a changed or unknown one."""
    applied = applied_migrations(con)
    known = {m.version: m for m in migrations(root)}
    newer = sorted(v for v in applied if v not in known)
    if newer:
        raise WarehouseError(
            f"The warehouse was made by a newer release of mhdeaths (schema {max(applied)}, "
            f"this release knows up to {max(known, default=0)}); use that release."
        )
    for version, checksum in applied.items():
        if known[version].sha256 != checksum:
            raise WarehouseError(
                f"Migration {version:04d} has changed since it was applied to this warehouse; "
                "migrations are append-only, so put the change in a new one."
            )
    return [m for v, m in sorted(known.items()) if v not in applied]


def upgrade(
    con: duckdb.DuckDBPyConnection, spec_root: Path | None = None, root: Path | None = None
) -> Upgrade:
    """Apply pending migrations, rewrite the views if their text changed and derive every record
    again if the canonical definitions changed (``rederive``), in one transaction."""
    from mhdeaths.warehouse.canonical import canonical_spec, load_canonical
    from mhdeaths.warehouse.catalogue import load_catalogue
    from mhdeaths.warehouse.rederive import rederive

    model = load_canonical(root)
    canonical = canonical_spec(model, spec_root)
    views = views_sql(model, canonical, root)
    catalogue = load_catalogue(model, canonical, root)
    # The comments go with the views: a changed description writes both again.
    views_sha = hashlib.sha256((views + catalogue.fingerprint).encode("utf-8")).hexdigest()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_BOOTSTRAP)
        todo = pending(con, root)
        for migration in todo:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migration VALUES (?, ?, ?, ?)",
                [migration.version, migration.name, migration.sha256, now],
            )
        current = con.execute(
            "SELECT sha256 FROM schema_views ORDER BY applied_at DESC LIMIT 1"
        ).fetchone()
        rewrite = current is None or current[0] != views_sha or bool(todo)
        if rewrite:
            con.execute(views)
            con.execute(comments_sql(con, catalogue))
            con.execute("DELETE FROM schema_views")
            con.execute("INSERT INTO schema_views VALUES (?, ?)", [views_sha, now])
        rederived = rederive(con, model, canonical)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        rollback(con)
        if refusal(exc) is not None:
            raise  # the file system's refusal: the command says it in its own sentence
        raise WarehouseError(
            f"The warehouse schema cannot be brought up to date: {first_line(exc)}"
        ) from None
    except BaseException:
        rollback(con)
        raise
    version = max((m.version for m in migrations(root)), default=0)
    return Upgrade(tuple(f"{m.version:04d}_{m.name}" for m in todo), rewrite, version, rederived)


def comments_sql(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> str:
    """The ``COMMENT ON`` statements describing every table, view, column and table macro the
    warehouse has now, in one batch (a replaced view has lost its comments, so all are made)."""
    from mhdeaths.warehouse.catalogue import table_macros, warehouse_objects

    objects = warehouse_objects(con)
    return catalogue.comments_sql(objects) + "\n" + catalogue.macros_sql(table_macros(con))


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied_migrations(con), default=0)

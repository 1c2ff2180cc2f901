"""What the receiving team asks of the warehouse: what arrived, what was superseded, what is late.

``status`` sums the warehouse up; ``history`` lists submissions with what each did. Both read a
read-only connection, so they can run beside analysts' queries (though not beside a load).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from mhdeaths.errors import WarehouseError
from mhdeaths.warehouse.schema import migrations, pending
from mhdeaths.warehouse.store import connect, first_line


@dataclass(frozen=True)
class Gap:
    provider: str
    reporting_period: str
    due_date: dt.date


@dataclass(frozen=True)
class FeedStatus:
    """One national feed's loads, summed up (counts only)."""

    feed: str
    loads: int
    last_loaded: dt.datetime | None
    covers_from: dt.date | None
    covers_to: dt.date | None
    rows_kept: int
    """Records stored: spells, or registrations kept because they link."""
    rows_discarded: int
    """Registrations counted and never stored: unlinked, or without a usable NHS number."""
    relink_advised: bool
    """Registrations only: spells or submissions were loaded after the last registrations load,
    so loading the same extract again would link more."""


@dataclass(frozen=True)
class Status:
    path: Path
    size_bytes: int
    schema_version: int
    migrations_pending: int
    submissions: int
    current: int
    superseded: int
    late: int
    providers: int
    first_period: str | None
    last_period: str | None
    last_received: dt.datetime | None
    death_records_stored: int
    deaths: int
    deaths_counted: int
    duplicates_resolved: int
    withdrawn: int
    category_disagreements: int
    review_records_stored: int
    reviews: int
    """Reviews now (latest action by provider, death record and review, not withdrawn)."""
    orphan_reviews: int
    """Reviews now of no current death record: kept, never counted in indicators."""
    pfd_addressee_records_stored: int
    pfd_addressees: int
    """Addressees of coroners' reports now (latest action, not withdrawn)."""
    pfd_responses_overdue: int
    theme_records_stored: int
    themes: int
    """Themes of counted deaths now (latest action by provider, death record and theme)."""
    missing: tuple[Gap, ...]
    """Provider-periods with no submission, between a provider's first period and the latest
    period any provider has submitted, whose due date has passed."""
    key_fingerprint: str | None
    feeds: tuple[FeedStatus, ...] = ()
    """The national feeds loaded (none until `mhdeaths warehouse load-feed`)."""
    activity_differs: tuple[tuple[str, int], ...] = ()
    """Providers whose submitted activity differs from the spells feed, with how many of the
    last 12 periods the feed covers differ."""


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None, "an aggregate query returns one row"
    return row


@contextmanager
def reading(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; a warehouse whose schema this release does not know is one
    clear sentence (a newer release's, or an older one's not yet upgraded)."""
    with connect(path, read_only=True) as con:
        try:
            yield con
        except duckdb.Error as exc:
            hint = (
                "run `mhdeaths warehouse init` to upgrade it"
                if isinstance(exc, duckdb.CatalogException) or pending(con)
                else "this is a bug; please report it"
            )
            raise WarehouseError(
                f"The warehouse {path} cannot be read by this release ({first_line(exc)}): {hint}."
            ) from None


def status(path: Path, today: dt.date | None = None) -> Status:
    """The warehouse summed up. ``today`` decides which missing submissions are overdue."""
    today = today or dt.datetime.now(dt.UTC).date()
    with reading(path) as con:
        waiting = len(pending(con))
        subs = _one(
            con,
            "SELECT count(*), count(*) FILTER (WHERE status = 'current'), "
            "count(*) FILTER (WHERE status = 'superseded'), "
            "count(*) FILTER (WHERE late AND status = 'current'), count(DISTINCT provider), "
            "min(reporting_period), max(reporting_period), max(received_at) FROM submissions",
        )
        stored = _one(con, "SELECT count(*) FROM death_record")
        deaths = _one(
            con,
            "SELECT count(*), count(*) FILTER (WHERE counted), count(*) FILTER (WHERE NOT counted), "
            "count(*) FILTER (WHERE category_disagrees) FROM deaths",
        )
        withdrawn = _one(
            con,
            "SELECT count(*) FROM death_records_as_at(TIMESTAMP 'infinity') "
            "WHERE record_action = 'D'",
        )
        reviews = _one(
            con,
            "SELECT (SELECT count(*) FROM review_record), count(*), count(*) FILTER ("
            "WHERE NOT EXISTS (SELECT 1 FROM deaths AS d WHERE d.org_id_provider = "
            "r.org_id_provider AND d.death_record_id = r.death_record_id)) FROM reviews AS r",
        )
        addressees = _one(
            con,
            "SELECT (SELECT count(*) FROM pfd_addressee_record), count(*), "
            "count(*) FILTER (WHERE overdue) FROM pfd_responses",
        )
        themes = _one(con, "SELECT (SELECT count(*) FROM theme_record), count(*) FROM themes")
        key = con.execute(
            "SELECT any_value(key_fingerprint) FROM "
            "(SELECT key_fingerprint FROM submission UNION ALL SELECT key_fingerprint FROM feed_load)"
        ).fetchone()
        feeds = _feeds(con)
        differs = con.execute(
            """
            SELECT provider, count(*) FILTER (WHERE admissions_differs OR discharges_live_differs
                   OR deaths_in_spell_differs OR occupied_bed_days_differs)
            FROM activity_crosscheck
            WHERE reporting_period > strftime(
                (SELECT max(strptime(reporting_period || '-01', '%Y-%m-%d'))
                 FROM activity_crosscheck) - INTERVAL 12 MONTH, '%Y-%m')
            GROUP BY ALL HAVING count(*) FILTER (WHERE admissions_differs
                   OR discharges_live_differs OR deaths_in_spell_differs
                   OR occupied_bed_days_differs) > 0
            ORDER BY 1
            """
        ).fetchall()
        gaps = con.execute(
            """
            WITH providers AS (
                SELECT provider, min(reporting_period) AS first FROM submission GROUP BY provider
            ),
            months AS (
                SELECT strftime(m, '%Y-%m') AS reporting_period,
                       due_date(strftime(m, '%Y-%m')) AS due_date
                FROM range(
                    (SELECT CAST(strptime(min(reporting_period) || '-01', '%Y-%m-%d') AS DATE)
                     FROM submission),
                    (SELECT CAST(strptime(max(reporting_period) || '-01', '%Y-%m-%d') AS DATE)
                     FROM submission) + INTERVAL 1 MONTH,
                    INTERVAL 1 MONTH
                ) AS r(m)
            )
            SELECT p.provider, m.reporting_period, m.due_date
            FROM providers AS p JOIN months AS m ON m.reporting_period >= p.first
            WHERE m.due_date < ?
              AND NOT EXISTS (
                SELECT 1 FROM submission AS s
                WHERE s.provider = p.provider AND s.reporting_period = m.reporting_period)
            ORDER BY 1, 2
            """,
            [today],
        ).fetchall()
    return Status(
        path=path,
        size_bytes=path.stat().st_size,
        schema_version=max(m.version for m in migrations()) - waiting,
        migrations_pending=waiting,
        submissions=int(subs[0]),
        current=int(subs[1]),
        superseded=int(subs[2]),
        late=int(subs[3]),
        providers=int(subs[4]),
        first_period=subs[5],
        last_period=subs[6],
        last_received=subs[7],
        death_records_stored=int(stored[0]),
        deaths=int(deaths[0]),
        deaths_counted=int(deaths[1]),
        duplicates_resolved=int(deaths[2]),
        withdrawn=int(withdrawn[0]),
        category_disagreements=int(deaths[3]),
        review_records_stored=int(reviews[0]),
        reviews=int(reviews[1]),
        orphan_reviews=int(reviews[2]),
        pfd_addressee_records_stored=int(addressees[0]),
        pfd_addressees=int(addressees[1]),
        pfd_responses_overdue=int(addressees[2]),
        theme_records_stored=int(themes[0]),
        themes=int(themes[1]),
        missing=tuple(Gap(*g) for g in gaps),
        key_fingerprint=key[0] if key else None,
        feeds=feeds,
        activity_differs=tuple((str(p), int(n)) for p, n in differs),
    )


def _feeds(con: duckdb.DuckDBPyConnection) -> tuple[FeedStatus, ...]:
    rows = con.execute(
        """
        SELECT feed, count(*), max(loaded_at), min(covers_from), max(covers_to), sum(rows_kept),
               sum(coalesce(rows_discarded_unlinked, 0) + rows_unlinkable),
               max(feed_load_id)
        FROM feed_load GROUP BY feed ORDER BY feed
        """
    ).fetchall()
    last_registrations = max((r[7] for r in rows if r[0] == "registrations"), default=None)
    relink = False
    if last_registrations is not None:
        ((spells, submissions),) = con.execute(
            "SELECT (SELECT max(feed_load_id) FROM feed_load WHERE feed = 'spells' "
            "AND loaded_at > l.loaded_at), (SELECT max(submission_id) FROM submission AS s "
            "WHERE s.loaded_at > l.loaded_at) FROM feed_load AS l WHERE feed_load_id = ?",
            [last_registrations],
        ).fetchall()
        relink = spells is not None or submissions is not None
    return tuple(
        FeedStatus(
            feed=r[0],
            loads=int(r[1]),
            last_loaded=r[2],
            covers_from=r[3],
            covers_to=r[4],
            rows_kept=int(r[5] or 0),
            rows_discarded=int(r[6] or 0),
            relink_advised=relink and r[0] == "registrations",
        )
        for r in rows
    )


@dataclass(frozen=True)
class HistoryRow:
    submission_id: int
    provider: str
    reporting_period: str
    spec_version: str
    received_at: dt.datetime
    status: str
    superseded_by: int | None
    late: bool
    death_rows: int
    new_records: int
    updated_records: int
    withdrawn_records: int
    activity_rows: int
    warnings: int
    files: str
    review_rows: int
    pfd_addressee_rows: int
    theme_rows: int


def history(
    path: Path, provider: str | None = None, reporting_period: str | None = None
) -> list[HistoryRow]:
    """Every submission (optionally of one provider or period), oldest first, and what it did."""
    with reading(path) as con:
        rows = con.execute(
            """
            SELECT s.submission_id, s.provider, s.reporting_period, s.spec_version, s.received_at,
                   s.status, s.superseded_by, s.late, s.death_rows,
                   count(r.source_row) FILTER (WHERE r.record_action = 'N'),
                   count(r.source_row) FILTER (WHERE r.record_action = 'U'),
                   count(r.source_row) FILTER (WHERE r.record_action = 'D'),
                   s.activity_rows, s.warnings,
                   (SELECT string_agg(file_name, ', ' ORDER BY file_name) FROM submission_file AS f
                    WHERE f.submission_id = s.submission_id),
                   s.review_rows, s.pfd_addressee_rows, s.theme_rows
            FROM submissions AS s LEFT JOIN death_record AS r USING (submission_id)
            WHERE (? IS NULL OR s.provider = ?) AND (? IS NULL OR s.reporting_period = ?)
            GROUP BY ALL
            ORDER BY s.provider, s.reporting_period, s.received_at, s.submission_id
            """,
            [provider, provider, reporting_period, reporting_period],
        ).fetchall()
    return [HistoryRow(*row) for row in rows]

"""Each provider's quarterly summary: the shape of a trust board paper under Learning from Deaths.

The Learning from Deaths framework asks every trust board to receive, each quarter, its deaths,
how many were reviewed, how many were judged more likely than not due to problems in care, and how
families were involved. This module takes those counts for the quarter from the warehouse, adds
the provider's place in the national benchmarks (its rates, standardised ratios and bands over
their pooling windows) and the quality of its submissions, with every count released under the
same disclosure rule as the national report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from mhdeaths.benchmark.compute import (
    Benchmarks,
    Window,
    as_at_sql,
    maturity_day,
    window_ending,
)
from mhdeaths.benchmark.disclosure_control import (
    Cell,
    Released,
    banded_at,
    detectable_at,
    detectable_value,
    power_size,
)
from mhdeaths.benchmark.indicators import load_indicators
from mhdeaths.stats import disclose
from mhdeaths.warehouse.overview import reading


@dataclass(frozen=True)
class Line:
    label: str
    value: Cell


@dataclass(frozen=True)
class ProviderSummary:
    provider: str
    quarter: Window
    deaths: list[Line]
    learning: list[Line]
    quality: list[Line]
    position: list[dict[str, Cell]]
    """The provider's released row of every indicator, with the indicator's title and unit, and
    for a standardised ratio or a proportion banded on its funnel what that funnel could detect at
    the provider's published expected count or denominator (``power`` the kind, ``power_size``
    the figure, ``detectable`` the relative risk and, for a proportion, ``detectable_value`` the
    value it means; None where the row is withheld, too small to be banded, or beyond reach)."""
    sentinels: list[Line] = field(default_factory=list)
    """The quarter's sentinel events, and the inquests and responses waiting as at the
    benchmark day (:data:`SENTINEL_LABELS`)."""
    as_at: dt.date | None = None
    """The benchmark day the waits among the sentinels are counted at."""


_DEATHS = (
    ("Inpatient deaths", "death_category = 'IPD'"),
    ("of which suicide (ONS definition)", "death_category = 'IPD' AND cause_group = 'SUI'"),
    ("Deaths within 30 days of discharge", "death_category = 'D30'"),
    ("of which suicide (ONS definition)", "death_category = 'D30' AND cause_group = 'SUI'"),
    ("Deaths awaiting admission", "died_awaiting_admission"),
    ("Other deaths reported (out of scope)", "death_category = 'OOS'"),
    # Appended, so that earlier lines keep their data-line keys. Left out of the D30 indicator
    # (deaths_after_discharge_v2): the receiving provider reports the death as its own.
    (
        "Deaths within 30 days of a transfer discharge (not in the D30 rate)",
        "death_category = 'D30' AND transfer_discharge",
    ),
)
_IN_SCOPE = "death_category IN ('IPD', 'D30', 'AWA')"
_LEARNING = (
    ("Deaths in scope", "TRUE"),
    ("Review needed (screened in, or a national red flag)", "review_needed"),
    ("Case record review completed", "crr_completed_date IS NOT NULL"),
    ("Investigated (patient safety incident investigation)", "investigated"),
    ("Judged more likely than not due to problems in care", "problems_in_care_crr = 'Y'"),
    ("Family or carers involved in a review", "family_involved = 'Y'"),
    ("Family or carers invited but declined", "family_involved = 'D'"),
    # Appended, so that earlier lines keep their data-line keys. The quarter's deaths are recent:
    # this is the count so far, not the indicator (which waits 3 months, mature_months).
    (
        "Review needed and a review completed within 3 months of the death",
        "review_needed AND first_review_completed_date <= death_date + INTERVAL 3 MONTH",
    ),
)


def _indicator_where(indicator_id: str) -> str:
    """A sentinel indicator's condition, as ``warehouse/indicators`` states it: the page counts
    the quarter's deaths the report's sentinel table counts over its window."""
    indicator = next(i for i in load_indicators() if i.id == indicator_id)
    return f"({indicator.numerator.where})"


_SENTINEL_DEATHS = (
    ("Deaths awaiting admission", "deaths_awaiting_admission"),
    (
        "Deaths within 24 hours of a restrictive intervention",
        "deaths_after_restrictive_intervention",
    ),
    ("Deaths in state detention (Mental Health Act)", "deaths_in_state_detention"),
    # R/2025/054: ligatures with no anchor point, which anti-ligature ward design does not stop.
    ("Deaths by a non-anchored ligature", "ligature_anchor = 'N'"),
)
_SENTINEL_WAITING = (
    "Inquests open more than 12 months",
    "Responses to Prevention of Future Deaths reports overdue",
)
SENTINEL_LABELS = tuple(label for label, _ in _SENTINEL_DEATHS) + _SENTINEL_WAITING
"""The sentinel lines of a summary: four counts of the quarter's deaths, then two counts as at
the benchmark day."""

QUARTER_LINES = (
    tuple(f"deaths.{i}" for i in range(len(_DEATHS)))
    + tuple(f"learning.{i}" for i in range(len(_LEARNING)))
    + tuple(f"sentinel.{i}" for i in range(len(SENTINEL_LABELS)))
)
"""The keys of a summary's counts of the quarter (and its sentinel counts), in order (each page's
``data-line``)."""


def _sentinel_where(name: str) -> str:
    # An indicator's id has no spaces; a condition of the page's own does.
    return name if " " in name else _indicator_where(name)


def benchmark_day(benchmarks: Benchmarks) -> dt.date:
    """The day the waits are counted at: the benchmarks' own (the run's as-at, and never before
    the day after the period)."""
    return benchmarks.mature_at or maturity_day(benchmarks.as_at, benchmarks.period)


def quarter_counts(path: Path, benchmarks: Benchmarks) -> dict[str, tuple[int, ...]]:
    """Each provider's unrounded counts of the quarter ending at the benchmark period, in the
    order of :data:`QUARTER_LINES` (providers with no deaths in the quarter are left out)."""
    quarter = window_ending(benchmarks.period, 3)
    params = {"start": quarter.start, "end": quarter.end}
    # The summaries read the warehouse as at the same time as the benchmarks they sit beside.
    at = as_at_sql(benchmarks.as_at)
    deaths_sql = ", ".join(f"count(*) FILTER (WHERE {w})" for _, w in _DEATHS)
    learning_sql = ", ".join(f"count(*) FILTER (WHERE {_IN_SCOPE} AND {w})" for _, w in _LEARNING)
    sentinel_sql = ", ".join(
        f"count(*) FILTER (WHERE {_sentinel_where(w)})" for _, w in _SENTINEL_DEATHS
    )
    day = {"day": benchmark_day(benchmarks)}
    with reading(path) as con:
        counts = {
            row[0]: tuple(int(c) for c in row[1:])
            for row in con.execute(
                f"SELECT attributed_provider, {deaths_sql}, {learning_sql}, {sentinel_sql} "
                f"FROM deaths_as_at({at}) "
                "WHERE counted AND death_date >= $start AND death_date < $end GROUP BY 1",
                params,
            ).fetchall()
        }
        # Counted on the benchmark day rather than the as-at's own (today, for a run as at now):
        # a synthetic or replayed history is benchmarked as at the day after its period.
        inquests = dict(
            con.execute(
                f"SELECT attributed_provider, count(*) "
                f"FROM inquests_open_over_12_months_on({at}, $day) GROUP BY 1",
                day,
            ).fetchall()
        )
        overdue = dict(
            con.execute(
                f"SELECT org_id_provider, count(*) FROM pfd_responses_on({at}, $day) "
                "WHERE overdue GROUP BY 1",
                day,
            ).fetchall()
        )
    quarter_only = len(QUARTER_LINES) - len(_SENTINEL_WAITING)
    return {
        provider: (
            *counts.get(provider, (0,) * quarter_only),
            int(inquests.get(provider, 0)),
            int(overdue.get(provider, 0)),
        )
        for provider in sorted(set(counts) | set(inquests) | set(overdue))
    }


def provider_summaries(
    path: Path, benchmarks: Benchmarks, released: Released
) -> list[ProviderSummary]:
    """One summary per provider with activity, for the quarter ending at the benchmark period."""
    quarter = window_ending(benchmarks.period, 3)
    at = as_at_sql(benchmarks.as_at)
    rule = released.rule.name
    deaths = quarter_counts(path, benchmarks)
    with reading(path) as con:
        quality = {
            row[0]: row[1:]
            for row in con.execute(
                f"""
                SELECT provider, count(*), count(*) FILTER (WHERE late),
                       sum(resubmissions), round(avg(completeness_pct), 1), sum(warnings),
                       sum(category_disagreements), sum(duplicates_resolved)
                FROM data_quality_as_at({at})
                WHERE reporting_period BETWEEN $first AND $last GROUP BY 1
                """,
                {"first": quarter.first, "last": quarter.last},
            ).fetchall()
        }
        # The national feeds' view of the quarter's deaths (issue 16): counts only; the trust
        # finds the deaths themselves from its own spells.
        linked = con.execute(
            f"SELECT count(*) FROM feed_load WHERE feed = 'registrations' AND received_at <= {at}"
        ).fetchall()[0][0]
        reconciled = {
            row[0]: row[1:]
            for row in con.execute(
                f"""
                SELECT provider, sum(missed), sum(reported_not_registered)
                FROM reconciliation_as_at({at})
                WHERE death_month BETWEEN $first AND $last GROUP BY 1
                """,
                {"first": quarter.first, "last": quarter.last},
            ).fetchall()
        }
    titles = {d["indicator"]: d for d in released.indicators}
    summaries = []
    for provider in benchmarks.providers:
        counts = deaths.get(provider, (0,) * len(QUARTER_LINES))
        text = disclose([float(c) for c in counts], rule=rule).text
        shown = [_number(t) for t in text]
        q = quality.get(provider)
        # Counts of records (warnings, disagreements, deaths counted elsewhere) are counts of
        # people too, so they are released under the rule; counts of files are not.
        r = reconciled.get(provider, (0, 0))
        people = disclose(
            [float(q[i] or 0) if q else 0.0 for i in (4, 5, 6)] + [float(n or 0) for n in r],
            rule=rule,
        ).text
        quality_lines = [
            Line("Monthly submissions received", q[0] if q else 0),
            Line("of which late", q[1] if q else None),
            Line("Resubmissions", q[2] if q else None),
            Line("Completeness of required fields (%)", q[3] if q else None),
            Line("Warnings at validation", _number(people[0]) if q else None),
            Line(
                "Declared death category differing from the derived one",
                _number(people[1]) if q else None,
            ),
            Line(
                "Deaths also reported by another provider (counted once)",
                _number(people[2]) if q else None,
            ),
            # None (shown as a dash) until death registrations are loaded.
            Line(
                "Registered deaths your spells link to that you have not reported",
                _number(people[3]) if linked else None,
            ),
            Line("Reported deaths not yet registered", _number(people[4]) if linked else None),
        ]
        position = [
            _position(row, titles[str(row["indicator"])])
            for row in released.rows
            if row["provider"] == provider
        ]
        summaries.append(
            ProviderSummary(
                provider,
                quarter,
                [Line(label, v) for (label, _), v in zip(_DEATHS, shown, strict=False)],
                [
                    Line(label, v)
                    for (label, _), v in zip(
                        _LEARNING, shown[len(_DEATHS) : len(_DEATHS) + len(_LEARNING)], strict=True
                    )
                ],
                quality_lines,
                position,
                [
                    Line(label, v)
                    for label, v in zip(
                        SENTINEL_LABELS, shown[len(_DEATHS) + len(_LEARNING) :], strict=True
                    )
                ],
                benchmark_day(benchmarks),
            )
        )
    return summaries


def _position(row: dict[str, Cell], meta: dict[str, Cell]) -> dict[str, Cell]:
    """The provider's released row of an indicator, with what its page says of the indicator:
    the title and unit, and the power statement at the provider's own published size."""
    size = power_size(row, meta)
    return {
        **row,
        "title": meta["title"],
        "unit": meta["unit"],
        "standardised": meta["standardised_by"] is not None,
        "min_expected": meta["min_expected"],
        "power": meta.get("detectable_kind"),
        "power_size": size,
        "banded": banded_at(size, meta),
        "detectable": detectable_at(size, meta),
        "detectable_value": detectable_value(size, meta),
    }


def _number(text: str) -> Cell:
    return text if text in ("*", "") else int(float(text))

"""Every indicator, for every provider, from the warehouse: counts, rates, ratios, funnel bands.

The warehouse has already applied the agreed definitions and counted each death once; this module
only counts what an indicator names and compares providers. Counts are taken once per indicator
from two temporary tables (the deaths counted and the current activity, as at a time), so that a
national history of ten years and sixty providers is benchmarked in well under a second. Every
figure here is unrounded and unsuppressed, and none is published as it stands: the release step
(``mhdeaths.benchmark.disclosure_control``) applies disclosure control to the counts and computes every
published figure again from the released counts, with the functions shared from here
(:func:`crude`, :func:`ratio_limits`, :func:`provider_funnel`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from mhdeaths.benchmark.indicators import Indicator, Variant, load_indicators
from mhdeaths.errors import UserError
from mhdeaths.periods import add_months, period_start
from mhdeaths.stats import (
    FunnelResult,
    ci_count,
    ci_proportion,
    funnel,
    indirect_standardise,
    rate,
)
from mhdeaths.steps import step
from mhdeaths.warehouse.overview import reading
from mhdeaths.warehouse.rederive import Definitions, definitions_in_force

NATIONAL = "England"
"""The label of the national row of every table."""

UNKNOWN_STRATUM = "unknown"


@dataclass(frozen=True)
class Window:
    """Whole reporting months, first to last inclusive (``CCYY-MM``)."""

    first: str
    last: str

    @property
    def start(self) -> dt.date:
        return period_start(self.first)

    @property
    def end(self) -> dt.date:
        """The first day after the window."""
        return add_months(period_start(self.last), 1)

    @property
    def months(self) -> int:
        start, last = self.start, period_start(self.last)
        return (last.year - start.year) * 12 + last.month - start.month + 1

    @property
    def label(self) -> str:
        return self.first if self.first == self.last else f"{self.first} to {self.last}"


class NoActivity(UserError):
    """The warehouse holds nothing to benchmark yet (no period given and no activity loaded)."""


def window_ending(period: str, months: int) -> Window:
    """The ``months`` whole months that end with ``period``."""
    last = period_start(period)
    return Window(add_months(last, 1 - months).strftime("%Y-%m"), period)


@dataclass(frozen=True)
class IndicatorResult:
    """One indicator (one variant of it) over its pooling window, for every provider."""

    indicator: Indicator
    variant: Variant
    window: Window
    providers: pl.DataFrame
    """One row per provider: observed, denominator, value with its limits, and where it applies
    the expected count, standardised ratio with its limits, funnel z-score and bands."""
    national: dict[str, float | None]
    funnel: FunnelResult | None
    trend: pl.DataFrame
    """Per calendar year, each provider's and the national observed, denominator and value."""
    monthly: pl.DataFrame | None = None
    """For the variant an indicator monitors (``Indicator.monitor``): one row per provider at
    risk and month of the window, with ``observed``, ``expected`` (each provider's months adding
    up to its expected count over the window) and ``denominator``. Never published: the
    monitoring step charts these and releases only the charts' thresholds."""

    @property
    def key(self) -> str:
        if len(self.indicator.live_variants) == 1:
            return self.indicator.id
        return f"{self.indicator.id}.{self.variant.id}"

    @property
    def title(self) -> str:
        if len(self.indicator.live_variants) == 1:
            return self.indicator.title
        return f"{self.indicator.title}: {self.variant.title.lower()}"

    @property
    def standardised(self) -> bool:
        return bool(self.indicator.standardise_by)


@dataclass(frozen=True)
class Benchmarks:
    """The indicators for one reporting period (the last month of every pooling window)."""

    period: str
    as_at: dt.datetime | None
    results: tuple[IndicatorResult, ...]
    providers: tuple[str, ...]
    definitions: Definitions
    """The definitions every record was derived under, which each published figure names."""
    mature_at: dt.date | None = None
    """The day an indicator's ``mature_months`` count back from (see :func:`maturity_day`)."""


def compute(
    path: Path,
    period: str | None = None,
    *,
    as_at: dt.datetime | None = None,
    indicators: tuple[Indicator, ...] | None = None,
    deaths: Callable[[duckdb.DuckDBPyConnection], tuple[str, Definitions]] | None = None,
) -> Benchmarks:
    """Every indicator for the window ending at ``period`` (default: the latest month loaded),
    from the warehouse as it stood at ``as_at`` (default: now).

    ``deaths``, when given, makes the deaths to benchmark in the open (read-only) connection
    instead of the warehouse's ``deaths_as_at``, and names the definitions that derived them:
    the impact assessment benchmarks the same records derived under another spec version."""
    chosen = indicators or load_indicators()
    if period is not None:
        period_start(period)
    results = []
    with reading(path) as con:
        if deaths is None:
            definitions = definitions_in_force(con, path)
            source = f"deaths_as_at({as_at_sql(as_at)})"
        else:
            source, definitions = deaths(con)
        if not _registrations_loaded(con, as_at):
            # Completeness needs the national feeds: until they are loaded it is not computed
            # (not reported as zero).
            chosen = tuple(
                i for i in chosen if i.denominator is None or i.denominator.expected is None
            )
        _stage(con, as_at, chosen, source)
        if period is None:
            row = con.execute("SELECT max(reporting_period) FROM bm_activity").fetchone()
            if row is None or row[0] is None:
                raise NoActivity(
                    f"The warehouse {path} holds no activity yet: load submissions first."
                )
            period = str(row[0])
        mature_at = maturity_day(as_at, period)
        for indicator in chosen:
            window = window_ending(period, indicator.pooling_months)
            for variant in indicator.live_variants:
                try:
                    with step(f"Computed {indicator.id} ({variant.id}) for {window}"):
                        results.append(
                            _one(con, indicator, variant, window, _maturity(indicator, mature_at))
                        )
                except (duckdb.Error, ValueError) as exc:
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise UserError(
                        f"The indicator {indicator.id} ({variant.id}) cannot be computed: {first}"
                    ) from None
        rows = con.execute("SELECT DISTINCT org_id_provider FROM bm_activity ORDER BY 1").fetchall()
    return Benchmarks(
        period, as_at, tuple(results), tuple(r[0] for r in rows), definitions, mature_at
    )


def _registrations_loaded(con: duckdb.DuckDBPyConnection, as_at: dt.datetime | None) -> bool:
    row = con.execute(
        f"SELECT count(*) FROM feed_load WHERE feed = 'registrations' "
        f"AND received_at <= {as_at_sql(as_at)}"
    ).fetchone()
    return bool(row and row[0])


def maturity_day(as_at: dt.datetime | None, period: str) -> dt.date:
    """The day ``mature_months`` count back from: the run's as-at (now, unless a past time is
    given), and never before the day after the benchmarked period, since a run cannot come
    before the end of the months it benchmarks (only synthetic histories are dated ahead)."""
    if as_at is not None:
        return as_at.date()
    return max(dt.date.today(), add_months(period_start(period), 1))


def _maturity(indicator: Indicator, mature_at: dt.date) -> str:
    """The SQL condition on a death that the indicator's ``mature_months`` sets: a death less
    than that many calendar months before ``mature_at`` is in neither count."""
    if not indicator.mature_months:
        return "TRUE"
    return f"death_date + INTERVAL {indicator.mature_months} MONTH <= DATE '{mature_at:%Y-%m-%d}'"


def as_at_sql(as_at: dt.datetime | None) -> str:
    """The SQL timestamp the warehouse's ``*_as_at`` macros take: now, or a past time (to the
    microsecond: a submission received within the second before ``as_at`` is in it)."""
    if as_at is None:
        return "TIMESTAMP 'infinity'"
    return f"TIMESTAMP '{as_at.replace(tzinfo=None).isoformat(sep=' ')}'"


_ALWAYS = {
    "deaths": ("org_id_provider", "death_date"),
    "activity": ("org_id_provider", "reporting_period"),
    "expected": ("org_id_provider", "death_date"),
}


def _stage(
    con: duckdb.DuckDBPyConnection,
    as_at: dt.datetime | None,
    indicators: tuple[Indicator, ...],
    deaths: str,
) -> None:
    # The deaths view ranks every record of every death; staging it once, with only the columns
    # some indicator names, is what keeps a full national history fast. Only counted deaths (one
    # record per death) are benchmarked.
    at = as_at_sql(as_at)
    text = " ".join(i.model_dump_json() for i in indicators)
    staged = [
        ("deaths", deaths, "year(death_date)", "WHERE counted"),
        ("activity", f"activity_as_at({at})", "CAST(left(reporting_period, 4) AS INTEGER)", ""),
    ]
    if any(i.denominator is not None and i.denominator.expected for i in indicators):
        # The deaths the national feeds expected, under the provider whose spell they link to
        # (linked only when an indicator asks: a warehouse with no feeds pays nothing).
        expected = (
            "(SELECT * EXCLUDE (expected_provider), expected_provider AS org_id_provider "
            f"FROM expected_deaths_as_at({at}))"
        )
        staged.append(("expected", expected, "year(death_date)", ""))
    for view, source, extra, where in staged:
        cursor = con.execute(f"SELECT * FROM {source} LIMIT 0")
        available = [d[0] for d in cursor.description or []]
        named = [
            c for c in available if c in _ALWAYS[view] or re.search(rf"\b{re.escape(c)}\b", text)
        ]
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE bm_{view} AS SELECT {', '.join(named)}, "
            f"{extra} AS year FROM {source} {where}"
        )


def _one(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    variant: Variant,
    window: Window,
    mature: str = "TRUE",
) -> IndicatorResult:
    if indicator.listed:
        return _listed(con, indicator, variant, window, mature)
    strata = _strata(
        con, indicator, variant, window, by=list(indicator.standardise_by), mature=mature
    )
    per_provider = strata.group_by("provider").agg(pl.col("observed", "denominator").sum())
    per_provider = per_provider.sort("provider")
    o = per_provider["observed"].to_numpy().astype(float)
    n = per_provider["denominator"].to_numpy().astype(float)
    value, lower, upper = crude(indicator, o, n)
    table = per_provider.with_columns(
        value=pl.Series(value), lower=pl.Series(lower), upper=pl.Series(upper)
    )
    at_risk = table.filter(pl.col("denominator") > 0)
    monthly = None
    if indicator.standardise_by and at_risk.height:
        ratios = _standardise(
            strata.filter(pl.col("provider").is_in(at_risk["provider"].implode()))
        )
        at_risk = at_risk.join(ratios, on="provider", how="left")
        if indicator.monitor is not None and indicator.monitor.variant == variant.id:
            monthly = _monthly(con, indicator, variant, window, strata, ratios)
    result = provider_funnel(indicator, at_risk)
    if result is not None:
        bands = result.units.select(pl.col("label").alias("provider"), "z", "band_95", "band_998")
        at_risk = at_risk.join(bands, on="provider", how="left")
    table = table.join(
        at_risk.drop("observed", "denominator", "value", "lower", "upper"),
        on="provider",
        how="left",
    )
    table = table.with_columns(
        note=pl.when(pl.col("denominator") == 0).then(pl.lit("no activity in the window"))
    )
    # The national figure is over the providers at risk, as the funnel's target is.
    total_o, total_n = float(o[n > 0].sum()), float(n[n > 0].sum())
    nv, nl, nu = crude(indicator, np.array([total_o]), np.array([total_n]))
    national: dict[str, float | None] = {
        "observed": total_o,
        "denominator": total_n,
        "value": _finite(nv[0]),
        "lower": _finite(nl[0]),
        "upper": _finite(nu[0]),
    }
    return IndicatorResult(
        indicator,
        variant,
        window,
        table,
        national,
        result,
        _trend(con, indicator, variant, window, mature),
        monthly,
    )


def _monthly(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    variant: Variant,
    window: Window,
    strata: pl.DataFrame,
    ratios: pl.DataFrame,
) -> pl.DataFrame:
    """Each provider's observed, expected and denominator per month of the window.

    A month's expected count applies the window's national stratum rates (as the standardised
    ratio does) to the provider's activity in that month's strata; each provider's months are then
    scaled to add up to its expected count over the window, so the chart and the funnel compare
    a provider with the same expectation."""
    assert indicator.denominator is not None and indicator.denominator.activity is not None
    by = list(indicator.standardise_by)
    rows = _strata(con, indicator, variant, window, by=by, monthly=True)
    # A stratum with no activity has no national rate: its deaths add nothing expected.
    reference = strata.group_by(by).agg(
        pl.when(pl.col("denominator").sum() > 0)
        .then(pl.col("observed").sum() / pl.col("denominator").sum())
        .otherwise(0.0)
        .alias("reference_rate")
    )
    rows = rows.join(reference, on=by, how="left").with_columns(
        (pl.col("reference_rate").fill_null(0.0) * pl.col("denominator")).alias("raw")
    )
    per_month = rows.group_by("provider", "month").agg(
        pl.col("observed", "denominator", "raw").sum()
    )
    months = [add_months(window.start, i).strftime("%Y-%m") for i in range(window.months)]
    grid = ratios.select("provider", pl.col("expected").alias("pooled")).join(
        pl.DataFrame({"month": months}), how="cross"
    )
    full = grid.join(per_month, on=["provider", "month"], how="left").with_columns(
        pl.col("observed", "denominator", "raw").fill_null(0.0)
    )
    total = pl.col("raw").sum().over("provider")
    return (
        full.with_columns(
            pl.when(total > 0)
            .then(pl.col("pooled") * pl.col("raw") / total)
            .otherwise(0.0)
            .alias("expected")
        )
        .select("provider", "month", "observed", "expected", "denominator")
        .sort("provider", "month")
    )


def _frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None
) -> pl.DataFrame:
    """A query's (small) result as a polars frame: counts are floats, so sums stay exact."""
    cursor = con.execute(sql, dict(params or {}))
    names = [d[0] for d in cursor.description or []]
    rows = cursor.fetchall()
    frame = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
    decimals = [n for n, t in frame.schema.items() if isinstance(t, pl.Decimal)]
    frame = frame.with_columns(pl.col(decimals).cast(pl.Float64))
    if frame.height == 0:
        # An empty result has no types to infer: labels are text and the rest are numbers.
        labels = [n for n in ("provider", "age_band", "stated_gender") if n in names]
        frame = frame.with_columns(pl.col(pl.Null).cast(pl.Float64)).with_columns(
            pl.col(labels).cast(pl.String)
        )
    return frame


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def provider_funnel(
    indicator: Indicator, at_risk: pl.DataFrame, target: float | None = None
) -> FunnelResult | None:
    """The funnel of the providers at risk (``provider``, ``observed`` and ``denominator``, and
    ``expected`` for a standardised indicator), or None when there are none.

    The release step runs this again on the released counts, so the plotted point, its band and
    the published numbers come from the same figures."""
    if not at_risk.height:
        return None
    observed = at_risk["observed"].to_numpy().astype(float)
    if indicator.standardise_by:
        against, kind = at_risk["expected"].to_numpy().astype(float), "ratio"
    else:
        against = at_risk["denominator"].to_numpy().astype(float)
        kind = "proportion" if indicator.kind == "proportion" else "rate"
    return funnel(
        observed,
        against,
        kind=kind,  # type: ignore[arg-type]
        target=target,
        labels=at_risk["provider"].to_list(),
        min_expected=indicator.min_expected,
        overdispersion=indicator.method.overdispersion,
        trim=indicator.method.trim,
    )


def ratio_limits(observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 95% limits of a standardised ratio: the observed count's limits over the expected
    count (as ``indirect_standardise`` gives them; NaN where nothing is expected)."""
    usable = np.isfinite(observed) & np.isfinite(expected) & (expected > 0)
    low, up = ci_count(np.where(usable, observed, 0.0))
    safe_e = np.where(usable, expected, 1.0)
    return (
        np.where(usable, np.asarray(low) / safe_e, np.nan),
        np.where(usable, np.asarray(up) / safe_e, np.nan),
    )


def crude(
    indicator: Indicator, o: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The crude value and its 95% limits, in the indicator's unit (NaN where n is 0 or either
    count is missing)."""
    if not len(o):
        empty = np.array([], dtype=float)
        return empty, empty, empty
    # No figure where nothing was at risk, nor (for a proportion) where more events were counted
    # than the denominator holds: deaths in a window's first days after discharges before it.
    usable = np.isfinite(o) & (n > 0) & ((o <= n) if indicator.kind == "proportion" else True)
    safe_n = np.where(usable, n, 1.0)
    safe_o = np.where(usable, o, 0.0)
    m = indicator.multiplier
    if indicator.kind == "proportion":
        low, up = ci_proportion(safe_o, safe_n)
        value, lower, upper = safe_o / safe_n * m, np.asarray(low) * m, np.asarray(up) * m
    else:
        v, low, up = rate(safe_o, safe_n, multiplier=m)
        value, lower, upper = np.asarray(v), np.asarray(low), np.asarray(up)
    return tuple(np.where(usable, x, np.nan) for x in (value, lower, upper))  # type: ignore[return-value]


def _strata(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    variant: Variant,
    window: Window,
    *,
    by: list[str],
    mature: str = "TRUE",
    monthly: bool = False,
) -> pl.DataFrame:
    """Observed and denominator per provider and stratum over the window (of the deaths old
    enough to count, ``mature``, for a share of deaths); with ``monthly``, per calendar month
    of the window too (a ``month`` column, CCYY-MM: the CUSUM charts' rows)."""
    assert indicator.denominator is not None
    params = {"start": window.start, "end": window.end, "first": window.first, "last": window.last}
    date = indicator.numerator.date
    in_window = f"{date} >= $start AND {date} < $end"
    if indicator.denominator.share_of is not None:
        table, condition = indicator.denominator.share_of
        sql = f"""
            SELECT org_id_provider AS provider,
                   count(*) FILTER (WHERE ({indicator.numerator.where}) AND ({variant.where}))
                       AS observed,
                   count(*) AS denominator
            FROM {table}
            WHERE {in_window} AND ({condition}) AND {mature}
            GROUP BY ALL
        """
        return _frame(con, sql, {"start": window.start, "end": window.end})
    keys = ["provider", *(["month"] if monthly else []), *by]
    death_strata = "".join(f", coalesce({s}, '{UNKNOWN_STRATUM}') AS {s}" for s in by)
    activity_strata = "".join(f", {s}" for s in by)
    death_month = f", strftime({date}, '%Y-%m') AS month" if monthly else ""
    activity_month = ", reporting_period AS month" if monthly else ""
    sql = f"""
        WITH num AS (
            SELECT org_id_provider AS provider{death_month}{death_strata}, count(*) AS observed
            FROM bm_deaths
            WHERE {in_window} AND ({indicator.numerator.where}) AND ({variant.where})
            GROUP BY ALL
        ),
        den AS (
            SELECT org_id_provider AS provider{activity_month}{activity_strata},
                   sum({indicator.denominator.activity}) AS denominator
            FROM bm_activity
            WHERE reporting_period BETWEEN $first AND $last
            GROUP BY ALL
        )
        SELECT {", ".join(keys)},
               coalesce(observed, 0) AS observed, coalesce(denominator, 0) AS denominator
        FROM den FULL JOIN num USING ({", ".join(keys)})
    """
    frame = _frame(con, sql, params)
    return frame.with_columns(pl.col("observed", "denominator").cast(pl.Float64))


def _standardise(strata: pl.DataFrame) -> pl.DataFrame:
    """Indirectly standardised ratios against the national rate of each stratum.

    A death whose stratum has no activity (no age band: the date of birth was not known) counts
    as observed but cannot add to any expected count; expected counts are scaled so that the
    national observed and expected agree, which keeps the national ratio at 1 by construction.
    """
    keys = [c for c in strata.columns if c not in ("provider", "observed", "denominator")]
    reference = strata.group_by(keys).agg(
        pl.col("observed").sum().alias("ref_observed"),
        pl.col("denominator").sum().alias("ref_denominator"),
    )
    rows = strata.join(reference, on=keys, how="left").with_columns(
        # A stratum with no activity has no national rate: its deaths add nothing expected.
        pl.when(pl.col("ref_denominator") > 0).then(pl.col("ref_observed")).otherwise(0.0),
        pl.when(pl.col("ref_denominator") > 0).then(pl.col("ref_denominator")).otherwise(1.0),
    )
    ratios = indirect_standardise(
        rows["observed"].to_numpy(),
        rows["denominator"].to_numpy(),
        rows["ref_observed"].to_numpy(),
        rows["ref_denominator"].to_numpy(),
        unit=rows["provider"].to_list(),
    )
    observed, expected = float(strata["observed"].sum()), float(ratios["expected"].sum())
    scale = observed / expected if expected > 0 else 1.0
    return ratios.select(
        pl.col("unit").alias("provider"),
        (pl.col("expected") * scale).alias("expected"),
        (pl.col("ratio") / scale).alias("ratio"),
        (pl.col("lower") / scale).alias("ratio_lower"),
        (pl.col("upper") / scale).alias("ratio_upper"),
    )


def _trend(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    variant: Variant,
    window: Window,
    mature: str = "TRUE",
) -> pl.DataFrame:
    """Crude figures per calendar year, per provider and nationally (not banded: annual numbers
    are too small to compare providers, and serve as national trends)."""
    assert indicator.denominator is not None
    date = indicator.numerator.date
    if indicator.denominator.share_of is not None:
        table, condition = indicator.denominator.share_of
        sql = f"""
            SELECT org_id_provider AS provider, year({date}) AS year,
                   count(*) FILTER (WHERE ({indicator.numerator.where}) AND ({variant.where}))
                       AS observed,
                   count(*) AS denominator
            FROM {table}
            WHERE {date} < $end AND ({condition}) AND {mature}
            GROUP BY ALL
        """
        params: dict[str, object] = {"end": window.end}
    else:
        sql = f"""
            WITH num AS (
                SELECT org_id_provider AS provider, year({date}) AS year, count(*) AS observed
                FROM bm_deaths
                WHERE {date} < $end AND ({indicator.numerator.where}) AND ({variant.where})
                GROUP BY ALL
            ),
            den AS (
                SELECT org_id_provider AS provider, year,
                       sum({indicator.denominator.activity}) AS denominator
                FROM bm_activity WHERE reporting_period <= $last GROUP BY ALL
            )
            SELECT provider, year, coalesce(observed, 0) AS observed,
                   coalesce(denominator, 0) AS denominator
            FROM den FULL JOIN num USING (provider, year)
        """
        params = {"end": window.end, "last": window.last}
    # Up to the end of the window: nothing after the period is published.
    frame = _frame(con, sql, params).with_columns(
        pl.col("observed", "denominator").cast(pl.Float64)
    )
    national = frame.group_by("year").agg(pl.col("observed", "denominator").sum())
    frame = pl.concat(
        [
            frame,
            national.select(pl.lit(NATIONAL).alias("provider"), "year", "observed", "denominator"),
        ]
    ).sort("provider", "year")
    value, lower, upper = crude(
        indicator, frame["observed"].to_numpy(), frame["denominator"].to_numpy()
    )
    return frame.with_columns(
        value=pl.Series(value), lower=pl.Series(lower), upper=pl.Series(upper)
    )


def _listed(
    con: duckdb.DuckDBPyConnection,
    indicator: Indicator,
    variant: Variant,
    window: Window,
    mature: str = "TRUE",
) -> IndicatorResult:
    """A median (with its quartiles) or a count, per provider, nationally and per year."""
    params = {"start": window.start, "end": window.end}
    where = f"({indicator.numerator.where}) AND ({variant.where}) AND {mature}"
    summary = "count(*)::DOUBLE AS observed"
    if indicator.measure is not None:
        summary += f""",
        quantile_cont({indicator.measure}, 0.5) AS value,
        quantile_cont({indicator.measure}, 0.25) AS q1,
        quantile_cont({indicator.measure}, 0.75) AS q3"""
    date = indicator.numerator.date
    in_window = f"{date} >= $start AND {date} < $end"
    table = _frame(
        con,
        f"SELECT org_id_provider AS provider, {summary} FROM bm_deaths "
        f"WHERE {in_window} AND {where} GROUP BY ALL ORDER BY provider",
        params,
    )
    row = con.execute(f"SELECT {summary} FROM bm_deaths WHERE {in_window} AND {where}", params)
    names = ("observed", "value", "q1", "q3")
    national: dict[str, float | None] = dict.fromkeys(names)
    national.update(zip(names, row.fetchone() or (0.0,), strict=False))
    upto = f"{date} < $end AND {where}"
    trend = _frame(
        con,
        f"SELECT org_id_provider AS provider, year({date}) AS year, {summary} FROM bm_deaths "
        f"WHERE {upto} GROUP BY ALL UNION ALL SELECT '{NATIONAL}', year({date}), {summary} "
        "FROM bm_deaths "
        f"WHERE {upto} GROUP BY ALL ORDER BY 1, 2",
        {"end": window.end},
    )
    return IndicatorResult(indicator, variant, window, table, national, None, trend)

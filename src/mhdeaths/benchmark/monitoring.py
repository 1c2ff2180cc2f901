"""Monthly monitoring: each provider's risk-adjusted CUSUM chart, released as its alerts only.

Why this module exists: a funnel of deaths pooled over 36 months sees a change late (issue 19).
The indicators that say ``monitor:`` (``warehouse/indicators/*.yaml``) are charted each month per
provider with ``mhdeaths.stats.cusum``: a Poisson chart for a rate over bed days, a Bernoulli one
for a proportion of discharges, upward only, tuned to a doubling, reset after each alert, over the
indicator's pooling window. This module runs the charts on the true monthly counts and decides
what of them may be published.

What is published, and why so little. A chart's statistic is a running sum of
``O ln R − (R − 1) E``: two consecutive values and the month's expected count give back that
month's deaths exactly, and monthly deaths of one provider are almost all counts the disclosure
rule withholds. So no statistic, no monthly count and no monthly expected count is released:
only each provider's threshold (computed from its *published* expected count, so it says nothing
the report does not) and the months it alerted in, drawn as marks on a timeline. Even an alert
says something: the statistic can rise by at most ``ln R`` per death, so an alert says that the
months since the previous alert held at least ``m = ⌈h / ln R⌉`` deaths; and a chart with no
alert says the provider's deaths were below ``(h + (R − 1)E) / ln R``. Three rules keep those
statements from pinning a count that the release rounded or withheld (each from published figures
only, so that what is left out says nothing either):

1. a provider is charted only when its pooled count is released, and only when that count
   could hold an alert without the alert fixing it: ``r + 2 − 1 ≥ m`` for a released ``r`` (a
   rounded count is known to ``r ± 2``); otherwise it is listed as "too few deaths to chart";
2. at most ``⌊(r + 1) / m⌋`` alerts are released, the earliest, so that the deaths they imply
   stay below the top of the released count's range; and an alert whose months since the
   previous released alert lie inside the quarter of the provider's page is not released, since
   that page shows the quarter's deaths (withheld when small);
3. a provider is withheld (``*``) when "no alert" would fix its count at the bottom of its
   released range: when ``r − 2`` lies between the bounds that the expected count's published
   range gives (:func:`_silence_pins`); whether or not it alerted, so that ``*`` does not say
   which.

``tests/integration/test_benchmark_monitoring.py`` attacks the outputs with these relations.

Open: the rules look at one publication. Charts of consecutive monthly publications start a
month apart and reset at different months, so the stretches one passed without an alert bound
the months in which the next alerted; over four publications a random search over bursty
providers finds about one history in a hundred whose rounded pooled count is then fixed
(``test_consecutive_charts_of_a_burst_give_no_count_back``, an expected failure;
docs/statistics.md, "Consecutive publications: an open leak", says what would close it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from mhdeaths.benchmark.compute import NATIONAL, Benchmarks, IndicatorResult, Window, window_ending
from mhdeaths.benchmark.disclosure_control import Cell, Released
from mhdeaths.benchmark.indicators import Monitor
from mhdeaths.periods import add_months, period_start
from mhdeaths.stats import cusum, cusum_threshold
from mhdeaths.stats.disclosure import SUPPRESSED, get_rule

MONITORED = "monitored"
TOO_FEW = "too few deaths to chart"
NOT_AT_RISK = "nothing expected"
WITHHELD = SUPPRESSED

MONITORING_COLUMNS = ("indicator", "window", "provider", "status", "threshold", "alerts")
"""The columns of a released monitoring row (the CSV's and the workbook's)."""

# Thresholds are computed at each provider's expected deaths a month rounded *up* to a grid of
# eight steps per doubling (people at risk likewise), so providers of similar size share one
# Markov-chain computation (a third of a second each). The threshold grows with both, so the
# rounding can only lower the false-alarm rate below the stated one.
_STEPS_PER_DOUBLING = 8


@dataclass(frozen=True)
class ProviderChart:
    """What is released of one provider's chart."""

    provider: str
    status: str
    """``monitored``, ``*`` (withheld), "too few deaths to chart" or "nothing expected"."""
    threshold: float | None
    alerts: tuple[str, ...]
    """The months (``CCYY-MM``) of the released alerts, in order."""


@dataclass(frozen=True)
class Monitoring:
    """One indicator's charts, as released."""

    indicator: str
    title: str
    label: str
    """What the chart counts (the numerator's label), the row's name on a provider's page."""
    window: Window
    model: str
    """``poisson`` or ``binomial`` (Bernoulli outcomes, as the method note says)."""
    rate_ratio: float
    false_alarms_per_year: float
    least_deaths: dict[str, int]
    """Per charted provider, m: the deaths an alert implies at the least."""
    method_note: str
    charts: tuple[ProviderChart, ...]

    @property
    def months(self) -> list[str]:
        return [
            add_months(self.window.start, i).strftime("%Y-%m") for i in range(self.window.months)
        ]

    @property
    def alerts(self) -> list[tuple[str, str]]:
        """(provider, month) of every released alert."""
        return [(c.provider, m) for c in self.charts for m in c.alerts]

    def rows(self) -> list[dict[str, Cell]]:
        """The released rows, one per provider (:data:`MONITORING_COLUMNS`)."""
        return [
            {
                "indicator": self.indicator,
                "window": self.window.label,
                "provider": c.provider,
                "status": c.status,
                "threshold": c.threshold,
                "alerts": " ".join(c.alerts),
            }
            for c in self.charts
        ]

    def describe(self) -> dict[str, object]:
        return {
            "indicator": self.indicator,
            "title": self.title,
            "window": self.window.label,
            "months": self.window.months,
            "model": self.model,
            "rate_ratio": self.rate_ratio,
            "false_alarms_per_year": self.false_alarms_per_year,
            "method": self.method_note,
        }


def release_monitoring(benchmarks: Benchmarks, released: Released) -> tuple[Monitoring, ...]:
    """The released charts of every monitored indicator, under the release's rule."""
    quarter = window_ending(benchmarks.period, 3)
    out = []
    for truth, shown in zip(benchmarks.results, released.results, strict=True):
        if truth.monthly is None:
            continue
        rows = {str(r["provider"]): r for r in released.rows if r["indicator"] == truth.key}
        out.append(_one(truth, shown, rows, released.rule.name, quarter))
    return tuple(out)


def _one(
    truth: IndicatorResult,
    shown: IndicatorResult,
    rows: dict[str, dict[str, Cell]],
    rule: str,
    quarter: Window,
) -> Monitoring:
    monitor = truth.indicator.monitor
    assert monitor is not None and truth.monthly is not None
    bernoulli = truth.indicator.kind == "proportion"
    months = truth.window.months
    national = rows.get(NATIONAL, {}).get("observed")
    charts, least = [], {}
    for provider in sorted(p for p in rows if p != NATIONAL):
        row = rows[provider]
        r, expected, people = row.get("observed"), row.get("expected"), row.get("denominator")
        if r == SUPPRESSED or r is None:
            charts.append(ProviderChart(provider, WITHHELD, None, ()))
            continue
        if not _number(expected) or float(expected) <= 0:  # type: ignore[arg-type]
            charts.append(ProviderChart(provider, NOT_AT_RISK, None, ()))
            continue
        e = float(expected)  # type: ignore[arg-type]
        n = float(people) if bernoulli and _number(people) else None  # type: ignore[arg-type]
        h = _threshold(e / months, None if n is None else n / months, monitor)
        m = math.ceil(h / math.log(monitor.rate_ratio) - 1e-9)
        count = int(r)
        rounding = get_rule(rule)
        if count == 0 or count + 1 < m:
            charts.append(ProviderChart(provider, TOO_FEW, h, ()))
            continue
        # Decided before the chart is looked at: withheld only when there is no alert would
        # make "*" itself say that there was none.
        if _silence_pins(count, e, n, national, h, monitor.rate_ratio, rounding):
            charts.append(ProviderChart(provider, WITHHELD, None, ()))
            continue
        alerts = _signals(truth.monthly, provider, h, monitor.rate_ratio, bernoulli)
        kept = _released_alerts(alerts, (count + 1) // m, truth.window, quarter)
        least[provider] = m
        charts.append(ProviderChart(provider, MONITORED, h, tuple(kept)))
    note = _note(truth, bernoulli)
    return Monitoring(
        truth.key,
        truth.title,
        truth.indicator.numerator.label,
        truth.window,
        "binomial" if bernoulli else "poisson",
        monitor.rate_ratio,
        monitor.false_alarms_per_year,
        least,
        note,
        tuple(charts),
    )


def _number(value: Cell) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _snap(value: float) -> float:
    """``value`` rounded up to the grid of :data:`_STEPS_PER_DOUBLING` steps per doubling."""
    step = math.ceil(math.log2(value) * _STEPS_PER_DOUBLING - 1e-9)
    return float(2 ** (step / _STEPS_PER_DOUBLING))


def _threshold(expected: float, people: float | None, monitor: Monitor) -> float:
    """The provider's threshold, from its published expected count a month."""
    rate_ratio, rate = monitor.rate_ratio, monitor.false_alarms_per_year
    e = _snap(expected)
    if people is None:
        return cusum_threshold(e, rate, rate_ratio)
    n = max(_snap(max(people, 1.0)), 2 * e)
    return cusum_threshold(e, rate, rate_ratio, denominator_per_month=math.ceil(n))


def _signals(
    monthly: pl.DataFrame, provider: str, h: float, rate_ratio: float, bernoulli: bool
) -> list[str]:
    """The months the provider's upward chart signals in, on its true monthly counts."""
    own = monthly.filter(pl.col("provider") == provider).sort("month")
    o = own["observed"].to_numpy().astype(float)
    e = own["expected"].to_numpy().astype(float)
    denominator = None
    if bernoulli:
        # A month whose deaths (or expected deaths) outnumber the discharges recorded in it has
        # lost discharges from its activity: the month is charted as if it had that many people.
        denominator = np.maximum(own["denominator"].to_numpy().astype(float), np.maximum(o, e))
    chart = cusum(
        o,
        e,
        months=own["month"].to_list(),
        denominator=denominator,
        rate_ratio=rate_ratio,
        threshold=h,
    )
    return [str(m) for m in chart.signals["month"].to_list()]


def _released_alerts(alerts: list[str], most: int, window: Window, quarter: Window) -> list[str]:
    """The alerts released (rule 2): the earliest ``most``, leaving out any whose months since
    the previous released alert (or the window's start) lie inside ``quarter``."""
    kept: list[str] = []
    for month in alerts:
        if len(kept) >= most:
            break
        start = add_months(period_start(kept[-1]), 1) if kept else period_start(window.first)
        if start >= quarter.start:
            continue
        kept.append(month)
    return kept


def _silence_pins(
    count: int,
    expected: float,
    people: float | None,
    national: Cell,
    h: float,
    rate_ratio: float,
    rule: object,
) -> bool:
    """Would "no alert" fix a released count ``count`` at the bottom of its range (rule 3)?

    With no alert, the statistic over the whole window stayed below h, so the deaths c satisfy
    c ln R < h + D, where D is the chart's drift: (R − 1)E for Poisson, no more than that and at
    least n ln(1 + (R − 1)E/n) for Bernoulli months. E is known to a reader only from the
    published expected count (to 0.05, and scaled to the released national count, itself known
    to ±2), so the bound is known to lie between two values; if the bottom of the count's range
    can be the largest count below it, silence would fix the count there."""
    base = int(rule.rounding_base)  # type: ignore[attr-defined]
    half = base // 2
    low = max(count - half, int(rule.max_suppressed) + 1)  # type: ignore[attr-defined]
    n_national = float(national) if _number(national) and float(national) > 0 else None  # type: ignore[arg-type]
    stretch = (n_national + half) / n_national if n_national else 1.5
    shrink = (n_national - half) / n_national if n_national and n_national > half else 0.5
    e_high = (expected + 0.05) * stretch
    e_low = max(expected - 0.05, 0.0) * shrink
    log_r = math.log(rate_ratio)
    drift_high = (rate_ratio - 1) * e_high
    if people is None:
        drift_low = (rate_ratio - 1) * e_low
    else:
        n = max(people - half, 1.0)
        drift_low = n * math.log1p((rate_ratio - 1) * min(e_low, n) / n) if n > 0 else 0.0

    def largest(drift: float) -> int:
        # The largest c with c ln R < h + drift.
        return math.ceil((h + drift) / log_r - 1e-9) - 1

    return largest(drift_low) <= low <= largest(drift_high)


def _note(result: IndicatorResult, bernoulli: bool) -> str:
    monitor = result.indicator.monitor
    assert monitor is not None
    form = (
        "a Bernoulli chart of the month's discharges (Steiner et al. 2000)"
        if bernoulli
        else "a Poisson chart of the month's deaths (Grigg & Farewell 2004)"
    )
    return (
        f"Each provider is charted month by month over {result.window.label} with a risk-adjusted "
        f"log-likelihood-ratio CUSUM, {form}, tuned to detect a "
        f"{'doubling of the odds' if bernoulli else 'doubling of the rate'} "
        f"(R = {monitor.rate_ratio:g}) and reset to 0 after each alert. A month's expected deaths "
        "apply the window's national rates by age band and gender to the provider's activity "
        "that month. Each provider's threshold h is set for "
        f"{monitor.false_alarms_per_year:g} false alerts per provider-year (Brook & Evans "
        "Markov chain) at its published expected deaths a month, rounded up to a grid of eight "
        "steps per doubling. Only the months of the alerts are published: the chart's statistic "
        "would give back each month's deaths."
    )

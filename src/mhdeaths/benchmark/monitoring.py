"""Monthly monitoring: each provider's risk-adjusted CUSUM chart; its alerts go in confidence, unpublished.

Why this module exists: a funnel of deaths pooled over 36 months sees a change late (issue 19).
The indicators that say ``monitor:`` (``warehouse/indicators/*.yaml``) are charted each month per
provider with ``mhdeaths.stats.cusum``: a Poisson chart for a rate over bed days, a Bernoulli one
for a proportion of discharges, upward only, tuned to a doubling, reset after each alert, over the
indicator's pooling window. This module runs the charts on the true monthly counts and decides
what of them may be published: today, only each provider's threshold.

Why no alert is published. A chart's statistic is a running sum of ``O ln R − (R − 1) E``: two
consecutive values and the month's expected count give back that month's deaths, so the
statistic was never released. Its alerts say less, but still something about deaths: the
statistic rises by at most ``ln R`` per death, so an alert says that the months since the previous
alert held at least ``⌈h / ln R⌉`` deaths, and a stretch with no alert says its deaths were below
``(h + (R − 1)E) / ln R``. Rules that looked at one publication (chart a provider only when its
released count could hold an alert, cap the alerts listed, withhold a silence that would fix the
count) made each publication safe alone. They did not survive comparing publications: each
monthly publication's chart starts from 0 at its own window's start, so charts a month apart reset
at different months, the stretches one passed without an alert bound the months the next alerted
in, and over four publications a random search over bursty providers pinned a rounded pooled count
in a few histories in a hundred, under every disclosure rule
(``tests/integration/test_benchmark_monitoring.py``). A chart with one fixed origin was worse
under the same caps. Until a release rule is shown to survive the attack on consecutive
publications (docs/statistics.md, "Monitoring in the publication"; docs/privacy.md), the alerts
are not published at all: not in the report, the provider pages, the CSV, the workbook, the JSON
or the command's summary.

What is published: per monitored indicator, each provider's threshold h, computed from its
*published* expected count (so it says nothing the report does not), and a status from published
figures only (``charted``; ``*`` where the pooled count is withheld; "nothing expected"). Whether
the chart alerted is not in the status. The charts themselves, alerts and all, are kept on
:class:`Monitoring` as :attr:`Monitoring.restricted`, which only the restricted monitoring pack
(``monitoring_pack``: sent in confidence, never published) reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from mhdeaths.benchmark.compute import NATIONAL, Benchmarks, IndicatorResult, Window
from mhdeaths.benchmark.disclosure_control import Cell, Released
from mhdeaths.benchmark.indicators import Monitor
from mhdeaths.periods import add_months
from mhdeaths.stats import cusum, cusum_threshold
from mhdeaths.stats.disclosure import SUPPRESSED

CHARTED = "charted"
NOT_AT_RISK = "nothing expected"
WITHHELD = SUPPRESSED

MONITORING_COLUMNS = ("indicator", "window", "provider", "status", "threshold")
"""The columns of a released monitoring row (the CSV's and the workbook's): no alerts."""

NOT_PUBLISHED = (
    "Alerts are not published: they go in confidence to each provider and the national team in "
    "the restricted monitoring pack (mhdeaths benchmark --monitoring-pack), because alerts "
    "compared across consecutive publications can give back a count the release withheld "
    "(docs/privacy.md)."
)
"""Why the outputs list no alert, said once for the report's pages and the JSON."""

SUMMARY_LINE = "CUSUM alerts: not published (docs/privacy.md says why)."
"""The command's summary line where indicators are charted (``Published.summary``)."""

# Thresholds are computed at each provider's expected deaths a month rounded *up* to a grid of
# eight steps per doubling (people at risk likewise), so providers of similar size share one
# Markov-chain computation (a third of a second each). The threshold grows with both, so the
# rounding can only lower the false-alarm rate below the stated one.
_STEPS_PER_DOUBLING = 8


@dataclass(frozen=True)
class ProviderChart:
    """What is released of one provider's chart: no alert, and nothing that depends on one."""

    provider: str
    status: str
    """``charted``, ``*`` (the pooled count is withheld) or "nothing expected"; from published
    figures only."""
    threshold: float | None


@dataclass(frozen=True)
class RestrictedChart:
    """NOT FOR PUBLICATION: one provider's chart on its true monthly counts, month by month
    (``month``, ``observed``, ``expected``, ``statistic``, ``signal``)."""

    provider: str
    threshold: float
    published_threshold: bool
    """True where ``threshold`` is the one the publication shows; False for a provider whose
    pooled count the publication withholds, whose threshold comes from its true expected count
    (publishing it would give that count's neighbourhood away)."""
    months: pl.DataFrame

    @property
    def alerts(self) -> tuple[str, ...]:
        """The months (``CCYY-MM``) the chart alerted in."""
        return tuple(str(m) for m in self.months.filter(pl.col("signal"))["month"].to_list())


@dataclass(frozen=True)
class Monitoring:
    """One indicator's charts: what is released, and (apart) the alerts, which are not."""

    indicator: str
    title: str
    label: str
    """What the chart counts (the numerator's label), the row's name on a provider's page."""
    window: Window
    model: str
    """``poisson`` or ``binomial`` (Bernoulli outcomes, as the method note says)."""
    rate_ratio: float
    false_alarms_per_year: float
    method_note: str
    charts: tuple[ProviderChart, ...]
    restricted: dict[str, RestrictedChart]
    """NOT FOR PUBLICATION. Per provider with deaths expected, its chart on the true monthly
    counts. Comparing publications of their alerts gives counts back (module docstring): only
    the restricted monitoring pack (``monitoring_pack``) reads them."""

    @property
    def unpublished_alerts(self) -> dict[str, tuple[str, ...]]:
        """NOT FOR PUBLICATION. Per provider charted in the publication, the months its chart
        alerted in."""
        charted = {c.provider for c in self.charts if c.status == CHARTED}
        return {p: c.alerts for p, c in self.restricted.items() if p in charted}

    @property
    def months(self) -> list[str]:
        return [
            add_months(self.window.start, i).strftime("%Y-%m") for i in range(self.window.months)
        ]

    def rows(self) -> list[dict[str, Cell]]:
        """The released rows, one per provider (:data:`MONITORING_COLUMNS`)."""
        return [
            {
                "indicator": self.indicator,
                "window": self.window.label,
                "provider": c.provider,
                "status": c.status,
                "threshold": c.threshold,
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
            "alerts": NOT_PUBLISHED,
        }


def release_monitoring(benchmarks: Benchmarks, released: Released) -> tuple[Monitoring, ...]:
    """The charts of every monitored indicator: thresholds released, alerts kept apart."""
    out = []
    for truth in benchmarks.results:
        if truth.monthly is None:
            continue
        rows = {str(r["provider"]): r for r in released.rows if r["indicator"] == truth.key}
        out.append(_one(truth, rows))
    return tuple(out)


def _one(truth: IndicatorResult, rows: dict[str, dict[str, Cell]]) -> Monitoring:
    monitor = truth.indicator.monitor
    assert monitor is not None and truth.monthly is not None
    bernoulli = truth.indicator.kind == "proportion"
    months = truth.window.months
    charts, restricted = [], {}
    for provider in sorted(p for p in rows if p != NATIONAL):
        row = rows[provider]
        r, expected, people = row.get("observed"), row.get("expected"), row.get("denominator")
        own = truth.monthly.filter(pl.col("provider") == provider).sort("month")
        if r == SUPPRESSED or r is None:
            charts.append(ProviderChart(provider, WITHHELD, None))
            # Charted for the restricted pack only, at its true expected count a month.
            e_true = float(own["expected"].sum())
            if e_true > 0:
                n_true = float(own["denominator"].sum()) / months if bernoulli else None
                h = _threshold(e_true / months, n_true, monitor)
                restricted[provider] = _chart(own, provider, h, False, monitor, bernoulli)
            continue
        if not _number(expected) or float(expected) <= 0:  # type: ignore[arg-type]
            charts.append(ProviderChart(provider, NOT_AT_RISK, None))
            continue
        e = float(expected)  # type: ignore[arg-type]
        n = float(people) if bernoulli and _number(people) else None  # type: ignore[arg-type]
        h = _threshold(e / months, None if n is None else n / months, monitor)
        restricted[provider] = _chart(own, provider, h, True, monitor, bernoulli)
        charts.append(ProviderChart(provider, CHARTED, h))
    return Monitoring(
        truth.key,
        truth.title,
        truth.indicator.numerator.label,
        truth.window,
        "binomial" if bernoulli else "poisson",
        monitor.rate_ratio,
        monitor.false_alarms_per_year,
        _note(truth, bernoulli),
        tuple(charts),
        restricted,
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


def _chart(
    own: pl.DataFrame,
    provider: str,
    h: float,
    published_threshold: bool,
    monitor: Monitor,
    bernoulli: bool,
) -> RestrictedChart:
    """The provider's upward chart on its true monthly counts (``own``, sorted by month)."""
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
        rate_ratio=monitor.rate_ratio,
        threshold=h,
    )
    frame = chart.months.select("month", "observed", "expected", "statistic", "signal")
    return RestrictedChart(provider, h, published_threshold, frame)


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
        "steps per doubling. Only the thresholds are published: the chart's statistic would "
        "give back each month's deaths, and its alerts, compared across publications, can give "
        "back a pooled count."
    )

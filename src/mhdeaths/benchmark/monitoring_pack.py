"""The restricted monitoring pack: each provider's CUSUM charts and alerts, never a publication.

Why this module exists: monthly monitoring is there to be acted on, and its alerts cannot be
published (``monitoring``: alerts compared across consecutive publications give back counts the
release withheld). NHS mortality surveillance solved the same problem the same way: the CUSUM
alerts of the national outlier programme for acute trusts were sent in confidence to the trust's
chief executive and to the regulator, who asked the trust to look into them; they were never
published with the monthly counts behind them. The pack is that letter, in files:

- ``index.html``: for the national team, every monitored indicator's alerts, provider by provider,
  with each chart's threshold, latest statistic and months since its last reset;
- ``providers/<code>.html``: one provider's own charts (the statistic month by month against its
  threshold, its alerts marked) and the months behind them. A page holds that provider's figures
  and national parameters only, so it can be sent to the provider, who already knows its deaths;
- ``monitoring-charts.csv``: every chart's months, for the national team's own analysis.

The pack holds unrounded monthly counts, so it is kept apart from the publication: it is written
only when asked for, never inside the publication's folder (nor the publication inside it),
and every page says what it is in its title and its first line, and asks not to be indexed. The
pack is written whole into a staging folder and then moved into place, as a publication is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mhdeaths.benchmark.compute import Benchmarks
from mhdeaths.benchmark.disclosure_control import Cell
from mhdeaths.benchmark.monitoring import Monitoring, RestrictedChart
from mhdeaths.benchmark.plot import Tick, tick_label, ticks
from mhdeaths.benchmark.render import csv_text
from mhdeaths.errors import OutputError
from mhdeaths.output.folders import inside, make_folder, write_whole

RESTRICTED = (
    "Restricted: management information for the provider named and the national team, not for "
    "publication. Its charts give back monthly counts of deaths that the published figures "
    "round or withhold."
)
"""The first line of every page of the pack, and its CSV's first column's heading note."""

PACK_COLUMNS = (
    "indicator",
    "window",
    "provider",
    "month",
    "observed",
    "expected",
    "statistic",
    "threshold",
    "alert",
)
"""The columns of ``monitoring-charts.csv``: one row per provider, indicator and month."""

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 16, 44


@dataclass(frozen=True)
class AlertMark:
    x: float
    y: float
    month: str


@dataclass(frozen=True)
class ChartPlot:
    """Where one chart's lines and marks go, for the template's SVG."""

    width: int
    height: int
    left: int
    top: int
    inner_width: int
    inner_height: int
    path: str
    threshold_y: float
    threshold_label: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    alerts: list[AlertMark]


@dataclass(frozen=True)
class PackChart:
    """One provider's chart on one indicator, as the pack shows it."""

    monitoring: Monitoring
    chart: RestrictedChart
    plot: ChartPlot
    rows: list[dict[str, Cell]]

    @property
    def latest(self) -> float:
        return float(self.chart.months["statistic"].fill_null(0.0)[-1])

    @property
    def since_reset(self) -> int:
        """Months since the chart last alerted (or since the window's start)."""
        signals = self.chart.months["signal"].fill_null(False).to_list()
        last = max((i for i, fired in enumerate(signals) if fired), default=-1)
        return len(signals) - 1 - last


def check_apart(pack: Path, publication: Path) -> None:
    """An ``OutputError`` unless the pack's folder and the publication's are apart: neither is
    the other nor inside it (a publication folder is copied to a web site whole)."""
    a, b = pack.resolve(), publication.resolve()
    if a == b or a.is_relative_to(b) or b.is_relative_to(a):
        raise OutputError(
            f"The restricted monitoring pack cannot be written to {pack}: it must be outside the "
            f"publication's folder {publication} (and not hold it), because it shows counts the "
            "publication withholds."
        )


def pack_charts(monitoring: tuple[Monitoring, ...]) -> dict[str, list[PackChart]]:
    """Per provider, its charts in the pack, in the order of the monitored indicators."""
    out: dict[str, list[PackChart]] = {}
    for m in monitoring:
        for provider, chart in sorted(m.restricted.items()):
            out.setdefault(provider, []).append(
                PackChart(m, chart, cusum_plot(chart), _rows(m, chart))
            )
    return dict(sorted(out.items()))


def write_pack(
    benchmarks: Benchmarks, monitoring: tuple[Monitoring, ...], pack: Path
) -> list[Path]:
    """Write the restricted monitoring pack into ``pack``, whole or not at all (``write_whole``);
    the paths written, index first."""
    charts = pack_charts(monitoring)
    return write_whole(
        pack,
        "restricted monitoring pack",
        lambda staging: _write(benchmarks, monitoring, charts, staging),
    )


def _write(
    benchmarks: Benchmarks,
    monitoring: tuple[Monitoring, ...],
    charts: dict[str, list[PackChart]],
    out: Path,
) -> list[Path]:
    from mhdeaths.output.templating import html_environment

    template = html_environment().get_template("monitoring-pack.html.j2")
    common = {
        "restricted": RESTRICTED,
        "period": benchmarks.period,
        "definitions": benchmarks.definitions,
        "monitoring": monitoring,
    }
    index = out / "index.html"
    index.write_text(template.render(provider=None, charts=charts, **common), encoding="utf-8")
    rows = [row for own in charts.values() for c in own for row in c.rows]
    table = out / "monitoring-charts.csv"
    table.write_text(csv_text(PACK_COLUMNS, rows, benchmarks), encoding="utf-8", newline="")
    providers = make_folder(out / "providers", "pack's provider pages")
    pages = []
    for provider, own in charts.items():
        page = inside(providers, f"{provider}.html")
        page.write_text(
            template.render(provider=provider, charts={provider: own}, **common),
            encoding="utf-8",
        )
        pages.append(page)
    return [index, table, *pages]


def _rows(m: Monitoring, chart: RestrictedChart) -> list[dict[str, Cell]]:
    return [
        {
            "indicator": m.indicator,
            "window": m.window.label,
            "provider": chart.provider,
            "month": month,
            "observed": int(observed),
            "expected": round(float(expected), 4),
            "statistic": round(float(statistic), 4),
            "threshold": round(chart.threshold, 4),
            "alert": bool(signal),
        }
        for month, observed, expected, statistic, signal in chart.months.iter_rows()
    ]


def cusum_plot(chart: RestrictedChart) -> ChartPlot:
    """The geometry of one chart: the statistic by month, the threshold, the alerts."""
    months = [str(m) for m in chart.months["month"].to_list()]
    values = [float(v) for v in chart.months["statistic"].fill_null(0.0).to_list()]
    signals = chart.months["signal"].fill_null(False).to_list()
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = max([chart.threshold * 1.15, *(v * 1.05 for v in values)])
    step = inner_w / max(len(months) - 1, 1)

    def sx(i: int) -> float:
        return round(i * step, 1)

    def sy(y: float) -> float:
        return round(inner_h * (1 - y / y_max), 1)

    # A month label every half-year keeps 36 labels from overlapping.
    every = 6 if len(months) > 12 else 1
    return ChartPlot(
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        inner_w,
        inner_h,
        " ".join(f"{sx(i)},{sy(v)}" for i, v in enumerate(values)),
        sy(chart.threshold),
        f"{chart.threshold:.2f}",
        [Tick(sx(i), m) for i, m in enumerate(months) if i % every == 0],
        [Tick(sy(t), tick_label(t)) for t in ticks(0.0, y_max)],
        [AlertMark(sx(i), sy(values[i]), months[i]) for i, s in enumerate(signals) if s],
    )

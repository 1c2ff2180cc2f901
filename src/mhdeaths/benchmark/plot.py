"""Funnel plots as geometry for an SVG drawn by the report's template.

The report must open offline with no script, so the plot is plain SVG. This module works out
where things go (axes, ticks, the four limit curves, one labelled point per provider); the template
draws them, escaping every label. Only providers whose count is released are plotted: a point's
position gives its ratio and expected count, from which a suppressed count could be read back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mhdeaths.benchmark.compute import IndicatorResult
from mhdeaths.stats import BAND_AS_EXPECTED, BAND_HIGHER, BAND_LOWER

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 52


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    band: str
    """``high``, ``low``, ``as-expected`` or ``unbanded`` (a CSS class)."""
    title: str


@dataclass(frozen=True)
class Curve:
    points: str
    level: str
    """``95`` or ``998``."""
    adjusted: bool


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class FunnelPlot:
    width: int
    height: int
    left: int
    top: int
    inner_width: int
    inner_height: int
    target_y: float
    target_label: str
    x_label: str
    y_label: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    curves: list[Curve]
    points: list[Point]
    not_plotted: list[str]


BAND_CLASS = {BAND_HIGHER: "high", BAND_LOWER: "low", BAND_AS_EXPECTED: "as-expected"}
"""The style class of each band, in the plot and the report's tables."""


def funnel_plot(result: IndicatorResult, released: set[str]) -> FunnelPlot | None:
    """The plot of one indicator, or None when it has no funnel. ``released`` names the
    providers whose count is published."""
    f = result.funnel
    if f is None or f.units.height == 0:
        return None
    standardised = result.standardised
    scale = 1.0 if standardised else _value_scale(result)
    units = f.units
    x_all = units["denominator"].to_numpy().astype(float)
    y_all = units["value"].to_numpy().astype(float) * scale
    labels = [str(v) for v in units["label"].to_list()]
    bands = units["band_95"].to_list()
    keep = [i for i, label in enumerate(labels) if label in released and np.isfinite(y_all[i])]
    # Only plotted providers set the axes: a range stretched to a withheld provider's expected
    # count or denominator would give it back.
    x_kept = x_all[keep]
    if not np.any(np.isfinite(x_kept) & (x_kept > 0)) or not np.isfinite(f.target):
        return None  # nothing to plot, or nothing expected anywhere: no funnel to draw
    x_max = float(np.nanmax(x_kept)) * 1.08
    x_min = x_max / 400
    grid = np.linspace(x_min, x_max, 80)
    limits = f.limits(grid)
    target = f.target * scale
    shown_y = [y_all[i] for i in keep] + [target]
    at_mid = limits.filter(limits["denominator"] >= float(np.median(x_kept)))
    for column in ("upper_998_adjusted", "lower_998_adjusted"):
        if at_mid.height and at_mid[column][0] is not None:
            shown_y.append(float(at_mid[column][0]) * scale)
    y_max = max(y for y in shown_y if np.isfinite(y)) * 1.15 or 1.0
    y_min = 0.0

    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return round(inner_w * x / x_max, 1)

    def sy(y: float) -> float:
        clipped = min(max(y, y_min - (y_max - y_min)), 2 * y_max)
        return round(inner_h * (1 - (clipped - y_min) / (y_max - y_min)), 1)

    curves = []
    for level in ("95", "998"):
        for adjusted in (False, True):
            for side in ("lower", "upper"):
                column = f"{side}_{level}" + ("_adjusted" if adjusted else "")
                ys = limits[column].to_numpy().astype(float) * scale
                pts = " ".join(
                    f"{sx(x)},{sy(y)}" for x, y in zip(grid, ys, strict=True) if np.isfinite(y)
                )
                curves.append(Curve(pts, level, adjusted))
    unit = "standardised ratio" if standardised else result.indicator.unit
    points = [
        Point(
            sx(x_all[i]),
            sy(y_all[i]),
            labels[i],
            BAND_CLASS.get(bands[i] or "", "unbanded"),
            f"{labels[i]}: {y_all[i]:.2f} {unit}",
        )
        for i in keep
    ]
    return FunnelPlot(
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        inner_w,
        inner_h,
        sy(target),
        f"{target:.2f}",
        "Expected deaths" if standardised else _denominator_label(result),
        "Standardised ratio (observed / expected)" if standardised else result.indicator.unit,
        [Tick(sx(t), tick_label(t)) for t in ticks(0, x_max)],
        [Tick(sy(t), tick_label(t)) for t in ticks(y_min, y_max)],
        curves,
        points,
        _withheld(result),
    )


def _withheld(result: IndicatorResult) -> list[str]:
    """The providers whose count is withheld (NaN in the released figures): not plotted."""
    table = result.providers
    return [
        str(p)
        for p, o in zip(table["provider"].to_list(), table["observed"].to_list(), strict=True)
        if o is None or not np.isfinite(o)
    ]


def _value_scale(result: IndicatorResult) -> float:
    # A funnel of a proportion works on the proportion; the report shows it in the unit.
    return result.indicator.multiplier if result.indicator.kind == "proportion" else 1.0


def _denominator_label(result: IndicatorResult) -> str:
    denominator = result.indicator.denominator
    return denominator.label if denominator else ""


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"

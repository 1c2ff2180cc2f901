"""The released figures: every published cell after disclosure control, in one flat shape.

Statistics are computed from unsuppressed counts (``mhdeaths.benchmark.compute``); what is
published passes through here first, so the CSV, the workbook, the JSON and the HTML report show
the same cells. A count is released under the named rule (``mhdeaths.stats.disclose``); a value
derived from a count that is suppressed (its rate, ratio, expected count, limits and z-score) is
suppressed with it, so a small count cannot be read back from a ratio. Bands are released: they say
no more than that a suppressed count is small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mhdeaths.benchmark.compute import NATIONAL, Benchmarks, IndicatorResult
from mhdeaths.stats import DISCLOSURE_RULES, DisclosureRule, disclose, disclose_dependent

Cell = str | int | float | bool | None
"""A released cell: a number, ``"*"`` where suppressed, text, or empty."""

SUPPRESSED = "*"

COUNT_COLUMNS = ("observed", "denominator")
"""Released columns that hold counts (the disclosure rule applies to them directly)."""

ROW_COLUMNS = (
    "indicator",
    "window",
    "provider",
    "observed",
    "denominator",
    "value",
    "lower",
    "upper",
    "q1",
    "q3",
    "expected",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "z",
    "band_95",
    "band_998",
    "caution",
    "note",
)
"""The columns of a released row, in the order the CSV and workbook show them."""
TREND_COLUMNS = (
    "indicator",
    "provider",
    "year",
    "observed",
    "denominator",
    "value",
    "lower",
    "upper",
)


@dataclass(frozen=True)
class Released:
    """The published cells of a set of benchmarks."""

    rule: DisclosureRule
    indicators: list[dict[str, Cell]]
    """One row per indicator (variant): what it is, its window and method."""
    rows: list[dict[str, Cell]]
    """One row per indicator and provider, plus a national row per indicator."""
    trend: list[dict[str, Cell]]
    """One row per indicator, provider (and nation) and calendar year."""


def decimals_for(result: IndicatorResult) -> int:
    """Places shown for values in the indicator's unit: whole days, one place for a percentage,
    two for rates."""
    if result.indicator.kind == "median":
        return 0
    return 1 if result.indicator.multiplier == 100 else 2


def release(benchmarks: Benchmarks, rule: str = "nhs_england") -> Released:
    """Apply the named disclosure rule to every cell that is published."""
    if rule not in DISCLOSURE_RULES:
        from mhdeaths.errors import UserError

        names = ", ".join(sorted(DISCLOSURE_RULES))
        raise UserError(f"There is no disclosure rule {rule!r}: choose one of {names}.")
    indicators, rows, trend = [], [], []
    for result in benchmarks.results:
        indicators.append(_describe(result))
        national = pl.DataFrame([{"provider": NATIONAL, **result.national}])
        table = pl.concat([result.providers, national], how="diagonal_relaxed")
        rows += _released(result, table, rule, ROW_COLUMNS)
        trend += _released(result, result.trend, rule, TREND_COLUMNS)
    return Released(DISCLOSURE_RULES[rule], indicators, rows, trend)


def _describe(result: IndicatorResult) -> dict[str, Cell]:
    f = result.funnel
    return {
        "indicator": result.key,
        "title": result.title,
        "unit": result.indicator.unit,
        "kind": result.indicator.kind,
        "window": result.window.label,
        "months": result.window.months,
        "standardised_by": " × ".join(
            s.removeprefix("stated_").replace("_", " ") for s in result.indicator.standardise_by
        )
        or None,
        "min_expected": result.indicator.min_expected if result.indicator.banded else None,
        "overdispersion": f.overdispersion if f else None,
        "phi": _round(f.phi, 3) if f else None,
        "tau2": _round(f.tau2, 5) if f else None,
        "method": f.method_note if f else None,
    }


def _released(
    result: IndicatorResult, table: pl.DataFrame, rule: str, shape: tuple[str, ...]
) -> list[dict[str, Cell]]:
    """Rows of a table with its counts disclosed and its derived values suppressed with them."""
    places = decimals_for(result)
    observed = table["observed"].to_numpy().astype(float)
    counts = disclose(observed, rule=rule)
    columns: dict[str, list[Cell]] = {"observed": _cells(counts.text)}
    if "denominator" in table.columns:
        denominators = table["denominator"].to_numpy().astype(float)
        columns["denominator"] = _cells(disclose(denominators, rule=rule).text)
    derived = {
        "value": places,
        "lower": places,
        "upper": places,
        "q1": places,
        "q3": places,
        "expected": 1,
        "ratio": 2,
        "ratio_lower": 2,
        "ratio_upper": 2,
        "z": 2,
    }
    for name, dp in derived.items():
        if name in table.columns:
            values = table[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
            columns[name] = _cells(disclose_dependent(values, observed, rule=rule, decimals=dp))
    # Caution is read off the released count, so the flag cannot tell a reader that a count
    # rounded up to 20 was really 18 or 19.
    threshold = result.indicator.caution_below
    columns["caution"] = [
        bool(s or v < threshold) for s, v in zip(counts.suppressed, counts.values, strict=True)
    ]
    for name in ("band_95", "band_998", "note", "year"):
        if name in table.columns:
            columns[name] = list(table[name].to_list())
    out = []
    for i, provider in enumerate(table["provider"].to_list()):
        row: dict[str, Cell] = {
            "indicator": result.key,
            "window": result.window.label,
            "provider": provider,
        }
        row.update({name: values[i] for name, values in columns.items()})
        out.append({name: row.get(name) for name in shape})
    return out


def _cells(texts: list[str]) -> list[Cell]:
    return [_cell(t) for t in texts]


def _cell(text: str) -> Cell:
    if text in ("", SUPPRESSED):
        return text or None
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def _round(value: float, places: int) -> float | None:
    return round(value, places) if math.isfinite(value) else None


def as_plain(value: Any) -> Cell:
    """A cell for formats that have no booleans or nulls of their own (CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value  # type: ignore[no-any-return]

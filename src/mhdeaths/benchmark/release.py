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
from mhdeaths.stats.disclosure import SUPPRESSED

Cell = str | int | float | bool | None
"""A released cell: a number, ``"*"`` where suppressed, text, or empty."""


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

    def providers_banded(self, indicator: str, level: str, band: str) -> list[str]:
        """The providers in ``band`` on the indicator against its ``level`` ("95" or "998")
        limits adjusted for over-dispersion, sorted."""
        return sorted(
            str(r["provider"])
            for r in self.rows
            if r["indicator"] == indicator
            and r["provider"] != NATIONAL
            and r.get(f"band_{level}") == band
        )


def decimals_for(result: IndicatorResult, rule: str = "nhs_england") -> int:
    """Places shown for values in the indicator's unit: whole days, one place for a percentage
    (whole numbers under the MHSDS rule, as its publications round them), two for rates."""
    if result.indicator.kind == "median":
        return 0
    if result.indicator.multiplier == 100:
        return 0 if rule == "mhsds" else 1
    return 2


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
        # Annual figures are national trends only: a provider's years beside its pooled window
        # would give back each year's count by subtraction.
        national_trend = result.trend.filter(pl.col("provider") == NATIONAL)
        trend += _released(result, national_trend, rule, TREND_COLUMNS)
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
    places = decimals_for(result, rule)
    observed = table["observed"].to_numpy().astype(float)
    hidden = _suppressed(result, table, rule)
    counts = disclose(observed, rule=rule)
    columns: dict[str, list[Cell]] = {"observed": _masked(_cells(counts.text), hidden)}
    if "denominator" in table.columns:
        denominators = table["denominator"].to_numpy().astype(float)
        columns["denominator"] = _masked(_cells(disclose(denominators, rule=rule).text), hidden)
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
            texts = disclose_dependent(values, observed, rule=rule, decimals=dp)
            columns[name] = _masked(_cells(texts), hidden)
    # Caution is read off the released count, so the flag cannot tell a reader that a count
    # rounded up to 20 was really 18 or 19.
    threshold = result.indicator.caution_below
    columns["caution"] = [
        bool(h or v < threshold) for h, v in zip(hidden, counts.values, strict=True)
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


def _suppressed(result: IndicatorResult, table: pl.DataFrame, rule: str) -> np.ndarray:
    """The rows whose count, and everything derived from it, is withheld.

    Beyond the rule's own cells: a row whose denominator is a suppressed count of people (a share
    of deaths), or whose complement is (the deaths not reviewed, say), since a released value
    and the other count give it back; and, because the national row is the sum of the providers'
    rows, enough further providers that the withheld ones together are not themselves a count
    the rule would withhold (secondary suppression, smallest first).
    """
    observed = table["observed"].to_numpy().astype(float)
    hidden = disclose(observed, rule=rule).suppressed.copy()
    denominator = result.indicator.denominator
    if denominator is not None and denominator.deaths is not None and "denominator" in table:
        n = table["denominator"].to_numpy().astype(float)
        hidden |= disclose(n, rule=rule).suppressed
        hidden |= disclose(np.clip(n - observed, 0, None), rule=rule).suppressed
    providers = np.array([p != NATIONAL for p in table["provider"].to_list()])
    if not providers.all():
        while True:
            withheld = hidden & providers
            total = float(observed[withheld].sum())
            if not withheld.any() or not disclose([total], rule=rule).suppressed[0]:
                break
            candidates = np.flatnonzero(providers & ~hidden)
            if not len(candidates):
                hidden |= ~providers  # nothing left to add: withhold the national row instead
                break
            hidden[candidates[np.argmin(observed[candidates])]] = True
    return hidden


def _masked(cells: list[Cell], hidden: np.ndarray) -> list[Cell]:
    return [SUPPRESSED if h and c is not None else c for c, h in zip(cells, hidden, strict=True)]


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

"""The released figures: every published cell after disclosure control, in one flat shape.

Disclosure control comes first and statistics second. The counts are released under the named rule
(``mhdeaths.stats.disclose``): small ones suppressed, the rest rounded to the nearest 5, with
secondary suppression so that a withheld count cannot be had back from the national row. Then
every figure that is published is computed again from the *released* counts by the same functions
``mhdeaths.benchmark.compute`` uses: the crude value and its interval, the expected count (scaled
so that the providers' expected counts add up to the released national count), the standardised
ratio and its interval, and the funnel (re-run on the released counts of the providers whose
counts are released, so its z-scores, bands, over-dispersion and limits are those of the published
numbers). A published figure is therefore a function of published cells: multiplying a rate by
its denominator, or a ratio by its expected count, gives back the rounded count and nothing finer.
A withheld row releases no derived value and no band. The CSV, the workbook, the JSON, the HTML
report, its funnel plots and the provider pages are all written from what this module returns.
Why statistics are computed on rounded counts, and the attacks this is tested against:
``docs/statistics.md`` (disclosure control).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from mhdeaths.benchmark.compute import (
    NATIONAL,
    Benchmarks,
    IndicatorResult,
    crude,
    provider_funnel,
    ratio_limits,
)
from mhdeaths.stats import DISCLOSURE_RULES, DisclosureRule, detectable_ratio, disclose
from mhdeaths.stats.disclosure import SUPPRESSED, get_rule
from mhdeaths.stats.power import PowerTransform

if TYPE_CHECKING:
    from mhdeaths.benchmark.inequalities import ReleasedTables
    from mhdeaths.benchmark.monitoring import Monitoring

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
    results: tuple[IndicatorResult, ...] = ()
    """Each indicator's figures as released: counts rounded (NaN where withheld) and every value,
    the expected counts and the funnel computed from them. The funnel plots are drawn from these."""
    tables: ReleasedTables | None = None
    """The inequalities section and the recurring-themes table, as released
    (``mhdeaths.benchmark.inequalities``); None where they were not computed."""
    monitoring: tuple[Monitoring, ...] = ()
    """The monitored indicators' CUSUM charts: each provider's threshold is released, the alerts
    are kept apart and not published (``mhdeaths.benchmark.monitoring``)."""

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
    if result.indicator.listed:
        return 0
    if result.indicator.multiplier == 100:
        return 0 if rule == "mhsds" else 1
    return 2


RELEASABLE_RULES = frozenset(n for n, r in DISCLOSURE_RULES.items() if r.rounding == "nearest")
"""The rules the benchmarks can be released under: those that round every count, totals included,
to the nearest multiple of their base, as secondary suppression here assumes."""


def release(benchmarks: Benchmarks, rule: str = "nhs_england") -> Released:
    """Apply the named disclosure rule to every count, then derive every published figure from
    the released counts."""
    if rule not in DISCLOSURE_RULES:
        from mhdeaths.errors import UserError

        names = ", ".join(sorted(DISCLOSURE_RULES))
        raise UserError(f"There is no disclosure rule {rule!r}: choose one of {names}.")
    if DISCLOSURE_RULES[rule].rounding != "nearest":
        from mhdeaths.errors import UserError

        # A midpoint rule keeps a total safe only as the sum of its released cells; a national row
        # rounded on its own would give the cells back by differencing.
        names = ", ".join(n for n in sorted(DISCLOSURE_RULES) if n in RELEASABLE_RULES)
        raise UserError(
            f"The benchmarks cannot be released under {rule}, whose totals must be sums of "
            f"released cells; choose one of {names}."
        )
    indicators, rows, trend, results = [], [], [], []
    for result in benchmarks.results:
        result = _every_provider(result, benchmarks.providers)
        national = pl.DataFrame([{"provider": NATIONAL, **result.national}])
        table = pl.concat([result.providers, national], how="diagonal_relaxed")
        hidden = _suppressed(result, table, rule)
        shown, shown_national = _derive(result, table, hidden, rule)
        # Annual figures are national trends only: a provider's years beside its pooled window
        # would give back each year's count by subtraction.
        true_trend = result.trend.filter(pl.col("provider") == NATIONAL)
        trend_hidden = _suppressed(result, true_trend, rule)
        shown_trend, _ = _derive(result, true_trend, trend_hidden, rule, national_row=False)
        released = replace(
            result,
            providers=shown.filter(pl.col("provider") != NATIONAL),
            national=shown_national,
            funnel=_funnel(result, shown, hidden),
            trend=shown_trend,
        )
        if released.funnel is not None:
            bands = released.funnel.units.select(
                pl.col("label").alias("provider"), "z", "band_95", "band_998"
            )
            shown = shown.drop("z", "band_95", "band_998", strict=False).join(
                bands, on="provider", how="left", maintain_order="left"
            )
            released = replace(released, providers=shown.filter(pl.col("provider") != NATIONAL))
        results.append(released)
        cells = _cells_of(released, shown, hidden, rule, ROW_COLUMNS)
        indicators.append(_with_power(_describe(released), cells, released))
        rows += cells
        trend += _cells_of(released, shown_trend, trend_hidden, rule, TREND_COLUMNS)
    return Released(DISCLOSURE_RULES[rule], indicators, rows, trend, tuple(results))


def _every_provider(result: IndicatorResult, providers: tuple[str, ...]) -> IndicatorResult:
    """The result with a row for every provider: one left out of a table (no deaths and no
    activity in the window) would tell a reader its count is 0, which the MHSDS rule withholds."""
    table = result.providers
    missing = sorted(set(providers) - set(table["provider"].to_list()))
    if not missing:
        return result
    filler: dict[str, Any] = {"provider": missing, "observed": [0.0] * len(missing)}
    if "denominator" in table.columns:
        filler["denominator"] = [0.0] * len(missing)
        filler["note"] = ["no activity in the window"] * len(missing)
    table = pl.concat([table, pl.DataFrame(filler)], how="diagonal_relaxed").sort("provider")
    return replace(result, providers=table)


def _describe(result: IndicatorResult) -> dict[str, Cell]:
    f = result.funnel
    return {
        "indicator": result.key,
        "title": result.title,
        "unit": result.indicator.unit,
        "multiplier": result.indicator.multiplier,
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


POWER_LEVEL = 0.998
"""The funnel limit the power statement is about: the wider one, as a flag that is acted on."""
POWER = 0.8
"""The probability of being flagged the statement asks for, the usual planning value."""


_TRANSFORMS: dict[str, dict[str, PowerTransform]] = {
    "ratio": {"log": "log", "sqrt": "sqrt"},
    "proportion": {"arcsine": "arcsine"},
}
"""By the kind of funnel, the over-dispersion methods that widen its limits, as the power
statement takes them; with any other method (``none``) the limits are the exact ones."""


def power_kind(result: IndicatorResult) -> str | None:
    """Which funnel the indicator's power statement is about: ``"ratio"`` (a standardised ratio
    against its expected count), ``"proportion"`` (a share banded on its own binomial funnel), or
    None (a count or a median, never banded; or a crude rate, whose funnel the statement does not
    cover)."""
    indicator = result.indicator
    if not indicator.banded:
        return None
    if indicator.standardise_by:
        return "ratio"
    return "proportion" if indicator.kind == "proportion" else None


def power_size(row: dict[str, Cell], meta: dict[str, Cell]) -> Cell:
    """The published figure a provider's power statement is made at: its expected count (ratio)
    or its denominator (proportion); None where the indicator has no statement."""
    kind = meta.get("detectable_kind")
    if kind == "ratio":
        return row.get("expected")
    return row.get("denominator") if kind == "proportion" else None


def _number(value: Cell) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _target(meta: dict[str, Cell]) -> float | None:
    """The funnel's centre the statement is relative to: 1 for a ratio, the released national
    proportion for a proportion (None when the funnel has none strictly between 0 and 1)."""
    if meta.get("detectable_kind") == "ratio":
        return 1.0
    target = _number(meta.get("detectable_target"))
    return target if target is not None and 0 < target < 1 else None


def banded_at(size: Cell, meta: dict[str, Cell]) -> bool:
    """Would the funnel band a provider of this published size at all: its expected count (for a
    proportion, the national proportion times its denominator) at least ``min_expected``."""
    n, target = _number(size), _target(meta)
    if n is None or n <= 0 or target is None:
        return False
    least = _number(meta.get("min_expected"))
    return least is None or n * target >= least


def _detectable(size: Cell, meta: dict[str, Cell]) -> float | None:
    kind, n, target = meta.get("detectable_kind"), _number(size), _target(meta)
    if kind not in _TRANSFORMS or n is None or target is None or not banded_at(size, meta):
        return None
    options: dict[str, Any] = {"kind": kind, "target": target}
    transform = _TRANSFORMS[str(kind)].get(str(meta.get("overdispersion")))
    tau2 = _number(meta.get("tau2"))
    if transform is not None and tau2 is not None and tau2 > 0:
        options.update(tau2=tau2, overdispersion=transform)
    ratio: float | None = detectable_ratio(n, POWER_LEVEL, POWER, **options)
    return ratio


def detectable_at(size: Cell, meta: dict[str, Cell]) -> float | None:
    """The smallest relative risk the indicator's released funnel flags at its 99.8% limit with
    80% power at a published size (to 2 places): for a standardised ratio, the expected count,
    and the relative risk multiplies it; for a proportion, the denominator, and the relative risk
    multiplies the funnel's centre (the released national proportion). None: no statement for
    the indicator, a withheld or missing figure, a size too small to be banded at all
    (:func:`banded_at`), or, for a proportion, no share at all, not even every case, above the
    limit.

    Only published figures go in (the size, the centre, the over-dispersion method and tau^2 as
    released), against the limits the funnel bands against, so the statement tells a reader
    nothing the released cells do not."""
    ratio = _detectable(size, meta)
    return None if ratio is None else round(ratio, 2)


def detectable_value(size: Cell, meta: dict[str, Cell]) -> float | None:
    """For a proportion, the value (in the indicator's unit, to 1 place) a provider of this
    published size would need to be flagged with 80% power: the relative risk times the funnel's
    centre; None otherwise."""
    ratio, target = _detectable(size, meta), _target(meta)
    multiplier = _number(meta.get("multiplier"))
    if meta.get("detectable_kind") != "proportion" or ratio is None or target is None:
        return None
    return round(ratio * target * (multiplier or 1.0), 1)


def _with_power(
    meta: dict[str, Cell], rows: list[dict[str, Cell]], result: IndicatorResult
) -> dict[str, Cell]:
    """The indicator's description with its power statement, at the median of the providers'
    published sizes: expected counts for a ratio (withheld rows have none), denominators above 0
    for a proportion (the providers on its funnel), with the funnel's released centre."""
    kind = power_kind(result)
    if kind == "proportion" and result.funnel is None:
        kind = None  # no provider on the funnel: no centre to be relative to
    meta = {
        **meta,
        "detectable_kind": kind,
        "detectable_target": result.funnel.target
        if kind == "proportion" and result.funnel
        else None,
    }
    published = [
        size
        for r in rows
        if r["provider"] != NATIONAL
        and (size := _number(power_size(r, meta))) is not None
        and (kind == "ratio" or size > 0)
    ]
    median = round(float(np.median(published)), 2) if published and kind else None
    return {
        **meta,
        "detectable_expected": median if kind == "ratio" else None,
        "detectable_denominator": median if kind == "proportion" else None,
        "detectable_banded": banded_at(median, meta) if median is not None else None,
        "detectable_ratio": detectable_at(median, meta),
        "detectable_value": detectable_value(median, meta),
    }


def _rounded(values: pl.Series, hidden: np.ndarray, rule: str) -> np.ndarray:
    """Released counts as numbers: rounded under the rule, NaN where withheld or missing."""
    counts = values.cast(pl.Float64).fill_null(np.nan).to_numpy()
    released = disclose(counts, rule=rule).values.copy()
    released[hidden] = np.nan
    return released


def _derive(
    result: IndicatorResult,
    table: pl.DataFrame,
    hidden: np.ndarray,
    rule: str,
    *,
    national_row: bool = True,
) -> tuple[pl.DataFrame, dict[str, float | None]]:
    """The table's figures computed again from its released counts (NaN where withheld), and its
    national row as a mapping."""
    indicator = result.indicator
    o = _rounded(table["observed"], hidden, rule)
    columns: dict[str, Any] = {"provider": table["provider"], "observed": o}
    if indicator.listed:
        # A median is not a count: it is released as computed, withheld where its count is (a
        # count has only its count).
        for name in ("value", "q1", "q3"):
            if name in table.columns:
                values = table[name].cast(pl.Float64).fill_null(np.nan).to_numpy().copy()
                values[hidden] = np.nan
                columns[name] = values
    else:
        n = _rounded(table["denominator"], hidden, rule)
        value, lower, upper = crude(indicator, o, np.nan_to_num(n, nan=0.0))
        columns.update(denominator=n, value=value, lower=lower, upper=upper)
        if indicator.standardise_by and "expected" in table.columns:
            columns.update(_ratios(table, o, hidden))
    for name in ("note", "year"):
        if name in table.columns:
            columns[name] = table[name]
    shown = pl.DataFrame(columns)
    national: dict[str, float | None] = {}
    if national_row:
        last = shown.filter(pl.col("provider") == NATIONAL).row(0, named=True)
        national = {
            k: _finite(v) for k, v in last.items() if k in result.national and k != "provider"
        }
    return shown, national


def _ratios(table: pl.DataFrame, o: np.ndarray, hidden: np.ndarray) -> dict[str, np.ndarray]:
    """Expected counts scaled to the released national count, and the ratios over them."""
    providers = np.array([p != NATIONAL for p in table["provider"].to_list()])
    expected = table["expected"].cast(pl.Float64).fill_null(np.nan).to_numpy().copy()
    expected[~providers] = np.nan
    # The providers' expected counts add up to the released national count, not the true one:
    # the national expected to one place would otherwise publish the exact national count.
    national = o[~providers]
    target = (
        float(national[0])
        if len(national) and np.isfinite(national[0])
        else float(np.nansum(o[providers]))
    )
    total = float(np.nansum(expected))
    expected = expected * (target / total if total > 0 else 1.0)
    expected[hidden] = np.nan
    usable = np.isfinite(o) & np.isfinite(expected) & (expected > 0)
    ratio = np.where(usable, o / np.where(usable, expected, 1.0), np.nan)
    low, up = ratio_limits(o, expected)
    return {"expected": expected, "ratio": ratio, "ratio_lower": low, "ratio_upper": up}


def _funnel(result: IndicatorResult, shown: pl.DataFrame, hidden: np.ndarray) -> Any:
    """The funnel of the providers whose counts are released, on their released counts, centred
    on the released national figure."""
    indicator = result.indicator
    if indicator.listed:
        return None
    at_risk = shown.filter(
        pl.Series(~hidden)
        & (pl.col("provider") != NATIONAL)
        & (pl.col("denominator").fill_nan(0) > 0)
        & pl.col("observed").is_not_nan()
    )
    target = None
    if not indicator.standardise_by:
        national = shown.filter(pl.col("provider") == NATIONAL)
        o, n = float(national["observed"][0]), float(national["denominator"][0])
        # The centre line is the published national figure (a proportion strictly inside 0..1).
        usable = np.isfinite(o) and np.isfinite(n) and o > 0 and n > 0
        if usable and (indicator.kind == "rate" or o < n):
            target = o / n
    return provider_funnel(indicator, at_risk, target=target)


_DECIMALS_FIXED = {
    "expected": 1,
    "ratio": 2,
    "ratio_lower": 2,
    "ratio_upper": 2,
    "z": 2,
}


_NATIONAL_FIGURES = ("value", "lower", "upper", "q1", "q3")
"""The figures a national (or annual) row has; a provider's row has every figure of its table."""


def _cells_of(
    result: IndicatorResult,
    shown: pl.DataFrame,
    hidden: np.ndarray,
    rule: str,
    shape: tuple[str, ...],
) -> list[dict[str, Cell]]:
    """The published cells of a released table: ``*`` in a withheld row wherever its table has
    the figure, numbers rounded to their published places elsewhere."""
    places = decimals_for(result, rule)
    columns: dict[str, list[Cell]] = {}
    for name in ("observed", "denominator"):
        if name in shown.columns:
            columns[name] = [
                SUPPRESSED if h else (None if not np.isfinite(v) else int(v))
                for v, h in zip(shown[name].to_numpy(), hidden, strict=True)
            ]
    for name in ("value", "lower", "upper", "q1", "q3", *_DECIMALS_FIXED):
        if name not in shown.columns:
            continue
        dp = _DECIMALS_FIXED.get(name, places)
        values = shown[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        # Which withheld cells show * is fixed by the table's shape, never by the true figure:
        # a z-score that is missing only where the count is 0 would otherwise say so.
        exists = np.array(
            [
                name in _NATIONAL_FIGURES or (p != NATIONAL and "year" not in shown.columns)
                for p in shown["provider"].to_list()
            ],
            dtype=bool,
        )
        columns[name] = [
            (SUPPRESSED if e else None) if h else (round(float(v), dp) if np.isfinite(v) else None)
            for v, h, e in zip(values, hidden, exists, strict=True)
        ]
    for name in ("band_95", "band_998"):
        if name in shown.columns:
            columns[name] = [
                SUPPRESSED if h else v for v, h in zip(shown[name].to_list(), hidden, strict=True)
            ]
    # Caution is read off the released count, so the flag cannot tell a reader that a count
    # rounded up to 20 was really 18 or 19.
    threshold = result.indicator.caution_below
    columns["caution"] = [
        bool(h or not np.isfinite(v) or v < threshold)
        for v, h in zip(shown["observed"].to_numpy(), hidden, strict=True)
    ]
    if "year" in shown.columns:
        columns["year"] = list(shown["year"].to_list())
    if "note" in shown.columns:
        # "No activity in the window" says the denominator is 0, which the MHSDS rule withholds.
        columns["note"] = [
            None if h else v for v, h in zip(shown["note"].to_list(), hidden, strict=True)
        ]
    out = []
    for i, provider in enumerate(shown["provider"].to_list()):
        row: dict[str, Cell] = {
            "indicator": result.key,
            "window": result.window.label,
            "provider": provider,
        }
        row.update({name: values[i] for name, values in columns.items()})
        out.append({name: row.get(name) for name in shape})
    return out


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _suppressed(result: IndicatorResult, table: pl.DataFrame, rule: str) -> np.ndarray:
    """The rows whose count, and everything derived from it, is withheld.

    Beyond the rule's own cells: a row whose denominator is a suppressed count, or (a share of
    deaths) whose complement is (the deaths not reviewed, say), since a released value
    and the other count give it back; and, because the national row is the sum of the providers'
    rows, enough further providers that the withheld ones together are not themselves a count
    the rule would withhold (secondary suppression, smallest first).
    """
    denominator = result.indicator.denominator
    share_of_deaths = denominator is not None and denominator.share_of is not None
    return suppressed_rows(table, rule, share_of_deaths=share_of_deaths)


def suppressed_rows(
    table: pl.DataFrame,
    rule: str,
    *,
    share_of_deaths: bool = False,
    also: np.ndarray | None = None,
) -> np.ndarray:
    """The rows of a table of parts and their total to withhold under ``rule``, as
    :func:`_suppressed` says: ``table`` has ``provider`` (the total's row labelled
    :data:`NATIONAL`, the parts any other label), ``observed`` and optionally ``denominator``;
    ``share_of_deaths`` when the denominator counts deaths too, so that its complement is a count
    of people; ``also``, rows to withhold from the start for a reason of the table's own. The
    inequalities and themes tables are protected by this same function."""
    observed = table["observed"].to_numpy().astype(float)
    hidden = disclose(observed, rule=rule).suppressed.copy()
    if also is not None:
        hidden |= also
    if "denominator" in table.columns:
        # A value over a withheld denominator cannot be published, so neither is its count.
        n = table["denominator"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        hidden |= disclose(n, rule=rule).suppressed
        if share_of_deaths:
            hidden |= disclose(np.clip(n - observed, 0, None), rule=rule).suppressed
    providers = np.array([p != NATIONAL for p in table["provider"].to_list()])
    columns = [observed] + ([n] if "denominator" in table.columns else [])
    if not providers.all():
        while True:
            withheld = hidden & providers
            total = float(observed[withheld].sum())
            if not (
                (withheld.any() and disclose([total], rule=rule).suppressed[0])
                or any(_pinned(x, hidden, providers, get_rule(rule)) for x in columns)
            ):
                break
            candidates = np.flatnonzero(providers & ~hidden)
            if not len(candidates):
                hidden |= ~providers  # nothing left to add: withhold the national row instead
                break
            hidden[candidates[np.argmin(observed[candidates])]] = True
    return hidden


def _pinned(
    counts: np.ndarray, hidden: np.ndarray, providers: np.ndarray, rule: DisclosureRule
) -> bool:
    """Could someone work out one provider's count exactly from the released national count and
    what is released of the others? Each released count is known to within half the rounding
    base, and the providers' counts add up to the national one; a withheld count is known only
    to lie between the rule's smallest and largest withheld count (the worst case: someone who
    knows which counts the rule withheld itself) or, withheld for another's sake, above them.

    Two counts of 4 withheld beside a national 8 released as 10 (so 8 to 12) are both 4; four
    released counts of 8, 38, 38 and 43 (shown 10, 40, 40, 45, so at least 127 in all) beside a
    national 127 shown as 125 (so at most 127) are each exactly their smallest possible value.
    """
    national = ~providers & ~hidden & np.isfinite(counts)
    present = providers & np.isfinite(counts)
    if not national.any() or not present.any():
        return False
    half, smallest = rule.rounding_base // 2, 0 if rule.suppress_zero else 1

    def bounds(count: float, withheld: bool) -> tuple[float, float]:
        if withheld:
            if smallest <= count <= rule.max_suppressed:
                return smallest, rule.max_suppressed
            # Withheld for another count's sake: nothing bounds it above but the national count.
            return rule.max_suppressed + 1, math.inf
        if count == 0 and not rule.suppress_zero:
            return 0, 0
        released = math.floor(count / rule.rounding_base + 0.5) * rule.rounding_base
        return max(released - half, rule.max_suppressed + 1), released + half

    cells = [bounds(c, h) for c, h in zip(counts[present], hidden[present], strict=True)]
    total_low, total_high = bounds(float(counts[national][0]), False)
    for i, (low, high) in enumerate(cells):
        if low == high:
            continue  # a released 0 under a rule that shows 0: known anyway
        # Summed without the cell itself (not subtracted from a total: a bound may be infinite).
        others_low = sum(lo for j, (lo, _) in enumerate(cells) if j != i)
        others_high = sum(hi for j, (_, hi) in enumerate(cells) if j != i)
        if max(low, total_low - others_high) >= min(high, total_high - others_low):
            return True
    return False


def _round(value: float, places: int) -> float | None:
    return round(value, places) if math.isfinite(value) else None


def as_plain(value: Any) -> Cell:
    """A cell for formats that have no booleans or nulls of their own (CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value  # type: ignore[no-any-return]

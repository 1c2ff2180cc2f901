"""Indirect and direct standardisation, one output row per unit.

The national benchmark compares providers through an indirectly standardised ratio, observed over
expected deaths with expected deaths from national stratum rates (the SHMI analogue; see
STATISTICS.md section 4). Directly standardised rates are provided for population-level
comparisons, with Fingertips' rule of not publishing a DSR built on fewer than 10 events.

Inputs are stratum-level: one element per unit x stratum row (for example provider x age band x
sex). The functions add the strata up per unit; they never loop over units in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import polars as pl

from ._arrays import (
    FloatArray,
    Vector,
    as_float_array,
    check_confidence,
    check_non_negative,
    check_same_length,
    is_scalar,
)
from .intervals import byar_count_limits, count_limits

#: Fewer total events than this and a directly standardised rate is not published (PHE).
DSR_MIN_EVENTS = 10

DSR_TOO_FEW_EVENTS = f"fewer than {DSR_MIN_EVENTS} events: not calculated"
DSR_MISSING = "missing counts or denominators"

Labels = Sequence[Any] | pl.Series | np.ndarray[Any, Any]


@overload
def reference_rate(reference_observed: float, reference_denominator: float) -> float: ...
@overload
def reference_rate(
    reference_observed: Vector, reference_denominator: float | Vector
) -> FloatArray: ...
def reference_rate(
    reference_observed: float | Vector, reference_denominator: float | Vector
) -> float | FloatArray:
    """Reference (e.g. national) stratum rates r_i / N_i, the building block of expected counts.

    A stratum with a zero reference denominator has no defined rate and gives NaN, which then
    makes the expected count of any unit using that stratum NaN rather than silently zero.
    """
    events = as_float_array(reference_observed, "reference_observed")
    people = as_float_array(reference_denominator, "reference_denominator")
    check_non_negative(events, "reference_observed")
    check_non_negative(people, "reference_denominator")
    events, people = np.broadcast_arrays(events, people)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(people > 0, events / np.where(people > 0, people, 1.0), np.nan)
    if is_scalar(reference_observed) and is_scalar(reference_denominator):
        return float(rates[0])
    return rates.astype(np.float64)


def indirect_standardise(
    observed: Vector,
    denominator: Vector,
    reference_observed: Vector,
    reference_denominator: Vector,
    unit: Labels | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Indirectly standardised ratios (observed / expected) per unit, with confidence limits.

    Parameters
    ----------
    observed, denominator:
        The unit's own events and denominator (population, admissions, bed days) in each stratum
        row.
    reference_observed, reference_denominator:
        The reference (national) events and denominator of that row's stratum, repeated on every
        row of the stratum.
    unit:
        Optional unit label per row (e.g. provider code). Without it all rows form one unit.
    confidence:
        Two-sided confidence level as a fraction.

    Returns
    -------
    polars.DataFrame:
        One row per unit in order of first appearance, with columns ``unit`` (null when no labels
        were given), ``observed`` (sum O), ``expected`` (E = sum of reference_observed /
        reference_denominator x denominator), ``ratio`` (O/E), ``lower`` and ``upper``: the
        :func:`~mhdeaths.stats.ci_count` limits of O (exact below 10 events, Byar's from 10)
        divided by E. A unit with E = 0 gets null ratio and limits. A unit with a missing count
        or denominator, or using a stratum whose reference denominator is 0 (no reference rate),
        gets null in every column it affects (``observed`` or ``expected``, and so the ratio and
        limits): per-unit results hold null, never NaN.

    Source: PHEindicatormethods ``calculate_ISRatio``; Fingertips technical guidance,
    "Indirectly standardised ratios". Multiply the ratio by the crude reference rate for an
    indirectly standardised rate.
    """
    check_confidence(confidence)
    events = as_float_array(observed, "observed")
    people = as_float_array(denominator, "denominator")
    ref_events = as_float_array(reference_observed, "reference_observed")
    ref_people = as_float_array(reference_denominator, "reference_denominator")
    rows = check_same_length(
        observed=events,
        denominator=people,
        reference_observed=ref_events,
        reference_denominator=ref_people,
    )
    check_non_negative(events, "observed")
    check_non_negative(people, "denominator")
    expected_rows = reference_rate(ref_events, ref_people) * people

    totals = _sum_by_unit(
        unit, rows, observed=events, expected=expected_rows, denominator=people
    ).drop("denominator")
    o = totals["observed"].to_numpy().astype(np.float64)
    e = totals["expected"].to_numpy().astype(np.float64)
    lower, upper = count_limits(o, confidence, "auto")
    usable = e > 0
    safe_e = np.where(usable, e, 1.0)
    return totals.with_columns(
        pl.Series("ratio", np.where(usable, o / safe_e, np.nan)),
        pl.Series("lower", np.where(usable, lower / safe_e, np.nan)),
        pl.Series("upper", np.where(usable, upper / safe_e, np.nan)),
    ).with_columns(pl.col("observed", "expected", "ratio", "lower", "upper").fill_nan(None))


def direct_standardise(
    observed: Vector,
    denominator: Vector,
    standard_population: Vector,
    unit: Labels | None = None,
    multiplier: float = 100_000,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Directly standardised rates per unit with Dobson confidence limits.

    Parameters
    ----------
    observed, denominator:
        The unit's events x_i and denominator n_i in each stratum row. A stratum with n_i = 0 must
        have x_i = 0; its rate is taken as 0.
    standard_population:
        The standard population weight w_i of that row's stratum (e.g. the European Standard
        Population 2013). Give every unit every stratum, with zero counts where there were no
        events, so that each unit is weighted by the whole standard population.
    unit:
        Optional unit label per row. Without it all rows form one unit.
    multiplier:
        Scale of the result, e.g. 100_000 for "per 100,000".
    confidence:
        Two-sided confidence level as a fraction.

    Returns
    -------
    polars.DataFrame:
        One row per unit (first-appearance order): ``unit``, ``total_count`` (X = sum x_i),
        ``total_denominator`` (sum n_i), ``value`` (DSR = sum w_i x_i / n_i / sum w_i x
        multiplier), ``lower``, ``upper`` and ``note``. Limits are Dobson's:
        DSR + sqrt(var / X) (B(X) - X) with var = sum x_i (w_i / n_i)^2 / (sum w_i)^2 and B(X)
        Byar's limits for X. When X < 10 value and limits are null and ``note`` says why (PHE
        convention); otherwise ``note`` is null. A missing count or denominator makes its unit's
        totals, value and limits null (never NaN).

    Source: Dobson AJ, Kuulasmaa K, Eberle E, Scherer J (1991) Stat Med 10:457-462;
    PHEindicatormethods ``calculate_dsr``; Fingertips technical guidance, "Directly standardised
    rates" (DSRs are not calculated for fewer than 10 events).
    """
    check_confidence(confidence)
    events = as_float_array(observed, "observed")
    people = as_float_array(denominator, "denominator")
    weights = as_float_array(standard_population, "standard_population")
    rows = check_same_length(observed=events, denominator=people, standard_population=weights)
    check_non_negative(events, "observed")
    check_non_negative(people, "denominator")
    check_non_negative(weights, "standard_population")
    if bool(np.any((people == 0) & (events > 0))):
        raise ValueError("A stratum with a zero denominator cannot have events.")
    with np.errstate(divide="ignore", invalid="ignore"):
        # An empty stratum (no people, no events) contributes a rate of 0.
        stratum_rate = np.where(people > 0, events / np.where(people > 0, people, 1.0), 0.0)
        share = np.where(people > 0, weights / np.where(people > 0, people, 1.0), 0.0)
    stratum_rate[np.isnan(events) | np.isnan(people)] = np.nan

    totals = _sum_by_unit(
        unit,
        rows,
        total_count=events,
        total_denominator=people,
        weighted=weights * stratum_rate,
        weight=weights,
        variance_part=events * share**2,
    )
    count = totals["total_count"].to_numpy().astype(np.float64)
    weight = totals["weight"].to_numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        dsr = totals["weighted"].to_numpy() / weight
        variance = totals["variance_part"].to_numpy() / weight**2
        byar_lower, byar_upper = byar_count_limits(count, confidence)
        scale = np.sqrt(variance / count)
        lower = dsr + scale * (byar_lower - count)
        upper = dsr + scale * (byar_upper - count)

    missing = np.isnan(count) | np.isnan(dsr)
    too_few = ~missing & (count < DSR_MIN_EVENTS)
    hidden = missing | too_few
    note = np.where(missing, DSR_MISSING, np.where(too_few, DSR_TOO_FEW_EVENTS, ""))
    return totals.select(
        "unit",
        "total_count",
        "total_denominator",
        pl.Series("value", np.where(hidden, np.nan, dsr * multiplier)),
        pl.Series("lower", np.where(hidden, np.nan, lower * multiplier)),
        pl.Series("upper", np.where(hidden, np.nan, upper * multiplier)),
        pl.Series("note", note, dtype=pl.String),
    ).with_columns(
        pl.col("total_count", "total_denominator", "value", "lower", "upper").fill_nan(None),
        pl.when(pl.col("note") == "").then(None).otherwise(pl.col("note")).alias("note"),
    )


def _sum_by_unit(unit: Labels | None, rows: int, **columns: FloatArray) -> pl.DataFrame:
    """Sum float columns per unit label, keeping first-appearance order.

    NaN in any row makes its unit's sum NaN, so a missing stratum is never silently dropped.
    """
    if unit is None:
        labels = pl.Series("unit", [None] * rows, dtype=pl.String)
    else:
        labels = pl.Series("unit", unit)
        if labels.len() != rows:
            raise ValueError(
                f"unit must have one label per row; got {labels.len()} labels for {rows} rows."
            )
    frame = pl.DataFrame([labels, *(pl.Series(name, values) for name, values in columns.items())])
    if rows == 0 and unit is None:
        # No rows at all: one unit with nothing in it, rather than an empty frame.
        return pl.DataFrame(
            [pl.Series("unit", [None], dtype=pl.String)]
            + [pl.Series(name, [0.0]) for name in columns]
        )
    return frame.group_by("unit", maintain_order=True).agg(pl.col(name).sum() for name in columns)


__all__ = [
    "DSR_MIN_EVENTS",
    "direct_standardise",
    "indirect_standardise",
    "reference_rate",
]

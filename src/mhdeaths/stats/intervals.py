"""Confidence intervals for counts, proportions and crude rates.

These follow the Fingertips / PHEindicatormethods conventions, so that a rate published by this
project carries the same interval as the same rate published by OHID or UKHSA:

- counts: the exact chi-square (Poisson) interval below 10 events, Byar's approximation from 10
  (PHE Technical Guide "Confidence Intervals", 2018; Breslow & Day 1987);
- proportions: the Wilson score interval (Wilson 1927; Newcombe 1998);
- crude rates: the count interval divided by the denominator (PHEindicatormethods ``phe_rate``).

The formulas are written out in ``docs/statistics.md``.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
from scipy import special

from ._arrays import (
    FloatArray,
    Vector,
    as_float_array,
    check_non_negative,
    is_scalar,
    z_for,
)

CountMethod = Literal["auto", "exact", "byar"]

#: Below this many events ``method="auto"`` uses the exact interval, from it Byar's (PHE).
EXACT_BELOW = 10

_COUNT_METHODS = ("auto", "exact", "byar")


def exact_count_limits(observed: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Exact Poisson limits for counts, via the chi-square distribution.

    L = chi2.ppf((1-c)/2, 2O)/2 (0 when O = 0) and U = chi2.ppf(c + (1-c)/2, 2O+2)/2. Missing
    counts give missing limits. No input checks: callers have validated ``observed``.

    A chi-square quantile with 2k degrees of freedom, halved, is the quantile of a gamma with
    shape k, so ``special.gammaincinv`` gives the same numbers without importing ``scipy.stats``
    (two seconds of a command's start).
    """
    tail = (1 - confidence) / 2
    positive = observed > 0
    # chi2 with 0 degrees of freedom is undefined; the lower limit of a zero count is 0 by definition.
    safe = np.where(positive, observed, 1.0)
    lower = np.where(positive, special.gammaincinv(safe, tail), 0.0)
    upper = special.gammaincinv(observed + 1, 1 - tail)
    missing = np.isnan(observed)
    lower[missing] = np.nan
    return lower.astype(np.float64), np.asarray(upper, dtype=np.float64)


def byar_count_limits(observed: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Byar's approximation to the exact Poisson limits.

    L = O(1 - 1/(9O) - z/(3 sqrt O))^3 and U = (O+1)(1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3. At very
    small counts and high confidence the lower formula goes negative; the limit is then 0 (PHE
    returns NA there; a count cannot have a negative lower limit, and ``method="auto"`` never uses
    Byar's below 10 events, where this happens).
    """
    z = z_for(confidence)
    positive = observed > 0
    safe = np.where(positive, observed, 1.0)
    lower = np.where(positive, safe * (1 - 1 / (9 * safe) - z / (3 * np.sqrt(safe))) ** 3, 0.0)
    lower = np.maximum(lower, 0.0)
    after = observed + 1
    upper = after * (1 - 1 / (9 * after) + z / (3 * np.sqrt(after))) ** 3
    missing = np.isnan(observed)
    lower[missing] = np.nan
    return lower.astype(np.float64), np.asarray(upper, dtype=np.float64)


def count_limits(
    observed: FloatArray, confidence: float, method: str
) -> tuple[FloatArray, FloatArray]:
    """Count limits by method name, on an already validated array (the vectorised core)."""
    if method not in _COUNT_METHODS:
        raise ValueError(f"method must be one of {', '.join(_COUNT_METHODS)}; got {method!r}.")
    z_for(confidence)  # validates the level for every method
    if method == "exact":
        return exact_count_limits(observed, confidence)
    if method == "byar":
        return byar_count_limits(observed, confidence)
    exact_lower, exact_upper = exact_count_limits(observed, confidence)
    byar_lower, byar_upper = byar_count_limits(observed, confidence)
    small = ~(observed >= EXACT_BELOW)  # NaN counts fall here and stay NaN either way
    return np.where(small, exact_lower, byar_lower), np.where(small, exact_upper, byar_upper)


@overload
def ci_count(
    observed: float, confidence: float = 0.95, method: CountMethod = "auto"
) -> tuple[float, float]: ...
@overload
def ci_count(
    observed: Vector, confidence: float = 0.95, method: CountMethod = "auto"
) -> tuple[FloatArray, FloatArray]: ...
def ci_count(
    observed: float | Vector, confidence: float = 0.95, method: CountMethod = "auto"
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Confidence limits for an observed count of events, on the count scale.

    Parameters
    ----------
    observed:
        The observed number of events: a number, or an array-like of numbers (``None``/NaN for
        missing). Must be zero or more.
    confidence:
        Two-sided confidence level as a fraction, e.g. 0.95 or 0.998.
    method:
        ``"exact"``: the chi-square interval, L = chi2((1-c)/2, 2O)/2 (0 when O = 0),
        U = chi2(c+(1-c)/2, 2O+2)/2. ``"byar"``: Byar's approximation. ``"auto"`` (default):
        exact below 10 events, Byar's from 10, as Fingertips does.

    Returns
    -------
    (lower, upper):
        Python floats for a scalar input; float64 numpy arrays otherwise. Missing counts give NaN.

    Source: PHE Technical Guide "Confidence Intervals" (2018), appendices 1 and 2; Breslow NE,
    Day NE, Statistical methods in cancer research vol. II (IARC 1987).
    """
    counts = as_float_array(observed, "observed")
    check_non_negative(counts, "observed")
    lower, upper = count_limits(counts, confidence, method)
    if is_scalar(observed):
        return float(lower[0]), float(upper[0])
    return lower, upper


@overload
def ci_proportion(x: float, n: float, confidence: float = 0.95) -> tuple[float, float]: ...
@overload
def ci_proportion(
    x: Vector, n: float | Vector, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]: ...
@overload
def ci_proportion(
    x: float, n: Vector, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]: ...
def ci_proportion(
    x: float | Vector, n: float | Vector, confidence: float = 0.95
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Wilson score confidence limits for a proportion x/n.

    Parameters
    ----------
    x:
        Number of cases with the outcome (need not be a whole number, e.g. weighted counts).
    n:
        Number of cases in the sample; ``n == 0`` gives NaN limits.
    confidence:
        Two-sided confidence level as a fraction.

    Returns
    -------
    (lower, upper):
        On the proportion scale (0 to 1): (2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2)).
        Floats for scalar inputs, arrays when either input is an array.

    Raises ValueError when x or n is negative or x > n.

    Source: Wilson EB (1927) JASA 22:209-212; Newcombe RG (1998) Stat Med 17:857-872 (method 3);
    PHEindicatormethods ``wilson_lower``/``wilson_upper``.
    """
    cases = as_float_array(x, "x")
    sizes = as_float_array(n, "n")
    check_non_negative(cases, "x")
    check_non_negative(sizes, "n")
    cases, sizes = np.broadcast_arrays(cases, sizes)
    if bool(np.any(cases > sizes)):
        raise ValueError("x must not be larger than n for a proportion.")
    z = z_for(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = 2 * cases + z**2
        spread = z * np.sqrt(z**2 + 4 * cases * (1 - cases / sizes))
        scale = 2 * (sizes + z**2)
        lower = (centre - spread) / scale
        upper = (centre + spread) / scale
    # At x = 0 and x = n the formula is exactly 0 and 1; pin them against rounding so that the
    # interval always contains the observed proportion.
    lower = np.where(cases == 0, 0.0, np.clip(lower, 0.0, 1.0))
    upper = np.where(cases == sizes, 1.0, np.clip(upper, 0.0, 1.0))
    empty = sizes == 0
    lower = np.where(empty, np.nan, lower)
    upper = np.where(empty, np.nan, upper)
    if is_scalar(x) and is_scalar(n):
        return float(lower[0]), float(upper[0])
    return lower.astype(np.float64), upper.astype(np.float64)


@overload
def rate(
    x: float,
    n: float,
    multiplier: float = 100_000,
    confidence: float = 0.95,
    method: CountMethod = "auto",
) -> tuple[float, float, float]: ...
@overload
def rate(
    x: Vector,
    n: float | Vector,
    multiplier: float = 100_000,
    confidence: float = 0.95,
    method: CountMethod = "auto",
) -> tuple[FloatArray, FloatArray, FloatArray]: ...
@overload
def rate(
    x: float,
    n: Vector,
    multiplier: float = 100_000,
    confidence: float = 0.95,
    method: CountMethod = "auto",
) -> tuple[FloatArray, FloatArray, FloatArray]: ...
def rate(
    x: float | Vector,
    n: float | Vector,
    multiplier: float = 100_000,
    confidence: float = 0.95,
    method: CountMethod = "auto",
) -> tuple[float, float, float] | tuple[FloatArray, FloatArray, FloatArray]:
    """A crude rate x/n x multiplier with confidence limits.

    Parameters
    ----------
    x:
        Number of events (zero or more).
    n:
        Denominator: person-time at risk (e.g. occupied bed days) or a population. ``n == 0``
        gives NaN.
    multiplier:
        Scale of the result, e.g. 100_000 for "per 100,000 bed days".
    confidence, method:
        As for :func:`ci_count`; the default ``"auto"`` is exact below 10 events, Byar's from 10.

    Returns
    -------
    (value, lower, upper):
        value = x/n x multiplier; the limits are the :func:`ci_count` limits of x divided by n and
        multiplied likewise. Floats for scalar inputs, arrays otherwise.

    Source: PHEindicatormethods ``phe_rate``; Fingertips technical guidance, "Rates".
    """
    counts = as_float_array(x, "x")
    sizes = as_float_array(n, "n")
    check_non_negative(counts, "x")
    check_non_negative(sizes, "n")
    counts, sizes = np.broadcast_arrays(counts, sizes)
    lower, upper = count_limits(counts, confidence, method)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(sizes > 0, multiplier / np.where(sizes > 0, sizes, 1.0), np.nan)
    value, low, high = counts * per, lower * per, upper * per
    if is_scalar(x) and is_scalar(n):
        return float(value[0]), float(low[0]), float(high[0])
    return value.astype(np.float64), low.astype(np.float64), high.astype(np.float64)

"""What a funnel can detect: the smallest relative risk its upper limit flags with a given power.

A provider banded "as expected" has not been shown to be like the rest; it may only be too small
for its funnel to see a difference. This module says how large a difference its funnel would see:
for an expected count E, the smallest relative risk R such that a unit whose true rate is R times
the target lies above the funnel's upper limit with at least the stated probability (power).

It uses the very limits ``funnel`` bands against (``_limits``), so the answer is about the plot a
reader sees: the exact Poisson (or binomial) prediction limits, widened for over-dispersion when a
between-unit variance tau^2 is given. Given the limit, a unit is flagged exactly when its count
exceeds the limit's count c' = limit x E, i.e. when O >= c = floor(c') + 1; the chance of that is
an exact Poisson (binomial) tail, increasing in R, so the smallest R is that tail solved for its
mean: the inverse of the regularised incomplete gamma (beta) function. No normal approximation.
"""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np
import polars as pl
from scipy import special

from ._arrays import FloatArray, Vector, as_float_array, check_confidence, is_scalar
from ._limits import Model, transformed_limits, unadjusted_limits

PowerKind = Literal["ratio", "proportion"]
PowerTransform = Literal["log", "sqrt", "arcsine"]

_DEFAULT_TRANSFORM = {"ratio": "log", "proportion": "arcsine"}


@overload
def detectable_ratio(
    expected: float | None,
    level: float = ...,
    power: float = ...,
    *,
    kind: PowerKind = ...,
    target: float | None = ...,
    tau2: float = ...,
    overdispersion: PowerTransform | None = ...,
) -> float | None: ...


@overload
def detectable_ratio(
    expected: Vector,
    level: float = ...,
    power: float = ...,
    *,
    kind: PowerKind = ...,
    target: float | None = ...,
    tau2: float = ...,
    overdispersion: PowerTransform | None = ...,
) -> pl.Series: ...


def detectable_ratio(
    expected: float | Vector | None,
    level: float = 0.998,
    power: float = 0.8,
    *,
    kind: PowerKind = "ratio",
    target: float | None = None,
    tau2: float = 0.0,
    overdispersion: PowerTransform | None = None,
) -> float | pl.Series | None:
    """The smallest relative risk a funnel's upper ``level`` limit flags with probability ``power``.

    Parameters
    ----------
    expected:
        ``kind="ratio"``: the expected count E (the funnel's denominator of a standardised ratio).
        ``"proportion"``: the sample size n. A number, or an array-like of them.
    level:
        The funnel's limit, 0.998 (default) or 0.95: the two-sided level whose upper tail
        (1 - level) / 2 is the one-sided false-alarm rate of a unit in control.
    power:
        The probability of lying above the limit, 0.8 by default.
    kind:
        ``"ratio"`` (default; Poisson counts, target 1) or ``"proportion"`` (binomial counts
        around ``target``; the relative risk multiplies the proportion, so R x target <= 1).
    target:
        The funnel's centre: 1 for a ratio (default); required for a proportion.
    tau2:
        The funnel's between-unit variance; when positive the limit is the over-dispersion
        adjusted one the funnel bands against (the wider of that and the exact limit).
    overdispersion:
        The scale tau^2 is on (``"log"`` or ``"sqrt"`` for a ratio, ``"arcsine"`` for a
        proportion); default log for a ratio, arcsine for a proportion. Ignored when tau2 is 0.

    Returns
    -------
    A float (None for a missing, zero or negative E, or where no relative risk can reach the
    power: a proportion whose limit is its whole sample) for a scalar; otherwise a Float64
    polars Series named ``detectable_ratio`` with nulls there, never NaN.
    """
    check_confidence(level)
    if not (isinstance(power, (int, float)) and 0 < power < 1):
        raise ValueError(
            f"power must be a fraction between 0 and 1 (for example 0.8); got {power!r}."
        )
    if kind not in _DEFAULT_TRANSFORM:
        raise ValueError(f"kind must be 'ratio' or 'proportion'; got {kind!r}.")
    theta = _target(kind, target)
    if not (isinstance(tau2, (int, float)) and math.isfinite(tau2) and tau2 >= 0):
        raise ValueError(f"tau2 must be zero or more; got {tau2!r}.")
    transform = overdispersion or _DEFAULT_TRANSFORM[kind]
    allowed = ("log", "sqrt") if kind == "ratio" else ("arcsine",)
    if transform not in allowed:
        raise ValueError(
            f"overdispersion for a {kind} must be one of {', '.join(allowed)}; got {transform!r}."
        )
    scalar = expected is None or is_scalar(expected)
    size = as_float_array([expected] if expected is None else expected, "expected")
    model = Model(
        kind=kind,
        target=theta,
        tau2=float(tau2),
        transform=transform,
        adjust=tau2 > 0,
        proportion_limits="exact",
    )
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        # Expected counts near the float limits overflow inside the limits; they answer null.
        result = _solve(model, size, level, power)
    if scalar:
        value = float(result[0])
        return value if math.isfinite(value) else None
    return pl.Series("detectable_ratio", result, dtype=pl.Float64).fill_nan(None)


def _target(kind: str, target: float | None) -> float:
    if kind == "ratio":
        if target is None:
            return 1.0
        if not (isinstance(target, (int, float)) and math.isfinite(target) and target > 0):
            raise ValueError(f"target must be a positive number; got {target!r}.")
        return float(target)
    if not (isinstance(target, (int, float)) and 0 < target < 1):
        raise ValueError(f"A proportion's target must be between 0 and 1; got {target!r}.")
    return float(target)


def _solve(model: Model, size: FloatArray, level: float, power: float) -> FloatArray:
    usable = np.isfinite(size) & (size > 0)
    safe = np.where(usable, size, 1.0)
    _, upper = unadjusted_limits(model, safe, level)
    if model.adjust:
        # As ``all_limits``: the adjusted limit is never narrower than the exact one.
        upper = np.maximum(upper, transformed_limits(model, safe, level)[1])
    # The smallest whole count strictly above the limit: a unit is flagged when O/E > limit.
    # The limit is a count over E, so multiplying back may land a hair off a whole number.
    count = np.floor(np.round(upper * safe, 9)) + 1
    if model.kind == "ratio":
        # P(Poisson(mu) >= c) = gammainc(c, mu), rising in mu; solve it for mu = R x target x E.
        mean = special.gammaincinv(count, power)
        ratio = mean / (model.target * safe)
    else:
        # P(Binomial(n, p) >= c) = betainc(c, n - c + 1, p) for 1 <= c <= n, rising in p.
        reachable = count <= safe
        c = np.where(reachable, count, 1.0)
        p = special.betaincinv(c, np.maximum(safe - c + 1, 1e-300), power)
        ratio = np.where(reachable, p / model.target, np.nan)
    return np.where(usable & np.isfinite(ratio), ratio, np.nan)


__all__ = ["detectable_ratio"]

"""The funnel's control limits for a fitted model: prediction limits, their over-dispersed form,
and the forms FunnelPlotR and the SHMI draw (``compatibility``).

Kept apart from ``funnel`` (which fits the model: target, z-scores, over-dispersion, bands)
because the limits are the one part a plot needs again at every denominator it draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from ._arrays import (
    FloatArray,
)
from ._arrays import z_for as _z_for
from ._exact import binomial_count, poisson_count

Kind = Literal["ratio", "proportion", "rate"]

#: The two control-limit levels and their column suffixes (95% and 99.8%, about 2 and 3 sigma).
LEVELS: tuple[tuple[str, float], ...] = (("95", 0.95), ("998", 0.998))

#: FunnelPlotR writes its normal quantiles rounded to six places (R/calculate_limits.R); its
#: limits are reproduced with the same constants.
_FUNNELPLOTR_Z: dict[float, float] = {0.95: 1.959964, 0.998: 3.090232}


@dataclass(frozen=True)
class Model:
    """Everything the limits depend on besides the denominator."""

    kind: str
    target: float
    tau2: float
    transform: str
    adjust: bool
    proportion_limits: str
    compatibility: str | None = None
    phi: float = math.nan


def all_limits(model: Model, den: FloatArray) -> dict[str, FloatArray]:
    """The eight limit columns (unscaled) at the given denominators."""
    if model.compatibility is not None:
        return compatible_limits(model, den)
    out: dict[str, FloatArray] = {}
    for level, confidence in LEVELS:
        lower, upper = unadjusted_limits(model, den, confidence)
        out[f"lower_{level}"], out[f"upper_{level}"] = lower, upper
        if model.adjust:
            wide_lower, wide_upper = transformed_limits(model, den, confidence)
            # Adjustment widens limits for between-unit variation; at very small denominators
            # the normal approximation can fall inside the exact limit, so keep the wider one.
            lower, upper = np.minimum(lower, wide_lower), np.maximum(upper, wide_upper)
        out[f"lower_{level}_adjusted"], out[f"upper_{level}_adjusted"] = lower, upper
    return out


def compatible_limits(model: Model, den: FloatArray) -> dict[str, FloatArray]:
    """FunnelPlotR's (``R/calculate_limits.R``) or the SHMI's limits for standardised ratios.

    The adjusted columns hold the limits units are banded against: FunnelPlotR's
    over-dispersion limits when phi > 1 (it draws and flags against them only then), otherwise
    its unadjusted ones; under ``"shmi"`` always the random-effects limits.
    """
    usable = np.isfinite(den) & (den > 0)
    safe = np.where(usable, den, 1.0)
    tau2 = 0.0 if math.isnan(model.tau2) else model.tau2
    over_dispersed = model.phi > 1 if math.isfinite(model.phi) else model.phi == math.inf
    out: dict[str, FloatArray] = {}
    for level, confidence in LEVELS:
        z = _FUNNELPLOTR_Z[confidence]
        tail = (1 - confidence) / 2
        if model.compatibility == "shmi":
            lower, upper = np.exp(-z * np.sqrt(1 / safe)), np.exp(z * np.sqrt(1 / safe))
        else:
            # chdtri(df, q) is R's qchisq(q, df, lower.tail = FALSE).
            lower = special.chdtri(2 * safe, 1 - tail) / 2 / safe
            upper = special.chdtri(2 * (safe + 1), tail) / 2 / safe
        if model.transform == "log":
            half = z * np.sqrt(1 / safe + tau2)
            wide_lower, wide_upper = np.exp(-half), np.exp(half)
        else:
            # Left on the square-root scale, as FunnelPlotR does (its issue #33).
            half = z * np.sqrt(1 / (4 * safe) + tau2)
            wide_lower, wide_upper = 1 - half, 1 + half
        if model.compatibility == "funnelplotr" and not over_dispersed:
            wide_lower, wide_upper = lower, upper
        theta = model.target
        out[f"lower_{level}"] = np.where(usable, theta * lower, np.nan)
        out[f"upper_{level}"] = np.where(usable, theta * upper, np.nan)
        out[f"lower_{level}_adjusted"] = np.where(usable, theta * wide_lower, np.nan)
        out[f"upper_{level}_adjusted"] = np.where(usable, theta * wide_upper, np.nan)
    return out


def unadjusted_limits(
    model: Model, den: FloatArray, confidence: float
) -> tuple[FloatArray, FloatArray]:
    tail = (1 - confidence) / 2
    theta = model.target
    usable = np.isfinite(den) & (den > 0)
    safe = np.where(usable, den, 1.0)
    if not (math.isfinite(theta) and theta >= 0):
        nothing = np.full(den.shape, np.nan)
        return nothing, nothing.copy()
    if model.kind == "proportion":
        if model.proportion_limits == "wilson":
            half = _z_for(confidence) * np.sqrt(theta * (1 - theta) / safe)
            lower, upper = np.clip(theta - half, 0, 1), np.clip(theta + half, 0, 1)
        else:
            low_count = binomial_count(safe, theta, tail)
            high_count = binomial_count(safe, theta, 1 - tail)
            lower = np.maximum(low_count, 0.0) / safe
            upper = np.minimum(high_count + 1, safe) / safe
    else:
        mean = theta * safe
        lower = np.maximum(poisson_count(mean, tail) - 1, 0.0) / safe
        upper = poisson_count(mean, 1 - tail) / safe
    return np.where(usable, lower, np.nan), np.where(usable, upper, np.nan)


def transformed_limits(
    model: Model, den: FloatArray, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Over-dispersion-adjusted limits on the transformed scale, back on the value scale."""
    z = _z_for(confidence)
    theta, tau2 = model.target, model.tau2
    usable = np.isfinite(den) & (den > 0)
    safe = np.where(usable, den, 1.0)
    if model.transform == "arcsine":
        centre = math.asin(math.sqrt(theta))
        half = z * np.sqrt(1 / (4 * safe) + tau2)
        # Clip on the angle scale: squaring a negative sine would fold the limit back upwards.
        lower = np.sin(np.clip(centre - half, 0, math.pi / 2)) ** 2
        upper = np.sin(np.clip(centre + half, 0, math.pi / 2)) ** 2
    elif model.transform == "log":
        half = z * np.sqrt(1 / (theta * safe) + tau2)
        lower, upper = theta * np.exp(-half), theta * np.exp(half)
    else:
        half = z * np.sqrt(1 / (4 * theta * safe) + tau2)
        # Square back to the ratio scale (FunnelPlotR #33 left CQC limits on the root scale).
        lower = theta * np.maximum(1 - half, 0.0) ** 2
        upper = theta * (1 + half) ** 2
    return np.where(usable, lower, np.nan), np.where(usable, upper, np.nan)

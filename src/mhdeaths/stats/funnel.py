"""Funnel plots: control limits, over-dispersion and banding for comparing providers.

A funnel plot puts each provider's indicator against its precision, with control limits around a
target that narrow as the denominator grows (Spiegelhalter 2005a). This module computes, for
standardised ratios, proportions and rates:

- unadjusted limits at 95% and 99.8% that are *probability-based prediction limits*: for a
  ratio or rate a unit lies outside them exactly when its one-sided exact Poisson p-value is
  below 2.5% (0.1%), and likewise with the binomial for a proportion. These are the limits PHE's
  funnel tools draw point by point, made continuous, rather than FunnelPlotR's "exact confidence
  interval around E" form, whose real false-alarm rate drifts from the nominal one at small
  expected counts (Seaton & Manktelow 2012);
- over-dispersion estimated once, by a stated method (SHMI log-scale truncation, CQC square-root
  winsorisation, or arcsine winsorisation for proportions), with DerSimonian-Laird's additive
  between-unit variance tau^2 (Spiegelhalter 2005b), and adjusted limits that are never narrower
  than the unadjusted ones;
- bands ("higher than expected", "as expected", "lower than expected") from the adjusted limits,
  and a plain-English method note for a publication's methods section.

Where and why these choices differ from FunnelPlotR and PHEindicatormethods is set out in
``docs/statistics.md``. When a publication must match FunnelPlotR or the SHMI to the last digit,
``compatibility="funnelplotr"`` or ``"shmi"`` computes standardised ratios their way instead
(FunnelPlotR's limit forms, rank-group truncation and interpolated-quantile winsorisation), and
``winsorisation="quantile"`` alone swaps in FunnelPlotR's winsorisation; the defaults are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from ._arrays import (
    BoolArray,
    FloatArray,
    Vector,
    as_float_array,
    check_non_negative,
    check_same_length,
    trim_count,
)
from ._compat import COMPATIBILITY, WINSORISATION, check_compatibility, funnelplotr_kept, r_round
from ._limits import LEVELS, Model, all_limits
from ._notes import method_note

Kind = Literal["ratio", "proportion", "rate"]
Overdispersion = Literal["auto", "log", "sqrt", "arcsine", "none"]
ProportionLimits = Literal["exact", "wilson"]
Compatibility = Literal["funnelplotr", "shmi"]
Winsorisation = Literal["rank", "quantile"]


BAND_HIGHER = "higher than expected"
BAND_AS_EXPECTED = "as expected"
BAND_LOWER = "lower than expected"


LIMIT_COLUMNS: tuple[str, ...] = (
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "lower_95_adjusted",
    "upper_95_adjusted",
    "lower_998_adjusted",
    "upper_998_adjusted",
)

UNIT_COLUMNS: tuple[str, ...] = (
    "label",
    "numerator",
    "denominator",
    "value",
    "z",
    *LIMIT_COLUMNS,
    "band_95",
    "band_998",
)

KINDS: tuple[str, ...] = ("ratio", "proportion", "rate")

#: What ``overdispersion="auto"`` means for each kind.
DEFAULT_OVERDISPERSION: dict[str, str] = {"ratio": "log", "proportion": "arcsine", "rate": "sqrt"}

_ALLOWED_OVERDISPERSION: dict[str, tuple[str, ...]] = {
    "ratio": ("log", "sqrt", "none"),
    "rate": ("log", "sqrt", "none"),
    "proportion": ("arcsine", "none"),
}


@dataclass(frozen=True, eq=False)
class FunnelResult:
    """A funnel analysis: the method, its estimates, and one row per unit.

    Attributes
    ----------
    kind:
        ``"ratio"``, ``"proportion"`` or ``"rate"``.
    target:
        The centre line on the unscaled value scale (a ratio, a proportion between 0 and 1, or
        events per unit of denominator); multiply by ``multiplier`` to draw it.
    phi:
        The dispersion ratio estimated from the (trimmed or winsorised) z-scores; NaN when no
        over-dispersion was estimated (``overdispersion="none"`` or too few units).
    tau2:
        DerSimonian-Laird between-unit variance on the transformed scale (0 when none).
    overdispersion:
        The method used: ``"log"`` (SHMI), ``"sqrt"`` (CQC), ``"arcsine"`` or ``"none"``.
    trim:
        Fraction of units set aside (log) or winsorised (sqrt, arcsine) at each end.
    method_note:
        One paragraph naming the method, phi, tau^2 and the trimming, for a report's method notes.
    units:
        One row per unit in input order: ``label``, ``numerator``, ``denominator``, ``value``,
        ``z`` (the unadjusted z-score on the over-dispersion scale, or on the kind's default scale
        when ``overdispersion="none"``; null where undefined, e.g. O = 0 on the log scale), the
        eight limit columns, ``band_95`` and ``band_998`` (null when the unit is not banded).
    multiplier:
        Scale applied to values and limits (e.g. 100_000 for a rate per 100,000).
    proportion_limits:
        For proportions, ``"exact"`` (binomial) or ``"wilson"`` (Fingertips) unadjusted limits.
    units_in_estimate:
        How many units the over-dispersion estimate used, after exclusions and trimming.
    compatibility:
        ``None`` (this package's methods), ``"funnelplotr"`` or ``"shmi"``.
    winsorisation:
        ``"rank"`` (k = floor(trim x I) positions) or ``"quantile"`` (FunnelPlotR's R quantiles).
    """

    kind: str
    target: float
    phi: float
    tau2: float
    overdispersion: str
    trim: float
    method_note: str
    units: pl.DataFrame
    multiplier: float = 1.0
    proportion_limits: str = "exact"
    units_in_estimate: int = 0
    compatibility: str | None = None
    winsorisation: str = "rank"

    def limits(self, denominators: Vector) -> pl.DataFrame:
        """The eight limit columns at any denominators, for drawing the funnel curves.

        ``denominators`` are on the input denominator scale: expected counts for a ratio,
        sample sizes for a proportion, person-time for a rate. Returns a frame with a
        ``denominator`` column and the limit columns, scaled by ``multiplier``; denominators that
        are missing or not positive give null limits (a missing denominator stays null).
        """
        grid = as_float_array(denominators, "denominators")
        model = Model(
            kind=self.kind,
            target=self.target,
            tau2=self.tau2,
            transform=_transform_for(self.kind, self.overdispersion),
            adjust=self.tau2 > 0,
            proportion_limits=self.proportion_limits,
            compatibility=self.compatibility,
            phi=self.phi,
        )
        limits = all_limits(model, grid)
        return pl.DataFrame(
            [pl.Series("denominator", grid)]
            + [pl.Series(name, limits[name] * self.multiplier) for name in LIMIT_COLUMNS]
        ).with_columns(pl.col("denominator", *LIMIT_COLUMNS).fill_nan(None))


def funnel(
    numerator: Vector,
    denominator: Vector,
    kind: Kind = "ratio",
    target: float | None = None,
    overdispersion: Overdispersion = "auto",
    trim: float = 0.1,
    labels: Vector | list[Any] | None = None,
    multiplier: float = 1.0,
    min_expected: float | None = None,
    *,
    proportion_limits: ProportionLimits = "exact",
    compatibility: Compatibility | None = None,
    winsorisation: Winsorisation | None = None,
) -> FunnelResult:
    """Funnel-plot limits, over-dispersion and bands for a set of units (providers).

    Parameters
    ----------
    numerator, denominator:
        One value per unit. ``kind="ratio"``: observed count O and expected count E (value O/E).
        ``"proportion"``: cases x and sample size n (value x/n). ``"rate"``: events x and
        person-time n (value x/n x multiplier).
    kind:
        ``"ratio"`` (default), ``"proportion"`` or ``"rate"``.
    target:
        Centre line on the unscaled scale. Defaults: 1 for a ratio; sum x / sum n otherwise.
    overdispersion:
        ``"log"``: SHMI style. z = sqrt(E) ln(O/E); the ``trim`` fraction of ranked z-scores at
        each end is set aside; phi and tau^2 come from the rest; limits exp(+/-z sqrt(1/E + tau^2)).
        ``"sqrt"``: CQC style. z = 2(sqrt O - sqrt E), winsorised at ``trim``; limits
        (1 +/- z sqrt(1/(4E) + tau^2))^2, squared back to the ratio scale.
        ``"arcsine"`` (proportions): z = 2 sqrt(n)(asin sqrt p - asin sqrt p0), winsorised;
        limits sin^2(asin sqrt p0 +/- z sqrt(1/(4n) + tau^2)).
        ``"none"``: no adjustment. ``"auto"`` (default): log for ratios, arcsine for proportions,
        sqrt for rates. For a rate, E is the expected count target x person-time.
    trim:
        Fraction at each end, 0 <= trim < 0.5 (default 0.1, as SHMI and Spiegelhalter 2005b).
    labels:
        Unit labels; default the 0-based input positions.
    multiplier:
        Scale of values and limits (e.g. 100 for a percentage, 100_000 for a rate per 100,000).
    min_expected:
        Units whose expected count is below this are not banded (band null) and are left out of
        the over-dispersion estimate. The expected count is E for a ratio and target x n
        otherwise.
    proportion_limits:
        Unadjusted limits for proportions: ``"exact"`` (default; binomial prediction limits,
        consistent with the Poisson limits of ratios and rates) or ``"wilson"`` (the Fingertips /
        PHEindicatormethods limits p0 +/- z sqrt(p0(1-p0)/n), for comparability with Fingertips).
    compatibility:
        ``None`` (default): this package's methods, described above. ``"funnelplotr"``: standardised
        ratios exactly as FunnelPlotR 0.6.0 ``funnel_plot(data_type="SR")`` computes them
        (``overdispersion="log"`` is its ``sr_method="SHMI"``, ``"sqrt"`` its ``"CQC"``, ``"none"``
        its ``draw_adjusted=FALSE``): expected counts rounded to 2 decimal places on the log
        scale; unadjusted limits of the "exact confidence interval around E" form
        chi2_{a}(2E)/(2E) and chi2_{1-a}(2E+2)/(2E); SHMI truncation by FunnelPlotR's rank groups
        (a unit is kept when 0 < floor(rank x (1/trim) / (I + 1)) < 1/trim - 1, with O = 0 ranked
        lowest); winsorisation at R's type-7 quantiles; adjusted limits exp(+/-z sqrt(1/E + tau^2))
        or, for CQC, 1 +/- z sqrt(1/(4E) + tau^2) left on the square-root scale as FunnelPlotR
        leaves them (its issue #33); and bands against the adjusted limits only when phi > 1,
        otherwise against the unadjusted ones. ``"shmi"``: the SHMI's bands as far as they
        are known here (log scale only; the SHMI's specification itself was not found, see
        docs/statistics.md): as ``"funnelplotr"`` for E, z-scores, truncation, phi and tau^2, but
        both sets of limits are the random-effects form exp(+/-z sqrt(1/E + tau^2)), the
        unadjusted ones with tau^2 = 0, and bands always use them. Both need ``kind="ratio"``
        and a target of 1.
    winsorisation:
        For ``"sqrt"`` and ``"arcsine"``: ``"rank"`` (the default) pulls the k = floor(trim x I)
        most extreme z-scores at each end in to the (k+1)-th; ``"quantile"`` clips them at the
        trim and 1 - trim quantiles interpolated as R's ``quantile()`` (type 7) does, as
        FunnelPlotR does, so some winsorising happens even below 10 units. ``None`` means
        ``"rank"``, or ``"quantile"`` under a compatibility option.

    Returns
    -------
    FunnelResult

    Units with a missing or non-positive denominator get null values, limits and bands. With O = 0
    the log-scale z-score is undefined: such units are left out of the SHMI-style estimate
    (they still get limits and bands). Adjusted limits equal the unadjusted ones when tau^2 = 0;
    when tau^2 > 0 each adjusted limit is the wider of the transformed-scale limit and the
    unadjusted one, so adjustment never narrows a limit.

    Sources: Spiegelhalter DJ (2005a) Stat Med 24:1185-1202 and (2005b) Qual Saf Health Care
    14:347-351; FunnelPlotR issue #20 on the SHMI; Seaton SE, Manktelow BN (2012) BMC Med Res
    Methodol 12:98; DerSimonian R, Laird N (1986) Control Clin Trials 7:177-188.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    method = DEFAULT_OVERDISPERSION[kind] if overdispersion == "auto" else overdispersion
    if method not in _ALLOWED_OVERDISPERSION[kind]:
        allowed = ", ".join(("auto", *_ALLOWED_OVERDISPERSION[kind]))
        raise ValueError(
            f"overdispersion for a {kind} must be one of {allowed}; got {overdispersion!r}."
        )
    if proportion_limits not in ("exact", "wilson"):
        raise ValueError(
            f"proportion_limits must be 'exact' or 'wilson'; got {proportion_limits!r}."
        )
    if not (isinstance(trim, (int, float)) and 0 <= trim < 0.5):
        raise ValueError(f"trim must be at least 0 and below 0.5; got {trim!r}.")
    winsorise = check_compatibility(kind, method, target, compatibility, winsorisation)

    num = as_float_array(numerator, "numerator")
    den = as_float_array(denominator, "denominator")
    count = check_same_length(numerator=num, denominator=den)
    check_non_negative(num, "numerator")
    check_non_negative(den, "denominator")
    if kind == "proportion" and bool(np.any(num > den)):
        raise ValueError("A proportion's numerator must not be larger than its denominator.")
    label_series = _labels(labels, count)

    # FunnelPlotR rounds the SHMI's expected counts to 2 places (its SHMI_rounding; issue #20)
    # after taking O/E, so the value stays O/E unrounded while everything else uses rounded E.
    raw_den = den
    if compatibility is not None and _transform_for(kind, method) == "log":
        den = r_round(den, 2)
    has_denominator = np.isfinite(den) & (den > 0)
    valid = has_denominator & np.isfinite(num)
    theta = _target(kind, target, num, den, valid)

    transform = _transform_for(kind, method)
    expected = den if kind == "ratio" else theta * den
    z, weight = _z_scores(transform, theta, num, den)
    if compatibility is not None and transform == "log":
        # R's log(0) is -Inf: FunnelPlotR ranks O = 0 lowest rather than leaving it out.
        z = np.where(num == 0, -np.inf, z)
    z = np.where(valid, z, np.nan)

    estimable = valid & (~np.isnan(z) if compatibility is not None else np.isfinite(z))
    if min_expected is not None:
        estimable &= expected >= min_expected
    if method == "none" or not _target_usable(kind, theta):
        phi, tau2, used = math.nan, 0.0, 0
    else:
        phi, tau2, used = _estimate(
            z[estimable], weight[estimable], method, trim, winsorise, compatibility
        )

    model = Model(
        kind=kind,
        target=theta,
        tau2=tau2,
        transform=transform,
        adjust=tau2 > 0,
        proportion_limits=proportion_limits,
        compatibility=compatibility,
        phi=phi,
    )
    safe_den = np.where(has_denominator, den, np.nan)
    limits = all_limits(model, safe_den)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(valid, num / np.where(has_denominator, raw_den, 1.0), np.nan)
    z = np.where(np.isinf(z), np.nan, z)

    bandable = valid.copy()
    if min_expected is not None:
        bandable &= expected >= min_expected
    bands = {}
    for level, _ in LEVELS:
        lower, upper = limits[f"lower_{level}_adjusted"], limits[f"upper_{level}_adjusted"]
        # A unit without usable limits (e.g. no target could be formed) is not banded.
        usable = bandable & np.isfinite(lower) & np.isfinite(upper)
        bands[level] = _bands(value, lower, upper, usable)

    units = pl.DataFrame(
        [
            label_series,
            pl.Series("numerator", num),
            pl.Series("denominator", raw_den),
            pl.Series("value", value * multiplier),
            pl.Series("z", z),
            *(pl.Series(name, limits[name] * multiplier) for name in LIMIT_COLUMNS),
            pl.Series("band_95", bands["95"], dtype=pl.String),
            pl.Series("band_998", bands["998"], dtype=pl.String),
        ]
    ).with_columns(pl.col("numerator", "denominator", "value", "z", *LIMIT_COLUMNS).fill_nan(None))

    note = method_note(
        kind=kind,
        method=method,
        theta=theta,
        phi=phi,
        tau2=tau2,
        trim=trim,
        used=used,
        estimable=int(estimable.sum()),
        zero_excluded=int((valid & (num == 0)).sum()) if transform == "log" else 0,
        units=count,
        multiplier=multiplier,
        min_expected=min_expected,
        proportion_limits=proportion_limits,
        compatibility=compatibility,
        winsorisation=winsorise,
    )
    return FunnelResult(
        kind=kind,
        target=theta,
        phi=phi,
        tau2=tau2,
        overdispersion=method,
        trim=float(trim),
        method_note=note,
        units=units,
        multiplier=float(multiplier),
        proportion_limits=proportion_limits,
        units_in_estimate=used,
        compatibility=compatibility,
        winsorisation=winsorise,
    )


def _labels(labels: Vector | list[Any] | None, count: int) -> pl.Series:
    if labels is None:
        return pl.Series("label", np.arange(count, dtype=np.int64))
    series = pl.Series("label", labels)
    if series.len() != count:
        raise ValueError(f"labels must have one label per unit; got {series.len()} for {count}.")
    return series


def _target(
    kind: str, target: float | None, num: FloatArray, den: FloatArray, valid: BoolArray
) -> float:
    if target is not None:
        if not (isinstance(target, (int, float)) and math.isfinite(target) and target > 0):
            raise ValueError(f"target must be a positive number; got {target!r}.")
        if kind == "proportion" and target >= 1:
            raise ValueError(f"A proportion's target must be below 1; got {target!r}.")
        return float(target)
    if kind == "ratio":
        return 1.0
    total = float(den[valid].sum())
    # With no usable units there is no average; NaN limits follow rather than an error.
    return float(num[valid].sum()) / total if total > 0 else math.nan


def _target_usable(kind: str, theta: float) -> bool:
    if not math.isfinite(theta) or theta <= 0:
        return False
    return not (kind == "proportion" and theta >= 1)


def _transform_for(kind: str, method: str) -> str:
    return DEFAULT_OVERDISPERSION[kind] if method == "none" else method


def _z_scores(
    transform: str, theta: float, num: FloatArray, den: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Unadjusted z-scores and inverse-variance weights w = 1/s^2 on the transformed scale.

    Ratios and rates are transformed as the ratio to target, O/m with m = target x denominator
    (for a ratio at target 1, m = E), so tau^2 is on a scale that does not depend on the units
    of the denominator.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "arcsine":
            n = den
            z = 2 * np.sqrt(n) * (np.arcsin(np.sqrt(num / n)) - math.asin(math.sqrt(theta)))
            return z, 4 * n
        m = theta * den
        if transform == "log":
            # ln(0) is undefined: O = 0 leaves z missing (left out of the estimate).
            z = np.where(num > 0, np.sqrt(m) * np.log(num / m), np.nan)
            return z, m
        return 2 * (np.sqrt(num) - np.sqrt(m)), 4 * m


def _estimate(
    z: FloatArray,
    weight: FloatArray,
    method: str,
    trim: float,
    winsorisation: str = "rank",
    compatibility: str | None = None,
) -> tuple[float, float, int]:
    """Dispersion ratio phi, DerSimonian-Laird tau^2, and the number of units they used.

    ``k = floor(trim x I)`` units at each end are set aside (``"log"``, SHMI truncation) or pulled
    in to the (k+1)-th most extreme z-score (winsorisation). tau^2 = (I phi - (I - 1)) /
    (sum w - sum w^2 / sum w), and 0 when I phi <= I - 1. Under a compatibility option the log
    scale keeps FunnelPlotR's rank groups instead, and ``winsorisation="quantile"`` clips at R's
    type-7 quantiles.
    """
    count = z.shape[0]
    k = trim_count(trim, count)
    if method == "log" and compatibility is not None:
        grouped = funnelplotr_kept(z, trim)
        scores, weights = z[grouped], weight[grouped]
    elif method == "log":
        # Ties on z are broken by weight so the kept set never depends on input order.
        order = np.lexsort((weight, z))
        kept = order[k : count - k]
        scores, weights = z[kept], weight[kept]
    elif winsorisation == "quantile" and count > 0:
        # numpy's "linear" method is R's quantile() type 7, FunnelPlotR's winsorisation().
        low, high = np.quantile(z, [trim, 1 - trim], method="linear")
        scores, weights = np.clip(z, low, high), weight
    else:
        ordered = np.sort(z)
        scores = np.clip(z, ordered[k], ordered[count - 1 - k]) if count > 0 else z
        weights = weight
    used = int(scores.shape[0])
    if used < 2:
        return math.nan, 0.0, used
    phi = float(np.mean(scores**2))
    total = float(weights.sum())
    spread = total - float((weights**2).sum()) / total if total > 0 else 0.0
    excess = used * phi - (used - 1)
    tau2 = excess / spread if excess > 0 and spread > 0 else 0.0
    return phi, float(tau2), used


def _bands(
    value: FloatArray, lower: FloatArray, upper: FloatArray, bandable: BoolArray
) -> list[str | None]:
    band = np.where(
        value > upper, BAND_HIGHER, np.where(value < lower, BAND_LOWER, BAND_AS_EXPECTED)
    ).astype(object)
    band[~bandable] = None
    return [None if b is None else str(b) for b in band]


__all__ = [
    "BAND_AS_EXPECTED",
    "BAND_HIGHER",
    "BAND_LOWER",
    "COMPATIBILITY",
    "LIMIT_COLUMNS",
    "UNIT_COLUMNS",
    "WINSORISATION",
    "FunnelResult",
    "funnel",
]

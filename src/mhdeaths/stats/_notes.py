"""The plain-English method note that goes with every funnel analysis.

A band is only meaningful with the method that produced it (Fingertips' East Riding changed band
when the funnel method changed; dhsc-govuk/fingertipscharts #2), so every result carries one
paragraph naming the limits, the over-dispersion method, phi, tau^2 and the trimming.
"""

from __future__ import annotations

import math

from ._arrays import trim_count


def method_note(
    *,
    kind: str,
    method: str,
    theta: float,
    phi: float,
    tau2: float,
    trim: float,
    used: int,
    estimable: int,
    zero_excluded: int,
    units: int,
    multiplier: float,
    min_expected: float | None,
    proportion_limits: str,
    compatibility: str | None = None,
    winsorisation: str = "rank",
) -> str:
    what = {
        "ratio": "standardised ratios (observed / expected)",
        "proportion": "proportions",
        "rate": f"rates per {multiplier:,.10g} units of the denominator",
    }[kind]
    target_text = f"{theta * (1 if kind == 'ratio' else multiplier):.6g}"
    sentences = [f"Funnel plot of {what} for {units} units around a target of {target_text}."]
    if compatibility is not None:
        sentences.append(_compatibility_sentence(compatibility, method))
    elif kind == "proportion" and proportion_limits == "wilson":
        sentences.append(
            "Unadjusted 95% and 99.8% control limits are the normal-approximation (Wilson score) "
            "limits p0 ± z√(p0(1 − p0)/n), as used by Fingertips."
        )
    else:
        family = "binomial" if kind == "proportion" else "Poisson"
        sentences.append(
            f"Unadjusted 95% and 99.8% control limits are exact {family} prediction limits: a "
            f"unit lies outside them only when its one-sided exact {family} p-value is below "
            "2.5% or 0.1% respectively."
        )
    each_end = trim_count(trim, estimable)
    expected_word = "" if kind == "ratio" else " (E is the expected count, target × denominator)"
    if compatibility is not None:
        groups = f"{1 / trim:.10g}" if trim > 0 else "infinitely many"
        last = f"{1 / trim - 1:.10g}" if trim > 0 else "infinity"
        setting_aside = (
            f"FunnelPlotR's rank groups: with {groups} groups, units whose rank r gives "
            f"floor(r × {groups} / (I + 1)) of 0, or of {last} or more, were"
        )
        pulling_in = (
            f"z-scores beyond the {trim:.0%} and {1 - trim:.0%} quantiles (interpolated as R's "
            "quantile(), type 7) being set to those quantiles"
        )
    elif each_end:
        setting_aside = f"the {each_end} highest and {each_end} lowest ({trim:.0%} at each end)"
        pulling_in = (
            f"the {each_end} most extreme at each end ({trim:.0%}) being set to the next value in"
        )
    else:
        setting_aside = pulling_in = f"none at either end ({trim:.0%} of {estimable} rounds to 0)"
    if compatibility is None and winsorisation == "quantile":
        pulling_in = (
            f"z-scores beyond the {trim:.0%} and {1 - trim:.0%} quantiles (interpolated as R's "
            "quantile(), type 7) being set to those quantiles"
        )
    if method == "none":
        sentences.append("No adjustment was made for over-dispersion.")
    elif math.isnan(phi):
        sentences.append(
            f"Over-dispersion could not be estimated ({used} units available after exclusions "
            "and trimming; at least 2 are needed), so no adjustment was made."
        )
    else:
        if method == "log":
            sentences.append(
                f"Over-dispersion was estimated on the log scale (the SHMI method): z-scores "
                f"√E·ln(O/E){expected_word} were ranked, with {setting_aside} set aside."
            )
            if zero_excluded and compatibility is not None:
                sentences.append(
                    f"Units with no observed events ({zero_excluded}) were ranked lowest "
                    "(ln 0 = −∞), as FunnelPlotR ranks them."
                )
            elif zero_excluded:
                sentences.append(
                    f"Units with no observed events ({zero_excluded}) were left out of the "
                    "estimate because their log-scale z-score is undefined."
                )
            formula = "exp(±z√(1/E + τ²))"
        elif method == "sqrt":
            sentences.append(
                f"Over-dispersion was estimated on the square-root scale (the CQC method): "
                f"z-scores 2(√O − √E){expected_word} were winsorised, with {pulling_in}."
            )
            formula = "(1 ± z√(1/(4E) + τ²))², squared back to the ratio scale"
        else:
            sentences.append(
                f"Over-dispersion was estimated on the arcsine-square-root scale: z-scores "
                f"2√n(asin√p − asin√p0) were winsorised, with {pulling_in}."
            )
            formula = "sin²(asin√p0 ± z√(1/(4n) + τ²))"
        sentences.append(
            f"From the {used} units used, the dispersion ratio φ = {phi:.4g} and the "
            f"DerSimonian–Laird between-unit variance τ² = {tau2:.4g}."
        )
        if compatibility is not None:
            pass
        elif tau2 > 0:
            sentences.append(
                f"Adjusted limits are {formula}, and never narrower than the unadjusted limits."
            )
        else:
            sentences.append(
                "Because Iφ did not exceed I − 1, τ² = 0 and the adjusted limits equal the "
                "unadjusted limits."
            )
    which = "over-dispersion-adjusted" if tau2 > 0 else "unadjusted"
    if compatibility == "shmi":
        which = "random-effects"
    elif compatibility == "funnelplotr":
        which = "over-dispersion-adjusted" if phi > 1 else "unadjusted"
    banding = (
        f"Units are banded higher or lower than expected when they lie outside the {which} "
        "95% (and, separately, 99.8%) limits"
    )
    if min_expected is not None:
        banding += f"; units with an expected count below {min_expected:g} are not banded"
    sentences.append(banding + ".")
    return " ".join(sentences)


def _compatibility_sentence(compatibility: str, method: str) -> str:
    if compatibility == "shmi":
        return (
            "Computed as the SHMI is (compatibility 'shmi'): expected counts rounded to 2 decimal "
            "places, and 95% and 99.8% control limits exp(±z√(1/E + τ²)) from the additive "
            "random-effects model, the unadjusted ones with τ² = 0."
        )
    rounding = " Expected counts were rounded to 2 decimal places." if method != "sqrt" else ""
    exact_ci = (
        "Computed as FunnelPlotR 0.6.0 computes standardised ratios (compatibility "
        "'funnelplotr'): unadjusted limits are exact Poisson confidence intervals around E, "
        "χ²(2E)/(2E) and χ²(2E + 2)/(2E)"
    )
    if method == "none":
        return f"{exact_ci}, with no over-dispersion limits (draw_adjusted = FALSE).{rounding}"
    adjusted = {
        "log": "exp(±z√(1/E + τ²))",
        "sqrt": "1 ± z√(1/(4E) + τ²), left on the square-root scale as FunnelPlotR leaves them",
    }[method]
    return (
        f"{exact_ci}; adjusted limits are {adjusted}, and units are banded against them only "
        f"when φ > 1.{rounding}"
    )

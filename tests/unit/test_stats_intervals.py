"""Count, proportion and rate intervals against published reference values.

Every expected value below names its source. Where a source publishes only a formula, the test
writes the formula out in plain Python (``math``), independently of the vectorised numpy code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from mhdeaths.stats import ci_count, ci_proportion, rate

# PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods@8ac28e5,
# tests/testthat/testdata_funnel_ratio_outputs.csv). For O observed events the file gives the
# expected counts at which O sits exactly on each funnel limit; those are the exact Poisson
# confidence limits of O: upper_2s_exp_events is the 95% lower limit, lower_2s_exp_events the 95%
# upper limit, and the 3s columns the 99.8% limits. Columns here:
# O, lower 95%, upper 95%, lower 99.8%, upper 99.8%.
PHE_EXACT_LIMITS = [
    (1, 0.025317898, 5.571644585, 0.001000547, 9.233410143),
    (2, 0.242209467, 7.224687515, 0.04540199, 11.22886836),
    (3, 0.618671905, 8.767273828, 0.190533306, 13.06224507),
    (5, 1.623486324, 11.6683331, 0.739371928, 16.45474478),
    (9, 4.11537405, 17.08479966, 2.452425215, 22.65737951),
    (10, 4.795387629, 18.39035799, 2.960519925, 24.13397235),
    (100, 81.36400699, 121.6268111, 71.92139974, 134.9243187),
    (716, 664.5083011, 770.4222128, 636.1521174, 802.60414),
]
# PHE found these by bisection, stopping once its search variable moved by less than 1e-7, so
# they agree with the exact chi-square values to about 5e-5 (relative) at worst.
PHE_TOLERANCE = 1e-4


@pytest.mark.parametrize(("observed", "low95", "up95", "low998", "up998"), PHE_EXACT_LIMITS)
def test_exact_count_limits_match_phe_funnel_tables(
    observed: int, low95: float, up95: float, low998: float, up998: float
) -> None:
    assert ci_count(observed, 0.95, "exact") == pytest.approx((low95, up95), rel=PHE_TOLERANCE)
    assert ci_count(observed, 0.998, "exact") == pytest.approx((low998, up998), rel=PHE_TOLERANCE)


def test_exact_limits_divided_by_e_match_funnelplotr_poisson_test() -> None:
    # FunnelPlotR (nhs-r-community/FunnelPlotR@9020d49, tests/testthat/test-poisson_limits.R):
    # its unadjusted SR limits are the exact limits of a count equal to E, divided by E, and the
    # test rounds them to 7 (lower) and 6 (upper) decimal places.
    expected = np.array([15.0, 20.0, 30.0])
    low95, up95 = ci_count(expected, 0.95, "exact")
    low998, up998 = ci_count(expected, 0.998, "exact")
    assert np.round(low95 / expected, 7).tolist() == [0.5596924, 0.6108260, 0.6746958]
    assert np.round(up95 / expected, 6).tolist() == [1.649348, 1.544419, 1.427562]
    assert np.round(low998 / expected, 7).tolist() == [0.3862650, 0.4479107, 0.5289724]
    assert np.round(up998 / expected, 6).tolist() == [2.082907, 1.902094, 1.702771]


def test_zero_events_have_lower_limit_zero_and_upper_minus_log_half_alpha() -> None:
    # With O = 0 the chi-square upper limit chi2(0.975, 2)/2 has the closed form -ln(0.025).
    assert ci_count(0, 0.95, "exact") == pytest.approx((0.0, -math.log(0.025)))
    assert ci_count(0) == pytest.approx((0.0, -math.log(0.025)))


def byar_by_hand(observed: float, confidence: float) -> tuple[float, float]:
    """Byar's limits as printed in the Fingertips technical guidance, "Rates"
    (fingertips.phe.org.uk/static-reports/public-health-technical-guidance/Basic_statistics/
    Rates.html): O(1 - 1/(9O) - z/(3 sqrt O))^3 and (O+1)(1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    lower = observed * (1 - 1 / (9 * observed) - z / (3 * math.sqrt(observed))) ** 3
    after = observed + 1
    upper = after * (1 - 1 / (9 * after) + z / (3 * math.sqrt(after))) ** 3
    return lower, upper


@pytest.mark.parametrize("observed", [65, 1045, 10])
@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_byar_limits_follow_the_published_formula(observed: int, confidence: float) -> None:
    # The counts are PHEindicatormethods' own Byar test inputs (tests/testthat/testByars.R).
    assert ci_count(observed, confidence, "byar") == pytest.approx(
        byar_by_hand(observed, confidence), rel=1e-12
    )


def test_byar_is_within_two_per_mille_of_exact_from_ten_events() -> None:
    # PHE Technical Guide "Confidence Intervals" (Public Health Data Science, 25 May 2018):
    # "For 95% confidence intervals, Byar's method is within 0.2% of the exact value for
    # numerators of 10 or more."
    observed = np.arange(10, 2001, dtype=float)
    byar = np.array(ci_count(observed, 0.95, "byar"))
    exact = np.array(ci_count(observed, 0.95, "exact"))
    assert np.max(np.abs(byar - exact) / exact) < 0.002


def test_auto_is_exact_below_ten_events_and_byar_from_ten() -> None:
    # Fingertips / PHE: exact method for counts below 10, Byar's for 10 or more.
    for observed in range(10):
        assert ci_count(observed) == ci_count(observed, method="exact")
    for observed in (10, 11, 250):
        assert ci_count(observed) == ci_count(observed, method="byar")


def test_byar_lower_limit_never_goes_below_zero() -> None:
    # PHE returns NA where Byar's lower formula goes negative (O = 1 at 99.8%); we return 0.
    lower, upper = ci_count(1, 0.998, "byar")
    assert lower == 0.0
    assert upper > 1


# Newcombe RG (1998) "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Stat Med 17:857-872: the worked examples, method 3 (Wilson score interval
# without continuity correction), 95% limits to 4 decimal places.
NEWCOMBE_WILSON = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "lower", "upper"), NEWCOMBE_WILSON)
def test_wilson_interval_matches_newcombe_examples(
    x: int, n: int, lower: float, upper: float
) -> None:
    low, high = ci_proportion(x, n)
    assert (round(low, 4), round(high, 4)) == (lower, upper)


# PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods@63894a9,
# tests/testthat/testdata_funnel_prop_outputs.csv): funnel limits for proportions around a
# baseline of 80.642448%. PHE derives them by inverting the Wilson score interval, so the Wilson
# interval of a proportion lying on a published limit must end exactly at the baseline.
PHE_BASELINE = 0.80642448
PHE_PROPORTION_LIMITS = [
    # population, lower 95%, upper 95%, lower 99.8%, upper 99.8% (percentages)
    (1008, 78.203374, 83.081521, 76.796814, 84.488082),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]


@pytest.mark.parametrize(("n", "low95", "up95", "low998", "up998"), PHE_PROPORTION_LIMITS)
def test_wilson_interval_inverts_phe_proportion_funnel_limits(
    n: int, low95: float, up95: float, low998: float, up998: float
) -> None:
    for confidence, on_lower, on_upper in ((0.95, low95, up95), (0.998, low998, up998)):
        # A proportion on the upper limit has its Wilson lower limit at the baseline, and
        # vice versa. PHE prints 6 decimals of a percentage, hence the tolerance.
        assert ci_proportion(on_upper / 100 * n, n, confidence)[0] == pytest.approx(
            PHE_BASELINE, abs=1e-7
        )
        assert ci_proportion(on_lower / 100 * n, n, confidence)[1] == pytest.approx(
            PHE_BASELINE, abs=1e-7
        )


def test_proportion_of_empty_sample_is_missing() -> None:
    low, high = ci_proportion([0, 3], [0, 10])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert not np.isnan(low[1])


def test_rate_divides_count_limits_by_denominator() -> None:
    # 5 events in 1,000 bed days per 1,000: the exact limits of 5 from the PHE funnel table above.
    value, lower, upper = rate(5, 1000, multiplier=1000)
    assert value == 5.0
    assert (lower, upper) == pytest.approx((1.623486324, 11.6683331), rel=PHE_TOLERANCE)


def test_rate_with_zero_denominator_is_missing() -> None:
    value, lower, upper = rate([3, 4], [0, 100])
    assert np.isnan(value[0]) and np.isnan(lower[0]) and np.isnan(upper[0])
    assert value[1] == pytest.approx(4000.0)


def test_scalars_give_floats_and_array_likes_give_float_arrays() -> None:
    assert all(type(v) is float for v in ci_count(4))
    assert all(type(v) is float for v in ci_proportion(4, 10))
    assert all(type(v) is float for v in rate(4, 10))
    for result in (
        ci_count([1, 2]),
        ci_count(np.array([1, 2])),
        ci_count(pl.Series([1, 2])),
        ci_proportion([1, 2], 10),
        rate(4, [10, 20]),
    ):
        assert all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in result)


def test_missing_values_give_missing_limits() -> None:
    lower, upper = ci_count([None, 3])
    assert np.isnan(lower[0]) and np.isnan(upper[0])
    lower, upper = ci_count(pl.Series([None, 3], dtype=pl.Int64))
    assert np.isnan(lower[0]) and not np.isnan(lower[1])
    value, lower, upper = rate([None, 3], [100, None])
    assert np.isnan(value).all() and np.isnan(lower).all() and np.isnan(upper).all()


def test_empty_input_gives_empty_arrays() -> None:
    lower, upper = ci_count([])
    assert lower.shape == (0,) and upper.shape == (0,)
    assert rate([], [])[0].shape == (0,)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ci_count(-1), "zero or more"),
        (lambda: ci_count(3, confidence=95), "fraction between 0 and 1"),
        (lambda: ci_count(3, method="normal"), "method must be one of"),
        (lambda: ci_count(["a"]), "must be numbers"),
        (lambda: ci_count(pl.Series(["a"])), "must be numbers"),
        (lambda: ci_proportion(11, 10), "must not be larger than n"),
        (lambda: ci_proportion(1, -10), "zero or more"),
        (lambda: rate(1, -10), "zero or more"),
    ],
)
def test_invalid_input_is_rejected_with_a_clear_message(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()

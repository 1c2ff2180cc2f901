"""Indirect and direct standardisation against published values and hand-written formulas."""

from __future__ import annotations

import io
import math
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from mhdeaths.stats import (
    ci_count,
    direct_standardise,
    indirect_standardise,
    reference_rate,
)

# PHEindicatormethods worked ISR sheet (ukhsa-collaboration/PHEindicatormethods@39a8c9f,
# R/isr_sheet.csv): 19 age bands with local observed deaths and population, reference counts
# and populations, the published reference rate li = refcount / refpop and the published
# expected deaths Ei = li x pop.
ISR_SHEET = pl.read_csv(
    io.StringIO(
        """obs,pop,refcount,refpop,li,Ei
127,636,10303,50520,0.203939034,129.7052257
25,558,2824,57173,0.049393945,27.56182114
18,609,3225,60213,0.053559862,32.61795626
21,543,3615,54659,0.066137324,35.91256701
12,384,3641,44345,0.082106213,31.52878566
27,594,3490,50128,0.069621768,41.35533035
48,669,3789,62163,0.060952657,40.77732735
27,843,3213,67423,0.047654361,40.17262655
29,660,3031,62899,0.048188365,31.80432121
32,576,2771,55463,0.049961235,28.7776716
32,606,3089,60479,0.05107558,30.95180145
34,522,3490,49974,0.069836315,36.45455637
45,426,3595,44140,0.081445401,34.69574082
65,273,4745,40888,0.116048718,31.68130014
38,300,5514,37239,0.148070571,44.42117135
68,288,7125,30819,0.231188553,66.58230312
74,153,5694,18136,0.313961182,48.03606087
82,123,6210,15325,0.405220228,49.84208809
91,207,5757,13918,0.413637017,85.62286248
"""
    )
)


def test_reference_rates_match_phe_sheet() -> None:
    rates = reference_rate(ISR_SHEET["refcount"], ISR_SHEET["refpop"])
    np.testing.assert_allclose(rates, ISR_SHEET["li"].to_numpy(), rtol=1e-8)


def test_expected_counts_per_stratum_match_phe_sheet() -> None:
    # One unit per stratum row, so each unit's expected count is that row's Ei.
    result = indirect_standardise(
        ISR_SHEET["obs"],
        ISR_SHEET["pop"],
        ISR_SHEET["refcount"],
        ISR_SHEET["refpop"],
        unit=list(range(ISR_SHEET.height)),
    )
    np.testing.assert_allclose(result["expected"].to_numpy(), ISR_SHEET["Ei"].to_numpy(), rtol=1e-8)


def test_isr_over_all_strata_uses_byar_limits_of_observed_over_expected() -> None:
    result = indirect_standardise(
        ISR_SHEET["obs"], ISR_SHEET["pop"], ISR_SHEET["refcount"], ISR_SHEET["refpop"]
    )
    assert result.columns == ["unit", "observed", "expected", "ratio", "lower", "upper"]
    assert result.height == 1
    row = result.row(0, named=True)
    observed = float(ISR_SHEET["obs"].sum())
    expected = float(ISR_SHEET["Ei"].sum())  # the sheet's published Ei, added up
    assert row["unit"] is None
    assert row["observed"] == observed == 895
    assert row["expected"] == pytest.approx(expected, rel=1e-8)
    assert row["ratio"] == pytest.approx(observed / expected, rel=1e-8)
    # calculate_ISRatio: Byar's limits of O (O >= 10), divided by E. Formula as printed in the
    # Fingertips technical guidance ("Rates"; "Indirectly standardised ratios").
    z = NormalDist().inv_cdf(0.975)
    byar_lower = observed * (1 - 1 / (9 * observed) - z / (3 * math.sqrt(observed))) ** 3
    byar_upper = (observed + 1) * (
        1 - 1 / (9 * (observed + 1)) + z / (3 * math.sqrt(observed + 1))
    ) ** 3
    assert row["lower"] == pytest.approx(byar_lower / expected, rel=1e-6)
    assert row["upper"] == pytest.approx(byar_upper / expected, rel=1e-6)


def test_isr_below_ten_events_uses_exact_limits() -> None:
    result = indirect_standardise([3, 4], [100, 200], [10, 10], [1000, 1000])
    row = result.row(0, named=True)
    assert row["expected"] == pytest.approx(3.0)
    low, high = ci_count(7, method="exact")
    assert (row["lower"], row["upper"]) == pytest.approx((low / 3, high / 3))


def test_isr_groups_units_in_order_of_first_appearance() -> None:
    result = indirect_standardise(
        observed=[2, 5, 1, 4],
        denominator=[100, 300, 50, 200],
        reference_observed=[10, 30, 10, 30],
        reference_denominator=[1000, 1000, 1000, 1000],
        unit=["RXA", "RXB", "RXA", "RXB"],
    )
    assert result["unit"].to_list() == ["RXA", "RXB"]
    assert result["observed"].to_list() == [3.0, 9.0]
    assert result["expected"].to_list() == pytest.approx([1.0 + 0.5, 9.0 + 6.0])


def test_isr_with_no_expected_deaths_is_null() -> None:
    result = indirect_standardise([0], [0], [10], [1000])
    assert result.row(0, named=True)["ratio"] is None
    assert result.row(0, named=True)["lower"] is None


def test_isr_rejects_rows_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="one value per row"):
        indirect_standardise([1, 2], [10], [1, 2], [10, 20])


# Age-specific deaths and populations from PHEindicatormethods' first DSR code (the 'testobs' and
# 'testpop' vectors in R/DSR.R, ukhsa-collaboration/PHEindicatormethods, 2018), with the European
# Standard Population 2013 in 19 five-year bands as shipped by that package ('esp2013').
ESP2013 = [5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000]
ESP2013 += [7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000]
TEST_POP = [84935, 80367, 72122, 79259, 99806, 87362, 81579, 71103, 70001, 69007]
TEST_POP += [63203, 52638, 46087, 40887, 32604, 28399, 21625, 13021, 7355]
TEST_OBS = [27, 45, 55, 100, 125, 300, 295, 270, 275, 450, 455, 459, 345, 300, 270, 265, 100, 90]
TEST_OBS += [35]


def dsr_by_hand(
    x: list[int], n: list[int], w: list[int], confidence: float, multiplier: float
) -> tuple[float, float, float]:
    """The DSR and its Dobson limits, written out as in the Fingertips technical guidance
    ("Directly standardised rates") and Dobson et al. (1991) Stat Med 10:457-462:
    DSR = sum(w x / n) / sum(w); var = sum(x (w / n)^2) / sum(w)^2;
    limits DSR + sqrt(var / X) (B(X) - X) with B Byar's limits of X = sum(x)."""
    total_w = sum(w)
    dsr = sum(wi * xi / ni for xi, ni, wi in zip(x, n, w, strict=True)) / total_w
    var = sum(xi * (wi / ni) ** 2 for xi, ni, wi in zip(x, n, w, strict=True)) / total_w**2
    big_x = sum(x)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    b_lower = big_x * (1 - 1 / (9 * big_x) - z / (3 * math.sqrt(big_x))) ** 3
    b_upper = (big_x + 1) * (1 - 1 / (9 * (big_x + 1)) + z / (3 * math.sqrt(big_x + 1))) ** 3
    scale = math.sqrt(var / big_x)
    return (
        dsr * multiplier,
        (dsr + scale * (b_lower - big_x)) * multiplier,
        (dsr + scale * (b_upper - big_x)) * multiplier,
    )


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_dsr_and_dobson_limits_follow_the_published_formula(confidence: float) -> None:
    result = direct_standardise(TEST_OBS, TEST_POP, ESP2013, confidence=confidence)
    assert result.columns == [
        "unit",
        "total_count",
        "total_denominator",
        "value",
        "lower",
        "upper",
        "note",
    ]
    row = result.row(0, named=True)
    assert row["total_count"] == sum(TEST_OBS)
    assert row["total_denominator"] == sum(TEST_POP)
    assert (row["value"], row["lower"], row["upper"]) == pytest.approx(
        dsr_by_hand(TEST_OBS, TEST_POP, ESP2013, confidence, 100_000), rel=1e-10
    )
    assert row["note"] is None


def test_dsr_per_unit_with_multiplier() -> None:
    units = ["A"] * 19 + ["B"] * 19
    observed = TEST_OBS + [x // 3 for x in TEST_OBS]
    result = direct_standardise(observed, TEST_POP * 2, ESP2013 * 2, unit=units, multiplier=10_000)
    assert result["unit"].to_list() == ["A", "B"]
    b = result.row(1, named=True)
    expected = dsr_by_hand(observed[19:], TEST_POP, ESP2013, 0.95, 10_000)
    assert (b["value"], b["lower"], b["upper"]) == pytest.approx(expected, rel=1e-10)


def test_dsr_with_fewer_than_ten_events_is_not_calculated() -> None:
    # PHE: DSRs are not calculated for fewer than 10 events.
    result = direct_standardise(
        [2, 3, 4, 0, 1, 2], [100, 200, 300] * 2, [5000, 6000, 7000] * 2, unit=list("AAABBB")
    )
    assert result["value"].to_list() == [None, None]
    assert result["lower"].to_list() == [None, None]
    assert result["note"].to_list() == ["fewer than 10 events: not calculated"] * 2
    assert result["total_count"].to_list() == [9.0, 3.0]


def test_dsr_at_ten_events_is_calculated() -> None:
    result = direct_standardise([4, 6], [100, 200], [5000, 6000])
    assert result.row(0, named=True)["value"] is not None


def test_dsr_empty_stratum_counts_as_zero_rate() -> None:
    # No people and no events in the oldest band: the standard weight still counts.
    with_empty = direct_standardise([5, 10, 0], [1000, 2000, 0], [1, 1, 1]).row(0, named=True)
    assert with_empty["value"] == pytest.approx((5 / 1000 + 10 / 2000) / 3 * 100_000)


def test_dsr_rejects_events_without_denominator() -> None:
    with pytest.raises(ValueError, match="zero denominator cannot have events"):
        direct_standardise([5, 1], [1000, 0], [1, 1])


def test_dsr_with_missing_counts_says_so() -> None:
    result = direct_standardise([5, None, 20], [1000, 2000, 3000], [1, 1, 1])
    row = result.row(0, named=True)
    assert row["value"] is None
    assert row["note"] == "missing counts or denominators"

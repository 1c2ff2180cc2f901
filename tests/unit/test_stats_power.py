"""The power statement: the smallest relative risk a funnel's upper limit flags with a given power.

Each value is checked against a brute force that knows nothing of the module's inversion: the
flagging count found by walking the exact one-sided Poisson (binomial) test, then the relative
risk found by walking a fine grid of true rates. And the count found is the one ``funnel`` itself
bands: a unit with that count is "higher than expected" and one fewer is not.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mhdeaths.stats import BAND_HIGHER, detectable_ratio, funnel

GRID_STEP = 1e-4


def brute_poisson(expected: float, level: float = 0.998, power: float = 0.8) -> float:
    tail = (1 - level) / 2
    # The funnel flags O exactly when its one-sided exact p-value P(X >= O) is below the tail.
    count = 0
    while stats.poisson.sf(count - 1, expected) >= tail:
        count += 1
    ratio = 1.0
    while stats.poisson.sf(count - 1, ratio * expected) < power:
        ratio += GRID_STEP
    return ratio


def brute_binomial(size: int, target: float, level: float = 0.998, power: float = 0.8) -> float:
    tail = (1 - level) / 2
    count = 0
    while stats.binom.sf(count - 1, size, target) >= tail:
        count += 1
    ratio = 1.0
    while stats.binom.sf(count - 1, size, ratio * target) < power:
        ratio += GRID_STEP
    return ratio


@pytest.mark.parametrize("expected", [5.0, 10.0, 20.0])
def test_hand_checked_values_at_5_10_and_20_expected(expected: float) -> None:
    found = detectable_ratio(expected)
    assert found is not None
    # The grid walk stops at the first step at or past the answer.
    assert found <= brute_poisson(expected) < found + GRID_STEP + 1e-9


def test_the_values_a_reader_can_quote() -> None:
    # 0.998 and 80% power: deaths 3.4, 2.6 and 2.0 times expected at E = 5, 10 and 20.
    assert [round(detectable_ratio(e) or 0, 2) for e in (5, 10, 20)] == [3.4, 2.58, 2.05]


@pytest.mark.parametrize(("level", "power"), [(0.95, 0.8), (0.998, 0.5), (0.95, 0.9)])
def test_other_levels_and_powers_match_the_brute_force(level: float, power: float) -> None:
    for expected in (3.7, 14.0):
        found = detectable_ratio(expected, level=level, power=power)
        assert found is not None
        assert found <= brute_poisson(expected, level, power) < found + GRID_STEP + 1e-9


@pytest.mark.parametrize("expected", [2.5, 5.0, 14.2, 37.0])
def test_the_flagging_count_is_the_one_the_funnel_bands(expected: float) -> None:
    ratio = detectable_ratio(expected)
    assert ratio is not None
    # The smallest count with P(Poisson(R E) >= c) = 80% is what the statement assumes; a unit with
    # that count must be banded higher at 99.8% and one with a count fewer must not.
    count = next(
        c
        for c in range(1, 1000)
        if math.isclose(stats.poisson.sf(c - 1, ratio * expected), 0.8, rel_tol=1e-6)
    )
    result = funnel([count, count - 1], [expected, expected], overdispersion="none")
    assert result.units["band_998"].to_list() == [BAND_HIGHER, "as expected"]


def test_proportions_use_the_binomial_limits() -> None:
    for size, target in ((50, 0.1), (200, 0.05)):
        found = detectable_ratio(size, kind="proportion", target=target)
        assert found is not None
        assert found <= brute_binomial(size, target) < found + GRID_STEP + 1e-9


def test_a_proportion_too_small_to_flag_has_no_answer() -> None:
    # With n = 3 and a target of 0.5 even 3 of 3 is inside the 99.8% limit: nothing is detectable.
    assert detectable_ratio(3, kind="proportion", target=0.5) is None


def test_over_dispersion_raises_what_can_be_detected() -> None:
    plain = detectable_ratio(20.0)
    wide = detectable_ratio(20.0, tau2=0.05)
    assert plain is not None and wide is not None and wide > plain
    # The adjusted limit is the one the funnel bands against, so a unit at its flagging count is
    # banded higher by a funnel with that tau^2 and no higher count is needed.
    assert detectable_ratio(20.0, tau2=0.0) == plain


def test_missing_zero_and_negative_expected_counts_give_null_never_nan() -> None:
    assert detectable_ratio(None) is None
    assert detectable_ratio(0.0) is None
    assert detectable_ratio(-3.0) is None
    assert detectable_ratio(float("nan")) is None
    series = detectable_ratio([5.0, None, 0.0, -1.0, float("nan"), 10.0])
    assert isinstance(series, pl.Series)
    assert series.null_count() == 4
    assert not series.is_nan().any()
    assert series[0] == detectable_ratio(5.0) and series[5] == detectable_ratio(10.0)


def test_vectorised_equals_one_at_a_time() -> None:
    expected = np.array([0.4, 1.0, 5.0, 12.5, 80.0, 400.0])
    together = detectable_ratio(expected).to_list()
    assert together == [detectable_ratio(float(e)) for e in expected]
    assert detectable_ratio(pl.Series([5.0, None])).to_list() == [detectable_ratio(5.0), None]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"level": 99.8}, "confidence"),
        ({"power": 80}, "power"),
        ({"power": 0.0}, "power"),
        ({"tau2": -0.1}, "tau2"),
        ({"kind": "rate"}, "kind"),
        ({"kind": "proportion"}, "target"),
        ({"overdispersion": "arcsine"}, "overdispersion"),
    ],
)
def test_bad_arguments_are_refused_in_one_sentence(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        detectable_ratio(10.0, **arguments)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    expected=st.floats(0.05, 5000),
    level=st.floats(0.9, 0.999),
    power=st.floats(0.8, 0.99),
)
def test_doubling_the_expected_count_lowers_what_is_detectable(
    expected: float, level: float, power: float
) -> None:
    # Not monotone point by point: between two whole flagging counts R falls as 1/E and then
    # jumps up when the limit passes a whole count (a saw-tooth); over a doubling it always falls.
    here = detectable_ratio(expected, level=level, power=power)
    there = detectable_ratio(2 * expected, level=level, power=power)
    assert here is not None and there is not None
    assert there < here


@settings(max_examples=200, deadline=None)
@given(expected=st.floats(0.05, 5000), power=st.floats(0.5, 0.99))
def test_a_higher_level_or_power_needs_a_larger_relative_risk(
    expected: float, power: float
) -> None:
    at_95 = detectable_ratio(expected, level=0.95, power=power)
    at_998 = detectable_ratio(expected, level=0.998, power=power)
    higher_power = detectable_ratio(expected, level=0.998, power=min(power + 0.05, 0.999))
    assert at_95 is not None and at_998 is not None and higher_power is not None
    assert at_998 > at_95
    assert higher_power > at_998
    # And a unit at exactly the target is never "detectable" with any real power.
    assert at_95 > 1


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)),
        max_size=20,
    ),
    tau2=st.floats(0, 1),
)
def test_never_nan_whatever_the_expected_counts(values: list[float | None], tau2: float) -> None:
    series = detectable_ratio(values, tau2=tau2)
    assert series.len() == len(values)
    assert not series.is_nan().any()
    assert not series.is_infinite().any()
    for value, got in zip(values, series.to_list(), strict=True):
        if value is None or not math.isfinite(value) or value <= 0:
            assert got is None

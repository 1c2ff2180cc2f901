"""The risk-adjusted CUSUM: hand-worked increments, reset, thresholds, and attacks on each promise."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mhdeaths.stats import CUSUM_COLUMNS, average_run_length, cusum, cusum_threshold

LN2 = math.log(2)


def upper(result: pl.DataFrame) -> pl.DataFrame:
    return result.filter(pl.col("direction") == "upper")


def test_poisson_increments_by_hand() -> None:
    # W_t = O ln 2 - (2 - 1) E with E = 0.5: O = 0 gives -0.5 (floored at 0), O = 2 gives
    # 2 ln 2 - 0.5 = 0.886294, then O = 1 adds ln 2 - 0.5 = 0.193147, O = 0 takes 0.5 off.
    result = cusum([0, 2, 1, 0], [0.5] * 4, threshold=10).months
    expected = [0.0, 2 * LN2 - 0.5, 3 * LN2 - 1.0, 3 * LN2 - 1.5]
    assert result["statistic"].to_list() == pytest.approx(expected, abs=1e-12)
    assert result["signal"].to_list() == [False] * 4
    assert result.columns == list(CUSUM_COLUMNS)


def test_binomial_increments_by_hand() -> None:
    # Steiner et al. (2000) summed over a month of n = 10 people each at risk p = E/n = 0.1,
    # odds ratio 2: W = O ln 2 - 10 ln(1 + 0.1) = 3 ln 2 - 0.953102 for O = 3.
    result = cusum([3, 0], [1.0, 1.0], denominator=[10, 10], threshold=10).months
    first = 3 * LN2 - 10 * math.log(1.1)
    second = max(0.0, first - 10 * math.log(1.1))
    assert result["statistic"].to_list() == pytest.approx([first, second], abs=1e-12)
    assert result["direction"].to_list() == ["upper", "upper"]


def test_lower_chart_uses_the_inverse_ratio() -> None:
    # Downward, R = 1/2: W = -O ln 2 + E/2; four empty months at E = 1 climb 0.5 each.
    result = cusum([0, 0, 0, 0, 3], [1.0] * 5, direction="lower", threshold=1.2).months
    assert result["statistic"].to_list() == pytest.approx([0.5, 1.0, 1.5, 0.5, 0.0], abs=1e-12)
    assert result["signal"].to_list() == [False, False, True, False, False]


def test_resets_to_zero_after_a_signal() -> None:
    # With h = 1, O = 2 at E = 0.5 gives 0.886 (no signal); another 2 makes 1.773: signal, and
    # the next month starts again from 0 (1 death: ln 2 - 0.5), not from 1.773.
    result = cusum([2, 2, 1], [0.5] * 3, threshold=1.0).months
    assert result["signal"].to_list() == [False, True, False]
    assert result["statistic"].to_list() == pytest.approx(
        [2 * LN2 - 0.5, 4 * LN2 - 1.0, LN2 - 0.5], abs=1e-12
    )


def test_missing_month_adds_nothing_and_is_null() -> None:
    result = cusum([2, None, 2], [0.5, 0.5, 0.5], threshold=10).months
    assert result["statistic"].to_list()[1] is None
    assert result["signal"].to_list()[1] is None
    assert result["statistic"].to_list()[2] == pytest.approx(4 * LN2 - 1.0)


def test_both_directions_give_two_charts_per_unit() -> None:
    result = cusum(
        [1, 0, 2], [0.5] * 3, units=["B", "A", "A"], direction="both", threshold=5
    ).months
    assert result["direction"].to_list() == ["upper"] * 3 + ["lower"] * 3
    assert result["unit"].to_list() == ["A", "A", "B"] * 2


def test_months_are_sorted_in_time_whatever_the_row_order() -> None:
    ordered = cusum([0, 3, 1], [0.4] * 3, units=["A"] * 3, months=["2025-01", "2025-02", "2025-03"])
    shuffled = cusum(
        [1, 0, 3], [0.4] * 3, units=["A"] * 3, months=["2025-03", "2025-01", "2025-02"]
    )
    assert ordered.months.equals(shuffled.months)


def test_threshold_is_monotone_in_the_false_alarm_rate() -> None:
    rates = [0.5, 0.2, 0.1, 0.05, 0.01, 0.002]
    thresholds = [cusum_threshold(0.5, rate) for rate in rates]
    assert thresholds == sorted(thresholds)
    assert len(set(thresholds)) == len(thresholds)


def test_threshold_meets_its_run_length_and_is_the_smallest_that_does() -> None:
    h = cusum_threshold(0.5, 0.01)
    assert average_run_length(h, 0.5) >= 1200
    assert average_run_length(h - 0.05, 0.5) < 1200


def test_threshold_is_deterministic_and_uses_the_mean_expected_count() -> None:
    assert cusum_threshold([0.4, 0.6, None], 0.05) == cusum_threshold(0.5, 0.05)
    assert math.isnan(cusum_threshold([None, None], 0.05))
    assert math.isnan(cusum_threshold(0.0, 0.05))


def test_markov_chain_run_length_matches_simulation() -> None:
    # Brook & Evans' approximation against 4,000 simulated in-control runs (seed fixed): the
    # mean run length agrees within 5% (the simulation's own standard error is about 1.6%).
    h, expected = 3.0, 0.4
    rng = np.random.default_rng(19)
    simulated = _mean_run_length(h, expected, lambda n: rng.poisson(expected, n))
    assert average_run_length(h, expected) == pytest.approx(simulated, rel=0.05)


def _mean_run_length(h: float, drift: float, deaths: Callable[[int], np.ndarray]) -> float:
    """The mean months to a signal of 4,000 simulated charts that add deaths x ln 2 - drift a
    month, ``deaths(n)`` drawing a month's deaths for n charts."""
    runs = np.zeros(4000)
    statistic = np.zeros(4000)
    alive = np.ones(4000, dtype=bool)
    month = 0
    while alive.any():
        month += 1
        statistic = np.maximum(0.0, statistic + deaths(4000) * LN2 - drift)
        ended = alive & (statistic >= h)
        runs[ended] = month
        alive &= ~ended
    return float(runs.mean())


@pytest.mark.parametrize(("true_ratio", "seed"), [(1.0, 19), (2.0, 20)])
def test_markov_chain_run_length_matches_simulation_for_the_bernoulli_form(
    true_ratio: float, seed: int
) -> None:
    # The form deaths after discharge are charted with: a month of n people each at risk
    # p = E/n, W = O ln 2 - n ln(1 + p). A month of 4 people at p = 0.3 is far from Poisson, so
    # a chain that used the Poisson law (run lengths 136 and 6.9 months here, against 157 and
    # 11.8) fails by more than the 5% allowed; 4,000 runs (seeded) have a standard error of
    # about 1.5%. true_ratio is an odds ratio: 2 is the step the chart is tuned for.
    h, people, expected = 3.0, 4, 1.2
    p = expected / people
    odds = true_ratio * p / (1 - p)
    drift = people * math.log1p(p)
    rng = np.random.default_rng(seed)
    simulated = _mean_run_length(h, drift, lambda n: rng.binomial(people, odds / (1 + odds), n))
    found = average_run_length(h, expected, true_ratio=true_ratio, denominator_per_month=people)
    assert found == pytest.approx(simulated, rel=0.05)


def test_in_control_data_rarely_signal() -> None:
    # 200 units at E = 0.5 a month for 10 years each (2,000 unit-years) with thresholds set for
    # 0.01 false alarms per unit-year: about 20 signals expected, and far fewer than 60.
    rng = np.random.default_rng(7)
    units, months = np.repeat(np.arange(200), 120), np.tile(np.arange(120), 200)
    observed = rng.poisson(0.5, units.size)
    result = cusum(observed, np.full(units.size, 0.5), units=units, months=months)
    signals = result.signals.height
    assert 5 <= signals <= 60
    assert result.false_alarms_per_year == 0.01


def test_planted_step_is_signalled_within_months() -> None:
    # 100 units at E = 2 a month, in control for 12 months, then at twice the rate. The chart's
    # run length at R = 2 is 7.6 months (Markov chain), so nearly every unit signals within the
    # 24 months after the step; with 0.01 false alarms a year the first year rarely signals.
    rng = np.random.default_rng(13)
    rates = np.r_[np.full(12, 2.0), np.full(24, 4.0)]
    observed = rng.poisson(np.tile(rates, 100))
    units, months = np.repeat(np.arange(100), 36), np.tile(np.arange(1, 37), 100)
    result = cusum(observed, np.full(3600, 2.0), units=units, months=months).months
    first = (
        result.filter(pl.col("signal") & (pl.col("month") > 12))
        .group_by("unit")
        .agg(pl.col("month").min())
    )
    assert first.height >= 90
    assert 3 <= float(first["month"].median()) - 12 <= 12  # type: ignore[arg-type]
    early = result.filter(pl.col("signal") & (pl.col("month") <= 12))["unit"].n_unique()
    assert early <= 5


def test_unit_without_expected_counts_has_no_threshold() -> None:
    result = cusum([1, 2, 0, 0], [None, None, 0.0, 0.0], units=["A", "A", "B", "B"]).months
    assert result["threshold"].to_list() == [None] * 4
    assert result["signal"].to_list()[0] is None
    assert result["signal"].to_list()[2] is None


def test_method_note_names_the_method() -> None:
    note = cusum([1], [0.5]).method_note
    assert "Grigg & Farewell" in note and "Brook & Evans" in note and "0.01" in note
    assert "Steiner" in cusum([1], [0.5], denominator=[5]).method_note


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_ratio": 1.0}, "rate_ratio"),
        ({"rate_ratio": 0.5}, "rate_ratio"),
        ({"false_alarms_per_year": 0}, "false_alarms_per_year"),
        ({"false_alarms_per_year": 12}, "false_alarms_per_year"),
        ({"threshold": -1.0}, "threshold"),
        ({"direction": "up"}, "direction"),
        ({"months_per_year": 0}, "months_per_year"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cusum([1, 2], [0.5, 0.5], **kwargs)  # type: ignore[arg-type]


def test_bad_data_are_value_errors() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        cusum([-1], [0.5])
    with pytest.raises(ValueError, match="one value per row"):
        cusum([1, 2], [0.5])
    with pytest.raises(ValueError, match="exceed the denominator"):
        cusum([3], [0.5], denominator=[2])
    with pytest.raises(ValueError, match="month given twice"):
        cusum([1, 2], [0.5, 0.5], units=["A", "A"], months=[1, 1])
    with pytest.raises(ValueError, match="missing one"):
        cusum([1, 2], [0.5, 0.5], units=["A", None])
    with pytest.raises(ValueError, match="numbers"):
        cusum(["x"], [0.5])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="one value per row"):
        cusum([1, 2], [0.5, 0.5], units=["A"])
    with pytest.raises(ValueError, match="rate_ratio"):
        cusum_threshold(0.5, rate_ratio=1)
    with pytest.raises(ValueError, match="direction"):
        cusum_threshold(0.5, direction="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        cusum_threshold(-0.5)
    with pytest.raises(ValueError, match="more than 0"):
        average_run_length(0.0, 0.5)


counts = st.one_of(st.none(), st.integers(0, 6).map(float))
expecteds = st.one_of(st.none(), st.just(0.0), st.floats(0, 4))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from("ABC"), counts, expecteds), min_size=1, max_size=24),
    binomial=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_no_nan_and_no_dependence_on_row_order(
    rows: list[tuple[str, float | None, float | None]], binomial: bool, seed: int
) -> None:
    units = [unit for unit, _, _ in rows]
    months = list(range(len(rows)))
    observed = [o for _, o, _ in rows]
    expected = [e for _, _, e in rows]
    denominator = [8.0] * len(rows) if binomial else None
    options = {"denominator": denominator, "direction": "both", "threshold": 1.5}
    result = cusum(observed, expected, units=units, months=months, **options).months  # type: ignore[arg-type]
    for column in ("observed", "expected", "statistic", "threshold"):
        assert not result[column].is_nan().any(), column
    assert (result["statistic"].drop_nulls() >= 0).all()

    order = np.random.default_rng(seed).permutation(len(rows))
    shuffled = cusum(
        [observed[i] for i in order],
        [expected[i] for i in order],
        units=[units[i] for i in order],
        months=[months[i] for i in order],
        denominator=None if denominator is None else [denominator[i] for i in order],
        direction="both",
        threshold=1.5,
    ).months
    assert shuffled.equals(result)


def test_the_figures_quoted_in_the_docs() -> None:
    # docs/statistics.md, "Thresholds": E = 0.5 deaths a month, 0.01 false alarms a year.
    h = cusum_threshold(0.5, 0.01)
    assert h == pytest.approx(4.587, abs=0.002)
    assert average_run_length(h, 0.5, true_ratio=2) == pytest.approx(22.5, abs=0.3)
    assert average_run_length(h, 0.5, true_ratio=1.5) == pytest.approx(65.6, abs=1)

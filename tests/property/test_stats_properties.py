"""Properties of mhdeaths.stats that must hold for any input, not just the published examples.

- every interval contains its estimate, and widens as the confidence level rises;
- funnel limits: 99.8% contain 95%, adjusted contain unadjusted, and the target lies inside;
- funnel and standardisation results do not depend on the order of the input rows;
- disclosure control never releases a count it should hide, and releases multiples of 5;
  midpoint 6 rounding keeps zero apart, is off by at most 3, and a count of 1 to 7 stays one of
  at least five values even beside a released total;
- no per-unit result holds NaN: missing or undefined values are null.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from mhdeaths.stats import (
    LIMIT_COLUMNS,
    ci_count,
    ci_proportion,
    direct_standardise,
    disclose,
    funnel,
    indirect_standardise,
    rate,
)

SETTINGS = {"deadline": None, "max_examples": 60}

counts = st.integers(min_value=0, max_value=100_000)
levels = st.lists(
    st.floats(min_value=0.5, max_value=0.9999), min_size=2, max_size=2, unique=True
).map(sorted)
methods = st.sampled_from(["auto", "exact", "byar"])


@settings(**SETTINGS)
@given(observed=counts, confidence=st.floats(0.5, 0.9999), method=methods)
def test_count_interval_contains_the_count(observed: int, confidence: float, method: str) -> None:
    lower, upper = ci_count(observed, confidence, method)
    assert 0 <= lower <= observed <= upper


@settings(**SETTINGS)
@given(observed=counts, pair=levels, method=methods)
def test_count_interval_widens_with_confidence(
    observed: int, pair: list[float], method: str
) -> None:
    narrow = ci_count(observed, pair[0], method)
    wide = ci_count(observed, pair[1], method)
    assert wide[0] <= narrow[0] and narrow[1] <= wide[1]


proportions = st.integers(min_value=1, max_value=100_000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


@settings(**SETTINGS)
@given(case=proportions, pair=levels)
def test_wilson_interval_contains_the_proportion_and_widens(
    case: tuple[int, int], pair: list[float]
) -> None:
    x, n = case
    narrow = ci_proportion(x, n, pair[0])
    wide = ci_proportion(x, n, pair[1])
    assert 0 <= wide[0] <= narrow[0] <= x / n <= narrow[1] <= wide[1] <= 1


@settings(**SETTINGS)
@given(
    observed=counts,
    denominator=st.floats(min_value=1e-3, max_value=1e9),
    multiplier=st.sampled_from([1, 1_000, 100_000]),
    method=methods,
)
def test_rate_interval_contains_the_rate(
    observed: int, denominator: float, multiplier: int, method: str
) -> None:
    value, lower, upper = rate(observed, denominator, multiplier, method=method)
    assert lower <= value <= upper
    assert value == pytest.approx(observed / denominator * multiplier, rel=1e-12)


@st.composite
def ratio_units(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    """Observed and expected counts for 3 to 25 units, some over-dispersed, some with O = 0."""
    size = draw(st.integers(min_value=3, max_value=25))
    expected = draw(st.lists(st.floats(min_value=0.2, max_value=800), min_size=size, max_size=size))
    observed = [float(draw(st.integers(min_value=0, max_value=int(3 * e + 20)))) for e in expected]
    return observed, expected


def assert_limits_nest(units: pl.DataFrame) -> None:
    for level in ("95", "998"):
        lower, upper = units[f"lower_{level}"], units[f"upper_{level}"]
        lower_adj = units[f"lower_{level}_adjusted"]
        upper_adj = units[f"upper_{level}_adjusted"]
        assert (lower <= upper).all()
        assert (lower_adj <= lower).all() and (upper <= upper_adj).all()
    assert (units["lower_998"] <= units["lower_95"]).all()
    assert (units["upper_95"] <= units["upper_998"]).all()
    assert (units["lower_998_adjusted"] <= units["lower_95_adjusted"]).all()
    assert (units["upper_95_adjusted"] <= units["upper_998_adjusted"]).all()


@settings(**SETTINGS)
@given(
    data=ratio_units(),
    method=st.sampled_from(["log", "sqrt", "none"]),
    trim=st.sampled_from([0.0, 0.1, 0.2]),
)
def test_ratio_funnel_limits_nest_and_contain_the_target(
    data: tuple[list[float], list[float]], method: str, trim: float
) -> None:
    observed, expected = data
    result = funnel(observed, expected, overdispersion=method, trim=trim)
    units = result.units
    assert_limits_nest(units)
    assert (units["lower_95"] <= result.target).all()
    assert (units["upper_95"] >= result.target).all()
    assert result.tau2 >= 0


@settings(**SETTINGS)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=3, max_size=25),
    shares=st.lists(st.floats(min_value=0, max_value=1), min_size=25, max_size=25),
    limits=st.sampled_from(["exact", "wilson"]),
    method=st.sampled_from(["arcsine", "none"]),
)
def test_proportion_funnel_limits_nest(
    sizes: list[int], shares: list[float], limits: str, method: str
) -> None:
    cases = [float(round(n * s)) for n, s in zip(sizes, shares, strict=False)]
    result = funnel(
        cases,
        sizes,
        kind="proportion",
        overdispersion=method,
        proportion_limits=limits,
    )
    units = result.units.drop_nulls("lower_95")
    assert_limits_nest(units)
    assert (units["lower_95_adjusted"] >= 0).all() and (units["upper_95_adjusted"] <= 1).all()


@settings(**SETTINGS)
@given(
    data=ratio_units(),
    kind=st.sampled_from(["ratio", "rate"]),
    method=st.sampled_from(["log", "sqrt"]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_funnel_does_not_depend_on_input_order(
    data: tuple[list[float], list[float]], kind: str, method: str, seed: int
) -> None:
    observed, expected = data
    labels = [f"unit{i:02d}" for i in range(len(observed))]
    order = np.random.default_rng(seed).permutation(len(observed))
    first = funnel(observed, expected, kind=kind, overdispersion=method, labels=labels)
    second = funnel(
        [observed[i] for i in order],
        [expected[i] for i in order],
        kind=kind,
        overdispersion=method,
        labels=[labels[i] for i in order],
    )
    assert np.isclose(first.target, second.target, rtol=1e-12)
    assert np.isclose(first.phi, second.phi, rtol=1e-9, equal_nan=True)
    assert np.isclose(first.tau2, second.tau2, rtol=1e-9, atol=1e-15)
    assert_frame_equal(
        first.units.sort("label"),
        second.units.sort("label"),
        check_exact=False,
        rel_tol=1e-8,
        abs_tol=1e-12,
    )
    assert first.units.columns[:1] + list(LIMIT_COLUMNS) == ["label", *LIMIT_COLUMNS]


@settings(**SETTINGS)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["RXA", "RXB", "RXC"]),
            st.integers(min_value=0, max_value=50),
            st.integers(min_value=1, max_value=5_000),
            st.integers(min_value=0, max_value=500),
            st.integers(min_value=1, max_value=50_000),
        ),
        min_size=1,
        max_size=30,
    ),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_indirect_standardisation_does_not_depend_on_row_order(
    rows: list[tuple[str, int, int, int, int]], seed: int
) -> None:
    shuffled = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]

    def standardise(table: list[tuple[str, int, int, int, int]]) -> pl.DataFrame:
        unit, observed, people, ref_observed, ref_people = zip(*table, strict=True)
        return indirect_standardise(
            list(observed), list(people), list(ref_observed), list(ref_people), unit=list(unit)
        ).sort("unit")

    result = standardise(rows)
    assert_frame_equal(result, standardise(shuffled), check_exact=False, rel_tol=1e-10)
    finite = result.drop_nulls("ratio")
    assert (finite["lower"] <= finite["ratio"]).all() and (finite["ratio"] <= finite["upper"]).all()


@settings(**SETTINGS)
@given(values=st.lists(st.integers(min_value=0, max_value=10_000), max_size=50))
def test_disclosure_never_releases_small_counts(values: list[int]) -> None:
    floors = {"nhs_england": (1, 7), "opensafely": (1, 7), "mhsds": (0, 4)}
    for rule, (smallest, largest) in floors.items():
        result = disclose(values, rule)
        for count, text, hidden in zip(values, result.text, result.suppressed, strict=True):
            if smallest <= count <= largest:
                assert text == "*" and hidden
            else:
                released = int(text)
                assert released % 5 == 0
                assert abs(released - count) <= 2.5
                # a released count never reveals a small one: only 0 or at least 5 (10 for 1-7)
                assert released == 0 or released >= (5 if rule == "mhsds" else 10)


@settings(**SETTINGS)
@given(values=st.lists(st.integers(min_value=0, max_value=10_000), max_size=50))
def test_midpoint6_is_zero_for_zero_and_a_band_label_otherwise(values: list[int]) -> None:
    result = disclose(values, "opensafely_midpoint6")
    assert not result.suppressed.any()
    for count, released in zip(values, result.values.tolist(), strict=True):
        if count == 0:
            assert released == 0
        else:
            # Released r stands for r - 2 to r + 3: an odd multiple of 3, never 0.
            assert released % 6 == 3 and released - 2 <= count <= released + 3


def _band(released: float) -> tuple[int, int]:
    return (0, 0) if released == 0 else (int(released) - 2, int(released) + 3)


def _feasible(bands: list[tuple[int, int]], total: tuple[int, int], i: int) -> tuple[int, int]:
    """The values cell i can still take, given every cell's band and the total's band."""
    others_low = sum(low for j, (low, _) in enumerate(bands) if j != i)
    others_high = sum(high for j, (_, high) in enumerate(bands) if j != i)
    return max(bands[i][0], total[0] - others_high), min(bands[i][1], total[1] - others_low)


def _midpoint6(counts: list[int]) -> list[tuple[int, int]]:
    return [_band(r) for r in disclose(counts, "opensafely_midpoint6").values.tolist()]


@settings(**SETTINGS)
@given(small=st.integers(min_value=1, max_value=7), rest=st.integers(min_value=0, max_value=500))
def test_midpoint6_small_count_survives_differencing_against_a_rounded_total(
    small: int, rest: int
) -> None:
    # A provider's count, the rest of the country's and the national total, each released under
    # midpoint 6 on its own: the provider's count is still one of at least five values.
    bands = _midpoint6([small, rest])
    (total,) = _midpoint6([small + rest])
    low, high = _feasible(bands, total, 0)
    assert low <= small <= high
    assert high - low + 1 >= 5


@settings(**SETTINGS)
@given(cells=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8))
def test_midpoint6_total_summed_from_released_cells_adds_nothing(cells: list[int]) -> None:
    # OpenSAFELY's convention: a total is the sum of the released cells, so a reader learns no
    # more than each cell's own band (six values for any count from 1 up).
    bands = _midpoint6(cells)
    released_total = int(disclose(cells, "opensafely_midpoint6").values.sum())
    for i, count in enumerate(cells):
        low, high = _feasible(bands, (0, 10**9), i)
        assert (low, high) == bands[i]
        assert count == 0 or high - low + 1 == 6
    assert released_total % 3 == 0


def test_midpoint6_totals_rounded_on_their_own_can_give_cells_back() -> None:
    # The attack that makes the convention above necessary: six cells of 1 are each released as
    # 3 ("1 to 6"), but a total of 6 rounded on its own is also 3 ("1 to 6"), so each of the six
    # cells must be exactly 1.
    cells = [1, 1, 1, 1, 1, 1]
    bands = _midpoint6(cells)
    (total,) = _midpoint6([sum(cells)])
    assert all(_feasible(bands, total, i) == (1, 1) for i in range(len(cells)))


def _no_nan(frame: pl.DataFrame) -> None:
    floats = [name for name, dtype in frame.schema.items() if dtype == pl.Float64]
    nan_columns = [name for name in floats if frame[name].is_nan().any()]
    assert nan_columns == [], f"NaN in {nan_columns}"


maybe_count = st.one_of(st.none(), st.integers(min_value=0, max_value=60))
maybe_size = st.one_of(st.none(), st.just(0), st.integers(min_value=0, max_value=2_000))


@settings(**SETTINGS)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            maybe_count,
            maybe_size,
            st.integers(min_value=0, max_value=500),
            st.one_of(st.just(0), st.integers(min_value=0, max_value=50_000)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_standardisation_results_hold_null_never_nan(
    rows: list[tuple[str, int | None, int | None, int, int]],
) -> None:
    unit, observed, people, ref_observed, ref_people = (list(c) for c in zip(*rows, strict=True))
    _no_nan(indirect_standardise(observed, people, ref_observed, ref_people, unit=unit))
    # A stratum with no people has no events (direct_standardise refuses the impossible case).
    events = [0 if p == 0 else o for o, p in zip(observed, people, strict=True)]
    _no_nan(direct_standardise(events, people, ref_people, unit=unit))


@settings(**SETTINGS)
@given(
    pairs=st.lists(st.tuples(maybe_count, maybe_size), min_size=0, max_size=15),
    kind=st.sampled_from(["ratio", "rate", "proportion"]),
    overdispersion=st.sampled_from(["auto", "none"]),
    compatibility=st.sampled_from([None, "funnelplotr", "shmi"]),
)
def test_funnel_results_hold_null_never_nan(
    pairs: list[tuple[int | None, int | None]],
    kind: str,
    overdispersion: str,
    compatibility: str | None,
) -> None:
    if kind == "proportion":
        pairs = [(o, n) if o is None or n is None or o <= n else (n, o) for o, n in pairs]
    if compatibility is not None:
        kind, overdispersion = "ratio", "auto"
    numerator = [o for o, _ in pairs]
    denominator = [n for _, n in pairs]
    result = funnel(
        numerator,
        denominator,
        kind=kind,  # type: ignore[arg-type]
        overdispersion=overdispersion,  # type: ignore[arg-type]
        compatibility=compatibility,  # type: ignore[arg-type]
    )
    _no_nan(result.units)
    _no_nan(result.limits([None, 0, 1, 50]))

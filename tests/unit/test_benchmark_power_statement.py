"""The benchmarks' power statement, worked from an indicator's published description alone.

``benchmark.disclosure_control`` says, for a standardised ratio at a published expected count and
for a proportion at a published denominator, the smallest relative risk the released funnel
flags at 99.8% with 80% power. Each case here is the stats function called by hand with the
figures the description publishes, so a statement made against other limits, another centre or
another tau^2 fails.
"""

from __future__ import annotations

import pytest

from mhdeaths.benchmark.disclosure_control import (
    Cell,
    banded_at,
    detectable_at,
    detectable_value,
    power_size,
)
from mhdeaths.stats import detectable_ratio

SHARE: dict[str, Cell] = {
    "detectable_kind": "proportion",
    "detectable_target": 0.25,
    "min_expected": 5.0,
    "overdispersion": "arcsine",
    "tau2": 0.01,
    "multiplier": 100,
}
RATIO: dict[str, Cell] = {
    "detectable_kind": "ratio",
    "detectable_target": None,
    "min_expected": 5.0,
    "overdispersion": "log",
    "tau2": 0.027,
    "multiplier": 100_000,
}


def test_a_share_is_stated_against_its_centre_and_its_adjusted_limit() -> None:
    # n = 40 at a national 25%, tau^2 0.01 on the arcsine scale: 2.79 times (2.21 unadjusted).
    want = detectable_ratio(40, kind="proportion", target=0.25, tau2=0.01, overdispersion="arcsine")
    assert want is not None
    assert detectable_at(40, SHARE) == round(want, 2) == 2.79
    assert detectable_value(40, SHARE) == round(want * 0.25 * 100, 1)
    plain = {**SHARE, "overdispersion": "none"}
    assert detectable_at(40, plain) == round(
        detectable_ratio(40, kind="proportion", target=0.25) or 0, 2
    )
    assert detectable_at(40, plain) == 2.21


def test_a_share_too_small_to_be_banded_or_beyond_reach_has_no_ratio() -> None:
    # 15 x 25% = 3.75 expected, under min_expected 5: not banded at all.
    assert not banded_at(15, SHARE)
    assert detectable_at(15, SHARE) is None
    # At a national 90% and n = 20 even 20 of 20 is inside the 99.8% limit: banded, but
    # nothing is detectable.
    high = {**SHARE, "detectable_target": 0.9, "tau2": 0.0}
    assert banded_at(20, high)
    assert detectable_at(20, high) is None and detectable_value(20, high) is None


def test_a_ratio_is_stated_as_before() -> None:
    want = detectable_ratio(20.0, tau2=0.027, overdispersion="log")
    assert detectable_at(20.0, RATIO) == round(want or 0, 2)
    assert detectable_value(20.0, RATIO) is None
    assert detectable_at(4.0, RATIO) is None and not banded_at(4.0, RATIO)


@pytest.mark.parametrize("size", ["*", None, 0, -1, True])
def test_a_withheld_missing_or_empty_size_gets_no_statement(size: Cell) -> None:
    assert detectable_at(size, SHARE) is None
    assert detectable_at(size, RATIO) is None


def test_each_kind_is_stated_at_its_own_published_size() -> None:
    row: dict[str, Cell] = {"expected": 12.5, "denominator": 40}
    assert power_size(row, RATIO) == 12.5
    assert power_size(row, SHARE) == 40
    assert power_size(row, {"detectable_kind": None}) is None
    # A share whose funnel has no centre (no provider on it) states nothing.
    assert detectable_at(40, {**SHARE, "detectable_target": None}) is None

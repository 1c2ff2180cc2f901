"""The released benchmark table, for any counts: every figure is a function of released cells, and
national-minus-others and group subtraction recover no count.

The synthetic warehouses of ``tests/integration/test_benchmark_disclosure.py`` give realistic
tables; these give the awkward ones (a single provider with deaths, every count at the threshold,
zeros beside small counts), on a share of deaths, whose count, denominator and complement are all
counts of people.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mhdeaths.benchmark.compute import NATIONAL, Benchmarks, IndicatorResult, crude, window_ending
from mhdeaths.benchmark.disclosure_control import RELEASABLE_RULES, decimals_for, release
from mhdeaths.benchmark.indicators import load_indicators
from mhdeaths.stats import DISCLOSURE_RULES
from mhdeaths.warehouse.rederive import Definitions

from ..integration.attacker import Attack, nested, recoveries
from ..integration.benchmark_outputs import shown

DEFINITIONS = Definitions("1.1.0", "0" * 64)
SHARE = next(i for i in load_indicators() if i.id == "deaths_case_record_reviewed")


@st.composite
def tables(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Per provider (deaths in scope, deaths reviewed), mostly small."""
    size = draw(st.integers(2, 9))
    rows = []
    for _ in range(size):
        n = draw(st.one_of(st.integers(0, 12), st.integers(0, 60)))
        rows.append((n, draw(st.integers(0, n))))
    return rows


def _result(rows: list[tuple[int, int]]) -> tuple[IndicatorResult, list[str]]:
    providers = [f"R{i:02d}" for i in range(len(rows))]
    n = np.array([r[0] for r in rows], dtype=float)
    o = np.array([r[1] for r in rows], dtype=float)
    value, lower, upper = crude(SHARE, o, n)
    table = pl.DataFrame(
        {"provider": providers, "observed": o, "denominator": n, "value": value}
    ).with_columns(lower=pl.Series(lower), upper=pl.Series(upper))
    nv, nl, nu = crude(SHARE, np.array([o.sum()]), np.array([n.sum()]))
    national = {
        "observed": float(o.sum()),
        "denominator": float(n.sum()),
        "value": float(nv[0]) if np.isfinite(nv[0]) else None,
        "lower": float(nl[0]) if np.isfinite(nl[0]) else None,
        "upper": float(nu[0]) if np.isfinite(nu[0]) else None,
    }
    trend = pl.DataFrame(
        schema={
            "provider": pl.String,
            "year": pl.Int64,
            "observed": pl.Float64,
            "denominator": pl.Float64,
        }
    )
    window = window_ending("2028-01", SHARE.pooling_months)
    return IndicatorResult(
        SHARE, SHARE.variants[0], window, table, national, None, trend
    ), providers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=tables(), rule=st.sampled_from(sorted(RELEASABLE_RULES)))
# Two withheld counts of 4 beside a national 8 released as 10: the rule would not withhold 8, yet
# 8 to 12 leaves both at the rule's largest withheld count, 4 (found by this test in CI).
@example(rows=[(4, 4), (9, 4)], rule="mhsds")
# Denominators of 8, 38, 38 and 43, released as 10, 40, 40 and 45, add up to at least 127; the
# national 127 released as 125 is at most 127: each is its smallest possible value (found in CI).
@example(rows=[(8, 0), (38, 0), (38, 0), (43, 0)], rule="nhs_england")
def test_no_table_gives_a_count_back(rows: list[tuple[int, int]], rule: str) -> None:
    result, providers = _result(rows)
    released = release(Benchmarks("2028-01", None, (result,), tuple(providers), DEFINITIONS), rule)
    truth = {("t", p, "observed"): r[1] for p, r in zip(providers, rows, strict=True)}
    truth |= {("t", p, "denominator"): r[0] for p, r in zip(providers, rows, strict=True)}
    truth |= {("t", NATIONAL, "observed"): sum(r[1] for r in rows)}
    truth |= {("t", NATIONAL, "denominator"): sum(r[0] for r in rows)}
    spec = DISCLOSURE_RULES[rule]
    for row in released.rows:
        o, n, v = row["observed"], row["denominator"], row["value"]
        # Every published value is the released count over the released denominator.
        if isinstance(o, int) and isinstance(n, int) and n > 0:
            assert isinstance(v, float | int)
            assert v == round(o / n * 100, decimals_for(result, rule))
        if o == "*":
            assert all(row[c] in ("*", None) for c in ("value", "lower", "upper", "z", "band_95"))
    for informed in (None, truth):
        attack = Attack(spec, informed)
        for row in released.rows:
            for column in ("observed", "denominator"):
                attack.know(("t", str(row["provider"]), column), shown(row[column]))
        for column in ("observed", "denominator"):
            parts = tuple(("t", p, column) for p in providers)
            attack.sums.append((("t", NATIONAL, column), parts))
        for p in [*providers, NATIONAL]:
            attack.within.append(((("t", p, "observed"),), ("t", p, "denominator")))
        attack.propagate()
        found, wrong = recoveries(attack, truth)
        found += nested(attack, truth)
        assert wrong == 0 and attack.contradictions == 0
        assert not found, (rule, rows, released.rows)

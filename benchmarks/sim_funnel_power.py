"""How often a pooled funnel flags a provider whose death rate really is higher, by simulation.

Not a timed benchmark: the simulation behind the power figures in ``docs/statistics.md`` ("What a
funnel can detect") and issue 19, so they can be checked and re-run (under a minute on one core).

Each dataset has 60 providers whose expected deaths over one pooled 36-month window are spread
evenly from 9 to 24 (inpatient deaths at mental health providers). One provider, chosen at
random, has deaths Poisson with mean R x E, the rest Poisson with mean E. The funnel is
``mhdeaths.stats.funnel(observed, expected)`` with its defaults (exact Poisson limits, SHMI
log-scale over-dispersion with a 10% trim at each end, bands against the adjusted limits), drawn
once. For R = 1.5 and 2, the share of datasets in which the planted provider is "higher than
expected" at 99.8% (and at 95%), with a 95% interval for that share; beside it, the exact
probability for a funnel with no over-dispersion adjustment, averaged over the providers' expected
counts and at single expected counts (what ``detectable_ratio``'s limits give), and
``detectable_ratio`` at 80% power across the range.

Prints a table and writes ``benchmarks/results/funnel_power.json``.

    uv run --frozen python benchmarks/sim_funnel_power.py [--datasets 1000] [--seed 19]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from mhdeaths.stats import BAND_HIGHER, detectable_ratio, funnel

PROVIDERS = 60
LOW, HIGH = 9.0, 24.0  # expected deaths over the pooled window, smallest and largest provider
RATIOS = (1.5, 2.0)
AT = (9.0, 12.0, 16.5, 24.0)  # expected counts the exact power is also given at, one by one
RESULTS = Path(__file__).parent / "results" / "funnel_power.json"


def expected_counts() -> np.ndarray:
    return np.linspace(LOW, HIGH, PROVIDERS)


def share_with_interval(hits: int, datasets: int) -> dict[str, float]:
    """A share and its 95% Wilson interval (the simulation's own uncertainty)."""
    p = hits / datasets
    z = 1.959964
    centre = (p + z * z / (2 * datasets)) / (1 + z * z / datasets)
    half = (
        z * math.sqrt(p * (1 - p) / datasets + z * z / (4 * datasets**2)) / (1 + z * z / datasets)
    )
    return {"share": p, "lower": centre - half, "upper": centre + half}


def exact_power(ratio: float, level: str, expected: np.ndarray | None = None) -> np.ndarray:
    """P(flagged) for a provider at ``ratio`` and each expected count (by default the
    providers'), no over-dispersion adjustment: the exact Poisson tail above the funnel's own
    upper limit."""
    expected = expected_counts() if expected is None else expected
    upper = funnel(expected, expected, overdispersion="none").limits(expected)[f"upper_{level}"]
    # Flagged when O / E exceeds the limit, i.e. O is at least the next whole count above it.
    count = np.floor(np.round(np.asarray(upper) * expected, 9)) + 1
    return np.asarray(stats.poisson.sf(count - 1, ratio * expected))


def simulate(ratio: float, datasets: int, rng: np.random.Generator) -> dict[str, Any]:
    expected = expected_counts()
    flagged = {"95": 0, "998": 0}
    positive_tau2 = 0
    for _ in range(datasets):
        chosen = int(rng.integers(0, PROVIDERS))
        means = expected.copy()
        means[chosen] *= ratio
        result = funnel(rng.poisson(means), expected)
        positive_tau2 += result.tau2 > 0
        for level in flagged:
            flagged[level] += result.units[f"band_{level}"][chosen] == BAND_HIGHER
    return {
        "flagged_998": share_with_interval(flagged["998"], datasets),
        "flagged_95": share_with_interval(flagged["95"], datasets),
        "exact_no_adjustment_998": float(exact_power(ratio, "998").mean()),
        "exact_no_adjustment_95": float(exact_power(ratio, "95").mean()),
        "exact_no_adjustment_998_at": {
            f"{e:g}": float(p)
            for e, p in zip(AT, exact_power(ratio, "998", np.array(AT)), strict=True)
        },
        "share_tau2_positive": positive_tau2 / datasets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    if args.datasets < 500:
        parser.error("--datasets must be at least 500 for the figures the docs quote.")
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    steps = {f"{ratio:g}": simulate(ratio, args.datasets, rng) for ratio in RATIOS}
    detectable = {
        f"{e:g}": round(float(detectable_ratio(e) or math.nan), 2) for e in (LOW, 14.0, 20.0, HIGH)
    }
    results = {
        "datasets": args.datasets,
        "seed": args.seed,
        "providers": PROVIDERS,
        "expected_deaths_36_months": [LOW, HIGH],
        "funnel": "funnel(observed, expected): exact limits, log-scale over-dispersion, trim 0.1",
        "step": steps,
        "detectable_ratio_998_power_80": detectable,
    }

    print(
        f"{args.datasets} datasets x {PROVIDERS} providers, E {LOW:g}-{HIGH:g} deaths over one "
        f"pooled 36-month window, seed {args.seed}; one provider at R times its expected rate"
    )
    print(f"   {'R':<5}{'flagged 99.8%':>22}{'exact, no OD':>14}{'flagged 95%':>22}{'tau2>0':>8}")
    for ratio, figures in steps.items():
        high, low95 = figures["flagged_998"], figures["flagged_95"]
        print(
            f"   {ratio + 'x':<5}"
            f"{high['share']:>7.1%} ({high['lower']:.1%}-{high['upper']:.1%})"
            f"{figures['exact_no_adjustment_998']:>14.1%}"
            f"{low95['share']:>7.1%} ({low95['lower']:.1%}-{low95['upper']:.1%})"
            f"{figures['share_tau2_positive']:>8.1%}"
        )
    for ratio, figures in steps.items():
        at = figures["exact_no_adjustment_998_at"]
        print(
            f"   {ratio}x, exact at 99.8% for one provider: "
            + ", ".join(f"E = {e}: {p:.1%}" for e, p in at.items())
        )
    print()
    print(
        "   detectable_ratio at 99.8%, 80% power: "
        + ", ".join(f"E = {e}: {r}" for e, r in detectable.items())
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8", newline="\n")
    print()
    print(f"Wrote {RESULTS} in {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()

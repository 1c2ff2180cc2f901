"""What the funnel's limits and its over-dispersion estimate do when every provider is in control.

Not a timed benchmark: the computations behind the claims in ``docs/statistics.md`` about
``mhdeaths.stats.funnel``, so each can be checked and re-run (about a minute on one core).

1. **Attained false-alarm rate of the unadjusted limits**, computed exactly (no simulation): for a
   provider whose deaths are Poisson with mean E (in control, ratio 1), the probability that its
   O/E falls outside the limits, summed over every possible O. For this package's limits (exact
   Poisson prediction limits) and for FunnelPlotR's "exact CI around E" form
   (``compatibility="funnelplotr"``), at 95% (nominal 5%, 2.5% a side) and 99.8% (nominal 0.2%).
2. **Bias of the dispersion ratio phi in null data**: datasets of 60 providers with expected
   deaths spread evenly from 9 to 24 (a 36-month pooled window of inpatient deaths) and Poisson
   observed deaths, so phi's true value is 1. Median phi and the share of datasets given
   tau^2 > 0, for the SHMI log-scale truncation (the default for ratios), the CQC square-root
   winsorisation with k = floor(trim x I) ranks (default) and with R's quantiles
   (``winsorisation="quantile"``), and the FunnelPlotR and SHMI compatibility options.
3. **The winsorisation difference on FunnelPlotR's own test data** (six units, trim 0.1).

Prints the figures and writes them to ``benchmarks/results/funnel_null.json``.

    uv run --frozen python benchmarks/sim_funnel_null.py [--datasets 1000] [--seed 19]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from mhdeaths.stats import funnel

RESULTS = Path(__file__).parent / "results" / "funnel_null.json"
EXPECTED_COUNTS = (2, 5, 10, 15, 20, 24, 50, 100)


def attained_rates(expected: float) -> dict[str, float]:
    """Exact P(flagged) for O ~ Poisson(E) against each limit form, at 95% and 99.8%."""
    counts = np.arange(0, int(expected * 6 + 60))
    pmf = stats.poisson.pmf(counts, expected)
    out: dict[str, float] = {}
    for name, options in (("prediction", {}), ("funnelplotr", {"compatibility": "funnelplotr"})):
        # Limits depend only on E; any observed count will do to build the result.
        limits = funnel([expected], [expected], **options).limits([expected])  # type: ignore[arg-type]
        for level in ("95", "998"):
            low = limits[f"lower_{level}"][0]
            high = limits[f"upper_{level}"][0]
            ratio = counts / expected
            out[f"{name}_{level}"] = float(pmf[(ratio < low) | (ratio > high)].sum())
    return out


VARIANTS: dict[str, dict[str, Any]] = {
    "log, default (k = floor(0.1 I) set aside)": {"overdispersion": "log"},
    "log, compatibility='funnelplotr' (rank groups)": {
        "overdispersion": "log",
        "compatibility": "funnelplotr",
    },
    "log, compatibility='shmi' (rank groups)": {
        "overdispersion": "log",
        "compatibility": "shmi",
    },
    "sqrt, default (k = floor(0.1 I) ranks)": {"overdispersion": "sqrt"},
    "sqrt, winsorisation='quantile' (R type 7)": {
        "overdispersion": "sqrt",
        "winsorisation": "quantile",
    },
}


def null_phi(datasets: int, seed: int, providers: int = 60) -> dict[str, tuple[float, float]]:
    """Median phi and share of datasets with tau^2 > 0, per variant, over null datasets."""
    rng = np.random.default_rng(seed)
    expected = np.linspace(9, 24, providers)
    phis: dict[str, list[float]] = {name: [] for name in VARIANTS}
    positive: dict[str, int] = dict.fromkeys(VARIANTS, 0)
    for _ in range(datasets):
        observed = rng.poisson(expected)
        for name, options in VARIANTS.items():
            result = funnel(observed, expected, **options)
            phis[name].append(result.phi)
            positive[name] += result.tau2 > 0
    return {
        name: (statistics.median(values), positive[name] / datasets)
        for name, values in phis.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    started = time.perf_counter()

    print("1. Attained false-alarm rate, in-control provider, O ~ Poisson(E) (exact)")
    print(f"{'E':>5}  {'ours 95%':>9}  {'FPR 95%':>9}  {'ours 99.8%':>10}  {'FPR 99.8%':>10}")
    attained = {}
    for expected in EXPECTED_COUNTS:
        rates = attained_rates(float(expected))
        attained[str(expected)] = rates
        print(
            f"{expected:>5}  {rates['prediction_95']:>9.2%}  {rates['funnelplotr_95']:>9.2%}  "
            f"{rates['prediction_998']:>10.3%}  {rates['funnelplotr_998']:>10.3%}"
        )
    print()
    print(
        f"2. phi in {args.datasets} null datasets of 60 providers, E evenly 9 to 24, "
        f"O ~ Poisson(E), seed {args.seed} (true phi = 1)"
    )
    null = null_phi(args.datasets, args.seed)
    for name, (median, share) in null.items():
        print(f"   {name:<48} median phi {median:.3f}; tau^2 > 0 in {share:.1%}")
    print()
    print("3. FunnelPlotR's test data (tests/testthat/test-funnel_plot.R), CQC, trim 0.1")
    observed, expected_counts = [100, 150, 180, 80, 120, 225], [108, 112, 165, 95, 100, 220]
    winsorised = {}
    for name in ("rank", "quantile"):
        result = funnel(observed, expected_counts, overdispersion="sqrt", winsorisation=name)  # type: ignore[arg-type]
        winsorised[name] = {"phi": result.phi, "tau2": result.tau2}
        print(f"   winsorisation={name!r:<11} phi {result.phi:.4f}, tau^2 {result.tau2:.6f}")

    results = {
        "datasets": args.datasets,
        "seed": args.seed,
        "attained_false_alarm_rate": {
            "what": "P(flagged) for O ~ Poisson(E), each limit form, summed exactly",
            "by_expected": attained,
        },
        "null_phi": {
            "providers": 60,
            "expected_deaths": [9, 24],
            "variants": {
                name: {"median_phi": median, "share_tau2_positive": share}
                for name, (median, share) in null.items()
            },
        },
        "funnelplotr_test_data_cqc_trim_0.1": winsorised,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8", newline="\n")
    print()
    print(f"Wrote {RESULTS} in {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()

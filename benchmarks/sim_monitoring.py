"""Funnel plot against CUSUM: false alarms and months to see a step change, by simulation.

Not a timed benchmark: the simulation behind the monitoring figures in ``docs/statistics.md``
(issue 19), so they can be checked and re-run (a few minutes on one core).

Each dataset has 60 providers whose expected inpatient deaths over 36 months are spread evenly
from 9 to 24 (0.25 to 0.67 a month), observed deaths Poisson each month, and 36 months of history
before the 36 monitored months, so a rolling 36-month funnel can be drawn from the first one.

1. **False alarms in control** (every provider at its expected rate), per provider-year:
   - the funnel (``mhdeaths.stats.funnel``, defaults: SHMI log-scale over-dispersion) on the
     36 monitored months pooled, once: providers "higher than expected" at 99.8%, against the
     0.1% a side the limits are set for (0.033% per provider-year over three years);
   - the same funnel on the rolling 36-month pool each month: alerts (a provider flagged in a
     month when it was not flagged the month before) per provider-year;
   - the upward CUSUM (``mhdeaths.stats.cusum``, R = 2, thresholds for 0.01 false alarms per
     provider-year): signals per provider-year over the 36 months, and over 120 months, against
     the stated 0.01.
2. **Months to signal after a step change**: in each dataset one provider, chosen at random,
   moves to 1.5 or 2 times its expected rate from month 13. The months from the step to the
   first signal (a signal in month 13 counts as 1) of the monthly CUSUM, and of the funnel on the
   rolling 36-month pool evaluated monthly, followed for 36 months (until the funnel's pool is
   all after the step): the median ("> 36" when fewer than half signal by then) and the share
   signalled within 12, 24 and 36 months; and the CUSUM's median followed for 120 months.

Prints a table and writes ``benchmarks/results/monitoring.json``.

    uv run --frozen python benchmarks/sim_monitoring.py [--datasets 500] [--seed 19]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from mhdeaths.stats import BAND_HIGHER, cusum, cusum_threshold, funnel

PROVIDERS = 60
WINDOW = 36  # months pooled by the funnel, and months monitored
STEP_MONTH = 13
FOLLOW_UP = 36  # months after the step both charts are followed: the funnel's pool is then all new
LONG_FOLLOW_UP = 120  # months the CUSUM alone is followed, for a median beyond FOLLOW_UP
RATE = 0.01  # the CUSUM's stated false alarms per provider-year
RATIO = 2.0  # the step the CUSUM is tuned to detect
RESULTS = Path(__file__).parent / "results" / "monitoring.json"


def expected_per_month() -> np.ndarray:
    return np.linspace(9, 24, PROVIDERS) / WINDOW


def flagged(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Which providers the funnel bands "higher than expected" at 99.8%."""
    bands = funnel(observed, expected).units["band_998"]
    return (bands == BAND_HIGHER).fill_null(False).to_numpy()


def cusum_signals(observed: np.ndarray, per_month: np.ndarray) -> np.ndarray:
    """Signals of the upward CUSUM: an array datasets x providers x months of booleans."""
    datasets, providers, months = observed.shape
    result = cusum(
        observed.reshape(-1),
        np.broadcast_to(per_month[None, :, None], observed.shape).reshape(-1),
        units=np.repeat(np.arange(datasets * providers), months),
        months=np.tile(np.arange(months), datasets * providers),
        rate_ratio=RATIO,
        false_alarms_per_year=RATE,
    ).months
    return result["signal"].to_numpy().astype(bool).reshape(datasets, providers, months)


def in_control(datasets: int, rng: np.random.Generator) -> dict[str, Any]:
    per_month = expected_per_month()
    history = rng.poisson(per_month[None, :, None], (datasets, PROVIDERS, WINDOW))
    monitored = rng.poisson(per_month[None, :, None], (datasets, PROVIDERS, 120))
    counts = np.concatenate([history, monitored], axis=2)
    pooled_expected = per_month * WINDOW

    pooled = sum(
        int(flagged(counts[d, :, WINDOW : 2 * WINDOW].sum(axis=1), pooled_expected).sum())
        for d in range(datasets)
    )
    alerts = 0
    flagged_months = 0
    for d in range(datasets):
        before = np.zeros(PROVIDERS, dtype=bool)
        for month in range(1, WINDOW + 1):
            pool = counts[d, :, month : month + WINDOW].sum(axis=1)
            now = flagged(pool, pooled_expected)
            alerts += int((now & ~before).sum())
            flagged_months += int(now.sum())
            before = now
    signals = cusum_signals(monitored, per_month)
    provider_years_36 = datasets * PROVIDERS * WINDOW / 12
    provider_years_120 = datasets * PROVIDERS * 120 / 12
    return {
        "provider_years": provider_years_36,
        "funnel_pooled_flagged_share": pooled / (datasets * PROVIDERS),
        "funnel_pooled_stated_share": 0.001,
        "funnel_pooled_per_provider_year": pooled / provider_years_36,
        "funnel_rolling_alerts_per_provider_year": alerts / provider_years_36,
        "funnel_rolling_flagged_month_share": flagged_months / (datasets * PROVIDERS * WINDOW),
        "cusum_stated_per_provider_year": RATE,
        "cusum_per_provider_year_36_months": float(signals[:, :, :WINDOW].sum())
        / provider_years_36,
        "cusum_per_provider_year_120_months": float(signals.sum()) / provider_years_120,
    }


def summary(delays: list[float]) -> dict[str, Any]:
    """Median months to signal (None when not reached) and shares signalled within 12-36."""
    censored = [d if d <= FOLLOW_UP else float("inf") for d in delays]
    median = statistics.median(censored)
    return {
        "median_months": None if median == float("inf") else median,
        **{f"within_{m}_months": sum(d <= m for d in delays) / len(delays) for m in (12, 24, 36)},
    }


def step_change(datasets: int, ratio: float, rng: np.random.Generator) -> dict[str, Any]:
    per_month = expected_per_month()
    months = WINDOW + STEP_MONTH - 1 + LONG_FOLLOW_UP
    rates = np.broadcast_to(per_month[None, :, None], (datasets, PROVIDERS, months)).copy()
    chosen = rng.integers(0, PROVIDERS, datasets)
    # Month m of monitoring is column WINDOW + m - 1; the step starts at month 13.
    rates[np.arange(datasets), chosen, WINDOW + STEP_MONTH - 1 :] *= ratio
    counts = rng.poisson(rates)
    pooled_expected = per_month * WINDOW

    signals = cusum_signals(counts[:, :, WINDOW:], per_month)
    cusum_delays: list[float] = []
    funnel_delays: list[float] = []
    for d in range(datasets):
        after = signals[d, chosen[d], STEP_MONTH - 1 :]
        cusum_delays.append(float(np.argmax(after)) + 1 if after.any() else float("inf"))
        delay = float("inf")
        for month in range(STEP_MONTH, STEP_MONTH + FOLLOW_UP):
            pool = counts[d, :, month : month + WINDOW].sum(axis=1)
            if flagged(pool, pooled_expected)[chosen[d]]:
                delay = float(month - STEP_MONTH + 1)
                break
        funnel_delays.append(delay)
    long_median = statistics.median(cusum_delays)
    return {
        "cusum": summary(cusum_delays),
        "funnel_rolling": summary(funnel_delays),
        "cusum_median_months_followed_120": None if long_median == float("inf") else long_median,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    thresholds = [cusum_threshold(e, RATE, RATIO) for e in expected_per_month()]
    null = in_control(args.datasets, rng)
    steps = {f"{ratio:g}": step_change(args.datasets, ratio, rng) for ratio in (1.5, 2.0)}
    results = {
        "datasets": args.datasets,
        "seed": args.seed,
        "providers": PROVIDERS,
        "expected_deaths_36_months": [9, 24],
        "step_month": STEP_MONTH,
        "cusum_rate_ratio": RATIO,
        "cusum_thresholds": {"min": min(thresholds), "max": max(thresholds)},
        "in_control": null,
        "step_change": steps,
    }

    print(
        f"{args.datasets} datasets x {PROVIDERS} providers, E 9-24 deaths over 36 months, "
        f"seed {args.seed}; CUSUM R = {RATIO:g}, h {min(thresholds):.3f}-{max(thresholds):.3f} "
        f"for {RATE} false alarms per provider-year"
    )
    print()
    print("1. False alarms, every provider in control")
    rows = [
        (
            "funnel, 36 months pooled, once: flagged",
            null["funnel_pooled_flagged_share"],
            "0.1% of providers",
        ),
        (
            "funnel, rolling 36-month pool, monthly",
            null["funnel_rolling_alerts_per_provider_year"],
            "(per year)",
        ),
        ("CUSUM, 36 months", null["cusum_per_provider_year_36_months"], f"{RATE} per year"),
        ("CUSUM, 120 months", null["cusum_per_provider_year_120_months"], f"{RATE} per year"),
    ]
    for name, value, stated in rows:
        print(f"   {name:<42} {value:>9.5f}   stated {stated}")
    print()
    print(f"2. Months from a step change at month {STEP_MONTH} to the first signal")
    print(f"   {'step':<6}{'chart':<16}{'median':>12}{'<= 12':>9}{'<= 24':>9}{'<= 36':>9}")
    for ratio, charts in steps.items():
        for chart in ("cusum", "funnel_rolling"):
            figures = charts[chart]
            median = figures["median_months"]
            median_text = "> 36" if median is None else f"{median:g}"
            print(
                f"   {ratio + 'x':<6}{chart:<16}{median_text:>12}"
                f"{figures['within_12_months']:>9.1%}{figures['within_24_months']:>9.1%}"
                f"{figures['within_36_months']:>9.1%}"
            )
        print(
            f"   {'':<6}{'cusum, median followed for 120 months:':<40}"
            f"{charts['cusum_median_months_followed_120']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8", newline="\n")
    print()
    print(f"Wrote {RESULTS} in {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()

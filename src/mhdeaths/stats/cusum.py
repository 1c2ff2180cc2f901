"""Risk-adjusted CUSUM charts: monthly monitoring that sees a step change within months.

Why this module exists: a funnel plot of deaths pooled over 36 months is slow to see change (in
simulation a provider at twice its expected rate is flagged at 99.8% in under half of datasets;
issue 19). Mortality monitoring in the NHS uses risk-adjusted log-likelihood-ratio CUSUM charts
each month instead, which accumulate evidence for one stated alternative (a relative risk R, the
step worth detecting) and signal when it crosses a threshold h.

Each month t adds the log-likelihood ratio of "risk × R" against "risk as expected":

- Poisson (Grigg & Farewell 2004), observed O_t and expected E_t:
  W_t = O_t ln R − (R − 1) E_t;
- Bernoulli/binomial (Steiner et al. 2000), O_t deaths among n_t people whose expected deaths are
  E_t, taken as one risk p_t = E_t / n_t each (monthly totals carry no more): R is an odds ratio
  and W_t = O_t ln R − n_t ln(1 + (R − 1) p_t).

The statistic is S_t = max(0, S_{t−1} + W_t), starting at 0 and reset to 0 after a signal
(S_t ≥ h). A downward chart uses 1/R in the same formulas. The threshold h is set for a stated
false-alarm rate per unit-year: its in-control average run length (months to a false signal) is
found by the Markov-chain method of Brook & Evans (1972) at the unit's mean monthly expected
count, and h is the smallest threshold whose run length is at least 12 / rate months. Being a
linear solve rather than a simulation, it is deterministic and needs no seed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from ._arrays import FloatArray, Vector, as_float_array, check_non_negative, check_same_length

Direction = Literal["upper", "lower", "both"]

#: Columns of ``CusumResult.months``, in order.
CUSUM_COLUMNS: tuple[str, ...] = (
    "unit",
    "month",
    "direction",
    "observed",
    "expected",
    "statistic",
    "threshold",
    "signal",
)

# Grid points of the Markov chain on [0, h). The true run length is a step function of h (the
# statistic moves on a lattice of ln R per death); with 400 points the chain's rounding made it
# jump about by 5% between neighbouring thresholds, with 2,000 it follows the steps within about
# 1% (a sparse solve of a few milliseconds).
_STATES = 2000
# Increments of probability below this are ignored in the chain (the tail of the count's law).
_TAIL = 1e-12


@dataclass(frozen=True, eq=False)
class CusumResult:
    """A CUSUM chart per unit: one row per unit, month and direction, and the method.

    Attributes
    ----------
    months:
        One row per unit, month and direction, sorted by direction (``"upper"`` before
        ``"lower"``), then unit, then month: ``unit``, ``month``, ``direction``, ``observed``,
        ``expected``, ``statistic`` (S_t, the value that crossed the threshold in a month that
        signals; null in a month with a missing count), ``threshold`` (h; null when the unit has
        no usable expected count), ``signal`` (bool; null where the statistic or threshold is).
    method_note:
        One paragraph naming the model, R, the reset and how the thresholds were set.
    model:
        ``"poisson"`` or ``"binomial"``.
    rate_ratio:
        R, the relative risk (an odds ratio for the binomial form) the chart is tuned to detect.
    direction:
        ``"upper"``, ``"lower"`` or ``"both"``.
    false_alarms_per_year:
        The stated false-alarm rate per unit-year the thresholds were set for (None when
        thresholds were given).
    """

    months: pl.DataFrame
    method_note: str
    model: str
    rate_ratio: float
    direction: str
    false_alarms_per_year: float | None

    @property
    def signals(self) -> pl.DataFrame:
        """The months that signalled: one row per signal."""
        return self.months.filter(pl.col("signal"))


def cusum_threshold(
    expected_per_month: float | Vector,
    false_alarms_per_year: float = 0.01,
    rate_ratio: float = 2.0,
    *,
    direction: Literal["upper", "lower"] = "upper",
    denominator_per_month: float | Vector | None = None,
    months_per_year: int = 12,
) -> float:
    """The CUSUM threshold h for a stated false-alarm rate per unit-year.

    Parameters
    ----------
    expected_per_month:
        The unit's expected count each month (one number, or one per month; their mean is used,
        missing values left out).
    false_alarms_per_year:
        The in-control signals per unit-year to allow (0.01: one in a hundred unit-years).
    rate_ratio:
        R, the step to detect (> 1; the downward chart uses 1/R).
    direction:
        ``"upper"`` (an increase) or ``"lower"``.
    denominator_per_month:
        For the binomial form, the people at risk each month (mean used, rounded to whole people).
    months_per_year:
        Months in a year (12); the chart's in-control run length is months_per_year / rate.

    Returns the smallest h whose in-control average run length (Brook & Evans 1972) is at least
    ``months_per_year / false_alarms_per_year`` months, to 0.001. NaN when the expected count is
    missing or zero, because no threshold then has a finite false-alarm rate to aim at.
    """
    _check_rate_ratio(rate_ratio)
    _check_rate(false_alarms_per_year, months_per_year)
    if direction not in ("upper", "lower"):
        raise ValueError(f"direction must be 'upper' or 'lower'; got {direction!r}.")
    expected = _mean(as_float_array(expected_per_month, "expected_per_month"))
    if expected is not None and expected < 0:
        raise ValueError("expected_per_month must be zero or more; found a negative value.")
    people: float | None = None
    if denominator_per_month is not None:
        people = _mean(as_float_array(denominator_per_month, "denominator_per_month"))
        if people is None:
            return math.nan
        if people < 0:
            raise ValueError("denominator_per_month must be zero or more; found a negative value.")
    if expected is None or expected <= 0 or (people is not None and round(people) < 1):
        return math.nan
    if people is not None and expected > people:
        raise ValueError("expected_per_month cannot exceed denominator_per_month.")
    ratio = rate_ratio if direction == "upper" else 1 / rate_ratio
    return _threshold(
        round(expected, 9),
        None if people is None else round(people),
        ratio,
        months_per_year / false_alarms_per_year,
    )


def average_run_length(
    threshold: float,
    expected_per_month: float,
    rate_ratio: float = 2.0,
    *,
    true_ratio: float = 1.0,
    direction: Literal["upper", "lower"] = "upper",
    denominator_per_month: float | None = None,
) -> float:
    """Average months to a signal, from a reset, when the true relative risk is ``true_ratio``.

    ``true_ratio`` is an odds ratio for the binomial form (with ``denominator_per_month``).
    ``true_ratio=1`` gives the in-control run length (months between false alarms); the chart's
    ``rate_ratio`` gives its run length at the step it is tuned for. Markov-chain approximation
    (Brook & Evans 1972) on a grid of 2,000 states; see the module docstring.
    """
    _check_rate_ratio(rate_ratio)
    if not (threshold > 0 and expected_per_month > 0 and true_ratio > 0):
        raise ValueError("threshold, expected_per_month and true_ratio must be more than 0.")
    ratio = rate_ratio if direction == "upper" else 1 / rate_ratio
    people = None if denominator_per_month is None else round(denominator_per_month)
    return _arl(float(threshold), float(expected_per_month), people, ratio, float(true_ratio))


def cusum(
    observed: Vector,
    expected: Vector,
    units: Vector | Sequence[Any] | None = None,
    months: Vector | Sequence[Any] | None = None,
    *,
    denominator: Vector | None = None,
    rate_ratio: float = 2.0,
    direction: Direction = "upper",
    false_alarms_per_year: float = 0.01,
    threshold: float | None = None,
    months_per_year: int = 12,
) -> CusumResult:
    """Risk-adjusted log-likelihood-ratio CUSUM charts, one per unit, on monthly counts.

    Parameters
    ----------
    observed, expected:
        One value per unit and month: the observed count O_t and the expected count E_t (from
        the unit's case mix at the reference rate). Missing values are allowed: that month adds
        nothing, and its statistic and signal are null.
    units:
        The unit (provider) of each row; None for a single unit (labelled null).
    months:
        Anything that sorts in time (``"2025-04"``, integers, dates); None takes each unit's rows
        in the order given as consecutive months.
    denominator:
        People at risk each month, for the binomial (Bernoulli) form; then ``rate_ratio`` is an
        odds ratio. Without it the Poisson form is used.
    rate_ratio:
        R > 1, the relative risk the chart is tuned to detect (default 2).
    direction:
        ``"upper"`` (default), ``"lower"`` (a fall to 1/R) or ``"both"`` (two charts per unit).
    false_alarms_per_year:
        The stated false-alarm rate per unit-year for which each unit's threshold is set, at the
        unit's mean monthly expected count (``cusum_threshold``).
    threshold:
        One h for every unit instead, when a chart must use a published threshold.
    months_per_year:
        12, unless the "months" are some other period.

    Raises ValueError for negative counts, observed above the denominator, R ≤ 1, a rate outside
    (0, months_per_year), lengths that differ, a missing unit or month, or a month given twice.
    """
    _check_rate_ratio(rate_ratio)
    _check_rate(false_alarms_per_year, months_per_year)
    if direction not in ("upper", "lower", "both"):
        raise ValueError(f"direction must be 'upper', 'lower' or 'both'; got {direction!r}.")
    if threshold is not None and not (
        isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0
    ):
        raise ValueError(f"threshold must be a number more than 0; got {threshold!r}.")
    o = as_float_array(observed, "observed")
    e = as_float_array(expected, "expected")
    arrays = {"observed": o, "expected": e}
    n: FloatArray | None = None
    if denominator is not None:
        n = as_float_array(denominator, "denominator")
        arrays["denominator"] = n
    rows = check_same_length(**arrays)
    for name, values in arrays.items():
        check_non_negative(values, name)
    if n is not None:
        with np.errstate(invalid="ignore"):
            if bool(np.any(o > n)) or bool(np.any(e > n)):
                raise ValueError("observed and expected cannot exceed the denominator.")
    frame = pl.DataFrame(
        {
            "unit": _labels(units, rows, "units"),
            "month": _labels(months, rows, "months"),
            "observed": pl.Series(o, dtype=pl.Float64).fill_nan(None),
            "expected": pl.Series(e, dtype=pl.Float64).fill_nan(None),
            "denominator": pl.Series(
                n if n is not None else np.full(rows, np.nan), dtype=pl.Float64
            ).fill_nan(None),
        }
    )
    if units is None:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("unit"))
    if months is None:
        frame = frame.with_columns(pl.int_range(1, pl.len() + 1).over("unit").alias("month"))
    if units is not None and frame["unit"].null_count():
        raise ValueError("units must name a unit for every row; found a missing one.")
    if months is not None and frame["month"].null_count():
        raise ValueError("months must give a month for every row; found a missing one.")
    if frame.select(pl.struct("unit", "month").is_duplicated().any()).item():
        raise ValueError("Each unit may have one row per month; found a month given twice.")
    frame = frame.sort("unit", "month", nulls_last=True)

    model = "poisson" if n is None else "binomial"
    directions = ("upper", "lower") if direction == "both" else (direction,)
    parts = [
        _chart(frame, model, rate_ratio, way, false_alarms_per_year, threshold, months_per_year)
        for way in directions
    ]
    result = pl.concat(parts).select(CUSUM_COLUMNS)
    note = _method_note(
        model, rate_ratio, direction, false_alarms_per_year, threshold, months_per_year
    )
    return CusumResult(
        months=result,
        method_note=note,
        model=model,
        rate_ratio=float(rate_ratio),
        direction=direction,
        false_alarms_per_year=None if threshold is not None else float(false_alarms_per_year),
    )


def _chart(
    frame: pl.DataFrame,
    model: str,
    rate_ratio: float,
    direction: str,
    rate: float,
    threshold: float | None,
    months_per_year: int,
) -> pl.DataFrame:
    """One direction's charts for every unit, vectorised across units month by month."""
    ratio = rate_ratio if direction == "upper" else 1 / rate_ratio
    # Each unit's months as a row of a units x positions matrix, so the recursion loops over
    # months (tens) and not over units or rows.
    position = frame.select(pl.int_range(pl.len()).over("unit").alias("p"))["p"].to_numpy()
    unit_index = frame.select(pl.col("unit").rank("dense").fill_null(0))["unit"].to_numpy()
    unit_index = (unit_index - unit_index.min()).astype(np.int64) if len(frame) else unit_index
    n_units = int(unit_index.max()) + 1 if len(frame) else 0
    width = int(position.max()) + 1 if len(frame) else 0
    o = frame["observed"].fill_null(np.nan).to_numpy().astype(np.float64)
    e = frame["expected"].fill_null(np.nan).to_numpy().astype(np.float64)
    n = frame["denominator"].fill_null(np.nan).to_numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if model == "poisson":
            increment = o * math.log(ratio) - (ratio - 1) * e
        else:
            increment = o * math.log(ratio) - n * np.log1p((ratio - 1) * e / n)
            # No one at risk: nothing happened and nothing was expected.
            increment = np.where(n == 0, 0.0, increment)

    # Per-unit thresholds, computed once per distinct mean expected count (and denominator).
    thresholds = np.full(n_units, np.nan)
    if threshold is not None:
        thresholds[:] = threshold
    else:
        means = (
            frame.with_columns(_u=pl.Series(unit_index))
            .group_by("_u")
            .agg(pl.col("expected").mean(), pl.col("denominator").mean())
        )
        for u, mean_e, mean_n in means.iter_rows():
            if mean_e is None or mean_e <= 0 or (model == "binomial" and mean_n is None):
                continue
            people = None if model == "poisson" else round(mean_n)
            if people is not None and (people < 1 or mean_e > people):
                continue
            thresholds[u] = _threshold(round(mean_e, 9), people, ratio, months_per_year / rate)

    grid = np.full((n_units, width), np.nan)
    grid[unit_index, position] = increment
    statistic = np.full((n_units, width), np.nan)
    signal = np.zeros((n_units, width), dtype=bool)
    current = np.zeros(n_units)
    for t in range(width):
        step = grid[:, t]
        present = ~np.isnan(step)
        value = np.where(present, np.maximum(0.0, current + np.where(present, step, 0.0)), np.nan)
        fired = present & (value >= thresholds)  # NaN thresholds never fire
        statistic[:, t] = value
        signal[:, t] = fired
        current = np.where(present, np.where(fired, 0.0, value), current)

    h = thresholds[unit_index]
    s = statistic[unit_index, position]
    fired_rows = signal[unit_index, position]
    known = ~np.isnan(s) & ~np.isnan(h)
    return frame.select("unit", "month", "observed", "expected").with_columns(
        pl.lit(direction).alias("direction"),
        pl.Series("statistic", s, dtype=pl.Float64).fill_nan(None),
        pl.Series("threshold", h, dtype=pl.Float64).fill_nan(None),
        pl.Series("signal", fired_rows, dtype=pl.Boolean).zip_with(
            pl.Series(known), pl.Series([None] * len(frame), dtype=pl.Boolean)
        ),
    )


@functools.lru_cache(maxsize=4096)
def _threshold(expected: float, people: int | None, ratio: float, target_arl: float) -> float:
    """The smallest h (to 0.001) whose in-control run length reaches target_arl months."""

    def gap(h: float) -> float:
        return math.log(_arl(h, expected, people, ratio, 1.0)) - math.log(target_arl)

    # Bisection on h: the grid makes the run length slightly jagged in h, which a secant-based
    # root finder chases for many steps; 15 halvings reach 0.001 on any bracket found here.
    low, high = 0.0, 1.0
    while gap(high) < 0:
        low, high = high, high * 2
        if high > 1e4:  # pragma: no cover - no count law needs a threshold this high
            raise ValueError("No threshold reaches that false-alarm rate.")
    while high - low > 5e-4:
        middle = (low + high) / 2
        if gap(middle) < 0:
            low = middle
        else:
            high = middle
    return math.ceil(high * 1000 - 1e-9) / 1000


def _arl(h: float, expected: float, people: int | None, ratio: float, true_ratio: float) -> float:
    """Average run length from 0 of the chart tuned to ``ratio``, counts at ``true_ratio``.

    Brook & Evans (1972): the statistic on [0, h) is a Markov chain on a grid of states, each
    count O moves it deterministically by W(O), and the run length vector L solves
    (I − Q) L = 1; the chart starts (and restarts) at 0, so the answer is L[0].
    """
    # Imported here, not with the module: scipy.stats and scipy.sparse take a second or two to
    # import, and every process that benchmarks imports this package but draws no chart.
    from scipy import sparse, stats
    from scipy.sparse import linalg as sparse_linalg

    log_ratio = math.log(ratio)
    if people is None:
        drift = (ratio - 1) * expected
        law = stats.poisson(expected * true_ratio)
        top = int(law.isf(_TAIL)) + 1
    else:
        p = expected / people
        drift = people * math.log1p((ratio - 1) * p)
        odds = true_ratio * p / (1 - p) if p < 1 else math.inf
        law = stats.binom(people, 1.0 if math.isinf(odds) else odds / (1 + odds))
        top = people
    counts = np.arange(top + 1)
    pmf = law.pmf(counts)
    keep = pmf > _TAIL
    counts, pmf = counts[keep], pmf[keep]
    delta = h / _STATES
    values = np.arange(_STATES) * delta
    following = np.maximum(0.0, values[:, None] + counts[None, :] * log_ratio - drift)
    inside = following < h
    target = np.minimum(np.rint(following / delta).astype(np.int64), _STATES - 1)
    origin = np.broadcast_to(np.arange(_STATES)[:, None], target.shape)
    weights = np.broadcast_to(pmf[None, :], target.shape)
    # Each count moves a state to one other, so Q has a handful of entries a row: a sparse solve
    # is several times faster than a dense one, which matters with a threshold per unit.
    q = sparse.csc_matrix(
        (weights[inside], (origin[inside], target[inside])), shape=(_STATES, _STATES)
    )
    lengths = sparse_linalg.spsolve(sparse.identity(_STATES, format="csc") - q, np.ones(_STATES))
    return float(lengths[0])


def _labels(values: Vector | Sequence[Any] | None, rows: int, name: str) -> pl.Series:
    if values is None:
        return pl.Series(name, [None] * rows)
    if isinstance(values, pl.Series):
        series = values.rename(name)
    else:
        series = pl.Series(name, values if isinstance(values, np.ndarray) else list(values))
    if len(series) != rows:
        raise ValueError(
            f"The inputs must have one value per row each; {name} has {len(series)}, "
            f"observed has {rows}."
        )
    return series


def _mean(values: FloatArray) -> float | None:
    present = values[~np.isnan(values)]
    return float(present.mean()) if present.size else None


def _check_rate_ratio(rate_ratio: float) -> None:
    if not (isinstance(rate_ratio, (int, float)) and math.isfinite(rate_ratio) and rate_ratio > 1):
        raise ValueError(
            f"rate_ratio must be a number more than 1 (the step to detect, e.g. 2); "
            f"got {rate_ratio!r}."
        )


def _check_rate(rate: float, months_per_year: int) -> None:
    if not (isinstance(months_per_year, int) and months_per_year >= 1):
        raise ValueError(
            f"months_per_year must be a whole number of 1 or more; got {months_per_year!r}."
        )
    if not (isinstance(rate, (int, float)) and 0 < rate < months_per_year):
        raise ValueError(
            "false_alarms_per_year must be more than 0 and fewer than one a month "
            f"(for example 0.01); got {rate!r}."
        )


def _method_note(
    model: str,
    rate_ratio: float,
    direction: str,
    rate: float,
    threshold: float | None,
    months_per_year: int,
) -> str:
    if model == "poisson":
        form = (
            f"Risk-adjusted Poisson log-likelihood-ratio CUSUM (Grigg & Farewell 2004): each "
            f"month adds W = O ln R − (R − 1)E, tuned to detect a rate ratio R = {rate_ratio:g}"
        )
    else:
        form = (
            f"Risk-adjusted Bernoulli log-likelihood-ratio CUSUM (Steiner et al. 2000) on monthly "
            f"totals: each month adds W = O ln R − n ln(1 + (R − 1)E/n), tuned to detect an odds "
            f"ratio R = {rate_ratio:g}"
        )
    ways = {
        "upper": "a rise",
        "lower": f"a fall (R = 1/{rate_ratio:g})",
        "both": f"a rise and, on a second chart, a fall (1/{rate_ratio:g})",
    }[direction]
    sentences = [
        f"{form}, for {ways}.",
        "The statistic S = max(0, S + W) starts at 0, signals when it reaches the threshold h "
        "and is reset to 0 after each signal; a month with a missing count adds nothing.",
    ]
    if threshold is not None:
        sentences.append(f"Every unit used the threshold h = {threshold:g}.")
    else:
        sentences.append(
            f"Each unit's threshold was set for {rate:g} false alarms per unit-year: the "
            f"smallest h whose in-control average run length, by the Markov-chain method of "
            f"Brook & Evans (1972) at the unit's mean monthly expected count, is at least "
            f"{months_per_year / rate:,.0f} months."
        )
    return " ".join(sentences)

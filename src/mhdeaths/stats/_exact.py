"""Exact Poisson and binomial distribution functions inverted at real-valued counts.

The funnel limits need the count at which an observed value stops being compatible with the
target, and they need it as a smooth function of the denominator so that the curves can be drawn
and a unit's band equals the exact one-sided test. Both distribution functions have standard
continuous extensions through the incomplete gamma and beta functions; these solve them for the
count by vectorised bisection (scipy has no inverse in that argument that covers the whole range).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._arrays import FloatArray

# Bisection stops when the bracket is this small relative to its upper end; 200 halvings is far
# more than double precision needs, so the cap only guards against a pathological input.
_RELATIVE_TOLERANCE = 1e-13
_MAX_HALVINGS = 200


def poisson_count(mean: FloatArray, q: float) -> FloatArray:
    """The continuous count a with gammaincc(a, mean) = q, by vectorised bisection.

    For whole a, gammaincc(a, mean) = P(Poisson(mean) <= a - 1), so an observed O satisfies
    P(X >= O) < q' exactly when O > a(1 - q'), and P(X <= O) < q' exactly when O < a(q') - 1:
    limits at these counts reproduce the exact one-sided Poisson test. (scipy's ``pdtrik``
    solves the same equation but stops at a = 1, which the upper limit needs below 1 when the
    mean is tiny.)
    """
    out = np.zeros(mean.shape, dtype=np.float64)
    todo = mean > 0
    m = mean[todo]
    low = np.zeros_like(m)
    high = m + 10 * np.sqrt(m) + 10
    for _ in range(64):
        short = special.gammaincc(high, m) < q
        if not bool(short.any()):
            break
        high = np.where(short, 2 * high, high)
    for _ in range(_MAX_HALVINGS):
        middle = (low + high) / 2
        below = special.gammaincc(middle, m) < q
        low, high = np.where(below, middle, low), np.where(below, high, middle)
        if bool(np.all(high - low <= _RELATIVE_TOLERANCE * np.maximum(high, 1.0))):
            break
    out[todo] = (low + high) / 2
    return out


def binomial_count(size: FloatArray, theta: float, q: float) -> FloatArray:
    """The continuous count k in (-1, n) with P(Binomial(n, theta) <= k) = q.

    The binomial distribution function extended to real k is the regularised incomplete beta
    function I_{1-theta}(n - k, k + 1); it rises from 0 at k = -1 to 1 at k = n.
    """
    low = np.full(size.shape, -1.0)
    high = size.astype(np.float64).copy()
    for _ in range(_MAX_HALVINGS):
        middle = (low + high) / 2
        below = special.betainc(size - middle, middle + 1, 1 - theta) < q
        low, high = np.where(below, middle, low), np.where(below, high, middle)
        if bool(np.all(high - low <= _RELATIVE_TOLERANCE * np.maximum(size, 1.0))):
            break
    return (low + high) / 2

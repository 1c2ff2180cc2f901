"""What reproducing FunnelPlotR and the SHMI exactly takes: R's rounding, R's quantiles for
winsorisation, and the combinations of options those methods define.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from ._arrays import (
    BoolArray,
    FloatArray,
)

Kind = Literal["ratio", "proportion", "rate"]

COMPATIBILITY: tuple[str, ...] = ("funnelplotr", "shmi")
WINSORISATION: tuple[str, ...] = ("rank", "quantile")


def r_round(values: FloatArray, digits: int) -> FloatArray:
    """R's ``round(x, digits)`` (R >= 4.0.0, ``fround`` in src/nmath/fround.c) for x >= 0.

    numpy scales and rounds half to even, so 88.885 becomes 88.88 where R gives 88.89: R takes
    whichever of the two neighbouring candidates is nearer to x, ties to the odd lower digit's
    upper neighbour.
    """
    scale = 10.0**digits
    with np.errstate(invalid="ignore"):
        scaled = values * scale
        down, up = np.floor(scaled) / scale, np.ceil(scaled) / scale
        to_up = (up - values < values - down) | (
            (up - values == values - down) & (np.fmod(np.floor(scaled), 2) == 1)
        )
    # Beyond double precision (or zero, infinite, missing) R returns x unchanged.
    exact = ~np.isfinite(values) | (values == 0) | (np.log10(np.abs(values) + 1e-300) + digits > 15)
    return np.where(exact, values, np.where(to_up, up, down))


def check_compatibility(
    kind: str,
    method: str,
    target: float | None,
    compatibility: str | None,
    winsorisation: str | None,
) -> str:
    """Refuse combinations the compatibility options do not define; the winsorisation to use."""
    if winsorisation is not None and winsorisation not in WINSORISATION:
        raise ValueError(f"winsorisation must be 'rank' or 'quantile'; got {winsorisation!r}.")
    if compatibility is None:
        return winsorisation or "rank"
    if compatibility not in COMPATIBILITY:
        raise ValueError(
            f"compatibility must be None, 'funnelplotr' or 'shmi'; got {compatibility!r}."
        )
    if kind != "ratio":
        raise ValueError(
            f"compatibility={compatibility!r} is defined for standardised ratios (kind='ratio') "
            f"only; got kind={kind!r}."
        )
    if compatibility == "shmi" and method != "log":
        raise ValueError(
            f"compatibility='shmi' uses the SHMI's log scale; got overdispersion={method!r}."
        )
    if target is not None and target != 1:
        raise ValueError(f"compatibility={compatibility!r} compares ratios with 1; got {target!r}.")
    if winsorisation == "rank":
        raise ValueError(
            f"compatibility={compatibility!r} winsorises at R's quantiles; leave winsorisation "
            "unset or 'quantile'."
        )
    return "quantile"


def funnelplotr_kept(z: FloatArray, trim: float) -> BoolArray:
    """The units FunnelPlotR's ``truncation()`` keeps (R/od_adjustment.R).

    With k = 1/trim groups, a unit's group is floor(rank x k / (I + 1)) (ranks averaged over
    ties); groups 0 and k - 1 and above are set aside. Near I = 10 this can keep more units at
    one end than the other, as the published SHMI does.
    """
    # Imported here: scipy.stats takes a second or two to import, and only these methods need it.
    from scipy import stats

    ranks = stats.rankdata(z, method="average")
    groups = math.inf if trim == 0 else 1 / trim
    with np.errstate(invalid="ignore"):
        group = np.floor(ranks * groups / (z.shape[0] + 1))
    return np.asarray((group > 0) & (group < groups - 1), dtype=np.bool_)

"""Statistics for comparing providers: intervals, standardisation, funnel plots, disclosure control.

Why this package exists: the national benchmarks of deaths in mental health services need the same
methods as Fingertips (PHEindicatormethods) and the SHMI (FunnelPlotR's nearest re-implementation),
and nothing on PyPI implements them (STATISTICS.md section 1). Re-implementing them here lets the
warehouse, the published reports and analysts' own notebooks share one set of formulas, each tested
against the upstream packages' published values, with the known flaws of those packages fixed and
documented (``docs/statistics.md``).

The package imports nothing else from ``mhdeaths``: it works on any numbers an analyst has.
Inputs are numbers or array-likes (lists, numpy arrays, polars Series; ``None``/NaN for missing);
scalar inputs give Python floats, array inputs give float64 numpy arrays, and per-unit results are
polars DataFrames.
"""

from .cusum import CUSUM_COLUMNS, CusumResult, average_run_length, cusum, cusum_threshold
from .disclosure import (
    DISCLOSURE_RULES,
    Disclosed,
    DisclosureRule,
    disclose,
    disclose_dependent,
)
from .funnel import (
    BAND_AS_EXPECTED,
    BAND_HIGHER,
    BAND_LOWER,
    LIMIT_COLUMNS,
    UNIT_COLUMNS,
    FunnelResult,
    funnel,
)
from .intervals import ci_count, ci_proportion, rate
from .power import detectable_ratio
from .standardise import direct_standardise, indirect_standardise, reference_rate

__all__ = [
    "BAND_AS_EXPECTED",
    "BAND_HIGHER",
    "BAND_LOWER",
    "CUSUM_COLUMNS",
    "DISCLOSURE_RULES",
    "LIMIT_COLUMNS",
    "UNIT_COLUMNS",
    "CusumResult",
    "Disclosed",
    "DisclosureRule",
    "FunnelResult",
    "average_run_length",
    "ci_count",
    "ci_proportion",
    "cusum",
    "cusum_threshold",
    "detectable_ratio",
    "direct_standardise",
    "disclose",
    "disclose_dependent",
    "funnel",
    "indirect_standardise",
    "rate",
    "reference_rate",
]

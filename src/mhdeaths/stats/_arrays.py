"""Input checks shared by the statistics modules.

Every public function accepts a scalar or anything array-like (a list, a numpy array, a polars
Series, with ``None`` for missing values) and answers in kind: Python floats for scalars, float64
arrays otherwise. Keeping that conversion in one place means every function treats missing values,
negative counts and confidence levels the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy import special

FloatArray: TypeAlias = NDArray[np.float64]
BoolArray: TypeAlias = NDArray[np.bool_]

# Array-likes the API accepts. Plain scalars are deliberately not part of this alias, so that the
# public overloads can promise Python floats for scalars and arrays for everything else.
Vector: TypeAlias = (
    NDArray[Any] | pl.Series | Sequence[float] | Sequence[int] | Sequence[float | None]
)


def is_scalar(value: Any) -> bool:
    """Whether a value is a single number (Python or numpy scalar, or a 0-d array)."""
    return bool(np.ndim(value) == 0)


def as_float_array(values: object, name: str) -> FloatArray:
    """A 1-d float64 copy of ``values``, with missing values (None, null) as NaN.

    Raises ValueError naming the argument when the values are not numbers.
    """
    if isinstance(values, pl.Series):
        # Polars nulls become NaN here rather than an object array; text is an error, not NaN.
        try:
            values = values.cast(pl.Float64, strict=True).fill_null(float("nan")).to_numpy()
        except pl.exceptions.PolarsError as error:
            raise ValueError(f"{name} must be numbers; could not read them as numbers.") from error
    elif isinstance(values, (list, tuple)):
        values = [float("nan") if v is None else v for v in values]
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers; could not read them as numbers.") from error
    return np.atleast_1d(array).astype(np.float64, copy=True)


def check_non_negative(values: FloatArray, name: str) -> None:
    """Raise ValueError if any (non-missing) value is negative."""
    if values.size and bool(np.any(values[~np.isnan(values)] < 0)):
        raise ValueError(f"{name} must be zero or more; found a negative value.")


def check_same_length(**arrays: FloatArray) -> int:
    """The common length of the arrays; raise ValueError if they differ."""
    lengths = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"The inputs must have one value per row each; {detail}.")
    return next(iter(lengths.values()), 0)


def z_for(confidence: float) -> float:
    """The two-sided standard normal quantile for a confidence level between 0 and 1."""
    check_confidence(confidence)
    return float(special.ndtri(0.5 + confidence / 2))


def check_confidence(confidence: float) -> None:
    """Raise ValueError unless 0 < confidence < 1 (0.95, not 95)."""
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ValueError(
            f"confidence must be a fraction between 0 and 1 (for example 0.95); got {confidence!r}."
        )


def trim_count(trim: float, count: int) -> int:
    """How many units are trimmed or winsorised at each end: floor(trim x count)."""
    # The small epsilon keeps floor(0.29 x 100) at 29 despite binary rounding.
    return math.floor(trim * count + 1e-9)

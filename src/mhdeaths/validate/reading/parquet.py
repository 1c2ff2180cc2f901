"""Parquet: its values as the text a person would type, within the limits, checked from the footer
and measured a batch at a time before the file is held.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import polars as pl

from mhdeaths.limits import Limits, bytes_text
from mhdeaths.validate.reading.failures import failure, too_many_columns
from mhdeaths.validate.reading.source import (
    Sheet,
    SubmissionFileError,
    _hide_identifiers,
    _reraise_interrupt,
    _sheet,
)

# --- Parquet -----------------------------------------------------------------------------------


def _check_parquet(path: Path, limits: Limits) -> None:
    """Refuse a Parquet file with more columns or cells than the limits, or with nested or binary
    values (a list in every cell has no bound), from its footer alone; then one whose values take
    more than the limit once decompressed, measured before any of it is held."""
    try:
        # glob=False: a file name is a name, even when it holds [ or * (polars would expand it).
        footer = pl.scan_parquet(path, glob=False)
        schema = footer.collect_schema()
        rows = int(footer.select(pl.len()).collect().item())
    except BaseException as exc:
        _reraise_interrupt(exc)
        raise failure("file/parquet-unreadable", file=path.name) from None
    if len(schema) > limits.columns:
        raise too_many_columns(path, len(schema), limits)
    if rows * max(len(schema), 1) > limits.cells:
        raise failure(
            "file/parquet-too-many-cells",
            file=path.name,
            rows=rows,
            columns=len(schema),
            limit=limits.cells,
        )
    for name, dtype in schema.items():
        if isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Binary):
            raise _not_text(path, name, dtype)
    # A Parquet file compresses repeated text to almost nothing (a value written once in a
    # dictionary stands for every row): its text is measured a batch at a time, never held.
    text = [
        pl.col(name).cast(pl.String).str.len_bytes().cast(pl.Int64).sum()
        for name, dtype in schema.items()
        if isinstance(dtype, pl.String | pl.Categorical | pl.Enum)
    ]
    try:
        measured = (
            pl.scan_parquet(path, glob=False)
            .select(pl.sum_horizontal(text))
            .collect(engine="streaming")
            if text
            else None
        )
    except BaseException as exc:
        _reraise_interrupt(exc)
        raise failure("file/parquet-unreadable", file=path.name) from None
    size = (measured.item() if measured is not None else 0) + rows * (len(schema) - len(text)) * 8
    if size > limits.decompressed_size:
        raise failure(
            "file/parquet-too-large", file=path.name, limit=bytes_text(limits.decompressed_size)
        )


def _not_text(path: Path, name: str, dtype: pl.DataType) -> SubmissionFileError:
    return failure("file/column-not-text", column=name, file=path.name, type=dtype)


def _read_parquet(path: Path, data: bytes) -> Sheet:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except BaseException as exc:
        _reraise_interrupt(exc)
        raise failure("file/parquet-unreadable", file=path.name) from None
    headers = _hide_identifiers(list(frame.columns))
    columns = []
    for name, dtype in frame.schema.items():
        try:
            columns.append(frame.select(_parquet_text(name, dtype)).to_series())
        except (pl.exceptions.PolarsError, ValueError, TypeError):
            raise _not_text(path, name, dtype) from None
    text = pl.DataFrame(columns) if columns else pl.DataFrame()
    text = text.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in text.columns)
    return _sheet(None, text, headers, pl.int_range(1, text.height + 1, eager=True).alias("row"))


def _parquet_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A typed Parquet column as the text a person would type: dates as CCYY-MM-DD, times as
    HH:MM, whole numbers without a decimal point."""
    col = pl.col(name)
    if isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Object | pl.Binary):
        raise TypeError(name)
    if isinstance(dtype, pl.Datetime):
        midnight = col.dt.time() == pl.lit(dt.time(0))
        return (
            pl.when(midnight)
            .then(col.dt.strftime("%Y-%m-%d"))
            .otherwise(col.dt.strftime("%Y-%m-%d %H:%M:%S"))
            .alias(name)
        )
    if isinstance(dtype, pl.Time):
        whole_minute = (col.dt.second() == 0) & (col.dt.nanosecond() == 0)
        return (
            pl.when(whole_minute)
            .then(col.dt.strftime("%H:%M"))
            .otherwise(col.dt.strftime("%H:%M:%S"))
            .alias(name)
        )
    if dtype.is_float():
        whole = col.is_finite() & (col == col.round(0)) & (col.abs() < 1e15)
        return (
            pl.when(whole)
            .then(col.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(col.cast(pl.String))
            .alias(name)
        )
    return col.cast(pl.String).alias(name)

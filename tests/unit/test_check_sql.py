"""The browser's check step (``engines.check_sql``) agrees with the validator's polars engine.

The in-browser validator types each field's text in DuckDB, where the validator does it in
polars: any text must get the same typed value (or none) in both, or the two would report
different findings on the same file.
"""

from __future__ import annotations

import itertools

import duckdb
import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mhdeaths.engines.check_sql import epochs, typed_sql
from mhdeaths.engines.polars_engine import typed_column
from mhdeaths.spec import FieldType, load_spec
from mhdeaths.spec.model import Mandation, SpecField

_ALPHABET = "0123456789+-.eE :TtrRuUfFaAlLsSyYnNoOiI/\t"

texts = st.lists(st.none() | st.text(_ALPHABET, max_size=12), min_size=1, max_size=20)


def _field(kind: FieldType) -> SpecField:
    return SpecField(
        name="v",
        title="v",
        definition="v",
        type=kind,
        format="an12",
        mandation=Mandation.OPTIONAL,
        source="test",
        since="1.0.0",
    )


def _both(kind: FieldType, values: list[str | None]) -> tuple[list[object], list[object]]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    by_polars = frame.select(typed_column(_field(kind))).get_column("v").to_list()
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT {typed_sql(kind, 'v')} FROM unnest(?::VARCHAR[]) AS t(v)", [values]
    ).fetchall()
    return by_polars, [r[0] for r in rows]


@settings(max_examples=150)
@given(texts, st.sampled_from(list(FieldType)))
@example(["1.0", " 12", "+5", "++5", "-0", "1e3", "inf", ".5", "5.", "1_000"], FieldType.INTEGER)
@example(
    ["1.0", " 12", "+5", "1e3", "inf", "-inf", "NaN", ".5", "5.", "1_0", "e5"], FieldType.DECIMAL
)
@example(["2024-1-5", "2024-01-05", " 2024-01-05", "2024-02-30", "24-01-05"], FieldType.DATE)
@example(["12:30", "12:30:15", "1:5", "24:00", "12:30:15.5"], FieldType.TIME)
@example(["Yes", "Y", "true", "0", "no ", "TRUE"], FieldType.BOOLEAN)
def test_typing_agrees(values: list[str | None], kind: FieldType) -> None:
    by_polars, by_duckdb = _both(kind, values)
    if kind is FieldType.DECIMAL:
        # NaN is not equal to itself: compare its spelling.
        by_polars, by_duckdb = ([repr(v) for v in vs] for vs in (by_polars, by_duckdb))
    assert by_polars == by_duckdb, values


def test_epochs_cover_every_day_once() -> None:
    spans = epochs(load_spec("2.0.0"))
    assert spans[0][0] is None and spans[-1][1] is None
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start is not None and (start - end).days == 1

"""The browser's check step (``engines.check_sql``) agrees with the validator's polars engine.

The in-browser validator types each field's text in DuckDB, where the validator does it in
polars: any text must get the same typed value (or none) in both, or the two would report
different findings on the same file.
"""

from __future__ import annotations

import itertools

import duckdb
import polars as pl
import pytest
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


def _cross_table_cases() -> list[tuple[str, str]]:
    from mhdeaths.spec import Scope, available_versions

    return [
        (v, r.id)
        for v in available_versions()
        for r in load_spec(v).rules
        if r.scope is Scope.CROSS_TABLE
    ]


@pytest.mark.parametrize(("version", "rule_id"), _cross_table_cases())
def test_cross_table_details_agree(version: str, rule_id: str) -> None:
    """A cross-table finding's groups and their counts, worded the same by both engines, in the
    same order, on the rule's counterexample."""
    from mhdeaths.engines import polars_engine as engine
    from mhdeaths.engines.sql_engine import cross_table_failures_sql, derive_sql, register_frame

    spec = load_spec(version)
    rule = spec.rule(rule_id)
    frames = engine.example_frames(spec, rule, rule.counterexample)
    typed = {n.split(":")[0]: f for n, f in frames.items() if n.endswith(":typed")}
    polars_rows = (
        engine.cross_table_failures(spec, rule, typed, None)
        .sort(rule.group_by, nulls_last=True)
        .rows()
    )
    con = duckdb.connect()
    for name in typed:
        text = engine.to_typed(spec.table(name), frames[name])
        register_frame(con, f"{name}_t", text)
        con.execute(f'CREATE VIEW "{name}" AS {derive_sql(spec, name, f"{name}_t")}')
    sql = cross_table_failures_sql(spec, rule, {n: f'"{n}"' for n in typed}, None, detail=True)
    duck_rows = [tuple(str(v) for v in row) for row in con.execute(sql).fetchall()]
    assert polars_rows, "the counterexample fails no group"
    assert [tuple(str(v) for v in row) for row in polars_rows] == duck_rows

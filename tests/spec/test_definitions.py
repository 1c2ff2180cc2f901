"""One test per worked example: each definition derives what its example says, in both engines.

`spec check` derives the worked examples with polars only; the warehouse derives the same
definitions in DuckDB. Every worked example of every definition, and every worked example of the
attribution (which record a death is counted at), is collected here from the spec and evaluated
by each engine independently, so a definition that only one engine gets right fails here. An
example whose case is the same in a later version (the same definitions of its table over the same
fields) is run once, in the newest version that has it so (``cases.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import polars as pl
import pytest

from mhdeaths.engines import polars_engine as engine
from mhdeaths.engines import sql_engine as sqlengine
from mhdeaths.spec import Spec

from .cases import (
    SPECS,
    attribution_cases,
    attribution_uncovered,
    definition_cases,
    definitions_uncovered,
)

DEFINITION_CASES = definition_cases()
ATTRIBUTION_CASES = attribution_cases()


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB for the module (a connection costs more than most examples): each
    test registers its records under a name and unregisters them, and only reads."""
    connection = duckdb.connect()
    yield connection
    connection.close()


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def _typed(spec: Spec, table: str, records: list[dict[str, Any]]) -> pl.DataFrame:
    frame = spec.table(table)
    return engine.to_typed(frame, engine.text_frame(frame, records))


@pytest.mark.parametrize(
    ("version", "definition", "example"),
    DEFINITION_CASES,
    ids=[f"{v}:{d}:{e}" for v, d, e in DEFINITION_CASES],
)
def test_worked_example(
    con: duckdb.DuckDBPyConnection, version: str, definition: str, example: str
) -> None:
    spec = SPECS[version]
    named = next(d for d in spec.definitions if d.name == definition)
    case = next(e for e in named.worked_examples if e.name == example)
    typed = _typed(spec, named.table, [case.record])
    by_polars = engine.derive(spec, named.table, typed).row(0, named=True)
    sqlengine.register_frame(con, "typed", typed)
    try:
        cursor = con.execute(sqlengine.derive_sql(spec, named.table, "typed"))
        names = [c[0] for c in cursor.description]
        by_duckdb = dict(zip(names, cursor.fetchall()[0], strict=True))
    finally:
        con.unregister("typed")
    for name, expected in case.expected.items():
        assert _plain(by_polars[name]) == expected, f"{name} (polars)"
        assert _plain(by_duckdb[name]) == expected, f"{name} (DuckDB)"


@pytest.mark.parametrize(
    ("version", "example"), ATTRIBUTION_CASES, ids=[f"{v}:{e}" for v, e in ATTRIBUTION_CASES]
)
def test_attribution_example(con: duckdb.DuckDBPyConnection, version: str, example: str) -> None:
    spec = SPECS[version]
    case = next(e for e in spec.attribution.worked_examples if e.get("name") == example)
    records = case["records"]
    typed = _typed(spec, "death", records).with_columns(
        pl.Series("death_category", [r.get("death_category") for r in records], pl.String)
    )
    by_polars = engine.attribution_rank(spec, typed).to_list()
    sqlengine.register_frame(con, "death", typed.with_row_index("_row"))
    try:
        rank = sqlengine.attribution_rank_sql(spec)
        by_duckdb = [
            r[0] for r in con.execute(f"SELECT {rank} FROM death ORDER BY _row").fetchall()
        ]
    finally:
        con.unregister("death")
    providers = [r.get("org_id_provider") for r in records]
    for ranks, engine_name in ((by_polars, "polars"), (by_duckdb, "DuckDB")):
        chosen = [p for p, rank in zip(providers, ranks, strict=True) if rank == 1]
        assert chosen == [case["attributed_to"]], engine_name


def test_every_worked_example_of_every_version_has_a_case() -> None:
    # Each worked example of every version, in its own case or the same case in a later version.
    assert definitions_uncovered(DEFINITION_CASES) == []
    assert attribution_uncovered(ATTRIBUTION_CASES) == []
    assert len(DEFINITION_CASES) > 100 and ATTRIBUTION_CASES

"""Every function of the language does what its example says, in polars and in DuckDB alike.

The examples are stored in the function table (``mhdeaths.language.functions``) and shown in
spec/README.md, so a reader sees values both engines were checked to give, with the types the
table declares.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import polars as pl
import pytest

from mhdeaths import language as ex
from mhdeaths.engines import sql_engine
from mhdeaths.engines.polars_engine import POLARS_TYPES
from mhdeaths.language.functions import Value
from mhdeaths.spec import FieldType

FUNCTIONS = list(ex.FUNCTIONS.values())
NAMES = [f.name for f in FUNCTIONS]

#: What each engine calls a type of the language (the result column's dtype or SQL type).
POLARS_RESULT = {
    ex.Type.STRING: {pl.String},
    ex.Type.INTEGER: {pl.Int32, pl.Int64},
    ex.Type.DATE: {pl.Date},
    ex.Type.BOOLEAN: {pl.Boolean},
}
DUCKDB_RESULT = {
    ex.Type.STRING: {"VARCHAR"},
    ex.Type.INTEGER: {"INTEGER", "BIGINT"},
    ex.Type.DATE: {"DATE"},
    ex.Type.BOOLEAN: {"BOOLEAN"},
}


def example_frame(fn: ex.Function, example: ex.Example) -> pl.DataFrame:
    """The example's records as a frame typed as the spec types a field of each parameter's type."""
    types = dict(fn.parameters)
    columns = list(dict.fromkeys(c for r in example.records for c in r))
    schema = {c: POLARS_TYPES[FieldType(types[c])] for c in columns}
    return pl.DataFrame([dict(r) for r in example.records], schema=schema, orient="row")


def in_polars(fn: ex.Function, example: ex.Example) -> tuple[list[Value], pl.DataType]:
    result = example_frame(fn, example).select(ex.to_polars(example.expression).alias("v"))
    return result["v"].to_list(), result.schema["v"]


def in_duckdb(fn: ex.Function, example: ex.Example) -> tuple[list[Value], str]:
    con = duckdb.connect()
    try:
        sql_engine.register_frame(con, "example", example_frame(fn, example).with_row_index("_row"))
        query = con.sql(
            f"SELECT ({ex.to_duckdb(example.expression)}) AS v FROM example ORDER BY _row"
        )
        return [row[0] for row in query.fetchall()], str(query.types[0])
    finally:
        con.close()


def test_every_type_of_the_language_is_a_field_type_of_the_spec() -> None:
    assert {t.value for t in ex.Type} <= {t.value for t in FieldType}


@pytest.mark.parametrize("fn", FUNCTIONS, ids=NAMES)
def test_each_example_calls_its_function_over_its_own_parameters(fn: ex.Function) -> None:
    example = fn.example
    parsed = ex.parse(example.expression)
    calls = {n.name for n in parsed.tree.walk() if isinstance(n, ex.Call)}
    assert calls == {fn.name}
    assert parsed.columns <= {name for name, _ in fn.parameters}
    assert example.records and len(example.records) == len(example.expected)
    assert all(set(r) == parsed.columns for r in example.records)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=NAMES)
def test_each_example_gives_its_result_in_polars(fn: ex.Function) -> None:
    values, dtype = in_polars(fn, fn.example)
    assert values == list(fn.example.expected)
    assert dtype in POLARS_RESULT[fn.result], dtype


@pytest.mark.parametrize("fn", FUNCTIONS, ids=NAMES)
def test_each_example_gives_its_result_in_duckdb(fn: ex.Function) -> None:
    values, sql_type = in_duckdb(fn, fn.example)
    assert values == list(fn.example.expected)
    assert sql_type in DUCKDB_RESULT[fn.result], sql_type


@pytest.mark.parametrize("engine", [in_polars, in_duckdb], ids=["polars", "duckdb"])
def test_a_wrong_expected_result_is_caught(engine: object) -> None:
    # The check above would pass whatever the engines said if it compared nothing: a result
    # changed in one record must differ from what the engine gives.
    fn = ex.FUNCTIONS["days_between"]
    wrong = replace(fn.example, expected=(1, *fn.example.expected[1:]))
    assert callable(engine)
    assert engine(fn, wrong)[0] != list(wrong.expected)

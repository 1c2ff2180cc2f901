"""Both engines agree: the validator (polars) and the warehouse (DuckDB) read the spec's one
expression text the same way, for every definition and every rule, on generated records."""

from __future__ import annotations

import datetime as dt

import duckdb
from hypothesis import HealthCheck, given, settings

from mhdeaths.engines import polars_engine as engine
from mhdeaths.engines import sql_engine as sqlengine
from mhdeaths.spec import Scope, Stage, load_spec

from ..conftest import SPEC_ROOT, VERSIONS
from ..strategies import records

SPEC = load_spec(VERSIONS[-1], SPEC_ROOT)
DEATH = SPEC.table("death")
PERIOD = dt.date(2027, 4, 1)


def _both(
    rows: list[dict[str, str | None]],
) -> tuple[dict[str, list[object]], dict[str, list[object]]]:
    text = engine.text_frame(DEATH, rows)
    typed = engine.to_typed(DEATH, text)
    polars_derived = engine.derive(SPEC, "death", typed)
    con = duckdb.connect()
    sqlengine.register_frame(con, "typed", typed.with_row_index("_row"))
    query = sqlengine.derive_sql(SPEC, "death", "typed") + " ORDER BY _row"
    cursor = con.execute(query)
    columns = [c[0] for c in cursor.description]
    rows_out = cursor.fetchall()
    con.close()
    names = [d.name for d in SPEC.definitions_for("death")]
    return (
        {n: polars_derived[n].to_list() for n in names},
        {n: [r[columns.index(n)] for r in rows_out] for n in names},
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(SPEC, DEATH, max_size=15))
def test_the_engines_derive_the_same_categories_and_flags(
    rows: list[dict[str, str | None]],
) -> None:
    from_polars, from_duckdb = _both(rows)
    assert from_polars == from_duckdb


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(SPEC, DEATH, messy=True, max_size=10))
def test_the_engines_fail_the_same_records_for_every_rule(
    rows: list[dict[str, str | None]],
) -> None:
    text = engine.text_frame(DEATH, rows)
    typed = engine.derive(SPEC, "death", engine.to_typed(DEATH, text))
    con = duckdb.connect()
    sqlengine.register_frame(con, "text", text.with_row_index("_row"))
    raw = engine.to_typed(DEATH, text).with_row_index("_row")
    sqlengine.register_frame(con, "typed", raw)
    # Derived once into a table: a view would plan the whole derivation again for every rule.
    con.execute(f"CREATE TABLE death AS {sqlengine.derive_sql(SPEC, 'death', 'typed')}")
    for rule in SPEC.rules_for("death"):
        if rule.scope in {Scope.CROSS_TABLE, Scope.STRUCTURE}:
            continue
        sources = {"death": "text" if rule.stage is Stage.TEXT else "death"}
        got = con.execute(sqlengine.scope_sql(SPEC, rule, sources, "_row", PERIOD)).fetchall()
        if rule.scope is Scope.TABLE:
            assert (got[0][0] is False) == engine.table_fails(SPEC, rule, typed, PERIOD), rule.id
        else:
            fails = engine.record_failures(SPEC, rule, text, typed, PERIOD)
            expected = [i for i, f in enumerate(fails.to_list()) if f]
            assert [r[0] for r in got] == expected, rule.id
    con.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(SPEC, DEATH, max_size=12))
def test_the_engines_attribute_a_death_reported_twice_to_the_same_record(
    rows: list[dict[str, str | None]],
) -> None:
    # Few people and few dates, so that several providers report the same death; distinct
    # providers, so that the order is total.
    for i, row in enumerate(rows):
        row["nhs_number"] = ["9434765919", "9434765870"][i % 2]
        row["death_date"] = "2027-04-12"
        row["org_id_provider"] = f"R{i:02d}"
    typed = engine.derive(SPEC, "death", engine.to_typed(DEATH, engine.text_frame(DEATH, rows)))
    from_polars = engine.attribution_rank(SPEC, typed).to_list()
    con = duckdb.connect()
    sqlengine.register_frame(con, "death", typed.with_row_index("_row"))
    query = f"SELECT {sqlengine.attribution_rank_sql(SPEC)} FROM death ORDER BY _row"
    from_duckdb = [r[0] for r in con.execute(query).fetchall()]
    con.close()
    assert from_polars == from_duckdb

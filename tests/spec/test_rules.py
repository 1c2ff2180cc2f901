"""One test per rule: its valid example passes and its counterexample fails, in both engines.

Every rule of every spec version, the national feeds' versions included, is collected here, so a
rule added to the spec is tested without anyone writing a test for it: the rule's own examples are the fixtures, and they are evaluated by
the validator's engine (polars) and by the warehouse's engine (DuckDB) independently.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from mhdeaths.engines import polars_engine as engine
from mhdeaths.engines import sql_engine as sqlengine
from mhdeaths.spec import Rule, Spec

from .cases import FEED_ROOTS, SPECS, covered, rule_cases

CASES = rule_cases()


@pytest.fixture(scope="module")
def specs() -> dict[str, Spec]:
    return SPECS


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One in-memory DuckDB for the module's examples (a new one each cost more than the
    example): each evaluation drops what it added, which every test checks."""
    connection = duckdb.connect()
    yield connection
    connection.close()


def _left_behind(con: duckdb.DuckDBPyConnection) -> list[object]:
    return con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal "
        "UNION ALL SELECT table_name FROM duckdb_tables()"
    ).fetchall()


@pytest.mark.parametrize(("version", "rule_id"), CASES, ids=[f"{v}:{r}" for v, r in CASES])
def test_rule(
    specs: dict[str, Spec], con: duckdb.DuckDBPyConnection, version: str, rule_id: str
) -> None:
    spec = specs[version]
    rule: Rule = spec.rule(rule_id)
    assert not engine.example_fails(spec, rule, rule.example), "valid example fails (polars)"
    assert engine.example_fails(spec, rule, rule.counterexample), "counterexample passes (polars)"
    assert not sqlengine.example_fails(spec, rule, rule.example, con=con), (
        "valid example fails (DuckDB)"
    )
    assert sqlengine.example_fails(spec, rule, rule.counterexample, con=con), (
        "counterexample passes (DuckDB)"
    )
    assert _left_behind(con) == []


def test_every_rule_of_every_version_has_a_case() -> None:
    # Each rule of every version, in its own case or the same case in a later version.
    assert covered(CASES) == []
    assert len(CASES) > 250


def test_every_feed_has_rule_cases() -> None:
    # The feeds' rules are collected too, each under its feed's name.
    assert set(FEED_ROOTS) >= {"registrations", "spells"}
    for feed in FEED_ROOTS:
        assert any(v.startswith(f"{feed}/") for v, _ in CASES), feed

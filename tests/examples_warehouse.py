"""The bundled example submissions loaded into one warehouse, built once per test run and shared
by the xdist workers: for the tests that only read it (the upgrade comparison, the benchmark
report in a browser, spec impact on the demo). A test that writes copies the file first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mhdeaths.jobs.demo import EXAMPLES
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key

from .integration.test_warehouse_reliability import built_once

RECEIVED = dt.datetime(2028, 5, 1)
"""When every example submission is received (as the earlier release's warehouse received them:
tests/data/warehouse-schema-3)."""


def examples_warehouse(factory: pytest.TempPathFactory) -> Path:
    def build(folder: Path) -> None:
        outcomes = load(
            folder / "warehouse.duckdb", [EXAMPLES], key=demo_key(), received_at=RECEIVED
        )
        assert sum(o.status == "rejected" for o in outcomes) == 1  # RY1 2027-10, as documented

    return built_once(factory, "examples", build) / "warehouse.duckdb"

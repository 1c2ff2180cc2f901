"""A warehouse an earlier release made upgrades to exactly what loading its files today makes.

The records of a real warehouse made by an earlier release (schema 3, canonical spec 1.1.0:
tests/data/warehouse-schema-3) are put back into tables made by that release's migrations; today's
code then opens it for writing, which applies migrations 0004 and 0005 (the 2.0.0 canonical model: the
review table split out of the death, the renamed and recoded fields, the legacy detention group,
the oversight fields, the theme table and the activity strata by ward and ethnic group)
and derives every record again under the 2.0.0 definitions. Every record, review and activity row
must then equal what loading the same submission files today stores, column for column: nothing
the earlier release held is lost or changed on the way, and a warehouse's history does not depend
on which release loaded it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mhdeaths.warehouse.canonical import load_canonical
from mhdeaths.warehouse.schema import upgrade
from mhdeaths.warehouse.store import connect

from ..examples_warehouse import examples_warehouse
from .test_warehouse_load import EARLIER_RELEASE, old_warehouse

RECORD_TABLES = (
    "death_record",
    "review_record",
    "pfd_addressee_record",
    "theme_record",
    "activity_record",
)
REGISTRY_MADE_AT_LOAD = ("submission_id", "loaded_at", "tool_version", "canonical_version")
"""Registry columns that say when and by what a submission was loaded, not what it holds."""


def frame(warehouse: Path, sql: str) -> pl.DataFrame:
    with connect(warehouse, read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description or ()]
        return pl.DataFrame(cursor.fetchall(), schema=names, orient="row", infer_schema_length=None)


def keyed(warehouse: Path, table: str) -> pl.DataFrame:
    """A record table with each submission named by its content, not its id, in a fixed order."""
    return frame(
        warehouse,
        f"SELECT s.content_sha256, r.* EXCLUDE (submission_id) FROM {table} AS r "
        "JOIN submission AS s USING (submission_id) ORDER BY s.content_sha256, r.source_row",
    )


@pytest.fixture(scope="module")
def loaded_today(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The earlier release's submission files, loaded by today's code as that release did."""
    warehouse = examples_warehouse(tmp_path_factory)
    earlier = set(pl.read_parquet(EARLIER_RELEASE / "submission.parquet")["content_sha256"])
    today = set(frame(warehouse, "SELECT content_sha256 FROM submission")["content_sha256"])
    assert earlier <= today, "the examples the earlier release loaded have changed"
    return warehouse


@pytest.mark.parametrize("schema", [2, 3])
def test_an_earlier_release_warehouse_upgrades_to_what_a_load_today_makes(
    tmp_path: Path, loaded_today: Path, schema: int
) -> None:
    old = old_warehouse(tmp_path, schema)
    submissions = frame(old, "SELECT count(*) AS n FROM submission")["n"][0]
    with connect(old) as con:
        done = upgrade(con)
    assert done.applied[-4:] == (
        "0004_spec_2_0_0",
        "0005_spec_2_0_0_oversight",
        "0006_national_feeds",
        "0007_benchmark_runs",
    )
    # The national feeds' tables (issue 16) and the benchmark runs' come empty: nothing a
    # submission held moves there.
    for table in ("feed_load", "registration_record", "spell_record", "benchmark_run"):
        assert frame(old, f"SELECT count(*) AS n FROM {table}")["n"][0] == 0, table
    assert done.rederived is not None
    assert done.rederived.definitions_version == load_canonical().canonical_version
    earlier = set(frame(old, "SELECT content_sha256 FROM submission")["content_sha256"])
    assert len(earlier) == submissions > 50
    for table in RECORD_TABLES:
        upgraded = keyed(old, table)
        today = keyed(loaded_today, table).filter(pl.col("content_sha256").is_in(earlier))
        assert upgraded.columns == today.columns, table
        assert upgraded.equals(today), table
    reviews = frame(old, "SELECT count(*) AS n FROM review_record WHERE record_action <> 'D'")
    assert reviews["n"][0] > 0  # the 1.x deaths' reviews became review rows
    registry = "SELECT * EXCLUDE ({}) FROM submission ORDER BY content_sha256"
    made = ", ".join(REGISTRY_MADE_AT_LOAD)
    upgraded_registry = frame(old, registry.format(made))
    today_registry = frame(loaded_today, registry.format(made)).filter(
        pl.col("content_sha256").is_in(earlier)
    )
    # The rows of the tables 2.0.0 added: none in a 1.x submission's files, loaded then or now.
    children = ("review_rows", "pfd_addressee_rows", "theme_rows")
    assert upgraded_registry.select(children).sum().row(0) == (0, 0, 0)
    assert upgraded_registry.equals(today_registry)
    # The tables the migrations made again lost nothing of their description: every table, view
    # and column is described as in a warehouse made today (tests/integration/
    # test_warehouse_catalogue.py checks a new one has them all).
    described = (
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal ORDER BY ALL"
    )
    upgraded_comments = frame(old, described)
    assert upgraded_comments["comment"].null_count() == 0
    assert upgraded_comments.equals(frame(loaded_today, described))

"""The feeds' warehouse model (warehouse/feeds.yaml) against the feed specs and migration 0006:
every field of every feed version has a home, and every record column comes from a field."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mhdeaths.errors import UserError
from mhdeaths.spec import load_feed_spec
from mhdeaths.warehouse.feeds import feed_files, load_feed_mappings
from mhdeaths.warehouse.schema import upgrade

MAPPINGS = load_feed_mappings()
MADE_BY_THE_LOAD = {"feed_load_id", "source_row", "kept_by"}
"""Record columns the load makes: the load and the row a record came from, why it was kept."""


def record_columns(table: str) -> set[str]:
    with duckdb.connect() as con:
        upgrade(con)
        rows = con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize(
    ("feed", "version"), [(f, v) for f, m in MAPPINGS.items() for v in m.versions]
)
def test_every_feed_field_has_a_home(feed: str, version: str) -> None:
    mapping = MAPPINGS[feed]
    spec = load_feed_spec(feed, version)
    assert spec.is_feed and spec.feed == feed
    fields = set(spec.table(mapping.table).field_names)
    columns = record_columns(mapping.record_table)
    collected = {f for group in mapping.collect.values() for f in group}
    homes = {
        name: (
            mapping.identifiers[name].column
            if name in mapping.identifiers
            else next((c for c, group in mapping.collect.items() if name in group), name)
        )
        for name in fields
    }
    assert {n: h for n, h in homes.items() if h not in columns} == {}
    assert collected <= fields
    assert columns - set(homes.values()) - MADE_BY_THE_LOAD == set()
    # A pseudonymised field never has a column of its own name: the number is never stored.
    assert not set(mapping.identifiers) & columns


def test_a_spreadsheet_is_not_a_feed_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="a national feed is read from CSV or Parquet"):
        feed_files([tmp_path / "spells_2027-04.xlsx"])


def test_feed_files_are_taken_in_name_order_from_folders(tmp_path: Path) -> None:
    folder = tmp_path
    for name in ("spells_2027-05.csv", "spells_2027-04.parquet", "notes.md"):
        (folder / name).write_text("x")
    assert [p.name for p in feed_files([folder])] == [
        "spells_2027-04.parquet",
        "spells_2027-05.csv",
    ]

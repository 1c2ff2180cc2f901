"""A national feed load killed at any moment (issue 16, design 2.5): the warehouse is left exactly
as before the load or exactly as after it, still opens for writing, and the same load then
finishes. The registrations load is the one with most to do (it validates a large extract, links
it, and writes only what it keeps), so it is the one killed."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.synth.numbers import NumberSource
from mhdeaths.warehouse.feeds import load_feed
from mhdeaths.warehouse.pseudonym import demo_key

from ..functional.test_load_feed_cli import SPELL_FIELDS, write_csv
from .test_warehouse_reliability import (
    ENV,
    State,
    built_once,
    copy_warehouse,
    kill_at_random,
    state,
    watch_load,
)

BACKGROUND = 100_000
"""Registrations of people never in care: enough that reading and linking them takes seconds."""
LINKED = 40
TABLES = ("feed_load", "registration_record", "spell_record")
KILLS = 3
RECEIVED = "2027-11-01T09:00:00"


def feed_state(path: Path) -> State:
    return state(path, TABLES)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding LINKED people's spells, and a registrations extract of their deaths
    among BACKGROUND others."""

    def build(folder: Path) -> None:
        numbers = [str(n) for n in NumberSource("feed-reliability", []).take(BACKGROUND + LINKED)]
        people = numbers[:LINKED]
        spells = [
            ["RKB", f"S{i:05d}", "2027-10", n, "", "2027-09-01", "2027-10-01", "1", "19", "01"]
            for i, n in enumerate(people)
        ]
        spells_file = write_csv(folder / "spells_2027-10.csv", SPELL_FIELDS, spells)
        load_feed(folder / "before.duckdb", "spells", [spells_file], key=demo_key())
        pl.DataFrame(
            {
                "nhs_number": numbers,
                "death_date": ["2027-10-15"] * len(numbers),
                "registration_date": ["2027-10-19"] * len(numbers),
                "underlying_cause_icd10": ["I21"] * len(numbers),
                "place_of_death_type": ["01"] * len(numbers),
                "registered_sex": ["2"] * len(numbers),
                "age_at_death": ["81"] * len(numbers),
            }
        ).write_parquet(folder / "registrations_2027.parquet")

    return built_once(tmp_path_factory, "feed-reliability", build)


def popen_load_feed(warehouse: Path, extract: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mhdeaths", "warehouse", "load-feed", "registrations"]
    return subprocess.Popen(
        # Received at a fixed time, so that a load finished again records what the first did.
        [*command, str(extract), "-w", str(warehouse), "--demo-key", "--received-at", RECEIVED],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV},
    )


def test_a_feed_load_killed_at_any_moment_leaves_the_warehouse_as_before_or_as_after(
    tmp_path: Path, feeds: Path
) -> None:
    before = feeds / "before.duckdb"
    extract = feeds / "registrations_2027.parquet"
    expected_before = feed_state(before)
    finished = copy_warehouse(before, tmp_path / "finished.duckdb")
    first_write, duration = watch_load(finished, lambda w: popen_load_feed(w, extract))
    expected_after = feed_state(finished)
    assert expected_after["registration_record"][0] == LINKED  # the others never written
    assert expected_after["feed_load"][0] == expected_before["feed_load"][0] + 1
    rng = random.Random(20272)
    plan = [(duration * (0.05 + 0.9 * (i + rng.random()) / KILLS), False) for i in range(KILLS)]
    plan.append((0.5 * (duration - first_write) * rng.random(), True))
    kill_at_random(
        before,
        tmp_path,
        lambda warehouse: popen_load_feed(warehouse, extract),
        plan,
        feed_state,
        expected_before,
        expected_after,
    )

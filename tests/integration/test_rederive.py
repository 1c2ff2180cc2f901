"""Every record derived under the newest definitions (build plan 9.3), against real DuckDB files:
a warehouse loaded under one set of definitions and opened under changed ones derives exactly
what a fresh load under the new ones derives (but for the frozen definitions), doing it again
changes nothing, and a re-derivation killed at any moment leaves the warehouse as it was or as a finished one."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.canonical import load_canonical
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key
from mhdeaths.warehouse.rederive import frozen_definitions, spec_sha256
from mhdeaths.warehouse.schema import upgrade
from mhdeaths.warehouse.store import connect

from ..conftest import LOADABLE, SPEC_ROOT
from ..functional.cli import mhdeaths
from .test_warehouse_reliability import (  # noqa: F401 (fixtures)
    ENV,
    before,
    big_submission,
    copy_warehouse,
    kill_at_random,
    run_load,
)

KEY = demo_key()
CANONICAL = load_canonical().canonical_version
RECORDS = (
    "death_record",
    "review_record",
    "pfd_addressee_record",
    "theme_record",
    "activity_record",
)
#: The two edits: a window narrowed (re-derived), and the age at death (frozen: the date of birth
#: it reads is not stored).
EDITS = {
    'expression: "coalesce(days_discharge_to_death BETWEEN 0 AND 30, FALSE)"': (
        'expression: "coalesce(days_discharge_to_death BETWEEN 0 AND 14, FALSE)"'
    ),
    'expression: "years_between(person_birth_date, death_date)"': (
        'expression: "years_between(person_birth_date, death_date) + 1"'
    ),
}


def reading(version: str, name: str) -> set[str]:
    """The definition ``name`` and every definition that reads it, directly or through others."""
    from mhdeaths import language as ex

    definitions = load_spec(version, SPEC_ROOT).definitions_for("death")
    found = {name}
    for definition in definitions:  # in order: a definition reads only those before it
        if ex.parse(definition.expression).columns & found:
            found.add(definition.name)
    return found


def edit_definitions(spec_root: Path) -> None:
    path = spec_root / CANONICAL / "definitions.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in EDITS.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate(
        load_spec("1.0.0", SPEC_ROOT),
        SynthOptions(start="2027-08", months=2, seed=5, provider_list=("RX1", "RX2")),
        out / "v1",
    )
    latest = load_spec(LOADABLE[-1], SPEC_ROOT)
    generate(latest, SynthOptions(providers=3, months=3, start="2027-10", seed=6), out / "v2")
    return out


def frame(warehouse: Path, sql: str) -> pl.DataFrame:
    with connect(warehouse, read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description or ()]
        return pl.DataFrame(cursor.fetchall(), schema=names, orient="row", infer_schema_length=None)


def records(warehouse: Path, table: str = "death_record") -> pl.DataFrame:
    return frame(warehouse, f"SELECT * FROM {table} ORDER BY submission_id, source_row")


def runs(warehouse: Path) -> pl.DataFrame:
    return frame(warehouse, "SELECT * FROM derivation_run ORDER BY run_id")


def test_the_frozen_definitions_are_those_reading_an_identifier_not_kept() -> None:
    model = load_canonical()
    spec = load_spec(CANONICAL, SPEC_ROOT)
    assert frozen_definitions(model, spec, "death") == {"age_at_death"}
    assert frozen_definitions(model, spec, "activity") == set()


def test_a_load_stamps_its_records_and_a_new_warehouse_logs_one_run(
    tmp_path: Path, synthetic: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    load(warehouse, [synthetic], key=KEY)
    for table in RECORDS:
        stamps = frame(warehouse, f"SELECT DISTINCT definitions_version FROM {table}")
        assert stamps["definitions_version"].to_list() == [CANONICAL]
    logged = runs(warehouse)
    assert logged.height == 1  # made when the new warehouse was first opened, with no records
    assert logged["definitions_version"][0] == CANONICAL
    assert logged["spec_sha256"][0] == spec_sha256(load_spec(CANONICAL, SPEC_ROOT))
    assert logged["death_records"][0] == 0


def test_changed_definitions_are_derived_again_exactly_and_once(
    tmp_path: Path, spec_copy: Path, synthetic: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    load(warehouse, [synthetic], key=KEY, spec_root=spec_copy)
    earlier = records(warehouse)
    edit_definitions(spec_copy)
    with connect(warehouse) as con:
        done = upgrade(con, spec_copy)
    assert done.rederived is not None
    assert done.rederived.records["death"] == earlier.height
    after = records(warehouse)

    # What a load under the edited definitions derives, but for the frozen age at death (and the
    # band derived from it), whose stored values stand.
    fresh_path = tmp_path / "fresh.duckdb"
    load(fresh_path, [synthetic], key=KEY, spec_root=spec_copy)
    fresh = records(fresh_path)
    frozen = ["age_at_death", "age_band", "age_band_child"]
    assert after.drop(frozen).equals(fresh.drop(frozen))
    assert after.select(frozen).equals(earlier.select(frozen))
    assert not fresh["age_at_death"].equals(earlier["age_at_death"])  # the edit took, on a load

    # Exactly the values the edit changes moved; at least some did.
    changed = [c for c in earlier.columns if not after[c].equals(earlier[c])]
    assert set(changed) <= reading(CANONICAL, "within_30_days")
    assert "within_30_days" in changed
    assert frame(warehouse, "SELECT count(*) AS n FROM derivation_run")["n"][0] == 2

    # Opened again: nothing to do, nothing changes.
    state = (records(warehouse), records(warehouse, "activity_record"), runs(warehouse))
    with connect(warehouse) as con:
        assert upgrade(con, spec_copy).rederived is None
    again = (records(warehouse), records(warehouse, "activity_record"), runs(warehouse))
    assert all(a.equals(b) for a, b in zip(state, again, strict=True))


# --- A re-derivation killed at any moment ------------------------------------------------------

KILLS = 4


def state(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and an order-free checksum of every row of the records and the run log (its
    times left out: a finished run and one finished again differ only in when)."""
    with duckdb.connect(str(path), read_only=True) as con:
        found = {}
        for table, select in [
            *((record_table, "*") for record_table in RECORDS),
            ("derivation_run", "* EXCLUDE (started_at, finished_at)"),
        ]:
            row = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(CAST(h AS VARCHAR), ',' ORDER BY h), "
                f"'')) FROM (SELECT hash(t) AS h FROM (SELECT {select} FROM {table}) AS t)"
            ).fetchone()
            assert row is not None
            found[table] = (int(row[0]), str(row[1]))
        return found


def popen_init(warehouse: Path, spec_root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mhdeaths", "warehouse", "init", "--warehouse", str(warehouse)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV, "MHDEATHS_SPEC_DIR": str(spec_root)},
    )


def test_a_rederivation_killed_at_any_moment_leaves_the_warehouse_as_before_or_as_after(
    tmp_path: Path,
    spec_copy: Path,
    before: Path,  # noqa: F811
    big_submission: Path,  # noqa: F811
) -> None:
    loaded = copy_warehouse(before, tmp_path / "loaded.duckdb")
    run = run_load(loaded, big_submission)
    assert run.code == 0, run.output
    edit_definitions(spec_copy)
    expected_before = state(loaded)

    finished = copy_warehouse(loaded, tmp_path / "finished.duckdb")
    started = time.monotonic()
    done = mhdeaths(
        "warehouse",
        "init",
        "--warehouse",
        finished,
        env={**ENV, "MHDEATHS_SPEC_DIR": str(spec_copy)},
    )
    duration = time.monotonic() - started
    assert done.code == 0, done.output
    derived = sum(expected_before[table][0] for table in RECORDS)
    assert f"; {derived} records derived again under spec {CANONICAL}'s definitions." in " ".join(
        done.stdout.split()
    ), done.stdout
    expected_after = state(finished)
    assert expected_after != expected_before
    assert expected_after["derivation_run"][0] == expected_before["derivation_run"][0] + 1

    # Kills spread over the whole command (most of it starting up and reading the spec), then
    # kills from the moment it first writes to the file (the commit) on.
    rng = random.Random(20272)
    plan = [(duration * (0.2 + 0.8 * (i + rng.random()) / KILLS), False) for i in range(KILLS)]
    plan += [(0.05 * (i + rng.random()), True) for i in range(KILLS)]
    kill_at_random(
        loaded,
        tmp_path,
        lambda warehouse: popen_init(warehouse, spec_copy),
        plan,
        state,
        expected_before,
        expected_after,
    )

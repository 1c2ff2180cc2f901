"""The warehouse under stress, against real DuckDB files and real processes: a load killed at any
moment leaves the warehouse exactly as it was (or exactly as a finished load leaves it), and a
warehouse another process holds is reported busy, with nothing done."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
import pytest
from nhs_number.validate import calculate_checksum

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate

from ..conftest import LOADABLE, SPEC_ROOT
from ..functional.cli import Run, mhdeaths

LATEST = load_spec(LOADABLE[-1], SPEC_ROOT)
RECEIVED = "2028-02-01T09:00:00"
TABLES = ("submission", "submission_file", "death_record", "activity_record")
BIG_ROWS = 40_000
EARLY_KILLS = 2
LATE_KILLS = 4
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "MHDEATHS_PSEUDONYM_KEY": "", "MHDEATHS_WAREHOUSE": ""}

State = dict[str, tuple[int, str]]


def state(path: Path, tables: tuple[str, ...] = TABLES) -> State:
    """Row count and a checksum of every row, table by table: the MD5 of the rows' hashes in
    order. ``loaded_at`` is the clock at load and is left out, so a finished load and a load
    finished again compare equal."""
    with duckdb.connect(str(path), read_only=True) as con:
        result = {}
        for table in tables:
            registry = table in ("submission", "feed_load")
            select = "* EXCLUDE (loaded_at)" if registry else "*"
            row = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(CAST(h AS VARCHAR), ',' ORDER BY h), "
                f"'')) FROM (SELECT hash(t) AS h FROM (SELECT {select} FROM {table}) AS t)"
            ).fetchone()
            assert row is not None
            result[table] = (int(row[0]), str(row[1]))
        return result


def synthetic_numbers(count: int, first: int = 900_000_000) -> list[str]:
    """Valid NHS numbers from the synthetic (never issued) range, 9000000000 upwards."""
    numbers: list[str] = []
    stem = first
    while len(numbers) < count:
        check = calculate_checksum(str(stem))
        if check is not None and check < 10:
            numbers.append(f"{stem}{check}")
        stem += 1
    return numbers


def load_args(warehouse: Path, *files: Path) -> list[str]:
    return [
        "warehouse",
        "load",
        *map(str, files),
        "--warehouse",
        str(warehouse),
        "--demo-key",
        "--received-at",
        RECEIVED,
    ]


def run_load(warehouse: Path, *files: Path) -> Run:
    return mhdeaths(*load_args(warehouse, *files), env=ENV)


def popen_load(warehouse: Path, *files: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mhdeaths", *load_args(warehouse, *files)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV},
    )


def copy_warehouse(source: Path, target: Path) -> Path:
    """A fresh copy of a warehouse closed cleanly (so the file is all there is)."""
    assert not Path(f"{source}.wal").exists()
    shutil.copyfile(source, target)
    return target


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder built once per test run, shared by the xdist workers (which would otherwise
    each build their own copy of a module's fixture): the first to ask builds, under a lock."""
    shared = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    folder = shared / f"shared-{name}"
    with (shared / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def big_submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One provider-month of BIG_ROWS synthetic deaths, large enough that a load takes seconds:
    the generator's records for one month, repeated under new record ids and NHS numbers."""

    def build(out: Path) -> None:
        generate(
            LATEST,
            SynthOptions(provider_list=("RKB",), months=3, start="2027-10", seed=7),
            out / "synth",
        )
        death = sorted((out / "synth").rglob("*_death.csv"))[0]
        base = pl.read_csv(death, infer_schema=False)
        big = base.select(pl.all().gather(pl.int_range(BIG_ROWS) % base.height)).with_columns(
            pl.format("RKB-D-{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(7)).alias(
                "death_record_id"
            ),
            pl.Series("nhs_number", synthetic_numbers(BIG_ROWS)),
        )
        (out / "big").mkdir()
        big.write_csv(out / "big" / death.name)

    folder = built_once(tmp_path_factory, "big-submission", build) / "big"
    (target,) = folder.glob("*_death.csv")
    return target


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with some small submissions already loaded, closed cleanly (only copied)."""

    def build(out: Path) -> None:
        generate(
            LATEST,
            SynthOptions(provider_list=("RKA", "RKC"), months=2, start="2027-10", seed=8),
            out / "small",
        )
        run = run_load(out / "before.duckdb", out / "small")
        assert run.code == 0, run.output

    warehouse = built_once(tmp_path_factory, "before", build) / "before.duckdb"
    assert state(warehouse)["submission"][0] >= 4
    return warehouse


def file_signature(path: Path) -> tuple[int, int, bool]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, Path(f"{path}.wal").exists()


def watch_load(
    warehouse: Path, start: Callable[[Path], subprocess.Popen[bytes]]
) -> tuple[float, float]:
    """Run a load to the end, watching the file: how long until DuckDB first writes to it (the
    insert and commit) and how long the whole load takes."""
    signature = file_signature(warehouse)
    started = time.monotonic()
    proc = start(warehouse)
    first_write = None
    while proc.poll() is None:
        if first_write is None and file_signature(warehouse) != signature:
            first_write = time.monotonic() - started
        time.sleep(0.002)
    duration = time.monotonic() - started
    _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    return first_write or duration, duration


def kill_at_random(
    source: Path,
    folder: Path,
    start: Callable[[Path], subprocess.Popen[bytes]],
    plan: list[tuple[float, bool]],
    state: Callable[[Path], object],
    before: object,
    after: object,
) -> list[tuple[str, bool, str]]:
    """Kill a command at each moment of the plan, each time on a fresh copy of ``source``, and
    check that it leaves the warehouse exactly as ``before`` or as ``after`` (``state`` tells
    which), that the warehouse still opens for writing, and that the same command then finishes
    (to ``after``). Each moment is a delay (seconds) after the command starts or, if its flag is
    set, after it first writes to the file. At least one command must have been killed before it
    changed anything. Returns what happened each time: when, whether killed, and which state.

    The load and the re-derivation are both tried this way (test_rederive.py).
    """
    outcomes = []
    for attempt, (delay, after_first_write) in enumerate(plan):
        warehouse = copy_warehouse(source, folder / f"killed{attempt}.duckdb")
        signature = file_signature(warehouse)
        proc = start(warehouse)
        if after_first_write:
            while proc.poll() is None and file_signature(warehouse) == signature:
                time.sleep(0.001)
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
        if not killed:
            assert proc.returncode == 0, stderr.decode()
        when = f"{delay:.3f}s after {'its first write' if after_first_write else 'its start'}"
        seen = state(warehouse)
        found = "before" if seen == before else "after" if seen == after else ""
        outcomes.append((when, killed, found))
        assert found, f"killed {when}, it left the warehouse half-done: {seen}"
        if not killed:
            assert found == "after", outcomes
        # The warehouse still opens for writing, and the same command now finishes.
        proc = start(warehouse)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()
        assert state(warehouse) == after, f"after the command killed {when}"
    assert any(killed and found == "before" for _, killed, found in outcomes), outcomes
    return outcomes


def test_a_load_killed_at_any_moment_leaves_the_warehouse_as_before_or_as_after(
    tmp_path: Path, before: Path, big_submission: Path
) -> None:
    expected_before = state(before)

    # The state a finished load leaves, and when a load writes to the file.
    finished = copy_warehouse(before, tmp_path / "finished.duckdb")
    first_write, duration = watch_load(finished, lambda w: popen_load(w, big_submission))
    expected_after = state(finished)
    assert expected_after["death_record"][0] == expected_before["death_record"][0] + BIG_ROWS
    assert expected_after["submission"][0] == expected_before["submission"][0] + 1

    # Kills spread over the whole load (most of it reading and validating the file), then kills
    # spread over the insert and commit: from the load's first write to the file to past its end.
    rng = random.Random(20271)
    writing = duration - first_write
    plan = [
        (duration * (0.05 + 0.9 * (i + rng.random()) / EARLY_KILLS), False)
        for i in range(EARLY_KILLS)
    ] + [(1.2 * writing * (i + rng.random()) / LATE_KILLS, True) for i in range(LATE_KILLS)]
    kill_at_random(
        before,
        tmp_path,
        lambda warehouse: popen_load(warehouse, big_submission),
        plan,
        state,
        expected_before,
        expected_after,
    )


# --- A busy warehouse ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    def build(out: Path) -> None:
        generate(
            LATEST, SynthOptions(provider_list=("RKD",), months=2, start="2027-10", seed=9), out
        )

    return built_once(tmp_path_factory, "small", build)


@pytest.fixture
def loaded(tmp_path: Path, before: Path) -> Path:
    return copy_warehouse(before, tmp_path / "w.duckdb")


def assert_busy(run: Run) -> None:
    assert run.code == 3, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "busy" in lines[0]
    assert "Traceback" not in run.output


COMMANDS: dict[str, tuple[str, ...]] = {
    "status": ("warehouse", "status"),
    "query": ("warehouse", "query", "SELECT count(*) FROM deaths"),
    "history": ("warehouse", "history"),
    "init": ("warehouse", "init"),
}


@pytest.mark.parametrize("read_only", [False, True], ids=["writer", "reader"])
def test_a_load_into_a_warehouse_another_process_holds_is_refused_as_busy(
    loaded: Path, small: Path, read_only: bool
) -> None:
    expected = state(loaded)
    with duckdb.connect(str(loaded), read_only=read_only):
        run = run_load(loaded, small)
    assert_busy(run)
    assert state(loaded) == expected


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_beside_a_writer_is_refused_as_busy(loaded: Path, command: str) -> None:
    expected = state(loaded)
    with duckdb.connect(str(loaded)):
        run = mhdeaths(*COMMANDS[command], "--warehouse", loaded, env=ENV)
    assert_busy(run)
    assert state(loaded) == expected


@contextmanager
def held_by_another_process(path: Path) -> Iterator[int]:
    """A separate process with the warehouse open for writing, until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        yield holder.pid
    finally:
        holder.communicate(timeout=30)


def test_a_warehouse_held_by_another_process_is_busy_and_names_it(
    loaded: Path, small: Path
) -> None:
    expected = state(loaded)
    with held_by_another_process(loaded) as pid:
        runs = [
            run_load(loaded, small),
            mhdeaths(*COMMANDS["status"], "--warehouse", loaded, env=ENV),
            mhdeaths(*COMMANDS["query"], "--warehouse", loaded, env=ENV),
        ]
    for run in runs:
        assert_busy(run)
        assert str(pid) in run.stderr
    assert state(loaded) == expected
    # Free again: the same load now goes in.
    after = run_load(loaded, small)
    assert after.code == 0, after.output
    assert state(loaded)["submission"][0] > expected["submission"][0]


def locked_by(path: Path) -> set[int]:
    """The processes holding a POSIX lock on the file, as /proc/locks lists them (read without
    opening the file, so that looking does not itself take a lock)."""
    st = path.stat()
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "POSIX" in fields and inode in fields:
            holders.add(int(fields[fields.index(inode) - 1]))
    return holders


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_running_load_makes_the_warehouse_busy_and_still_finishes(
    loaded: Path, big_submission: Path
) -> None:
    proc = popen_load(loaded, big_submission)
    try:
        while proc.poll() is None and proc.pid not in locked_by(loaded):
            time.sleep(0.01)
        assert proc.poll() is None, "the load finished before it was seen holding the warehouse"
        # Paused while it holds the lock, the load cannot finish before the status command (half
        # a second of imports) tries the warehouse; resumed, it must still finish.
        proc.send_signal(signal.SIGSTOP)
        try:
            status = mhdeaths(*COMMANDS["status"], "--warehouse", loaded, env=ENV)
        finally:
            proc.send_signal(signal.SIGCONT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    assert_busy(status)
    assert str(proc.pid) in status.stderr

"""A full disk, a read-only file system and a refused permission, met by every command that writes:
one sentence and exit 2, never a traceback, and the warehouse exactly as it was, ready for the
same load once there is room again.

Real file systems, real processes: a small tmpfs mounted for the test (as root), a file size limit
(RLIMIT_FSIZE, with SIGXFSZ ignored, so a write past it fails with EFBIG), a tmpfs mounted
read-only (EROFS), and a folder of mode 0555 written by a process that has given up root's power
to ignore permissions (EACCES). A mechanism this machine lacks is skipped, saying why.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..functional.cli import Run
from . import test_warehouse_reliability as reliability
from .test_warehouse_reliability import built_once, state

before = reliability.before
"""A warehouse holding some small submissions (a fixture of the reliability tests, shared)."""
big_submission = reliability.big_submission
"""One provider-month of 40,000 synthetic deaths (a fixture of the reliability tests, shared)."""

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "submissions" / "examples"
SMALL = sorted((EXAMPLES / "RZ1").glob("RZ1_2027-09_*.csv"))
"""One small example submission (a death and an activity file), not in the ``before`` warehouse."""
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "MHDEATHS_PSEUDONYM_KEY": "", "MHDEATHS_WAREHOUSE": ""}
MIB = 1024 * 1024
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3


def cli(
    *args: str | Path,
    fsize: int | None = None,
    unprivileged: bool = False,
    address_space: int | None = None,
) -> Run:
    """The real command in a subprocess; ``fsize`` limits the size of every file it writes,
    ``unprivileged`` takes from it root's power to write where the permissions say no, and
    ``address_space`` caps its memory."""

    def limits() -> None:
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if unprivileged:
            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
                if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    proc = subprocess.run(
        [sys.executable, "-m", "mhdeaths", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        cwd=ROOT,
        timeout=300,
        preexec_fn=limits,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def one_sentence(run: Run) -> str:
    """Exit 2 and one line on stderr, a sentence, with no traceback."""
    assert run.code == 2, run.output
    assert "Traceback" not in run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith("."), lines[0]
    return lines[0].removeprefix("error: ")


# --- The file systems ---------------------------------------------------------------------------


def _mount(folder: Path, options: str) -> str | None:
    """Mount a tmpfs on the folder; why not, when it cannot."""
    if os.geteuid() != 0:
        return "mounting a small file system needs root"
    if shutil.which("mount") is None:
        return "there is no mount command"
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    return None if done.returncode == 0 else f"mount refused: {done.stderr.strip()}"


def _mounted(folder: Path, options: str, what: str) -> Iterator[Path]:
    why = _mount(folder, options)
    if why:
        pytest.skip(f"no {what}: {why}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB file system of its own, mounted for the test and gone after it."""
    yield from _mounted(tmp_path / "disk", "size=24m,mode=0700", "small file system")


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    """A file system mounted read-only: every write in it fails with EROFS."""
    yield from _mounted(tmp_path / "ro", "size=1m,ro", "read-only file system")


def can_drop_privilege() -> str | None:
    """Why a process of this one cannot be made to obey a folder's permissions, if it cannot."""
    if os.geteuid() != 0:
        return None  # an ordinary user obeys them already
    probe = cli("--help", unprivileged=True)
    return None if probe.code == 0 else f"root's override cannot be dropped: {probe.stderr}"


def fill(folder: Path, leave: int) -> Path:
    """A file taking all the space of the folder's file system but ``leave`` bytes."""
    filler = folder / "filler"
    vfs = os.statvfs(folder)
    todo = vfs.f_bavail * vfs.f_frsize - leave
    block = b"\0" * MIB
    with filler.open("wb") as f:
        try:
            while todo > 0:
                todo -= f.write(block[: min(todo, MIB)])
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


# --- A full disk during a load ------------------------------------------------------------------


LOADS = {
    # A small submission fails as DuckDB writes its WAL at COMMIT (a TransactionException); a large
    # one as DuckDB checkpoints it into the file (a FatalException that invalidates the
    # connection), with the disk full or with a little room left.
    "small-full": ("small", 0),
    "large-full": ("large", 0),
    "large-1MiB-left": ("large", MIB),
}


def _submission(kind: str, big: Path) -> list[Path]:
    return SMALL if kind == "small" else [big]


def _load(warehouse: Path, files: list[Path], **limits: int) -> Run:
    return cli(
        "warehouse", "load", *files, "--warehouse", warehouse, "--demo-key",
        "--received-at", "2028-02-01T09:00:00", **limits,
    )  # fmt: skip


def _assert_intact_then_loads(
    warehouse: Path, held: dict[str, tuple[int, str]], files: list[Path]
) -> None:
    assert state(warehouse) == held, "the refused load changed the warehouse"
    again = _load(warehouse, files)
    assert again.code == 0, again.output
    after = state(warehouse)
    assert after["submission"][0] == held["submission"][0] + 1


@pytest.mark.parametrize("case", sorted(LOADS))
def test_a_full_disk_during_a_load_is_one_sentence_and_the_warehouse_is_as_it_was(
    small_disk: Path, before: Path, big_submission: Path, case: str
) -> None:
    kind, leave = LOADS[case]
    files = _submission(kind, big_submission)
    warehouse = small_disk / "w.duckdb"
    shutil.copyfile(before, warehouse)
    held = state(warehouse)
    filler = fill(small_disk, leave)

    said = one_sentence(_load(warehouse, files))

    assert said.startswith(f"There is no space left on the device for {warehouse}:"), said
    assert "whole or not at all" in said
    filler.unlink()
    _assert_intact_then_loads(warehouse, held, files)


def test_a_file_size_limit_during_a_load_is_one_sentence_and_the_warehouse_is_as_it_was(
    tmp_path: Path, before: Path, big_submission: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(before, warehouse)
    held = state(warehouse)

    said = one_sentence(_load(warehouse, [big_submission], fsize=warehouse.stat().st_size))

    assert said.startswith(f"A file of {warehouse} would grow past the largest file size"), said
    _assert_intact_then_loads(warehouse, held, [big_submission])


# --- Every command that writes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of one small example submission, for ``mhdeaths run``."""

    def build(out: Path) -> None:
        for f in SMALL:
            shutil.copy(f, out)

    return built_once(tmp_path_factory, "refused-writes-inbox", build)


Command = Callable[[Path, Path, Path], list[str | Path]]
COMMANDS: dict[str, Command] = {
    # Each writes into the folder ``d``; ``w`` is a warehouse holding data; ``i`` an inbox.
    "spec publish": lambda d, w, i: ["spec", "publish", "1.1.0", "--out", d / "spec"],
    "synth": lambda d, w, i: ["synth", "--out", d / "synth", "--providers", "1", "--months", "1"],
    "validate --out": lambda d, w, i: ["validate", *SMALL, "--out", d / "reports"],
    "warehouse init": lambda d, w, i: ["warehouse", "init", "--warehouse", d / "new.duckdb"],
    "warehouse load": lambda d, w, i: [
        "warehouse",
        "load",
        *SMALL,
        "--warehouse",
        d / "new.duckdb",
        "--demo-key",
    ],
    "warehouse export": lambda d, w, i: ["warehouse", "export", "--warehouse", w, "--out", d / "x"],
    "benchmark --out": lambda d, w, i: ["benchmark", "--warehouse", w, "--out", d / "benchmarks"],
    "run": lambda d, w, i: [
        "run",
        i,
        "--warehouse",
        d / "new.duckdb",
        "--demo-key",
        "--out",
        d / "benchmarks",
    ],
    "demo": lambda d, w, i: ["demo", "--out", d / "demo"],
}


@pytest.fixture
def warehouse(tmp_path: Path, before: Path) -> Path:
    copy = tmp_path / "held.duckdb"
    shutil.copyfile(before, copy)
    return copy


def _check(run: Run, folder: Path, warehouse: Path, held: dict[str, tuple[int, str]]) -> str:
    said = one_sentence(run)
    assert str(folder) in said, said  # the folder the user named, as they wrote it
    assert state(warehouse) == held
    return said


PAGE = 4096


def _pages(size: int) -> int:
    """The bytes a file of ``size`` takes on tmpfs: whole pages."""
    return -(-size // PAGE) * PAGE


WRITERS: dict[str, Callable[[Path, Path], list[str | Path]]] = {
    # Commands that write several files into ``--out`` (``w`` is a warehouse holding data).
    "benchmark": lambda out, w: ["benchmark", "--warehouse", w, "--out", out],
    "spec publish": lambda out, w: ["spec", "publish", "1.1.0", "--out", out],
    "validate --out": lambda out, w: ["validate", *SMALL, "--out", out],
}


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_disk_that_fills_in_the_middle_of_any_output_file_is_one_sentence(
    tmp_path: Path, small_disk: Path, warehouse: Path, command: str
) -> None:
    """The disk fills part of the way into a file the command writes, for the first file, the
    last and one of every other kind (.html, .xlsx, .json...: each kind has its own writer): the
    command still says one sentence and nothing after it (a workbook's zip, left half-written,
    once printed a second traceback as Python freed it)."""
    whole = tmp_path / "whole"
    assert cli(*WRITERS[command](whole, warehouse)).code in (0, 1)  # (1: the file is rejected)
    files = [p for p in whole.rglob("*") if p.is_file()]
    written = sorted(files, key=lambda p: p.stat().st_mtime_ns)
    assert len(written) >= 3
    # Every file of a kind goes through the same writer; filling the disk in each of twenty
    # pages of the same kind only ran the command twenty times (two minutes of the suite).
    kinds = {path.suffix for path in written}
    chosen = {written[0], written[-1]} | {
        next(p for p in written if p.suffix == kind) for kind in kinds
    }
    held = state(warehouse)
    before = 0
    for path in written:
        if path not in chosen:
            before += _pages(path.stat().st_size)
            continue
        out = small_disk / "out"
        shutil.rmtree(out, ignore_errors=True)
        # Room for the files before it and the whole pages of its first half (none when small).
        filler = fill(small_disk, before + path.stat().st_size // 2 // PAGE * PAGE)
        said = one_sentence(cli(*WRITERS[command](out, warehouse)))
        assert str(out) in said and "no space left" in said.lower(), (path, said)
        if command == "benchmark":
            # A publication goes in whole or not at all: no file of a half-written one is left.
            assert not [p for p in out.rglob("*") if p.is_file()], (path, list(out.rglob("*")))
        filler.unlink()
        before += _pages(path.stat().st_size)
    assert state(warehouse) == held


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_on_a_full_disk_is_one_sentence(
    small_disk: Path, warehouse: Path, inbox: Path, command: str
) -> None:
    held = state(warehouse)
    fill(small_disk, 0)
    said = _check(
        cli(*COMMANDS[command](small_disk, warehouse, inbox)), small_disk, warehouse, held
    )
    assert "no space left" in said.lower() or "cannot be written" in said, said


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_on_a_read_only_file_system_is_one_sentence(
    read_only_disk: Path, warehouse: Path, inbox: Path, command: str
) -> None:
    held = state(warehouse)
    run = cli(*COMMANDS[command](read_only_disk, warehouse, inbox))
    said = _check(run, read_only_disk, warehouse, held)
    assert "read-only" in said.lower(), said


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_in_a_folder_it_may_not_write_is_one_sentence(
    tmp_path: Path, warehouse: Path, inbox: Path, command: str
) -> None:
    if why := can_drop_privilege():
        pytest.skip(why)
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    folder.chmod(0o555)
    held = state(warehouse)
    run = cli(*COMMANDS[command](folder, warehouse, inbox), unprivileged=True)
    said = _check(run, folder, warehouse, held)
    assert "permission" in said.lower(), said


def test_the_sentence_never_names_a_file_below_the_folder_the_user_named(
    small_disk: Path, warehouse: Path
) -> None:
    """The failing file's own name (a report's, a partition's) may come from a submission's
    values: the sentence names only the folder the user typed."""
    fill(small_disk, 0)
    said = one_sentence(
        cli("warehouse", "export", "--warehouse", warehouse, "--out", small_disk / "x")
    )
    assert f"for {small_disk / 'x'}:" in said, said
    assert "provider=" not in said and ".parquet" not in said, said


def test_a_load_that_runs_out_of_memory_is_one_sentence_and_the_rest_loads_after(
    tmp_path: Path,
) -> None:
    """Under a 1.5 GiB address-space cap DuckDB cannot allocate for a second submission: the load
    ends in one sentence (it once ended in DuckDB's transaction-aborted traceback), the first
    submission stays loaded, and the same load with memory loads the rest."""
    warehouse, folder = tmp_path / "w.duckdb", EXAMPLES / "RZ1"
    capped = cli(
        "warehouse", "load", folder, "-w", warehouse, "--demo-key", address_space=1536 * MIB
    )
    said = one_sentence(capped)
    assert said.startswith("The command ran out of memory"), said
    assert "loaded" in capped.stdout
    after = cli("warehouse", "load", folder, "-w", warehouse, "--demo-key")
    assert after.code == 0, after.output
    assert "already loaded" in after.stdout and "0 rejected" in after.stdout

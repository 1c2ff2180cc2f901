"""`mhdeaths run INBOX`: a real inbox folder validated, loaded and benchmarked, end to end."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from mhdeaths.jobs.demo import EXAMPLES

from .cli import Run, mhdeaths, query_rows


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.csv"))
    }


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run") / "inbox"
    shutil.copytree(EXAMPLES, folder)
    return folder


def _counts(warehouse: Path) -> list[dict[str, object]]:
    return query_rows(
        warehouse,
        "SELECT (SELECT count(*) FROM submission) AS submissions, "
        "(SELECT count(*) FROM death_record) AS records, "
        "(SELECT count(*) FROM deaths WHERE counted) AS counted",
    )


@pytest.fixture(scope="module")
def first_run(inbox: Path) -> tuple[Path, Run, dict[str, str]]:
    """The inbox run once: its warehouse, the run, and the inbox's files as they were before.
    A fixture, not the first test, so that each test holds whichever worker runs it."""
    before = _digests(inbox)
    warehouse = inbox.parent / "national.duckdb"
    return warehouse, mhdeaths("run", inbox, "-w", warehouse, "--demo-key"), before


def test_run_validates_loads_and_benchmarks_an_inbox(
    inbox: Path, first_run: tuple[Path, Run, dict[str, str]]
) -> None:
    _, run, before = first_run
    assert run.code == 1, run.output  # the known-bad submission is rejected
    assert "78 loaded, 0 already loaded, 1 rejected, 0 unreadable" in run.stdout
    assert "rejected RY1 2027-10: death.discharged.live_discharge (1 record)" in run.stdout
    # Every submission's report is beside its files; the submitted files are untouched.
    assert _digests(inbox) == before
    reports = sorted(inbox.rglob("*.report.json"))
    assert len(reports) == 79
    bad = inbox / "known-bad" / "RY1" / "RY1_2027-10.report.json"
    assert json.loads(bad.read_text())["verdict"] == "rejected"
    # Its line, as the run goes, points at that report, and the loader wrote no other copy.
    html = bad.with_suffix("").with_suffix(".report.html")
    assert f"rejected  RY1 2027-10: see {html}\n" in run.stdout
    assert not (inbox.parent / "reports").exists()
    assert (inbox.parent / "benchmarks" / "benchmarks.html").is_file()
    assert f"Benchmarks: {inbox.parent / 'benchmarks' / 'benchmarks.html'}" in run.stdout


def test_running_it_again_changes_nothing(
    inbox: Path, first_run: tuple[Path, Run, dict[str, str]]
) -> None:
    warehouse = first_run[0]
    first = _counts(warehouse)
    run = mhdeaths("run", inbox, "-w", warehouse, "--demo-key")
    assert run.code == 1, run.output
    assert "0 loaded, 78 already loaded, 1 rejected, 0 unreadable" in run.stdout
    assert _counts(warehouse) == first


def test_an_inbox_that_is_not_a_folder_is_one_sentence(tmp_path: Path) -> None:
    run = mhdeaths("run", tmp_path / "missing", "-w", tmp_path / "w.duckdb", "--demo-key")
    assert run.code == 2
    assert "is not a folder of submissions" in run.stderr
    assert "Traceback" not in run.output


def test_the_inbox_the_user_typed_is_shown_as_typed(tmp_path: Path) -> None:
    # A date in the path the user typed is theirs to see (the guard would hide it in a folder
    # below the inbox, which whoever sent the files named).
    missing = tmp_path / "received 2027-12-05"
    run = mhdeaths("run", missing, "-w", tmp_path / "w.duckdb", "--demo-key")
    assert run.code == 2, run.output
    assert run.stderr.strip() == f"error: {missing} is not a folder of submissions.", run.stderr


def test_an_unreadable_file_is_listed_and_the_rest_still_goes_in(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(EXAMPLES / "RZ9", inbox)
    # A workbook cut off in the middle, named like a submission of another provider.
    (inbox / "RZ8_2027-04_death.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    run = mhdeaths("run", inbox, "-w", tmp_path / "w.duckdb", "--demo-key")
    assert run.code == 1, run.output
    assert "12 loaded, 0 already loaded, 0 rejected, 1 unreadable" in run.stdout
    assert "unreadable RZ8 2027-04: " in run.stdout
    assert "Traceback" not in run.output
    assert (tmp_path / "benchmarks" / "benchmarks.html").is_file()


def test_a_folder_named_by_a_provider_is_not_shown_as_named(tmp_path: Path) -> None:
    """The inbox is the user's, the folders in it are whoever sent them: a folder named with an
    NHS number (here one from the synthetic range, dotted) is guarded in every line run prints."""
    inbox, number = tmp_path / "inbox", "943.476.5919"
    shutil.copytree(EXAMPLES / "known-bad" / "RY1", inbox / f"from {number}")
    run = mhdeaths("run", inbox, "-w", tmp_path / "w.duckdb", "--demo-key")
    assert run.code == 1, run.output
    assert "rejected" in run.stdout and f"see {inbox}" in run.stdout, run.stdout
    assert "(hidden)" in run.stdout
    spellings = (number, number.replace(".", ""), number.replace(".", " "))
    assert not any(s in run.output for s in spellings), run.output
    # The report itself is where it should be, beside the files, under the folder as named.
    assert (inbox / f"from {number}" / "RY1_2027-10.report.html").is_file()

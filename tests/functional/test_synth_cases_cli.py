"""``mhdeaths synth --planted-cases`` as a user runs it: it says where each case is, and refuses in
one sentence (exit 2) what cannot carry the cases."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from mhdeaths.synth import CASES

from .cli import mhdeaths

ARGS = ("synth", "--spec", "2.0.0", "--providers", "2", "--months", "2", "--start", "2028-04")


def test_the_command_lists_each_planted_case_by_record(tmp_path: Path) -> None:
    run = mhdeaths(*ARGS, "--seed", "3", "--planted-cases", "--out", tmp_path)
    assert run.code == 0, run.output
    assert "5 planted cases" in run.stdout
    lines = [line.strip() for line in run.stdout.splitlines() if line.startswith("  ")]
    assert [line.split(":")[0] for line in lines] == list(CASES)
    # Each named record is in the death file of its provider and month.
    for line in lines:
        record = line.split()[2].rstrip(",")
        provider, _, period, _ = record.split("-")
        path = tmp_path / provider / f"{provider}_{period[:4]}-{period[4:]}_death.csv"
        assert record in pl.read_csv(path, infer_schema=False)["death_record_id"].to_list()
    # Only record identifiers: no NHS number or date of birth is printed.
    assert not re.search(r"\b\d{10}\b|\b\d{4}-\d{2}-\d{2}\b", run.stdout)


def test_a_1x_spec_or_one_provider_is_refused_in_one_sentence(tmp_path: Path) -> None:
    for args in (
        ("synth", "--spec", "1.1.0", "--planted-cases"),
        ("synth", "--spec", "2.0.0", "--providers", "1", "--planted-cases"),
    ):
        run = mhdeaths(*args, "--out", tmp_path)
        assert run.code == 2, run.output
        assert "Traceback" not in run.output
        assert "Planted cases need" in run.output
        assert len(run.output.strip().splitlines()) == 1

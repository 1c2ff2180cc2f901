"""A submission never chooses where its report is written: names come from strict patterns, and
every report file is checked to lie directly in its folder.

The attack is the one found: an ``org_id_provider`` of ``../../../../elsewhere/`` made ``warehouse
load`` write the rejected submission's HTML and JSON outside ``--reports``. Here it is tried on
``warehouse load``, ``run`` and ``validate --out``, and on the writer itself with a planted link.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.errors import OutputError
from mhdeaths.output.folders import inside
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.validate.render import write_reports
from mhdeaths.validate.report_files import FALLBACK_STEM, report_stem
from mhdeaths.validate.validator import validate

from .cli import mhdeaths

SPEC = load_spec("1.1.0")
HOSTILE = "../../../../elsewhere/"
ENV = {"MHDEATHS_PSEUDONYM_KEY": "", "MHDEATHS_WAREHOUSE": ""}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    out = tmp_path_factory.mktemp("synth")
    result = generate(SPEC, SynthOptions(providers=1, months=1, start="2027-10", seed=5), out)
    return {
        p.stem.split("_", 2)[2]: pl.read_csv(p, infer_schema=False)
        for p in result.files
        if p.suffix == ".csv"
    }


def hostile_submission(
    month: dict[str, pl.DataFrame], folder: Path, name: str, sep: str = "-"
) -> Path:
    """The month's files with every org_id_provider set to a path, named ``<name><sep><table>``
    (with "-", not the documented convention, so the name cannot help either)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in month.items():
        frame.with_columns(pl.lit(HOSTILE).alias("org_id_provider")).write_csv(
            folder / f"{name}{sep}{table}.csv"
        )
    return folder


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_warehouse_load_writes_the_report_inside_reports(
    month: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    work = tmp_path / "a" / "b" / "c" / "d"
    sources = hostile_submission(month, work / "in", "export")
    before = files_under(tmp_path)
    reports = work / "reports"
    run = mhdeaths(
        "warehouse", "load", sources, "-w", work / "w.duckdb", "--demo-key",
        "--reports", reports, env=ENV,
    )  # fmt: skip
    assert run.code == 1, run.output
    written = files_under(tmp_path) - before
    outside = {p for p in written if reports not in p.parents and p.parent != work}
    assert outside == set(), outside
    assert not (tmp_path / "elsewhere").exists()
    names = sorted(p.name for p in written if reports in p.parents)
    assert len(names) == 2 and all(n.startswith(f"{FALLBACK_STEM}_") for n in names), names
    assert HOSTILE not in run.output and "elsewhere" not in run.output


def test_run_writes_the_report_beside_the_files(
    month: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    work = tmp_path / "a" / "b" / "c" / "d"
    inbox = hostile_submission(month, work / "inbox" / "sub", "export")
    before = files_under(tmp_path)
    run = mhdeaths("run", work / "inbox", "-w", work / "w.duckdb", "--demo-key", env=ENV)
    assert run.code == 1, run.output
    reports = {p for p in files_under(tmp_path) - before if ".report." in p.name}
    assert {p.parent for p in reports} == {inbox}, reports
    assert {p.name for p in reports} == {f"{FALLBACK_STEM}.report.html", "submission.report.json"}
    assert not (tmp_path / "elsewhere").exists()


def test_validate_out_names_the_report_safely(
    month: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    work = tmp_path / "a" / "b" / "c" / "d"
    sources = hostile_submission(month, work / "in", "RZ1_2027-10")
    out = work / "out"
    run = mhdeaths("validate", *sorted(sources.iterdir()), "--out", out)
    assert run.code == 1, run.output
    # The records' provider is not an ODS code, so the name comes from no value of the file.
    assert sorted(p.name for p in out.iterdir()) == [
        f"{FALLBACK_STEM}.findings.csv", f"{FALLBACK_STEM}.report.html",
        f"{FALLBACK_STEM}.report.json",
    ]  # fmt: skip
    assert not (tmp_path / "elsewhere").exists()


def test_report_stem_takes_only_well_formed_values(
    month: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    paths = []
    for table, frame in month.items():
        paths.append(good / f"anything-{table}.csv")
        frame.write_csv(paths[-1])
    report = validate(paths).report
    provider, period = report.provider, report.reporting_period
    assert report_stem(report, paths) == f"{provider}_{period}"
    assert report_stem(report, paths, digest="ABCDEF0123456789") == f"{provider}_{period}_abcdef01"
    bad = hostile_submission(month, tmp_path / "bad", "RZ7_2027-11", sep="_")
    bad_paths = sorted(bad.iterdir())
    hostile = validate(bad_paths).report
    assert hostile.provider != HOSTILE  # the report itself never holds the path either
    # A documented file name is the next best name; with none, the fixed one.
    assert report_stem(hostile, bad_paths) == "RZ7_2027-11"
    assert report_stem(hostile, [tmp_path / "export.csv"]) == FALLBACK_STEM
    assert report_stem(hostile, [tmp_path / "../.._2027-11_death.csv"]) == FALLBACK_STEM


@pytest.mark.parametrize("name", ["../x.report.json", "a/b.json", "..", ".", "", "/etc/x"])
def test_inside_refuses_a_name_that_leaves_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError):
        inside(tmp_path / "reports", name)


def test_a_link_planted_in_the_folder_is_not_followed(
    month: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    target = tmp_path / "elsewhere" / "victim.txt"
    target.parent.mkdir()
    target.write_text("keep me")
    os.symlink(target, folder / "RZ1_2027-10.report.json")
    paths = []
    for table, frame in month.items():
        paths.append(tmp_path / f"x-{table}.csv")
        frame.write_csv(paths[-1])
    report = validate(paths).report
    with pytest.raises(OutputError):
        write_reports(report, folder, "RZ1_2027-10", ["json"])
    assert target.read_text() == "keep me"
    with pytest.raises(OutputError):
        write_reports(report, folder, "../elsewhere/victim", ["json"])
    assert target.read_text() == "keep me"
    assert write_reports(report, folder, "RZ1_2027-10", ["html"]) == [
        folder / "RZ1_2027-10.report.html"
    ]

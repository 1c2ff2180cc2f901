"""Each published figure names its definitions (build plan 9.3): every benchmark output carries
the spec version whose definitions derived the records and the day of the latest derivation run,
and a warehouse whose records carry two definitions versions (only a hand-edited file can) is
refused in one sentence, with nothing written."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from mhdeaths.benchmark.compute import compute
from mhdeaths.benchmark.run import publish_benchmarks
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.canonical import load_canonical
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key

from ..functional.cli import mhdeaths

CANONICAL = load_canonical().canonical_version
PERIOD = "2027-12"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("definitions")
    options = SynthOptions(providers=3, months=6, start="2027-07", seed=31)
    generate(load_spec(CANONICAL), options, folder / "inbox")
    path = folder / "warehouse.duckdb"
    outcomes = load(path, [folder / "inbox"], key=demo_key())
    assert all(o.status == "loaded" for o in outcomes)
    return path


def edited(warehouse: Path, target: Path, *sql: str) -> Path:
    shutil.copyfile(warehouse, target)
    with duckdb.connect(str(target)) as con:
        for statement in sql:
            con.execute(statement)
    return target


def test_every_output_names_the_definitions_of_the_latest_run(
    warehouse: Path, tmp_path: Path
) -> None:
    # A later run logged (as a re-derivation of an edited draft would log one): the outputs name
    # its spec files, not the first run's.
    later = edited(
        warehouse,
        tmp_path / "w.duckdb",
        "INSERT INTO derivation_run SELECT * REPLACE (run_id + 1 AS run_id, repeat('ab', 32) "
        "AS spec_sha256, TIMESTAMP '2031-01-02 09:00:00' AS started_at, "
        "TIMESTAMP '2031-01-02 09:00:05' AS finished_at) "
        "FROM derivation_run ORDER BY run_id DESC LIMIT 1",
    )
    out = tmp_path / "out"
    published = publish_benchmarks(later, out, period=PERIOD)
    line = f"Definitions: mhdeaths spec {CANONICAL} (spec files SHA-256 {'ab' * 6})"
    assert published.benchmarks.definitions.line == line

    for name in ("benchmarks.csv", "benchmarks-trend.csv"):
        with (out / name).open(newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][-1] == "definitions_version", name
        assert len(rows) > 1 and {r[-1] for r in rows[1:]} == {CANONICAL}, name
    document = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
    assert document["definitions_version"] == CANONICAL
    assert document["definitions_sha256"] == "ab" * 32
    report = (out / "benchmarks.html").read_text(encoding="utf-8")
    methods = report[report.index('<h2 id="methods">') :]
    assert f"{line}." in methods
    pages = sorted((out / "providers").glob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        footer = text[text.index("<footer>") : text.index("</footer>")]
        assert line in footer, page.name
    book = openpyxl.load_workbook(out / "benchmarks.xlsx", read_only=True)
    for sheet in ("Indicators", "Providers", "Trend"):
        header = next(book[sheet].iter_rows(max_row=1, values_only=True))
        assert header[-1] == "definitions_version", sheet


@pytest.mark.parametrize(
    ("stamp", "listed"),
    [("'1.0.0'", f"1.0.0, {CANONICAL}"), ("NULL", f"{CANONICAL}, none")],
    ids=["another-version", "none"],
)
def test_records_under_two_definitions_versions_are_refused(
    warehouse: Path, tmp_path: Path, stamp: str, listed: str
) -> None:
    mixed = edited(
        warehouse,
        tmp_path / "mixed.duckdb",
        f"UPDATE death_record SET definitions_version = {stamp} "
        "WHERE source_row = (SELECT min(source_row) FROM death_record)",
    )
    out = tmp_path / "out"
    run = mhdeaths("benchmark", "-w", mixed, "--period", PERIOD, "--out", out)
    assert run.code == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.output, run.stderr
    assert f"more than one definitions version ({listed})" in lines[0]
    assert "mhdeaths warehouse init" in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_the_definitions_are_named_by_the_hash_of_the_spec_files_of_the_run(
    warehouse: Path,
) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT spec_sha256 FROM derivation_run ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
    assert row is not None and len(row[0]) == 64
    assert compute(warehouse, PERIOD).definitions.sha256 == row[0]

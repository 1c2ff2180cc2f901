"""Benchmark runs are recorded in the warehouse as published, and the analysts' guide's queries
over them (and over the deaths) run and answer what the guide says they answer."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from mhdeaths.benchmark.run import Published, publish_benchmarks
from mhdeaths.stats import BAND_HIGHER
from mhdeaths.warehouse.querying import query

from ..examples_warehouse import examples_warehouse

pytestmark = pytest.mark.slow

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Published]]:
    """A copy of the examples' warehouse benchmarked twice (recorded), once more not recorded."""
    folder = tmp_path_factory.mktemp("history")
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(examples_warehouse(tmp_path_factory), warehouse)
    published = [
        publish_benchmarks(warehouse, folder / "first", store=True),
        publish_benchmarks(warehouse, folder / "second", store=True),
    ]
    publish_benchmarks(warehouse, folder / "unrecorded")
    return warehouse, published


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_each_recorded_run_holds_what_its_csv_published_and_no_more(
    runs: tuple[Path, list[Published]],
) -> None:
    warehouse, published = runs
    recorded = query(warehouse, "SELECT run_id, disclosure_rule FROM benchmark_run ORDER BY 1")
    assert recorded.rows == [(1, "nhs_england"), (2, "nhs_england")]
    assert [p.run_id for p in published] == [1, 2]
    for done in published:
        csv_rows = _csv_rows(done.report.parent / "benchmarks.csv")
        stored = query(
            warehouse,
            "SELECT indicator, provider, observed, ratio, band_998, withheld FROM "
            f"benchmark_result WHERE run_id = {done.run_id} ORDER BY indicator, provider",
        ).rows
        assert len(stored) == len(csv_rows)
        by_key = {(r["indicator"], r["provider"]): r for r in csv_rows}
        for indicator, provider, observed, ratio, band, withheld in stored:
            cells = by_key[(indicator, provider)]
            assert withheld == ("*" in cells.values()), (indicator, provider)
            for value, cell in ((observed, cells["observed"]), (ratio, cells["ratio"])):
                # A withheld or empty cell is NULL: the table tells no more than the file.
                assert value == (float(cell) if cell not in ("", "*") else None)
            assert band == (cells["band_998"] or None if cells["band_998"] != "*" else None)


def _guide_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_every_query_in_the_analysts_guide_runs(runs: tuple[Path, list[Published]]) -> None:
    warehouse, _ = runs
    queries = _guide_queries()
    assert len(queries) >= 5
    for sql in queries:
        if "read_parquet" in sql:
            continue  # reads the Parquet export, not the warehouse (run by the export's tests)
        query(warehouse, sql)  # raises QueryError, naming what is wrong, if it cannot run


def _guide_query(starting: str) -> str:
    (found,) = [q for q in _guide_queries() if starting in q]
    return found


def test_the_outlier_queries_answer_what_the_report_bands(
    runs: tuple[Path, list[Published]],
) -> None:
    warehouse, published = runs
    latest = published[-1].released
    rows = query(warehouse, _guide_query("band_998 = 'higher than expected'")).rows
    expected = sorted(
        (str(meta["indicator"]), provider)
        for meta in latest.indicators
        for provider in latest.providers_banded(str(meta["indicator"]), "998", BAND_HIGHER)
    )
    assert sorted((r[0], r[1]) for r in rows) == expected
    persistent = query(warehouse, _guide_query("runs_higher")).rows
    both = {
        (str(m["indicator"]), p)
        for m in published[0].released.indicators
        for p in published[0].released.providers_banded(str(m["indicator"]), "95", BAND_HIGHER)
    } & {
        (str(m["indicator"]), p)
        for m in latest.indicators
        for p in latest.providers_banded(str(m["indicator"]), "95", BAND_HIGHER)
    }
    assert {(r[0], r[1]) for r in persistent} == both
    assert both  # the demo's RZ2 is higher on deaths within 7 days in both


def test_the_rolling_and_duplicate_queries_count_the_deaths(
    runs: tuple[Path, list[Published]],
) -> None:
    warehouse, _ = runs
    rolling = query(warehouse, _guide_query("deaths_12_months")).rows
    monthly = query(
        warehouse,
        "SELECT attributed_provider, strftime(death_date, '%Y-%m'), count(*) FROM deaths "
        "WHERE counted AND death_category = 'IPD' GROUP BY ALL",
    ).rows
    counts = {(p, m): n for p, m, n in monthly}
    for provider, month, deaths, twelve in rolling:
        year, number = map(int, month.split("-"))
        window = []
        for back in range(12):
            y, m = divmod(year * 12 + number - 1 - back, 12)
            window.append(f"{y:04d}-{m + 1:02d}")
        assert deaths == counts[(provider, month)]
        assert twelve == sum(counts.get((provider, w), 0) for w in window)
    duplicates = query(warehouse, _guide_query("FROM duplicate_deaths")).rows
    reported_twice = query(
        warehouse,
        "SELECT count(*) FROM (SELECT nhs_number_pseudonym FROM deaths WHERE record_action <> 'D' "
        "GROUP BY ALL HAVING count(DISTINCT org_id_provider) > 1)",
    ).rows
    assert len(duplicates) == reported_twice[0][0] > 0
    assert all(r[1] >= 2 and r[3] in r[2] for r in duplicates)

"""Benchmark: loading the warehouse, and querying what was loaded.

Two measurements, in one run:

1. **A national history.** Synthetic monthly submissions (deaths and activity) of 60 providers over
   10 years are loaded into a new warehouse, one transaction per submission, as the receiving team
   would load them (each validated first). Reports the time per submission (median, 95th
   percentile) and in total; then the whole `mhdeaths warehouse status` process and the whole
   process of a typical analyst's query (30-day post-discharge death rates per provider and year)
   on the result, median of three.
2. **One very large file.** A clean 1,000,000-record death file is loaded by the whole
   `mhdeaths warehouse load` process into a new warehouse, against a floor: a whole process in
   which DuckDB itself reads the same CSV into a table (`CREATE TABLE AS SELECT * FROM
   read_csv(...)`). The two run in turn, five times each, every run a fresh process, with peak
   memory; the ratio is the median of the pairs' ratios. Target: load no more than 3 times the
   floor.

Writes benchmarks/results/warehouse.json; docs/performance.md carries the figures.

    uv run python benchmarks/bench_warehouse.py [--years 10] [--providers 60] [--rows 1000000]
    uv run python benchmarks/bench_warehouse.py --only large   # the large file alone (a minute)

With ``--only``, the results file keeps the other part's figures from the last full run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validate import distinct_records, measure, measure_against

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.loading import LoadOutcome, load
from mhdeaths.warehouse.pseudonym import demo_key

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "warehouse.json"
DATA = ROOT / "benchmarks" / "data"

ANALYST_QUERY = """
WITH d AS (
    SELECT attributed_provider AS provider, year(death_date) AS year,
           count(*) FILTER (WHERE within_30_days AND counted) AS deaths_30d,
           count(*) FILTER (WHERE inpatient_death AND counted) AS inpatient_deaths
    FROM deaths GROUP BY ALL
),
a AS (
    SELECT org_id_provider AS provider, CAST(left(reporting_period, 4) AS INTEGER) AS year,
           sum(discharges_live) AS discharges, sum(occupied_bed_days) AS bed_days
    FROM activity GROUP BY ALL
)
SELECT provider, year, deaths_30d, discharges,
       round(1000.0 * deaths_30d / discharges, 2) AS per_1000_discharges,
       inpatient_deaths, bed_days
FROM d JOIN a USING (provider, year)
ORDER BY provider, year
"""

FLOOR = (
    "import duckdb, sys; con = duckdb.connect(); "
    'con.execute("CREATE TABLE t AS SELECT * FROM read_csv(\'" + sys.argv[1] + "\')")'
)
MHDEATHS = [sys.executable, "-m", "mhdeaths"]


def history(folder: Path, years: int, providers: int) -> Path:
    """The national history's files, made once and kept (benchmarks/data is git-ignored)."""
    out = folder / f"history-{years}y-{providers}p"
    if not (out / ".complete").exists():
        generate(
            load_spec(),
            SynthOptions(providers=providers, months=12 * years, start="2027-10", seed=17),
            out,
        )
        (out / ".complete").write_text("", encoding="utf-8")
    return out


def clean_file(path: Path, rows: int, seed: int = 5) -> int:
    """A clean death file of `rows` records of one provider and month, every record distinct."""
    frame = distinct_records(rows, seed, months=3)
    frame.write_csv(path)
    return frame.height


def load_history(files: Path, warehouse: Path) -> dict[str, float | int]:
    """Load every submission in-process, timing each one (validation included)."""
    times: list[float] = []
    mark = [time.perf_counter()]

    def tick(outcome: LoadOutcome) -> None:
        now = time.perf_counter()
        times.append(now - mark[0])
        mark[0] = now
        if outcome.status != "loaded":
            raise SystemExit(f"{outcome.label} was {outcome.status}")

    start = time.perf_counter()
    outcomes = load(warehouse, [files], key=demo_key(), progress=tick)
    total = time.perf_counter() - start
    times.sort()
    return {
        "submissions": len(outcomes),
        "files": sum(len(o.report.files) for o in outcomes),
        "death_records": sum(o.death_rows for o in outcomes),
        "activity_records": sum(o.activity_rows for o in outcomes),
        "total_s": round(total, 1),
        "per_submission_median_ms": round(1000 * statistics.median(times), 1),
        "per_submission_p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
        "warehouse_mb": round(warehouse.stat().st_size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--providers", type=int, default=60)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only", choices=["history", "large"], help="run one of the two measurements"
    )
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {}
    if args.only and RESULTS.exists():
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
    results["date"] = time.strftime("%Y-%m-%d")
    results["machine"] = (
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        work = Path(tmp)
        if args.only != "large":
            measure_history(results, work, args)
        if args.only != "history":
            measure_large_file(results, work, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"Wrote {RESULTS}")


def measure_history(results: dict[str, object], work: Path, args: argparse.Namespace) -> None:
    """The national history loaded in-process, then status and an analyst's query on it."""
    files = history(DATA, args.years, args.providers)
    warehouse = work / "national.duckdb"
    print(f"Loading {args.years} years of {args.providers} providers ...", flush=True)
    results["history"] = load_history(files, warehouse)
    print(json.dumps(results["history"]), flush=True)
    results["status"] = measure([*MHDEATHS, "warehouse", "status", "-w", str(warehouse)], args.runs)
    results["analyst_query"] = measure(
        [
            *MHDEATHS,
            "warehouse",
            "query",
            ANALYST_QUERY,
            "-w",
            str(warehouse),
            "--format",
            "csv",
        ],
        args.runs,
    )
    print(json.dumps({k: results[k] for k in ("status", "analyst_query")}), flush=True)


def measure_large_file(results: dict[str, object], work: Path, args: argparse.Namespace) -> None:
    """One very large file loaded by the whole command, against DuckDB's own read_csv."""
    big = work / "RZ1_2027-10_death.csv"
    rows = clean_file(big, args.rows)
    target = work / "big.duckdb"

    def fresh() -> None:
        for stale in (target, Path(f"{target}.wal")):
            stale.unlink(missing_ok=True)

    floor, loaded, ratio = measure_against(
        [sys.executable, "-c", FLOOR, str(big)],
        [*MHDEATHS, "warehouse", "load", str(big), "-w", str(target), "--demo-key"],
        args.runs,
        before=fresh,
    )
    results["large_file"] = {
        "rows": rows,
        "megabytes": round(big.stat().st_size / 1e6, 1),
        "floor_duckdb_read_csv": floor,
        "warehouse_load": loaded,
        "ratio_wall": ratio,
        "target_ratio": 3.0,
    }
    print(json.dumps(results["large_file"]), flush=True)


if __name__ == "__main__":
    main()

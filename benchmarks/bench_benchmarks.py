"""Benchmark: computing every indicator for a national history (10 years x 60 providers).

The warehouse is the one `bench_warehouse.py` measures loading: synthetic monthly submissions of
60 providers over 10 years, loaded once and kept in benchmarks/data (git-ignored; loading takes
about ten minutes the first time). Two measurements:

1. **Computing every indicator** (every variant, every provider, pooled windows and the annual
   trend) in-process with ``mhdeaths.benchmark.compute.compute``: median of five after one
   warm-up. Target: under 1 second.
2. **The whole `mhdeaths benchmark` process**: compute, release under disclosure control, and write
   the HTML report (with a funnel plot per indicator), CSV, XLSX, JSON and 60 provider summaries.
   Median of three.

Writes benchmarks/results/benchmarks.json; docs/performance.md carries the figures.

    uv run python benchmarks/bench_benchmarks.py [--years 10] [--providers 60]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validate import measure
from bench_warehouse import DATA, MHDEATHS, history, load_history

from mhdeaths.benchmark.compute import compute
from mhdeaths.warehouse.schema import upgrade
from mhdeaths.warehouse.store import connect

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "benchmarks.json"


def national_warehouse(years: int, providers: int) -> Path:
    """The loaded national history, made once and kept."""
    path = DATA / f"history-{years}y-{providers}p.duckdb"
    if not path.exists():
        files = history(DATA, years, providers)
        print(f"Loading {years} years of {providers} providers (once) ...", flush=True)
        partial = path.with_suffix(".partial.duckdb")
        partial.unlink(missing_ok=True)
        load_history(files, partial)
        partial.rename(path)
    with connect(path) as con:
        upgrade(con)  # a warehouse kept from an earlier run gets this release's views
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--providers", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    warehouse = national_warehouse(args.years, args.providers)

    compute(warehouse)  # warm-up: the file's pages into the OS cache, modules imported
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        benchmarks = compute(warehouse)
        times.append(time.perf_counter() - start)
    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "warehouse": {
            "years": args.years,
            "providers": len(benchmarks.providers),
            "megabytes": round(warehouse.stat().st_size / 1e6, 1),
        },
        "indicators": len(benchmarks.results),
        "compute_s": {"median": round(statistics.median(times), 3), "max": round(max(times), 3)},
        "target_s": 1.0,
    }
    print(json.dumps(results), flush=True)
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        out = Path(tmp) / "out"
        command = [*MHDEATHS, "benchmark", "-w", str(warehouse), "--out", str(out)]
        results["whole_command"] = measure(command, 3)
        results["outputs"] = sum(1 for p in out.rglob("*") if p.is_file())
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({k: results[k] for k in ("whole_command", "outputs")}), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"Wrote {RESULTS}")


if __name__ == "__main__":
    main()

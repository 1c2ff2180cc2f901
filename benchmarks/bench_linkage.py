"""Benchmark: linking ten years of national feeds to a national history (issue 16).

Setup (not timed, cached in benchmarks/data/linkage-<options>/): synthetic monthly submissions
of 33 providers over 10 years under spec 2.0.0, with their national feeds (MHSDS spells, one file
per month; death registrations, one file per calendar year, 580,000 deaths a year of people never
in mental health care beside the providers' own, three providers leaving out 30% of their deaths
after discharge), and the submissions loaded into a warehouse once.

Timed, whole processes on a fresh copy of that warehouse, three times:

1. ``mhdeaths warehouse load-feed spells`` on the 120 monthly files;
2. ``mhdeaths warehouse load-feed registrations`` on the 10 yearly files (each validated in full,
   the unlinked ones counted and discarded);
3. the reconciliation: ``mhdeaths warehouse query "SELECT * FROM reconciliation" --format csv``;
4. ``mhdeaths benchmark`` (every indicator, completeness among them).

Beside them, the floor: one process in which DuckDB reads every feed file once
(``count(*)`` and ``count(DISTINCT nhs_number)``). Reports each step's median wall time and peak
memory, the total of the steps (median of the runs' totals), and the ratio of the two loads to the
floor. Target: the total under 60 s and every process under 4 GB, on 2 cores.

Writes benchmarks/results/linkage.json; docs/performance.md carries the figures.

    uv run python benchmarks/bench_linkage.py [--years 10] [--providers 33] [--runs 3]
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

from bench_validate import run_once

from mhdeaths.periods import add_months, period_start
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate, provider_codes
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "linkage.json"
DATA = ROOT / "benchmarks" / "data"
START = "2019-04"
MHDEATHS = [sys.executable, "-m", "mhdeaths"]


def prepare(years: int, providers: int, background: int) -> tuple[Path, list[Path], list[Path]]:
    """The cached national history (its warehouse) and its feed files, made once per options."""
    folder = DATA / f"linkage-{years}y-{providers}p-{background}"
    warehouse = folder / "base.duckdb"
    months = 12 * years
    codes = provider_codes(providers)
    options = SynthOptions(
        providers=providers,
        months=months,
        start=START,
        seed=31,
        transfers=0.1,
        feeds=True,
        background_deaths=background,
        under_report=tuple((c, 0.3) for c in codes[1:4]),
        registrations_to=f"{add_months(period_start(START), months + 6):%Y-%m}",
    )
    if not (folder / ".built").exists():
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        generate(load_spec("2.0.0"), options, folder / "inbox")
        print(f"synthetic history and feeds: {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        submissions = [p for p in (folder / "inbox").iterdir() if p.name != "feeds"]
        outcomes = load(warehouse, submissions, key=demo_key())
        assert all(o.status == "loaded" for o in outcomes)
        print(
            f"{len(outcomes)} submissions loaded: {time.perf_counter() - started:.0f} s", flush=True
        )
        (folder / ".built").touch()
    feeds = folder / "inbox" / "feeds"
    return warehouse, sorted(feeds.glob("spells_*")), sorted(feeds.glob("registrations_*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--providers", type=int, default=33)
    parser.add_argument("--background", type=int, default=580_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base, spells, registrations = prepare(args.years, args.providers, args.background)
    floor_sql = (
        'import duckdb, sys; duckdb.sql("SELECT count(*), count(DISTINCT nhs_number) FROM '
        'read_parquet([" + ", ".join(repr(p) for p in sys.argv[1:]) + "], '
        'union_by_name = true)").fetchall()'
    )
    floor = [sys.executable, "-c", floor_sql, *map(str, spells + registrations)]
    steps: dict[str, list[tuple[float, float, int]]] = {
        "load_spells": [],
        "load_registrations": [],
        "reconciliation": [],
        "benchmark": [],
    }
    floors = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            warehouse = Path(tmp) / "w.duckdb"
            shutil.copyfile(base, warehouse)
            floors.append(run_once(floor))
            w = ["-w", str(warehouse)]
            commands = {
                "load_spells": [
                    *MHDEATHS,
                    "warehouse",
                    "load-feed",
                    "spells",
                    *map(str, spells),
                    *w,
                    "--demo-key",
                ],
                "load_registrations": [
                    *MHDEATHS,
                    "warehouse",
                    "load-feed",
                    "registrations",
                    *map(str, registrations),
                    *w,
                    "--demo-key",
                ],
                "reconciliation": [
                    *MHDEATHS,
                    "warehouse",
                    "query",
                    *w,
                    "--format",
                    "csv",
                    "SELECT * FROM reconciliation",
                ],
                "benchmark": [*MHDEATHS, "benchmark", *w, "--out", str(Path(tmp) / "report")],
            }
            for name, command in commands.items():
                result = run_once(command)
                assert result[2] == 0, (name, result)
                steps[name].append(result)
                print(f"{name}: {result[0]:.1f} s, {result[1]:.0f} MB", flush=True)
            warehouse.unlink()
            Path(f"{warehouse}.wal").unlink(missing_ok=True)
    totals = [sum(steps[s][i][0] for s in steps) for i in range(args.runs)]
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "options": vars(args),
        "files": {"spells": len(spells), "registrations": len(registrations)},
        "steps": {
            name: {
                "wall_s": round(statistics.median(r[0] for r in runs), 2),
                "peak_rss_mb": round(statistics.median(r[1] for r in runs), 0),
                "walls_s": [round(r[0], 2) for r in runs],
            }
            for name, runs in steps.items()
        },
        "total_s": round(statistics.median(totals), 1),
        "totals_s": [round(t, 1) for t in totals],
        "floor": {
            "wall_s": round(statistics.median(f[0] for f in floors), 2),
            "peak_rss_mb": round(statistics.median(f[1] for f in floors), 0),
        },
    }
    loads = [
        (steps["load_spells"][i][0] + steps["load_registrations"][i][0]) / floors[i][0]
        for i in range(args.runs)
    ]
    result["loads_over_floor"] = round(statistics.median(loads), 1)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

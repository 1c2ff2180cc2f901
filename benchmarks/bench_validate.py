"""Benchmark: the whole `mhdeaths validate` process against a process that only reads the file.

Generates a 1,000,000-row death-shaped CSV with about 1% of records carrying one error of mixed
kinds, then, in one run, times (wall clock and peak memory, each in its own process) a floor that
only reads the file with polars (every column as text) and the whole `mhdeaths validate` command,
run in turn five times: the ratio is the median of the five pairs' ratios. Then the whole command
on a realistic provider-year file.
Writes benchmarks/results/validate.json and the table in docs/performance.md.

    uv run python benchmarks/bench_validate.py [--rows 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "validate.json"
DOC = ROOT / "docs" / "performance.md"


def synthetic_nhs_numbers(n: int) -> pl.Series:
    """Distinct valid NHS numbers from the synthetic 999 range, made with whole-column maths.

    The range holds only 909,091 valid numbers, so past that the records have none (the NHS
    number is required, not mandatory: a warning each, counted like any other finding).
    """
    body = (999_000_000 + pl.int_range(0, 1_000_000, eager=True)).cast(pl.String)
    digits = [body.str.slice(i, 1).cast(pl.Int64) for i in range(9)]
    total = sum(d * (10 - i) for i, d in enumerate(digits))
    check = (11 - total % 11) % 11
    frame = pl.DataFrame({"body": body, "check": check}).filter(pl.col("check") != 10)
    numbers = (frame["body"] + frame["check"].cast(pl.String)).head(n)
    missing = pl.Series([None] * (n - numbers.len()), dtype=pl.String)
    return pl.concat([numbers, missing]).alias("nhs_number")


def distinct_records(rows: int, seed: int, months: int = 24) -> pl.DataFrame:
    """`rows` clean death records of one provider and month, as a real submission: synthetic
    records repeated, each made distinct (record id, NHS number, local patient id)."""
    spec = load_spec()
    with tempfile.TemporaryDirectory() as tmp:
        generate(spec, SynthOptions(providers=20, months=months, seed=seed), Path(tmp))
        base = pl.concat(
            [pl.read_csv(p, infer_schema=False) for p in sorted(Path(tmp).rglob("*_death.csv"))]
        )
    base = base.filter(pl.col("reporting_period") == base["reporting_period"][0])
    return base.select(pl.all().gather(pl.int_range(0, rows) % base.height)).with_columns(
        pl.lit(base["org_id_provider"][0]).alias("org_id_provider"),
        ("B" + pl.int_range(0, rows).cast(pl.String).str.zfill(8)).alias("death_record_id"),
        synthetic_nhs_numbers(rows).sample(fraction=1.0, shuffle=True, seed=seed),
        ("P" + pl.int_range(0, rows).cast(pl.String)).alias("local_patient_id"),
    )


def big_file(path: Path, rows: int, seed: int = 3) -> dict[str, int]:
    """A death-shaped CSV of `rows` records, about 1% with one error each (kinds mixed)."""
    frame = distinct_records(rows, seed)
    # About 1% of records get one error, of eight kinds in turn.
    kinds = {
        "ethnic_category": "ZZ",  # not a code
        "death_date": "2027-02-30",  # not a date
        "death_date_basis": None,  # mandatory value missing
        "admission_date": "2099-01-01",  # admitted after death
        "nhs_number": "9999999990",  # wrong check digit
        "discharge_method": "7",  # not a code of the list
        "reporting_period": "2027-13",  # bad pattern
        "record_action": "X",  # not a code
    }
    index = pl.int_range(0, rows)
    picked = (index * 7919 + seed) % 100 == 0
    planted = {}
    for k, (field, value) in enumerate(kinds.items()):
        mask = picked & ((index // 100) % len(kinds) == k)
        frame = frame.with_columns(
            pl.when(mask).then(pl.lit(value, dtype=pl.String)).otherwise(pl.col(field)).alias(field)
        )
        planted[field] = int(frame.select(mask.sum()).item())
    frame.write_csv(path)
    return planted


FLOOR = "import polars as pl, sys; pl.read_csv(sys.argv[1], infer_schema=False)"


def user_environment() -> dict[str, str]:
    """The environment a user's command runs in, where Python keeps its bytecode cache.

    Some sandboxes (this project's development machines among them) set PYTHONDONTWRITEBYTECODE,
    which makes every process compile every module it imports from source: half a second for
    the validator, a cost no installed copy pays (pip compiles at install; Python caches on
    first import otherwise). Measured with it set, the figures would be of the sandbox.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


TIMED = Path(__file__).with_name("timed.py")


def run_once(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak resident memory (MB) and exit code of one whole process, started from
    the small ``timed.py`` (see there why not from this process)."""
    done = subprocess.run(
        [sys.executable, str(TIMED), *command],
        capture_output=True,
        text=True,
        check=True,
        env=user_environment(),
    )
    wall, peak, code = json.loads(done.stdout)
    return wall, peak, code


def measure(command: list[str], runs: int) -> dict[str, float]:
    """The median of several runs, each in a fresh process, after one run not counted (which
    writes the bytecode cache and warms the file cache, as any second use would find them)."""
    run_once(command)
    walls, peaks, codes = [], [], []
    for _ in range(runs):
        wall, peak, code = run_once(command)
        walls.append(wall)
        peaks.append(peak)
        codes.append(code)
    return {
        "wall_s": round(statistics.median(walls), 3),
        "peak_rss_mb": round(statistics.median(peaks), 1),
        "exit_code": codes[0],
    }


def measure_against(
    floor: list[str], tool: list[str], runs: int, before: Callable[[], None] | None = None
) -> tuple[dict[str, float], dict[str, float], float]:
    """The floor and the tool run in turn, ``runs`` times each (after a first pair not counted,
    as in ``measure``), ``before`` called ahead of each pair: their medians, and the median of
    the ratio of each pair. Run side by side like this, a machine that speeds up or slows down
    during the measurement moves both sides of a ratio alike."""
    floors, tools = [], []
    for _ in range(runs + 1):
        if before:
            before()
        floors.append(run_once(floor))
        tools.append(run_once(tool))
    floors, tools = floors[1:], tools[1:]

    def summary(results: list[tuple[float, float, int]]) -> dict[str, float]:
        return {
            "wall_s": round(statistics.median(r[0] for r in results), 3),
            "peak_rss_mb": round(statistics.median(r[1] for r in results), 1),
            "exit_code": results[0][2],
        }

    ratio = statistics.median(t[0] / f[0] for f, t in zip(floors, tools, strict=True))
    return summary(floors), summary(tools), round(ratio, 2)


def provider_year(path: Path) -> int:
    """A large provider's year of deaths in one file: twelve months of the synthetic records of
    twenty providers, given to one (a few hundred deaths, more than any one trust reports).

    Submissions are monthly, so the validator rejects the file under death.file.one_period after
    checking every record against every rule, as it would a month's.
    """
    spec = load_spec()
    with tempfile.TemporaryDirectory() as tmp:
        generate(spec, SynthOptions(providers=20, months=12, seed=9), Path(tmp))
        frame = pl.concat(
            [pl.read_csv(p, infer_schema=False) for p in sorted(Path(tmp).rglob("*_death.csv"))]
        )
    frame = frame.with_columns(
        pl.lit(frame["org_id_provider"][0]).alias("org_id_provider"),
        ("Y" + pl.int_range(0, frame.height).cast(pl.String).str.zfill(6)).alias("death_record_id"),
    )
    frame.write_csv(path)
    return frame.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        # Run in a child process, so that the measuring process stays small.
        planted = big_file(args.make / "deaths.csv", args.rows)
        rows = provider_year(args.make / "RZ1_year_death.csv")
        (args.make / "made.json").write_text(json.dumps({"planted": planted, "year_rows": rows}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subprocess.run(
            [sys.executable, __file__, "--make", str(folder), "--rows", str(args.rows)], check=True
        )
        made = json.loads((folder / "made.json").read_text())
        big, year = folder / "deaths.csv", folder / "RZ1_year_death.csv"
        mhdeaths = [sys.executable, "-m", "mhdeaths", "validate"]
        floor, full, ratio = measure_against(
            [sys.executable, "-c", FLOOR, str(big)], [*mhdeaths, str(big)], args.runs
        )
        small = measure([*mhdeaths, str(year)], args.runs)
        size_mb = big.stat().st_size / 1e6
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "polars": pl.__version__,
        },
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "planted_errors": made["planted"],
        "floor": floor,
        "validate": full,
        "time_ratio": ratio,
        "memory_ratio": round(full["peak_rss_mb"] / floor["peak_rss_mb"], 2),
        "provider_year": {"rows": made["year_rows"], **small},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

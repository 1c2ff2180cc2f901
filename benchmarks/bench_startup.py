"""Benchmark: how long a provider waits for `mhdeaths --help` and for one month's validation.

A data team runs the validator many times while it fixes a month's extract; the target is under
half a second for the whole process, for `--help` and for a one-month submission (the example
RZ1 2027-05: 3 death and 18 activity records). Each command is timed as a whole process, with
Python's bytecode cache on (this machine turns it off by default: PYTHONDONTWRITEBYTECODE), in
interleaved rounds beside a floor that only starts the same Python, after warm-up runs that fill
the cache. The ratio is each round's command time over that round's floor, as a median.

Writes benchmarks/results/startup.json and prints the table for docs/performance.md.

    uv run python benchmarks/bench_startup.py [--rounds 20]
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
MONTH = sorted((ROOT / "submissions" / "examples" / "RZ1").glob("RZ1_2027-05_*.csv"))
TARGET = 0.5

COMMANDS: dict[str, list[str]] = {
    "floor: python -c pass": [sys.executable, "-c", "pass"],
    "mhdeaths --help": [sys.executable, "-m", "mhdeaths", "--help"],
    "mhdeaths --version": [sys.executable, "-m", "mhdeaths", "--version"],
    "mhdeaths validate (one month)": [
        sys.executable,
        "-m",
        "mhdeaths",
        "validate",
        *map(str, MONTH),
    ],
}


def _once(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"COLUMNS": "100", "NO_COLOR": "1"}
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        for command in COMMANDS.values():  # warm-up: the bytecode cache and the page cache
            for _ in range(3):
                _once(command, env, cwd)
        for _ in range(args.rounds):
            for name, command in COMMANDS.items():
                times[name].append(_once(command, env, cwd))
    floor = times["floor: python -c pass"]
    rows = []
    for name, seconds in times.items():
        ratios = [s / f for s, f in zip(seconds, floor, strict=True)]
        rows.append(
            {
                "command": name,
                "median_s": round(statistics.median(seconds), 3),
                "min_s": round(min(seconds), 3),
                "max_s": round(max(seconds), 3),
                "ratio_to_floor": round(statistics.median(ratios), 1),
                "under_target": statistics.median(seconds) < TARGET,
            }
        )
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "rounds": args.rounds,
        "target_s": TARGET,
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("| command | median | min to max | x floor |")
    print("|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r['command']}` | {r['median_s']:.2f} s | {r['min_s']:.2f} to {r['max_s']:.2f} s "
            f"| {r['ratio_to_floor']} |"
        )


if __name__ == "__main__":
    main()

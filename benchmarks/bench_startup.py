"""Benchmark: how long a provider waits for `mhdeaths --help` and for one month's validation.

A data team runs the validator many times while it fixes a month's extract; the target is under
half a second for the whole process, for `--help` and for a one-month submission (the example
RZ1 2027-05: 3 death and 18 activity records). Each command is timed as a whole process, with
Python's bytecode cache on (this machine turns it off by default: PYTHONDONTWRITEBYTECODE), in
interleaved rounds beside a floor that only starts the same Python, after warm-up runs that fill
the cache (and the spec cache, as on any second run); one row validates with an empty spec cache
each time, as the first run after an install or a spec change does. The ratio is each round's
command time over that round's floor, as a median. CPU is the process's user and system time,
less moved by other work on the machine than the wall time is.

A second floor imports what a validation cannot do without: polars, and typer with the pydantic
it converts options with (rich, which draws the report on a terminal, is left out: a report
written to a file or a pipe, as here, needs none of it). What is left above it is mhdeaths' own.
One row runs the validation on a terminal (a pseudo-terminal), as a person at one waits for it.
Every row but the cold one shares one spec cache, made for the run, so that other programs
filling the user's own cache cannot make a warm run cold. ``--against DIR`` runs the same
commands of another checkout (with its own ``.venv``) in the same rounds, in turn with these, and
gives each round's time over the other's, as a median: a before-and-after measured under the
same load.

Writes benchmarks/results/startup.json and prints the table for docs/performance.md.

    uv run python benchmarks/bench_startup.py [--rounds 20] [--against ../main]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pty
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
MONTH = sorted((ROOT / "submissions" / "examples" / "RZ1").glob("RZ1_2027-05_*.csv"))
TARGET = 0.5
FLOOR = "floor: python -c pass"
LIBRARIES = "floor: import polars, typer (and its pydantic)"
COLD = "mhdeaths validate (one month, no spec cached)"
TERMINAL = "mhdeaths validate (one month, on a terminal)"


@dataclass
class Command:
    name: str
    args: list[str]
    """The arguments after the Python executable."""
    cold: bool = False
    """Run with a new, empty spec cache each time."""
    terminal: bool = False
    """Run with standard output on a pseudo-terminal."""
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def commands() -> list[Command]:
    month = [str(p) for p in MONTH]
    return [
        Command(FLOOR, ["-c", "pass"]),
        Command(
            LIBRARIES,
            ["-c", "import polars, typer.main, typer._adapters, pydantic.plugin._loader"],
        ),
        Command("mhdeaths --help", ["-m", "mhdeaths", "--help"]),
        Command("mhdeaths --version", ["-m", "mhdeaths", "--version"]),
        Command("mhdeaths validate (one month)", ["-m", "mhdeaths", "validate", *month]),
        Command(TERMINAL, ["-m", "mhdeaths", "validate", *month], terminal=True),
        Command(COLD, ["-m", "mhdeaths", "validate", *month], cold=True),
    ]


def _once(python: Path, command: Command, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of the command, as a fresh process."""
    if command.cold:
        env = env | {"MHDEATHS_CACHE_DIR": tempfile.mkdtemp(dir=cwd)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    if command.terminal:
        _on_terminal([str(python), *command.args], env, cwd)
    else:
        subprocess.run(
            [str(python), *command.args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True
        )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def _on_terminal(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run a command with its standard output on a new pseudo-terminal, reading what it shows."""
    main, follower = pty.openpty()
    try:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=follower)
        os.close(follower)
        while True:
            try:
                if not os.read(main, 65536):
                    break
            except OSError:  # the command has ended and closed the terminal
                break
        if proc.wait() != 0:
            raise subprocess.CalledProcessError(proc.returncode, args)
    finally:
        os.close(main)


def _ratios(command: Command, floor: Command) -> list[float]:
    return [s / f for s, f in zip(command.seconds, floor.seconds, strict=True)]


def _row(command: Command, floor: Command, libraries: Command) -> dict[str, object]:
    to_floor, to_libraries = _ratios(command, floor), _ratios(command, libraries)
    return {
        "command": command.name,
        "median_s": round(statistics.median(command.seconds), 3),
        "min_s": round(min(command.seconds), 3),
        "max_s": round(max(command.seconds), 3),
        "cpu_median_s": round(statistics.median(command.cpu), 3),
        "ratio_to_floor": round(statistics.median(to_floor), 1),
        "ratio_to_libraries": round(statistics.median(to_libraries), 2),
        "ratio_to_libraries_min": round(min(to_libraries), 2),
        "ratio_to_libraries_max": round(max(to_libraries), 2),
        "under_target": statistics.median(command.seconds) < TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--against", type=Path, help="another checkout, run in turn with this one")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"COLUMNS": "100", "NO_COLOR": "1"}
    load_before = os.getloadavg()[0]
    ours = commands()
    runs: list[tuple[Path, Command]] = [(Path(sys.executable), c) for c in ours]
    theirs: list[Command] = []
    if args.against is not None:
        other = args.against.resolve() / ".venv" / "bin" / "python"
        theirs = [c for c in commands() if c.name not in (FLOOR, LIBRARIES, COLD)]
        runs += [(other, c) for c in theirs]
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        env["MHDEATHS_CACHE_DIR"] = str(cwd / "spec-cache")
        for python, command in runs:  # warm-up: the bytecode, page and spec caches
            for _ in range(3):
                _once(python, command, env, cwd)
        for _ in range(args.rounds):
            for python, command in runs:
                wall, cpu = _once(python, command, env, cwd)
                command.seconds.append(wall)
                command.cpu.append(cpu)
    floor, libraries = ours[0], ours[1]
    rows = [_row(c, floor, libraries) for c in ours]
    against = []
    for mine, before in zip(
        [c for c in ours if c.name in {t.name for t in theirs}], theirs, strict=True
    ):
        ratios = [a / b for a, b in zip(mine.seconds, before.seconds, strict=True)]
        against.append(
            {
                "command": mine.name,
                "against_median_s": round(statistics.median(before.seconds), 3),
                "against_cpu_median_s": round(statistics.median(before.cpu), 3),
                "median_s": round(statistics.median(mine.seconds), 3),
                "ratio": round(statistics.median(ratios), 2),
                "ratio_min": round(min(ratios), 2),
                "ratio_max": round(max(ratios), 2),
            }
        )
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_before": round(load_before, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
        "rounds": args.rounds,
        "target_s": TARGET,
        "rows": rows,
        "against": str(args.against) if args.against else None,
        "against_rows": against,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("| command | median | min to max | CPU | x floor | x libraries (min to max) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r['command']}` | {r['median_s']:.2f} s | {r['min_s']:.2f} to {r['max_s']:.2f} s "
            f"| {r['cpu_median_s']:.2f} s | {r['ratio_to_floor']} | {r['ratio_to_libraries']} "
            f"({r['ratio_to_libraries_min']} to {r['ratio_to_libraries_max']}) |"
        )
    if against:
        print(f"\nagainst {args.against}:\n")
        print("| command | before | after | after / before (min to max) |")
        print("|---|---|---|---|")
        for a in against:
            print(
                f"| `{a['command']}` | {a['against_median_s']:.2f} s | {a['median_s']:.2f} s "
                f"| {a['ratio']} ({a['ratio_min']} to {a['ratio_max']}) |"
            )


if __name__ == "__main__":
    main()

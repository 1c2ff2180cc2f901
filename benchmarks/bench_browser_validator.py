"""Benchmark: the validator page in Chromium against `mhdeaths validate` on the same file.

Makes a 100,000-record death file (bench_validate's records, about 1% with one error each),
publishes the page of the spec version it declares, and runs, in turn, the whole CLI process and
the page in a fresh headless Chromium (Debian's), ``--runs`` pairs after one pair not counted:
the page's time is from the click on Check to the report shown (the page already loaded, as a
provider finds it once open), its peak memory the largest peak resident set (VmHWM) of the
browser's processes. The ratio is the median of the pairs' ratios, with the spread of the pairs.
The first check in a fresh browser runs DuckDB's WebAssembly before the browser has optimised it
(a browser that has run the page before keeps the optimised code), so each run checks the file a
second time in the same page as well, and gives both; the page's own timings by step
(``globalThis.mhdeathsTimings``) are kept for the first. Then a 1,000,000-record file once in
the page: validated, or refused with a sentence; the tab must not crash. Writes
benchmarks/results/browser_validator.json.

    uv run python benchmarks/bench_browser_validator.py [--rows 100000] [--runs 5] [--big 1000000]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validate import big_file, run_once

from mhdeaths.spec import load_spec
from mhdeaths.validate.page import PAGE_ASSETS, write_validator_page

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "browser_validator.json"
CHROMIUM = "/usr/bin/chromium"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the browser Playwright started, and its helpers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        todo += children
    return found


def _peak_mb(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among the processes, in MB."""
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def _check(page: Any, path: Path) -> dict[str, Any]:
    """One check of the file in an open page: seconds from Check to the report, and what the
    page ended in (done, failed with its sentence, or crashed)."""
    page.set_input_files("#files", [str(path)])
    start = time.perf_counter()
    # The button's own click, and the promise the page settles once it shows the report or the
    # sentence: Playwright's click and its polling for the result added 0.3 to 0.7 s.
    page.evaluate("document.getElementById('check').click()")
    try:
        page.evaluate("window.mhdeathsChecked")
        wall = time.perf_counter() - start
        return {
            "wall_s": round(wall, 3),
            "state": page.get_attribute("body", "data-state"),
            "problem": page.evaluate("window.mhdeathsProblem"),
            "findings": page.evaluate("window.mhdeathsReport?.findings.length ?? null"),
            "steps_ms": page.evaluate("globalThis.mhdeathsTimings ?? null"),
        }
    except Exception:  # a crashed tab answers nothing more
        wall = time.perf_counter() - start
        return {"wall_s": round(wall, 3), "state": "crashed", "problem": None, "findings": None}


def page_once(site: str, version: str, path: Path, again: bool = True) -> dict[str, Any]:
    """One run of the page in a fresh browser: its first check of the file and (``again``) a
    second in the same page, and the peak memory of the browser's processes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page()
        crashed: list[bool] = []
        page.on("crash", lambda _: crashed.append(True))
        page.goto(f"{site}/{version}/validator/index.html")
        page.wait_for_selector("body[data-state=ready]", state="attached", timeout=120_000)
        pids = _descendants(os.getpid())
        first = _check(page, path)
        if crashed:
            first["state"] = "crashed"
        second = _check(page, path) if again and first["state"] == "done" else None
        peak = _peak_mb(pids + _descendants(os.getpid()))
        browser.close()
    return {**first, "peak_mb": round(peak, 1), "again": second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big", type=int, default=1_000_000, help="0 to leave it out")
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        # In a child process, so that the measuring process stays small.
        big_file(args.make / "deaths.csv", args.rows)
        if args.big:
            big_file(args.make / "big" / "deaths.csv", args.big)
        return
    if not (PAGE_ASSETS / "index.html").is_file():
        sys.exit("Build the page first: npm ci && npm run build in web/validator/.")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "big").mkdir()
        command = [sys.executable, __file__, "--make", str(folder), "--rows", str(args.rows)]
        subprocess.run([*command, "--big", str(args.big)], check=True)
        path = folder / "deaths.csv"
        version = path.read_text(encoding="utf-8").split("\n", 2)[1].split(",", 1)[0]
        site_root = folder / "site"
        write_validator_page(load_spec(version), site_root / version)
        handler = functools.partial(_Quiet, directory=str(site_root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        site = f"http://127.0.0.1:{server.server_port}"
        cli_command = [sys.executable, "-m", "mhdeaths", "validate", str(path)]
        pairs = []
        for _ in range(args.runs + 1):
            cli = run_once(cli_command)
            pairs.append((cli, page_once(site, version, path)))
        pairs = pairs[1:]
        ratios = [p["wall_s"] / c[0] for c, p in pairs]
        big = None
        if args.big:
            big = {
                "rows": args.big,
                **page_once(site, version, folder / "big" / "deaths.csv", again=False),
            }
            big["file_mb"] = round((folder / "big" / "deaths.csv").stat().st_size / 1e6, 1)
        server.shutdown()
        size_mb = path.stat().st_size / 1e6
    first_page = pairs[0][1]
    warm = [p["again"]["wall_s"] for _, p in pairs if p["again"]]
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "chromium": subprocess.run(
                [CHROMIUM, "--version"], capture_output=True, text=True, check=False
            ).stdout.strip(),
        },
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "cli": {
            "wall_s": round(statistics.median(c[0] for c, _ in pairs), 3),
            "peak_rss_mb": round(statistics.median(c[1] for c, _ in pairs), 1),
        },
        "page": {
            "wall_s": round(statistics.median(p["wall_s"] for _, p in pairs), 3),
            "peak_mb": round(statistics.median(p["peak_mb"] for _, p in pairs), 1),
            "state": first_page["state"],
            "findings": first_page["findings"],
            "steps_ms": first_page["steps_ms"],
        },
        "page_again": {
            "wall_s": round(statistics.median(warm), 3) if warm else None,
            "steps_ms": first_page["again"]["steps_ms"] if first_page["again"] else None,
        },
        "time_ratio": round(statistics.median(ratios), 2),
        "time_ratio_range": [round(min(ratios), 2), round(max(ratios), 2)],
        "time_ratio_again": round(
            statistics.median(p["again"]["wall_s"] / c[0] for c, p in pairs if p["again"]), 2
        )
        if warm
        else None,
        "big": big,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

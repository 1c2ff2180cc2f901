"""Run the real ``mhdeaths`` command in a subprocess, as a user would, and capture what it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def mhdeaths(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "mhdeaths", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def query_rows(warehouse: Path, sql: str) -> list[dict[str, object]]:
    """The rows of an analyst's query on the warehouse, through ``mhdeaths warehouse query``."""
    run = mhdeaths("warehouse", "query", "-w", warehouse, "--format", "json", sql)
    assert run.code == 0, run.output
    rows: list[dict[str, object]] = json.loads(run.stdout)
    return rows

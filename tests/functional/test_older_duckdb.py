"""`mhdeaths warehouse copy` writes a file that DuckDB 1.x opens, views and macros included.

The warehouse is in DuckDB 2's storage format, which R's duckdb package, the Node client and
older notebooks (DuckDB 1.x) refuse. The copy is checked with real DuckDB 1.x releases, each
installed into its own venv: the oldest that reads it and the newest 1.x.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..examples_warehouse import examples_warehouse
from .cli import mhdeaths

pytestmark = pytest.mark.slow

PROBE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(duckdb.__version__)
print(con.execute("SELECT count(*) FROM deaths WHERE counted").fetchone()[0])
print(con.execute("SELECT count(*) FROM deaths_as_at(TIMESTAMP '2100-01-01')").fetchone()[0])
"""


def _uv() -> list[str]:
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    warehouse = examples_warehouse(tmp_path_factory)
    target = tmp_path_factory.mktemp("older") / "for-duckdb-1.duckdb"
    run = mhdeaths("warehouse", "copy", target, "-w", warehouse)
    assert run.code == 0, run.output
    assert "DuckDB storage v1.0.0" in run.stdout
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.execute("SELECT count(*) FROM deaths WHERE counted").fetchone()
    assert found is not None
    return target, int(found[0])


@pytest.mark.parametrize("release", ["1.1.3", "1.5.6"])
def test_the_copy_opens_in_duckdb_1(copied: tuple[Path, int], release: str, tmp_path: Path) -> None:
    target, counted = copied
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    venv = tmp_path / "venv"
    subprocess.run(
        [*_uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [*_uv(), "pip", "install", "-q", "--python", str(python), f"duckdb=={release}"],
        check=True,
        env=env,
    )
    probe = subprocess.run(
        [str(python), "-c", PROBE, str(target)], capture_output=True, text=True, check=True
    )
    version, deaths, as_at = probe.stdout.split()
    assert version == release
    assert int(deaths) == counted > 0
    assert int(as_at) >= counted


def test_a_copy_never_overwrites_a_file(copied: tuple[Path, int]) -> None:
    target, _ = copied
    before = target.read_bytes()
    again = mhdeaths("warehouse", "copy", target)
    assert again.code == 2 and "exists already" in again.stderr
    assert target.read_bytes() == before

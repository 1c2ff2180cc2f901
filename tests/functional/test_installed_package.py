"""The wheel, installed into a fresh virtual environment outside the checkout, works from any folder.

A provider's data team or an analyst gets mhdeaths with ``pip install``, not a clone: the spec
versions, profiles and warehouse model must travel inside the package. This builds the wheel from
this checkout, installs it into a new venv in a temporary folder, and runs the commands a user
would, in a folder that holds nothing of the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mhdeaths.paths import CHECKOUT

from .cli import Run

pytestmark = pytest.mark.slow

EXAMPLES = CHECKOUT / "submissions" / "examples"


def _uv() -> list[str]:
    """uv as the test run found it: `uv run` names itself in $UV; else the one on the PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding only the built wheel and what it depends on."""
    base = tmp_path_factory.mktemp("installed")
    dist = base / "dist"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        [*_uv(), "build", "--wheel", "--out-dir", str(dist), str(CHECKOUT)],
        check=True,
        capture_output=True,
        env=env,
    )
    (wheel,) = dist.glob("mhdeaths-*.whl")
    target = base / "venv"
    subprocess.run(
        [*_uv(), "venv", "--quiet", "--python", sys.executable, str(target)],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run(
        [
            *_uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(target / "bin" / "python"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    return target


def _installed(venv: Path, *args: str | Path, cwd: Path) -> Run:
    """The installed ``mhdeaths`` script, run in ``cwd`` with none of the checkout's settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MHDEATHS_", "VIRTUAL_ENV", "PYTHON"))
    }
    env |= {"COLUMNS": "200", "NO_COLOR": "1", "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"}
    proc = subprocess.run(
        [str(venv / "bin" / "mhdeaths"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def test_the_installed_package_runs_the_main_job_from_any_folder(
    venv: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()

    version = _installed(venv, "--version", cwd=work)
    assert version.code == 0, version.output
    assert version.stdout.startswith("mhdeaths ")
    assert "spec versions: 1.0.0, 1.1.0, 2.0.0 (default 1.1.0)" in version.stdout
    assert "data: installed with the package" in version.stdout
    assert str(CHECKOUT) not in version.stdout

    listed = _installed(venv, "spec", "list", cwd=work)
    assert listed.code == 0, listed.output
    assert "1.1.0" in listed.stdout and "released" in listed.stdout

    # A provider validates its own files (here: copies of the examples) through its profile.
    mine = work / "mine"
    shutil.copytree(EXAMPLES / "RZ9", mine)
    files = sorted(mine.glob("RZ9_2027-05_*.csv"))
    checked = _installed(
        venv, "validate", *files, "--provider", "RZ9", "--format", "json", cwd=work
    )
    assert checked.code == 0, checked.output
    assert json.loads(checked.stdout)["verdict"] == "accepted"

    # An analyst loads, benchmarks, and runs an inbox, all with the shipped warehouse model.
    warehouse = work / "national.duckdb"
    loaded = _installed(
        venv, "warehouse", "load", EXAMPLES / "RZ1", "-w", warehouse, "--demo-key", cwd=work
    )
    assert loaded.code == 0, loaded.output
    benchmarked = _installed(venv, "benchmark", "-w", warehouse, "--out", "bench", cwd=work)
    assert benchmarked.code == 0, benchmarked.output
    assert (work / "bench" / "benchmarks.html").is_file()

    inbox = work / "inbox"
    shutil.copytree(EXAMPLES / "RZ2", inbox / "RZ2")
    ran = _installed(venv, "run", inbox, "-w", warehouse, "--demo-key", cwd=work)
    assert ran.code == 0, ran.output
    assert "0 rejected, 0 unreadable" in ran.stdout
    assert "Traceback" not in ran.output + loaded.output + benchmarked.output


def test_the_installed_package_refuses_what_only_a_checkout_can_do_in_one_sentence(
    venv: Path, tmp_path: Path
) -> None:
    released = _installed(venv, "spec", "release", "2.0.0", cwd=tmp_path)
    assert released.code == 2, released.output
    assert "Traceback" not in released.output
    assert "inside the installed package" in released.stderr

"""The validator page's build is reproducible, and a wheel carries it.

A trust (or an auditor) must be able to rebuild the published page from the locked sources and get
the same bytes; and a pip-installed mhdeaths publishes the page with no Node on the machine, so
the wheel must hold the built runner (``page_assets``, package data that git does not hold).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from mhdeaths.validate.page import PAGE_ASSETS

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web" / "validator"

pytestmark = pytest.mark.slow


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_page_builds_to_the_same_bytes(tmp_path: Path) -> None:
    if not (WEB / "node_modules").is_dir() or shutil.which("node") is None:
        pytest.fail("Node or web/validator/node_modules is missing: run scripts/setup.sh.")
    builds = []
    for name in ("first", "second"):
        out = tmp_path / name
        subprocess.run(["node", "build.mjs", str(out)], cwd=WEB, check=True, capture_output=True)
        builds.append(_digests(out))
    assert builds[0] == builds[1]
    assert {"index.html", "boot.js", "app.js", "style.css", "duckdb-eh.wasm"} <= set(builds[0])
    # The page the package publishes is that build (scripts/setup.sh rebuilds a stale one).
    assert _digests(PAGE_ASSETS) == builds[0]


def test_a_wheel_carries_the_page(tmp_path: Path) -> None:
    if shutil.which("uv") is None:
        pytest.fail("uv is missing: run scripts/setup.sh.")
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        carried = {
            name.removeprefix("mhdeaths/validate/page_assets/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith("mhdeaths/validate/page_assets/")
        }
    assert {name: hashlib.sha256(data).hexdigest() for name, data in carried.items()} == (
        _digests(PAGE_ASSETS)
    )

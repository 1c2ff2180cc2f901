"""docs/walkthroughs.md, run as written: each person's commands in a new folder, in order.

Each section's ``bash`` blocks run in one shell (``set -e``) with ``mhdeaths`` on the PATH, beside
a copy of the checkout's ``spec/`` and ``validators/``; every line of the section's ``text``
blocks must appear in what it printed, and each test then checks what the person was after.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "walkthroughs.md"


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _walk(title: str, folder: Path) -> str:
    """Run a section's commands in ``folder``; what they printed (standard output and error)."""
    section = _section(title)
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert blocks, title
    shutil.copytree(REPO / "spec", folder / "spec")
    shutil.copytree(REPO / "validators", folder / "validators")
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "mhdeaths"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mhdeaths "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MHDEATHS_")}
    env |= {"PATH": f"{bin_dir}:{env['PATH']}", "COLUMNS": "200", "NO_COLOR": "1"}
    script = "set -e\n" + "\n".join(blocks)
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed
    assert "Traceback" not in printed
    for block in re.findall(r"```text\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            assert line in printed, (
                f"{title}: the page shows {line!r}, the tool printed:\n{printed}"
            )
    return printed


def test_the_providers_walkthrough(tmp_path: Path) -> None:
    printed = _walk("A provider's data team", tmp_path)
    assert "ACCEPTED  RZ9_2027-05.xlsx" in printed
    assert (tmp_path / "reports" / "RZ9_2027-05.report.html").is_file()


def test_the_analysts_walkthrough(tmp_path: Path) -> None:
    printed = _walk("A national analyst", tmp_path)
    tables = [
        list(csv.DictReader(io.StringIO(part)))
        for part in re.split(r"(?m)^(?=indicator,|death_date,)", printed)
        if part.startswith(("indicator,", "death_date,"))
    ]
    outliers, duplicates = tables
    assert ("deaths_within_7_days", "RZ2") in {(r["indicator"], r["provider"]) for r in outliers}
    assert duplicates and all(int(r["records"]) >= 2 for r in duplicates)
    assert "Recorded as benchmark run 2 in the warehouse." in printed  # the demo's was run 1
    index = (tmp_path / "out" / "monitoring-pack" / "index.html").read_text(encoding="utf-8")
    assert index.startswith("<!DOCTYPE html>") and "RESTRICTED:" in index
    assert 'class="alert"' not in index  # the examples plant no outlier the charts would see


def test_the_standards_teams_walkthrough(tmp_path: Path) -> None:
    printed = _walk("A standards team", tmp_path)
    assert "Needs a patch bump; the version numbers declare patch. OK" in printed
    assert "Recorded the checksums of 1.1.1" in printed
    assert (tmp_path / "published" / "template-1.1.1.xlsx").is_file()
    assert (tmp_path / "published" / "validator" / "bundle.json").is_file()

"""The Great Expectations snippet of docs/standards.md runs as written, and is the suite's usage.

An analyst copies the snippet from the docs; a snippet that drifted from GX's API, or from the
way the suite must be read, would fail them on the first line. So the test takes the code block
from the page itself and runs it in a fresh interpreter beside a published suite and a file.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mhdeaths.paths import default_docs_dir, examples_root
from mhdeaths.spec import load_spec
from mhdeaths.standard.publish.gx import usage, write_gx_suites

SPEC = load_spec("1.1.0")


def docs_snippet() -> str:
    page = (default_docs_dir() / "standards.md").read_text("utf-8")
    section = page.split("### Check a file with Great Expectations or frictionless", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match
    return match.group(1)


def test_the_docs_snippet_is_the_suites_usage() -> None:
    assert docs_snippet() == usage(SPEC.table("death"))


def test_the_docs_snippet_runs_and_names_the_failing_rule(tmp_path: Path) -> None:
    write_gx_suites(SPEC, tmp_path)
    example = examples_root() / "RZ1" / "RZ1_2027-10_death.csv"
    with example.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # The second record gets a record action no code list holds: GX must name that one rule.
    rows[1]["record_action"] = "Q"
    with (tmp_path / "death.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "snippet.py").write_text(docs_snippet(), "utf-8")
    done = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["death.code_list.record_action 1"]
    # And the unchanged example passes every expectation.
    shutil.copy(example, tmp_path / "death.csv")
    done = subprocess.run(
        [sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout == "", done.stderr[-2000:]

"""Imports point down the stages: spec → validation → warehouse → benchmarks → command line.

Each top-level module or package of ``mhdeaths`` belongs to one stage. A module may import its
own stage and the stages below it, never one above; so no cycle can form between stages, and a
stage can be read, tested and reused knowing only what lies beneath it (docs/development.md).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import mhdeaths

STAGES = [  # lowest first
    {"__init__", "errors", "settings", "steps", "paths", "periods", "limits", "output", "stats"},
    {"language"},
    {"spec"},
    {"guard"},
    {"engines"},
    {"standard"},
    {"validate"},
    {"warehouse"},
    {"synth"},
    {"benchmark"},
    {"jobs"},
    {"cli"},
    {"docsite", "__main__"},
]
LEVEL = {part: level for level, parts in enumerate(STAGES) for part in parts}
PACKAGE = Path(mhdeaths.__file__).parent


def imports(path: Path) -> set[str]:
    """The top-level ``mhdeaths`` parts a module imports (``__init__`` for ``__version__``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "mhdeaths":
            found |= {a.name if a.name in LEVEL else "__init__" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= _parts([node.module])
        elif isinstance(node, ast.Import):
            found |= _parts(alias.name for alias in node.names)
    return found


def _parts(names: Iterable[str]) -> set[str]:
    return {n.split(".")[1] for n in names if n.startswith("mhdeaths.")}


def test_every_import_points_down_the_stages() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        assert part in LEVEL, f"{part} belongs to no stage: add it to STAGES"
        upward += [
            f"{path.relative_to(PACKAGE)} imports mhdeaths.{target}"
            for target in imports(path)
            if LEVEL.get(target, len(STAGES)) > LEVEL[part]
        ]
    assert upward == []


def test_stats_stands_alone() -> None:
    # Published as a library of its own (docs/statistics.md): nothing else of mhdeaths comes in.
    for path in (PACKAGE / "stats").rglob("*.py"):
        assert imports(path) <= {"stats"}, path


def test_the_walk_sees_an_upward_import(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from mhdeaths.cli.app import main\nfrom mhdeaths import guard, __version__\n"
        "import mhdeaths.jobs.demo\n"
    )
    assert imports(planted) == {"cli", "guard", "__init__", "jobs"}

"""spec/README.md shows the language's functions as the function table defines them, never a
hand-kept copy: the committed section is what ``mhdeaths.docsite`` writes now."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mhdeaths import language as ex
from mhdeaths.docsite import REGENERATE, write_function_table
from mhdeaths.errors import SpecError
from mhdeaths.language.reference import BEGIN, END, function_table, with_function_table

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "spec" / "README.md"


def section(text: str) -> str:
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def test_the_committed_function_table_is_what_the_language_generates_now() -> None:
    text = README.read_text(encoding="utf-8")
    assert section(text) == function_table(), (
        f"spec/README.md's function table is out of date: regenerate it with `{REGENERATE}`."
    )


def test_the_markers_say_how_to_regenerate() -> None:
    assert REGENERATE in BEGIN


def test_every_function_has_a_row_with_its_signature_types_and_example() -> None:
    rows = function_table().splitlines()
    for fn in ex.FUNCTIONS.values():
        (row,) = [r for r in rows if r.startswith(f"| `{fn.signature}` |")]
        assert fn.result.value in row
        assert fn.example.expression in row


def test_a_stale_table_is_replaced_and_the_rest_of_the_readme_kept() -> None:
    stale = f"# Title\n\nBefore.\n\n{BEGIN}\n| `frobnicate(x)` | an old row |\n{END}\n\nAfter.\n"
    fresh = with_function_table(stale)
    assert "frobnicate" not in fresh
    assert fresh == f"# Title\n\nBefore.\n\n{function_table()}\n\nAfter.\n"
    assert with_function_table(fresh) == fresh


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(SpecError, match="no function table markers"):
        with_function_table("# Title\n\n| function | meaning |\n")


def test_docsite_rewrites_a_stale_table_in_place(tmp_path: Path) -> None:
    shutil.copy(README, tmp_path / "README.md")
    copy = tmp_path / "README.md"
    current = copy.read_text(encoding="utf-8")
    copy.write_text(current.replace(section(current), f"{BEGIN}\n| stale |\n{END}"), "utf-8")
    write_function_table(tmp_path)
    assert copy.read_text(encoding="utf-8") == current

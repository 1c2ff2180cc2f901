"""The warehouse describes itself: every view, table, column and table macro carries a comment.

An analyst asks the warehouse what a column means with ``duckdb_columns()``, so a column nobody
described is a gap a test must find, naming the column; and a description of a column, view or
field that no longer exists is stale, and fails too. The comments are checked in a warehouse made
by the real ``mhdeaths warehouse init`` and opened again afterwards (they are stored, not made on
opening); an upgrade from an earlier release is checked in test_warehouse_upgrade.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from mhdeaths.output.templating import md
from mhdeaths.paths import warehouse_root
from mhdeaths.warehouse.canonical import canonical_spec, load_canonical
from mhdeaths.warehouse.catalogue import (
    CATALOGUE_FILE,
    Catalogue,
    load_catalogue,
    table_macros,
    warehouse_objects,
)
from mhdeaths.warehouse.schema import upgrade

from ..functional.cli import mhdeaths

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalogue") / "warehouse.duckdb"
    run = mhdeaths("warehouse", "init", "--warehouse", path)
    assert run.code == 0, run.output
    return path


def catalogue(root: Path | None = None) -> Catalogue:
    model = load_canonical(root)
    return load_catalogue(model, canonical_spec(model), root)


def test_every_column_view_table_and_macro_of_a_new_warehouse_has_a_comment(
    initialised: Path,
) -> None:
    con = duckdb.connect(str(initialised), read_only=True)
    missing = con.execute(
        "SELECT table_name || '.' || column_name FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal AND coalesce(trim(comment), '') = '' "
        "ORDER BY ALL"
    ).fetchall()
    assert not missing, f"columns with no comment: {', '.join(m for (m,) in missing)}"
    objects = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main' "
        "UNION ALL SELECT view_name, comment FROM duckdb_views() "
        "WHERE schema_name = 'main' AND NOT internal"
    ).fetchall()
    assert len(objects) >= 40
    assert [name for name, comment in objects if not (comment or "").strip()] == []
    macros = con.execute(
        "SELECT function_name, comment FROM duckdb_functions() "
        "WHERE schema_name = 'main' AND NOT internal AND function_type = 'table_macro'"
    ).fetchall()
    assert "deaths_as_at" in dict(macros)
    assert [name for name, comment in macros if not (comment or "").strip()] == []


def test_a_spec_field_is_described_by_the_spec_and_names_its_field(initialised: Path) -> None:
    con = duckdb.connect(str(initialised), read_only=True)
    comments = dict(
        con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'deaths'"
        ).fetchall()
    )
    spec = canonical_spec(load_canonical())
    field = spec.table("death").field("discharge_date")
    assert comments["discharge_date"].startswith(f"{field.title}: ")
    assert f"(From death.discharge_date, spec {spec.version}.)" in comments["discharge_date"]
    assert "death_category code list" in comments["death_category"]
    # The pseudonym: canonical.yaml says what it holds; never a number.
    assert "pseudonym" in comments["nhs_number_pseudonym"]
    assert "legacy column" in comments["detention_group_1x"]
    # A column the view works out: from the catalogue.
    assert "counted" in comments["counted"].lower() and "From" not in comments["counted"]


def test_the_catalogue_describes_exactly_what_the_warehouse_has(initialised: Path) -> None:
    con = duckdb.connect(str(initialised), read_only=True)
    assert catalogue().problems(warehouse_objects(con), table_macros(con)) == []


def test_a_new_column_without_a_description_fails_naming_it() -> None:
    con = duckdb.connect()
    upgrade(con)
    con.execute(
        "CREATE VIEW deaths_by_mystery AS SELECT attributed_provider, 1 AS mystery FROM deaths"
    )
    problems = catalogue().problems(warehouse_objects(con), table_macros(con))
    assert any("deaths_by_mystery.mystery has no description" in p for p in problems), problems
    assert any("view deaths_by_mystery has no description" in p for p in problems), problems
    # The column it shares with deaths takes the shared description: not reported.
    assert not any("deaths_by_mystery.attributed_provider" in p for p in problems), problems


def edited_root(tmp_path: Path, edit: dict[str, object]) -> Path:
    """A copy of warehouse/ with the catalogue's sections updated by ``edit``."""
    root = tmp_path / "warehouse"
    shutil.copytree(warehouse_root(), root)
    path = root / CATALOGUE_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, entries in edit.items():
        for name, value in entries.items():  # type: ignore[attr-defined]
            entry = data[section].get(name)
            if isinstance(value, dict) and isinstance(entry, dict):
                columns = {**entry.get("columns", {}), **value.get("columns", {})}
                data[section][name] = {**entry, **value, "columns": columns}
            else:
                data[section][name] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


def test_a_stale_entry_fails_naming_it(tmp_path: Path) -> None:
    root = edited_root(
        tmp_path,
        {
            "columns": {"retired_measure": "A column no view has any more."},
            "views": {
                "deaths_by_age": {"description": "A view that was dropped."},
                "deaths": {"columns": {"no_such_column": "Gone.", "counted": "Counted."}},
            },
            "tables": {"submission_file": {"fields": ["no_such_table"]}},
            "macros": {"gone_as_at": "A macro that was dropped."},
        },
    )
    con = duckdb.connect()
    upgrade(con, root=root)
    problems = catalogue(root).problems(warehouse_objects(con), table_macros(con))
    for stale in (
        "column retired_measure",
        "view deaths_by_age",
        "deaths.no_such_column",
        "no_such_table",
        "table macro gone_as_at",
    ):
        assert any(stale in p for p in problems), (stale, problems)
    assert len(problems) == 5, problems


def test_a_changed_description_reaches_the_warehouse_on_its_next_opening(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    assert upgrade(con).views_rewritten
    assert not upgrade(con).views_rewritten  # nothing changed: the comments are not made again
    con.close()
    root = edited_root(tmp_path, {"views": {"deaths": {"columns": {"counted": "Counted once."}}}})
    con = duckdb.connect(str(path))
    assert upgrade(con, root=root).views_rewritten
    ((comment,),) = con.execute(
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'deaths' "
        "AND column_name = 'counted'"
    ).fetchall()
    assert comment == "Counted once."


def test_the_reference_page_lists_every_view_table_and_column(initialised: Path) -> None:
    page = (ROOT / "docs" / "reference" / "warehouse.md").read_text(encoding="utf-8")
    con = duckdb.connect(str(initialised), read_only=True)
    for obj in warehouse_objects(con):
        section = page.split(f'<a id="{obj.kind}-{obj.name}"></a>', 1)
        assert len(section) == 2, f"{obj.kind} {obj.name} is not on the page"
        body = section[1].split("<a id=", 1)[0]
        for column in obj.columns:
            assert f"| `{column.name}` | {md(column.type)} |" in body, (obj.name, column.name)
    for name in table_macros(con):
        assert f"| `{name}` |" in page, name

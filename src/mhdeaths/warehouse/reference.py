"""The warehouse's reference page: every view, table and table macro, with every column's type and
meaning, for an analyst who reads the site rather than ``duckdb_columns()``.

Rendered from a new warehouse made in memory by this release (so the columns and types are what
DuckDB itself reports) and from the same catalogue the warehouse's comments come from, so the page
and the comments cannot disagree. The docs site writes it as ``docs/reference/warehouse.md``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mhdeaths.output.templating import md, mdcode
from mhdeaths.spec import available_versions
from mhdeaths.standard.publish.dictionary import field_anchor
from mhdeaths.warehouse.catalogue import (
    Catalogue,
    Description,
    WarehouseObject,
    load_catalogue,
    table_macros,
    warehouse_objects,
)

ASK = "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = 'deaths'"
"""How an analyst asks the warehouse itself what a view's columns mean."""


def warehouse_page(spec_root: Path | None = None) -> str:
    """The page, from a warehouse made now in memory."""
    from mhdeaths.warehouse.canonical import canonical_spec, load_canonical
    from mhdeaths.warehouse.schema import upgrade

    con = duckdb.connect()
    try:
        upgrade(con, spec_root)
        model = load_canonical()
        catalogue = load_catalogue(model, canonical_spec(model, spec_root))
        return render(catalogue, warehouse_objects(con), table_macros(con))
    finally:
        con.close()


def render(catalogue: Catalogue, objects: list[WarehouseObject], macros: set[str]) -> str:
    views = sorted((o for o in objects if o.kind == "view"), key=lambda o: o.name)
    tables = sorted((o for o in objects if o.kind == "table"), key=lambda o: o.name)
    lines = [
        "# The warehouse's views and tables",
        "",
        "Every view and table of the warehouse (`mhdeaths warehouse init` makes them), what it",
        "holds, and every column with its type and meaning. The warehouse carries the same",
        "descriptions as DuckDB comments, so a query can ask it directly:",
        "",
        "```sql",
        ASK + ";",
        "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal;",
        "SELECT table_name, comment FROM duckdb_tables();",
        "```",
        "",
        "A column that is a field of the spec says which field, linked to the data dictionary;",
        "pseudonym and legacy columns are described by `warehouse/canonical.yaml`; everything",
        "else by `warehouse/catalogue.yaml`. Read the views: the tables hold every record as",
        "submitted, superseded and withdrawn ones included, and the views apply the record",
        "actions, the attribution and the linkage. A view with an `_as_at` macro can be asked as",
        "it stood at any time (`SELECT * FROM deaths_as_at(TIMESTAMP '2027-06-30 23:59:59')`):",
        "the macro gives the view's columns, described here under the view (a macro carries no",
        "column comments).",
        "",
        "## Views",
        "",
        "| View | What it holds |",
        "|---|---|",
        *(
            f"| [{mdcode(v.name)}](#{_anchor(v)}) | {md(_first_sentence(v, catalogue))} |"
            for v in views
        ),
        "",
        "## Tables",
        "",
        "| Table | What it holds |",
        "|---|---|",
        *(
            f"| [{mdcode(t.name)}](#{_anchor(t)}) | {md(_first_sentence(t, catalogue))} |"
            for t in tables
        ),
    ]
    for heading, group in (("Views", views), ("Tables", tables)):
        lines += ["", f"## {heading} in full"]
        for obj in group:
            lines += _section(catalogue, obj, macros)
    lines += [
        "",
        '<a id="macros"></a>',
        "",
        "## Table macros",
        "",
        "Each takes a time `t` (a `TIMESTAMP`) and gives rows as they stood then; the current view",
        "of the same name asks as at `TIMESTAMP 'infinity'`.",
        "",
        "| Macro | What it gives |",
        "|---|---|",
        *(
            f"| {mdcode(name)} | {md(catalogue.data.macros.get(name, ''))} |"
            for name in sorted(macros)
        ),
    ]
    return "\n".join(lines) + "\n"


def _anchor(obj: WarehouseObject) -> str:
    return f"{obj.kind}-{obj.name}"


def _first_sentence(obj: WarehouseObject, catalogue: Catalogue) -> str:
    text = " ".join((catalogue.describe_object(obj.name) or "").split())
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


def _section(catalogue: Catalogue, obj: WarehouseObject, macros: set[str]) -> list[str]:
    lines = [
        "",
        f'<a id="{_anchor(obj)}"></a>',
        "",
        f"### {mdcode(obj.name)}",
        "",
        md(catalogue.describe_object(obj.name)),
    ]
    as_at = f"{obj.name}_as_at"
    if as_at in macros:
        lines += [
            "",
            f"As at a time: {mdcode(as_at + '(t)')}, the same columns ([macros](#macros)).",
        ]
    lines += ["", "| Column | Type | Description | Source |", "|---|---|---|---|"]
    for column in obj.columns:
        found = catalogue.describe_column(obj.name, column.name)
        text = found.text if found else ""
        lines.append(
            f"| {mdcode(column.name)} | {md(column.type)} | {md(text)} | {_source(found)} |"
        )
    return lines


def _source(found: Description | None) -> str:
    """The spec field a column comes from, linked to its data dictionary."""
    if found is None or found.field is None:
        return md(found.source) if found else ""
    spec, table, name = found.field
    if spec.feed:
        page = f"feeds/{spec.feed}-{spec.version}.md"
    else:
        newest = available_versions(spec.path.parent)[-1]
        page = "dictionary.md" if spec.version == newest else f"dictionary-{spec.version}.md"
    rest = found.source.removeprefix(f"{table}.{name}")
    return f"[{mdcode(f'{table}.{name}')}]({page}#{field_anchor(table, name)}){md(rest)}"

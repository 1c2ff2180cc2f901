"""Do two runs of the demo give the same outputs? For a change meant to alter no behaviour.

    bash scripts/demo.sh /tmp/before          # on main
    bash scripts/demo.sh /tmp/after           # on your branch
    uv run --frozen python scripts/same_outputs.py /tmp/before /tmp/after

Every published file (spec artefacts, validation reports, benchmark outputs) must be the same
bytes. The warehouse file cannot be: it records when each submission was received and loaded and
DuckDB lays out its blocks as it likes; so each of its tables is compared by its rows, without the
columns of time. Prints one line per difference and exits 1 if there is any.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import duckdb


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".duckdb"
    }


def tables(warehouse: Path) -> dict[str, str]:
    """Each table's rows, without its time columns, as one digest (row order ignored)."""
    digests = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column, kind in con.sql(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND NOT internal ORDER BY table_name, column_index"
        ).fetchall():
            if not kind.startswith("TIMESTAMP"):
                columns.setdefault(table, []).append(f'"{column}"')
        for table, kept in columns.items():
            rows = sorted(map(repr, con.sql(f'SELECT {", ".join(kept)} FROM "{table}"').fetchall()))
            digests[table] = (
                f"{len(rows)} rows, " + hashlib.sha256("\n".join(rows).encode()).hexdigest()
            )
    return digests


def main(before: Path, after: Path) -> int:
    differences = []
    old, new = files(before), files(after)
    for name in sorted(old.keys() | new.keys()):
        if name not in new or name not in old:
            differences.append(f"{name}: only in {before if name in old else after}")
        elif old[name] != new[name]:
            differences.append(f"{name}: different bytes")
    old_tables, new_tables = (
        tables(p) for p in (before / "warehouse.duckdb", after / "warehouse.duckdb")
    )
    for table in sorted(old_tables.keys() | new_tables.keys()):
        if old_tables.get(table) != new_tables.get(table):
            differences.append(
                f"warehouse table {table}: {old_tables.get(table)} -> {new_tables.get(table)}"
            )
    print(*differences, sep="\n") if differences else print(
        f"The same: {len(old)} files byte for byte, {len(old_tables)} warehouse tables row for row."
    )
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))

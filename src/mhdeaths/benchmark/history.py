"""Every benchmark run, and the figures it published, kept in the warehouse.

"Which providers are outliers this quarter, and which have been for a year?" was a question for
the published CSVs, one file per run. Recording each run's released rows in the warehouse
(``benchmark_run`` and ``benchmark_result``, migration 0007) makes it SQL. What is recorded is what
was published, cell for cell: a withheld cell is NULL with the row's ``withheld`` set, so the
table can never tell more than the publication did.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from mhdeaths import __version__
from mhdeaths.benchmark.compute import Benchmarks
from mhdeaths.benchmark.disclosure_control import ROW_COLUMNS, Cell, Released
from mhdeaths.stats.disclosure import SUPPRESSED
from mhdeaths.warehouse.schema import upgrade
from mhdeaths.warehouse.store import connect, rollback

_TEXTS = ("band_95", "band_998", "note")
_NUMBERS = tuple(c for c in ROW_COLUMNS[3:] if c not in (*_TEXTS, "caution"))
"""The released row's numeric cells, in the CSV's order (after indicator, window, provider)."""


def record_run(
    warehouse: Path, benchmarks: Benchmarks, released: Released, spec_root: Path | None = None
) -> int:
    """Add the run and its released rows to the warehouse in one transaction; its run id.

    The warehouse is brought up to date first, as every opening for writing does (a warehouse
    last written by an older release has no ``benchmark_run`` table yet)."""
    rows = [_row(r) for r in released.rows]
    with connect(warehouse) as con:
        upgrade(con, spec_root)
        con.execute("BEGIN TRANSACTION")
        try:
            found = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM benchmark_run").fetchone()
            run_id = int(found[0]) if found else 1
            con.execute(
                "INSERT INTO benchmark_run VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    benchmarks.period,
                    benchmarks.as_at,
                    released.rule.name,
                    benchmarks.definitions.version,
                    __version__,
                    len(released.indicators),
                    len(benchmarks.providers),
                ],
            )
            columns = ("indicator", "window", "provider", *_NUMBERS, *_TEXTS[:2])
            names = ", ".join(f'"{c}"' for c in (*columns, "withheld", "caution", "note"))
            marks = ", ".join("?" for _ in range(len(columns) + 3))
            con.executemany(
                f"INSERT INTO benchmark_result (run_id, {names}) VALUES (?, {marks})",
                [[run_id, *row] for row in rows],
            )
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            raise
    return run_id


def _row(released: dict[str, Cell]) -> list[object]:
    withheld = any(released.get(c) == SUPPRESSED for c in ROW_COLUMNS)
    return [
        str(released["indicator"]),
        str(released["window"]),
        str(released["provider"]),
        *(_number(released.get(c)) for c in _NUMBERS),
        *(_text(released.get(c)) for c in _TEXTS[:2]),
        withheld,
        bool(released.get("caution")),
        _text(released.get("note")),
    ]


def _number(cell: Cell) -> float | None:
    if isinstance(cell, bool) or not isinstance(cell, int | float):
        return None
    return float(cell) if math.isfinite(cell) else None


def _text(cell: Cell) -> str | None:
    if cell is None or cell == SUPPRESSED or cell == "":
        return None
    return str(cell)

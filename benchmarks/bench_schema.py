"""Benchmark: bringing the warehouse schema up to date (`mhdeaths warehouse init` and every open
for writing), as a test suite or a load does it, in one process after a warm-up.

Three measurements, median of --runs: a new warehouse file (migrations, views, column comments,
derivation), an open of a current one (nothing to do but check), and the column comments alone
(the batch of COMMENT ON statements run whenever the views are written again).

    uv run python benchmarks/bench_schema.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from mhdeaths.warehouse.schema import upgrade


def comment_batch(con: duckdb.DuckDBPyConnection) -> str:
    from mhdeaths.warehouse.canonical import canonical_spec, load_canonical
    from mhdeaths.warehouse.catalogue import load_catalogue
    from mhdeaths.warehouse.schema import comments_sql

    model = load_canonical()
    return comments_sql(con, load_catalogue(model, canonical_spec(model)))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def new(i: int) -> None:
            con = duckdb.connect(str(folder / f"w{i}.duckdb"))
            upgrade(con)
            con.close()

        def reopen() -> None:
            con = duckdb.connect(str(folder / "w0.duckdb"))
            upgrade(con)
            con.close()

        new(0)  # warm-up: imports, spec loads
        fresh = [timed(lambda i=i: new(i)) for i in range(1, args.runs + 1)]
        again = [timed(reopen) for _ in range(args.runs)]
        con = duckdb.connect(str(folder / "w0.duckdb"))
        sql = comment_batch(con)
        # As upgrade runs it: inside the transaction that writes the views.
        comments = [
            timed(lambda: con.execute("BEGIN TRANSACTION").execute(sql).execute("COMMIT"))
            for _ in range(args.runs)
        ]
        con.close()
    print(f"new warehouse: {statistics.median(fresh) * 1000:.0f} ms")
    print(f"open current:  {statistics.median(again) * 1000:.1f} ms")
    print(f"comments:      {statistics.median(comments) * 1000:.0f} ms")


if __name__ == "__main__":
    main()

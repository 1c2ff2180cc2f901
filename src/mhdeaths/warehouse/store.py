"""Where the warehouse lives and how it is opened.

The warehouse is one DuckDB file, so a new user needs no server. DuckDB lets one process at a time
open a file for writing; a second one gets a clear "busy" sentence here rather than DuckDB's own.
This module imports nothing but DuckDB, so that `status` and `query` start quickly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from mhdeaths.errors import WarehouseBusy, WarehouseError
from mhdeaths.output.storage_errors import refusal
from mhdeaths.settings import path_setting

DEFAULT_PATH = Path("mhdeaths.duckdb")
"""In the current folder, unless --warehouse or $MHDEATHS_WAREHOUSE says otherwise."""

_LOCKED = re.compile(r"Conflicting lock is held in .*\(PID (\d+)\)")


def default_path() -> Path:
    """The warehouse when --warehouse is not given: the ``warehouse`` setting, else ./mhdeaths.duckdb."""
    return path_setting("warehouse") or DEFAULT_PATH


@contextmanager
def connect(
    path: Path, *, read_only: bool = False, external: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file, closed on leaving. ``external=False`` denies the SQL
    any file or network access beyond the warehouse itself (for analysts' queries)."""
    if read_only and not path.is_file():
        raise WarehouseError(
            f"There is no warehouse at {path}: make one with `mhdeaths warehouse init`, "
            "or name it with --warehouse or $MHDEATHS_WAREHOUSE."
        )
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"The folder for the warehouse {path} cannot be made: {exc.strerror}."
            ) from None
    config: dict[str, str | bool | int | float | list[str]] = {}
    if not external:
        config = {"enable_external_access": False}
    new = not path.exists()
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if not read_only and refusal(exc) is not None:
            if new:
                # An empty file left by a full disk is no DuckDB file: the next init would
                # refuse it.
                for made in (path, Path(f"{path}.wal")):
                    with suppress(OSError):
                        if made.stat().st_size == 0:
                            made.unlink()
            raise  # a full disk or a refused write: the command says so in one sentence
        locked = _LOCKED.search(str(exc))
        if locked:
            raise WarehouseBusy(
                f"The warehouse {path} is busy: process {locked[1]} has it open (a load, "
                "perhaps); nothing was done, try again when it finishes."
            ) from None
        raise WarehouseError(f"The warehouse {path} cannot be opened: {first_line(exc)}") from None
    except duckdb.Error as exc:
        raise WarehouseError(
            f"{path} cannot be opened as a warehouse (is it a DuckDB file?): {first_line(exc)}"
        ) from None
    if new and not read_only:
        # The command's umask (077) makes it so already; a program calling the library with its
        # own umask gets the same for the file (its WAL follows that program's umask).
        with suppress(OSError):
            path.chmod(0o600)
    # DuckDB's own progress bar would write over the tool's output.
    con.execute("SET enable_progress_bar = false")
    if not external:
        con.execute("SET lock_configuration = true")
    try:
        yield con
    except BaseException:
        # After a fatal error (a full disk during a checkpoint) closing fails too; the error
        # that caused it is the one to report, and DuckDB's WAL keeps the file as it was.
        with suppress(duckdb.Error):
            con.close()
        raise
    con.close()


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if there is still one to roll back: a failed COMMIT has
    already ended it, and a fatal error (a full disk during a checkpoint) invalidates the
    database; the caller re-raises the error that caused either, which this must not hide."""
    with suppress(duckdb.Error):
        con.execute("ROLLBACK")


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Every base table's columns and types, as DuckDB reports them."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE NOT internal AND schema_name = 'main' AND table_name IN "
        "(SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main') "
        "ORDER BY table_name, column_index"
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, {})[column] = kind
    return tables

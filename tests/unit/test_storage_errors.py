"""The sentence for a refused write names only what the user typed, and finds the refusal however
deep DuckDB or the code above it buried it."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mhdeaths.output.storage_errors import (
    Refusal,
    named_place,
    out_of_memory,
    refusal,
    storage_error,
)

NAMES = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='/"'),
    min_size=1,
    max_size=12,
)


@given(typed=st.lists(NAMES, min_size=1, max_size=3), below=st.lists(NAMES, min_size=1, max_size=3))
def test_the_sentence_names_the_folder_typed_never_the_file_below_it(
    typed: list[str], below: list[str]
) -> None:
    folder = os.path.join("out", *typed)
    failed = os.path.join(os.path.abspath(folder), *[f"secret-{b}" for b in below])
    exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), failed)
    mapped = storage_error(exc, [folder], "kept")
    assert mapped is not None
    text = str(mapped)
    assert f"for {folder}:" in text
    assert "secret-" not in text
    assert text.endswith("; kept.")


def test_the_nearest_folder_typed_is_named_and_the_wal_is_its_warehouse() -> None:
    assert named_place("/a/b/c/file.json", ["/a", "/a/b"]) == "/a/b"
    assert named_place("w.duckdb.wal", ["w.duckdb"]) == "w.duckdb"
    assert named_place("/elsewhere/x", ["/a"]) is None
    assert named_place(None, ["/a"]) is None


@pytest.mark.parametrize(
    ("code", "start"),
    [
        (errno.ENOSPC, "There is no space left on the device for x"),
        (errno.EDQUOT, "The disk quota is used up for x"),
        (errno.EFBIG, "A file of x would grow past"),
        (errno.EROFS, "The file system of x is read-only"),
        (errno.EACCES, "Permission is denied for x"),
        (errno.EPERM, "The operation is not permitted for x"),
    ],
)
def test_each_refusal_is_found_under_the_errors_it_caused(code: int, start: str) -> None:
    """DuckDB's ROLLBACK after a failed COMMIT raised over the refusal; the chain still holds it."""
    duck = duckdb.IOException(f'IO Error: Could not write file "x": {os.strerror(code)}')
    try:
        try:
            raise duck
        except duckdb.Error:
            raise duckdb.TransactionException("cannot rollback - no transaction is active")  # noqa: B904
    except duckdb.Error as outer:
        found = refusal(outer)
        assert found is not None and found.code == code and found.filename == "x"
        mapped = storage_error(outer, ["x"])
        assert mapped is not None and str(mapped).startswith(start), mapped
        assert mapped.exit_code == 2


def test_polars_refusals_are_found_by_their_os_error_number() -> None:
    """Polars gives an OSError without errno, or its own ComputeError, numbered in the text."""
    assert refusal(OSError("No space left on device (os error 28)")) == Refusal(errno.ENOSPC, None)
    computed = pl.exceptions.ComputeError("parquet: underlying IO error: (os error 30)")
    assert refusal(computed) == Refusal(errno.EROFS, None)


def test_other_errors_are_not_refusals() -> None:
    assert refusal(OSError(errno.ENOENT, "No such file or directory", "x")) is None
    assert refusal(ValueError("No space left on device")) is None  # not the OS, not DuckDB
    assert refusal(duckdb.ConversionException("Could not convert")) is None


def test_duckdbs_out_of_memory_is_found_under_the_abort_it_causes() -> None:
    """DuckDB out of memory aborts the transaction; the error a loader then meets is the abort."""
    con = duckdb.connect()
    con.execute("SET memory_limit = '8MB'; SET threads = 1")
    con.execute("BEGIN")
    with pytest.raises(duckdb.Error) as caught:
        try:
            con.execute("SELECT list(range) FROM range(10000000)").fetchall()
        except duckdb.OutOfMemoryException:
            con.execute("SELECT 1")  # the transaction is aborted now
    assert isinstance(caught.value.__context__, duckdb.OutOfMemoryException)
    mapped = out_of_memory(caught.value, "nothing was changed in the warehouse")
    assert mapped is not None and mapped.exit_code == 2
    assert str(mapped).startswith("The command ran out of memory")
    assert str(mapped).endswith("; nothing was changed in the warehouse.")
    assert out_of_memory(MemoryError()) is not None
    assert out_of_memory(ValueError("no")) is None


def test_a_thread_that_cannot_start_under_a_memory_cap_is_out_of_memory() -> None:
    """Under a memory cap a thread's stack may be the allocation that fails: CPython then raises a
    RuntimeError, which a load met in CI as a traceback. Made for real in a capped process."""
    script = (
        "import resource, threading\n"
        "resource.setrlimit(resource.RLIMIT_AS, (256 * 2**20, 256 * 2**20))\n"
        "stop = threading.Event()\n"
        "try:\n"
        "    for _ in range(10_000):\n"
        "        threading.Thread(target=stop.wait, daemon=True).start()\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
        "stop.set()\n"
    )
    said = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    mapped = out_of_memory(RuntimeError(said), "the rest was not loaded")
    assert mapped is not None, said
    assert str(mapped).startswith("The command ran out of memory")
    assert out_of_memory(RuntimeError("something else")) is None

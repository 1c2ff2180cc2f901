"""A write the file system refuses (a full disk, a read-only folder, no permission), as one sentence.

Any command can meet a full disk or a folder it may not write, anywhere below it: Python raises
``OSError``, DuckDB its own ``IOException``, ``TransactionException`` or (when a checkpoint fails)
``FatalException``, each with the operating system's words in its message. None of these is a bug
the user could report usefully, and a traceback would name files the user never typed; so the
command maps them all here to one sentence (what the file system refused, where, what to do) and
exit code 2. Where is only ever a path the user gave (or a default of the command, such as
``out/benchmarks``): the file that failed may be named from a submission's values, so it is shown
as the nearest folder the user named, or not at all.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mhdeaths.errors import OutputError, UserError

_REFUSALS = {
    errno.ENOSPC: ("There is no space left on the device for {where}", "free some space"),
    errno.EDQUOT: ("The disk quota is used up for {where}", "free some space or raise the quota"),
    errno.EFBIG: (
        "A file of {where} would grow past the largest file size allowed",
        "raise the file size limit (ulimit -f) or write somewhere else",
    ),
    errno.EROFS: ("The file system of {where} is read-only", "choose a folder you can write to"),
    errno.EACCES: (
        "Permission is denied for {where}",
        "ask for access, or choose a folder you may write to,",
    ),
    errno.EPERM: (
        "The operation is not permitted for {where}",
        "ask for access, or choose a folder you may write to,",
    ),
}
"""Each refusal the file system can give a write: the sentence's start, and what to do."""

_STRERRORS = {os.strerror(code): code for code in _REFUSALS}
"""The operating system's words for each refusal, as DuckDB quotes them in its messages."""

_QUOTED_PATH = re.compile(r'(?:file|directory) "([^"]+)"')
_RUST_ERRNO = re.compile(r"\(os error (\d+)\)")
"""How polars (Rust) gives the error number, in its message rather than ``errno``."""
_WRAPPERS = {"duckdb", "_duckdb", "polars", "xlsxwriter", "pyarrow"}
"""Libraries that raise their own exception for the file system's refusal, naming it in words."""


class StorageError(OutputError):
    """The file system refused a write: full, read-only or not permitted (exit 2)."""


class OutOfMemory(UserError):
    """The machine could not give the command the memory it needed (exit 2)."""


def out_of_memory(exc: BaseException, kept: str | None = None) -> OutOfMemory | None:
    """The ``OutOfMemory`` to raise in place of ``exc`` when it, or an exception it interrupted,
    is Python's or DuckDB's out-of-memory error (DuckDB then aborts the transaction, and the
    error the command meets is the abort); None otherwise."""
    for link in _chain(exc):
        duckdb_oom = type(link).__name__ == "OutOfMemoryException" and type(
            link
        ).__module__.partition(".")[0] in {"duckdb", "_duckdb"}
        # A thread's stack is memory too: under a memory cap, starting one fails with this
        # RuntimeError where the allocation it precedes would have raised MemoryError.
        no_thread = isinstance(link, RuntimeError) and str(link) == "can't start new thread"
        if isinstance(link, MemoryError) or duckdb_oom or no_thread:
            return OutOfMemory(
                "The command ran out of memory: give it more (close other programs, or raise the "
                "process's memory limit) or send the submission in smaller files, and run it "
                "again" + (f"; {kept}." if kept else ".")
            )
    return None


@dataclass(frozen=True)
class Refusal:
    """What the file system refused: the error number and, when known, the file it refused."""

    code: int
    filename: str | None


def refusal(exc: BaseException) -> Refusal | None:
    """The file system's refusal behind an exception (itself, its cause or the exception it
    interrupted), or None when the exception is something else."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in _REFUSALS:
            name = link.filename if isinstance(link.filename, str | bytes | os.PathLike) else None
            return Refusal(link.errno, os.fsdecode(name) if name is not None else None)
        if isinstance(link, OSError) or type(link).__module__.partition(".")[0] in _WRAPPERS:
            text = str(link)
            quoted = _QUOTED_PATH.search(text)
            numbered = _RUST_ERRNO.search(text)
            if numbered and int(numbered[1]) in _REFUSALS:
                return Refusal(int(numbered[1]), quoted[1] if quoted else None)
            for words, code in _STRERRORS.items():
                if words in text:
                    return Refusal(code, quoted[1] if quoted else None)
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        todo += [e for e in (link.__cause__, link.__context__) if e is not None]


def named_place(filename: str | None, named: Iterable[str]) -> str | None:
    """The path the user named (as they wrote it) that holds ``filename``: the nearest folder or
    the file itself (a DuckDB file's .wal and .tmp count as the file); None when none does."""
    if not filename:
        return None
    failed = os.path.abspath(filename)
    best: tuple[int, str] | None = None
    for given in named:
        if not given:
            continue
        whole = os.path.abspath(given)
        holds = failed == whole or failed.startswith(whole.rstrip(os.sep) + os.sep)
        holds = holds or failed in {whole + ".wal", whole + ".tmp"}
        if holds and (best is None or len(whole) > best[0]):
            best = (len(whole), given)
    return best[1] if best else None


def sentence(found: Refusal, where: str | None, kept: str | None) -> str:
    """One sentence: what was refused where, what to do, and (``kept``) what stayed as it was."""
    start, advice = _REFUSALS[found.code]
    place = where if where is not None else "the files this command writes"
    return f"{start.format(where=place)}: {advice} and run the command again" + (
        f"; {kept}." if kept else "."
    )


def storage_error(
    exc: BaseException,
    named: Iterable[str],
    kept: str | None = None,
    fallback: str | None = None,
) -> StorageError | None:
    """The ``StorageError`` to raise in place of ``exc``, or None when ``exc`` is not the file
    system refusing a write. ``fallback`` is where the command writes, named when the refusal
    does not say which file it was (a write to an open file names none)."""
    found = refusal(exc)
    if found is None:
        return None
    where = named_place(found.filename, named)
    return StorageError(sentence(found, where if where is not None else fallback, kept))

"""The entry point, ``read_file``, and the thread that starts reading files ahead of it.

A command can start its files reading (``read_ahead``) while it imports what else it needs;
``read_file`` then takes the result rather than reading again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import TypeVar

from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.validate.reading.formats import _read
from mhdeaths.validate.reading.source import SourceFile

T = TypeVar("T")

_AHEAD: dict[Path, Future[SourceFile]] = {}
"""Files being read ahead, until ``read_file`` takes them."""


def read_ahead(paths: Sequence[Path]) -> None:
    """Start reading files on a thread, as ``read_file`` does when the encoding and delimiter are
    detected, so that a command can import what else it needs meanwhile: ``read_file`` then
    takes the result (or raises the error) rather than reading again.

    The thread is a daemon: a command that stops before reading its files does not wait for it.
    """
    ahead: dict[Path, Future[SourceFile]] = {path: Future() for path in paths}
    _AHEAD.update(ahead)

    def run() -> None:
        futures = list(ahead.items())
        for n, (path, future) in enumerate(futures):
            fill(future, partial(_read, path, None, None, DEFAULT_LIMITS))
            if future.exception() is not None:
                # A refused file ends the command: read no further ahead (``read_file`` reads a
                # file it still wants itself).
                for _, rest in futures[n + 1 :]:
                    rest.set_exception(_NotReadAhead())
                return

    threading.Thread(target=run, name="mhdeaths-read-ahead", daemon=True).start()


class _NotReadAhead(Exception):
    """The file was not read ahead, because one before it was refused."""


def fill(future: Future[T], call: Callable[[], T]) -> None:
    """Give the future the call's result, or its exception (which ``result()`` raises again where
    the result is wanted, as if the call had been made there)."""
    try:
        future.set_result(call())
    except BaseException as exc:
        future.set_exception(exc)


def read_file(
    path: Path,
    encoding: str | None = None,
    delimiter: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> SourceFile:
    """Read a submission file of any supported format, within the limits (see mhdeaths.limits)."""
    ahead = _AHEAD.pop(path, None)
    if ahead is not None and encoding is None and delimiter is None and limits == DEFAULT_LIMITS:
        try:
            return ahead.result()
        except _NotReadAhead:
            pass
    return _read(path, encoding, delimiter, limits)

"""The log of what the library did and how long each step took, for ``mhdeaths -v``.

A data team whose month takes ten minutes to load, or an analyst whose benchmark run slowed,
needs to see which step took the time without a profiler. The library never prints (the command
line does), so it logs through the standard ``logging`` module under ``mhdeaths``; the command
shows the log only with ``--verbose``. A step's message names tables, counts and rule or
indicator ids, never a file's name or a value from it (those are shown through the guard).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("mhdeaths")


@contextmanager
def step(what: str) -> Iterator[None]:
    """Log ``what`` with the seconds it took, once it has finished (not when it fails: the error
    says what happened)."""
    if not log.isEnabledFor(logging.INFO):
        yield
        return
    started = time.perf_counter()
    yield
    log.info("%s (%.2f s)", what, time.perf_counter() - started)

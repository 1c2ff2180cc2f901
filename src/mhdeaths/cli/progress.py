"""A progress bar for the commands that take minutes: run over an inbox, load, load-feed.

A receiving team loading a year of submissions sees one line per submission as each is done, but
not how many remain. The bar shows that on a terminal, on standard error beside the lines (which
still go to standard output, whole); it is off when standard error is not a terminal (a script,
a log file, CI) and with ``--quiet``, so what a program reads never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mhdeaths.cli.common import err, out


@contextmanager
def progress_bar(what: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A bar counting ``what`` up to ``total`` (a running count when None); yields the function
    that advances it by one."""
    if out.quiet or not err.is_terminal:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TimeElapsedColumn(), TimeRemainingColumn()] if total else [TimeElapsedColumn()]
    with Progress(*columns, console=err.console, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda: bar.advance(task)

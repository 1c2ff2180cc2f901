"""Output folders: made with one clear sentence when they cannot be, and no write outside them.

A file name may come from someone else's data (a submission's provider and period, a provider
code in the benchmarks), so every writer checks that the file it is about to write lies directly
in its output folder: a name with a path in it, or a link planted there to elsewhere, is refused.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from mhdeaths.errors import OutputError


def make_folder(folder: Path, what: str) -> Path:
    """The folder, made if need be; an ``OutputError`` in one sentence when it cannot be (a file
    is in the way, or a folder above it is not writable)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"The {what} cannot be written to {folder}: {exc.strerror}.") from None
    return folder


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, once it is certain that the file lies directly in the folder (``name``
    is one plain file name, and no link leads it elsewhere); else an ``OutputError``."""
    path = folder / name
    plain = name not in {"", ".", ".."} and Path(name).name == name and "\\" not in name
    try:
        base = folder.resolve()
        target = path.resolve()
    except (OSError, RuntimeError):
        plain = False
    if not plain or target.parent != base:
        raise OutputError(
            f"A file would be written outside {folder}, so nothing was written there; "
            "report this as a bug."
        )
    return path


STAGING = ".writing"
"""The folder inside an output folder where a whole set of files is written before it moves in."""


def write_whole(out: Path, what: str, write: Callable[[Path], list[Path]]) -> list[Path]:
    """Have ``write`` write a set of files into a staging folder inside ``out``, then move each
    into its place in ``out``; the paths in place, in ``write``'s order.

    A set written half-way (a full disk) must leave the previous one as it was, never a new JSON
    beside an old report with other cells, so nothing moves in until all is written. A page in
    ``out/providers`` that the new set does not hold is removed: an earlier run's page would
    contradict this one."""
    make_folder(out, what)
    staging = out / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what an interrupted run left
    try:
        staged = write(make_folder(staging, what))
        make_folder(out / "providers", "provider pages")
        final = [out / path.relative_to(staging) for path in staged]
        for source, target in zip(staged, final, strict=True):
            os.replace(source, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    pages = {p for p in final if p.parent == out / "providers"}
    for stale in set((out / "providers").glob("*.html")) - pages:
        stale.unlink()
    return final

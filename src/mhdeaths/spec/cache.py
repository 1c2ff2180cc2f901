"""What loading a spec version made, kept in the user's cache folder so the next process need not
make it again.

A data team validates a month's files again and again while it fixes them, and each run is a new
process. Reading a version's YAML and code lists into the frozen model, with its few hundred
generated rules, was a fifth of a one-month validation (importing the YAML parser alone, a
twentieth). What it makes is the same whenever its inputs are, so it is kept on disk under a key
made of every input: the bytes of every file read, the folder's own path (``Spec.path``), the
source of the code that reads and models them (the ``spec`` and ``language`` packages) and the
versions of Python, pydantic and PyYAML. Change any of them and the key changes: a kept result is
never an old reading of files that have changed since.

The cache is only ever a shortcut. A cache folder that cannot be made or written, a file that is
corrupt, truncated or of another format, or a file that another user could have written is
passed over in silence, and the files are read as if there were no cache. A spec is kept pickled
(the frozen models as they are: no validation to redo), with its expressions parsed, so a kept
file is unpickled only when it is the user's own and no one else can write it, in a folder made
for the user alone; the version headers are kept as JSON. ``MHDEATHS_CACHE_DIR`` names another
folder, or, set empty, turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import pydantic_core

from mhdeaths.settings import CACHE_ENV

FORMAT = "mhdeaths-spec-cache-2"
"""Part of every key: a change to what is kept, or how, starts afresh."""

KEPT = 24
"""The most files the folder keeps; writing one more removes the oldest (a test suite that loads
many temporary spec folders would otherwise fill it)."""

_CODE_PACKAGES = ("spec", "language")
"""The packages whose source decides what loading makes (the model, the loader, the expression
text a crosswalk is written out as)."""

T = TypeVar("T")


def cache_folder() -> Path | None:
    """Where kept results go: ``$MHDEATHS_CACHE_DIR``, else the platform's per-user cache folder
    (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``%LOCALAPPDATA%`` on Windows), under
    ``mhdeaths``; None when the variable is set empty or there is no home folder."""
    named = os.environ.get(CACHE_ENV)
    if named is not None:
        return Path(named) if named else None
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "mhdeaths" / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG rule: a relative value is ignored
        return Path(xdg) / "mhdeaths"
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "mhdeaths" if os.path.isabs(home) else None


def kept_spec(folder: Path, version: str, load: Callable[[], T]) -> T:
    """The spec version in ``folder``, as ``load`` makes it: from the cache when it holds what
    ``load`` would make of the files as they are now, else made and kept."""

    def dump(key: str, made: T) -> bytes:
        return pickle.dumps((key, made), protocol=pickle.HIGHEST_PROTOCOL)

    def undump(data: bytes) -> tuple[object, T]:
        kept_key, spec = pickle.loads(data)
        return kept_key, spec

    try:
        files = _folder_files(folder)
    except OSError:
        return load()
    name = f"spec-{_safe(version)}"
    return _kept("spec", name, "pickle", files, [str(folder)], load, dump, undump)


def kept_json(name: str, files: Sequence[Path], make: Callable[[], Any]) -> Any:
    """What ``make`` returns from ``files`` (a JSON value), kept under the files' bytes."""

    def dump(key: str, made: Any) -> bytes:
        return json.dumps({"key": key, "value": made}).encode()

    def undump(data: bytes) -> tuple[object, Any]:
        kept = json.loads(data)
        return (kept.get("key"), kept.get("value")) if isinstance(kept, dict) else (None, None)

    files_named = [(str(path), path) for path in files]
    return _kept(name, name, "json", files_named, [], make, dump, undump)


def _kept(
    kind: str,
    name: str,
    suffix: str,
    files: Sequence[tuple[str, Path]],
    more: Sequence[str],
    make: Callable[[], T],
    dump: Callable[[str, T], bytes],
    undump: Callable[[bytes], tuple[object, T]],
) -> T:
    """What ``make`` makes of ``files``: read back from the cache when a file there was kept under
    the same key, else made and kept (when it can be written down at all)."""
    where = cache_folder()
    if where is None:
        return make()
    try:
        key = _key(kind, files, more)
    except OSError:
        return make()
    path = where / f"{name}-{key}.{suffix}"
    data = _read(path)
    if data is not None:
        try:
            kept_key, value = undump(data)
        except Exception:  # corrupt, or another program's: read the files
            kept_key = None
        if kept_key == key:
            return value
    made = make()
    try:
        data = dump(key, made)
    except Exception:  # not picklable: simply not kept
        return made
    _write(where, path, data)
    return made


def _folder_files(folder: Path) -> list[tuple[str, Path]]:
    """Every file under a folder, by its path inside it, in a stable order."""
    found = []
    for top, dirs, names in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in sorted(names):
            path = Path(top, name)
            found.append((path.relative_to(folder).as_posix(), path))
    return found


def _key(kind: str, files: Iterable[tuple[str, Path]], more: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in (FORMAT, kind, *_environment(), *more):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for name, path in files:
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode("utf-8", "surrogateescape") + data)
    return digest.hexdigest()


@cache
def _environment() -> tuple[str, ...]:
    """What else a loaded spec depends on: Python, pydantic, PyYAML (found, not imported: the
    point is not to import it) and the source of the code that reads the files."""
    yaml = find_spec("yaml")
    origin = Path(yaml.origin) if yaml is not None and yaml.origin else None
    yaml_stamp = "none"
    if origin is not None and origin.is_file():
        st = origin.stat()
        yaml_stamp = f"{origin}:{st.st_size}:{st.st_mtime_ns}"
    code = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for part in _CODE_PACKAGES:
        for path in sorted((package / part).glob("*.py")):
            code.update(path.name.encode() + b"\0" + path.read_bytes())
    return (
        sys.version,
        pydantic.VERSION,
        pydantic_core.__version__,
        yaml_stamp,
        code.hexdigest(),
    )


def _read(path: Path) -> bytes | None:
    """A kept file's bytes, if it is a regular file of this user's that no one else can write."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fh.fileno())
            if not _own(st):
                return None
            return fh.read()
        except OSError:
            return None


def _own(st: os.stat_result) -> bool:
    if not stat.S_ISREG(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    uid = getattr(os, "geteuid", None)
    return uid is None or st.st_uid == uid()


def _write(where: Path, path: Path, data: bytes) -> None:
    """Keep ``data`` at ``path``, whole or not at all (written beside it, then renamed: a reader
    never sees half a file); nothing is said when it cannot be."""
    temporary = None
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = where / f".{path.name}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(temporary, path)
        temporary = None
        _prune(where)
    except OSError:
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _prune(where: Path) -> None:
    """Remove the oldest kept files beyond ``KEPT``."""
    kept = []
    for entry in os.scandir(where):
        if entry.name.endswith((".pickle", ".json")) and entry.is_file(follow_symlinks=False):
            kept.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
    for _, old in sorted(kept, reverse=True)[KEPT:]:
        with contextlib.suppress(OSError):
            os.unlink(old)


def _safe(text: str) -> str:
    """A version as part of a file name (a version folder's name is a semantic version, but the
    name is the user's to choose)."""
    return "".join(c if c.isalnum() or c in ".-+" else "_" for c in text)[:40]

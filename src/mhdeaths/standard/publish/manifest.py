"""manifest.json: every published file with its SHA-256, and the spec version it was made from.

Publications are copied to websites, shared drives and supplier portals. The manifest lets anyone
check that a copy is complete and unaltered, and lets CI prove that re-publishing an unchanged
spec version gives the same bytes (a released version never changes, so neither may its
artefacts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mhdeaths import __version__
from mhdeaths.output.writing import dump_json, write_text
from mhdeaths.spec import Spec

MANIFEST = "manifest.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(spec: Spec, out: Path, files: Sequence[Path]) -> dict[str, Any]:
    return {
        "spec_version": spec.version,
        "generator": f"mhdeaths {__version__}",
        "files": [
            {
                "path": path.relative_to(out).as_posix(),
                "sha256": sha256_of(path),
                "bytes": path.stat().st_size,
            }
            for path in sorted(files, key=lambda p: p.relative_to(out).as_posix())
        ],
    }


def write_manifest(spec: Spec, out: Path, files: Sequence[Path]) -> list[Path]:
    return [write_text(out / MANIFEST, dump_json(manifest(spec, out, files)))]

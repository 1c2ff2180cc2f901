"""What a standards team does with a spec version: check it, compare it, publish its artefacts.

Spec versions are released once and never change; this package checks a version against itself
and the ones before it, describes what changed, and writes the data dictionary, schemas, template
and manifest that providers and suppliers read, and gives analysts the version's rules on one
record as a pandera schema for their own frames (``pandera_schema``, from ``frames``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mhdeaths.standard.frames import pandera_schema

__all__ = ["pandera_schema"]


def __getattr__(name: str) -> Any:
    # pandera takes a second or two to import: only an analyst who asks for the schema waits.
    if name == "pandera_schema":
        from mhdeaths.standard.frames import pandera_schema

        return pandera_schema
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

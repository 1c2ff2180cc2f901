"""Publish a spec version as the artefacts its users' own tools read.

The spec is data for mhdeaths; everyone else needs it in the form their tools already know: a data
dictionary to read (Markdown and self-contained HTML), JSON Schema and a Frictionless Data Package
to check extracts in their own pipelines, an Excel template to fill in, a Great Expectations suite
for warehouse teams, and the change log. Every artefact is derived from the loaded ``Spec`` alone,
so none can say something the spec does not, and the manifest's checksums let anyone verify a copy.

Each artefact has its own module; this one only decides where they go and turns a failure to write
into the one-sentence ``OutputError`` the CLI shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from mhdeaths.errors import OutputError
from mhdeaths.spec import ChangeLogEntry, Spec
from mhdeaths.standard.publish.changelog import write_changelog
from mhdeaths.standard.publish.datapackage import write_data_package
from mhdeaths.standard.publish.dictionary import write_data_dictionary
from mhdeaths.standard.publish.excel import write_template
from mhdeaths.standard.publish.gx import write_gx_suites
from mhdeaths.standard.publish.json_schema import write_json_schemas
from mhdeaths.standard.publish.manifest import write_manifest

__all__ = ["publish"]


Writer = Callable[[Spec, Path], list[Path]]
"""An artefact made by a stage above this one (the validator's web page), given by the caller."""


def publish(
    spec: Spec, out: Path, changelog: Sequence[ChangeLogEntry], also: Sequence[Writer] = ()
) -> list[Path]:
    """Write every published artefact of ``spec`` into ``out``; return the files written.

    ``changelog`` holds the change-log entries of the versions up to this one (any order);
    ``also`` writes further artefacts, listed in the manifest with the rest (the CLI passes the
    validator's web page, which the validation stage makes); the manifest comes last in the list. Files already in ``out`` that this version does not publish
    are left alone. Raises ``OutputError`` when ``out`` cannot be created or written.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [
            *write_data_dictionary(spec, out),
            *write_json_schemas(spec, out),
            *write_data_package(spec, out),
            # Nobody fills in a national feed by hand, and a template of one in a provider's
            # hands would invite the very submission that must never happen.
            *(() if spec.is_feed else write_template(spec, out)),
            *(() if spec.is_feed else write_gx_suites(spec, out)),
            *write_changelog(spec, out, changelog),
        ]
        for writer in also:
            written += writer(spec, out)
        written += write_manifest(spec, out, written)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(
            f"The published artefacts of spec {spec.version} cannot be written to {out}: {reason}."
        ) from None
    return written

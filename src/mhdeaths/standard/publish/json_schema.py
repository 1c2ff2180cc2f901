"""JSON Schema (draft 2020-12) for one submitted record of each table.

Providers and their suppliers check extracts in their own pipelines, in whatever language they
use; JSON Schema is the one format every such stack can read. The schema describes a record as the
provider sends it: every value is text (files carry text) and an empty value is null or left out.
It is a first line of defence only: cross-field rules, numeric ranges and code validity by
reporting period stay with the validator, and the descriptions say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mhdeaths.output.writing import dump_json, write_text
from mhdeaths.spec import FieldType, Mandation, Spec, SpecField, Table
from mhdeaths.standard.publish.common import (
    TYPE_PATTERNS,
    anchored,
    code_list_of,
    field_description,
    presence_note,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_URI = "https://mhdeaths.example/spec"


def schema_id(spec: Spec, table: Table) -> str:
    return f"{BASE_URI}/{spec.version}/{table.name}.schema.json"


def property_schema(spec: Spec, field: SpecField) -> dict[str, Any]:
    """The schema of one submitted field's value."""
    mandatory = field.mandation is Mandation.MANDATORY
    prop: dict[str, Any] = {
        "title": field.title,
        "description": field_description(spec, field, range_note=True),
        "type": "string" if mandatory else ["string", "null"],
    }
    patterns = []
    if field.type in TYPE_PATTERNS:
        patterns.append(anchored(TYPE_PATTERNS[field.type]))
    if field.pattern:
        patterns.append(anchored(field.pattern))
    if len(patterns) == 1:
        prop["pattern"] = patterns[0]
    elif patterns:
        # One keyword cannot hold two patterns; both must hold, so each gets its own subschema.
        prop["allOf"] = [{"pattern": p} for p in patterns]
    if field.type is FieldType.DATE:
        # The pattern gives the shape; the format assertion (when a client enables it) rejects
        # dates that do not exist, such as 2027-02-30.
        prop["format"] = "date"
    code_list = code_list_of(spec, field)
    if code_list is not None:
        codes: list[str | None] = list(code_list.valid_codes())
        # enum is checked against null too, so an optional code field must list null itself.
        prop["enum"] = codes if mandatory else [*codes, None]
    if field.max_length is not None:
        prop["maxLength"] = field.max_length
    if mandatory:
        # An empty text is how a file says "missing", so it cannot satisfy a mandatory field.
        prop["minLength"] = 1
    if field.example is not None:
        prop["examples"] = [field.example]
    return prop


def table_schema(spec: Spec, table: Table) -> dict[str, Any]:
    submitted = table.submitted_fields
    presence = presence_note(spec, table)
    return {
        "$schema": DRAFT,
        "$id": schema_id(spec, table),
        "title": f"{table.title}: one submitted record (mhdeaths spec {spec.version})",
        "description": (
            f"{table.description.strip()} Grain: {table.grain}. Key: {', '.join(table.key)}. "
            "Every value is text, as in the submitted file; an empty value is null or left out. "
            "Cross-field rules, numeric ranges and the validity of codes by reporting period are "
            "checked by the mhdeaths validator, not by this schema."
            + (f" {presence}" if presence else "")
        ),
        "type": "object",
        "properties": {f.name: property_schema(spec, f) for f in submitted},
        "required": [f.name for f in submitted if f.mandation is Mandation.MANDATORY],
        "additionalProperties": False,
    }


def write_json_schemas(spec: Spec, out: Path) -> list[Path]:
    return [
        write_text(out / "schema" / f"{t.name}.schema.json", dump_json(table_schema(spec, t)))
        for t in spec.tables
    ]

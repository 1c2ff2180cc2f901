"""The specification in memory: a spec version loaded from ``spec/<version>/`` into frozen models.

The one way the rest of mhdeaths reads the spec: ``load_spec`` and the model it returns. The
model (``mhdeaths.spec.model``) and the loading (``mhdeaths.spec.loading``) are separate modules;
this package names what they offer together.
"""

from mhdeaths.spec.loading import (
    available_versions,
    iter_version_files,
    latest_version,
    load_spec,
    parse_version,
    version_checksums,
)
from mhdeaths.spec.model import (
    STRUCTURE_TABLE,
    Attribution,
    ChangeItem,
    ChangeLogEntry,
    CheckTemplate,
    Code,
    CodeList,
    Definition,
    ExampleRecord,
    Examples,
    FieldType,
    Frozen,
    Mandation,
    OrderKey,
    Presence,
    Rule,
    Scope,
    Severity,
    Spec,
    SpecField,
    Stage,
    Table,
    WorkedExample,
)

__all__ = [
    "STRUCTURE_TABLE",
    "Attribution",
    "ChangeItem",
    "ChangeLogEntry",
    "CheckTemplate",
    "Code",
    "CodeList",
    "Definition",
    "ExampleRecord",
    "Examples",
    "FieldType",
    "Frozen",
    "Mandation",
    "OrderKey",
    "Presence",
    "Rule",
    "Scope",
    "Severity",
    "Spec",
    "SpecField",
    "Stage",
    "Table",
    "WorkedExample",
    "available_versions",
    "iter_version_files",
    "latest_version",
    "load_spec",
    "parse_version",
    "version_checksums",
]

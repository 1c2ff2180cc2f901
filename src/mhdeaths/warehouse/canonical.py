"""The canonical model: how a submission written to any spec version lands in one set of tables.

Analysts query one shape of data whichever version a provider wrote to. ``warehouse/canonical.yaml``
names the version the tables follow, maps every other version's fields onto it, and says what
becomes of each identifier (a keyed pseudonym, or dropped once what it derives is derived). This
module reads that file, checks it against the spec, and turns a validated submission's tables
into the frames the loader stages.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mhdeaths.engines.polars_engine import POLARS_TYPES
from mhdeaths.errors import SpecError, WarehouseError
from mhdeaths.paths import warehouse_root
from mhdeaths.spec import FieldType, Spec, available_versions, load_spec, parse_version
from mhdeaths.warehouse.pseudonym import (
    PseudonymKey,
    normalised_numbers,
    refuse_demo_key_for_real_numbers,
)

DUCKDB_TYPES: dict[FieldType, str] = {
    FieldType.STRING: "VARCHAR",
    FieldType.CODE: "VARCHAR",
    FieldType.INTEGER: "BIGINT",
    FieldType.DECIMAL: "DOUBLE",
    FieldType.DATE: "DATE",
    FieldType.TIME: "TIME",
    FieldType.BOOLEAN: "BOOLEAN",
}
RECORD_COLUMNS = {"submission_id": "INTEGER", "source_row": "INTEGER"}
"""Columns every record table has before the spec's fields."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdentifierTreatment(_Model):
    treatment: Literal["pseudonym", "drop"]
    column: str | None = None
    """For a pseudonym: the canonical column that holds it."""
    derives: tuple[str, ...] = ()
    """For a dropped field: the derived fields computed from it before it is dropped."""
    reason: str | None = None


class VersionMapping(_Model):
    renamed: dict[str, dict[str, str]] = {}
    """Per table: the version's field name -> the canonical name."""
    not_collected: dict[str, tuple[str, ...]] = {}
    """Per table: canonical fields this version does not have (NULL for its records)."""
    codes: dict[str, dict[str, dict[str, str]]] = {}
    """Per table and canonical field: the version's code -> the canonical code."""


class CanonicalModel(_Model):
    canonical_version: str
    identifiers: dict[str, dict[str, IdentifierTreatment]]
    versions: dict[str, VersionMapping]
    due_months_after_period: int

    def treatment(self, table: str, field: str) -> IdentifierTreatment | None:
        return self.identifiers.get(table, {}).get(field)

    def mapping(self, version: str) -> VersionMapping:
        try:
            return self.versions[version]
        except KeyError:
            raise WarehouseError(
                f"Spec version {version} has no mapping to the warehouse's canonical model "
                "(warehouse/canonical.yaml); add one before loading its submissions."
            ) from None


@cache
def load_canonical(root: Path | None = None) -> CanonicalModel:
    path = (root or warehouse_root()) / "canonical.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return CanonicalModel.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise WarehouseError(f"The canonical model {path} cannot be read: {exc}") from None


def canonical_spec(model: CanonicalModel, spec_root: Path | None = None) -> Spec:
    return load_spec(model.canonical_version, spec_root)


def canonical_columns(model: CanonicalModel, spec: Spec, table: str) -> dict[str, str]:
    """The record table's columns, in order, with their DuckDB types, as the spec implies them."""
    columns = dict(RECORD_COLUMNS)
    for field in spec.table(table).fields:
        treatment = model.treatment(table, field.name)
        if treatment is None:
            columns[field.name] = DUCKDB_TYPES[field.type]
        elif treatment.treatment == "pseudonym" and treatment.column:
            columns[treatment.column] = "VARCHAR"
    return columns


def pseudonymised_fields(model: CanonicalModel, table: str) -> dict[str, str]:
    """Identifiers staged only to be pseudonymised: each field and the column of its pseudonym."""
    return {
        f: t.column
        for f, t in model.identifiers.get(table, {}).items()
        if t.treatment == "pseudonym" and t.column
    }


def dropped_fields(model: CanonicalModel, table: str) -> list[str]:
    """Identifiers staged only to derive from (the loader leaves them out of the insert)."""
    return [
        f
        for f, t in model.identifiers.get(table, {}).items()
        if t.treatment == "drop" and t.derives
    ]


def check_canonical(
    model: CanonicalModel,
    spec_root: Path | None = None,
    tables: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Problems with the canonical model against the spec (and, if given, the tables as built)."""
    problems: list[str] = []
    versions = available_versions(spec_root)
    # A draft is loaded only once the canonical model maps it: the warehouse follows the newest
    # released version at least, and a draft while the draft is being built into it.
    drafts = {v for v in versions if load_spec(v, spec_root).status == "draft"}
    released = [v for v in versions if v not in drafts] or versions
    if parse_version(model.canonical_version) < parse_version(released[-1]):
        problems.append(
            f"The canonical model follows spec {model.canonical_version}, not the latest "
            f"version {released[-1]}: add a migration and move canonical_version on."
        )
    try:
        canonical = canonical_spec(model, spec_root)
    except SpecError as exc:
        return [*problems, str(exc)]
    for version in versions:
        if version not in model.versions:
            if version not in drafts:
                problems.append(f"Spec version {version} has no mapping in the canonical model.")
            continue
        spec = load_spec(version, spec_root)
        mapping = model.versions[version]
        for table in spec.tables:
            target = {f.name for f in canonical.table(table.name).submitted_fields}
            renamed = mapping.renamed.get(table.name, {})
            mapped = {renamed.get(f.name, f.name) for f in table.submitted_fields}
            for name in sorted(mapped - target):
                problems.append(f"{version}: {table.name}.{name} has no canonical field.")
            missing = target - mapped
            listed = set(mapping.not_collected.get(table.name, ()))
            for name in sorted(missing - listed):
                problems.append(
                    f"{version}: canonical field {table.name}.{name} is neither submitted nor "
                    "listed as not collected."
                )
            for name in sorted(listed - missing):
                problems.append(
                    f"{version}: {table.name}.{name} is listed as not collected, but the version has it."
                )
            for field in table.fields:
                if field.identifier and model.treatment(table.name, field.name) is None:
                    problems.append(
                        f"{version}: identifier {table.name}.{field.name} has no treatment."
                    )
    for table_name, treatments in model.identifiers.items():
        definitions = {d.name for d in canonical.definitions_for(table_name)}
        for name, treatment in treatments.items():
            for derived in treatment.derives:
                if derived not in definitions:
                    problems.append(
                        f"{table_name}.{name} derives {derived}, which is no definition."
                    )
            if treatment.treatment == "pseudonym" and not treatment.column:
                problems.append(f"{table_name}.{name} is pseudonymised but names no column.")
    if tables is not None:
        for table in canonical.tables:
            expected = canonical_columns(model, canonical, table.name)
            built = tables.get(f"{table.name}_record", {})
            if built != expected:
                extra = [c for c in built if c not in expected]
                absent = [c for c in expected if c not in built]
                wrong = [c for c in expected if c in built and built[c] != expected[c]]
                problems.append(
                    f"The {table.name}_record table does not match the canonical model "
                    f"(extra: {extra}, missing: {absent}, other type: {wrong})."
                )
    return problems


def staged_frame(
    model: CanonicalModel,
    canonical: Spec,
    spec: Spec,
    table: str,
    frame: pl.DataFrame,
    source_rows: pl.Series,
    key: PseudonymKey,
) -> pl.DataFrame:
    """One table of a submission (its typed values, under ``spec``) in the canonical shape, ready
    to stage: the canonical fields, the numbers to be pseudonymised and the fields to be dropped
    still there (the insert makes the pseudonyms and the definitions from them, and stores
    neither), and no derived field (the warehouse derives them itself).

    The frame is put together from its columns, as they are: going through polars' query engine
    (``drop``, ``with_columns``) copied every column of a million records (0.5 s).
    """
    mapping = model.mapping(spec.version)
    derived = {d.name for d in spec.definitions_for(table)}
    renamed = mapping.renamed.get(table, {})
    codes = mapping.codes.get(table, {})
    columns: dict[str, pl.Series] = {}
    for column in frame.get_columns():
        if column.name not in derived:
            name = renamed.get(column.name, column.name)
            column = column.alias(name)
            columns[name] = column.replace(codes[name]) if name in codes else column
    for f in canonical.table(table).submitted_fields:
        if f.name not in columns:
            empty = pl.repeat(None, frame.height, dtype=POLARS_TYPES[f.type], eager=True)
            columns[f.name] = empty.alias(f.name)
    for name, treatment in model.identifiers.get(table, {}).items():
        if treatment.treatment == "drop" and not treatment.derives:
            del columns[name]  # Not even staged: nothing is derived from it.
    for name in pseudonymised_fields(model, table):
        columns[name] = normalised_numbers(columns[name])  # as pseudonym_sql expects
        refuse_demo_key_for_real_numbers(key, columns[name])
    columns["source_row"] = source_rows.cast(pl.Int32).alias("source_row")
    return pl.DataFrame(list(columns.values()))

"""The canonical model: how a submission written to any spec version lands in one set of tables.

Analysts query one shape of data whichever version a provider wrote to. ``warehouse/canonical.yaml``
names the version the tables follow, maps every other version's fields onto it, and says what
becomes of each identifier (a keyed pseudonym, or dropped once what it derives is derived). This
module reads that file, checks it against the spec, and turns a validated submission's tables
into the frames the loader stages.

An older version's record reaches the canonical shape in the order of the build plan (9.1):
``backfill`` and ``split`` read the record as written (its own field names and codes); then
``renamed``; then ``codes``; then what the version did not collect is NULL; then the canonical
version's definitions derive (the loader). Backfill and split expressions are in the spec's
expression language, compiled to DuckDB, so they run inside the insert, over whole columns.
"""

from __future__ import annotations

from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mhdeaths import language as ex
from mhdeaths.engines.polars_engine import POLARS_TYPES
from mhdeaths.engines.sql_engine import ident
from mhdeaths.errors import ExpressionError, SpecError, WarehouseError
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
DEFINITIONS_COLUMN = "definitions_version"
"""The column of every record table naming the spec version whose definitions derived the row."""
WRITTEN = "_as_written_"
"""Prefix of a column staged as the submission wrote it, for backfill and split to read."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdentifierTreatment(_Model):
    treatment: Literal["pseudonym", "drop"]
    column: str | None = None
    """For a pseudonym: the canonical column that holds it."""
    derives: tuple[str, ...] = ()
    """For a dropped field: the derived fields computed from it before it is dropped."""
    reason: str | None = None
    meaning: str | None = None
    """For a pseudonym: what its column holds and how it links, as the warehouse describes it."""


class LegacyColumn(_Model):
    """A canonical column no field of the canonical version has, kept from older versions (filled
    by ``renamed`` or ``backfill``) and never derived over: NULL for records of later versions."""

    type: str
    """Its DuckDB type (one of the types the spec's field types map to)."""
    meaning: str


class Split(_Model):
    """Rows of a child table made from an older version's records of another table: one row per
    record of ``from`` for which ``where`` is true, each column set by its expression."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_table: str = Field(alias="from")
    where: str | None = None
    columns: dict[str, str]
    """Canonical field of the child table -> an expression over the record as written. A child
    field not named is NULL."""


class VersionMapping(_Model):
    renamed: dict[str, dict[str, str]] = {}
    """Per table: the version's field name -> the canonical name."""
    not_collected: dict[str, tuple[str, ...]] = {}
    """Per table: canonical fields this version does not have (NULL for its records)."""
    codes: dict[str, dict[str, dict[str, str]]] = {}
    """Per table and canonical field: the version's code -> the canonical code."""
    backfill: dict[str, dict[str, str]] = {}
    """Per table: a canonical column the version does not have -> an expression over the record
    as written (the version's own field names and codes)."""
    split: dict[str, Split] = {}
    """Per child table of the canonical version: how its rows are made from this version's records."""

    def reads(self, table: str) -> set[str]:
        """The fields of ``table``, as written, that its backfill and splits read."""
        texts = list(self.backfill.get(table, {}).values())
        for split in self.split.values():
            if split.from_table == table:
                texts += [*split.columns.values(), *([split.where] if split.where else [])]
        return {name for text in texts for name in ex.parse(text).columns}


class CanonicalModel(_Model):
    canonical_version: str
    identifiers: dict[str, dict[str, IdentifierTreatment]]
    legacy_columns: dict[str, dict[str, LegacyColumn]] = {}
    """Per table: canonical columns no field of the canonical version has."""
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
    """The record table's columns with their DuckDB types, as the spec and the canonical model
    imply them: the record's place, the spec's fields (pseudonyms for identifiers), the legacy
    columns, and the version of the definitions that derived the row."""
    columns = dict(RECORD_COLUMNS)
    for field in spec.table(table).fields:
        treatment = model.treatment(table, field.name)
        if treatment is None:
            columns[field.name] = DUCKDB_TYPES[field.type]
        elif treatment.treatment == "pseudonym" and treatment.column:
            columns[treatment.column] = "VARCHAR"
    for name, legacy in model.legacy_columns.get(table, {}).items():
        columns[name] = legacy.type
    columns[DEFINITIONS_COLUMN] = "VARCHAR"
    return columns


def _as_written(text: str) -> str:
    """An expression over the record as written, in DuckDB, reading the staged written columns."""
    tree = ex.transform(
        ex.parse(text).tree,
        lambda n: ex.Col(WRITTEN + n.name) if isinstance(n, ex.Col) else None,
    )
    return ex.to_duckdb(ex.from_tree(tree))


def mapped_sql(
    model: CanonicalModel,
    canonical: Spec,
    version: str,
    table: str,
    source: str,
    staged: list[str],
) -> str:
    """A query over the staged frame ``source`` (with columns ``staged``) that sets each backfilled
    column from its expression and leaves out the columns staged as written."""
    mapping = model.mapping(version)
    backfill = mapping.backfill.get(table, {})
    written = [c for c in staged if c.startswith(WRITTEN)]
    if not backfill and not written:
        return source
    types = canonical_columns(model, canonical, table)
    left = [*written, *(c for c in backfill if c in staged)]
    exclude = f" EXCLUDE ({', '.join(ident(c) for c in left)})" if left else ""
    filled = "".join(
        f", CAST(({_as_written(text)}) AS {types[name]}) AS {ident(name)}"
        for name, text in backfill.items()
    )
    return f"(SELECT *{exclude}{filled} FROM {source})"


def split_sql(
    model: CanonicalModel, canonical: Spec, version: str, table: str, source: str
) -> dict[str, str]:
    """Per child table: a query over ``source`` (the staged ``table``) making the child's rows
    from the version's split, with every submitted field of the child (NULL where not named) and
    ``source_row`` the parent record's, ready for the child's definitions to derive."""
    queries = {}
    for child, split in model.mapping(version).split.items():
        if split.from_table != table:
            continue
        types = canonical_columns(model, canonical, child)
        selected = ["source_row"]
        for field in canonical.table(child).submitted_fields:
            if field.name not in types:
                continue  # an identifier: split makes no pseudonym
            text = split.columns.get(field.name)
            value = _as_written(text) if text is not None else "NULL"
            selected.append(f"CAST(({value}) AS {types[field.name]}) AS {ident(field.name)}")
        where = f" WHERE ({_as_written(split.where)}) IS TRUE" if split.where else ""
        queries[child] = f"(SELECT {', '.join(selected)} FROM {source}{where})"
    return queries


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
    drafts = {v for v in versions if load_spec(v, spec_root).draft}
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
        problems += _mapping_problems(model, canonical, spec, mapping)
        for table in spec.tables:
            target = {f.name for f in canonical.table(table.name).submitted_fields}
            legacy = set(model.legacy_columns.get(table.name, {}))
            renamed = mapping.renamed.get(table.name, {})
            split_sources = _split_sources(mapping, table.name)
            mapped = {renamed.get(f.name, f.name) for f in table.submitted_fields}
            # An identifier the model drops has its home: it is deliberately never stored.
            dropped = {
                f for f, t in model.identifiers.get(table.name, {}).items() if t.treatment == "drop"
            }
            for name in sorted(mapped - target - legacy - dropped):
                if name not in split_sources:
                    problems.append(
                        f"{version}: {table.name}.{name} has no home: no canonical field, "
                        "legacy column or split reads it."
                    )
            backfilled = set(mapping.backfill.get(table.name, {}))
            missing = target - mapped
            listed = set(mapping.not_collected.get(table.name, ()))
            for name in sorted(missing - listed - backfilled):
                problems.append(
                    f"{version}: canonical field {table.name}.{name} is neither submitted nor "
                    "listed as not collected."
                )
            for name in sorted(backfilled & (mapped | listed)):
                problems.append(
                    f"{version}: {table.name}.{name} is backfilled, but the version submits it "
                    "or lists it as not collected."
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
    for table_name, legacies in model.legacy_columns.items():
        in_spec = (
            {f.name for f in canonical.table(table_name).fields}
            if table_name in {t.name for t in canonical.tables}
            else set()
        )
        for name, kept_column in legacies.items():
            if name in in_spec:
                problems.append(
                    f"Legacy column {table_name}.{name} is a field of spec {canonical.version}."
                )
            if kept_column.type not in DUCKDB_TYPES.values():
                problems.append(
                    f"Legacy column {table_name}.{name} has the type {kept_column.type}, which is "
                    f"none of {sorted(set(DUCKDB_TYPES.values()))}."
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


def _split_sources(mapping: VersionMapping, table: str) -> set[str]:
    """The fields of ``table`` that a split reads (a field may live on only as a child's rows)."""
    found: set[str] = set()
    for split in mapping.split.values():
        if split.from_table == table:
            texts = [*split.columns.values(), *([split.where] if split.where else [])]
            for text in texts:
                with suppress(ExpressionError):
                    found |= ex.parse(text).columns
    return found


def _mapping_problems(
    model: CanonicalModel, canonical: Spec, spec: Spec, mapping: VersionMapping
) -> list[str]:
    """Problems with one version's backfill, split and codes: each expression parses and reads
    only the version's own fields, each target is a canonical column, and codes map onto codes
    of the canonical code list."""
    version = spec.version
    problems: list[str] = []
    tables = {t.name for t in spec.tables}
    canonical_tables = {t.name for t in canonical.tables}

    def check(text: str, table: str, what: str) -> None:
        try:
            parsed = ex.parse(text)
        except ExpressionError as exc:
            problems.append(f"{version}: {what}: {exc}")
            return
        fields = {f.name for f in spec.table(table).submitted_fields}
        for name in sorted(parsed.columns - fields):
            problems.append(f"{version}: {what} reads {name}, which {table} has not in {version}.")

    for table, backfill in mapping.backfill.items():
        if table not in tables or table not in canonical_tables:
            problems.append(f"{version}: backfill names the table {table}, which is not in both.")
            continue
        columns = canonical_columns(model, canonical, table)
        for name, text in backfill.items():
            if name not in columns or name in RECORD_COLUMNS or name == DEFINITIONS_COLUMN:
                problems.append(f"{version}: backfill sets {table}.{name}, no canonical column.")
            check(text, table, f"the backfill of {table}.{name}")
    for child, split in mapping.split.items():
        if child not in canonical_tables:
            problems.append(f"{version}: split makes rows of {child}, no canonical table.")
            continue
        if split.from_table not in tables:
            problems.append(f"{version}: split reads {split.from_table}, not a table of it.")
            continue
        fields = {f.name for f in canonical.table(child).submitted_fields}
        for name, text in split.columns.items():
            if name not in fields:
                problems.append(f"{version}: split sets {child}.{name}, no canonical field.")
            check(text, split.from_table, f"the split column {child}.{name}")
        if split.where:
            check(split.where, split.from_table, f"the split condition of {child}")
    for table, mapped in mapping.codes.items():
        for name, codes in mapped.items():
            field = next(
                (
                    f
                    for t in canonical.tables
                    if t.name == table
                    for f in t.fields
                    if f.name == name
                ),
                None,
            )
            if field is None or field.code_list is None:
                problems.append(f"{version}: codes map {table}.{name}, no canonical coded field.")
                continue
            valid = set(canonical.code_list(field.code_list).valid_codes())
            for old, new in sorted(codes.items()):
                if new not in valid:
                    problems.append(
                        f"{version}: codes map {table}.{name} {old} to {new}, which is not a "
                        f"code of {field.code_list} in {canonical.version}."
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
    reads = mapping.reads(table)
    kept = {f.name for f in canonical.table(table).submitted_fields} | set(
        model.legacy_columns.get(table, {})
    )
    columns: dict[str, pl.Series] = {}
    written: list[pl.Series] = []
    for column in frame.get_columns():
        if column.name in reads:
            written.append(column.alias(WRITTEN + column.name))  # shares the column's memory
        if column.name not in derived:
            name = renamed.get(column.name, column.name)
            if name not in kept:
                continue  # a field with no canonical home: only a split reads it
            column = column.alias(name)
            columns[name] = column.replace(codes[name]) if name in codes else column
    for f in canonical.table(table).submitted_fields:
        if f.name not in columns:
            # A null repeated from a one-value column: polars' own repeat goes through its query
            # engine, a fiftieth of a second per submission for the twenty or so fields a
            # version leaves out.
            empty = pl.Series(f.name, [None], dtype=POLARS_TYPES[f.type])
            columns[f.name] = empty.new_from_index(0, frame.height)
    for name, treatment in model.identifiers.get(table, {}).items():
        if treatment.treatment == "drop" and not treatment.derives:
            # Not even staged: nothing is derived from it (and a field the canonical version no
            # longer has, such as the 1.x postcode, has no column to leave out).
            columns.pop(name, None)
    for name in pseudonymised_fields(model, table):
        columns[name] = normalised_numbers(columns[name])  # as pseudonym_sql expects
        refuse_demo_key_for_real_numbers(key, columns[name])
    columns["source_row"] = source_rows.cast(pl.Int32).alias("source_row")
    return pl.DataFrame([*columns.values(), *written])

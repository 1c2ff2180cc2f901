"""What every table, view and column of the warehouse means, for analysts who read the warehouse
and not its source.

Each description is written once. A column that is a field of the spec (a death's discharge date,
its derived death category, a registration's date) is described by the spec itself: the canonical
version's (or the feed's) field title and definition, with the field it comes from. A pseudonym
or a legacy column is described by ``warehouse/canonical.yaml``, which says what became of it.
Everything else (the registry, the counts and flags the views work out, every table and view as a
whole) is described in ``warehouse/catalogue.yaml``, once per column name however many views use
it, with a view's own wording only where the meaning differs there.

The descriptions reach the warehouse as ``COMMENT ON`` statements, run by ``schema.upgrade``
whenever it writes the views (a replaced view loses its comments; a migration that makes a table
again loses the table's), so ``duckdb_columns()`` answers an analyst's question; and
``docs/reference/warehouse.md`` is rendered from the same descriptions (``catalogue_page``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mhdeaths.errors import WarehouseError
from mhdeaths.paths import warehouse_root
from mhdeaths.spec import Spec, SpecField, Table, feed_roots, load_feed_spec
from mhdeaths.warehouse.canonical import CanonicalModel

CATALOGUE_FILE = "catalogue.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnEntry(_Model):
    """A view's or table's own word on one of its columns."""

    description: str | None = None
    """Its whole description, in place of the spec's or the shared one."""
    field: str | None = None
    """The spec field it comes from (``death.death_date``, ``registrations.registration.death_date``)
    when the object's ``fields`` would not find it, or would find another."""
    note: str | None = None
    """A sentence added to the description found otherwise (how this view derives the column)."""


class ObjectEntry(_Model):
    description: str
    fields: tuple[str, ...] = ()
    """Spec tables whose fields name columns of this object, searched in order: a canonical table
    (``death``) or a feed's (``registrations.registration``)."""
    columns: dict[str, str | ColumnEntry] = {}


class CatalogueFile(_Model):
    columns: dict[str, str]
    """Shared descriptions, by column name, for every object that has a column of that name and
    no more particular description of it."""
    tables: dict[str, ObjectEntry]
    views: dict[str, ObjectEntry]
    macros: dict[str, str] = {}
    """Table macros (a view as at a time, and the macros behind several views): what each gives."""


@dataclass(frozen=True)
class Description:
    text: str
    source: str = ""
    """Where the text comes from, when not from the catalogue: ``death.discharge_date, spec 2.0.0``."""
    field: tuple[Spec, str, str] | None = None
    """The spec, table and field it describes, for a link to the data dictionary."""

    @property
    def comment(self) -> str:
        return f"{self.text} (From {self.source}.)" if self.source else self.text


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class WarehouseObject:
    """A base table or view of the warehouse as DuckDB reports it."""

    name: str
    kind: str
    """``table`` or ``view``."""
    columns: tuple[Column, ...]


def warehouse_objects(con: duckdb.DuckDBPyConnection) -> list[WarehouseObject]:
    """Every base table and view of the warehouse (schema ``main``), with its columns in order."""
    rows = con.execute(
        "SELECT o.kind, o.name, c.column_name, c.data_type "
        "FROM (SELECT 'table' AS kind, table_name AS name FROM duckdb_tables() "
        "      WHERE schema_name = 'main' AND NOT internal AND NOT temporary "
        "      UNION ALL SELECT 'view', view_name FROM duckdb_views() "
        "      WHERE schema_name = 'main' AND NOT internal AND NOT temporary) AS o "
        "JOIN duckdb_columns() AS c ON c.table_name = o.name AND c.schema_name = 'main' "
        "ORDER BY o.kind, o.name, c.column_index"
    ).fetchall()
    found: dict[tuple[str, str], list[Column]] = {}
    for kind, name, column, kind_of in rows:
        found.setdefault((kind, name), []).append(Column(column, kind_of))
    return [WarehouseObject(n, k, tuple(cs)) for (k, n), cs in found.items()]


def table_macros(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the warehouse's table macros (the views as at a time, and their helpers)."""
    rows = con.execute(
        "SELECT function_name FROM duckdb_functions() "
        "WHERE schema_name = 'main' AND NOT internal AND function_type = 'table_macro'"
    ).fetchall()
    return {name for (name,) in rows}


class Catalogue:
    """The descriptions of the warehouse: the catalogue file, over the spec and the canonical model."""

    def __init__(
        self,
        data: CatalogueFile,
        model: CanonicalModel,
        spec_tables: dict[str, tuple[Spec, Table]],
        fingerprint: str,
    ) -> None:
        self.data = data
        self.model = model
        self.spec_tables = spec_tables
        self.fingerprint = fingerprint
        """A hash of everything the descriptions are made from: the views (and with them the
        comments) are written again when it changes."""
        self._identifiers = {
            t.column: (table, name, t)
            for table, fields in model.identifiers.items()
            for name, t in fields.items()
            if t.treatment == "pseudonym" and t.column
        }
        self._legacy = {
            column: (table, legacy)
            for table, columns in model.legacy_columns.items()
            for column, legacy in columns.items()
        }

    def entry(self, name: str) -> ObjectEntry | None:
        return self.data.views.get(name) or self.data.tables.get(name)

    def describe_object(self, name: str) -> str | None:
        entry = self.entry(name)
        return entry.description if entry else None

    def describe_column(self, name: str, column: str) -> Description | None:
        """What ``column`` of the table or view ``name`` means; None when nothing describes it."""
        return self._resolve(name, column)[0]

    def _resolve(self, name: str, column: str) -> tuple[Description | None, str]:
        """The description and where it was found: ``own`` (the object's entry), ``spec``,
        ``canonical`` (a pseudonym or legacy column) or ``shared`` (the catalogue's columns)."""
        entry = self.entry(name)
        own = entry.columns.get(column) if entry else None
        if isinstance(own, str):
            return Description(own), "own"
        if own is not None and own.description:
            return _noted(Description(own.description), own), "own"
        if own is not None and own.field:
            table, _, field = own.field.rpartition(".")
            found = self._from_spec(table, field)
            return (_noted(found, own) if found else None), "spec"
        if column in self._identifiers:
            return _noted(self._pseudonym(column), own), "canonical"
        if column in self._legacy:
            table, legacy = self._legacy[column]
            where = f"{table} legacy column, warehouse/canonical.yaml"
            return _noted(Description(_one_line(legacy.meaning), where), own), "canonical"
        for table in entry.fields if entry else ():
            found = self._from_spec(table, column)
            if found is not None:
                return _noted(found, own), "spec"
        shared = self.data.columns.get(column)
        return (_noted(Description(shared), own) if shared else None), "shared"

    def _from_spec(self, table: str, name: str) -> Description | None:
        if table not in self.spec_tables:
            return None
        spec, spec_table = self.spec_tables[table]
        field = next((f for f in spec_table.fields if f.name == name), None)
        if field is None:
            return None
        return Description(
            _field_text(field),
            field_source(spec, spec_table.name, field),
            (spec, spec_table.name, name),
        )

    def _pseudonym(self, column: str) -> Description:
        table, name, treatment = self._identifiers[column]
        spec, spec_table = self.spec_tables[table]
        field = spec_table.field(name)
        text = f"{field.title}, as the warehouse's keyed pseudonym. {_one_line(treatment.meaning or '')}"
        source = (
            f"{field_source(spec, table, field)}, kept as a pseudonym by warehouse/canonical.yaml"
        )
        return Description(text.strip(), source, (spec, table, name))

    def problems(self, objects: list[WarehouseObject], macros: set[str]) -> list[str]:
        """What is wrong with the catalogue against a warehouse: an object, column or table macro
        with no description, and an entry naming one (or a spec table) that does not exist."""
        found = [
            f"The table macro {name} has no description: add it to catalogue.yaml (macros)."
            for name in sorted(macros - set(self.data.macros))
        ]
        found += [
            f"catalogue.yaml describes the table macro {name}, which the warehouse does not have."
            for name in self.data.macros
            if name not in macros
        ]
        by_name = {o.name: o for o in objects}
        for kind, entries in (("table", self.data.tables), ("view", self.data.views)):
            for name, entry in entries.items():
                obj = by_name.get(name)
                if obj is None or obj.kind != kind:
                    found.append(
                        f"catalogue.yaml describes the {kind} {name}, which the warehouse does not have."
                    )
                    continue
                names = {c.name for c in obj.columns}
                found += [
                    f"catalogue.yaml describes {name}.{column}, which the {kind} does not have."
                    for column in entry.columns
                    if column not in names
                ]
                found += [
                    f"catalogue.yaml reads {name}'s fields from {table}, which is no spec table."
                    for table in entry.fields
                    if table not in self.spec_tables
                ]
        shared_used: set[str] = set()
        for obj in objects:
            if not (self.describe_object(obj.name) or "").strip():
                found.append(f"The {obj.kind} {obj.name} has no description in catalogue.yaml.")
            for column in obj.columns:
                description, origin = self._resolve(obj.name, column.name)
                if description is None or not description.text.strip():
                    found.append(
                        f"{obj.name}.{column.name} has no description: add it to catalogue.yaml "
                        f"(under columns, or under the {obj.kind} {obj.name})."
                    )
                elif origin == "shared":
                    shared_used.add(column.name)
        found += [
            f"catalogue.yaml describes the column {name}, which no table or view takes its "
            "description from."
            for name in self.data.columns
            if name not in shared_used
        ]
        return found

    def comments_sql(self, objects: list[WarehouseObject]) -> str:
        """One batch of ``COMMENT ON`` statements: every object and column that has a description."""
        statements = []
        for obj in objects:
            kind = "VIEW" if obj.kind == "view" else "TABLE"
            text = self.describe_object(obj.name)
            if text:
                statements.append(
                    f"COMMENT ON {kind} {_ident(obj.name)} IS {_literal(_one_line(text))};"
                )
            for column in obj.columns:
                found = self.describe_column(obj.name, column.name)
                if found is not None:
                    statements.append(
                        f"COMMENT ON COLUMN {_ident(obj.name)}.{_ident(column.name)} "
                        f"IS {_literal(_one_line(found.comment))};"
                    )
        return "\n".join(statements)

    def macros_sql(self, macros: set[str]) -> str:
        """``COMMENT ON MACRO TABLE`` for every described table macro the warehouse has."""
        return "\n".join(
            f"COMMENT ON MACRO TABLE {_ident(name)} IS {_literal(_one_line(text))};"
            for name, text in self.data.macros.items()
            if name in macros
        )


def _noted(base: Description, own: ColumnEntry | None) -> Description:
    if own is None or not own.note:
        return base
    return Description(f"{base.text} {_one_line(own.note)}", base.source, base.field)


def _field_text(field: SpecField) -> str:
    return f"{field.title}: {' '.join(field.definition.split())}"


def field_source(spec: Spec, table: str, field: SpecField) -> str:
    """``death.discharge_date, spec 2.0.0`` (a feed: ``registration.death_date, registrations feed
    spec 1.0.0``), with its code list if it has one."""
    where = f"{spec.feed} feed spec" if spec.feed else "spec"
    text = f"{table}.{field.name}, {where} {spec.version}"
    return f"{text}; codes in the {field.code_list} code list" if field.code_list else text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_catalogue(model: CanonicalModel, canonical: Spec, root: Path | None = None) -> Catalogue:
    """The catalogue of the warehouse that ``root`` (``warehouse/``) and the canonical spec make.

    Every opening for writing asks for it (its fingerprint says whether the comments are
    current), so it is made once per catalogue file, canonical model and spec versions as loaded
    (the spec loader returns the same objects while their files are unchanged)."""
    path = (root or warehouse_root()) / CATALOGUE_FILE
    try:
        stat = path.stat()
    except OSError as exc:
        raise WarehouseError(
            f"The warehouse catalogue {path} cannot be read: {exc.strerror}."
        ) from None
    folder = canonical.path.parent
    feeds = tuple(load_feed_spec(feed, None, folder) for feed in feed_roots(folder))
    return _made(
        path,
        (stat.st_mtime_ns, stat.st_size),
        _Same(model),
        _Same(canonical),
        tuple(map(_Same, feeds)),
    )


class _Same:
    """An object as a cache key by identity (a spec is too large to hash on every opening)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


@lru_cache(maxsize=8)
def _made(
    path: Path, stamp: tuple[int, int], model: _Same, canonical: _Same, feeds: tuple[_Same, ...]
) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = CatalogueFile.model_validate(yaml.load(text, Loader=loader))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise WarehouseError(f"The warehouse catalogue {path} cannot be read: {exc}") from None
    spec: Spec = canonical.value  # type: ignore[assignment]
    tables: dict[str, tuple[Spec, Table]] = {t.name: (spec, t) for t in spec.tables}
    for feed in (f.value for f in feeds):
        assert isinstance(feed, Spec)
        tables |= {f"{feed.feed}.{t.name}": (feed, t) for t in feed.tables}
    canonical_model: CanonicalModel = model.value  # type: ignore[assignment]
    return Catalogue(data, canonical_model, tables, _fingerprint(text, canonical_model, tables))


def _fingerprint(text: str, model: CanonicalModel, tables: dict[str, tuple[Spec, Table]]) -> str:
    """A hash of everything the descriptions are made from: the catalogue file, the spec fields'
    titles and definitions, and the canonical model's identifiers and legacy columns."""
    fields = {
        name: [spec.version, [(f.name, f.title, f.definition, f.code_list) for f in table.fields]]
        for name, (spec, table) in tables.items()
    }
    dumped = model.model_dump(mode="json")
    blob = json.dumps(
        [text, fields, dumped["identifiers"], dumped["legacy_columns"]], sort_keys=True
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()

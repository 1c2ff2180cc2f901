"""The read step of validation: a submission's files, read into tables under the spec's fields.

Validation is two steps. This one reads the files (``reading``), picks the spec version the
records declare, finds which table each file or sheet holds and maps the provider's own headers
and codes (``profiles``), and returns a ``ReadSubmission``: everything the rules will look at,
before any of them runs. The check step (``validator.check_submission``) evaluates the rules on
it and makes the report. The steps are apart so that the warehouse loader can start inserting a
large submission's records between them, while the rules run, without the validator knowing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mhdeaths import guard
from mhdeaths.errors import UserError
from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.periods import is_period
from mhdeaths.spec import (
    FieldType,
    Spec,
    SpecField,
    Table,
    available_versions,
    feed_roots,
    load_spec,
    parse_version,
)
from mhdeaths.spec.loading import version_headers
from mhdeaths.validate.profiles import (
    Profile,
    ProfileError,
    apply_profile,
    profile_for,
    require_fit,
)
from mhdeaths.validate.reading import Sheet, SourceFile, read_file
from mhdeaths.validate.reading.failures import failure, feed_not_a_submission

VERSION_SHOWN_LENGTH = 12
"""The longest declared spec version that is not one of ours a message or report repeats.

The spec's pattern for ``spec_version`` is unbounded (``[0-9]+`` in each part), so the pattern
alone would let any run of digits and dots through: a value typed into the wrong column, even an
identifier. Twelve leaves room beyond any version we could plausibly release (``10.20.300`` is
nine characters); a longer run of digits and dots is more likely a misplaced value than a version,
and is withheld, as is anything the guard reads as an identifier. A spec version whose
``spec_version`` field sets a ``max_length`` bounds it by that instead."""


@dataclass(frozen=True)
class TablePart:
    """One table of the submission as found: where it came from and its text under field names."""

    table: str
    source: SourceFile
    sheet: Sheet
    text: pl.DataFrame
    """One column per submitted field of the spec version (absent ones empty)."""
    field_headers: dict[str, tuple[int, str]]
    """Field name -> (0-based column position, header as found)."""
    columns: pl.DataFrame
    """The column table the structure rules read."""


@dataclass(frozen=True)
class ReadSubmission:
    """A submission's files as read, before any rule runs: what the check step evaluates.

    Everything a rule or the report looks at is here: the spec version chosen, each table's text
    under field names with the row each record came from, and what the reading itself found (the
    version the file declares, each file's columns as found, blank rows skipped)."""

    spec: Spec
    """The spec version the records are checked against (chosen, or declared by the file)."""
    declared: str | None
    """The version the file declares, as a report may show it (see ``VERSION_SHOWN_LENGTH``)."""
    profile: Profile | None
    sources: tuple[SourceFile, ...]
    parts: tuple[TablePart, ...]
    profile_set_aside: str | None = None
    """Why the provider's own profile, found by its code rather than named, was not applied (it
    does not fit the version the files are written to); the report says so."""
    """One per table found, in the order of the files and their sheets."""

    @property
    def texts(self) -> dict[str, pl.DataFrame]:
        """Each table's text under the spec's field names (a field without a column is empty)."""
        return {p.table: p.text for p in self.parts}

    @property
    def rows(self) -> dict[str, pl.Series]:
        """Per table, the row each record came from as the user sees it (CSV line, Excel row)."""
        return {p.table: p.sheet.row_numbers for p in self.parts}


def read_submission(
    paths: Sequence[Path],
    *,
    spec_version: str | None = None,
    profile: Profile | None = None,
    provider: str | None = None,
    spec_root: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    profile_found: bool = False,
) -> ReadSubmission:
    """Read the files of one submission (one file per table, or one workbook of both).

    A file that cannot be read, a version that is not known, or no table found raises its
    ``UserError``; anything a rule can say about the records is left to the check step.
    ``limits`` bound what each file may take to read (see ``mhdeaths.limits``).
    """
    if not paths:
        raise UserError("Name at least one file to validate.")
    if profile is None and provider is not None:
        profile = profile_for(provider)
        if profile is None:
            raise ProfileError(f"There is no profile for provider {provider} in validators/.")
    sources = [
        read_file(
            p,
            encoding or (profile.encoding if profile else None),
            delimiter or (profile.delimiter if profile else None),
            limits,
        )
        for p in paths
    ]
    # With --spec the file's own declaration is still reported, but need not be a known version.
    declared = _declared_version(sources, profile, spec_root, check=spec_version is None)
    if declared is not None and spec_version is None:
        _check_accepted(declared, _declared_period(sources, profile), spec_root)
    version = spec_version or declared
    spec = load_spec(version or (profile.spec_version if profile else None), spec_root)
    set_aside = None
    if profile is not None:
        try:
            require_fit(profile, spec)
        except ProfileError as exc:
            if not profile_found:
                raise
            # Found by the provider's code, not named: a profile written for another version
            # is set aside, and the report says so, rather than refusing files that may not
            # need it (written in the spec's own names).
            set_aside = f"{exc} It was not applied."
            profile = None
    parts = _table_parts(spec, sources, profile, _FeedShapes(spec_root))
    shown = _version_shown(declared, available_versions(spec_root), spec_root)
    return ReadSubmission(spec, shown, profile, tuple(sources), tuple(parts), set_aside)


def _declared_version(
    sources: list[SourceFile], profile: Profile | None, spec_root: Path | None, check: bool = True
) -> str | None:
    """The spec version the file declares in its spec_version column (None if it does not)."""
    counts = _values_given(sources, profile, "spec_version")
    if not counts:
        return None
    # The version most records declare (ties: the lowest), whatever their order; a file mixing
    # versions is rejected by the spec's own file rule.
    declared = min(counts, key=lambda v: (-counts[v], v))
    known = available_versions(spec_root)
    if check and declared not in known:
        raise failure(
            "file/unknown-spec-version",
            declared=_version_shown(declared, known, spec_root),
            known=", ".join(known),
        )
    return declared


def _declared_period(sources: list[SourceFile], profile: Profile | None) -> str | None:
    """The reporting period most records give (ties: the earliest), or None."""
    counts = _values_given(sources, profile, "reporting_period")
    periods = {p: n for p, n in counts.items() if is_period(p)}
    return min(periods, key=lambda p: (-periods[p], p)) if periods else None


def _values_given(sources: list[SourceFile], profile: Profile | None, field: str) -> Counter[str]:
    """How many records give each value of a field, under its own name or a profile's header."""
    aliases = {field}
    if profile:
        aliases |= {
            h for mapping in profile.headers.values() for h, f in mapping.items() if f == field
        }
    counts: Counter[str] = Counter()
    for source in sources:
        for sheet in source.sheets:
            for column in sheet.frame.columns:
                if column in aliases:
                    values = sheet.frame.get_column(column).drop_nulls()
                    for value, n in values.value_counts().iter_rows():
                        counts[str(value)] += int(n)
    return counts


def _check_accepted(declared: str, period: str | None, spec_root: Path | None) -> None:
    """Refuse a file written to a version that the version in force for its period no longer
    accepts. In force for a period is the newest released version effective by then; a file may
    be written to it, to a version it still accepts, or to any later one (an update of an earlier
    period is sent under the current version)."""
    if period is None:
        return
    specs = version_headers(spec_root)
    in_force = [s for s in specs if not s.draft and s.effective_from <= period]
    if not in_force:
        return
    current = in_force[-1]
    later = parse_version(declared) >= parse_version(current.version)
    if later or declared in current.accepts_previous:
        return
    raise failure(
        "file/version-not-accepted",
        declared=declared,
        period=period,
        current=current.version,
        effective=current.effective_from,
        accepted=", ".join((current.version, *current.accepts_previous)),
    )


def _version_shown(declared: str | None, known: list[str], spec_root: Path | None) -> str | None:
    """A declared version as a report may show it: a known version as it is; anything else only
    if it is shaped as the spec's versions are and reads as no identifier."""
    if declared is None or declared in known:
        return declared
    spec = load_spec(known[-1] if known else None, spec_root)
    field = field_of(spec, "", "spec_version")
    shown = guard.WITHHELD
    pattern = field.pattern if field else None
    longest = (field.max_length if field else None) or VERSION_SHOWN_LENGTH
    if pattern and re.fullmatch(pattern, declared) and len(declared) <= longest:
        shown = declared if not guard.looks_identifying(declared) else guard.WITHHELD
    return shown


class _FeedShapes:
    """The fields of each national feed's tables, read from the feed specs beside the spec
    version in use (``spec/feeds/``) only when a file's name does not say its table.

    A feed file (death registrations, MHSDS spells) shares many fields with the death table; read
    as a death file it would be rejected column by column, telling a provider to add columns to
    an extract that must never be submitted at all. Knowing the feeds' shapes lets the intake
    refuse it as no table of the submission, and say where it belongs. A spec folder without
    feeds (a provider's own --spec-dir) has no shapes, and no feed spec is read."""

    def __init__(self, spec_root: Path | None) -> None:
        self._root = spec_root
        self._shapes: list[tuple[str, str, frozenset[str]]] | None = None

    def shapes(self) -> list[tuple[str, str, frozenset[str]]]:
        """(feed, table, submitted field names), for every version of every feed."""
        if self._shapes is None:
            self._shapes = [
                (feed, table, frozenset(fields)) for feed, table, fields in feed_shapes(self._root)
            ]
        return self._shapes


def feed_shapes(spec_root: Path | None = None) -> list[tuple[str, str, list[str]]]:
    """(feed, table, its submitted field names) for every version of every national feed beside
    the spec versions (the validator page carries them, to refuse a feed as the CLI does)."""
    return [
        (feed, table.name, [f.name for f in table.submitted_fields])
        for feed, root in feed_roots(spec_root).items()
        for version in available_versions(root)
        for table in load_spec(version, root).tables
    ]


def _feed_of(
    sheet: Sheet,
    profile: Profile | None,
    feeds: _FeedShapes,
    chosen: Table | None,
    several: bool,
) -> str | None:
    """The national feed a sheet is shaped as, when it fits one better than any table of the
    dataset (``chosen``, the one its headers picked): by its sheet name, or, for a file of one
    table, by its headers, as the share of them that are the feed's fields, then the share of
    the feed's fields found. (The other sheets of a workbook, a README or a sheet of code lists
    headed by field names, are no table, as ``_which_table`` reads them.)"""
    shapes = feeds.shapes()
    named = (sheet.name or "").strip().lower()
    for feed, table, _ in shapes:
        if named == table:
            return feed
    headers = set(sheet.headers)
    if several or not headers:
        return None

    def fit(fields: frozenset[str] | set[str]) -> tuple[float, float]:
        found = len(headers & fields)
        return found / len(headers), found / len(fields) if fields else 0.0

    best: tuple[str | None, tuple[float, float]] = (None, (0.0, 0.0))
    for feed, _, fields in shapes:
        if len(headers & fields) >= 3 and fit(fields) > best[1]:
            best = (feed, fit(fields))
    if best[0] is None or chosen is None:
        return best[0]
    aliases = profile.headers.get(chosen.name, {}) if profile else {}
    mapped = {aliases.get(h, h) for h in headers}
    ours = {f.name for f in chosen.submitted_fields}
    theirs = (len(mapped & ours) / len(mapped), len(mapped & ours) / len(ours))
    return best[0] if best[1] > theirs else None


def _table_parts(
    spec: Spec, sources: list[SourceFile], profile: Profile | None, feeds: _FeedShapes
) -> list[TablePart]:
    parts: list[TablePart] = []
    main = [t.name for t in spec.main_tables]
    for source in sources:
        several = len(source.sheets) > 1
        for sheet in source.sheets:
            table = _which_table(spec, source, sheet, profile, several=several)
            named = (
                table is not None and _named_table(spec, source, sheet, profile, several) is table
            )
            # A feed in a submission, even beside its real files, refuses it: a provider never
            # sends one, and loading the rest would hide that it was sent.
            feed = None if named else _feed_of(sheet, profile, feeds, table, several)
            if feed is not None:
                raise feed_not_a_submission(_either(main), guard.name(source.path.name), feed)
            if table is None:
                continue
            if any(p.table == table.name for p in parts):
                raise failure("file/table-twice", table=table.name)
            parts.append(_part(spec, table, source, sheet, profile))
    names = ", ".join(guard.name(s.path.name) for s in sources)
    if not parts:
        raise failure("file/no-table", tables=_either(main), files=names)
    present = {p.table for p in parts}
    for part in parts:
        table = spec.table(part.table)
        if not table.optional:
            continue
        # An optional table is sent with the table it belongs to (a review with its death):
        # without it, its records could not be checked against their parent, and a main table
        # left out is not read as empty.
        parents = [t.name for t in spec.parents_of(table)] or main
        if not present & set(parents):
            raise failure("file/without-parent", table=table.name, parents=_either(parents))
    return parts


def _either(names: Sequence[str]) -> str:
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _which_table(
    spec: Spec, source: SourceFile, sheet: Sheet, profile: Profile | None, several: bool
) -> Table | None:
    """The spec table a sheet holds: by sheet name, by file name, or by the headers it has."""
    named = _named_table(spec, source, sheet, profile, several)
    if named is not None or several:
        return named  # Other sheets of a workbook (a README, code lists) are not tables.
    fields_of = {t.name: {f.name for f in t.submitted_fields} for t in spec.tables}
    best, score = None, (0, 0)
    for table in spec.tables:
        aliases = profile.headers.get(table.name, {}) if profile else {}
        fields = fields_of[table.name]
        # Fields only this table has decide between tables that share some (provider, period,
        # a child table's parent key); then the most fields found.
        others = set().union(*(f for n, f in fields_of.items() if n != table.name))
        found = {aliases.get(h, h) for h in sheet.headers} & fields
        hits = (len(found - others), len(found))
        if hits > score:
            best, score = table, hits
    return best if score[1] >= 3 else None


def _named_table(
    spec: Spec, source: SourceFile, sheet: Sheet, profile: Profile | None, several: bool
) -> Table | None:
    """The spec table a sheet's name, or its file's name, says it holds: a name the profile
    maps, else the table's name in any of its common forms (``sheet_names``)."""
    names = {t.name for t in spec.tables}
    if sheet.name:
        given = sheet.name.strip().casefold()
        mapped = {k.strip().casefold(): v for k, v in (profile.sheets if profile else {}).items()}
        if given in mapped and mapped[given] in names:
            return spec.table(mapped[given])
        for name in names:
            if _sheet_key(sheet.name) in sheet_names(name):
                return spec.table(name)
    if several:
        return None
    stem = source.path.stem.lower()
    # The longest name that ends the file's name: a table named like the end of another's
    # name (addressee, pfd_addressee) does not take the other's file.
    for name in sorted(names, key=len, reverse=True):
        if stem == name or stem.endswith(f"_{name}") or stem.endswith(f"-{name}"):
            return spec.table(name)
    return None


def _sheet_key(text: str) -> str:
    """A sheet name as compared: case, spaces, hyphens and underscores aside."""
    return "".join(c for c in text.casefold() if c.isalnum())


def sheet_names(table: str) -> frozenset[str]:
    """The sheet names (as ``_sheet_key`` compares them) taken to hold a table without a
    profile: the table's name, its plural, and with "records" or "data" after it (``Deaths``,
    ``Death records``, ``activity-data``)."""
    key = _sheet_key(table)
    plural = key[:-1] + "ies" if key.endswith("y") else key + "s"
    return frozenset({key, plural, key + "records", key + "data"})


def _part(
    spec: Spec, table: Table, source: SourceFile, sheet: Sheet, profile: Profile | None
) -> TablePart:
    aliases = profile.headers.get(table.name, {}) if profile else {}
    submitted = {f.name: f for f in table.submitted_fields}
    counts = Counter(aliases.get(h, h) for h in sheet.headers)
    field_headers: dict[str, tuple[int, str]] = {}
    column_rows = []
    for position, header in enumerate(sheet.headers):
        name = aliases.get(header, header)
        known = name in submitted
        if known and name not in field_headers:
            field_headers[name] = (position, header)
        column_rows.append(
            {
                "column_name": header,
                "field_name": name if known else None,
                "mandation": submitted[name].mandation.value if known else None,
                "present": "true",
                "occurrences": str(counts[name]),
                "known": "true" if known else "false",
            }
        )
    for name, f in submitted.items():
        # A file with no header at all is empty: "not empty" names that, not each missing column.
        if name not in field_headers and sheet.headers:
            column_rows.append(
                {
                    "column_name": None,
                    "field_name": name,
                    "mandation": f.mandation.value,
                    "present": "false",
                    "occurrences": "0",
                    "known": "true",
                }
            )
    columns = pl.DataFrame(
        column_rows,
        schema=dict.fromkeys(
            ["column_name", "field_name", "mandation", "present", "occurrences", "known"], pl.String
        ),
    )
    frame = sheet.frame
    # The first column carrying a field's header is the field; a repeated one is reported.
    picked = {
        name: pl.col(frame.columns[pos]).alias(name) for name, (pos, _) in field_headers.items()
    }
    # A field without a column is empty on every record (the row index keeps the height even
    # when no column at all is a field of the spec).
    text = frame.select(
        pl.int_range(pl.len()).alias("__row"),
        *[
            picked.get(f.name, pl.lit(None, dtype=pl.String).alias(f.name))
            for f in table.submitted_fields
        ],
    ).drop("__row")
    text = _normalise_excel_dates(table, text) if source.format in {"xlsx", "xls"} else text
    if profile is not None:
        text = apply_profile(profile, spec, table.name, text)
    return TablePart(table.name, source, sheet, text, field_headers, columns)


def _normalise_excel_dates(table: Table, text: pl.DataFrame) -> pl.DataFrame:
    """A typed Excel date comes back as 'CCYY-MM-DD 00:00:00'; keep its date."""
    dates = [f.name for f in table.submitted_fields if f.type is FieldType.DATE]
    return text.with_columns(
        pl.col(d).str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(\.0+)?$", "$1") for d in dates
    )


def first_value(parts: Sequence[TablePart], name: str) -> str | None:
    """The value of a field that the submission's records hold most often (ties: the lowest).

    Whatever order the records come in, the same value is chosen (a file mixing periods or
    providers is rejected by the spec's file rules anyway). A table without the field (a death
    registration has no reporting period) gives none.
    """
    counts: Counter[str] = Counter()
    for part in parts:
        if name not in part.text.columns:
            continue  # a national feed's table may not have the field
        values = part.text.get_column(name).drop_nulls()
        if values.len():
            for value, n in values.value_counts().iter_rows():
                counts[str(value)] += int(n)
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


def field_of(spec: Spec, table: str, name: str) -> SpecField | None:
    """The field of that name in the table, else in any table (a cross-table group's fields)."""
    tables = sorted(spec.tables, key=lambda t: t.name != table)
    return next((t.field(name) for t in tables if name in t.field_names), None)


__all__ = [
    "VERSION_SHOWN_LENGTH",
    "ReadSubmission",
    "TablePart",
    "feed_shapes",
    "field_of",
    "first_value",
    "read_submission",
    "sheet_names",
]

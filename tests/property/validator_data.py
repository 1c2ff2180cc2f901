"""Helpers for the validator's property tests: files from the generator, and corruptions from the spec.

Every corruption is derived from a field's entry in the spec (its type, code list, pattern, range,
maximum length and mandation), never from a list of field names, so the table follows the spec as it
changes: ``corruption_kinds`` gives one kind per generated per-field rule of a table.

Nothing here uses the validator's own helpers (column letters, line numbers, CSV reading): the
tests compare the validator against these independent oracles.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from mhdeaths import language as ex
from mhdeaths.spec import FieldType, Mandation, Rule, Spec, SpecField, Table

#: A record as read from or written to a CSV file: empty cells are None.
Row = dict[str, str | None]

#: Characters a provider's extract might hold in a wrong value, including the ones CSV must quote
#: (comma, double quote, line break) and a few outside ASCII.
_JUNK = string.ascii_letters + string.digits + " -./:,;\"'~_#é£\n"


# --- Files ---------------------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], list[Row]]:
    """The header and records of a CSV file as the generator writes it (UTF-8, comma)."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [
            {h: (v if v != "" else None) for h, v in zip(header, r, strict=True)} for r in reader
        ]
    return header, rows


def write_rows(path: Path, header: list[str], rows: list[Row]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([("" if r.get(h) is None else r[h]) for h in header] for r in rows)
    return path


def record_lines(path: Path) -> list[int]:
    """The line each record of a CSV file starts on (the header is line 1)."""
    text = path.read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    starts, line = [], reader.line_num + 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts


def excel_column(index: int) -> str:
    """The Excel column letter of a 0-based position (0 -> A, 25 -> Z, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = string.ascii_uppercase[rest] + letters
    return letters


# --- Corruptions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corruption:
    """One cell made wrong: the field, the value written (None: blanked) and the rule that must
    find it."""

    field: str
    value: str | None
    rule_id: str


@dataclass(frozen=True)
class CorruptionKind:
    """A way to break one field, the rule that must find it, and how to draw the bad value."""

    field: str
    check: str
    rule_id: str
    values: Callable[[dt.date], st.SearchStrategy[str | None]]
    """The bad values, given the first day of the reporting period."""


def junk(min_size: int = 1, max_size: int = 6) -> st.SearchStrategy[str]:
    """Non-empty text as a reader keeps it (no surrounding blanks, which are stripped)."""
    return st.text(_JUNK, min_size=min_size, max_size=max_size).map(str.strip).filter(bool)


def bad_dates() -> st.SearchStrategy[str]:
    """Text that is not a real calendar date written CCYY-MM-DD."""
    day = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31))
    return st.one_of(
        st.integers(1990, 2030).map(lambda y: f"{y}-02-30"),
        st.integers(1990, 2030).filter(lambda y: y % 4 != 0).map(lambda y: f"{y}-02-29"),
        st.sampled_from([4, 6, 9, 11]).map(lambda m: f"2027-{m:02d}-31"),
        st.integers(13, 99).map(lambda m: f"2027-{m:02d}-01"),
        st.integers(32, 99).map(lambda d: f"2027-05-{d:02d}"),
        day.map(lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}"),
        day.map(lambda d: d.strftime("%Y%m%d")),
        day.map(lambda d: d.strftime("%Y/%m/%d")),
        day.map(lambda d: f"{d.isoformat()} 00:00:00"),
        day.filter(lambda d: d.month < 10).map(lambda d: f"{d.year}-{d.month}-{d.day:02d}"),
        st.just("not known"),
    )


def bad_times() -> st.SearchStrategy[str]:
    """Text that is not a time of day written HH:MM or HH:MM:SS."""
    return st.one_of(
        st.integers(24, 99).map(lambda h: f"{h}:00"),
        st.integers(60, 99).map(lambda m: f"12:{m}"),
        st.integers(0, 23).map(lambda h: f"{h:02d}30"),
        st.integers(0, 23).map(lambda h: f"{h:02d}.30"),
        st.integers(0, 9).map(lambda h: f"{h}:05"),
        st.just("12:30:61"),
        st.just("noon"),
    )


def bad_integers() -> st.SearchStrategy[str]:
    """Text that is not a whole number."""
    return st.one_of(
        st.sampled_from(["1.5", "12a", "1,000", "ten", "1e3", "--1", "1 000", "0x10", "½"]),
        st.just("1" * 16),
    )


def bad_numbers(field: SpecField) -> st.SearchStrategy[str]:
    """Text outside the field's range (still a whole number)."""
    options = []
    if field.maximum is not None:
        options.append(st.integers(field.maximum + 1, field.maximum + 10_000).map(str))
    if field.minimum is not None:
        options.append(st.integers(field.minimum - 10_000, field.minimum - 1).map(str))
    return st.one_of(options)


def _fits(field: SpecField, value: str) -> bool:
    return field.pattern is None or re.fullmatch(field.pattern, value) is not None


def not_matching(field: SpecField) -> st.SearchStrategy[str]:
    """Text that breaks the field's pattern but no other check of it (type, maximum length)."""
    assert field.pattern is not None
    longest = field.max_length or 12
    return junk(1, longest).filter(
        lambda s: len(s) <= longest and re.fullmatch(field.pattern or "", s) is None
    )


def too_long(field: SpecField) -> st.SearchStrategy[str]:
    """Text longer than the field's maximum, matching its pattern where the pattern allows it."""
    limit = field.max_length or 0
    options = [
        st.integers(1, 5).map(lambda k: "x" * (limit + k)),
        st.integers(1, 5).map(lambda k: "A1" * ((limit + k) // 2 + 1)),
    ]
    if field.example:
        repeated = field.example * (limit // max(len(field.example), 1) + 1)
        if _fits(field, repeated):
            options.insert(0, st.just(repeated))
    return st.one_of(options)


def bad_codes(spec: Spec, field: SpecField, day: dt.date) -> st.SearchStrategy[str]:
    """A value that is not a code of the field's list valid in the reporting period."""
    assert field.code_list is not None
    codes = spec.code_list(field.code_list)
    valid = set(codes.valid_codes(day))
    retired = sorted(set(codes.valid_codes()) - valid)
    anything = junk(1, 4).filter(lambda s: s not in valid)
    return st.one_of(anything, st.sampled_from(retired)) if retired else anything


def corruption_kinds(spec: Spec, table: Table) -> list[CorruptionKind]:
    """One way to break each field for each per-field check the spec gives it."""
    kinds: list[CorruptionKind] = []

    def add(f: SpecField, check: str, values: Callable[[dt.date], st.SearchStrategy[str | None]]):
        kinds.append(CorruptionKind(f.name, check, f"{table.name}.{check}.{f.name}", values))

    for f in table.submitted_fields:
        if f.type in {FieldType.DATE, FieldType.TIME, FieldType.INTEGER, FieldType.DECIMAL}:
            bad = {
                FieldType.DATE: bad_dates,
                FieldType.TIME: bad_times,
                FieldType.INTEGER: bad_integers,
                FieldType.DECIMAL: bad_integers,
            }[f.type]()
            add(f, "type", lambda _day, bad=bad: bad)
        if f.mandation is Mandation.MANDATORY:
            add(f, "mandatory", lambda _day: st.none())
        if f.mandation is Mandation.REQUIRED:
            add(f, "required", lambda _day: st.none())
        if f.code_list is not None:
            add(f, "code_list", lambda day, f=f: bad_codes(spec, f, day))
        if f.pattern is not None:
            add(f, "pattern", lambda _day, f=f: not_matching(f))
        if f.minimum is not None or f.maximum is not None:
            add(f, "range", lambda _day, f=f: bad_numbers(f))
        if f.max_length is not None and f.type is FieldType.STRING:
            add(f, "max_length", lambda _day, f=f: too_long(f))
        if f.reference:
            add(f, "no_identifier", lambda _day: nhs_number_in_a_reference())
    return kinds


def nhs_number_in_a_reference() -> st.SearchStrategy[str | None]:
    """Ten digits as an NHS number is written, inside a reference that its pattern and length
    would otherwise accept (a number pasted into the CQC's reference box)."""
    return st.tuples(
        st.sampled_from(["", "R-", "CQC-"]),
        st.integers(0, 10**10 - 1).map(lambda n: f"{n:010d}"),
        st.sampled_from(["", "-"]),
    ).map(lambda t: f"{t[0]}{t[1][:3]}{t[2]}{t[1][3:6]}{t[2]}{t[1][6:]}")


def corruptions(
    spec: Spec,
    table: Table,
    day: dt.date,
    leave: frozenset[str] = frozenset(),
    kind: str | None = None,
) -> st.SearchStrategy[Corruption]:
    """One corrupted cell of a table: of any kind, or of the kind whose rule id is ``kind``
    (fields in ``leave`` are left alone)."""
    kinds = [
        k
        for k in corruption_kinds(spec, table)
        if k.field not in leave and (kind is None or k.rule_id == kind)
    ]
    assert kinds, f"no corruption of kind {kind}"
    return st.sampled_from(kinds).flatmap(
        lambda k: k.values(day).map(lambda v, k=k: Corruption(k.field, v, k.rule_id))
    )


# --- What a corrupted cell may legitimately also trip -------------------------------------------


def derived_dependants(spec: Spec, table: str, field: str) -> set[str]:
    """The derived fields whose definitions read the field, directly or through another."""
    found: set[str] = set()
    for definition in spec.definitions_for(table):
        reads = ex.parse(definition.expression).columns
        if field in reads or reads & found:
            found.add(definition.name)
    return found


def may_also_fire(spec: Spec, rule: Rule, field: str) -> bool:
    """Whether a rule may fail because one field changed: it names the field, or it reads a
    derived field (an agreed definition) that the field feeds."""
    if field in rule.fields:
        return True
    reads = ex.parse(ex.bind_codes(rule.expression, [])).columns
    return bool(reads & derived_dependants(spec, rule.table, field))


def noise_fields(spec: Spec, table: Table) -> list[SpecField]:
    """Optional free-text fields that no rule or definition reads but their own length check: a
    value with a line break there must find nothing, yet moves the CSV lines of later records."""
    read: set[str] = set()
    for rule in spec.rules_for(table.name):
        if rule.generated_from is None:
            read |= set(rule.fields) | ex.parse(ex.bind_codes(rule.expression, [])).columns
    for definition in spec.definitions_for(table.name):
        read |= ex.parse(definition.expression).columns
    return [
        f
        for f in table.submitted_fields
        if f.type is FieldType.STRING
        and f.mandation is Mandation.OPTIONAL
        and f.code_list is None
        and f.pattern is None
        and not f.identifier
        and f.name not in read
        and (f.max_length or 0) >= 6
    ]

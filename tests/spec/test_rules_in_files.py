"""One test per rule, through the validator: each rule's counterexample, written into a real file,
is reported by that rule at the row and column a person would look at; its valid example is not.

The base records come from the synthetic generator (valid by construction), or, for a national
feed (which the generator does not make), from its fields' own examples; the rule's own example
records from the spec are laid over them. So every rule of every version is covered here without a
hand-written test, and the meta-test below fails if a rule has no case.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.engines import polars_engine
from mhdeaths.spec import ExampleRecord, FieldType, Mandation, Rule, Scope, Spec, Table
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.validate.reading import column_letter
from mhdeaths.validate.validator import ValidationResult, validate

from .cases import SPECS, covered, located, rule_cases

CASES = rule_cases()
BASE_ROWS = 3
TARGET = 1
"""The record the example is laid over: the second, so its CSV line is 3."""


@cache
def generated(version: str) -> dict[str, pl.DataFrame]:
    """Each table's records from the generator (every file of every month), as text."""
    import tempfile

    spec = SPECS[version]
    frames = {}
    with tempfile.TemporaryDirectory() as tmp:
        generate(spec, SynthOptions(providers=1, months=6, seed=5, start="2027-10"), Path(tmp))
        for table in spec.tables:
            files = sorted(Path(tmp).rglob(f"*_{table.name}.csv"))
            parts = [pl.read_csv(f, infer_schema=False) for f in files]
            frames[table.name] = pl.concat(parts) if parts else pl.DataFrame()
    return frames


@cache
def base_records(version: str, table: str) -> list[dict[str, str | None]]:
    """Valid records of a table from the generator, with unique identifiers."""
    spec = SPECS[version]
    if spec.is_feed:
        return feed_records(spec.table(table))
    frame = generated(version)[table]
    if spec.table(table).optional:
        return child_records(spec, table, frame)
    # Keep the month of the first record: a submission covers one reporting period.
    period = frame["reporting_period"][0]
    frame = frame.filter(pl.col("reporting_period") == period)
    if table == "death":
        rows = frame.head(BASE_ROWS).to_dicts()
        while len(rows) < BASE_ROWS:  # a quiet month: copy a record under a new identity
            extra = dict(rows[-1])
            extra["death_record_id"] = f"{extra['death_record_id']}-{len(rows)}"
            extra["nhs_number"] = None
            rows.append(extra)
        return rows
    return frame.to_dicts()


def feed_records(table: Table) -> list[dict[str, str | None]]:
    """Records of a national feed's table made of its fields' examples (valid by the spec's own
    check), each with a key of its own."""
    row = {f.name: f.example for f in table.submitted_fields}
    rows = [dict(row) for _ in range(BASE_ROWS)]
    # A key of free text is made unique by a suffix (a coded, dated or patterned one is left).
    own = [
        k
        for k in table.key
        if table.field(k).type is FieldType.STRING and table.field(k).pattern is None
    ]
    for i, extra in enumerate(rows[1:], start=1):
        for k in own:
            extra[k] = f"{extra[k]}-{i}"
    return rows


def key_of(spec: Spec) -> str:
    """A spec's version as the cases write it (a feed's with its feed's name)."""
    return f"{spec.feed}/{spec.version}" if spec.is_feed else spec.version


def run(paths: list[Path], version: str, **options: int) -> ValidationResult:
    """Validate files against a case's version (a feed's under its own folder)."""
    root, number = located(version)
    return validate(paths, spec_version=number, spec_root=root, **options)


def child_records(spec: Spec, name: str, frame: pl.DataFrame) -> list[dict[str, str | None]]:
    """Records of an optional child table, each of one of its parents' base records (the
    generator's own records, of any month, or one made of the fields' examples when it wrote
    none), with unique keys."""
    table = spec.table(name)
    rows = frame.head(BASE_ROWS).to_dicts() or [{f.name: f.example for f in table.submitted_fields}]
    parents = spec.parents_of(table)
    own_key = [k for k in table.key if all(k not in p.key for p in parents)]
    while len(rows) < BASE_ROWS:
        extra = dict(rows[-1])
        for k in own_key:
            extra[k] = f"{extra[k]}{len(rows)}"
        rows.append(extra)
    for parent in parents:
        records = base_records(key_of(spec), parent.name)
        # The fields that tie a record to its death and submission: mandatory in both tables
        # (not the record action, which is the child's own).
        shared = [
            f.name
            for f in parent.submitted_fields
            if f.name in table.field_names
            and f.mandation is Mandation.MANDATORY
            and table.field(f.name).mandation is Mandation.MANDATORY
            and f.code_list is None
        ]
        for i, row in enumerate(rows):
            row.update({k: records[i % len(records)][k] for k in shared})
    return rows


def write(path: Path, rows: list[Mapping[str, str | None]], header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row.get(h) for h in header])
    return path


def lay_over(
    base: list[dict[str, str | None]], records: tuple[ExampleRecord, ...]
) -> list[dict[str, str | None]]:
    """The base records with the example's records laid over, from the second record on
    (a one-record example) or from the first (several records, which replace the base)."""
    rows = [dict(r) for r in base]
    if len(records) == 1:
        rows[TARGET].update(records[0])
        return rows
    out = []
    for i, record in enumerate(records):
        row = dict(rows[i % len(rows)])
        row.update(record)
        out.append(row)
    return out


def submission(spec: Spec, rule: Rule, records: object, folder: Path) -> list[Path]:
    """Files holding the rule's example records over valid base records."""
    folder.mkdir(parents=True, exist_ok=True)
    by_table = records if isinstance(records, Mapping) else {rule.table: records}
    paths = []
    for table in files_for(spec, rule, by_table):
        table_name = table.name
        header = [f.name for f in table.submitted_fields]
        base = base_records(key_of(spec), table_name)
        given = tuple(by_table.get(table_name, ()))
        if rule.scope is Scope.CROSS_TABLE:
            # The example's records decide the groups; the base supplies the rest of each record.
            rows = [{**base[i % len(base)], **r} for i, r in enumerate(given)]
        elif rule.scope is Scope.TABLE and not given:
            rows = []
        else:
            rows = lay_over(base, given) if given else base
        paths.append(write(folder / f"X_{table_name}.csv", rows, header))
    return paths


def files_for(spec: Spec, rule: Rule, by_table: Mapping[str, object]) -> list[Table]:
    """The tables a rule's case is sent in: its own table (or, for a cross-table rule, every
    table it reads), and the main tables an optional one is sent with."""
    if rule.scope is Scope.CROSS_TABLE:
        wanted = set(by_table) | polars_engine.tables_read(rule) | {rule.table}
    else:
        wanted = {rule.table}
    for table in list(spec.tables):
        if table.name in wanted and table.optional:
            wanted |= {p.name for p in spec.parents_of(table)}
    return [t for t in spec.tables if t.name in wanted]


def structure_submission(
    spec: Spec, rule: Rule, record: ExampleRecord, folder: Path
) -> tuple[list[Path], str | None]:
    """A file whose header shows what the structure example describes: a column missing,
    unknown or repeated, with the files of the main tables an optional table is sent with.
    Returns the files (that one first) and the header the finding must name."""
    path, header = structure_file(spec, rule, record, folder)
    parents = [
        write(
            folder / f"X_{p.name}.csv",
            base_records(key_of(spec), p.name),
            [f.name for f in p.submitted_fields],
        )
        for p in spec.parents_of(spec.table(rule.table))
    ]
    return [path, *parents], header


def structure_file(
    spec: Spec, rule: Rule, record: ExampleRecord, folder: Path
) -> tuple[Path, str | None]:
    folder.mkdir(parents=True, exist_ok=True)
    table = spec.table(rule.table)
    header = [f.name for f in table.submitted_fields]
    rows = base_records(key_of(spec), rule.table)
    name = record.get("field_name") or record.get("column_name")
    if record.get("present") == "false":
        header.remove(str(name))
        return write(folder / f"X_{rule.table}.csv", rows, header), None
    if record.get("known") == "false":
        header.append(str(record["column_name"]))
        return write(folder / f"X_{rule.table}.csv", rows, header), str(record["column_name"])
    if record.get("occurrences") not in (None, "0", "1"):
        position = header.index(str(name))
        header.insert(position + 1, str(name))
        path = folder / f"X_{rule.table}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if row.get(h) is None else row.get(h) for h in header])
        return path, str(name)
    return write(folder / f"X_{rule.table}.csv", rows, header), str(name)


@pytest.mark.parametrize(("version", "rule_id"), CASES, ids=[f"{v}:{r}" for v, r in CASES])
def test_rule_in_a_file(version: str, rule_id: str, tmp_path: Path) -> None:
    spec = SPECS[version]
    rule = spec.rule(rule_id)
    if rule.scope is Scope.STRUCTURE:
        assert isinstance(rule.counterexample, tuple)
        paths, header = structure_submission(spec, rule, rule.counterexample[0], tmp_path / "bad")
        path = paths[0]
        found = [f for f in run(paths, version).report.findings if f.rule_id == rule_id]
        assert found, f"{rule_id} not reported"
        if header is not None:
            columns = next(csv.reader(path.open(encoding="utf-8")))
            positions = [i for i, h in enumerate(columns) if h == header]
            assert found[0].header == header
            assert found[0].row == 1
            assert found[0].column == column_letter(positions[0])
        else:
            assert found[0].field == rule.counterexample[0]["field_name"]
        good, _ = structure_submission(
            spec,
            rule,
            rule.example[0] if isinstance(rule.example, tuple) else {},
            tmp_path / "good",
        )
        assert not [f for f in run(good, version).report.findings if f.rule_id == rule_id]
        return

    bad = submission(spec, rule, rule.counterexample, tmp_path / "bad")
    report = run(bad, version, sample=1000).report
    found = [f for f in report.findings if f.rule_id == rule_id]
    assert found, f"{rule_id} not reported; found {sorted({f.rule_id for f in report.findings})}"
    if rule.scope is Scope.RECORD:
        many = isinstance(rule.counterexample, tuple) and len(rule.counterexample) > 1
        expected_row = 2 if many else TARGET + 2  # the header is line 1
        assert found[0].row == expected_row
        header = [f.name for f in spec.table(rule.table).submitted_fields]
        assert found[0].header == rule.fields[0]
        assert found[0].column == column_letter(header.index(rule.fields[0]))
    elif rule.scope is Scope.CROSS_TABLE:
        assert found[0].group is not None and len(found[0].group) == len(rule.group_by)
    else:
        assert found[0].row is None

    good = submission(spec, rule, rule.example, tmp_path / "good")
    assert not [f for f in run(good, version).report.findings if f.rule_id == rule_id]


def test_every_rule_has_a_case_in_a_file() -> None:
    """The meta-test: every rule of every version is exercised through a real file above."""
    assert covered(CASES) == []

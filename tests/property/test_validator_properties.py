"""Properties of the submission validator (issue 3), on files from the synthetic generator.

- valid records give no findings, in every spec version;
- one corrupted cell yields exactly that rule's finding, at that record's row and column;
- findings do not depend on the order of the records;
- validation is deterministic, and is its read step then its check step;
- every failure is counted, and the data quality measures count what the file holds.

Each example writes its files in a temporary folder of its own (hypothesis does not reset pytest's
tmp_path between examples). The corruptions come from the spec (``validator_data``), so a field or
check added to the spec is corrupted without anyone editing this file.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mhdeaths.guard import looks_identifying
from mhdeaths.periods import period_start
from mhdeaths.spec import Mandation, Scope, Severity, Spec, load_spec
from mhdeaths.synth import SynthOptions, generate, provider_codes
from mhdeaths.validate.report import Finding, Report, Verdict
from mhdeaths.validate.validator import check_submission, read_submission, validate

from ..conftest import SPEC_ROOT, VERSIONS
from .validator_data import (
    Corruption,
    corruption_kinds,
    corruptions,
    excel_column,
    may_also_fire,
    noise_fields,
    read_rows,
    record_lines,
    write_rows,
)

SPECS: dict[str, Spec] = {v: load_spec(v, SPEC_ROOT) for v in VERSIONS}
NOTES = {"death.scope.in_scope"}
"""Information rules the generator's clean records may meet, as real submissions do."""
ODS = provider_codes(1)[0]
REJECTS = {Severity.FILE_REJECT, Severity.RECORD_REJECT}
#: Reporting periods either side of the dates some codes become valid (review method 11: 2027-10).
STARTS = st.sampled_from(["2027-04", "2027-09", "2027-10", "2028-01", "2028-03"])
SEEDS = st.integers(0, 2**31)
VERSION = st.sampled_from(VERSIONS)

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


def _synth(spec: Spec, out: Path, *, seed: int, start: str, months: int = 1, **more: object):
    """One provider's months; ``busy`` raises its death rates so that files hold more records."""
    busy = bool(more.pop("busy", False))
    options = SynthOptions(
        providers=1,
        months=months,
        start=start,
        seed=seed,
        outliers=(ODS,) if busy else (),
        outlier_factor=6.0 if busy else 2.5,
        **more,  # type: ignore[arg-type]
    )
    return generate(spec, options, out)


def _by_month(files: list[Path]) -> dict[str, list[Path]]:
    """The generator's files grouped by reporting period (death file first, when there is one)."""
    months: dict[str, list[Path]] = {}
    for path in files:
        _, period, _ = path.stem.split("_", 2)
        months.setdefault(period, []).append(path)
    return months


def _first_file(files: list[Path], table: str) -> Path:
    return next(p for p in files if p.stem.endswith(f"_{table}"))


def _busy_file(spec: Spec, out: Path, table: str, seed: int, start: str, **more: object) -> Path:
    """A file of one table with a fair number of records (a month with deaths, for death)."""
    result = _synth(spec, out, seed=seed, start=start, months=3, busy=True, **more)
    return _first_file(result.files, table)


def _summary(report: Report) -> str:
    return "; ".join(
        f"{f.rule_id} row {f.row} {f.field}={f.value!r}" for f in report.findings[:20]
    ) or ", ".join(f"{r.rule_id}:{r.failed}" for r in report.rules)


# --- 1. Generated valid records give no findings ---------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=15, **SETTINGS)
@given(seed=SEEDS, months=st.integers(1, 2), start=STARTS, busy=st.booleans())
def test_generated_valid_submissions_give_no_findings(
    version: str, seed: int, months: int, start: str, busy: bool
) -> None:
    spec = SPECS[version]
    with tempfile.TemporaryDirectory() as tmp:
        result = _synth(spec, Path(tmp), seed=seed, start=start, months=months, busy=busy)
        grouped = _by_month(result.files)
        assert len(grouped) == months
        for period, paths in grouped.items():
            # The version is the one the files declare: nothing is passed but the files.
            validated = validate(paths)
            report = validated.report
            assert report.verdict is Verdict.ACCEPTED, _summary(report)
            # Information findings are notes, not problems: the generator writes what providers
            # send, some deaths outside the reporting obligation among them (noted from 2.0.0).
            problems = [f for f in report.findings if f.severity is not Severity.INFO]
            assert problems == [], _summary(report)
            assert {f.rule_id for f in report.findings} <= NOTES, _summary(report)
            assert [s for s in report.rules if s.severity is not Severity.INFO] == []
            assert {n for s, n in report.counts.items() if s is not Severity.INFO} == {0}
            assert report.truncated is False
            assert report.spec_version == report.spec_version_declared == version
            assert report.provider == ODS and report.reporting_period == period
            tables = {p.stem.split("_", 2)[2] for p in paths}
            assert {t.name for t in report.tables} == tables
            assert validated.submission is not None
            assert set(validated.submission.tables) == tables
            for quality in report.fields:
                assert quality.coverage == 100.0, quality
                # Every value the generator writes passes its field's own checks.
                assert quality.validity in (None, 100.0), quality


# --- 2. One corrupted cell yields exactly that rule's finding at that row ------------------------


def test_the_corruptions_cover_every_per_field_rule_of_each_table() -> None:
    """The corruption table is complete: each rule made from a check template has a corruption."""
    for spec in SPECS.values():
        for table in spec.tables:
            made = {r.id for r in spec.rules_for(table.name) if r.generated_from is not None}
            assert {k.rule_id for k in corruption_kinds(spec, table)} == made


def _expected_value(spec: Spec, table: str, corruption: Corruption) -> str | None:
    """The value a finding shows: only for code fields (a code list, or a pattern of fixed
    length) that identify no one (docs/validator.md, "What it never shows")."""
    f = spec.table(table).field(corruption.field)
    fixed = f.pattern is not None and not re.search(r"(?<!\\)[+*]|\{\d*,\}", f.pattern)
    shown = not f.identifier and (f.code_list is not None or fixed)
    if not shown or corruption.value is None:
        return None
    value = corruption.value.strip()
    if f.code_list is not None:
        longest = max(len(c) for c in spec.code_list(f.code_list).valid_codes())
        # A value longer than any code (or than 4, which no identifier is as short as) is free
        # text; one with a control character or outside ASCII is not a code either.
        code_shaped = len(value) <= max(longest, 4) and re.fullmatch(r"[!-~]([ -~]*[!-~])?", value)
    else:
        code_shaped = re.fullmatch(f.pattern or "", value) is not None
    if not code_shaped or looks_identifying(value):
        return "(value withheld)"
    return value


def _one_corruption(
    spec: Spec, table_name: str, seed: int, start: str, data: st.DataObject, kind: str | None = None
) -> None:
    """Corrupt one cell of a clean file and check the validator finds exactly that, there."""
    table = spec.table(table_name)
    with tempfile.TemporaryDirectory() as tmp:
        source = _busy_file(spec, Path(tmp) / "synth", table_name, seed, start)
        header, rows = read_rows(source)
        i = data.draw(st.integers(0, len(rows) - 1), label="record")
        period = period_start(rows[i]["reporting_period"] or start)
        corruption = data.draw(corruptions(spec, table, period, kind=kind), label="corruption")
        rows[i][corruption.field] = corruption.value
        # Sometimes a harmless value spanning lines elsewhere, which moves later records' lines.
        quiet = noise_fields(spec, table)
        if quiet and len(rows) > 1 and data.draw(st.booleans(), label="multi-line value"):
            j = data.draw(st.integers(0, len(rows) - 1).filter(lambda j: j != i), label="at")
            rows[j][data.draw(st.sampled_from(quiet)).name] = "Note\nspanning\nlines"
        path = write_rows(Path(tmp) / "bad" / source.name, header, rows)
        line = record_lines(path)[i]
        report = validate([path], spec_version=spec.version, sample=10_000).report

    newlines_before = sum((v or "").count("\n") for r in rows[:i] for v in r.values())
    assert line == i + 2 + newlines_before
    rule = spec.rule(corruption.rule_id)
    found = [f for f in report.findings if f.rule_id == rule.id]
    assert len(found) == 1, _summary(report)
    (finding,) = found
    assert finding.row == line, _summary(report)
    assert finding.column == excel_column(header.index(corruption.field))
    assert finding.header == finding.field == corruption.field
    assert finding.table == table_name and finding.file == path.name
    assert finding.severity is rule.severity
    assert finding.message == rule.message and finding.fix == rule.fix
    assert finding.value == _expected_value(spec, table_name, corruption)
    assert [s.failed for s in report.rules if s.rule_id == rule.id] == [1]

    for other in report.findings:
        if other.rule_id in NOTES and other.rule_id != rule.id:
            # A note on a record as the generator made it: the corrupted record may itself be
            # one (an out-of-scope death is reported with an information note).
            continue
        other_rule = spec.rule(other.rule_id)
        if other.row is None:
            # Only a file-level rule about the corrupted field (one provider, one period...).
            assert other_rule.scope is Scope.TABLE, other
            assert corruption.field in other_rule.fields, other
        else:
            assert other.row == line, f"{other.rule_id} at row {other.row}, not {line}"
            assert may_also_fire(spec, other_rule, corruption.field), other.rule_id
    rejected = any(f.severity in REJECTS for f in report.findings)
    assert (report.verdict is Verdict.REJECTED) is rejected
    if not rejected:
        assert report.verdict is Verdict.ACCEPTED_WITH_WARNINGS

    # The data quality measures see the one bad value.
    quality = next(q for q in report.fields if q.field == corruption.field)
    filled = sum(1 for r in rows if r.get(corruption.field) is not None)
    assert quality.completeness == round(100 * filled / len(rows), 2)
    if rule.generated_from in {"type", "code_list", "pattern", "range", "max_length"}:
        assert quality.validity == round(100 * (filled - 1) / filled, 2)


@pytest.mark.parametrize(("table_name", "examples"), [("death", 40), ("activity", 20)])
def test_one_corrupted_cell_yields_that_rule_s_finding_at_that_row(
    table_name: str, examples: int
) -> None:
    @settings(max_examples=examples, **SETTINGS)
    @given(version=VERSION, seed=SEEDS, start=STARTS, data=st.data())
    def check(version: str, seed: int, start: str, data: st.DataObject) -> None:
        _one_corruption(SPECS[version], table_name, seed, start, data)

    check()


#: Every corruption kind of the latest version's main tables, so that each is tried on every run.
#: An optional child table's file is refused alone; tests/spec/test_rules_in_files.py finds each
#: of its rules' counterexamples at its row and column, sent with its parent's file.
KINDS = [
    (t.name, k.rule_id)
    for t in SPECS[VERSIONS[-1]].main_tables
    for k in corruption_kinds(SPECS[VERSIONS[-1]], t)
]


@pytest.mark.parametrize(("table_name", "rule_id"), KINDS, ids=[r for _, r in KINDS])
@settings(max_examples=2, **SETTINGS)
@given(seed=SEEDS, start=STARTS, data=st.data())
def test_each_kind_of_corrupted_cell_is_found_at_its_row(
    table_name: str, rule_id: str, seed: int, start: str, data: st.DataObject
) -> None:
    _one_corruption(SPECS[VERSIONS[-1]], table_name, seed, start, data, kind=rule_id)


# --- 3. Findings do not depend on row order ------------------------------------------------------


def _located(report: Report, lines: dict[int, int]) -> Counter[tuple[object, ...]]:
    """Each finding with the record it is about (its index in the original file), not its row."""

    def where(f: Finding) -> object:
        return None if f.row is None or f.row == 1 else lines[f.row]

    return Counter(
        (
            f.rule_id,
            f.severity,
            f.field,
            f.header,
            f.column,
            f.value,
            tuple(f.group or ()),
            where(f),
        )
        for f in report.findings
    )


@pytest.mark.parametrize(("table_name", "examples"), [("death", 20), ("activity", 10)])
def test_findings_do_not_depend_on_the_order_of_the_records(table_name: str, examples: int) -> None:
    @settings(max_examples=examples, **SETTINGS)
    @given(
        version=VERSION,
        seed=SEEDS,
        start=STARTS,
        error_rate=st.sampled_from([0.2, 0.3, 0.5]),
        data=st.data(),
    )
    def check(version: str, seed: int, start: str, error_rate: float, data: st.DataObject) -> None:
        spec = SPECS[version]
        table = spec.table(table_name)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "synth"
            source = _busy_file(spec, out, table_name, seed, start, error_rate=error_rate)
            header, rows = read_rows(source)
            # More errors of every kind the spec defines, besides the generator's own (planted in
            # death files only). The reporting period stays one per file: see the next test.
            period = period_start(start)
            extra = st.tuples(
                st.integers(0, len(rows) - 1),
                corruptions(spec, table, period, leave=frozenset({"reporting_period"})),
            )
            for i, corruption in data.draw(st.lists(extra, min_size=1, max_size=5), label="errors"):
                rows[i][corruption.field] = corruption.value
            order = data.draw(st.permutations(range(len(rows))), label="order")
            original = write_rows(Path(tmp) / "a" / source.name, header, rows)
            shuffled = write_rows(Path(tmp) / "b" / source.name, header, [rows[k] for k in order])
            first = validate([original], spec_version=version, sample=10_000).report
            second = validate([shuffled], spec_version=version, sample=10_000).report
            in_original = {line: n for n, line in enumerate(record_lines(original))}
            in_shuffled = {line: order[n] for n, line in enumerate(record_lines(shuffled))}

        assert first.findings, "the file should hold errors"
        assert _located(first, in_original) == _located(second, in_shuffled)
        assert first.rules == second.rules
        assert first.fields == second.fields
        assert first.counts == second.counts and first.verdict is second.verdict

    check()


def test_findings_do_not_depend_on_order_when_a_file_mixes_reporting_periods() -> None:
    # Review method 11 is valid from October 2027 (spec 1.1.0). A September record and October
    # records in one file: which period the code is checked against must not depend on the order.
    spec = SPECS[VERSIONS[-1]]
    review = spec.code_list("review_method")
    assert "11" in review.valid_codes(dt.date(2027, 10, 1))
    assert "11" not in review.valid_codes(dt.date(2027, 9, 1))
    counts = set()
    with tempfile.TemporaryDirectory() as tmp:
        source = _busy_file(spec, Path(tmp) / "synth", "death", 1, "2027-10")
        header, rows = read_rows(source)
        rows = [dict(r) for r in (rows * 3)[:3]]
        for n, r in enumerate(rows):
            r["death_record_id"] = f"{ODS}-D-X{n}"
            r["nhs_number"] = None
        rows[0]["review_method"] = "11"
        rows[1].update(reporting_period="2027-09", death_date="2027-09-15")
        for n, order in enumerate(itertools.permutations(range(3))):
            path = write_rows(Path(tmp) / str(n) / source.name, header, [rows[k] for k in order])
            report = validate([path], spec_version=spec.version, sample=10_000).report
            counts.add(tuple((s.rule_id, s.failed) for s in report.rules))
    # Whatever the order, the October record's code is either valid or not.
    assert len(counts) == 1, counts


def test_findings_do_not_depend_on_order_when_a_file_mixes_spec_versions() -> None:
    # A 1.1.0 file with one record declaring 1.0.0, validated without --spec: the version the file
    # declares, and so the rules applied (1.1.0's family_involvement column is unknown to 1.0.0),
    # must not depend on which record comes first. The file is rejected either way.
    latest = SPECS[VERSIONS[-1]]
    older = VERSIONS[0]
    assert older != latest.version
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        source = _busy_file(latest, Path(tmp) / "synth", "death", 1, "2027-10")
        header, rows = read_rows(source)
        rows = [dict(r) for r in (rows * 3)[:3]]
        for n, r in enumerate(rows):
            r["death_record_id"] = f"{ODS}-D-X{n}"
        rows[1]["spec_version"] = older
        for n, order in enumerate(itertools.permutations(range(3))):
            path = write_rows(Path(tmp) / str(n) / source.name, header, [rows[k] for k in order])
            reports.append(validate([path], sample=10_000).report)
    assert all(r.verdict is Verdict.REJECTED for r in reports)
    assert len({r.spec_version for r in reports}) == 1
    assert len({tuple((s.rule_id, s.failed) for s in r.rules) for r in reports}) == 1


# --- 4. Validation is deterministic --------------------------------------------------------------


@settings(max_examples=10, **SETTINGS)
@given(version=VERSION, seed=SEEDS, start=STARTS, error_rate=st.sampled_from([0.0, 0.3, 1.0]))
def test_validating_the_same_files_twice_gives_the_same_report(
    version: str, seed: int, start: str, error_rate: float
) -> None:
    spec = SPECS[version]
    with tempfile.TemporaryDirectory() as tmp:
        result = _synth(spec, Path(tmp) / "a", seed=seed, start=start, busy=True)
        paths = result.files
        copies = [Path(tmp) / "b" / p.name for p in paths]
        for path, copy in zip(paths, copies, strict=True):
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, copy)
        once = validate(paths).report.model_dump_json()
        twice = validate(paths).report.model_dump_json()
        elsewhere = validate(copies).report.model_dump_json()
    assert once == twice
    # Nothing about where the file sits or when it was read: only its name and contents.
    assert once == elsewhere


@settings(max_examples=10, **SETTINGS)
@given(version=VERSION, seed=SEEDS, start=STARTS, error_rate=st.sampled_from([0.0, 0.3]))
def test_the_read_step_then_the_check_step_is_validation(
    version: str, seed: int, start: str, error_rate: float
) -> None:
    # The loader runs the two steps itself, its insert reading the read step's tables on a thread
    # while the checks run: the checks must give validate's report, and leave the tables as read.
    spec = SPECS[version]
    with tempfile.TemporaryDirectory() as tmp:
        result = _synth(spec, Path(tmp), seed=seed, start=start, busy=True, error_rate=error_rate)
        read = read_submission(result.files)
        texts = {table: text.clone() for table, text in read.texts.items()}
        checked = check_submission(read)
        whole = validate(result.files)
    assert read.spec.version == version
    assert checked.report.model_dump_json() == whole.report.model_dump_json()
    assert (checked.submission is None) == (whole.submission is None)
    assert set(texts) == {t.name for t in whole.report.tables}
    for table, text in read.texts.items():
        assert text.equals(texts[table]), table
        # A record's row as a person sees it: below the header (line 1), one row per record.
        rows = read.rows[table]
        assert rows.len() == text.height == rows.n_unique(), table
        assert text.height == 0 or int(rows.min()) >= 2  # type: ignore[arg-type]


# --- 5. Counts are complete ----------------------------------------------------------------------


@pytest.mark.parametrize("table_name", ["death", "activity"])
def test_every_failure_is_counted_and_the_measures_count_what_the_file_holds(
    table_name: str,
) -> None:
    @settings(max_examples=15, **SETTINGS)
    @given(version=VERSION, seed=SEEDS, start=STARTS, data=st.data())
    def check(version: str, seed: int, start: str, data: st.DataObject) -> None:
        spec = SPECS[version]
        table = spec.table(table_name)
        names = [f.name for f in table.submitted_fields if f.name != "spec_version"]
        with tempfile.TemporaryDirectory() as tmp:
            source = _busy_file(spec, Path(tmp) / "synth", table_name, seed, start)
            header, rows = read_rows(source)
            field = table.field(data.draw(st.sampled_from(names), label="field"))
            # Fill it where it was empty (an optional field), then keep it on k records only.
            fill = (
                next(r[field.name] for r in rows if r[field.name] is not None)
                if any(r[field.name] is not None for r in rows)
                else field.example
            )
            kept = data.draw(
                st.sets(st.integers(0, len(rows) - 1), max_size=len(rows)), label="kept"
            )
            for n, r in enumerate(rows):
                r[field.name] = (r[field.name] or fill) if n in kept else None
            n_records, k = len(rows), len(kept)
            sample = data.draw(st.sampled_from([10_000, 1, 3]), label="sample")
            path = write_rows(Path(tmp) / "bad" / source.name, header, rows)
            report = validate([path], spec_version=version, sample=sample).report

        quality = next(q for q in report.fields if q.field == field.name)
        assert quality.coverage == 100.0
        assert quality.completeness == round(100 * k / n_records, 2)
        if k == 0:
            assert quality.completeness == 0.0 and quality.validity is None
        if field.code_list is not None:
            assert (quality.default_code_use is None) is (k == 0)
        missing = n_records - k
        check_name = {Mandation.MANDATORY: "mandatory", Mandation.REQUIRED: "required"}.get(
            field.mandation
        )
        summaries = {s.rule_id: s for s in report.rules}
        if check_name is None:
            return
        rule_id = f"{table_name}.{check_name}.{field.name}"
        if not missing:
            assert rule_id not in summaries
            return
        summary = summaries[rule_id]
        assert summary.failed == missing
        assert summary.shown == min(missing, sample)
        assert summary.truncated is (missing > sample)
        listed = [f for f in report.findings if f.rule_id == rule_id]
        assert len(listed) == summary.shown
        lines = [n + 2 for n in range(n_records) if n not in kept]
        assert [f.row for f in listed] == lines[:sample]
        assert report.counts[spec.rule(rule_id).severity] >= missing
        if missing > sample:
            assert report.truncated and report.notes
        if check_name == "mandatory":
            assert report.verdict is Verdict.REJECTED
        else:
            assert report.verdict is not Verdict.ACCEPTED

    check()


@settings(max_examples=10, **SETTINGS)
@given(version=VERSION, seed=SEEDS, start=STARTS)
def test_a_required_field_empty_on_every_record_is_one_warning_per_record(
    version: str, seed: int, start: str
) -> None:
    spec = SPECS[version]
    table = spec.table("death")
    required = [f for f in table.submitted_fields if f.mandation is Mandation.REQUIRED]
    with tempfile.TemporaryDirectory() as tmp:
        source = _busy_file(spec, Path(tmp) / "synth", "death", seed, start)
        header, rows = read_rows(source)
        for r in rows:
            for f in required:
                r[f.name] = None
        path = write_rows(Path(tmp) / "bad" / source.name, header, rows)
        report = validate([path], spec_version=version, sample=10_000).report
    n_records = len(rows)
    # Information findings are not problems: emptying patient_status_at_death (a required field)
    # leaves an inpatient death with no open spell, which the scope rule notes as out of scope.
    failed = {s.rule_id: s.failed for s in report.rules if s.severity is not Severity.INFO}
    for f in required:
        assert failed[f"death.required.{f.name}"] == n_records
        quality = next(q for q in report.fields if q.field == f.name)
        assert quality.completeness == 0.0 and quality.validity is None
    # Emptiness is only the required checks' business: nothing else fails, nothing is rejected.
    assert set(failed) == {f"death.required.{f.name}" for f in required}, failed
    assert report.verdict is Verdict.ACCEPTED_WITH_WARNINGS
    assert report.counts[Severity.WARNING] == n_records * len(required)

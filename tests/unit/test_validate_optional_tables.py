"""The validator reads an optional child table when it is sent and reads none when it is not.

A copy of spec 1.1.0 gains an optional ``review`` table (``tests/child_table.py``). A real
submission of the example provider RZ2 (its death and activity CSV files) is validated without a
review file, with one (as CSV, and as one Excel workbook of three sheets), and with the review
alone: the review is checked like any table, its absence is no finding, and a submission made of
the optional table alone is refused in one sentence.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import xlsxwriter

from mhdeaths.errors import UserError
from mhdeaths.paths import default_spec_root
from mhdeaths.validate.render import to_html, to_json
from mhdeaths.validate.report import Report, Verdict
from mhdeaths.validate.submission_files import group_submission_files
from mhdeaths.validate.validator import validate
from tests.child_table import DEATH_SIDE_RULE, add_review_table, add_rule
from tests.functional.cli import mhdeaths

EXAMPLES = default_spec_root().parent / "submissions" / "examples" / "RZ2"
STEM = "RZ2_2028-03"
REVIEW_HEADERS = [
    "spec_version",
    "org_id_provider",
    "reporting_period",
    "death_record_id",
    "record_action",
    "review_id",
    "review_method",
    "review_started_date",
    "review_completed_date",
]
GOOD = ["1.1.0", "RZ2", "2028-03", "RZ2-D-202803-0001", "N", "R1", "04", "2028-03-20", "2028-04-18"]
# Completed the day before it started: record_reject, on the second record (CSV line 3, Excel row 3).
BAD = ["1.1.0", "RZ2", "2028-03", "RZ2-D-202803-0002", "N", "R2", "07", "2028-03-25", "2028-03-24"]
# A review of a death the file does not hold: the cross-table warning.
ORPHAN = ["1.1.0", "RZ2", "2028-03", "RZ2-D-202803-0099", "N", "R3", "01", "2028-03-26", ""]


@pytest.fixture
def root(spec_copy: Path) -> Path:
    add_review_table(spec_copy)
    return spec_copy


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The example month's death and activity files, copied, and a review file beside them."""
    out = {}
    for table in ("death", "activity"):
        out[table] = tmp_path / f"{STEM}_{table}.csv"
        shutil.copy(EXAMPLES / f"{STEM}_{table}.csv", out[table])
    out["review"] = tmp_path / f"{STEM}_review.csv"
    _write_csv(out["review"], REVIEW_HEADERS, [GOOD, BAD, ORPHAN])
    return out


def _write_csv(path: Path, headers: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows(rows)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        headers, *rows = list(csv.reader(fh))
    return headers, rows


def test_a_submission_without_the_optional_table_passes_with_no_finding_about_it(
    root: Path, files: dict[str, Path]
) -> None:
    result = validate([files["death"], files["activity"]], spec_root=root)
    report = result.report
    assert report.verdict is Verdict.ACCEPTED, [f.rule_id for f in report.findings]
    assert report.findings == []
    assert sorted(t.name for t in report.tables) == ["activity", "death"]
    # The cross-table rules that name the review table ran (on no reviews) and passed; the
    # review table's own rules did not run (no file to judge).
    assert result.submission is not None
    assert set(result.submission.tables) == {"death", "activity"}


def test_the_optional_table_sent_is_checked_record_by_record(
    root: Path, files: dict[str, Path]
) -> None:
    report = validate(list(files.values()), spec_root=root).report
    assert report.verdict is Verdict.REJECTED
    assert {t.name: t.records for t in report.tables} == {"death": 2, "activity": 18, "review": 3}
    bad = [f for f in report.findings if f.rule_id == "review.dates.completed_not_before_started"]
    assert [(f.table, f.file, f.row, f.column, f.header) for f in bad] == [
        ("review", files["review"].name, 3, "I", "review_completed_date")
    ]
    orphan = [f for f in report.findings if f.rule_id == "review.death_in_file"]
    assert len(orphan) == 1 and orphan[0].file == files["review"].name
    assert orphan[0].group is not None and orphan[0].group[0] == "RZ2"
    # Nothing else is wrong: the death and activity files and the good review pass, and the
    # three-table rule (reviews in a month with deaths) holds.
    assert {f.rule_id for f in report.findings} == {
        "review.dates.completed_not_before_started",
        "review.death_in_file",
    }
    # The JSON and HTML reports show each table found.
    shown = json.loads(to_json(report))
    assert sorted(t["name"] for t in shown["tables"]) == ["activity", "death", "review"]
    assert "3 review" in to_html(report)


def test_the_optional_table_in_one_workbook_is_checked_by_excel_row(
    root: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    workbook_path = tmp_path / f"{STEM}.xlsx"
    workbook = xlsxwriter.Workbook(str(workbook_path))
    sheets = {
        "death": _read_csv(files["death"]),
        "review": (REVIEW_HEADERS, [GOOD, BAD, ORPHAN]),
        "activity": _read_csv(files["activity"]),
    }
    for name, (headers, rows) in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate([headers, *rows]):
            for c, value in enumerate(row):
                if value != "":
                    sheet.write_string(r, c, value)
    workbook.add_worksheet("README").write_string(0, 0, "Not a table")
    workbook.close()
    report = validate([workbook_path], spec_root=root).report
    assert {(t.name, t.sheet, t.records) for t in report.tables} == {
        ("death", "death", 2),
        ("review", "review", 3),
        ("activity", "activity", 18),
    }
    assert {f.rule_id for f in report.findings} == {
        "review.dates.completed_not_before_started",
        "review.death_in_file",
    }
    bad = next(f for f in report.findings if f.rule_id.startswith("review.dates."))
    assert (bad.file, bad.row, bad.column) == (workbook_path.name, 3, "I")


def test_a_cross_table_rule_sees_an_absent_optional_table_as_empty(
    root: Path, files: dict[str, Path]
) -> None:
    # Both deaths name a review method; with no review file, the rule sees no reviews and finds
    # both deaths, located in the death file (the rule's own table).
    add_rule(root / "1.1.0", DEATH_SIDE_RULE)
    report = validate([files["death"], files["activity"]], spec_root=root).report
    assert report.verdict is Verdict.ACCEPTED_WITH_WARNINGS
    found = [f for f in report.findings if f.rule_id == "death.review.record_sent"]
    assert len(found) == 2 and {f.file for f in found} == {files["death"].name}
    # Sent, the reviews satisfy it for the deaths they review.
    _write_csv(files["review"], REVIEW_HEADERS, [GOOD])
    report = validate(list(files.values()), spec_root=root).report
    found = [f for f in report.findings if f.rule_id == "death.review.record_sent"]
    assert len(found) == 1


def test_a_rule_of_an_absent_optional_table_that_fails_is_located_in_a_file_sent(
    root: Path, files: dict[str, Path]
) -> None:
    # A rule of the review table that fails where no review is sent: its findings are counted
    # and listed against a file that was sent, never dropped.
    add_rule(root / "1.1.0", {**DEATH_SIDE_RULE, "id": "review.expected", "table": "review"})
    report = validate([files["death"], files["activity"]], spec_root=root).report
    summary = next(s for s in report.rules if s.rule_id == "review.expected")
    found = [f for f in report.findings if f.rule_id == "review.expected"]
    assert summary.failed == len(found) == 2
    assert {f.file for f in found} == {files["death"].name}


@pytest.mark.parametrize("with_activity", [False, True], ids=["alone", "with-activity"])
def test_the_optional_table_without_its_death_is_refused_in_one_sentence(
    root: Path, files: dict[str, Path], with_activity: bool
) -> None:
    # The review's key holds the death's: the death table is its parent. A month without
    # deaths may leave the death file out, but reviews sent without their deaths cannot be
    # checked against them.
    paths = [files["review"], files["activity"]] if with_activity else [files["review"]]
    with pytest.raises(UserError) as raised:
        validate(paths, spec_root=root)
    assert str(raised.value) == (
        "The submission holds the review table without its death table: a review record is "
        "sent with the record it belongs to, so validate them together."
    )
    run = mhdeaths("validate", "--spec-dir", root, *paths)
    assert run.code == 2, run.output
    assert "without its death table" in run.output and "Traceback" not in run.output


def test_a_file_is_matched_to_the_longest_table_name_it_ends_with(tmp_path: Path) -> None:
    # `<ODS>_<period>_<table>` with a table name holding an underscore is still one submission.
    names = [f"{STEM}_death.csv", f"{STEM}_pfd_addressee.csv", f"{STEM}_activity.csv"]
    for name in names:
        (tmp_path / name).write_text("spec_version\n", encoding="utf-8")
    groups = group_submission_files([tmp_path])
    assert [(g.provider, g.period, len(g.paths)) for g in groups] == [("RZ2", "2028-03", 3)]


def test_a_review_file_named_otherwise_is_found_by_its_headers(
    root: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    # The review shares its parent's key and two field names with the death table; the fields
    # only the review has decide.
    other = tmp_path / "reviews-march.csv"
    _write_csv(other, REVIEW_HEADERS, [GOOD])
    report = validate([files["death"], other, files["activity"]], spec_root=root).report
    assert {t.name: t.file for t in report.tables}["review"] == other.name
    assert report.findings == []


def test_an_absent_optional_file_reads_as_one_with_no_records(
    root: Path, files: dict[str, Path]
) -> None:
    # Q14: "an absent file means no rows". Leaving the review file out and sending it with only
    # its header give the same findings, with the rule that reads reviews among them.
    add_rule(root / "1.1.0", DEATH_SIDE_RULE)
    absent = validate([files["death"], files["activity"]], spec_root=root).report
    _write_csv(files["review"], REVIEW_HEADERS, [])
    header_only = validate(list(files.values()), spec_root=root).report

    def seen(report: Report) -> list[tuple[str, str, tuple[str, ...]]]:
        return sorted((f.rule_id, f.file, tuple(f.group or ())) for f in report.findings)

    assert seen(absent) == seen(header_only)
    assert {f.rule_id for f in absent.findings} == {"death.review.record_sent"}
    assert absent.verdict is header_only.verdict
    assert {t.name: t.records for t in header_only.tables}["review"] == 0

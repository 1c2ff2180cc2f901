"""``mhdeaths validate`` end to end, as a provider's data team runs it: exit codes, the terminal,
the JSON, CSV and HTML reports, privacy, and errors that are one sentence.

Each test runs the real command in a subprocess on synthetic files made here (``mhdeaths.synth``
output changed cell by cell with polars). A subprocess costs about two seconds, so each test makes
one or two runs and checks everything they show.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from nhs_number.validate import calculate_checksum

from mhdeaths.guard import looks_identifying
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.validate.intake import VERSION_SHOWN_LENGTH
from mhdeaths.validate.render import CSV_COLUMNS
from mhdeaths.validate.report import Report

from .cli import Run, mhdeaths

REPO = Path(__file__).resolve().parents[2]
SPEC = load_spec("1.1.0")
IDENTIFIERS = ("nhs_number", "person_birth_date", "postcode", "local_patient_id")
FORMULAS = {
    "ethnic_category": "=1+1",  # as short as a code, or a finding would withhold it
    "stated_gender": "-1+1",
    "record_action": "+1",
    "place_of_death_type": "@A1",  # a longer value is free text, which the guard withholds
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """A clean month of death records (spec 1.1.0) as text."""
    out = tmp_path_factory.mktemp("synth")
    result = generate(SPEC, SynthOptions(providers=1, months=1, start="2027-10", seed=3), out)
    (path,) = [p for p in result.files if p.stem.endswith("_death")]
    frame = pl.read_csv(path, infer_schema=False)
    assert frame.height == 6, "the checks below plant values on six records"
    return frame


def set_cells(frame: pl.DataFrame, column: str, values: dict[int, str | None]) -> pl.DataFrame:
    cells = frame.get_column(column).to_list()
    for index, value in values.items():
        cells[index] = value
    return frame.with_columns(pl.Series(column, cells, dtype=pl.String))


def write(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path


def synthetic_nhs_numbers(count: int) -> list[str]:
    """Valid NHS numbers from the synthetic range (999...), never issued to anyone."""
    numbers = []
    stem = 999_100_000
    while len(numbers) < count:
        digits = str(stem)
        check = calculate_checksum(digits)
        if check is not None and check < 10:
            numbers.append(f"{digits}{check}")
        stem += 1
    return numbers


def one_sentence(run: Run) -> str:
    """The error printed for a user error: one line on stderr, no traceback, nothing on stdout."""
    assert "Traceback" not in run.output, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    (line,) = lines
    assert line.startswith("error: ") and line.endswith("."), line
    # One sentence: no full stop followed by another sentence.
    assert not re.search(r"\.\s+[A-Z]", line.removeprefix("error: ")), line
    assert run.stdout == ""
    return line.removeprefix("error: ")


# --- A rejected submission, with every report written --------------------------------------


def test_rejected_submission_reports(tmp_path: Path, clean: pl.DataFrame) -> None:
    """A rejected file whose codes look like spreadsheet formulas, with identifiers everywhere a
    finding could be: a wrong NHS number check digit, an impossible postcode, a date of birth
    after death. One run, every report: exit 1, no identifier anywhere, a CSV safe in Excel."""
    frame = clean
    for index, (column, value) in enumerate(FORMULAS.items()):
        frame = set_cells(frame, column, {index: value})
    number = frame.get_column("nhs_number")[4]
    frame = set_cells(frame, "nhs_number", {4: f"{number[:-1]}{(int(number[-1]) + 1) % 10}"})
    frame = set_cells(frame, "postcode", {5: "ZZ99 9ZZZZ"})
    frame = set_cells(frame, "person_birth_date", {5: "2027-11-29"})
    path = write(frame, tmp_path / "RZ1_2027-10_death.csv")
    out = tmp_path / "reports"
    run = mhdeaths("validate", path, "--out", out)

    assert run.code == 1, run.output
    assert run.stderr == ""
    assert run.stdout.startswith("REJECTED  RZ1_2027-10_death.csv")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "RZ1_2027-10.findings.csv",
        "RZ1_2027-10.report.html",
        "RZ1_2027-10.report.json",
    ]
    for name in names:
        assert f"Wrote {out / name}" in run.stdout
    report = json.loads((out / "RZ1_2027-10.report.json").read_text())
    jsonschema.validate(report, Report.model_json_schema())
    assert report["verdict"] == "rejected"
    rows = {(f["rule_id"], f["row"], f["column"]) for f in report["findings"]}
    assert {
        ("death.code_list.ethnic_category", 2, "L"),
        ("death.code_list.stated_gender", 3, "K"),
        ("death.code_list.record_action", 4, "E"),
        ("death.code_list.place_of_death_type", 5, "T"),
        ("death.nhs_number.check_digit", 6, "F"),
        ("death.pattern.postcode", 7, "I"),
        ("death.dates.birth_not_after_death", 7, "H"),
    } <= rows
    # The terminal lists them too, each with its row, column and header.
    assert "RZ1_2027-10_death.csv (death), row 2, column L [ethnic_category]: " in run.stdout
    assert "death.code_list.ethnic_category (record reject)" in run.stdout

    # Privacy: no NHS number, date of birth, postcode (or local patient id) of the file, in any
    # form, in any output.
    secrets = {
        value
        for name in IDENTIFIERS
        for value in frame.get_column(name).drop_nulls().to_list()
        if value
    }
    secrets |= {re.sub(r"[ -]", "", s) for s in secrets}
    assert len(secrets) >= 18
    outputs = {"terminal": run.stdout + run.stderr}
    outputs |= {p.name: p.read_text(encoding="utf-8-sig") for p in out.iterdir()}
    leaks = {(where, s) for where, text in outputs.items() for s in secrets if s in text}
    assert leaks == set()

    # The CSV of findings: UTF-8 for Excel, the JSON's findings row for row, no formula.
    raw = (out / "RZ1_2027-10.findings.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    records = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, lines = records[0], records[1:]
    assert header == CSV_COLUMNS
    assert len(lines) == len(report["findings"]) > 0
    for line, finding in zip(lines, report["findings"], strict=True):
        cells = dict(zip(header, line, strict=True))
        assert cells["rule_id"] == finding["rule_id"]
        assert cells["row"] == ("" if finding["row"] is None else str(finding["row"]))
        assert cells["column"] == (finding["column"] or "")
        assert cells["header"] == (finding["header"] or "")
        for value in line:
            assert not value.startswith(("=", "+", "-", "@")), value
    by_rule = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    for column, value in FORMULAS.items():
        assert by_rule[f"death.code_list.{column}"]["value"] == "'" + value


# --- JSON on standard output, and the data quality measures ----------------------------------


def test_json_on_stdout(tmp_path: Path, clean: pl.DataFrame) -> None:
    frame = set_cells(
        clean, "death_time", {0: "10:00", 1: None, 2: "11:30", 3: None, 4: "23:59", 5: None}
    )
    frame = set_cells(
        frame, "ethnic_category", {0: "99", 1: "99", 2: "99", 3: "A", 4: "A", 5: "QQ"}
    )
    path = write(frame, tmp_path / "RZ1_2027-10_death.csv")
    run = mhdeaths("validate", path, "--format", "json")
    assert run.code == 1, run.output
    assert run.stderr == ""
    report = json.loads(run.stdout)
    jsonschema.validate(report, Report.model_json_schema())
    assert report["verdict"] == "rejected"
    assert report["spec_version"] == report["spec_version_declared"] == "1.1.0"
    assert (report["provider"], report["reporting_period"]) == ("RZ1", "2027-10")
    assert report["counts"] == {"file_reject": 0, "record_reject": 1, "warning": 0, "info": 0}
    assert [(r["rule_id"], r["failed"], r["shown"], r["truncated"]) for r in report["rules"]] == [
        ("death.code_list.ethnic_category", 1, 1, False)
    ]
    assert report["rules_checked"] == sum(1 for r in SPEC.rules if r.table == "death")
    assert [(f["rule_id"], f["row"], f["column"], f["value"]) for f in report["findings"]] == [
        ("death.code_list.ethnic_category", 7, "L", "QQ")
    ]
    fields = {(q["table"], q["field"]): q for q in report["fields"]}
    assert {t for t, _ in fields} == {"death"}
    assert len(fields) == len(SPEC.table("death").submitted_fields)
    time = fields["death", "death_time"]
    assert (time["coverage"], time["completeness"], time["validity"]) == (100.0, 50.0, 100.0)
    assert time["default_code_use"] is None  # not a coded field
    ethnic = fields["death", "ethnic_category"]
    assert (ethnic["completeness"], ethnic["validity"], ethnic["default_code_use"]) == (
        100.0,
        83.33,
        50.0,
    )
    assert report["truncated"] is False and report["sample_limit"] == 100


# --- Exit codes ------------------------------------------------------------------------------


def test_warnings_exit_0_and_1_with_strict(tmp_path: Path, clean: pl.DataFrame) -> None:
    path = write(clean.with_columns(pl.lit("x").alias("Notes")), tmp_path / "RZ1_2027-10_death.csv")
    run = mhdeaths("validate", path)
    assert run.code == 0, run.output
    assert run.stdout.startswith("ACCEPTED WITH WARNINGS")
    assert (
        "RZ1_2027-10_death.csv (death), row 1, column AT [Notes]: death.structure.unknown_column"
        in (run.stdout)
    )
    strict = mhdeaths("validate", path, "--strict", "--format", "json")
    assert strict.code == 1, strict.output
    report = json.loads(strict.stdout)
    assert (report["verdict"], report["strict"], report["counts"]["warning"]) == (
        "rejected",
        True,
        1,
    )


def test_missing_mandatory_column_exits_1(tmp_path: Path, clean: pl.DataFrame) -> None:
    path = write(clean.drop("death_date"), tmp_path / "RZ1_2027-10_death.csv")
    run = mhdeaths("validate", path, "--format", "csv")
    assert run.code == 1, run.output
    rows = list(csv.DictReader(io.StringIO(run.stdout, newline="")))
    missing = [r for r in rows if r["rule_id"] == "death.structure.missing_mandatory_column"]
    assert [(r["field"], r["severity"], r["row"], r["column"]) for r in missing] == [
        ("death_date", "file_reject", "", "")
    ]


def test_unreadable_input_exits_2_with_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "RZ1_2027-10_death.csv"
    path.write_bytes(bytes(range(256)) * 4)
    run = mhdeaths("validate", path)
    assert run.code == 2
    assert one_sentence(run) == (
        "RZ1_2027-10_death.csv holds binary data, so it is not a CSV file; send CSV, Excel or "
        "Parquet."
    )


def test_provider_and_profile_together_exit_2(tmp_path: Path, clean: pl.DataFrame) -> None:
    path = write(clean, tmp_path / "RZ1_2027-10_death.csv")
    run = mhdeaths(
        "validate", path, "--provider", "RZ9", "--profile", REPO / "validators" / "RZ9.yaml"
    )
    assert run.code == 2
    assert one_sentence(run) == "Give --provider or --profile, not both."


def test_unknown_provider_exits_2(tmp_path: Path, clean: pl.DataFrame) -> None:
    path = write(clean, tmp_path / "RZ1_2027-10_death.csv")
    run = mhdeaths("validate", path, "--provider", "RQQ")
    assert run.code == 2
    assert one_sentence(run) == "There is no profile for provider RQQ in validators/."


def test_wrong_declared_version_exits_2_and_spec_overrides(
    tmp_path: Path, clean: pl.DataFrame
) -> None:
    path = write(
        clean.with_columns(pl.lit("1.7.0").alias("spec_version")),
        tmp_path / "RZ1_2027-10_death.csv",
    )
    run = mhdeaths("validate", path)
    assert run.code == 2
    assert one_sentence(run) == (
        "The file declares spec version 1.7.0, which is not one of 1.0.0, 1.1.0, 2.0.0; correct "
        "it, or choose a version with --spec."
    )
    override = mhdeaths("validate", path, "--spec", "1.1.0", "--format", "json")
    assert override.code == 0, override.output
    assert json.loads(override.stdout)["spec_version"] == "1.1.0"


def test_bad_usage_exits_2(tmp_path: Path, clean: pl.DataFrame) -> None:
    path = write(clean, tmp_path / "RZ1_2027-10_death.csv")
    usage = mhdeaths("validate", path, "--format", "xml")
    assert usage.code == 2
    assert "Traceback" not in usage.output
    assert "'xml' is not one of" in usage.stderr


def test_accepted_exits_0_with_a_provider_profile() -> None:
    folder = REPO / "submissions" / "examples" / "RZ9"
    run = mhdeaths(
        "validate",
        folder / "RZ9_2027-05_death.csv",
        folder / "RZ9_2027-05_activity.csv",
        "--provider",
        "RZ9",
    )
    assert run.code == 0, run.output
    assert run.stdout.startswith("ACCEPTED  RZ9_2027-05_death.csv, RZ9_2027-05_activity.csv")
    assert "0 file reject, 0 record reject, 0 warning." in run.stdout
    assert run.stderr == ""


def test_an_error_quoting_the_file_is_still_one_sentence(
    tmp_path: Path, clean: pl.DataFrame
) -> None:
    path = write(
        clean.with_columns(pl.lit("[/x]").alias("spec_version")), tmp_path / "RZ1_2027-10_death.csv"
    )
    run = mhdeaths("validate", path)
    assert run.code == 2, run.output
    # Not shaped as a version, so not repeated (it could be anything); still one sentence.
    assert one_sentence(run).startswith("The file declares spec version (value withheld), which")
    path = write(clean.with_columns(pl.lit("9.9.9").alias("spec_version")), path)
    run = mhdeaths("validate", path)
    assert run.code == 2, run.output
    assert one_sentence(run).startswith("The file declares spec version 9.9.9, which")


def test_a_declared_version_is_repeated_only_up_to_its_named_length(
    tmp_path: Path, clean: pl.DataFrame
) -> None:
    # The spec's pattern for a version is unbounded: only the length keeps a long run of digits
    # and dots (a value in the wrong column) from being repeated.
    longest = "100.100." + "1" * (VERSION_SHOWN_LENGTH - len("100.100."))
    for declared, shown in ((longest, longest), (longest + "1", "(value withheld)")):
        assert not looks_identifying(declared)  # withheld, if at all, for its length
        path = write(
            clean.with_columns(pl.lit(declared).alias("spec_version")),
            tmp_path / "RZ1_2027-10_death.csv",
        )
        run = mhdeaths("validate", path)
        assert run.code == 2, run.output
        assert one_sentence(run).startswith(f"The file declares spec version {shown}, which")


# --- Truncation ------------------------------------------------------------------------------


def test_a_rule_failing_on_300_records_lists_100(tmp_path: Path, clean: pl.DataFrame) -> None:
    frame = pl.concat([clean] * 50)
    frame = frame.with_columns(
        pl.Series("death_record_id", [f"RZ1-D-{i:06d}" for i in range(300)]),
        pl.Series("nhs_number", synthetic_nhs_numbers(300)),
        pl.lit("QQ").alias("ethnic_category"),
    )
    path = write(frame, tmp_path / "RZ1_2027-10_death.csv")
    out = tmp_path / "reports"
    run = mhdeaths("validate", path, "--out", out)
    assert run.code == 1, run.output
    report = json.loads((out / "RZ1_2027-10.report.json").read_text())
    (rule,) = [r for r in report["rules"] if r["rule_id"] == "death.code_list.ethnic_category"]
    assert (rule["failed"], rule["shown"], rule["truncated"]) == (300, 100, True)
    listed = [f for f in report["findings"] if f["rule_id"] == rule["rule_id"]]
    assert [f["row"] for f in listed] == list(range(2, 102))
    assert report["counts"]["record_reject"] >= 300
    assert report["truncated"] is True
    notice = (
        "Some rules failed on more records than are listed: each rule lists at most 100 findings, "
        "and its count is always complete."
    )
    assert notice in report["notes"]
    # The terminal says so too: the full count, and the notice.
    assert re.search(r"death\.code_list\.ethnic_category\s+│ record reject │ 300", run.stdout)
    assert f"Note: {notice}" in run.stdout
    html = (out / "RZ1_2027-10.report.html").read_text()
    assert "300 records failed this rule; the first 100 are listed." in html


# --- A national feed is never a submission -----------------------------------------------------


def feed_file(feed: str, path: Path) -> Path:
    """A file of a national feed, its headers and values the feed spec's own fields and examples."""
    from mhdeaths.spec import load_feed_spec

    (table,) = load_feed_spec(feed, "1.0.0").tables
    frame = pl.DataFrame({f.name: [f.example] * 3 for f in table.submitted_fields})
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    return path


def test_a_feed_file_is_not_a_submission(tmp_path: Path, clean: pl.DataFrame) -> None:
    from mhdeaths.validate.intake import read_submission
    from mhdeaths.validate.reading import SubmissionFileError

    registrations = feed_file("registrations", tmp_path / "deaths_2027.csv")
    spells = feed_file("spells", tmp_path / "mhsds_2027-04.parquet")
    for path, feed in ((registrations, "registrations"), (spells, "spells")):
        run = mhdeaths("validate", path)
        # Refused as no table of the submission (exit 2, as any file/no-table), with where it goes.
        assert run.code == 2, run.output
        assert one_sentence(run) == (
            f"No death or activity table was found in {path.name}; it looks like the national "
            f"{feed} feed: load it with `mhdeaths warehouse load-feed {feed}`."
        )
        with pytest.raises(SubmissionFileError) as caught:
            read_submission([path])
        assert caught.value.id == "file/no-table"
    # Beside a real death file it still refuses the submission: a feed is never sent.
    death = write(clean, tmp_path / "RZ1_2027-10_death.csv")
    run = mhdeaths("validate", death, spells)
    assert run.code == 2
    assert "load-feed spells" in one_sentence(run)
    # A provider's own spec folder has no feeds: the file is read as the death table it most
    # resembles, rejected column by column, and no feed spec is named.
    own = tmp_path / "own-spec"
    shutil.copytree(REPO / "spec", own, ignore=shutil.ignore_patterns("feeds"))
    run = mhdeaths("validate", registrations, "--spec-dir", own)
    assert run.code == 1, run.output
    assert "death.structure.missing_mandatory_column" in run.stdout
    assert "load-feed" not in run.output

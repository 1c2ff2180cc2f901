"""A provider's workbook is read whatever its sheets are called: the common forms of a table's
name without a profile, the provider's own names through its profile; and a profile that does not
fit the spec version is refused in one sentence, as ``profile check`` would."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from mhdeaths.validate.intake import sheet_names
from mhdeaths.validate.profiles import Profile, ProfileError, load_profile
from mhdeaths.validate.validator import validate

REPO = Path(__file__).resolve().parents[2]
MONTH = REPO / "submissions" / "examples" / "RZ1"
RZ9 = REPO / "submissions" / "examples" / "RZ9"


def _workbook(path: Path, sheets: dict[str, Path]) -> Path:
    """A workbook with one sheet per CSV, named as given, every cell written as text."""
    book = xlsxwriter.Workbook(path)
    for name, csv in sheets.items():
        frame = pl.read_csv(csv, infer_schema=False)
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, frame.columns)
        for r, record in enumerate(frame.iter_rows(), start=1):
            for c, value in enumerate(record):
                if value is not None:
                    sheet.write_string(r, c, value)
    book.close()
    return path


@pytest.mark.parametrize(
    ("death", "activity"),
    [("Deaths", "Activity"), ("DEATH RECORDS", "activities"), (" death-data ", "Activity_Data")],
)
def test_common_forms_of_the_table_names_are_read_without_a_profile(
    tmp_path: Path, death: str, activity: str
) -> None:
    book = _workbook(
        tmp_path / "RZ1_2027-05.xlsx",
        {
            "Read me": MONTH / "RZ1_2027-05_death.csv",
            death: MONTH / "RZ1_2027-05_death.csv",
            activity: MONTH / "RZ1_2027-05_activity.csv",
        },
    )
    report = validate([book]).report
    assert report.verdict.value == "accepted", [f.rule_id for f in report.findings]
    assert sorted((t.name, t.sheet) for t in report.tables) == sorted(
        [("death", death), ("activity", activity)]
    )


def test_a_sheet_named_otherwise_is_not_taken_for_a_table() -> None:
    assert "deaths" in sheet_names("death") and "activities" in sheet_names("activity")
    assert "deathdictionary" not in sheet_names("death")


def test_a_profile_maps_the_providers_own_sheet_names(tmp_path: Path) -> None:
    profile = load_profile(REPO / "validators" / "RZ9.yaml")
    book = _workbook(
        tmp_path / "RZ9_2027-05.xlsx",
        {
            "Mortality Extract": RZ9 / "RZ9_2027-05_death.csv",
            "Bed Days": RZ9 / "RZ9_2027-05_activity.csv",
        },
    )
    unmapped = profile.model_copy(update={"sheets": {}})
    with pytest.raises(Exception, match="No death or activity table was found"):
        validate([book], profile=unmapped)
    mapped = profile.model_copy(
        update={"sheets": {"mortality extract": "death", "BED DAYS ": "activity"}}
    )
    report = validate([book], profile=mapped).report
    assert report.verdict.value == "accepted", [f.rule_id for f in report.findings]
    assert {t.sheet for t in report.tables} == {"Mortality Extract", "Bed Days"}


def test_a_profile_that_does_not_fit_the_version_is_refused_as_profile_check_says() -> None:
    profile = load_profile(REPO / "validators" / "RZ9.yaml")
    headers = {
        **profile.headers,
        "death": {**profile.headers["death"], "Postcode": "post_code"},
    }
    broken = profile.model_copy(update={"headers": headers, "sheets": {"Deaths": "deaths"}})
    files = sorted(RZ9.glob("RZ9_2027-05_*.csv"))
    with pytest.raises(ProfileError) as refused:
        validate(files, profile=broken)
    said = str(refused.value)
    assert said.startswith("The profile of RZ9 does not fit spec 1.0.0: headers.death: ")
    assert "'post_code'" in said and "(and 1 more)" in said
    assert "mhdeaths profile check --spec 1.0.0" in said


def test_a_sheets_entry_naming_no_table_is_a_profile_problem() -> None:
    from mhdeaths.spec import load_spec
    from mhdeaths.validate.profiles import check_profile

    profile = Profile(provider="RX1", name="x", sheets={"Deaths": "death", "Beds": "beds"})
    assert check_profile(profile, load_spec("1.1.0")) == [
        "sheets: 'Beds' maps to 'beds', which is not a table of spec 1.1.0."
    ]


def test_a_profile_found_by_code_that_does_not_fit_is_set_aside_with_a_note(tmp_path: Path) -> None:
    from mhdeaths.spec import load_spec
    from mhdeaths.synth import SynthOptions, generate
    from mhdeaths.validate.intake import read_submission
    from mhdeaths.validate.validator import check_submission

    generate(
        load_spec("2.0.0"),
        SynthOptions(provider_list=("RZ9",), months=1, start="2028-04", seed=2),
        tmp_path,
    )
    files = sorted((tmp_path / "RZ9").glob("RZ9_2028-04_*.csv"))
    profile = load_profile(REPO / "validators" / "RZ9.yaml")  # written for 1.x
    with pytest.raises(ProfileError, match=r"does not fit spec 2\.0\.0"):
        read_submission(files, profile=profile)  # named: refused
    read = read_submission(files, profile=profile, profile_found=True)  # found: set aside
    assert read.profile is None
    report = check_submission(read).report
    (note,) = [n for n in report.notes if "does not fit spec 2.0.0" in n]
    assert note.endswith("It was not applied.")

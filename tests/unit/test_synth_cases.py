"""The planted cases of spec 2.0.0 (synth/cases.py): each is in every seeded run, where the result
says, is what it claims to be under the 2.0.0 definitions, and passes the validator.

The warehouse's side (one death counted, the conflict and the unmatched transfer listed, the
child's cause group) is in tests/integration/test_synth_cases_warehouse.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.errors import UserError
from mhdeaths.spec import Severity, load_spec
from mhdeaths.synth import CASES, PlantedCase, SynthOptions, SynthResult, generate
from mhdeaths.validate.validator import validate

from .test_synth_lifecycle import originals, resubmission_pairs, sent_together, typed

SPEC = load_spec("2.0.0")


@pytest.fixture(scope="module", params=[21, 31])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    # The other options on, so that the cases are shown to survive transfers and resubmissions.
    options = SynthOptions(
        providers=3,
        months=3,
        start="2028-04",
        seed=request.param,
        resubmissions=0.4,
        transfers=0.25,
        planted_cases=True,
    )
    return generate(SPEC, options, tmp_path_factory.mktemp("cases"))


def case(result: SynthResult, name: str) -> PlantedCase:
    (found,) = [c for c in result.planted_cases if c.case == name]
    return found


def record(frame: pl.DataFrame, provider: str, record_id: str) -> dict[str, object]:
    (row,) = frame.filter(
        (pl.col("org_id_provider") == provider) & (pl.col("death_record_id") == record_id)
    ).to_dicts()
    return row


def original_deaths(result: SynthResult) -> pl.DataFrame:
    return typed(SPEC, originals(result, "death"))


def resubmitted(result: SynthResult, c: PlantedCase) -> dict[str, object]:
    """The case's record in its month's resubmission, typed and derived."""
    (death,) = [
        f for f in result.resubmissions if f.name == f"{c.provider}_{c.reporting_period}_death.csv"
    ]
    return record(typed(SPEC, [death]), c.provider, c.death_record_id)


# --- Every run carries every case ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("providers", "months", "seed"), [(2, 1, 1), (2, 2, 2), (3, 3, 3), (4, 1, 4), (5, 6, 5)]
)
def test_every_case_is_planted_once_where_the_result_says(
    providers: int, months: int, seed: int, tmp_path: Path
) -> None:
    options = SynthOptions(
        providers=providers, months=months, start="2028-04", seed=seed, planted_cases=True
    )
    result = generate(SPEC, options, tmp_path)
    assert [c.case for c in result.planted_cases] == list(CASES)
    deaths = original_deaths(result)
    for c in result.planted_cases:
        row = record(deaths, c.provider, c.death_record_id)
        assert row["reporting_period"] == c.reporting_period
    # The same options plant the same cases in the same files.
    again = generate(SPEC, options, tmp_path / "again")
    assert again.planted_cases == result.planted_cases
    for path in result.files:
        assert path.read_bytes() == (tmp_path / "again" / path.relative_to(tmp_path)).read_bytes()


def test_every_submission_with_a_planted_case_passes_the_validator(run: SynthResult) -> None:
    submissions: dict[tuple[Path, str], list[Path]] = {}
    for path in originals(run, "death") + originals(run, "activity"):
        submissions.setdefault((path.parent, path.stem.split("_")[1]), []).append(path)
    for path in run.files:
        if path not in run.resubmissions and path.stem.split("_", 2)[2] in (
            "review",
            "pfd_addressee",
        ):
            submissions[(path.parent, path.stem.split("_")[1])].append(path)
    for death, activity in resubmission_pairs(run):
        submissions[(death.parent, death.stem.split("_")[1])] = sent_together(
            SPEC, run, death, activity
        )
    cases = {(c.provider, c.reporting_period) for c in run.planted_cases}
    checked = set()
    for (folder, period), paths in submissions.items():
        provider = folder.name if folder.name != "resubmissions" else folder.parent.name
        if (provider, period) not in cases:
            continue
        result = validate(paths)
        assert result.accepted, (paths, result.report.verdict)
        assert [f for f in result.report.findings if f.severity is not Severity.INFO] == [], paths
        checked.add((provider, period))
    assert checked == cases


def test_1x_specs_and_one_provider_cannot_carry_the_cases(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0"):
        with pytest.raises(UserError, match=r"need spec 2\.0\.0"):
            generate(load_spec(version), SynthOptions(planted_cases=True), tmp_path)
    with pytest.raises(UserError, match="at least two providers"):
        generate(SPEC, SynthOptions(providers=1, planted_cases=True), tmp_path)


def test_planted_errors_never_land_on_a_planted_case(tmp_path: Path) -> None:
    options = SynthOptions(
        providers=2, months=2, start="2028-04", seed=6, error_rate=1.0, planted_cases=True
    )
    result = generate(SPEC, options, tmp_path)
    cases = {(c.provider, c.death_record_id) for c in result.planted_cases}
    cases |= {
        (c.other_provider, c.other_record_id) for c in result.planted_cases if c.other_record_id
    }
    hit = set()
    for error in result.planted_errors:
        row = pl.read_csv(error.file, infer_schema=False).row(error.row_number - 1, named=True)
        hit.add((row["org_id_provider"], row["death_record_id"]))
    assert not hit & cases
    # Every other death carries one error: the cases were passed over, nothing else was.
    deaths = sum(pl.read_csv(f, infer_schema=False).height for f in originals(result, "death"))
    assert len(result.planted_errors) == deaths - len(cases)
    # Every other death carries its error, so the cases are still there, clean.
    assert validate_cases(result) == []


def validate_cases(result: SynthResult) -> list[str]:
    """The rules that fire on the planted cases' records in their original submissions."""
    cases = {(c.provider, c.death_record_id) for c in result.planted_cases}
    fired = []
    for path in originals(result, "death"):
        report = validate([path]).report
        rows = pl.read_csv(path, infer_schema=False)["death_record_id"].to_list()
        for f in report.findings:
            if f.row is not None and (path.parent.name, rows[f.row - 2]) in cases:
                fired.append(f.rule_id)
    return fired


def test_without_the_option_nothing_is_planted(tmp_path: Path) -> None:
    result = generate(SPEC, SynthOptions(providers=2, months=1, start="2028-04"), tmp_path)
    assert result.planted_cases == []


# --- Each case -------------------------------------------------------------------------------------


def test_two_providers_report_one_death_with_dates_one_to_three_days_apart(
    run: SynthResult,
) -> None:
    c = case(run, "date_conflict")
    assert c.other_provider is not None and c.other_record_id is not None
    assert c.days_apart in (1, 2, 3)
    deaths = original_deaths(run)
    sending = record(deaths, c.provider, c.death_record_id)
    receiving = record(deaths, c.other_provider, c.other_record_id)
    assert c.provider != c.other_provider
    assert sending["nhs_number"] == receiving["nhs_number"]
    assert sending["person_birth_date"] == receiving["person_birth_date"]
    assert isinstance(sending["death_date"], dt.date) and isinstance(
        receiving["death_date"], dt.date
    )
    assert (sending["death_date"] - receiving["death_date"]).days == c.days_apart
    assert (sending["death_category"], receiving["death_category"]) == ("D30", "IPD")
    assert sending["receiving_provider"] == c.other_provider
    assert sending["reporting_period"] == receiving["reporting_period"]
    # The receiving spell starts on or after the discharge and ends with the death it records.
    assert sending["discharge_date"] <= receiving["admission_date"] <= receiving["death_date"]
    # Nobody else shares the number.
    shared = deaths.filter(pl.col("nhs_number") == sending["nhs_number"])
    assert shared.height == 2


def test_a_transfer_the_receiver_never_reports_is_planted(run: SynthResult) -> None:
    c = case(run, "transfer_unmatched")
    deaths = original_deaths(run)
    sending = record(deaths, c.provider, c.death_record_id)
    assert c.other_provider in run.providers and c.other_provider != c.provider
    assert sending["receiving_provider"] == c.other_provider
    assert sending["transfer_discharge"] is True
    assert sending["death_category"] == "D30"
    # Neither the receiver nor anyone else reports the person, in any file of the run.
    everyone = typed(SPEC, [f for f in run.files if f.stem.endswith("_death")])
    assert everyone.filter(pl.col("nhs_number") == sending["nhs_number"]).height == 1


def test_a_holding_code_is_replaced_by_the_real_code_in_the_resubmission(run: SynthResult) -> None:
    c = case(run, "holding_code")
    first = record(original_deaths(run), c.provider, c.death_record_id)
    assert first["underlying_cause_icd10"] == "Y33.9"
    assert first["inquest_status"] == "O"
    # A holding code is no cause (1.x called it a suicide): nothing gives a class yet.
    assert first["manner_of_death"] == "09"
    assert first["icd_cause_class"] is None
    assert (first["cause_basis"], first["cause_group"]) == ("NONE", "UNK")
    later = resubmitted(run, c)
    assert later["record_action"] == "U"
    assert later["underlying_cause_icd10"] not in (None, "Y33.9")
    assert later["icd_cause_class"] is not None
    assert later["inquest_status"] == "C"
    assert (later["cause_basis"], later["cause_group"]) == ("REG", "SUI")


def test_an_undetermined_intent_death_at_12_is_not_a_suicide(run: SynthResult) -> None:
    c = case(run, "undetermined_at_12")
    row = record(original_deaths(run), c.provider, c.death_record_id)
    assert row["age_at_death"] == 12
    code = str(row["underlying_cause_icd10"]).replace(".", "")
    assert "Y10" <= code[:3] <= "Y34"
    assert row["manner_of_death"] == "08"
    assert row["cause_group"] == "UNN"
    assert row["cdr_notified"] == "Y"


def test_an_inquest_conclusion_arrives_months_later_in_the_resubmission(run: SynthResult) -> None:
    c = case(run, "inquest_later")
    first = record(original_deaths(run), c.provider, c.death_record_id)
    assert first["inquest_status"] == "O"
    assert first["inquest_conclusion"] is None and first["inquest_concluded_date"] is None
    assert first["inquest_opened_date"] is not None
    later = resubmitted(run, c)
    assert later["record_action"] == "U"
    assert later["inquest_status"] == "C"
    assert later["inquest_conclusion"] == "10"
    concluded, died = later["inquest_concluded_date"], later["death_date"]
    assert isinstance(concluded, dt.date) and isinstance(died, dt.date)
    assert (concluded - died).days >= 90
    # No registered cause: the conclusion is the source of the cause.
    assert later["underlying_cause_icd10"] is None
    assert (first["cause_basis"], later["cause_basis"]) == ("PRV", "INQ")
    assert later["cause_group"] == "SUI"

"""Provider profiles: loading, checking against the spec, mapping an export, and derogations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.spec import Spec
from mhdeaths.validate.profiles import (
    ProfileError,
    apply_profile,
    check_profile,
    load_profile,
    to_provider_format,
)

PROFILES = Path(__file__).resolve().parents[2] / "validators"


def test_every_shipped_profile_fits_its_spec(spec_root: Path) -> None:
    from mhdeaths.spec import load_spec

    paths = sorted(PROFILES.glob("*.yaml"))
    assert paths
    for path in paths:
        profile = load_profile(path)
        assert path.stem == profile.provider, "a profile is named after its ODS code"
        assert check_profile(profile, load_spec(profile.spec_version, spec_root)) == []


def test_a_profile_with_unknown_fields_codes_and_rules_is_reported(
    tmp_path: Path, spec_v1: Spec
) -> None:
    path = tmp_path / "RX1.yaml"
    path.write_text(
        "provider: RX1\nname: Test\n"
        "headers:\n  death:\n    DoD: date_of_death\n    Ethnic: ethnic_category\n    Eth2: ethnic_category\n"
        "  wards: {X: y}\n"
        "codes:\n  ethnic_category: {WBRI: A, ODD: Q}\n  colour: {R: red}\n"
        "derogations:\n  - {rule: death.no.such.rule, until: 2028-01-01, reason: test}\n"
    )
    problems = check_profile(load_profile(path), spec_v1)
    assert (
        "headers.death: 'DoD' maps to 'date_of_death', which is not a submitted field of death."
        in problems
    )
    assert "headers.death: more than one header maps to 'ethnic_category'." in problems
    assert "headers: 'wards' is not a table of spec 1.0.0." in problems
    assert (
        "codes.ethnic_category: local code 'ODD' maps to 'Q', which is not a code of ethnic_category."
        in problems
    )
    assert "codes: 'colour' is not a coded field of spec 1.0.0." in problems
    assert "derogations: 'death.no.such.rule' is not a rule of spec 1.0.0." in problems


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("provider: [", "is not valid YAML"),
        ("- just a list", "is not a mapping of settings"),
        ("provider: RX1\nname: x\ncolour: red\n", "is not valid: colour"),
    ],
)
def test_a_broken_profile_is_one_sentence(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "RX1.yaml"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_a_missing_profile_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="There is no profile at"):
        load_profile(tmp_path / "nope.yaml")


def test_mapping_an_export_and_back_gives_the_same_text(spec_v1: Spec) -> None:
    profile = load_profile(PROFILES / "RZ9.yaml")
    national = pl.DataFrame(
        {
            "stated_gender": ["1", "2", "X"],
            "ethnic_category": ["A", "99", "S"],
            "death_date": ["2027-04-12", "2027-04-01", None],
        }
    )
    exported = to_provider_format(profile, spec_v1, "death", national)
    assert exported.columns == ["Sex", "Ethnicity", "Date of Death"]
    assert exported["Sex"].to_list() == ["M", "F", "U"]
    assert exported["Date of Death"].to_list() == ["12/04/2027", "01/04/2027", None]
    assert apply_profile(profile, spec_v1, "death", exported).equals(national)


def test_unknown_local_values_are_kept_for_the_code_list_check(spec_v1: Spec) -> None:
    profile = load_profile(PROFILES / "RZ9.yaml")
    frame = pl.DataFrame({"Sex": ["M", "Q"], "Date of Death": ["12/04/2027", "2027-04-12"]})
    mapped = apply_profile(profile, spec_v1, "death", frame)
    assert mapped["stated_gender"].to_list() == ["1", "Q"]
    assert mapped["death_date"].to_list() == ["2027-04-12", "2027-04-12"]


def test_a_derogation_downgrades_its_rule_until_its_date(tmp_path: Path, spec_v1: Spec) -> None:
    from mhdeaths.validate.validator import _effective_severities

    profile = load_profile(PROFILES / "RZ9.yaml")
    (derogation,) = profile.derogations
    before = _effective_severities(spec_v1, profile, derogation.until)
    after = _effective_severities(spec_v1, profile, derogation.until + dt.timedelta(days=1))
    assert before[derogation.rule].value == "warning"
    assert after[derogation.rule] is spec_v1.rule(derogation.rule).severity


def test_a_derogated_rule_is_a_warning_in_the_report_and_says_why(tmp_path: Path) -> None:
    from mhdeaths.validate.validator import validate

    source = next(PROFILES.parent.glob("submissions/examples/RZ9/RZ9_2027-05_death.csv"))
    frame = pl.read_csv(source, infer_schema=False)
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("Spell ID"))
    path = tmp_path / "RZ9_2027-05_death.csv"
    frame.write_csv(path)
    report = validate([path], provider="RZ9").report
    (summary,) = [r for r in report.rules if r.rule_id == "death.index_spell.spell_id"]
    assert summary.severity.value == "warning"
    assert summary.spec_severity.value == "record_reject"
    assert summary.derogation is not None and "until 2028-03-31" in summary.derogation
    assert report.verdict.value == "accepted with warnings"

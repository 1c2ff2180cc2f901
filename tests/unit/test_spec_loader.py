"""Loading a spec version: the real versions load, and a broken one fails with one clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from mhdeaths.errors import SpecError
from mhdeaths.periods import period_start
from mhdeaths.spec import Mandation, available_versions, load_spec


def test_both_released_versions_are_available(spec_root: Path) -> None:
    assert available_versions(spec_root)[:2] == ["1.0.0", "1.1.0"]


def test_the_newest_version_that_is_not_a_draft_is_loaded_when_none_is_named(
    spec_root: Path,
) -> None:
    versions = [load_spec(v, spec_root) for v in available_versions(spec_root)]
    released = [s.version for s in versions if s.status != "draft"]
    assert load_spec(None, spec_root).version == released[-1]


def test_a_draft_is_never_the_default(spec_copy: Path) -> None:
    newest = available_versions(spec_copy)[-1]
    head = spec_copy / newest / "version.yaml"
    head.write_text(head.read_text().replace("status: released", "status: draft"))
    assert load_spec(newest, spec_copy).status == "draft"
    assert load_spec(None, spec_copy).version != newest


def test_a_spec_has_the_death_and_activity_tables(any_spec) -> None:  # type: ignore[no-untyped-def]
    # Its main tables; 2.0.0 adds optional child tables of the death, keyed by it.
    assert [t.name for t in any_spec.main_tables] == ["death", "activity"]
    assert any_spec.table("death").key == ("org_id_provider", "death_record_id")
    for child in (t for t in any_spec.tables if t.optional):
        assert [p.name for p in any_spec.parents_of(child)] == ["death"]


def test_every_check_template_becomes_one_rule_per_field_it_applies_to(spec_v1) -> None:  # type: ignore[no-untyped-def]
    death = spec_v1.table("death")
    mandatory = [f.name for f in death.fields if f.mandation is Mandation.MANDATORY]
    generated = {
        r.id for r in spec_v1.rules if r.generated_from == "mandatory" and r.table == "death"
    }
    assert generated == {f"death.mandatory.{name}" for name in mandatory}


def test_derived_fields_get_no_field_checks(spec_v1) -> None:  # type: ignore[no-untyped-def]
    derived = {f.name for f in spec_v1.table("death").fields if not f.submitted}
    assert derived
    death_rules = [r for r in spec_v1.rules if r.table == "death" and r.generated_from]
    assert death_rules
    assert not [r for r in death_rules if r.fields[0] in derived]


def test_an_unknown_version_names_the_known_ones(spec_root: Path) -> None:
    with pytest.raises(SpecError, match=r"no spec version 9\.9\.9 \(known versions: 1\.0\.0"):
        load_spec("9.9.9", spec_root)


def test_a_version_that_is_not_semver_is_refused(spec_root: Path) -> None:
    with pytest.raises(SpecError, match="not a semantic version"):
        load_spec("1.2", spec_root)


def test_invalid_yaml_is_reported_with_its_line(spec_copy: Path) -> None:
    path = spec_copy / "1.0.0" / "rules.yaml"
    path.write_text(path.read_text() + "\n- id: [unclosed\n")
    with pytest.raises(SpecError, match=r"rules\.yaml is not valid YAML at line \d+"):
        load_spec("1.0.0", spec_copy)


def test_a_missing_code_list_file_is_named(spec_copy: Path) -> None:
    (spec_copy / "1.0.0" / "codelists" / "ethnic_category.csv").unlink()
    with pytest.raises(SpecError, match=r"ethnic_category.*is missing"):
        load_spec("1.0.0", spec_copy)


def test_a_field_with_an_unknown_attribute_is_refused(spec_copy: Path) -> None:
    path = spec_copy / "1.0.0" / "tables" / "activity.yaml"
    path.write_text(
        path.read_text().replace(
            "    mandation: mandatory\n", "    mandation: mandatory\n    colour: red\n", 1
        )
    )
    with pytest.raises(SpecError, match=r"does not load: .*colour"):
        load_spec("1.0.0", spec_copy)


def test_a_folder_whose_header_names_another_version_is_refused(spec_copy: Path) -> None:
    (spec_copy / "1.0.0").rename(spec_copy / "1.0.1")
    with pytest.raises(
        SpecError, match=r"declares version 1\.0\.0, but its folder is named 1\.0\.1"
    ):
        load_spec("1.0.1", spec_copy)


def test_code_validity_follows_the_reporting_period(spec_root: Path) -> None:
    spec = load_spec("1.1.0", spec_root)
    methods = spec.code_list("review_method")
    assert "11" not in methods.valid_codes(period_start("2027-09"))
    assert "11" in methods.valid_codes(period_start("2027-10"))


def test_period_start_refuses_a_bad_period() -> None:
    with pytest.raises(SpecError, match="CCYY-MM"):
        period_start("2027-13")

"""`spec check`: the real versions are sound, and each kind of breakage is caught and explained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mhdeaths.spec import available_versions, feed_root, feed_roots, load_feed_spec, load_spec
from mhdeaths.standard.check import check_spec, record_release, released_checksums
from mhdeaths.standard.problems import SPEC_PROBLEMS

from ..conftest import SPEC_ROOT


def problems(root: Path, version: str = "1.0.0") -> list[str]:
    return [str(p) for p in check_spec(load_spec(version, root), root)]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_every_version_passes_its_own_check(any_spec, spec_root: Path) -> None:  # type: ignore[no-untyped-def]
    assert check_spec(any_spec, spec_root) == []


def test_a_field_naming_a_missing_code_list_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "tables" / "death.yaml",
        "code_list: ethnic_category",
        "code_list: ethnicity",
    )
    assert any(
        "refers to code list 'ethnicity', which is missing" in p for p in problems(spec_copy)
    )


def test_a_duplicated_rule_id_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "rules.yaml",
        "id: death.dates.discharge_not_after_death",
        "id: death.dates.admission_not_after_death",
    )
    assert any(
        "rule death.dates.admission_not_after_death: the rule id is used more than once" in p
        for p in problems(spec_copy)
    )


def test_a_rule_id_reused_with_a_new_meaning_in_a_later_version_is_reported(
    spec_copy: Path,
) -> None:
    edit(
        spec_copy / "1.1.0" / "rules.yaml",
        'expression: "admission_date <= death_date"',
        'expression: "admission_date < death_date"',
    )
    found = problems(spec_copy, "1.1.0")
    assert any(
        "death.dates.admission_not_after_death: the id is reused with a new meaning" in p
        for p in found
    )


def test_a_retired_rule_id_used_again_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.1.0" / "changes.yaml",
        "rules_retired: []",
        "rules_retired: [death.age.plausible]",
    )
    found = problems(spec_copy, "1.1.0")
    assert any(
        "lists 'death.age.plausible' as retired, but the version still has it" in p for p in found
    )
    assert any("death.age.plausible: the id was retired in 1.1.0" in p for p in found)


def test_an_expression_naming_an_unknown_field_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "rules.yaml",
        'expression: "person_birth_date <= death_date"',
        'expression: "birth_date <= death_date"',
    )
    assert any(
        "names 'birth_date', which is not a field of death" in p for p in problems(spec_copy)
    )


def test_an_expression_outside_the_language_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "rules.yaml",
        'expression: "person_birth_date <= death_date"',
        'expression: "person_birth_date <= now()"',
    )
    assert any(
        "death.dates.birth_not_after_death: The expression" in p for p in problems(spec_copy)
    )


def test_a_rule_whose_valid_example_fails_it_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "rules.yaml",
        'example: {admission_date: "2027-03-01", death_date: "2027-04-12"}',
        'example: {admission_date: "2027-05-01", death_date: "2027-04-12"}',
    )
    assert any(
        "admission_not_after_death: its own valid example fails it" in p
        for p in problems(spec_copy)
    )


def test_a_rule_whose_counterexample_passes_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "rules.yaml",
        'counterexample: {admission_date: "2027-04-13", death_date: "2027-04-12"}',
        'counterexample: {admission_date: "2027-04-01", death_date: "2027-04-12"}',
    )
    assert any("its counterexample passes it" in p for p in problems(spec_copy))


def test_a_field_example_outside_its_code_list_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "tables" / "death.yaml",
        'code_list: ethnic_category\n    source: "NHS Data Dictionary: ETHNIC CATEGORY; MHSDS MHS001 EthnicCategory"\n    since: 1.0.0\n    example: "A"',
        'code_list: ethnic_category\n    source: "NHS Data Dictionary: ETHNIC CATEGORY; MHSDS MHS001 EthnicCategory"\n    since: 1.0.0\n    example: "Q"',
    )
    found = problems(spec_copy)
    assert any("example 'Q' is not a code of ethnic_category" in p for p in found)
    assert any(
        "death.code_list.ethnic_category: its own valid example fails it" in p for p in found
    )


def test_a_worked_example_that_does_not_derive_what_it_says_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "definitions.yaml",
        "expected: {death_category: OOS}\n        explanation: D30-2. Day 31",
        "expected: {death_category: D30}\n        explanation: D30-2. Day 31",
    )
    assert any(
        "worked example day_31 derives death_category = 'OOS', but it says 'D30'" in p
        for p in problems(spec_copy)
    )


def test_changing_a_file_of_a_released_version_is_reported(spec_copy: Path) -> None:
    edit(spec_copy / "1.0.0" / "codelists" / "ethnic_category.csv", "Not stated", "Not said")
    assert any(
        "ethnic_category.csv: this file of a released version has changed" in p
        for p in problems(spec_copy)
    )


def test_adding_a_file_to_a_released_version_is_reported(spec_copy: Path) -> None:
    (spec_copy / "1.0.0" / "notes.txt").write_text("an afterthought")
    assert any(
        "notes.txt: a file has been added to this released version" in p
        for p in problems(spec_copy)
    )


def test_a_released_version_without_recorded_checksums_is_reported(spec_copy: Path) -> None:
    (spec_copy / "released.yaml").write_text("{}\n")
    assert any("no checksums are recorded" in p for p in problems(spec_copy))


def test_record_release_makes_the_check_pass_again(spec_copy: Path) -> None:
    edit(spec_copy / "1.0.0" / "codelists" / "ethnic_category.csv", "Not stated", "Not said")
    record_release(load_spec("1.0.0", spec_copy), spec_copy)
    assert problems(spec_copy) == []


ROOTS = {"dataset": SPEC_ROOT, **feed_roots(SPEC_ROOT)}
"""The dataset's spec folder and each national feed's: each has its own released.yaml."""


@pytest.mark.parametrize("root", list(ROOTS))
def test_the_released_versions_have_not_changed(root: str) -> None:
    """The guard on immutability: fails if any file of a released version moves, in the
    dataset or in a national feed."""
    folder = ROOTS[root]
    for version in available_versions(folder):
        found = [p for p in problems(folder, version) if "released" in p]
        assert found == [], f"{root} {version}"
    if root == "dataset":
        assert {"1.0.0", "1.1.0"} <= set(released_checksums(folder))


def test_a_released_feed_version_that_moves_is_reported(spec_copy: Path) -> None:
    folder = feed_root("spells", spec_copy)
    record_release(load_feed_spec("spells", "1.0.0", spec_copy), folder)
    assert problems(folder) == []
    edit(folder / "1.0.0" / "codelists" / "ward_type_group.csv", "Adult acute", "Adult")
    assert any(
        "ward_type_group.csv: this file of a released version has changed" in p
        for p in problems(folder)
    )


def test_an_attribution_example_that_picks_another_provider_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.0.0" / "definitions.yaml",
        "attributed_to: RX4\n      explanation: The inpatient death",
        "attributed_to: RT1\n      explanation: The inpatient death",
    )
    found = problems(spec_copy)
    assert any(
        "worked example transfer_death_reported_twice attributes the death to RX4, but it says RT1"
        in p
        for p in found
    )


def test_a_new_rule_missing_from_the_change_log_is_reported(spec_copy: Path) -> None:
    edit(
        spec_copy / "1.1.0" / "changes.yaml",
        "rules_added: [death.family.involvement_recorded, death.code_list.family_involvement]",
        "rules_added: [death.code_list.family_involvement]",
    )
    found = problems(spec_copy, "1.1.0")
    assert any(
        "rule death.family.involvement_recorded is new since 1.0.0 but is not listed in rules_added"
        in p
        for p in found
    )


def test_a_version_must_take_effect_after_the_one_before(spec_copy: Path) -> None:
    edit(spec_copy / "1.1.0" / "changes.yaml", "effective_from: 2027-10", "effective_from: 2027-04")
    found = problems(spec_copy, "1.1.0")
    assert any("takes effect from 2027-04, not after 1.0.0 (2027-04)" in p for p in found)


def test_the_declared_bump_must_match_the_version_numbers(spec_copy: Path) -> None:
    edit(spec_copy / "1.1.0" / "changes.yaml", "bump: minor", "bump: patch")
    found = problems(spec_copy, "1.1.0")
    assert any("says the bump is patch, but 1.0.0 to 1.1.0 is minor" in p for p in found)


def test_diff_says_what_each_added_item_is(spec_root: Path) -> None:
    from mhdeaths.standard.diff import diff_specs

    result = diff_specs(load_spec("1.0.0", spec_root), load_spec("1.1.0", spec_root))
    new = {(c.kind, c.item): c.new for c in result.changes if c.change == "added"}
    assert (
        new[("field", "death.family_involvement")] == "optional code, code list family_involvement"
    )
    assert new[("code", "review_method.11")].startswith("Patient safety review under PSIRF")
    assert str(result.needed) == "minor" and not result.understated


def _next_version(root: Path, old: str, new: str) -> Path:
    import shutil

    folder = root / new
    shutil.copytree(root / old, folder)
    edit(folder / "version.yaml", f"version: {old}", f"version: {new}")
    return folder


def test_a_wording_change_needs_only_a_patch(spec_copy: Path) -> None:
    from mhdeaths.standard.diff import diff_specs

    folder = _next_version(spec_copy, "1.1.0", "1.1.1")
    edit(
        folder / "tables" / "death.yaml",
        "The time of death (24-hour clock)",
        "The clock time of death",
    )
    result = diff_specs(load_spec("1.1.0", spec_copy), load_spec("1.1.1", spec_copy))
    assert [(c.item, str(c.bump)) for c in result.changes] == [("death.death_time", "patch")]
    assert not result.understated


def test_removing_a_code_needs_a_major_bump(spec_copy: Path) -> None:
    from mhdeaths.standard.diff import diff_specs

    folder = _next_version(spec_copy, "1.1.0", "1.2.0")
    edit(folder / "codelists" / "review_method.csv", "09,Other review,,,\n", "")
    result = diff_specs(load_spec("1.1.0", spec_copy), load_spec("1.2.0", spec_copy))
    assert ("review_method.09", "major") in [(c.item, str(c.bump)) for c in result.changes]
    assert result.understated


def test_each_problem_carries_its_id_and_a_sentence_made_from_that_id(spec_copy: Path) -> None:
    # Three kinds of breakage at once: each problem names its kind by id, and its sentence is
    # that kind's template (the values filled in), not a sentence written at the check.
    edit(
        spec_copy / "1.0.0" / "tables" / "death.yaml", "code_list: ethnic_category", "code_list: x"
    )
    edit(
        spec_copy / "1.0.0" / "rules.yaml",
        "id: death.dates.discharge_not_after_death",
        "id: death.dates.admission_not_after_death",
    )
    found = check_spec(load_spec("1.0.0", spec_copy), spec_copy)
    kinds = {p.id for p in found}
    assert {"spec/code-list-missing", "spec/rule-id-twice", "spec/released-file-changed"} <= kinds
    for problem in found:
        shape = SPEC_PROBLEMS[problem.id].shape
        pattern = ".*".join(re.escape(part) for part in re.split(r"\{\w+\}", shape))
        assert re.fullmatch(pattern, problem.message, re.DOTALL), (problem.id, problem.message)
    missing = next(p for p in found if p.id == "spec/code-list-missing")
    assert missing.message == "refers to code list 'x', which is missing."

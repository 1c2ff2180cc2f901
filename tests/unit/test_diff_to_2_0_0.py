"""`spec diff 1.1.0 2.0.0`: the draft's changes are found, classified, and make it a major version.

Each part of spec 2.0 adds its own items here as it lands (design/spec-2.0.0-definitions.md,
section 11); the assertions name only what has landed, so a later part adds lines, not edits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mhdeaths.spec import load_spec
from mhdeaths.standard.check import check_spec
from mhdeaths.standard.diff import Bump, SpecDiff, diff_specs


def _diff(root: Path) -> SpecDiff:
    return diff_specs(load_spec("1.1.0", root), load_spec("2.0.0", root))


def _bumps(result: SpecDiff) -> dict[tuple[str, str, str], Bump]:
    return {(c.kind, c.item, c.change): c.bump for c in result.changes}


def test_the_draft_needs_the_major_bump_it_declares(spec_root: Path) -> None:
    result = _diff(spec_root)
    assert result.needed is Bump.MAJOR
    assert result.declared is Bump.MAJOR and not result.understated


def test_scope_one_death_and_transfers_are_listed(spec_root: Path) -> None:
    bumps = _bumps(_diff(spec_root))
    # Matching on the NHS number alone changes which records are one death: major.
    assert bumps[("attribution", "attribution", "changed")] is Bump.MAJOR
    # A wrong check digit now rejects the record; the NHS number status is a new required code.
    assert bumps[("rule", "death.nhs_number.check_digit", "severity changed")] is Bump.MAJOR
    assert bumps[("field", "death.nhs_number_status", "added")] is Bump.MAJOR
    # Every provider's activity extract must add the count of transfer discharges.
    assert bumps[("field", "activity.discharges_transfer", "added")] is Bump.MAJOR
    for name in ("notification_lag_days", "transfer_discharge", "discharges_non_transfer"):
        assert ("definition", name, "added") in bumps
    assert ("definition", "within_30_days", "description changed") in bumps
    for rule in (
        "death.awaiting.decision_date",
        "death.dates.decision_not_after_death",
        "death.pds.traced_after_discharge",
        "death.dates.pds_trace_not_before_death",
        "death.nhs_number.present_unless_untraceable",
        "death.nhs_number.status_matches_number",
        "death.transfer.receiving_provider",
        "death.transfer.not_self",
        "activity.discharges.transfers_within_live",
    ):
        assert ("rule", rule, "added") in bumps


def test_cause_mental_health_act_coroner_and_children_are_listed(spec_root: Path) -> None:
    bumps = _bumps(_diff(spec_root))
    # The cause group is derived another way: every figure by cause can move.
    assert bumps[("definition", "cause_group", "expression changed")] is Bump.MAJOR
    # Fields whose values old extracts cannot give, and fields they gave that are gone.
    for field in ("manner_of_death", "legal_status_at_death", "cto_at_death", "cdr_notified"):
        assert bumps[("field", f"death.{field}", "added")] is Bump.MAJOR
    for field in ("provisional_death_type", "detention_status"):
        assert bumps[("field", f"death.{field}", "removed")] is Bump.MAJOR
    # The inquest conclusion's codes are valid by the conclusion's date, not the death's month.
    assert bumps[("field", "death.inquest_conclusion", "dated_by changed")] is Bump.MAJOR
    assert bumps[("definition", "within_90_days", "removed")] is Bump.MAJOR
    for name in (
        "icd_cause_class",
        "inquest_cause_class",
        "provisional_cause_class",
        "cause_basis",
        "cause_class",
        "ncish_suicide",
        "cause_sources_disagree",
        "within_3_months",
        "in_reporting_scope",
        "detention_group_at_death",
        "died_in_state_detention",
        "age_band_child",
    ):
        assert ("definition", name, "added") in bumps
    for rule in (
        "death.cause.source_given",
        "death.cause.sources_agree",
        "death.cqc.notified_when_detained_at_death",
        "death.coroner.detained_reported",
        "death.coroner.detained_inquest_held",
        "death.leder.notified_by_age",
        "death.cdr.notified_under_18",
        "death.scope.in_scope",
    ):
        assert ("rule", rule, "added") in bumps
    for rule in ("death.cqc.detained_notified", "death.leder.notified"):
        assert ("rule", rule, "removed") in bumps


def test_oversight_case_mix_method_and_themes_are_listed(spec_root: Path) -> None:
    """Part 2 (issue 15): what national oversight needs to see."""
    bumps = _bumps(_diff(spec_root))
    # Required fields an old extract cannot fill: major, though a missing one only warns.
    for field in (
        "org_id_commissioner",
        "org_id_sub_icb_residence",
        "out_of_area_placement",
        "independent_sector_bed",
        "primary_diagnosis_icd10",
        "imd_decile",
        "method_of_death",
        "observation_level",
        "review_findings_shared",
    ):
        assert bumps[("field", f"death.{field}", "added")] is Bump.MAJOR, field
    for field in (
        "site_of_treatment",
        "out_of_area_reason",
        "ethnic_category_2021",
        "first_contact_after_discharge_date",
        "ligature_type",
        "ligature_anchor",
        "duty_of_candour_date",
        "cqc_reference",
        "leder_reference",
        "ncmd_reference",
    ):
        assert ("field", f"death.{field}", "added") in bumps, field
    assert bumps[("field", "death.postcode", "removed")] is Bump.MAJOR
    # Two new columns of the activity key: every activity extract changes.
    for field in ("ward_type_group", "ethnic_group"):
        assert bumps[("field", f"activity.{field}", "added")] is Bump.MAJOR
    assert ("table", "theme", "added") in bumps
    for name in ("ethnic_group", "diagnosis_group", "followed_up_within_72h"):
        assert ("definition", name, "added") in bumps
    for code_list in ("ethnic_category_2021", "method_of_death", "ligature_anchor", "theme"):
        assert ("code_list", code_list, "added") in bumps
    for rule in (
        "death.method.ligature_described",
        "death.follow_up.after_discharge",
        "death.ethnicity.categories_agree",
        "activity.duplicate.stratum_with_ward_and_ethnic_group",
        "theme.duplicate.theme",
    ):
        assert ("rule", rule, "added") in bumps
    assert ("rule", "activity.duplicate.stratum", "removed") in bumps
    # A new check on every reference, old ones (the LFPSE reference) included, that rejects.
    assert bumps[("check", "no_identifier", "added")] is Bump.MAJOR


def test_the_cli_lists_the_definition_changes_as_major(spec_root: Path) -> None:
    # A process of its own, wide enough that the table does not cut the names short.
    run = subprocess.run(
        [sys.executable, "-m", "mhdeaths", "spec", "diff", "1.1.0", "2.0.0"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300", "MHDEATHS_SPEC_DIR": str(spec_root)},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "Needs a major bump; the version numbers declare major." in run.stdout
    for name in ("cause_group", "cause_basis", "within_90_days", "attribution", "review_kind"):
        assert name in run.stdout
    for name in ("death.ethnic_category_2021", "death.method_of_death", "activity.ethnic_group"):
        assert name in run.stdout


def test_declaring_the_draft_a_minor_version_is_refused(spec_copy: Path) -> None:
    changes = spec_copy / "2.0.0" / "changes.yaml"
    text = changes.read_text()
    assert "bump: major" in text
    changes.write_text(text.replace("bump: major", "bump: minor", 1))
    found = [str(p) for p in check_spec(load_spec("2.0.0", spec_copy), spec_copy)]
    assert any("says the bump is minor, but 1.1.0 to 2.0.0 is major" in p for p in found)

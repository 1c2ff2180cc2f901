"""The life of a synthetic death record: identifiers unique across runs, resubmissions, transfers.

A death record is keyed by its provider and death_record_id, and later changes to it come in a
resubmission of its reporting period: N adds it, U replaces it, D withdraws it, and a record a
resubmission does not mention stays as it was. A death reported by two providers (a transfer) is
matched by NHS number and date of death. These tests hold the generator to those semantics.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import nhs_number
import polars as pl
import pytest

from mhdeaths.engines import polars_engine as engine
from mhdeaths.errors import UserError
from mhdeaths.spec import Spec
from mhdeaths.synth import SynthOptions, SynthResult, generate

from .test_synth import Finding, evaluate

ID = re.compile(r"[A-Za-z0-9_./-]+")
# What a resubmission may change in a record: the details that come after the first submission.
LATER = {
    "underlying_cause_icd10",
    "underlying_cause_source",
    "provisional_death_type",
    "manner_of_death",
    "me_outcome",
    "inquest_status",
    "inquest_conclusion",
    "pfd_report_issued",
    "inquest_opened_date",
    "inquest_concluded_date",
    "pfd_reference",
    "pfd_date",
    "review_completed_date",
    "overall_care_rating",
    "problems_in_care_judgement",
    "family_involvement",
}


def sent_together(spec: Spec, result: SynthResult, death: Path, activity: Path) -> list[Path]:
    """A resubmission's files: the death and activity files, with the child tables' files sent
    beside the death file (spec 2.0.0), if any."""
    children = [
        death.with_name(death.name.replace("_death", f"_{t.name}"))
        for t in spec.tables
        if t.optional
    ]
    return [death, *[c for c in children if c in result.resubmissions], activity]


def originals(result: SynthResult, table: str) -> list[Path]:
    resubmitted = set(result.resubmissions)
    return [f for f in result.files if f not in resubmitted and f.stem.endswith(f"_{table}")]


def read(paths: list[Path]) -> pl.DataFrame:
    return pl.concat([pl.read_csv(p, infer_schema=False) for p in paths], how="diagonal")


def typed(spec: Spec, paths: list[Path]) -> pl.DataFrame:
    """The death records typed, with every field the definitions derive."""
    return engine.derive(spec, "death", engine.to_typed(spec.table("death"), read(paths)))


def records(paths: list[Path]) -> dict[tuple[str, str], dict[str, str | None]]:
    """Each death record by (provider, death_record_id): the files must not repeat a key."""
    rows = read(paths).to_dicts()
    keyed = {(r["org_id_provider"], r["death_record_id"]): r for r in rows}
    assert len(keyed) == len(rows)
    return keyed


def evaluate_each(spec: Spec, files: list[Path]) -> list[Finding]:
    """The findings of each submission (one provider's month) on its own, as a provider sends it.

    A death reported by two providers is one person twice in the national data, but never twice
    in one submission, which is what death.duplicate.person checks.
    """
    submissions: dict[tuple[Path, str], list[Path]] = {}
    for path in files:
        submissions.setdefault((path.parent, path.stem.split("_")[1]), []).append(path)
    return [f for paths in submissions.values() for f in evaluate(spec, paths)]


def resubmission_pairs(result: SynthResult) -> list[tuple[Path, Path]]:
    deaths = [f for f in result.resubmissions if f.stem.endswith("_death")]
    return [(f, f.with_name(f.name.replace("_death", "_activity"))) for f in deaths]


# --- Identifiers ---------------------------------------------------------------------------------


def test_death_record_ids_are_unique_per_provider_across_runs(
    spec_v1: Spec, spec_latest: Spec, tmp_path: Path
) -> None:
    # As the examples are made: one run per spec version, into the same folder.
    first = generate(
        spec_v1, SynthOptions(providers=3, months=3, start="2027-07", seed=11), tmp_path
    )
    second = generate(
        spec_latest, SynthOptions(providers=3, months=3, start="2027-10", seed=12), tmp_path
    )
    deaths = read(originals(first, "death") + originals(second, "death"))
    assert deaths.height > 10
    assert deaths.select("org_id_provider", "death_record_id").n_unique() == deaths.height
    for provider, period, record_id in deaths.select(
        "org_id_provider", "reporting_period", "death_record_id"
    ).iter_rows():
        assert ID.fullmatch(record_id) and len(record_id) <= 36
        # The provider's code and the month in which the death occurred, then a number.
        assert re.fullmatch(rf"{provider}-D-{period.replace('-', '')}-\d{{4}}", record_id)


def test_nhs_numbers_of_different_people_differ_across_runs(
    spec_v1: Spec, spec_latest: Spec, tmp_path: Path
) -> None:
    runs = [
        generate(spec_v1, SynthOptions(providers=4, months=6, start="2027-04", seed=11), tmp_path / "a"),
        generate(spec_latest, SynthOptions(providers=4, months=6, start="2027-10", seed=12), tmp_path / "a"),
        # The same providers and months as the first run, another seed: other people.
        generate(spec_v1, SynthOptions(providers=4, months=6, start="2027-04", seed=99), tmp_path / "b"),
    ]  # fmt: skip
    numbers = [n for run in runs for n in read(originals(run, "death"))["nhs_number"]]
    assert len(numbers) > 100
    assert len(set(numbers)) == len(numbers)
    assert all(nhs_number.is_valid(n) for n in numbers)
    ranges = nhs_number.REGION_SYNTHETIC.ranges
    assert all(any(r.start <= int(n) <= r.end for r in ranges) for n in numbers)


def test_a_provider_s_files_do_not_depend_on_the_other_providers(
    spec_latest: Spec, tmp_path: Path
) -> None:
    alone = generate(spec_latest, SynthOptions(provider_list=("RZ2",), months=4), tmp_path / "a")
    among = generate(spec_latest, SynthOptions(providers=3, months=4), tmp_path / "b")
    theirs = [f for f in among.files if f.parent.name == "RZ2"]
    assert [f.name for f in alone.files] == [f.name for f in theirs]
    for a, b in zip(alone.files, theirs, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


# --- Resubmissions -------------------------------------------------------------------------------


def test_every_resubmission_passes_every_rule_and_updates_withdraws_and_adds(
    any_spec: Spec, tmp_path: Path
) -> None:
    options = SynthOptions(providers=4, months=6, seed=5, resubmissions=1.0)
    result = generate(any_spec, options, tmp_path)
    sent_files = [f for t in any_spec.tables for f in originals(result, t.name)]
    assert evaluate(any_spec, sent_files) == []
    pairs = resubmission_pairs(result)
    # Nearly every provider-month with deaths is resubmitted: not those whose inquests are all
    # still open with no cause known, which have nothing to complete yet.
    assert len(pairs) >= 0.8 * len(originals(result, "death"))
    actions: Counter[str] = Counter()
    for death, activity in pairs:
        assert evaluate(any_spec, sent_together(any_spec, result, death, activity)) == [], (
            death.name
        )
        assert death.parent.name == "resubmissions" and death.parent.parent.name == death.name[:3]
        sent = death.parents[1] / death.name
        assert sent in result.files and sent.with_name(activity.name) in result.files
        before = records([sent])
        after = pl.read_csv(death, infer_schema=False)
        actions.update(after["record_action"])
        for row in after.iter_rows(named=True):
            key = (row["org_id_provider"], row["death_record_id"])
            # U and D name a record the provider sent; N a new one.
            assert (key in before) == (row["record_action"] in ("U", "D")), key
        # Every inpatient death is repeated, so the death file and the activity table agree.
        inpatient = set(
            typed(any_spec, [sent]).filter(pl.col("inpatient_death"))["death_record_id"]
        )
        assert inpatient <= set(after.filter(pl.col("record_action") == "U")["death_record_id"])
    assert actions["U"] > 20 and actions["D"] >= 2 and actions["N"] >= 2


def test_an_update_only_completes_what_came_later(spec_latest: Spec, tmp_path: Path) -> None:
    result = generate(
        spec_latest, SynthOptions(providers=4, months=6, seed=6, resubmissions=1.0), tmp_path
    )
    sent = records(originals(result, "death"))
    completed = Counter[str]()
    for death, _ in resubmission_pairs(result):
        for row in pl.read_csv(death, infer_schema=False).iter_rows(named=True):
            if row["record_action"] != "U":
                continue
            first = sent[(row["org_id_provider"], row["death_record_id"])]
            changed = {k for k in row if k != "record_action" and row[k] != first[k]}
            assert changed <= LATER, changed
            for name in ("underlying_cause_icd10", "review_completed_date", "inquest_conclusion"):
                if name not in row:  # 2.0.0: reviews are records of their own, below
                    continue
                # Details arrive; an update never takes one away.
                assert first[name] is None or first[name] == row[name]
                completed[name] += first[name] is None and row[name] is not None
    if "review" in {t.name for t in spec_latest.tables}:
        completed["review_completed_date"] = reviews_completed_later(result)
    assert all(completed[name] >= 3 for name in ("underlying_cause_icd10", "review_completed_date"))
    assert completed["inquest_conclusion"] >= 1


# What a resubmission may change in a review record (spec 2.0.0): its outcome.
REVIEW_LATER = {
    "review_completed_date",
    "overall_care_rating",
    "problems_in_care_judgement",
    "family_involvement",
}


def reviews_completed_later(result: SynthResult) -> int:
    """The reviews a resubmission completes. Each update names a review first sent open, with
    its death, and changes only its outcome."""
    key = ("org_id_provider", "death_record_id", "review_id")
    sent = {tuple(r[k] for k in key): r for r in read(originals(result, "review")).to_dicts()}
    done = 0
    for path in [f for f in result.resubmissions if f.stem.endswith("_review")]:
        deaths = pl.read_csv(path.with_name(path.name.replace("_review", "_death")))
        updated = set(deaths.filter(pl.col("record_action") == "U")["death_record_id"])
        for row in pl.read_csv(path, infer_schema=False).iter_rows(named=True):
            if row["record_action"] != "U":
                continue
            first = sent[tuple(row[k] for k in key)]
            assert row["death_record_id"] in updated
            changed = {k for k in row if k != "record_action" and row[k] != first[k]}
            assert changed <= REVIEW_LATER, changed
            assert first["review_completed_date"] is None
            done += row["review_completed_date"] is not None
    return done


def test_replaying_the_resubmissions_gives_the_records_as_they_end(
    spec_v1: Spec, tmp_path: Path
) -> None:
    """Originals then resubmissions, in order of receipt, give the records of a run without them,
    less the withdrawn deaths and plus the late ones."""
    options = SynthOptions(providers=3, months=6, seed=7)
    plain = generate(spec_v1, options, tmp_path / "plain")
    lived = generate(
        spec_v1, SynthOptions(**{**options.__dict__, "resubmissions": 0.7}), tmp_path / "lived"
    )
    assert lived.resubmissions and not plain.resubmissions
    state: dict[tuple[str, str], dict[str, str | None]] = {}
    withdrawn, late = set(), set()
    for path in (f for f in lived.files if f.stem.endswith("_death")):
        for row in pl.read_csv(path, infer_schema=False).iter_rows(named=True):
            key = (row.pop("org_id_provider"), row["death_record_id"])
            action = row.pop("record_action")
            if action == "D":
                state.pop(key)
                withdrawn.add(key)
            else:
                assert (key in state) == (action == "U"), key
                late |= {key} if action == "N" and path in lived.resubmissions else set()
                state[key] = row
    assert withdrawn and late
    expected = {}
    for (provider, record_id), row in records(originals(plain, "death")).items():
        row = {k: v for k, v in row.items() if k not in ("org_id_provider", "record_action")}
        if (provider, record_id) not in withdrawn:
            expected[(provider, record_id)] = row
    assert {k: v for k, v in state.items() if k not in late} == expected
    # The original activity tables are those of the run without resubmissions.
    for a, b in zip(originals(plain, "activity"), originals(lived, "activity"), strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_resubmissions_sort_after_every_original_of_their_provider(
    spec_v1: Spec, tmp_path: Path
) -> None:
    result = generate(spec_v1, SynthOptions(providers=2, months=4, resubmissions=1.0), tmp_path)
    ordered = sorted(result.files)
    for path in result.resubmissions:
        provider = path.parents[1]
        assert all(
            ordered.index(f) < ordered.index(path) for f in result.files if f.parent == provider
        )


# --- Transfers -----------------------------------------------------------------------------------


def test_a_transfer_is_one_death_reported_by_two_providers(
    spec_latest: Spec, tmp_path: Path
) -> None:
    result = generate(
        spec_latest, SynthOptions(providers=4, months=6, seed=8, transfers=0.5), tmp_path
    )
    death_files = originals(result, "death")
    # Both records pass every rule at their provider, and each activity table counts its deaths.
    assert evaluate_each(spec_latest, death_files + originals(result, "activity")) == []
    deaths = typed(spec_latest, death_files)
    by_key = {(r["org_id_provider"], r["death_record_id"]): r for r in deaths.iter_rows(named=True)}
    assert len(result.transfers) >= 4
    for t in result.transfers:
        sending = by_key[(t.sending_provider, t.sending_record_id)]
        receiving = by_key[(t.receiving_provider, t.receiving_record_id)]
        assert t.sending_provider != t.receiving_provider
        assert sending["nhs_number"] == receiving["nhs_number"] == t.nhs_number
        assert str(sending["death_date"]) == str(receiving["death_date"]) == t.death_date
        assert sending["person_birth_date"] == receiving["person_birth_date"]
        assert sending["stated_gender"] == receiving["stated_gender"]
        assert (sending["death_category"], sending["declared_death_category"]) == ("D30", "D30")
        assert (receiving["death_category"], receiving["declared_death_category"]) == ("IPD", "IPD")
        assert sending["patient_status_at_death"] == "07"
        assert sending["discharge_destination"] == "53"
        assert sending["died_in_other_provider"] == t.receiving_provider
        # Admitted by the receiving provider on or after the discharge, before or on the death.
        assert sending["discharge_date"] <= receiving["admission_date"] <= receiving["death_date"]
        assert sending["reporting_period"] == receiving["reporting_period"]
    # Anyone else is reported once.
    counts = Counter(deaths["nhs_number"])
    assert {n for n, c in counts.items() if c > 1} == {t.nhs_number for t in result.transfers}
    assert set(counts.values()) == {1, 2}


def test_transfers_and_resubmissions_together_pass_every_rule(
    any_spec: Spec, tmp_path: Path
) -> None:
    options = SynthOptions(providers=3, months=4, seed=9, transfers=0.5, resubmissions=0.6)
    result = generate(any_spec, options, tmp_path)
    assert result.transfers and result.resubmissions
    assert evaluate_each(any_spec, originals(result, "death") + originals(result, "activity")) == []
    for death, activity in resubmission_pairs(result):
        assert evaluate(any_spec, sent_together(any_spec, result, death, activity)) == [], (
            death.name
        )
        # A transfer's record is never withdrawn: both providers keep reporting the death.
        withdrawn = pl.read_csv(death, infer_schema=False).filter(pl.col("record_action") == "D")
        linked = {t.sending_record_id for t in result.transfers}
        linked |= {t.receiving_record_id for t in result.transfers}
        assert not set(withdrawn["death_record_id"]) & linked


def test_without_the_options_there_are_no_resubmissions_and_no_transfers(
    spec_v1: Spec, tmp_path: Path
) -> None:
    result = generate(spec_v1, SynthOptions(providers=3, months=6), tmp_path)
    assert result.resubmissions == [] and result.transfers == []
    assert not list(tmp_path.rglob("resubmissions"))
    assert set(read(originals(result, "death"))["record_action"]) == {"N"}


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (SynthOptions(resubmissions=1.2), "resubmission rate"),
        (SynthOptions(transfers=-0.1), "transfer rate"),
        (SynthOptions(providers=1, transfers=0.2), "at least two providers"),
    ],
)
def test_bad_life_cycle_options_are_user_errors(
    spec_v1: Spec, tmp_path: Path, options: SynthOptions, words: str
) -> None:
    with pytest.raises(UserError, match=words):
        generate(spec_v1, options, tmp_path)

"""The bundled examples (scripts/make-examples.sh) are what submissions/examples/README.md says.

Their death record identifiers are unique per provider, their resubmissions are accepted and name
the records they change, and NHS numbers are shared only by the deaths two providers report.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.validate.profiles import load_profile
from mhdeaths.validate.validator import validate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "submissions" / "examples"
RESUBMISSIONS = sorted(EXAMPLES.glob("*/resubmissions/*_death.csv"))
# RZ9 exports with its own headers: its profile says which is which.
RZ9_HEADERS = {
    v: k for k, v in load_profile(REPO / "validators" / "RZ9.yaml").headers["death"].items()
}


def death_records(path: Path) -> pl.DataFrame:
    """The death file's records under the spec's field names (RZ9's own headers mapped)."""
    frame = pl.read_csv(path, infer_schema=False)
    if "death_record_id" not in frame.columns:
        frame = frame.rename({RZ9_HEADERS[name]: name for name in RZ9_HEADERS})
    return frame.select(
        "org_id_provider",
        "death_record_id",
        "record_action",
        "nhs_number",
        "death_date",
        "declared_death_category",
    ).with_columns(pl.lit(str(path.relative_to(EXAMPLES))).alias("file"))


def originals() -> pl.DataFrame:
    paths = sorted(p for p in EXAMPLES.rglob("*_death.csv") if p.parent.name != "resubmissions")
    return pl.concat([death_records(p) for p in paths])


def test_death_record_ids_are_unique_per_provider_in_every_original() -> None:
    deaths = originals()
    assert deaths.height > 100
    assert deaths.select("org_id_provider", "death_record_id").n_unique() == deaths.height
    # Originals only add records (RZ9 writes N its own way, as NEW).
    assert set(deaths["record_action"]) <= {"N", "NEW"}


@pytest.mark.parametrize("death", RESUBMISSIONS, ids=lambda p: p.stem)
def test_each_resubmission_is_accepted_and_changes_records_its_provider_sent(death: Path) -> None:
    activity = death.with_name(death.name.replace("_death", "_activity"))
    result = validate([death, activity])
    assert result.accepted, result.report.verdict
    assert result.report.findings == []
    original = death.parents[1] / death.name
    sent = set(death_records(original)["death_record_id"])
    for record_id, action in death_records(death).select("death_record_id", "record_action").rows():
        assert (record_id in sent) == (action in ("U", "D")), record_id


def test_the_resubmissions_are_as_the_readme_says() -> None:
    assert len(RESUBMISSIONS) == 19
    actions = pl.concat([death_records(p) for p in RESUBMISSIONS])
    by_action = defaultdict(set)
    for file, action in actions.select("file", "record_action").rows():
        by_action[action].add(Path(file).stem.removesuffix("_death"))
    assert by_action["D"] == {"RZ1_2027-10", "RZ1_2027-12", "RZ2_2027-11"}
    assert by_action["N"] == {"RZ1_2027-12", "RZ2_2027-09", "RZ1_2028-06", "RZ2_2028-04"}
    assert len(by_action["U"]) == 19


def test_nhs_numbers_are_shared_only_by_the_deaths_two_providers_report() -> None:
    deaths = originals()
    shared = deaths.group_by("nhs_number").agg(pl.all()).filter(pl.col("file").list.len() > 1)
    # Ten transfers (nine under 1.x, one under 2.0.0): a death after discharge at the sending
    # provider, an inpatient death at the receiving one, the same person on the same day; and the
    # planted date conflict (2.0.0), a transfer whose two records give dates 3 days apart.
    assert shared.height == 11
    dates = {}
    for row in shared.iter_rows(named=True):
        assert len(set(row["org_id_provider"])) == 2
        assert sorted(row["declared_death_category"]) == ["D30", "IPD"]
        dates[tuple(sorted(row["death_record_id"]))] = sorted(set(row["death_date"]))
    conflicts = {ids: d for ids, d in dates.items() if len(d) > 1}
    assert conflicts == {CONFLICT: ["2028-04-26", "2028-04-29"]}


# The 2.0.0 quarter's planted cases (scripts/make-examples.sh, --planted-cases).
CONFLICT = ("RZ1-D-202804-0004", "RZ2-D-202804-0001")
CASES = {
    "transfer_unmatched": ("RZ2", "RZ2-D-202805-0002"),
    "holding_code": ("RZ3", "RZ3-D-202806-0001"),
    "undetermined_at_12": ("RZ1", "RZ1-D-202804-0002"),
    "inquest_later": ("RZ2", "RZ2-D-202805-0003"),
}


def case_record(case: str, resubmitted: bool = False) -> dict[str, str | None]:
    provider, record_id = CASES[case]
    period = record_id.split("-")[2]
    folder = EXAMPLES / provider / ("resubmissions" if resubmitted else "")
    frame = pl.read_csv(
        folder / f"{provider}_{period[:4]}-{period[4:]}_death.csv", infer_schema=False
    )
    (row,) = frame.filter(pl.col("death_record_id") == record_id).to_dicts()
    return row


def test_the_2_0_0_quarter_carries_the_planted_cases_as_the_readme_says() -> None:
    unmatched = case_record("transfer_unmatched")
    assert (unmatched["discharge_destination"], unmatched["receiving_provider"]) == ("53", "RZ3")
    assert unmatched["nhs_number"] not in set(
        originals().filter(pl.col("org_id_provider") == "RZ3")["nhs_number"]
    )
    first, later = case_record("holding_code"), case_record("holding_code", resubmitted=True)
    assert first["underlying_cause_icd10"] == "Y33.9"
    assert later["underlying_cause_icd10"] not in (None, "Y33.9")
    assert later["record_action"] == "U"
    child = case_record("undetermined_at_12")
    assert (child["manner_of_death"], child["underlying_cause_icd10"]) == ("08", "Y20.9")
    born = dt.date.fromisoformat(str(child["person_birth_date"]))
    died = dt.date.fromisoformat(str(child["death_date"]))
    assert died.year - born.year - ((died.month, died.day) < (born.month, born.day)) == 12
    first, later = case_record("inquest_later"), case_record("inquest_later", resubmitted=True)
    assert (first["inquest_status"], first["inquest_conclusion"]) == ("O", None)
    assert (later["inquest_status"], later["inquest_conclusion"]) == ("C", "10")
    assert later["inquest_concluded_date"] is not None

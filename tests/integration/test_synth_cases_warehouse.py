"""The planted cases of spec 2.0.0 (synth/cases.py) loaded into a real warehouse: each is what the
warehouse's views must show, read from the generator's own files, resubmissions included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mhdeaths.spec import load_spec
from mhdeaths.synth import PlantedCase, SynthOptions, SynthResult, generate
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key
from mhdeaths.warehouse.store import connect

from ..conftest import SPEC_ROOT

SPEC = load_spec("2.0.0", SPEC_ROOT)
RECEIVED = dt.datetime(2026, 11, 2, 9, 0)
OPTIONS = SynthOptions(
    providers=3,
    months=3,
    start="2028-04",
    seed=22,
    resubmissions=0.4,
    transfers=0.25,
    planted_cases=True,
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthResult, Path]:
    root = tmp_path_factory.mktemp("cases")
    result = generate(SPEC, OPTIONS, root / "synthetic")
    warehouse = root / "w.duckdb"
    outcomes = load(warehouse, [root / "synthetic"], key=demo_key(), received_at=RECEIVED)
    assert [o for o in outcomes if o.status != "loaded"] == []
    # Each resubmission is several files (death, activity and child tables), one submission.
    resubmitted = {p.name.rsplit("_", 1)[0] for p in result.resubmissions}
    assert len(outcomes) > len(resubmitted) > 0
    return result, warehouse


def case(result: SynthResult, name: str) -> PlantedCase:
    (found,) = [c for c in result.planted_cases if c.case == name]
    return found


def dicts(path: Path, sql: str, *params: object) -> list[dict[str, object]]:
    with connect(path, read_only=True) as con:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_date_conflict_is_one_death_and_one_conflict_row(
    loaded: tuple[SynthResult, Path],
) -> None:
    result, warehouse = loaded
    c = case(result, "date_conflict")
    records = {f"{c.provider}:{c.death_record_id}", f"{c.other_provider}:{c.other_record_id}"}
    conflicts = [
        row
        for row in dicts(warehouse, "SELECT * FROM death_date_conflicts")
        if set(str(row["reported_as"]).split(", ")) == records
    ]
    assert len(conflicts) == 1
    assert conflicts[0]["days_apart"] == c.days_apart
    assert conflicts[0]["dates_of_death"] == 2
    # Counted once, against the receiving provider (an inpatient death outranks a D30).
    counted = dicts(
        warehouse,
        "SELECT org_id_provider FROM deaths WHERE counted AND org_id_provider || ':' || "
        "death_record_id IN (?, ?)",
        *sorted(records),
    )
    assert counted == [{"org_id_provider": c.other_provider}]
    assert conflicts[0]["attributed_provider"] == c.other_provider


def test_the_unmatched_transfer_is_listed_against_its_receiver(
    loaded: tuple[SynthResult, Path],
) -> None:
    result, warehouse = loaded
    c = case(result, "transfer_unmatched")
    unmatched = dicts(
        warehouse,
        "SELECT sending_provider, death_record_id, receiving_provider, reporting_period "
        "FROM transfers_unmatched",
    )
    assert {
        "sending_provider": c.provider,
        "death_record_id": c.death_record_id,
        "receiving_provider": c.other_provider,
        "reporting_period": c.reporting_period,
    } in unmatched
    # The planted transfers between generated providers are all matched: only this one, and
    # those to a provider outside the run, are listed.
    generated = [u for u in unmatched if u["receiving_provider"] in result.providers]
    assert generated == [
        {
            "sending_provider": c.provider,
            "death_record_id": c.death_record_id,
            "receiving_provider": c.other_provider,
            "reporting_period": c.reporting_period,
        }
    ]


def test_the_undetermined_death_at_12_is_cause_group_unn(loaded: tuple[SynthResult, Path]) -> None:
    result, warehouse = loaded
    c = case(result, "undetermined_at_12")
    (row,) = dicts(
        warehouse,
        "SELECT age_at_death, cause_group, counted FROM deaths "
        "WHERE org_id_provider = ? AND death_record_id = ?",
        c.provider,
        c.death_record_id,
    )
    assert row == {"age_at_death": 12, "cause_group": "UNN", "counted": True}


def test_the_later_cases_end_as_their_resubmission_says(loaded: tuple[SynthResult, Path]) -> None:
    result, warehouse = loaded
    found = {}
    for name in ("holding_code", "inquest_later"):
        c = case(result, name)
        (found[name],) = dicts(
            warehouse,
            "SELECT underlying_cause_icd10, inquest_status, cause_basis, cause_group FROM deaths "
            "WHERE org_id_provider = ? AND death_record_id = ?",
            c.provider,
            c.death_record_id,
        )
    holding = found["holding_code"]
    assert holding["underlying_cause_icd10"] not in (None, "Y339", "Y33.9")
    assert (holding["inquest_status"], holding["cause_basis"]) == ("C", "REG")
    assert holding["cause_group"] == "SUI"
    assert (found["inquest_later"]["inquest_status"], found["inquest_later"]["cause_basis"]) == (
        "C",
        "INQ",
    )

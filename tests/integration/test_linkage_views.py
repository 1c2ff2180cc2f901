"""Linkage and reconciliation (issue 16, design/completeness-linkage.md sections 3 and 4) on a
real warehouse: two synthetic providers' submissions, with national spells and registrations
written here around chosen reported deaths and a few people no provider reported (the worked
cases of the plan's Appendix A, in dates that fit the synthetic months)."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.feeds import load_feed
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key, pseudonym

from ..functional.cli import mhdeaths
from ..functional.test_load_feed_cli import REGISTRATION_FIELDS, SPELL_FIELDS, write_csv


def nhs_number(stem: int) -> str:
    """A synthetic NHS number (9 followed by eight digits) with a valid check digit."""
    while True:
        digits = f"{stem:09d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return digits + str(check)
        stem += 1


MISSED_D30 = nhs_number(987_000_001)
MISSED_DAY_60 = nhs_number(987_000_101)
OUTSIDE = nhs_number(987_000_201)
TRANSFERRED = nhs_number(987_000_301)
NEVER_IN_CARE = nhs_number(987_000_401)
FEED_PEOPLE = (MISSED_D30, MISSED_DAY_60, OUTSIDE, TRANSFERRED, NEVER_IN_CARE)


@dataclass(frozen=True)
class Linked:
    warehouse: Path
    deaths: pl.DataFrame
    """The reported death records as the provider files hold them (NHS numbers and all)."""
    ipd: dict[str, str]
    """A reported inpatient death, registered with cause X70 and linked to its spell."""
    dated: dict[str, str]
    """A reported death registered with a date of death 2 days earlier, and no spell."""
    before_registrations: dt.datetime


def reg(number: str, death: str, registered: str, cause: str = "I21", age: str = "60") -> list[str]:
    return [number, death, registered, cause, "01", "1", age, "E06000001", "", ""]


def spell(
    provider: str,
    spell_id: str,
    number: str,
    admitted: str,
    discharged: str = "",
    method: str = "",
    destination: str = "",
    month: str = "2027-06",
) -> list[str]:
    return [provider, spell_id, month, number, "", admitted, discharged, method, destination, "01"]


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Linked:
    folder = tmp_path_factory.mktemp("linkage")
    inbox, warehouse, key = folder / "inbox", folder / "w.duckdb", demo_key()
    options = SynthOptions(providers=2, months=3, start="2027-04", seed=3)
    generate(load_spec("2.0.0"), options, inbox)
    assert all(o.status == "loaded" for o in load(warehouse, [inbox], key=key))
    deaths = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in sorted(inbox.glob("*/*_death.csv"))],
        how="diagonal",
    )
    ipd = deaths.filter(pl.col("discharge_method") == "4").row(0, named=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        d30_ids = {
            r[0]
            for r in con.execute(
                "SELECT death_record_id FROM deaths WHERE counted AND death_category = 'D30' "
                "AND org_id_provider = 'RZ2'"
            ).fetchall()
        }
    dated = deaths.filter(pl.col("death_record_id").is_in(d30_ids)).row(0, named=True)
    spells = [
        spell(
            "RZ1",
            ipd["hosp_prov_spell_id"],
            ipd["nhs_number"],
            ipd["admission_date"],
            ipd["death_date"],
            "4",
            "79",
        ),
        # L2: discharged 1 May, dies 15 May (day 14), not reported.
        spell("RZ1", "MISS-D30", MISSED_D30, "2027-04-01", "2027-05-01", "1", "19"),
        # L3: discharged 10 April, dies 9 June (day 60): in the 3 calendar months.
        spell("RZ1", "MISS-60", MISSED_DAY_60, "2027-04-01", "2027-04-10", "1", "19"),
        # L5: discharged 5 April, dies 1 September: outside the window.
        spell("RZ1", "OUTSIDE", OUTSIDE, "2027-03-01", "2027-04-05", "1", "19"),
        # L6: transferred from RZ1 to RZ2 on 1 May, dies in RZ2's open spell on 10 May.
        spell("RZ1", "TRANSFER-OUT", TRANSFERRED, "2027-04-01", "2027-05-01", "1", "49"),
        spell("RZ2", "TRANSFER-IN", TRANSFERRED, "2027-05-01"),
    ]
    death_date = dt.date.fromisoformat(dated["death_date"])
    registrations = [
        reg(ipd["nhs_number"], ipd["death_date"], ipd["death_date"], "X70", "40"),
        reg(dated["nhs_number"], str(death_date - dt.timedelta(days=2)), dated["death_date"]),
        reg(MISSED_D30, "2027-05-15", "2027-05-18"),
        reg(MISSED_DAY_60, "2027-06-09", "2027-06-12"),
        reg(OUTSIDE, "2027-09-01", "2027-09-03"),
        reg(TRANSFERRED, "2027-05-10", "2027-05-12"),
        reg(NEVER_IN_CARE, "2027-05-10", "2027-05-12", age="88"),
    ]
    spells_file = write_csv(folder / "spells_2027-06.csv", SPELL_FIELDS, spells)
    registrations_file = write_csv(
        folder / "registrations_2027-09.csv", REGISTRATION_FIELDS, registrations
    )
    before = dt.datetime(2027, 10, 1)
    outcomes = [
        *load_feed(warehouse, "spells", [spells_file], key=key, received_at=before),
        *load_feed(
            warehouse,
            "registrations",
            [registrations_file],
            key=key,
            received_at=before + dt.timedelta(days=1),
        ),
    ]
    assert [o.status for o in outcomes] == ["loaded", "loaded"]
    assert (outcomes[1].rows_kept, outcomes[1].discarded_unlinked) == (5, 2)
    return Linked(warehouse, deaths, ipd, dated, before)


def rows(linked: Linked, sql: str, *params: object) -> list[dict[str, object]]:
    with duckdb.connect(str(linked.warehouse), read_only=True) as con:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_the_missed_deaths_are_the_linked_deaths_the_index_provider_did_not_report(
    linked: Linked,
) -> None:
    missed = rows(
        linked,
        "SELECT expected_provider, hosp_prov_spell_id, death_category, days_discharge_to_death "
        "FROM deaths_missed",
    )
    assert missed == [
        {
            "expected_provider": "RZ1",
            "hosp_prov_spell_id": "MISS-D30",  # L2: day 14
            "death_category": "D30",
            "days_discharge_to_death": 14,
        },
        {
            "expected_provider": "RZ1",
            "hosp_prov_spell_id": "MISS-60",  # L3: day 60, in scope
            "death_category": "OOS",
            "days_discharge_to_death": 60,
        },
        # L6: the receiver's open spell outranks the sender's transfer discharge.
        {
            "expected_provider": "RZ2",
            "hosp_prov_spell_id": "TRANSFER-IN",
            "death_category": "IPD",
            "days_discharge_to_death": None,
        },
    ]


def test_a_transfer_makes_the_sender_a_lower_ranked_transfer_candidate(linked: Linked) -> None:
    candidates = rows(
        linked,
        "SELECT org_id_provider, candidate_rank, death_category, transfer_discharge, "
        "receiving_provider FROM linked_candidates_as_at(TIMESTAMP 'infinity') "
        "WHERE hosp_prov_spell_id LIKE 'TRANSFER-%' ORDER BY candidate_rank",
    )
    assert candidates == [
        {
            "org_id_provider": "RZ2",
            "candidate_rank": 1,
            "death_category": "IPD",
            "transfer_discharge": False,
            "receiving_provider": None,
        },
        {
            "org_id_provider": "RZ1",
            "candidate_rank": 2,
            "death_category": "D30",
            "transfer_discharge": True,
            "receiving_provider": "RZ2",
        },
    ]


def test_a_reported_death_linked_to_its_spell_is_matched(linked: Linked) -> None:
    (expected,) = rows(
        linked,
        "SELECT expected_provider, death_category, reported, reported_as, counted_provider "
        "FROM expected_deaths WHERE hosp_prov_spell_id = ?",
        linked.ipd["hosp_prov_spell_id"],
    )
    assert expected == {
        "expected_provider": "RZ1",
        "death_category": "IPD",
        "reported": True,
        "reported_as": f"RZ1:{linked.ipd['death_record_id']}",
        "counted_provider": "RZ1",
    }


def test_the_registered_cause_becomes_the_cause_and_the_reported_one_stays_beside_it(
    linked: Linked,
) -> None:
    sql = (
        "SELECT underlying_cause_icd10, underlying_cause_source, reported_underlying_cause_icd10,"
        " reported_underlying_cause_source, cause_basis, cause_group, ncish_suicide, registered"
        " FROM {} WHERE death_record_id = ?"
    )
    (now,) = rows(linked, sql.format("deaths"), linked.ipd["death_record_id"])
    assert now == {
        "underlying_cause_icd10": "X70",
        "underlying_cause_source": "R",
        "reported_underlying_cause_icd10": linked.ipd["underlying_cause_icd10"],
        "reported_underlying_cause_source": linked.ipd["underlying_cause_source"],
        "cause_basis": "REG",
        "cause_group": "SUI",
        "ncish_suicide": True,
        "registered": True,
    }
    # As at a time before the registrations were loaded: the provider's own cause, derived by
    # the same definitions the record was stored with.
    before = sql.format(f"deaths_as_at(TIMESTAMP '{linked.before_registrations}')")
    (then,) = rows(linked, before, linked.ipd["death_record_id"])
    (stored,) = rows(
        linked,
        "SELECT underlying_cause_icd10, underlying_cause_source, cause_basis, cause_group, "
        "ncish_suicide FROM death_record WHERE death_record_id = ?",
        linked.ipd["death_record_id"],
    )
    assert {k: then[k] for k in stored} == stored
    assert then["registered"] is False
    assert rows(
        linked,
        f"SELECT count(*) AS n FROM expected_deaths_as_at(TIMESTAMP '{linked.before_registrations}')",
    ) == [{"n": 0}]


def test_disagreements_on_cause_and_date_are_listed(linked: Linked) -> None:
    found = rows(
        linked,
        "SELECT kind, reported_as, reported, registered, days_apart FROM registration_disagreements",
    )
    assert found == [
        {
            "kind": "cause",
            "reported_as": f"RZ1:{linked.ipd['death_record_id']}",
            "reported": found[0]["reported"],
            "registered": "SUI",
            "days_apart": None,
        },
        {
            "kind": "date",
            "reported_as": f"RZ2:{linked.dated['death_record_id']}",
            "reported": linked.dated["death_date"],
            "registered": str(dt.date.fromisoformat(linked.dated["death_date"]) - dt.timedelta(2)),
            "days_apart": 2,
        },
    ]
    assert found[0]["reported"] != "SUI"


def test_a_counted_death_without_a_registration_waits_for_one(linked: Linked) -> None:
    waiting = {
        r["reported_as"] for r in rows(linked, "SELECT reported_as FROM deaths_not_yet_registered")
    }
    registered = {f"RZ1:{linked.ipd['death_record_id']}", f"RZ2:{linked.dated['death_record_id']}"}
    in_scope = {
        f"{r['org_id_provider']}:{r['death_record_id']}"
        for r in rows(
            linked,
            "SELECT org_id_provider, death_record_id FROM deaths "
            "WHERE counted AND in_reporting_scope AND nhs_number_pseudonym IS NOT NULL",
        )
    }
    assert waiting == in_scope - registered
    assert len(waiting) > 5


def test_the_reconciliation_adds_up_per_provider_and_month(linked: Linked) -> None:
    recon = {
        (r["provider"], r["death_month"]): r for r in rows(linked, "SELECT * FROM reconciliation")
    }
    assert {k: r["missed"] for k, r in recon.items() if r["missed"]} == {
        ("RZ1", "2027-05"): 1,
        ("RZ1", "2027-06"): 1,
        ("RZ2", "2027-05"): 1,
    }
    assert recon[("RZ1", "2027-04")]["reported_of_expected"] == 1
    assert recon[("RZ2", "2027-04")]["date_disagreements"] == 1
    for r in recon.values():
        assert r["expected"] == r["reported_of_expected"] + r["missed"]
        assert str(r["registrations_loaded_to"]) == "2027-09-03"
        assert str(r["spells_loaded_to"]) == "2027-06-30"
    waiting = rows(linked, "SELECT count(*) AS n FROM deaths_not_yet_registered")[0]["n"]
    assert sum(r["reported_not_registered"] for r in recon.values()) == waiting


def test_anomalies_name_the_open_spell_and_the_reports_with_no_spell(linked: Linked) -> None:
    found = rows(linked, "SELECT kind, provider, death_month, cases FROM linkage_anomalies")
    assert {
        "kind": "spell_not_closed_by_death",
        "provider": "RZ2",
        "death_month": "2027-05",
        "cases": 1,
    } in found
    # The spells were delivered for June only: June's reported deaths have no spell there.
    june = rows(
        linked,
        "SELECT org_id_provider AS provider, count(*) AS cases FROM deaths "
        "WHERE death_category IN ('IPD', 'D30') AND strftime(death_date, '%Y-%m') = '2027-06' "
        "GROUP BY ALL ORDER BY 1",
    )
    assert [
        {"provider": r["provider"], "cases": r["cases"]}
        for r in found
        if r["kind"] == "report_without_spell"
    ] == june


def test_no_linkage_view_shows_a_pseudonym_or_a_number(linked: Linked) -> None:
    key = demo_key()
    numbers = [*linked.deaths["nhs_number"].drop_nulls(), MISSED_D30, MISSED_DAY_60, TRANSFERRED]
    secrets = {*numbers, *(pseudonym(key, n) for n in numbers)}
    for view in (
        "expected_deaths",
        "deaths_missed",
        "deaths_not_yet_registered",
        "deaths_attributed_elsewhere",
        "registration_disagreements",
        "linkage_anomalies",
        "reconciliation",
        "registrations",
        "registration_history",
        "spells",
        "spell_history",
        "feed_loads",
    ):
        found = rows(linked, f"SELECT * FROM {view}")
        text = repr(found)
        assert "nhs_number_pseudonym" not in text, view
        assert not [s for s in secrets if s and s in text], view


def test_a_registration_outside_the_window_is_not_kept(linked: Linked) -> None:
    key = demo_key()
    kept = {
        r["p"] for r in rows(linked, "SELECT nhs_number_pseudonym AS p FROM registration_record")
    }
    assert pseudonym(key, OUTSIDE) not in kept
    assert pseudonym(key, NEVER_IN_CARE) not in kept
    assert pseudonym(key, MISSED_D30) in kept


def test_no_number_escapes_to_exports_reports_or_output_after_both_feeds(
    linked: Linked, tmp_path: Path
) -> None:
    """The privacy byte scan with both feeds loaded: the warehouse file and its WAL, an export, a
    published benchmark report and what the commands print hold none of the NHS numbers the
    submissions and the feeds carried (the pseudonyms of the feeds' own people are in the
    warehouse file only, never in what a person reads)."""
    copy = tmp_path / "w.duckdb"
    shutil.copyfile(linked.warehouse, copy)
    export = mhdeaths("warehouse", "export", "-w", copy, "--out", tmp_path / "export")
    report = mhdeaths("benchmark", "-w", copy, "--out", tmp_path / "report")
    status = mhdeaths("warehouse", "status", "-w", copy)
    assert export.code == report.code == status.code == 0, export.output + report.output
    assert (tmp_path / "export" / "reconciliation.parquet").is_file()
    assert any((tmp_path / "export" / "expected_deaths").rglob("*.parquet"))
    key = demo_key()
    numbers = [*linked.deaths["nhs_number"].drop_nulls(), *FEED_PEOPLE]
    pseudonyms = [p for p in (pseudonym(key, n) for n in FEED_PEOPLE) if p]
    scanned = [
        copy,
        *tmp_path.glob("w.duckdb.wal"),
        *(tmp_path / "export").rglob("*"),
        *(tmp_path / "report").rglob("*"),
    ]
    data = b"".join(p.read_bytes() for p in scanned if p.is_file())
    shown = (export.output + report.output + status.output).encode()
    assert not [n for n in numbers if n.encode() in data + shown]
    outside = b"".join(p.read_bytes() for p in scanned[1:] if p.is_file()) + shown
    assert not [p for p in pseudonyms if p.encode() in outside]
    assert all(p.encode() in data for p in pseudonyms[:1])  # the control: the scan sees the file


def test_a_later_registration_replaces_the_cause_from_its_load_on(
    linked: Linked, tmp_path: Path
) -> None:
    """L12: a death registered again (after an inquest, say) with another cause: from that load
    on, the deaths view reads the later registration; as at a time between the loads, the first."""
    copy = tmp_path / "w.duckdb"
    shutil.copyfile(linked.warehouse, copy)
    ipd = linked.ipd
    later = dt.date.fromisoformat(ipd["death_date"]) + dt.timedelta(days=200)
    again = write_csv(
        tmp_path / "registrations_2028-01.csv",
        REGISTRATION_FIELDS,
        [reg(ipd["nhs_number"], ipd["death_date"], str(later), "I21", "40")],
    )
    between = linked.before_registrations + dt.timedelta(days=2)
    received = between + dt.timedelta(days=1)
    (outcome,) = load_feed(copy, "registrations", [again], key=demo_key(), received_at=received)
    assert (outcome.status, outcome.kept_by_spell) == ("loaded", 1)
    sql = "SELECT underlying_cause_icd10, cause_group FROM {} WHERE death_record_id = ?"
    with duckdb.connect(str(copy), read_only=True) as con:
        now = con.execute(sql.format("deaths"), [ipd["death_record_id"]]).fetchall()
        then = con.execute(
            sql.format(f"deaths_as_at(TIMESTAMP '{between}')"), [ipd["death_record_id"]]
        ).fetchall()
        history = con.execute("SELECT count(*) FROM registration_history").fetchall()
    assert now == [("I21", "NAT")]
    assert then == [("X70", "SUI")]
    assert history == [(6,)]  # both registrations of the person are kept

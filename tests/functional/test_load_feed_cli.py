"""``mhdeaths warehouse load-feed`` as a national analyst runs it: the two national feeds loaded
from CSV, validated against their own specs, with history, pseudonyms and the keep rule that
leaves unlinked registrations out of the warehouse (issue 16). Every run is the real command."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import polars as pl

from mhdeaths.warehouse.pseudonym import demo_key, pseudonym

from .cli import Run, mhdeaths, query_rows
from .test_warehouse_cli import KEY_A, KEY_B, REAL_NUMBER, one_error

SPELL_FIELDS = [
    "org_id_provider",
    "hosp_prov_spell_id",
    "reporting_period",
    "nhs_number",
    "decision_to_admit_date",
    "admission_date",
    "discharge_date",
    "discharge_method",
    "discharge_destination",
    "ward_type_group",
]
REGISTRATION_FIELDS = [
    "nhs_number",
    "death_date",
    "registration_date",
    "underlying_cause_icd10",
    "place_of_death_type",
    "registered_sex",
    "age_at_death",
    "residence_area",
    "cause_icd10_01",
    "cause_icd10_02",
]

DIED_ON_WARD = "9434765919"
DIED_DAY_14 = "9434765870"
DIED_DAY_142 = "9434765862"
NEVER_IN_CARE = "9000000009"
NUMBERS = (DIED_ON_WARD, DIED_DAY_14, DIED_DAY_142, NEVER_IN_CARE)

SPELLS = [
    # A spell closed by the death on the ward (discharge method 4).
    ["RZ1", "S1", "2027-03", DIED_ON_WARD, "", "2027-03-01", "2027-03-20", "4", "79", "01"],
    # A live discharge 14 days before the death: in the window.
    ["RZ1", "S2", "2027-03", DIED_DAY_14, "", "2027-02-01", "2027-03-01", "1", "19", "01"],
    # A live discharge 142 days before the death: outside the 3 calendar months.
    ["RZ1", "S3", "2027-03", DIED_DAY_142, "", "2027-01-01", "2027-01-10", "1", "19", "01"],
    # A spell without an NHS number: stored, never linked.
    ["RZ2", "S4", "2027-03", "", "", "2027-01-01", "", "", "", "01"],
]
REGISTRATIONS = [
    [DIED_ON_WARD, "2027-03-20", "2027-03-24", "X70", "01", "1", "40", "E06000001", "F32", ""],
    [DIED_DAY_14, "2027-03-15", "2027-03-18", "I21", "01", "2", "50", "E06000001", "", ""],
    [DIED_DAY_142, "2027-06-01", "2027-06-05", "I21", "01", "2", "50", "E06000001", "", ""],
    [NEVER_IN_CARE, "2027-03-15", "2027-03-18", "I21", "01", "2", "90", "E06000001", "", ""],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def spells(folder: Path, rows: list[list[str]] = SPELLS) -> Path:
    return write_csv(folder / "spells_2027-03.csv", SPELL_FIELDS, rows)


def registrations(folder: Path, rows: list[list[str]] = REGISTRATIONS) -> Path:
    return write_csv(folder / "registrations_2027-06.csv", REGISTRATION_FIELDS, rows)


def load_feed(warehouse: Path, feed: str, *files: Path, key: str = "--demo-key") -> Run:
    return mhdeaths("warehouse", "load-feed", feed, *files, "-w", warehouse, key)


def test_spells_load_once_with_pseudonyms_and_the_same_file_again_changes_nothing(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "w.duckdb"
    run = load_feed(warehouse, "spells", spells(tmp_path))
    assert run.code == 0, run.output
    assert (
        "loaded    spells 2027-03..2027-03 as feed load 1 (spells 1.0.0): 4 spells, " in run.stdout
    )
    assert "1 without a usable NHS number" in run.stdout
    again = load_feed(warehouse, "spells", spells(tmp_path))
    assert again.code == 0, again.output
    assert "unchanged spells file: identical to feed load 1" in again.stdout
    rows = query_rows(warehouse, "SELECT hosp_prov_spell_id, linkable FROM spells ORDER BY 1")
    assert rows == [
        {"hosp_prov_spell_id": "S1", "linkable": True},
        {"hosp_prov_spell_id": "S2", "linkable": True},
        {"hosp_prov_spell_id": "S3", "linkable": True},
        {"hosp_prov_spell_id": "S4", "linkable": False},
    ]
    key = demo_key()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = {
            r[0] for r in con.execute("SELECT nhs_number_pseudonym FROM spell_record").fetchall()
        }
    assert stored == {pseudonym(key, n) for n in NUMBERS[:3]} | {None}
    status = mhdeaths("warehouse", "status", "-w", warehouse)
    assert (
        "National feed spells: 1 load(s), covering 2027-03-01 to 2027-03-31; 4 spells stored"
        in (status.stdout)
    )


def test_a_later_month_of_a_spell_supersedes_the_earlier_one(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    open_spell = ["RZ1", "S9", "2027-03", DIED_DAY_14, "", "2027-03-01", "", "", "", "01"]
    closed = ["RZ1", "S9", "2027-04", DIED_DAY_14, "", "2027-03-01", "2027-04-02", "1", "19", "01"]
    first = write_csv(tmp_path / "spells_2027-03.csv", SPELL_FIELDS, [open_spell])
    second = write_csv(tmp_path / "spells_2027-04.csv", SPELL_FIELDS, [closed])
    run = load_feed(warehouse, "spells", tmp_path)  # a folder: its files load in name order
    assert run.code == 0, run.output
    assert run.stdout.count("loaded    spells") == 2, run.output
    assert first.exists() and second.exists()
    assert query_rows(warehouse, "SELECT reporting_period, discharge_date FROM spells") == [
        {"reporting_period": "2027-04", "discharge_date": "2027-04-02"}
    ]
    assert len(query_rows(warehouse, "SELECT * FROM spell_history")) == 2


def test_unlinked_registrations_are_not_in_the_warehouse(tmp_path: Path) -> None:
    """Only the registrations that link to a spell in the reporting window are written; the
    others are counted, and neither their numbers nor their pseudonyms are anywhere in the
    warehouse file (read as bytes)."""
    warehouse = tmp_path / "w.duckdb"
    assert load_feed(warehouse, "spells", spells(tmp_path)).code == 0
    run = load_feed(warehouse, "registrations", registrations(tmp_path))
    assert run.code == 0, run.output
    assert (
        "4 read, 2 kept (2 linked to spells, 0 to reported deaths only), 2 discarded "
        "(2 unlinked, 0 without a usable NHS number)"
    ) in run.stdout
    rows = query_rows(
        warehouse,
        "SELECT death_date, underlying_cause_icd10, kept_by FROM registrations ORDER BY 1",
    )
    assert rows == [
        {"death_date": "2027-03-15", "underlying_cause_icd10": "I21", "kept_by": "spell"},
        {"death_date": "2027-03-20", "underlying_cause_icd10": "X70", "kept_by": "spell"},
    ]
    key = demo_key()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("w.duckdb*"))
    for number in NUMBERS:
        assert number.encode() not in data
    kept = pseudonym(key, DIED_ON_WARD)
    assert kept and kept.encode() in data  # the control: stored pseudonyms are found as bytes
    never_in_care = pseudonym(key, NEVER_IN_CARE)
    assert never_in_care and never_in_care.encode() not in data
    # The person who died outside the window has a spell (so a pseudonym), but no registration.
    late = query_rows(
        warehouse,
        "SELECT count(*) AS n FROM registration_record AS r JOIN spell_record AS s "
        "USING (nhs_number_pseudonym) WHERE s.hosp_prov_spell_id = 'S3'",
    )
    assert late == [{"n": 0}]
    again = load_feed(warehouse, "registrations", registrations(tmp_path))
    assert "unchanged registrations file: identical to feed load 2" in again.stdout


def test_registrations_loaded_before_their_spells_link_when_loaded_again(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = load_feed(warehouse, "registrations", registrations(tmp_path))
    assert first.code == 0, first.output
    assert "4 read, 0 kept" in first.stdout
    assert load_feed(warehouse, "spells", spells(tmp_path)).code == 0
    status = mhdeaths("warehouse", "status", "-w", warehouse)
    assert "Re-link advised" in status.stdout
    again = load_feed(warehouse, "registrations", registrations(tmp_path))
    assert "4 read, 2 kept" in again.stdout, again.output
    assert "Re-link advised" not in mhdeaths("warehouse", "status", "-w", warehouse).stdout


def test_a_registration_of_a_reported_death_is_kept_without_a_spell(tmp_path: Path) -> None:
    """The report link: a death a provider reported keeps its registration (for its registered
    cause) though no spell of the person was loaded."""
    warehouse = tmp_path / "w.duckdb"
    examples = Path(__file__).resolve().parents[2] / "submissions" / "examples" / "RZ1"
    month = sorted(examples.glob("RZ1_2028-04_*.csv"))
    assert mhdeaths("warehouse", "load", *month, "-w", warehouse, "--demo-key").code == 0
    death = pl.read_csv(examples / "RZ1_2028-04_death.csv", infer_schema=False)
    reported = death.filter(pl.col("nhs_number").is_not_null())["nhs_number"][0]
    rows = [[reported, "2028-04-02", "2028-04-06", "I21", "01", "1", "70", "E06000001", "", ""]]
    run = load_feed(warehouse, "registrations", registrations(tmp_path, rows))
    assert "1 read, 1 kept (0 linked to spells, 1 to reported deaths only)" in run.stdout, (
        run.output
    )
    assert query_rows(warehouse, "SELECT kept_by FROM registrations") == [{"kept_by": "report"}]


def test_a_rejected_feed_file_writes_its_report_and_loads_nothing(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    bad = [row.copy() for row in REGISTRATIONS]
    bad[1][2] = "2027-03-01"  # registered before the death
    run = load_feed(warehouse, "registrations", registrations(tmp_path, bad))
    assert run.code == 1, run.output
    assert "rejected  registrations file registrations_2027-06.csv: see " in run.stdout
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert [n.split(".", 1)[1] for n in written] == ["report.html", "report.json"]
    assert all(n.startswith("feeds_registrations_") for n in written)
    report = (tmp_path / "reports" / written[0]).read_text(encoding="utf-8")
    assert "registration.dates.registered_after_death" in report
    for number in NUMBERS:
        assert number not in report
    assert query_rows(warehouse, "SELECT count(*) AS n FROM feed_load") == [{"n": 0}]


def test_a_spreadsheet_is_refused_in_one_sentence(tmp_path: Path) -> None:
    book = tmp_path / "spells_2027-03.xlsx"
    book.write_bytes(b"PK\x03\x04 not really a workbook")
    line = one_error(load_feed(tmp_path / "w.duckdb", "spells", book))
    assert "a national feed is read from CSV or Parquet" in line


def test_a_death_file_is_not_a_feed(tmp_path: Path) -> None:
    """A provider's death file holds every field of a spell under the same names; its other
    columns are what tell it apart, and a feed file may hold only its feed's fields."""
    examples = Path(__file__).resolve().parents[2] / "submissions" / "examples" / "RZ1"
    warehouse = tmp_path / "w.duckdb"
    run = load_feed(warehouse, "spells", examples / "RZ1_2028-04_death.csv")
    assert run.code == 1, run.output
    assert "rejected  spells file RZ1_2028-04_death.csv" in run.stdout
    (report,) = (tmp_path / "reports").glob("*.report.json")
    assert "spell.structure.unknown_column" in report.read_text(encoding="utf-8")
    assert query_rows(warehouse, "SELECT count(*) AS n FROM spell_record") == [{"n": 0}]


def test_the_demo_key_is_refused_for_real_numbers(tmp_path: Path) -> None:
    rows = [[REAL_NUMBER, *SPELLS[0][4:]]]
    rows[0][0:0] = ["RZ1", "S1", "2027-03"]
    line = one_error(load_feed(tmp_path / "w.duckdb", "spells", spells(tmp_path, rows)))
    assert "The demo pseudonym key serves only synthetic NHS numbers" in line
    assert REAL_NUMBER not in line


def test_one_key_per_warehouse_whichever_came_first(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    key_a = tmp_path / "a.key"
    key_a.touch(mode=0o600)
    key_a.write_text(KEY_A)
    key_b = tmp_path / "b.key"
    key_b.touch(mode=0o600)
    key_b.write_text(KEY_B)
    assert load_feed(warehouse, "spells", spells(tmp_path), key=f"--key-file={key_a}").code == 0
    refused = load_feed(
        warehouse, "registrations", registrations(tmp_path), key=f"--key-file={key_b}"
    )
    assert "pseudonyms under two keys would never link" in one_error(refused)
    examples = Path(__file__).resolve().parents[2] / "submissions" / "examples" / "RZ1"
    month = sorted(examples.glob("RZ1_2028-04_*.csv"))
    load = mhdeaths("warehouse", "load", *month, "-w", warehouse, f"--key-file={key_b}")
    assert "pseudonyms under two keys would never link" in one_error(load)

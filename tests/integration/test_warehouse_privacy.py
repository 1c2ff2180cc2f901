"""No identifier leaves the submission for the warehouse: the bytes of the DuckDB file, its WAL, the
Parquet export and the query output hold no NHS number, date of birth, postcode or local patient
identifier of any submitted record, and the pseudonyms are the keyed HMACs of the numbers."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.pseudonym import demo_key, pseudonym

from ..conftest import LOADABLE, SPEC_ROOT
from ..functional.cli import mhdeaths
from .test_warehouse_reliability import built_once

REPO = Path(__file__).resolve().parents[2]
V1 = load_spec("1.0.0", SPEC_ROOT)
LATEST = load_spec(LOADABLE[-1], SPEC_ROOT)
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "MHDEATHS_PSEUDONYM_KEY": "", "MHDEATHS_WAREHOUSE": ""}
DATE_FIELDS = (
    "death_date",
    "date_provider_notified",
    "admission_date",
    "discharge_date",
    "review_completed_date",
)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Identifiers:
    """What the source files hold that the warehouse must never hold, and, as a control, what it
    must hold (each record's id)."""

    nhs_numbers: set[str] = field(default_factory=set)
    birth_dates: set[dt.date] = field(default_factory=set)
    postcodes: set[str] = field(default_factory=set)
    local_ids: set[str] = field(default_factory=set)
    other_dates: set[dt.date] = field(default_factory=set)
    record_ids: set[str] = field(default_factory=set)
    numbers_by_record: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def forbidden(self) -> dict[str, str]:
        """Each string to look for, and what it is. A date of birth that is also some other date
        in the data (a death, an admission...) is left out: finding it would prove nothing."""
        found: dict[str, str] = {}
        for number in self.nhs_numbers:
            found[number] = "NHS number"
            found[f"{number[:3]} {number[3:6]} {number[6:]}"] = "NHS number (spaced)"
        for birth in self.birth_dates - self.other_dates:
            for text in (birth.isoformat(), birth.strftime("%d/%m/%Y"), birth.strftime("%Y%m%d")):
                found[text] = "date of birth"
        for postcode in self.postcodes:
            found[postcode] = "postcode"
            found[postcode.replace(" ", "")] = "postcode (no space)"
        for local in self.local_ids:
            found[local] = "local patient identifier"
        return found


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    for form in ("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    raise AssertionError(f"an unexpected date in a source file: {text!r}")


def _headers() -> dict[str, str]:
    """Every provider profile's own death headers, mapped to the spec's names."""
    mapping: dict[str, str] = {}
    for profile in (REPO / "validators").glob("*.yaml"):
        data = yaml.safe_load(profile.read_text(encoding="utf-8"))
        mapping.update((data.get("headers") or {}).get("death") or {})
    return mapping


def collect(folder: Path) -> Identifiers:
    ids = Identifiers()
    headers = _headers()
    for path in sorted(folder.rglob("*_death.csv")):
        frame = pl.read_csv(path, infer_schema=False)
        frame = frame.rename({c: headers[c] for c in frame.columns if c in headers})
        for row in frame.iter_rows(named=True):
            number = row["nhs_number"]
            if number:
                ids.nhs_numbers.add("".join(ch for ch in number if ch.isdigit()))
            birth = _date(row["person_birth_date"])
            if birth:
                ids.birth_dates.add(birth)
            if row.get("postcode"):  # not collected from spec 2.0.0
                ids.postcodes.add(row["postcode"].strip())
            if row["local_patient_id"]:
                ids.local_ids.add(row["local_patient_id"].strip())
            for name in DATE_FIELDS:
                other = _date(row.get(name))
                if other:
                    ids.other_dates.add(other)
            ids.record_ids.add(row["death_record_id"])
            ids.numbers_by_record[(row["org_id_provider"], row["death_record_id"])] = number
    assert ids.nhs_numbers and ids.birth_dates and ids.postcodes and ids.local_ids
    return ids


def leaks(data: bytes, forbidden: dict[str, str]) -> list[str]:
    return sorted(f"{what} {text}" for text, what in forbidden.items() if text.encode() in data)


def present(data: bytes, strings: set[str]) -> set[str]:
    return {s for s in strings if s.encode() in data}


@dataclass(frozen=True)
class Loaded:
    warehouse: Path
    sources: Path
    ids: Identifiers


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """Several providers and months under both spec versions, resubmissions and deaths reported
    by two providers, and a provider writing its own headers and day-first dates, loaded with
    the demo key by the real command."""
    root = built_once(tmp_path_factory, "privacy", _build)
    return Loaded(root / "warehouse" / "w.duckdb", root / "sources", collect(root / "sources"))


def _build(root: Path) -> None:
    sources = root / "sources"
    generate(
        V1,
        SynthOptions(provider_list=("RP1", "RP2"), months=4, start="2027-06", seed=31),
        sources / "v1",
    )
    generate(
        LATEST,
        SynthOptions(
            provider_list=("RP1", "RP2", "RP3"),
            months=4,
            start="2027-10",
            seed=32,
            resubmissions=0.5,
            transfers=0.5,
        ),
        sources / "latest",
    )
    synth = subprocess.run(
        [
            sys.executable,
            "-m",
            "mhdeaths",
            "synth",
            "--spec",
            "1.0.0",
            "--profile",
            str(REPO / "validators" / "RZ9.yaml"),
            "--start",
            "2027-04",
            "--months",
            "4",
            "--seed",
            "33",
            "--out",
            str(sources / "own-format"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert synth.returncode == 0, synth.stderr
    warehouse = root / "warehouse" / "w.duckdb"
    run = mhdeaths(
        "warehouse",
        "load",
        sources / "v1",
        sources / "latest",
        sources / "own-format",
        "--warehouse",
        warehouse,
        "--demo-key",
        env=ENV,
    )
    assert run.code == 0, run.output
    assert "rejected" not in run.stdout.split("submission(s):")[0]


def warehouse_files(warehouse: Path) -> list[Path]:
    """The DuckDB file and everything DuckDB keeps beside it (its WAL, temporary files)."""
    return [
        p
        for p in sorted(warehouse.parent.rglob("*"))
        if p.is_file() and p.name.startswith(warehouse.name)
    ]


def test_the_warehouse_file_holds_no_identifier(loaded: Loaded) -> None:
    files = warehouse_files(loaded.warehouse)
    assert loaded.warehouse in files
    data = b"".join(p.read_bytes() for p in files)
    forbidden = loaded.ids.forbidden()
    assert any(what == "date of birth" for what in forbidden.values())
    assert leaks(data, forbidden) == []
    # The control: the scan sees strings the warehouse does store, so it is not blind to how
    # DuckDB lays them out (were they compressed out of sight, this would fail, not pass).
    assert present(data, loaded.ids.record_ids) == loaded.ids.record_ids
    pseudonyms = {pseudonym(demo_key(), n) for n in loaded.ids.nhs_numbers}
    assert present(data, {p for p in pseudonyms if p}) == {p for p in pseudonyms if p}


def test_the_pseudonyms_are_the_keyed_hmacs_of_the_numbers(loaded: Loaded) -> None:
    with duckdb.connect(str(loaded.warehouse), read_only=True) as con:
        stored = con.execute(
            "SELECT org_id_provider, death_record_id, nhs_number_pseudonym FROM death_record"
        ).fetchall()
        columns = {r[0] for r in con.execute("DESCRIBE death_record").fetchall()}
    assert not {"nhs_number", "person_birth_date", "postcode", "local_patient_id"} & columns
    assert stored
    key = demo_key()
    for provider, record_id, stored_pseudonym in stored:
        number = loaded.ids.numbers_by_record[(provider, record_id)]
        assert stored_pseudonym == pseudonym(key, number), (provider, record_id)
        if number:
            assert HEX64.match(stored_pseudonym), stored_pseudonym
    assert {p for *_, p in stored if p} == {pseudonym(key, n) for n in loaded.ids.nhs_numbers}


def _as_text(paths: list[Path]) -> bytes:
    """The Parquet files' values as text (their bytes are compressed, so a raw scan is blind)."""
    with duckdb.connect() as con:
        text = []
        for path in paths:
            rows = con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
            text.extend(" | ".join(map(str, row)) for row in rows)
    return "\n".join(text).encode()


def test_the_export_holds_no_identifier(loaded: Loaded, tmp_path: Path) -> None:
    out = tmp_path / "export"
    run = mhdeaths("warehouse", "export", "--out", out, "--warehouse", loaded.warehouse, env=ENV)
    assert run.code == 0, run.output
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert any(p.suffix == ".parquet" for p in files)
    forbidden = loaded.ids.forbidden()
    assert leaks(b"".join(p.read_bytes() for p in files), forbidden) == []
    values = _as_text([p for p in files if p.suffix == ".parquet"])
    assert leaks(values, forbidden) == []
    # The control: every current death's record id is there to be seen.
    with duckdb.connect(str(loaded.warehouse), read_only=True) as con:
        current = {r[0] for r in con.execute("SELECT death_record_id FROM deaths").fetchall()}
    assert current and present(values, current) == current


@pytest.mark.parametrize(
    ("sql", "fmt"),
    [
        ("SELECT * FROM deaths", "csv"),
        ("SELECT * FROM deaths", "json"),
        ("SELECT * FROM deaths", "table"),
        ("SELECT * FROM death_history", "csv"),
        ("SELECT * FROM submission", "json"),
    ],
)
def test_query_output_holds_no_identifier(
    loaded: Loaded, tmp_path: Path, sql: str, fmt: str
) -> None:
    run = mhdeaths(
        "warehouse",
        "query",
        sql,
        "--format",
        fmt,
        "--limit",
        "100000",
        "--warehouse",
        loaded.warehouse,
        env=ENV,
    )
    assert run.code == 0, run.output
    written = tmp_path / f"out.{fmt}"
    written.write_text(run.stdout, encoding="utf-8")
    data = written.read_bytes()
    assert leaks(data, loaded.ids.forbidden()) == []
    if fmt == "json":
        assert json.loads(data)
    if "death" in sql and fmt != "table":
        assert present(data, loaded.ids.record_ids), "the control: record ids are in the output"


@pytest.mark.parametrize(
    "args",
    [("status", "--format", "json"), ("status",), ("history", "--format", "csv")],
    ids=["status-json", "status", "history"],
)
def test_status_and_history_hold_no_identifier(loaded: Loaded, args: tuple[str, ...]) -> None:
    run = mhdeaths("warehouse", *args, "--warehouse", loaded.warehouse, env=ENV)
    assert run.code == 0, run.output
    assert leaks(run.output.encode(), loaded.ids.forbidden()) == []


def test_the_scan_finds_an_identifier_planted_in_a_copy(loaded: Loaded, tmp_path: Path) -> None:
    """The scan itself works: identifiers stored in a DuckDB table are found in the file's bytes."""
    copy = tmp_path / "planted.duckdb"
    copy.write_bytes(loaded.warehouse.read_bytes())
    number = sorted(loaded.ids.nhs_numbers)[0]
    birth = sorted(loaded.ids.birth_dates - loaded.ids.other_dates)[0]
    with duckdb.connect(str(copy)) as con:
        con.execute("CREATE TABLE planted (n VARCHAR, b VARCHAR)")
        con.execute("INSERT INTO planted VALUES (?, ?)", [number, birth.strftime("%d/%m/%Y")])
    data = b"".join(p.read_bytes() for p in warehouse_files(copy))
    assert leaks(data, loaded.ids.forbidden()) == sorted(
        [f"NHS number {number}", f"date of birth {birth.strftime('%d/%m/%Y')}"]
    )


def test_no_view_shows_an_identifier_or_a_pseudonym_it_does_not_need(loaded: Loaded) -> None:
    """Every view an analyst can query (the spec 2.0.0 ones too: conflicts, unmatched transfers,
    detention deaths, coroners' reports, data quality), read in full as text: no identifier. The
    lists of deaths reported twice show no pseudonym either (docs/warehouse.md says why)."""
    key = demo_key()
    pseudonyms = {p for p in (pseudonym(key, n) for n in loaded.ids.nhs_numbers) if p}
    with duckdb.connect(str(loaded.warehouse), read_only=True) as con:
        views = [
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
            ).fetchall()
        ]
        assert {"death_date_conflicts", "transfers_unmatched", "pfd_responses"} <= set(views)
        shown_ids: set[str] = set()
        for view in views:
            cursor = con.execute(f"SELECT * FROM {view}")
            names = [d[0] for d in cursor.description]
            text = "\n".join(" | ".join(map(str, row)) for row in cursor.fetchall()).encode()
            assert leaks(text, loaded.ids.forbidden()) == [], view
            if view in {"duplicate_deaths", "death_date_conflicts", "transfers_unmatched"}:
                assert "nhs_number_pseudonym" not in names, view
                assert present(text, pseudonyms) == set(), view
            shown_ids |= present(text, loaded.ids.record_ids)
        # The control: the scan reads what the views show (the duplicates name their records).
        duplicated = con.execute("SELECT count(*) FROM duplicate_deaths").fetchone()
    assert duplicated and duplicated[0] > 0
    assert shown_ids == loaded.ids.record_ids


@pytest.mark.parametrize("field_name", ["cqc_reference", "leder_reference", "coroner_reference"])
def test_an_nhs_number_typed_into_a_reference_never_reaches_the_warehouse(
    tmp_path: Path, field_name: str
) -> None:
    """A reference into another system is the one place a 2.0.0 record takes text a person typed:
    a provider that pastes the person's NHS number there (the way the pattern allows, with
    hyphens) has the submission rejected, and the number shows nowhere."""
    month = REPO / "submissions" / "examples" / "RZ1"
    folder = tmp_path / "RZ1"
    folder.mkdir()
    for source in sorted(month.glob("RZ1_2028-04_*.csv")):
        (folder / source.name).write_bytes(source.read_bytes())
    death = folder / "RZ1_2028-04_death.csv"
    frame = pl.read_csv(death, infer_schema=False)
    number = frame["nhs_number"][0]
    typed = f"REF-{number[:3]}-{number[3:6]}-{number[6:]}"
    frame.with_columns(pl.Series(field_name, [typed, *frame[field_name].to_list()[1:]])).write_csv(
        death
    )
    warehouse = tmp_path / "w.duckdb"
    run = mhdeaths("warehouse", "load", folder, "--warehouse", warehouse, "--demo-key", env=ENV)
    assert run.code != 0 or "rejected" in run.stdout, run.output
    reports = sorted((tmp_path / "reports").glob("*.report.*"))
    assert reports
    shown = run.output + "".join(r.read_text(encoding="utf-8") for r in reports)
    assert f"death.no_identifier.{field_name}" in shown
    for text in (number, typed, f"{number[:3]}-{number[3:6]}-{number[6:]}"):
        assert text not in shown
        for path in warehouse_files(warehouse):
            assert text.encode() not in path.read_bytes(), (path.name, text)

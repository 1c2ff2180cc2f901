"""Loading the warehouse, against real DuckDB files: idempotence, supersession and history, both
spec versions in one model, one death reported twice, and the schema's own upgrades."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mhdeaths.engines import polars_engine as engine
from mhdeaths.jobs.load_reports import write_rejected_report, write_report_beside
from mhdeaths.paths import warehouse_root
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.validate.render import to_json
from mhdeaths.validate.report import Verdict
from mhdeaths.validate.validator import validate
from mhdeaths.warehouse import loading
from mhdeaths.warehouse.canonical import WarehouseError, check_canonical, load_canonical
from mhdeaths.warehouse.loading import content_sha256, load
from mhdeaths.warehouse.pseudonym import demo_key
from mhdeaths.warehouse.schema import Migration, migrations, upgrade
from mhdeaths.warehouse.store import connect, table_columns

from ..conftest import LOADABLE, SPEC_ROOT

V1 = load_spec("1.0.0", SPEC_ROOT)
LATEST = load_spec(LOADABLE[-1], SPEC_ROOT)
KEY = demo_key()
EARLY = dt.datetime(2027, 12, 5, 9, 0)
LATER = dt.datetime(2028, 1, 10, 9, 0)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two providers, two months under 1.0.0 and two under the latest version."""
    out = tmp_path_factory.mktemp("synthetic")
    generate(
        V1,
        SynthOptions(start="2027-08", months=2, seed=5, provider_list=("RX1", "RX2")),
        out / "v1",
    )
    generate(LATEST, SynthOptions(providers=2, months=2, start="2027-10", seed=6), out / "v2")
    return out


def state(path: Path) -> dict[str, object]:
    """Everything stored, table by table: row counts and an order-free hash of the rows."""
    with connect(path, read_only=True) as con:
        return {
            table: con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} AS t").fetchone()
            for table in ("submission", "submission_file", "death_record", "activity_record")
        }


def rows(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with connect(path, read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_loading_the_same_files_twice_changes_nothing(tmp_path: Path, synthetic: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = load(warehouse, [synthetic], key=KEY, received_at=EARLY)
    assert first and all(o.status == "loaded" for o in first)
    before = state(warehouse)
    again = load(warehouse, [synthetic], key=KEY, received_at=LATER)
    assert [o.status for o in again] == ["unchanged"] * len(first)
    assert [o.submission_id for o in again] == [o.submission_id for o in first]
    assert state(warehouse) == before


def records_state(path: Path) -> dict[str, object]:
    return {t: v for t, v in state(path).items() if t.endswith("_record")}


def test_records_inserted_while_validating_are_those_inserted_after(
    tmp_path: Path, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large submissions' records are inserted while they are being validated (typed from the
    # same text); here every submission is, under both versions, and the warehouse is the same.
    after = tmp_path / "after.duckdb"
    assert all(o.status == "loaded" for o in load(after, [synthetic], key=KEY))
    monkeypatch.setattr(loading, "EARLY_RECORDS", 0)
    early = tmp_path / "early.duckdb"
    assert all(o.status == "loaded" for o in load(early, [synthetic], key=KEY))
    assert records_state(early) == records_state(after)
    assert rows(early, "SELECT submission_id, death_rows, activity_rows FROM submission") == rows(
        after, "SELECT submission_id, death_rows, activity_rows FROM submission"
    )
    # Loading the same files again inserts early, finds them loaded, and rolls back.
    again = load(early, [synthetic], key=KEY)
    assert {o.status for o in again} == {"unchanged"}
    assert records_state(early) == records_state(after)


def test_records_inserted_while_validating_a_rejected_submission_are_rolled_back(
    tmp_path: Path, synthetic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loading, "EARLY_RECORDS", 0)
    death_file = _biggest_death_file(synthetic / "v2")
    bad = tmp_path / death_file.name
    text = pl.read_csv(death_file, infer_schema=False)
    text.with_columns(pl.lit("X").alias("record_action")).write_csv(bad)
    warehouse = tmp_path / "w.duckdb"
    (rejected,) = load(warehouse, [bad], key=KEY)
    assert rejected.status == "rejected"
    assert rows(warehouse, "SELECT count(*) FROM death_record") == [(0,)]
    (loaded,) = load(warehouse, [death_file], key=KEY)
    assert loaded.status == "loaded" and loaded.submission_id == 1
    assert rows(warehouse, "SELECT count(*) FROM death_record") == [(text.height,)]


def test_the_loader_writes_nothing_but_the_warehouse_and_its_callers_name_the_report(
    tmp_path: Path, synthetic: Path
) -> None:
    death_file = _biggest_death_file(synthetic / "v2")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    bad = inbox / death_file.name
    text = pl.read_csv(death_file, infer_schema=False)
    text.with_columns(pl.lit("X").alias("record_action")).write_csv(bad)
    warehouse = tmp_path / "w" / "w.duckdb"
    (rejected,) = load(warehouse, [bad], key=KEY)
    assert rejected.status == "rejected" and rejected.verdict is Verdict.REJECTED
    assert rejected.paths == (bad,) and rejected.reports == ()
    # No report anywhere: not beside the files, not in reports/ beside the warehouse.
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [bad.name, *(p.name for p in warehouse.parent.iterdir())]
    )
    assert not (warehouse.parent / "reports").exists()
    # The callers write it: into a shared folder under the content's hash, or beside the files.
    shared = write_rejected_report(rejected, tmp_path / "reports")
    stem = f"{rejected.provider}_{rejected.reporting_period}_{content_sha256(rejected.report)[:8]}"
    assert [p.name for p in shared.reports] == [f"{stem}.report.html", f"{stem}.report.json"]
    assert shared.reports[1].read_text() == to_json(rejected.report)
    beside = write_report_beside(rejected)
    assert [p.parent for p in beside.reports] == [inbox, inbox]
    assert beside.reports[1].name == f"{rejected.provider}_{rejected.reporting_period}.report.json"
    (loaded,) = load(warehouse, [death_file], key=KEY)
    assert write_rejected_report(loaded, tmp_path / "reports") == loaded  # only rejected ones


def _biggest_death_file(folder: Path) -> Path:
    files = sorted(folder.rglob("*_death.csv"))
    return max(files, key=lambda p: (pl.read_csv(p, infer_schema=False).height, p.name))


def test_a_resubmission_supersedes_and_the_earlier_state_stays_queryable(
    tmp_path: Path, synthetic: Path
) -> None:
    death_file = _biggest_death_file(synthetic / "v2")
    activity_file = death_file.with_name(death_file.name.replace("_death", "_activity"))
    warehouse = tmp_path / "w.duckdb"
    (original,) = load(warehouse, [death_file, activity_file], key=KEY, received_at=EARLY)
    text = pl.read_csv(death_file, infer_schema=False)
    assert text.height >= 3, "the fixture needs a month with three deaths"
    updated, withdrawn, untouched = text["death_record_id"].to_list()[:3]
    # The resubmission updates one record, withdraws one, and does not mention the third.
    resubmission = text.head(2).with_columns(
        pl.Series("record_action", ["U", "D"]),
        pl.when(pl.col("death_record_id") == updated)
        .then(pl.lit("Z"))
        .otherwise(pl.col("ethnic_category"))
        .alias("ethnic_category"),
    )
    folder = tmp_path / "resubmitted"
    folder.mkdir()
    resubmission.write_csv(folder / death_file.name)
    shutil.copy(activity_file, folder / activity_file.name)
    (second,) = load(warehouse, [folder], key=KEY, received_at=LATER)
    assert second.status == "loaded" and second.supersedes == original.submission_id

    provider, period = original.provider, original.reporting_period
    assert rows(
        warehouse,
        "SELECT submission_id, status, superseded_by FROM submissions ORDER BY 1",
    ) == [
        (original.submission_id, "superseded", second.submission_id),
        (second.submission_id, "current", None),
    ]
    now = dict(rows(warehouse, "SELECT death_record_id, ethnic_category FROM deaths"))
    assert withdrawn not in now
    assert now[updated] == "Z"
    assert untouched in now, "a record the resubmission does not mention stays"
    assert len(now) == text.height - 1

    # As it stood before the resubmission arrived.
    then = dict(
        rows(
            warehouse,
            "SELECT death_record_id, ethnic_category FROM deaths_as_at(?)",
            EARLY + dt.timedelta(days=1),
        )
    )
    assert set(then) == set(text["death_record_id"].to_list())
    assert then[updated] == text.filter(pl.col("death_record_id") == updated)["ethnic_category"][0]
    # Nothing submitted is lost.
    assert rows(warehouse, "SELECT count(*) FROM death_history")[0][0] == text.height + 2
    quality = rows(
        warehouse,
        "SELECT resubmissions, updated_records, withdrawn_records FROM data_quality "
        "WHERE provider = ? AND reporting_period = ?",
        provider,
        period,
    )
    assert quality == [(1, 1, 1)]
    # The activity of the current submission only.
    assert rows(warehouse, "SELECT DISTINCT submission_id FROM activity") == [
        (second.submission_id,)
    ]


def test_an_older_submission_loaded_late_does_not_supersede_a_newer_one(
    tmp_path: Path, synthetic: Path
) -> None:
    activity = sorted((synthetic / "v2").rglob("*_activity.csv"))[0]
    changed = tmp_path / "changed" / activity.name
    changed.parent.mkdir()
    changed.write_text(activity.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    warehouse = tmp_path / "w.duckdb"
    (newer,) = load(warehouse, [activity], key=KEY, received_at=LATER)
    (older,) = load(warehouse, [changed], key=KEY, received_at=EARLY)
    assert older.status == "loaded" and not older.current and older.supersedes is None
    assert rows(warehouse, "SELECT submission_id FROM submissions WHERE status = 'current'") == [
        (newer.submission_id,)
    ]


def test_submissions_under_both_versions_land_in_one_model(tmp_path: Path, synthetic: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    outcomes = load(warehouse, [synthetic], key=KEY)
    assert {o.spec_version for o in outcomes} == {"1.0.0", LATEST.version}
    by_version = dict(
        rows(
            warehouse,
            "SELECT spec_version, count(family_involvement) FROM reviews GROUP BY 1",
        )
    )
    assert set(by_version) == {"1.0.0", LATEST.version}
    assert by_version["1.0.0"] == 0, "1.0.0 did not collect family involvement"
    assert by_version[LATEST.version] > 0
    submitted = sum(o.death_rows for o in outcomes)
    assert rows(warehouse, "SELECT count(*) FROM deaths")[0][0] == submitted
    assert rows(warehouse, "SELECT DISTINCT canonical_version FROM submission") == [
        (LATEST.version,)
    ]


def test_a_death_reported_by_two_providers_is_counted_once(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    generate(LATEST, SynthOptions(providers=2, months=1, start="2027-10", seed=21), out)
    first, second = sorted(out.glob("*/*_death.csv"))[:2]
    a = pl.read_csv(first, infer_schema=False)
    b = pl.read_csv(second, infer_schema=False)
    # The second provider also reports one of the first provider's deaths that is not an
    # inpatient death (so its activity still balances), as its own record.
    shared = a.filter(pl.col("declared_death_category") != "IPD").head(1)
    assert shared.height == 1
    copy = shared.with_columns(
        org_id_provider=pl.lit(b["org_id_provider"][0]),
        death_record_id=pl.lit("TRANSFER-1"),
    )
    pl.concat([b, copy]).write_csv(second)
    warehouse = tmp_path / "w.duckdb"
    assert all(o.status == "loaded" for o in load(warehouse, [out], key=KEY))

    groups = rows(
        warehouse, "SELECT records, attributed_provider, death_date FROM duplicate_deaths"
    )
    assert len(groups) == 1
    records, attributed, _ = groups[0]
    assert records == 2
    # The polars engine ranks the same two records the same way.
    pair = pl.concat([shared, copy])
    typed = engine.derive(
        LATEST,
        "death",
        engine.to_typed(
            LATEST.table("death"),
            pair.select([f.name for f in LATEST.table("death").submitted_fields]),
        ),
    )
    ranks = engine.attribution_rank(LATEST, typed).to_list()
    assert attributed == pair["org_id_provider"][ranks.index(1)]
    counted = rows(
        warehouse,
        "SELECT count(*) FILTER (WHERE counted), count(*) FROM deaths WHERE death_record_id IN (?, ?)",
        shared["death_record_id"][0],
        "TRANSFER-1",
    )
    assert counted == [(1, 2)]
    assert rows(warehouse, "SELECT sum(duplicates_resolved) FROM data_quality")[0][0] == 1


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 100_000))
def test_the_warehouse_derives_what_the_validator_derives(tmp_path: Path, seed: int) -> None:
    out = tmp_path / f"s{seed}"
    generate(LATEST, SynthOptions(providers=1, months=3, start="2027-10", seed=seed), out)
    warehouse = tmp_path / f"w{seed}.duckdb"
    names = [d.name for d in LATEST.definitions_for("death")]
    for death in sorted(out.rglob("*_death.csv")):
        result = validate([death])
        assert result.submission is not None
        polars_side = result.submission.tables["death"].select(names)
        (outcome,) = load(warehouse, [death], key=KEY)
        duckdb_side = rows(
            warehouse,
            f"SELECT {', '.join(names)} FROM death_record WHERE submission_id = ? "
            "ORDER BY source_row",
            outcome.submission_id,
        )
        assert [tuple(r) for r in polars_side.iter_rows()] == duckdb_side


def test_the_tables_match_the_canonical_model(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        upgrade(con)
        assert check_canonical(load_canonical(), SPEC_ROOT, table_columns(con)) == []


def test_a_spec_version_without_a_mapping_is_reported() -> None:
    model = load_canonical()
    partial = model.model_copy(
        update={"versions": {LATEST.version: model.versions[LATEST.version]}}
    )
    assert any("1.0.0 has no mapping" in p for p in check_canonical(partial, SPEC_ROOT))


@pytest.fixture
def warehouse_copy(tmp_path: Path) -> Path:
    root = tmp_path / "warehouse-src"
    shutil.copytree(warehouse_root(), root)
    return root


SCHEMA = len(migrations())
NEXT = f"{SCHEMA + 1:04d}"
"""The number a release's next migration would take."""


def test_a_warehouse_made_by_an_earlier_release_upgrades_in_place(
    tmp_path: Path, synthetic: Path, warehouse_copy: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    load(warehouse, [synthetic / "v2"], key=KEY)
    before = state(warehouse)
    (warehouse_copy / "migrations" / f"{NEXT}_submission_note.sql").write_text(
        "ALTER TABLE submission ADD COLUMN note VARCHAR;\n", encoding="utf-8"
    )
    with connect(warehouse) as con:
        done = upgrade(con, root=warehouse_copy)
        assert done.applied == (f"{NEXT}_submission_note",)
        assert done.schema_version == SCHEMA + 1
        again = upgrade(con, root=warehouse_copy)
        assert again.applied == () and not again.views_rewritten
    recorded = rows(warehouse, "SELECT version, name FROM schema_migration ORDER BY 1")
    assert recorded[0] == (1, "submissions_and_records")
    assert recorded[-1] == (SCHEMA + 1, "submission_note") and len(recorded) == SCHEMA + 1
    assert rows(warehouse, "SELECT count(note) FROM submission") == [(0,)]
    after = state(warehouse)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}  # type: ignore[index]


EARLIER_RELEASE = Path(__file__).parents[1] / "data" / "warehouse-schema-3"
"""The tables of a warehouse an earlier release made (schema 3, canonical spec 1.1.0): README."""


def apply_migration(con: duckdb.DuckDBPyConnection, migration: Migration) -> None:
    """Apply one migration as a release does, recording it (no views: those of today's release
    need today's tables)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, "
        "name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    con.execute(migration.sql)
    con.execute(
        "INSERT INTO schema_migration VALUES (?, ?, ?, ?)",
        [migration.version, migration.name, migration.sha256, EARLY],
    )


def old_warehouse(tmp_path: Path, until: int) -> Path:
    """A warehouse made and loaded by the release whose schema ended at migration ``until``:
    its tables made by those migrations, its records those an earlier release stored
    (tests/data/warehouse-schema-3), less the columns later migrations added."""
    warehouse = tmp_path / "old.duckdb"
    with connect(warehouse) as con:
        for migration in migrations()[:until]:
            apply_migration(con, migration)
        for table, columns in table_columns(con).items():
            stored = EARLIER_RELEASE / f"{table}.parquet"
            if table == "schema_migration" or not stored.exists():
                continue
            listed = ", ".join(f'"{c}"' for c in columns)
            con.execute(f"INSERT INTO {table} SELECT {listed} FROM read_parquet('{stored}')")
    return warehouse


def test_0002_keeps_every_record_and_stores_the_identifiers_uncompressed(tmp_path: Path) -> None:
    warehouse = old_warehouse(tmp_path, 1)
    before = state(warehouse)
    assert rows(warehouse, "SELECT max(version) FROM schema_migration") == [(1,)]
    with connect(warehouse) as con:
        apply_migration(con, migrations()[1])
    assert state(warehouse) == before
    stored = rows(
        warehouse,
        "SELECT DISTINCT column_name, compression FROM pragma_storage_info('death_record') "
        "WHERE column_name IN ('nhs_number_pseudonym', 'death_record_id') "
        "AND segment_type = 'VARCHAR' ORDER BY 1",
    )
    assert stored == [("death_record_id", "Uncompressed"), ("nhs_number_pseudonym", "Uncompressed")]


def test_a_changed_migration_is_refused(tmp_path: Path, warehouse_copy: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        upgrade(con, root=warehouse_copy)
    migration = next((warehouse_copy / "migrations").glob("0001_*.sql"))
    migration.write_text(migration.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    with connect(warehouse) as con, pytest.raises(WarehouseError, match="append-only"):
        upgrade(con, root=warehouse_copy)


def test_a_warehouse_from_a_newer_release_is_refused(tmp_path: Path, warehouse_copy: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    (warehouse_copy / "migrations" / f"{NEXT}_future.sql").write_text(
        "SELECT 1;\n", encoding="utf-8"
    )
    with connect(warehouse) as con:
        upgrade(con, root=warehouse_copy)
    with connect(warehouse) as con, pytest.raises(WarehouseError, match="newer release"):
        upgrade(con)


def test_a_failed_migration_leaves_the_warehouse_as_it_was(
    tmp_path: Path, warehouse_copy: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    with connect(warehouse) as con:
        upgrade(con, root=warehouse_copy)
    (warehouse_copy / "migrations" / f"{NEXT}_broken.sql").write_text(
        "ALTER TABLE submission ADD COLUMN ok VARCHAR;\nALTER TABLE nowhere ADD COLUMN x INT;\n",
        encoding="utf-8",
    )
    with (
        connect(warehouse) as con,
        pytest.raises(WarehouseError, match="cannot be brought up to date"),
    ):
        upgrade(con, root=warehouse_copy)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_migration").fetchone() == (SCHEMA,)
        columns = [r[0] for r in con.execute("DESCRIBE submission").fetchall()]
        assert "ok" not in columns


def test_every_view_and_macro_is_documented(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "warehouse.md").read_text()
    with connect(tmp_path / "w.duckdb") as con:
        upgrade(con)
        views = [
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        ]
        macros = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT function_name FROM duckdb_functions() "
                "WHERE function_type LIKE '%macro' AND NOT internal AND schema_name = 'main'"
            ).fetchall()
        ]
    assert views and macros
    for name in views + macros:
        assert f"`{name}" in guide, f"{name} is not in docs/warehouse.md"


def test_a_transfer_death_is_attributed_to_the_receiving_provider(tmp_path: Path) -> None:
    """The sending provider reports a death after discharge, the receiving one an inpatient
    death: the spec's order counts the inpatient death, whichever provider loads first."""
    out = tmp_path / "synthetic"
    result = generate(
        LATEST, SynthOptions(providers=3, months=2, start="2027-10", seed=33, transfers=1.0), out
    )
    assert result.transfers
    warehouse = tmp_path / "w.duckdb"
    assert all(o.status == "loaded" for o in load(warehouse, [out], key=KEY))
    groups = rows(
        warehouse,
        "SELECT list(death_category ORDER BY attribution_rank), "
        "list(org_id_provider ORDER BY attribution_rank), any_value(attributed_provider) "
        "FROM deaths WHERE times_reported > 1 GROUP BY nhs_number_pseudonym, death_date",
    )
    assert len(groups) == len(result.transfers)
    for categories, providers, attributed in groups:
        assert categories == ["IPD", "D30"]
        assert attributed == providers[0] != providers[1]
    counted = rows(warehouse, "SELECT count(*) FILTER (WHERE counted), count(*) FROM deaths")[0]
    assert counted[1] - counted[0] == len(result.transfers)

"""The ``mhdeaths warehouse`` commands as a user runs them: the pseudonym key, bad input, and the
analyst's query and export surface. Every run is the real command in a subprocess."""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import os
import random
import re
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.pseudonym import DEMO_KEY, demo_key

from ..conftest import LOADABLE, SPEC_ROOT
from ..integration.test_warehouse_reliability import ENV, built_once, state
from .cli import Run, mhdeaths

LATEST = load_spec(LOADABLE[-1], SPEC_ROOT)
KEY_A = "a-first-secret-key-of-forty-characters--"
KEY_B = "b-second-secret-key-of-forty-characters-"
REAL_NUMBER = "4010232137"
"""A valid NHS number (its check digit holds) outside the synthetic range 9000000000-9999999999."""
RECEIVED = "2028-03-01"
COMMAND = (sys.executable, "-m", "mhdeaths")
EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples"


def one_error(run: Run, code: int = 2) -> str:
    """The run failed with ``code`` and said why in one line on stderr, without a traceback."""
    assert run.code == code, run.output
    assert "Traceback" not in run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def write_key(path: Path, text: str | bytes, mode: int = 0o600) -> Path:
    """A key file as a careful user makes one: the owner's alone (unless ``mode`` says not)."""
    path.touch(mode=0o600)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    path.chmod(mode)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(warehouse: Path, *args: str | Path, env: dict[str, str] | None = None) -> Run:
    return mhdeaths(
        "warehouse",
        "load",
        *args,
        "--warehouse",
        warehouse,
        "--received-at",
        RECEIVED,
        env={**ENV, **(env or {})},
    )


def wh(*args: str | Path, warehouse: Path) -> Run:
    return mhdeaths("warehouse", *args, "--warehouse", warehouse, env=ENV)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two providers over a year end (so the export has two years), and one provider more."""

    def build(out: Path) -> None:
        generate(
            LATEST,
            SynthOptions(provider_list=("RQ1", "RQ2"), months=3, start="2027-11", seed=41),
            out / "main",
        )
        generate(
            LATEST,
            SynthOptions(provider_list=("RQ3",), months=1, start="2027-11", seed=42),
            out / "more",
        )

    return built_once(tmp_path_factory, "cli-sources", build)


@pytest.fixture(scope="module")
def loaded(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with the main sources loaded with the demo key (read, never changed)."""

    def build(out: Path) -> None:
        run = load(out / "w.duckdb", sources / "main", "--demo-key")
        assert run.code == 0, run.output

    return built_once(tmp_path_factory, "cli-loaded", build) / "w.duckdb"


@pytest.fixture
def copy(loaded: Path, tmp_path: Path) -> Path:
    """A copy of the loaded warehouse that a test may change."""
    target = tmp_path / "copy.duckdb"
    target.write_bytes(loaded.read_bytes())
    return target


def one_death_file(sources: Path) -> Path:
    return sorted((sources / "main").rglob("*_death.csv"))[0]


def deaths_count(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM deaths").fetchone()
    assert row is not None
    return int(row[0])


# --- The pseudonym key --------------------------------------------------------------------------


def test_no_key_is_one_sentence_and_makes_no_warehouse(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    run = load(warehouse, sources / "main", env={"MHDEATHS_PSEUDONYM_KEY_FILE": ""})
    assert "No pseudonym key" in one_error(run)
    assert not warehouse.exists()


@pytest.mark.parametrize("where", ["env", "file"])
def test_a_short_key_is_refused(sources: Path, tmp_path: Path, where: str) -> None:
    warehouse = tmp_path / "w.duckdb"
    short = "x" * 31
    if where == "env":
        run = load(warehouse, sources / "main", env={"MHDEATHS_PSEUDONYM_KEY": short})
    else:
        key_file = write_key(tmp_path / "key", short + "\n")
        run = load(warehouse, sources / "main", "--key-file", key_file)
    assert "shorter than 32 characters" in one_error(run)
    assert not warehouse.exists()


def test_an_unreadable_key_file_is_refused(sources: Path, tmp_path: Path) -> None:
    run = load(tmp_path / "w.duckdb", sources / "main", "--key-file", tmp_path / "nowhere")
    assert "cannot be read" in one_error(run)


def test_a_key_file_others_can_read_or_write_is_refused(sources: Path, tmp_path: Path) -> None:
    """As ssh refuses a private key others can read: the key is the pseudonyms' only protection.
    Every other mode with a group or other bit: tests/unit/test_pseudonym.py."""
    warehouse, mode = tmp_path / "w.duckdb", 0o644
    key_file = write_key(tmp_path / "key", secrets.token_hex(32) + "\n", mode)
    said = one_error(load(warehouse, sources / "main", "--key-file", key_file))
    assert f"`chmod 600 {key_file}`" in said, said
    assert f"mode {mode:04o}" in said, said
    assert not warehouse.exists()
    # Through the environment too, and once the mode is mended the same file serves.
    env = {"MHDEATHS_PSEUDONYM_KEY_FILE": str(key_file)}
    assert "chmod 600" in one_error(load(warehouse, sources / "main", env=env))
    key_file.chmod(0o600)
    assert load(warehouse, sources / "main", env=env).code == 0


def _not_keys(sources: Path) -> dict[str, bytes]:
    """Files a hurried user might name as the key, each at least 32 characters long."""
    csv = one_death_file(sources).read_bytes()
    return {
        "a submission's CSV": csv,
        "its header line": csv.splitlines()[0],
        "one line of its records": csv.splitlines()[1],
        "two key lines": b"a" * 40 + b"\n" + b"b" * 40 + b"\n",
        "words with spaces": b"this is not a key but a sentence of some length\n",
        "binary": bytes(range(256)),
        "a key and a second newline": b"c" * 40 + b"\n\n",
        "too large": b"d" * 5000,
        "utf-8 letters": ("é" * 40).encode("utf-8"),
    }


@pytest.mark.parametrize(
    "what",
    [
        "a submission's CSV",
        "its header line",
        "one line of its records",
        "two key lines",
        "words with spaces",
        "binary",
        "a key and a second newline",
        "too large",
        "utf-8 letters",
    ],
)
def test_a_file_that_is_not_a_key_is_refused_and_not_shown(
    sources: Path, tmp_path: Path, what: str
) -> None:
    warehouse = tmp_path / "w.duckdb"
    content = _not_keys(sources)[what]
    key_file = write_key(tmp_path / "key", content)
    said = one_error(load(warehouse, sources / "main", "--key-file", key_file))
    assert "hex or base64" in said, said
    assert not warehouse.exists()
    for line in content.decode("utf-8", "replace").splitlines():
        for value in line.split(","):
            if len(value) >= 6:
                assert value not in said.replace(str(key_file), ""), value


def test_a_pipe_named_as_the_key_file_is_refused_at_once(sources: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "key"
    os.mkfifo(fifo, 0o600)
    said = one_error(load(tmp_path / "w.duckdb", sources / "main", "--key-file", fifo))
    assert "not a regular file" in said


@pytest.mark.parametrize(
    "key",
    [
        secrets.token_hex(32) + "\n",
        secrets.token_hex(16),
        base64.b64encode(secrets.token_bytes(32)).decode() + "\r\n",
        base64.urlsafe_b64encode(secrets.token_bytes(48)).decode() + "\n",
    ],
    ids=["hex", "hex-no-newline", "base64-crlf", "base64url"],
)
def test_a_key_file_of_the_documented_shape_is_accepted(
    sources: Path, tmp_path: Path, key: str
) -> None:
    warehouse = tmp_path / "w.duckdb"
    run = load(warehouse, one_death_file(sources), "--key-file", write_key(tmp_path / "k", key))
    assert run.code == 0, run.output
    assert "pseudonym key" not in run.output


def test_every_file_the_commands_make_is_the_owners_alone(sources: Path, tmp_path: Path) -> None:
    """The warehouse, its WAL, the reports of a rejected submission, the benchmarks, an export and
    a validation report: none can be read, written or entered by the group or others, whatever
    the user's own umask (the command sets 077)."""
    made = tmp_path / "made"
    warehouse = made / "national" / "w.duckdb"
    key_file = write_key(tmp_path / "key", secrets.token_hex(32) + "\n")
    bad = EXAMPLES / "known-bad" / "RY1" / "RY1_2027-10_death.csv"  # rejected
    runs = [
        load(warehouse, sources / "main", bad, "--key-file", key_file),
        mhdeaths(
            "benchmark",
            "-w",
            warehouse,
            "--out",
            made / "bench",
            "--monitoring-pack",
            made / "pack",
            env=ENV,
        ),
        wh("export", "--out", made / "export", warehouse=warehouse),
        mhdeaths("validate", bad, "--out", made / "validation", env=ENV),
        mhdeaths("synth", "--out", made / "synth", "--providers", "1", "--months", "1", env=ENV),
    ]
    assert [r.code for r in runs] == [1, 0, 0, 1, 0], [r.output for r in runs]
    paths = [p for p in made.rglob("*")]
    kinds = {p.suffix for p in paths if p.is_file()}
    assert {".duckdb", ".html", ".json", ".csv", ".xlsx", ".parquet"} <= kinds, kinds
    assert any(p.parent.name == "reports" for p in paths), "no report of the rejected submission"
    assert (made / "pack" / "index.html").is_file(), "no restricted monitoring pack"
    open_to_others = [f"{p.stat().st_mode & 0o777:04o} {p}" for p in [made, *paths]
                      if p.stat().st_mode & 0o077]  # fmt: skip
    assert not open_to_others, open_to_others


def test_a_monitoring_pack_inside_the_publication_is_refused_in_one_sentence(
    sources: Path, tmp_path: Path
) -> None:
    """The restricted pack holds counts the publication withholds: a folder inside the
    publication's (which is copied to a web site whole) is refused before anything is written."""
    warehouse = tmp_path / "w.duckdb"
    assert load(warehouse, "--demo-key", sources / "main").code == 0
    out = tmp_path / "bench"
    run = mhdeaths(
        "benchmark", "-w", warehouse, "--out", out, "--monitoring-pack", out / "pack", env=ENV
    )
    assert run.code == 2, run.output
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "must be outside the publication's folder" in lines[0], lines
    assert "Traceback" not in run.output
    assert not out.exists()


def test_a_warehouse_made_from_python_is_the_owners_alone(tmp_path: Path) -> None:
    """A program that calls the library keeps its own umask; the warehouse file is 0600 still."""
    from mhdeaths.warehouse.store import connect

    previous = os.umask(0o022)
    try:
        with connect(tmp_path / "lib.duckdb") as con:
            con.execute("CREATE TABLE t AS SELECT 1 AS x")
    finally:
        os.umask(previous)
    assert (tmp_path / "lib.duckdb").stat().st_mode & 0o777 == 0o600


def test_the_wal_is_the_owners_alone(tmp_path: Path) -> None:
    """The WAL DuckDB writes beside the warehouse, caught while a load holds it open."""
    warehouse = tmp_path / "w.duckdb"
    assert load(warehouse, "--demo-key", EXAMPLES / "RZ1").code == 0
    # Each small submission's commit goes to the WAL, until DuckDB checkpoints it into the file.
    proc = subprocess.Popen(
        [*COMMAND, "warehouse", "load", "--demo-key", "-w", str(warehouse),
         str(EXAMPLES / "RZ2")],
        env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wal = Path(f"{warehouse}.wal")
    seen = set()
    while proc.poll() is None:
        with contextlib.suppress(FileNotFoundError):  # DuckDB removes it at each checkpoint
            seen.add(wal.stat().st_mode & 0o777)
    proc.wait()
    assert seen, "the load finished before its WAL could be seen"
    assert all(not mode & 0o077 for mode in seen), [f"{m:04o}" for m in seen]


def test_a_second_key_is_refused_and_nothing_is_loaded(sources: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = load(warehouse, sources / "main", env={"MHDEATHS_PSEUDONYM_KEY": KEY_A})
    assert first.code == 0, first.output
    before = state(warehouse)
    key_file = write_key(tmp_path / "key-b", KEY_B)
    for run in (
        load(warehouse, sources / "more", "--key-file", key_file),
        load(warehouse, sources / "more", env={"MHDEATHS_PSEUDONYM_KEY": KEY_B}),
        load(warehouse, sources / "more", "--demo-key"),
    ):
        assert "never link" in one_error(run)
        assert state(warehouse) == before
    # The first key still loads.
    again = load(warehouse, sources / "more", env={"MHDEATHS_PSEUDONYM_KEY": KEY_A})
    assert again.code == 0, again.output
    assert state(warehouse)["submission"][0] > before["submission"][0]


@pytest.fixture(scope="module")
def real_numbers(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A submission one of whose records carries a real-range NHS number."""
    death = one_death_file(sources)
    frame = pl.read_csv(death, infer_schema=False)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(REAL_NUMBER))
        .otherwise(pl.col("nhs_number"))
        .alias("nhs_number")
    )
    folder = tmp_path_factory.mktemp("real")
    frame.write_csv(folder / death.name)
    return folder


@pytest.mark.parametrize("how", ["--demo-key", "env", "--key-file", "key-file-env"])
def test_the_demo_key_is_refused_for_real_nhs_numbers(
    real_numbers: Path, tmp_path: Path, how: str
) -> None:
    warehouse = tmp_path / "w.duckdb"
    key_file = write_key(tmp_path / "demo-key", DEMO_KEY + "\n")
    options: dict[str, tuple[tuple[str | Path, ...], dict[str, str]]] = {
        "--demo-key": (("--demo-key",), {}),
        "env": ((), {"MHDEATHS_PSEUDONYM_KEY": DEMO_KEY}),
        "--key-file": (("--key-file", key_file), {}),
        "key-file-env": ((), {"MHDEATHS_PSEUDONYM_KEY_FILE": str(key_file)}),
    }
    args, env = options[how]
    run = load(warehouse, real_numbers, *args, env=env)
    assert "demo pseudonym key" in one_error(run)
    if warehouse.exists():
        assert state(warehouse)["submission"][0] == 0
        assert state(warehouse)["death_record"][0] == 0


def test_a_real_key_loads_real_nhs_numbers(real_numbers: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    run = load(warehouse, real_numbers, env={"MHDEATHS_PSEUDONYM_KEY": KEY_A})
    assert run.code == 0, run.output
    assert REAL_NUMBER.encode() not in warehouse.read_bytes()


# --- Bad input ----------------------------------------------------------------------------------


def _truncated_xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>" * 200)
        archive.writestr("xl/workbook.xml", "<workbook/>" * 200)
    data = buffer.getvalue()
    return data[: len(data) // 2]


BAD_FILES: dict[str, tuple[str, bytes]] = {
    "binary-csv": ("RQ1_2027-11_death.csv", random.Random(1).randbytes(4096)),
    "binary-csv-unnamed": ("upload.csv", random.Random(2).randbytes(300)),
    "truncated-xlsx": ("RQ1_2027-11_death.xlsx", _truncated_xlsx()),
    "binary-parquet": ("RQ1_2027-11_death.parquet", b"PAR1" + random.Random(4).randbytes(500)),
    "empty-csv": ("RQ1_2027-11_death.csv", b""),
    "nul-bytes-csv": ("RQ1_2027-11_activity.csv", b"\x00" * 64),
    "utf16-csv": ("RQ1_2027-11_death.csv", "spec_version,org_id_provider\n".encode("utf-16")),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_any_bytes_are_refused_or_rejected_and_nothing_changes(
    copy: Path, tmp_path: Path, kind: str
) -> None:
    name, data = BAD_FILES[kind]
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / name).write_bytes(data)
    before = state(copy)
    run = load(copy, folder / name, "--demo-key", "--reports", tmp_path / "reports")
    assert "Traceback" not in run.output
    assert run.code in (1, 2), run.output
    if run.code == 2:
        one_error(run)
    else:
        assert "rejected" in run.stdout
        assert list((tmp_path / "reports").glob("*.report.json")), run.stdout
    assert state(copy) == before


def test_a_rejected_submission_is_reported_and_nothing_is_stored(
    copy: Path, sources: Path, tmp_path: Path
) -> None:
    death = one_death_file(sources)
    text = death.read_text(encoding="utf-8")
    folder = tmp_path / "rejected"
    folder.mkdir()
    # The last record twice: its death record id is on two records, which rejects the file.
    (folder / death.name).write_text(text + text.strip().splitlines()[-1] + "\n", encoding="utf-8")
    before = state(copy)
    reports = tmp_path / "reports"
    run = load(copy, folder, "--demo-key", "--reports", reports)
    assert run.code == 1, run.output
    assert "Traceback" not in run.output
    assert "0 loaded" in run.stdout and "1 rejected" in run.stdout
    printed = [w for w in run.stdout.split() if w.endswith(".report.html")]
    assert len(printed) == 1, run.stdout
    html = Path(printed[0])
    assert html.is_file() and html.parent == reports
    report = json.loads(html.with_name(html.name.replace(".html", ".json")).read_text("utf-8"))
    assert report["verdict"] == "rejected"
    assert any(f["rule_id"] == "death.duplicate.death_record_id" for f in report["findings"])
    assert state(copy) == before


def test_rejected_reports_go_beside_the_warehouse_by_default(
    copy: Path, sources: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "RQ3_2027-11_death.csv").write_bytes(b"")
    run = load(copy, folder, "--demo-key")
    assert run.code == 1, run.output
    assert list((copy.parent / "reports").glob("*.report.html"))


@pytest.mark.parametrize(
    "command",
    [
        ("load", "SOURCES", "--demo-key"),
        ("status",),
        ("query", "SELECT 1"),
        ("export", "--out", "OUT"),
    ],
    ids=lambda c: c[0],
)
def test_a_file_that_is_not_a_duckdb_database_is_a_clear_error(
    sources: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    warehouse = tmp_path / "notes.duckdb"
    warehouse.write_text("these are not the deaths you are looking for\n", encoding="utf-8")
    digest = sha256(warehouse)
    args = [
        str(sources / "main") if a == "SOURCES" else str(tmp_path / "out") if a == "OUT" else a
        for a in command
    ]
    line = one_error(wh(*args, warehouse=warehouse))
    assert str(warehouse.name) in line
    assert sha256(warehouse) == digest


@pytest.mark.parametrize("command", [("status",), ("history",), ("query", "SELECT 1")])
def test_a_missing_warehouse_is_a_clear_error_and_is_not_made(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    warehouse = tmp_path / "nowhere.duckdb"
    assert "no warehouse" in one_error(wh(*command, warehouse=warehouse)).lower()
    assert not warehouse.exists()


# --- Querying -----------------------------------------------------------------------------------


def test_query_as_a_table(loaded: Path) -> None:
    run = wh(
        "query", "SELECT org_id_provider, count(*) AS n FROM deaths GROUP BY 1", warehouse=loaded
    )
    assert run.code == 0, run.output
    assert "org_id_provider" in run.stdout and "RQ1" in run.stdout
    assert "(2 rows)" in run.stdout


def test_query_as_a_table_is_limited(loaded: Path) -> None:
    run = wh("query", "SELECT * FROM range(30)", "--limit", "5", warehouse=loaded)
    assert run.code == 0, run.output
    assert "5 of 30 rows shown" in run.stdout


def test_query_as_csv_and_json_gives_every_row(loaded: Path) -> None:
    expected = deaths_count(loaded)
    assert expected > 0
    sql = "SELECT death_record_id, death_date, counted FROM deaths ORDER BY 1"
    as_csv = wh("query", sql, "--format", "csv", "--limit", "1", warehouse=loaded)
    assert as_csv.code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == expected
    assert set(rows[0]) == {"death_record_id", "death_date", "counted"}
    as_json = wh("query", sql, "--format", "json", "--limit", "1", warehouse=loaded)
    assert as_json.code == 0, as_json.output
    records = json.loads(as_json.stdout)
    assert len(records) == expected
    assert [r["death_record_id"] for r in records] == [r["death_record_id"] for r in rows]
    assert all(isinstance(r["counted"], bool) for r in records)
    assert all(len(r["death_date"]) == 10 for r in records)


def test_query_reads_sql_from_stdin(loaded: Path) -> None:
    proc = subprocess.run(
        [*COMMAND, "warehouse", "query", "-", "--format", "json", "--warehouse", str(loaded)],
        input="SELECT count(*) AS n\nFROM deaths\n",
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"n": deaths_count(loaded)}]


WRITES = {
    "insert": "INSERT INTO submission SELECT * FROM submission",
    "delete": "DELETE FROM death_record",
    "create-table": "CREATE TABLE x AS SELECT 1 AS a",
    "drop-view": "DROP VIEW deaths",
    "copy-to": "COPY (SELECT * FROM deaths) TO 'TARGET'",
    "attach": "ATTACH 'TARGET' AS other",
    "export-database": "EXPORT DATABASE 'TARGET'",
    "read-a-file": "SELECT * FROM read_csv('SOURCE')",
    "select-then-delete": "SELECT 1; DELETE FROM submission",
}


@pytest.mark.parametrize("kind", sorted(WRITES))
def test_a_write_or_a_side_door_is_refused_in_one_line(
    loaded: Path, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "escaped"
    sql = WRITES[kind].replace("TARGET", str(target)).replace("SOURCE", str(loaded))
    digest = sha256(loaded)
    one_error(wh("query", sql, warehouse=loaded))
    assert not target.exists()
    assert sha256(loaded) == digest


@pytest.mark.parametrize(
    "sql", ["SELEC 1", "SELECT * FROM no_such_view", "SELECT death_date + 'x' FROM deaths", " "]
)
def test_bad_sql_is_one_line(loaded: Path, sql: str) -> None:
    one_error(wh("query", sql, warehouse=loaded))


# --- Export, status, history --------------------------------------------------------------------


def test_export_writes_hive_partitions_that_read_back_whole(loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    run = wh("export", "--out", out, warehouse=loaded)
    assert run.code == 0, run.output
    assert "Wrote" in run.stdout
    parts = sorted(p.relative_to(out / "deaths") for p in (out / "deaths").rglob("*.parquet"))
    assert parts
    for part in parts:
        year, provider, _ = part.parts
        assert year.startswith("year=") and year[5:].isdigit() and len(year) == 9
        assert provider.startswith("provider=RQ")
    with duckdb.connect(str(loaded), read_only=True) as con:
        expected = con.execute(
            "SELECT year(death_date), org_id_provider, count(*) FROM deaths GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        activity = con.execute("SELECT count(*) FROM activity").fetchone()
        submissions = con.execute("SELECT count(*) FROM submissions").fetchone()
    assert len({y for y, _, _ in expected}) == 2, "the fixture spans a year end"
    with duckdb.connect() as con:
        back = con.execute(
            "SELECT year, provider, count(*) FROM read_parquet(?, hive_partitioning = true) "
            "GROUP BY ALL ORDER BY ALL",
            [str(out / "deaths" / "**" / "*.parquet")],
        ).fetchall()
        assert back == expected
        assert (
            con.execute(
                "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
                [str(out / "activity" / "**" / "*.parquet")],
            ).fetchone()
            == activity
        )
        assert (
            con.execute(
                "SELECT count(*) FROM read_parquet(?)", [str(out / "submissions.parquet")]
            ).fetchone()
            == submissions
        )
    assert (out / "data_quality.parquet").is_file()
    # Exporting again replaces the export rather than adding to it.
    again = wh("export", "--out", out, warehouse=loaded)
    assert again.code == 0, again.output
    with duckdb.connect() as con:
        total = con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
            [str(out / "deaths" / "**" / "*.parquet")],
        ).fetchone()
    assert total == (deaths_count(loaded),)


def test_export_to_a_folder_that_cannot_be_made_is_a_clear_error(
    loaded: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    one_error(wh("export", "--out", blocker / "export", warehouse=loaded))


def test_status_as_text_and_json(loaded: Path) -> None:
    with duckdb.connect(str(loaded), read_only=True) as con:
        submissions = con.execute("SELECT count(*) FROM submission").fetchone()
    assert submissions is not None
    text = wh("status", warehouse=loaded)
    assert text.code == 0, text.output
    assert f"Submissions: {submissions[0]} " in text.stdout
    assert f"deaths now: {deaths_count(loaded)} " in text.stdout
    assert demo_key().fingerprint in text.stdout
    as_json = wh("status", "--format", "json", warehouse=loaded)
    assert as_json.code == 0, as_json.output
    status = json.loads(as_json.stdout)
    assert status["submissions"] == submissions[0]
    assert status["deaths"] == deaths_count(loaded)
    assert status["providers"] == 2
    assert status["key_fingerprint"] == demo_key().fingerprint
    assert (status["first_period"], status["last_period"]) == ("2027-11", "2028-01")


def _history(loaded: Path, *args: str) -> list[dict[str, object]]:
    run = wh("history", "--format", "json", *args, warehouse=loaded)
    assert run.code == 0, run.output
    rows: list[dict[str, object]] = json.loads(run.stdout)
    for row in rows:
        row.setdefault("period", row.get("reporting_period"))
    return rows


def test_history_filters_by_provider_and_period(loaded: Path) -> None:
    everything = _history(loaded)
    assert len(everything) == 6
    assert {(r["provider"], r["period"]) for r in everything} == {
        (p, m) for p in ("RQ1", "RQ2") for m in ("2027-11", "2027-12", "2028-01")
    }
    one_provider = _history(loaded, "--provider", "RQ2")
    assert len(one_provider) == 3 and {r["provider"] for r in one_provider} == {"RQ2"}
    one_period = _history(loaded, "--period", "2027-12")
    assert len(one_period) == 2 and {r["period"] for r in one_period} == {"2027-12"}
    both = _history(loaded, "--provider", "RQ1", "--period", "2028-01")
    assert [(r["provider"], r["period"]) for r in both] == [("RQ1", "2028-01")]
    assert _history(loaded, "--provider", "RZZ") == []
    as_csv = wh("history", "--format", "csv", "--provider", "RQ1", warehouse=loaded)
    assert as_csv.code == 0, as_csv.output
    assert len(list(csv.DictReader(io.StringIO(as_csv.stdout)))) == 3
    as_table = wh("history", "--provider", "RQ1", warehouse=loaded)
    assert as_table.code == 0, as_table.output
    assert re.search(r"\(3 (rows|submissions)\)", as_table.stdout), as_table.stdout
    assert "RQ2" not in as_table.stdout


def test_status_of_an_empty_warehouse_shows_no_none(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    assert wh("init", warehouse=warehouse).code == 0
    run = wh("status", warehouse=warehouse)
    assert run.code == 0, run.output
    assert "Submissions: 0 " in run.stdout
    assert "None" not in run.stdout


def test_query_csv_into_a_file_opens_in_excel_and_into_a_pipe_has_no_mark(
    loaded: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    sql = "SELECT 'Ysbyty Gwynedd' AS site"
    piped = wh("query", sql, "--format", "csv", warehouse=loaded)
    assert piped.stdout.startswith("site\n")
    target = tmp_path / "result.csv"
    with target.open("wb") as fh:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mhdeaths",
                "warehouse",
                "query",
                sql,
                "--format",
                "csv",
                "--warehouse",
                str(loaded),
            ],
            stdout=fh,
            check=True,
            env={**os.environ, **ENV},
        )
    assert target.read_bytes().startswith(b"\xef\xbb\xbfsite\n")

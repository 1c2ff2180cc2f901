"""The README's main command, end to end on the bundled example submissions."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from .cli import Run, mhdeaths


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    """One run of the demo, as the README gives it, that every test here reads."""
    out = tmp_path_factory.mktemp("demo") / "out"
    return mhdeaths("demo", "--out", out), out


def test_the_demo_checks_publishes_and_checks_every_example(demo: tuple[Run, Path]) -> None:
    run, out = demo
    assert run.code == 0, run.output
    assert "Checked spec versions 1.0.0, 1.1.0, 2.0.0 (draft): no problems." in run.stdout
    assert (out / "spec" / "1.1.0" / "data-dictionary.html").is_file()
    lines = [line for line in run.stdout.splitlines() if line.startswith("  R")]
    # Clean providers across the version change, the provider with its own export format, and
    # the known-bad set.
    assert any(line.startswith("  RZ1 2027-09 (spec 1.0.0") for line in lines)
    assert any(line.startswith("  RZ1 2027-10 (spec 1.1.0") for line in lines)
    rz9 = [line for line in lines if line.startswith("  RZ9")]
    assert len(rz9) == 12 and all(": accepted" in line for line in rz9)
    assert any(line.startswith("  RY1") and ": rejected" in line for line in lines)
    clean = [line for line in lines if not line.startswith("  RY1")]
    assert all(": accepted" in line for line in clean)
    assert "1 rejected" in run.stdout
    assert "  RY1 2027-10: rejected by death.discharged.live_discharge (1 record)" in run.stdout
    benchmarks = out / "benchmarks"
    assert f"Benchmark report: {benchmarks / 'benchmarks.html'}" in run.stdout
    for name in ("benchmarks.csv", "benchmarks.xlsx", "benchmarks.json", "providers/RZ1.html"):
        assert (benchmarks / name).is_file(), name
    # The restricted monitoring pack beside the publication, never in it.
    pack = out / "monitoring-pack"
    assert f"Monitoring pack (restricted, not for publication): {pack / 'index.html'}" in run.stdout
    assert (pack / "providers" / "RZ1.html").is_file() and (
        pack / "monitoring-charts.csv"
    ).is_file()
    assert not list(benchmarks.rglob("monitoring-charts.csv"))


def test_the_demo_links_the_national_feeds(demo: tuple[Run, Path]) -> None:
    """The examples' national feeds (submissions/feeds, made by scripts/make-examples.sh with RZ2
    leaving out 30% of its deaths after discharge) are loaded after the submissions and linked:
    only RZ2 has missed deaths, and the completeness indicator is benchmarked."""
    run, out = demo
    assert run.code == 0, run.output
    assert "  spells spells_2027-04.parquet: " in run.stdout
    assert "  registrations registrations_2028_run15.parquet: " in run.stdout
    assert "RZ1 " in run.stdout and "RZ1 0 (0 not reported)" not in run.stdout
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("Registered deaths the spells")]
    assert "RZ1 " in line and "RZ3 " in line
    assert "RZ2 " in line and "(0 not reported)" not in line.split("RZ2 ")[1].split(",")[0]
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as con:
        missed = dict(
            con.execute(
                "SELECT expected_provider, count(*) FROM deaths_missed GROUP BY 1"
            ).fetchall()
        )
        # The synthetic spells match the activity of 2.0.0 months (whose activity tables the
        # generator fills spells to); the 1.x months' occupancy drifts (a known limit of synth).
        differs = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT provider FROM activity_crosscheck WHERE reporting_period >= "
                "'2028-04' AND (admissions_differs OR discharges_live_differs "
                "OR deaths_in_spell_differs OR occupied_bed_days_differs)"
            ).fetchall()
        }
    assert set(missed) == {"RZ2"} and missed["RZ2"] > 0
    assert differs == {"RZ3"}  # its spells feed leaves 5% of its spells out
    csv = (out / "benchmarks" / "benchmarks.csv").read_text(encoding="utf-8")
    assert "reported_completeness," in csv

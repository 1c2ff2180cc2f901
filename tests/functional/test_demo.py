"""The README's main command, end to end on the bundled example submissions."""

from __future__ import annotations

from pathlib import Path

from .cli import mhdeaths


def test_the_demo_checks_publishes_and_checks_every_example(tmp_path: Path) -> None:
    run = mhdeaths("demo", "--out", tmp_path / "out")
    assert run.code == 0, run.output
    assert "Checked spec versions 1.0.0, 1.1.0, 2.0.0 (draft): no problems." in run.stdout
    assert (tmp_path / "out" / "spec" / "1.1.0" / "data-dictionary.html").is_file()
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
    benchmarks = tmp_path / "out" / "benchmarks"
    assert f"Benchmark report: {benchmarks / 'benchmarks.html'}" in run.stdout
    for name in ("benchmarks.csv", "benchmarks.xlsx", "benchmarks.json", "providers/RZ1.html"):
        assert (benchmarks / name).is_file(), name

"""The command line's conventions: --version, -q/--quiet, -v/--verbose, shell completion."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_settings import CLEAN, folder

from .cli import mhdeaths

__all__ = ["folder"]  # the fixture: a clean current folder with no settings in the environment

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples"


def test_version_names_the_package_spec_duckdb_and_settings_file(folder: Path) -> None:
    (folder / "mhdeaths.toml").write_text('warehouse = "w.duckdb"\n', encoding="utf-8")
    run = mhdeaths("--version", cwd=folder, env=CLEAN)
    assert run.code == 0, run.output
    lines = run.stdout.splitlines()
    assert lines[0].startswith("mhdeaths 0.")
    assert any(line.startswith("spec versions: 1.0.0, 1.1.0") for line in lines)
    assert any(line.startswith("DuckDB 2.") for line in lines)
    assert f"settings file: {folder / 'mhdeaths.toml'}" in lines


def test_quiet_prints_nothing_but_the_exit_code_tells(folder: Path) -> None:
    quiet = mhdeaths("-q", "spec", "list", cwd=folder, env=CLEAN)
    assert (quiet.code, quiet.stdout) == (0, "")
    failed = mhdeaths("-q", "warehouse", "status", "-w", folder / "none.duckdb", cwd=folder)
    assert failed.code == 2 and "There is no warehouse" in failed.stderr
    both = mhdeaths("-q", "-v", "spec", "list", cwd=folder, env=CLEAN)
    assert both.code == 2 and "not both" in both.stderr


def test_verbose_logs_each_step_with_its_time_and_no_file_names(folder: Path) -> None:
    files = sorted(EXAMPLES.joinpath("RZ1").glob("RZ1_2027-05_*.csv"))
    verbose = mhdeaths("-v", "validate", *files, cwd=folder, env=CLEAN)
    assert verbose.code == 0, verbose.output
    assert "Checked 161 rules of spec 1.0.0 on activity 18 records, death 3 records (" in (
        verbose.stderr
    )
    assert "RZ1_2027-05" not in verbose.stderr
    plain = mhdeaths("validate", *files, cwd=folder, env=CLEAN)
    assert "Checked" not in plain.stderr and plain.stdout == verbose.stdout


def test_shell_completion_completes_commands(folder: Path) -> None:
    shown = mhdeaths("--show-completion", "bash", cwd=folder, env=CLEAN | {"SHELL": "/bin/bash"})
    assert shown.code == 0 and "_mhdeaths_completion" in shown.stdout

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


def _with_terminal_stderr(*args: str | Path, cwd: Path) -> tuple[int, str, str]:
    """The command with standard error on a pseudo-terminal (as a person at a terminal has it)
    and standard output to a pipe: what a bar draws, and what a program reading output gets."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**os.environ, **CLEAN, "COLUMNS": "120", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mhdeaths", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=cwd,
        env=env,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=300)
    os.close(leader)
    return proc.returncode, stdout, drawn.decode(errors="replace")


def test_a_long_load_shows_a_bar_on_a_terminal_and_none_in_a_pipe(folder: Path) -> None:
    months = EXAMPLES / "RZ1"
    code, stdout, drawn = _with_terminal_stderr(
        "warehouse", "load", months, "-w", folder / "w.duckdb", "--demo-key", cwd=folder
    )
    assert code == 0, stdout + drawn
    assert "Loading" in drawn and "submission(s):" in stdout
    # The same lines reach a program reading standard output, bar or no bar.
    piped = mhdeaths(
        "warehouse", "load", months, "-w", folder / "again.duckdb", "--demo-key", cwd=folder
    )
    assert piped.code == 0 and "Loading" not in piped.stderr
    assert piped.stdout.splitlines() == stdout.splitlines()

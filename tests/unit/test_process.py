"""Which files a command reads ahead while it imports: only plain files, only when no option
changes how they are read, only when the process is the command."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mhdeaths.cli import process


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    made = [tmp_path / "RZ1_2027-10_death.csv", tmp_path / "RZ1_2027-10_activity.csv"]
    for path in made:
        path.write_text("a,b\n1,2\n")
    return made


def ahead(monkeypatch: pytest.MonkeyPatch, *args: object, command: bool = True) -> list[Path]:
    monkeypatch.setattr(process, "COMMAND_PROCESS", command)
    monkeypatch.setattr(sys, "argv", ["mhdeaths", *map(str, args)])
    return process.files_to_read_ahead()


def test_validate_and_load_read_their_files_ahead(
    monkeypatch: pytest.MonkeyPatch, files: list[Path], tmp_path: Path
) -> None:
    assert ahead(monkeypatch, "validate", *files, "--format", "json", "--strict") == files
    assert ahead(monkeypatch, "validate", "--out=reports", files[0]) == files[:1]
    warehouse = tmp_path / "w.duckdb"
    assert ahead(monkeypatch, "warehouse", "load", files[0], "-w", warehouse, "--demo-key") == [
        files[0]
    ]
    assert ahead(monkeypatch, "warehouse", "load", "--key-file", files[1], files[0]) == [files[0]]


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--provider", "RZ1"],
        ["validate", "--encoding", "windows-1252"],
        ["validate", "--delimiter=;"],
        ["validate", "--limit", "file-size=2G"],
        ["warehouse", "load", "--limit=columns=2000"],
        ["warehouse", "load", "--profile", "validators/RZ1.yaml"],
        ["warehouse", "status"],
        ["benchmark"],
    ],
)
def test_nothing_is_read_ahead_when_an_option_changes_the_reading_or_another_command_runs(
    monkeypatch: pytest.MonkeyPatch, files: list[Path], args: list[str]
) -> None:
    assert ahead(monkeypatch, *args, *files) == []


def test_nothing_is_read_ahead_for_a_folder_or_a_missing_file_or_another_program(
    monkeypatch: pytest.MonkeyPatch, files: list[Path], tmp_path: Path
) -> None:
    assert ahead(monkeypatch, "warehouse", "load", tmp_path) == []
    assert ahead(monkeypatch, "validate", files[0], tmp_path / "missing.csv") == []
    assert ahead(monkeypatch, "validate", *files, command=False) == []


def test_a_command_inside_another_program_ends_by_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(process, "COMMAND_PROCESS", False)
    process.end_command(0)  # returns: nothing to end
    with pytest.raises(SystemExit) as ended:
        process.end_command(1)
    assert ended.value.code == 1


def test_the_options_named_are_the_commands_own() -> None:
    """Each option the read-ahead knows is an option of its command, taking a value or not as
    the command does (an option it does not know stops the read-ahead, so a new one is safe)."""
    import typer.main

    from mhdeaths.cli.app import app

    for path, (valued, flags) in process._READ_AHEAD.items():
        command = typer.main.get_command(app)
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        options = {
            opt: param.is_flag  # type: ignore[attr-defined]
            for param in command.params
            if param.param_type_name == "option"
            for opt in [*param.opts, *param.secondary_opts]
        }
        assert {o: False for o in valued} | {o: True for o in flags} == {
            o: options.get(o) for o in valued | flags
        }, path

"""Which files a command reads ahead while it imports: only plain files, only when no option
changes how they are read, only when the process is the command; and what the command line
says, as click parses it, for a refused write's sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.core
import typer.main
from typer._click import Context

from mhdeaths.cli import process
from mhdeaths.cli.app import app, command_tree


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    made = [tmp_path / "RZ1_2027-10_death.csv", tmp_path / "RZ1_2027-10_activity.csv"]
    for path in made:
        path.write_text("a,b\n1,2\n")
    return made


def parse(*args: object) -> Context | None:
    return process.parse_command_line(typer.main.get_command(app), [str(a) for a in args])


def ahead(monkeypatch: pytest.MonkeyPatch, *args: object, command: bool = True) -> list[Path]:
    monkeypatch.setattr(process, "COMMAND_PROCESS", command)
    return process.files_to_read_ahead(typer.main.get_command(app), [str(a) for a in args])


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
    """Each option the read-ahead knows is an option of its command (an option it does not know
    stops the read-ahead, so a new one is safe)."""
    for path, harmless in process._READ_AHEAD.items():
        command = typer.main.get_command(app)
        for name in path:
            command = command.commands[name]  # type: ignore[assignment]
        options = {
            opt
            for param in command.params
            if param.param_type_name == "option"
            for opt in [*param.opts, *param.secondary_opts]
        }
        assert harmless <= options, path


def test_the_command_line_is_read_as_click_reads_it(tmp_path: Path) -> None:
    """The words, paths and options a refused write's sentence may name are click's: an option
    written --opt=value or after the files, a short name, and a command's default path."""
    run = parse("run", "inbox", "--out=o", "--disclosure", "mhsds", "-w", "w.db")
    assert process.command_words(run) == ("run",)
    assert set(process.paths_given(run)) == {Path("inbox"), Path("w.db"), Path("o")}
    assert process.option_value(run, "--out") == Path("o")
    assert process.option_value(run, "--warehouse") == Path("w.db")
    benchmark = parse("benchmark", "--period", "2027-09")
    assert process.option_value(benchmark, "--out") == Path("out/benchmarks")
    load = parse("warehouse", "load", tmp_path, "--reports", tmp_path / "r", "--demo-key")
    assert process.command_words(load) == ("warehouse", "load")
    assert set(process.paths_given(load)) == {tmp_path, tmp_path / "r"}
    assert process.option_value(load, "--spec") is None  # load has no --spec


@pytest.mark.parametrize(
    "args", [[], ["warehouse"], ["nonsense", "x"], ["--help"], ["--nonsense", "validate"]]
)
def test_a_command_line_naming_no_command_gives_nothing_to_name(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """Usage errors and help are click's to print; the parses made beside them say nothing and
    raise nothing."""
    assert parse(*args) is None
    assert ahead(monkeypatch, *args) == []


def described(command: object) -> list[tuple[str, tuple[str, ...], object]]:
    """A command's parameters as a user meets them: name, options, default."""
    return [(p.name or "", tuple(p.opts), p.default) for p in getattr(command, "params", [])]


@pytest.mark.parametrize(
    ("args", "built"),
    [
        (["validate", "RZ1_2027-10_death.csv"], ["validate"]),
        (["-q", "--verbose", "spec", "list"], ["spec"]),
        (["warehouse"], ["warehouse"]),
        (["--help", "validate"], None),
        (["--version"], None),
        (["valdate", "x"], None),
        ([], None),
    ],
)
def test_a_command_line_naming_one_command_builds_that_command_alone(
    args: list[str], built: list[str] | None
) -> None:
    whole = typer.main.get_command(app)
    assert isinstance(whole, typer.core.TyperGroup)
    tree = command_tree(args)
    assert sorted(tree.commands) == sorted(built or whole.commands)
    assert described(tree) == described(whole)  # the root's own options, completion's too
    for name, command in tree.commands.items():
        assert described(command) == described(whole.commands[name])
        assert command.help == whole.commands[name].help

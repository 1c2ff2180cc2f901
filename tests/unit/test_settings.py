"""Settings come from the option, the environment, then the settings file, then the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from mhdeaths import paths, settings
from mhdeaths.settings import SETTINGS, SettingsError, setting
from mhdeaths.warehouse.pseudonym import load_key
from mhdeaths.warehouse.store import default_path
from tests.functional.cli import mhdeaths

CLEAN = {s.env: "" for s in SETTINGS} | {settings.CONFIG_ENV: "", "MHDEATHS_PSEUDONYM_KEY": ""}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_without_a_settings_file_the_defaults_hold(folder: Path) -> None:
    assert all(setting(s.key) is None for s in SETTINGS)
    assert default_path() == Path("mhdeaths.duckdb")
    assert paths.default_spec_root() == paths.data_root() / "spec"


def test_the_settings_file_sets_paths_relative_to_itself(folder: Path) -> None:
    (folder / "mhdeaths.toml").write_text(
        'warehouse = "data/national.duckdb"\nprofiles_dir = "profiles"\n', encoding="utf-8"
    )
    assert default_path() == folder / "data" / "national.duckdb"
    assert paths.default_profiles_dir() == folder / "profiles"
    assert paths.default_spec_root() == paths.data_root() / "spec"


def test_the_environment_wins_over_the_settings_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "mhdeaths.toml").write_text('warehouse = "from-file.duckdb"\n', encoding="utf-8")
    monkeypatch.setenv("MHDEATHS_WAREHOUSE", "/elsewhere/from-env.duckdb")
    assert default_path() == Path("/elsewhere/from-env.duckdb")


def test_a_pyproject_table_serves_when_there_is_no_mhdeaths_toml(folder: Path) -> None:
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.mhdeaths]\nwarehouse = "w.duckdb"\n', encoding="utf-8"
    )
    assert default_path() == folder / "w.duckdb"
    (folder / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert default_path() == Path("mhdeaths.duckdb")


def test_the_settings_file_names_the_key_file_below_both_environment_variables(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = folder / "secret.key"
    key.write_text("a" * 40 + "\n", encoding="utf-8")
    key.chmod(0o600)
    (folder / "mhdeaths.toml").write_text('pseudonym_key_file = "secret.key"\n', encoding="utf-8")
    from_file = load_key()
    monkeypatch.setenv("MHDEATHS_PSEUDONYM_KEY", "b" * 40)
    assert load_key().fingerprint != from_file.fingerprint


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('warehouse = "x', "is not valid TOML"),
        ('wearhouse = "x.duckdb"', "unknown key 'wearhouse'"),
        ('pseudonym_key = "' + "a" * 40 + '"', "holds a pseudonym key"),
        ("warehouse = 3", "must be a non-empty string"),
    ],
)
def test_a_settings_file_that_cannot_be_used_is_one_sentence(
    folder: Path, text: str, said: str
) -> None:
    (folder / "mhdeaths.toml").write_text(text + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=said):
        default_path()
    run = mhdeaths("warehouse", "status", cwd=folder, env=CLEAN)
    assert run.code == 2, run.output
    assert said in run.stderr and "Traceback" not in run.output
    assert "a" * 40 not in run.output


def test_every_setting_is_on_the_reference_page() -> None:
    page = settings.reference_page()
    for s in SETTINGS:
        assert f"`{s.key}`" in page and f"`{s.env}`" in page

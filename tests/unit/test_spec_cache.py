"""The spec kept between runs: the same spec as its files give, read again when any file changes,
and passed over in silence when the cache cannot be used."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mhdeaths import language as ex
from mhdeaths.errors import ExpressionError
from mhdeaths.language import parser
from mhdeaths.spec import cache, latest_version, load_spec, loading

VERSION = "1.0.0"


@pytest.fixture
def spec_folder(spec_root: Path, tmp_path: Path) -> Path:
    """A copy of one version, to change."""
    root = tmp_path / "spec"
    shutil.copytree(spec_root / VERSION, root / VERSION)
    return root


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder, and no spec already loaded in this process."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    loading._load_cached.cache_clear()
    yield folder
    loading._load_cached.cache_clear()


def read_from_files_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each time a version is read from its files, rather than taken from the cache."""
    reads: list[str] = []
    read = loading._load_folder

    def recorded(folder: Path, version: str):  # type: ignore[no-untyped-def]
        reads.append(version)
        return read(folder, version)

    monkeypatch.setattr(loading, "_load_folder", recorded)
    return reads


def again(root: Path) -> object:
    """Load as a new process would: nothing loaded in this one."""
    loading._load_cached.cache_clear()
    return load_spec(VERSION, root)


def test_a_kept_spec_is_the_spec_its_files_give(
    spec_folder: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = read_from_files_only(monkeypatch)
    first = load_spec(VERSION, spec_folder)
    assert [p.suffix for p in kept.iterdir() if p.name.startswith("spec-")] == [".pickle"]
    second = again(spec_folder)
    assert reads == [VERSION]  # the second came from the cache
    assert second == first and second is not first
    assert second.path == spec_folder.resolve() / VERSION
    assert second.rules == first.rules


def test_a_kept_spec_brings_its_expressions_parsed(
    spec_folder: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_spec(VERSION, spec_folder)
    monkeypatch.setattr(parser, "_KEPT", {})
    fresh = parser._parse.__wrapped__
    parsed = read_from_parser_only(monkeypatch)
    assert again(spec_folder) == first
    texts = [ex.marked(r.expression) for r in first.rules]
    texts += [d.expression for d in first.definitions]
    taken = [ex.parse(text) for text in texts]
    assert parsed == []  # every one of them came with the spec
    assert taken == [fresh(text) for text in texts]


def test_an_expression_that_does_not_parse_still_loads_and_fails_when_used(
    spec_folder: Path, kept: Path
) -> None:
    rules = spec_folder / VERSION / "rules.yaml"
    expression = load_spec(VERSION, spec_folder).rules[-1].expression
    rules.write_text(rules.read_text().replace(expression, f"{expression} AND (", 1))
    assert again(spec_folder) != load_spec(VERSION)
    with pytest.raises(ExpressionError):
        ex.parse(f"{expression} AND (")


def read_from_parser_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each text the parser parses, rather than takes as parsed before."""
    texts: list[str] = []
    parse = parser._parse

    def recorded(text: str) -> ex.Expression:
        texts.append(text)
        return parse(text)

    monkeypatch.setattr(parser, "_parse", recorded)
    return texts


def test_a_change_to_any_file_is_read_again_even_with_the_same_size_and_time(
    spec_folder: Path, kept: Path
) -> None:
    first = load_spec(VERSION, spec_folder)
    codes = spec_folder / VERSION / "codelists" / "stated_gender.csv"
    before = codes.stat()
    text = codes.read_text()
    label = first.code_list("stated_gender").codes[0].label
    codes.write_text(text.replace(label, label[::-1], 1))
    os.utime(codes, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert codes.stat().st_size == before.st_size
    assert again(spec_folder).code_list("stated_gender").codes[0].label == label[::-1]


def test_the_same_files_in_another_folder_are_kept_apart(
    spec_folder: Path, kept: Path, tmp_path: Path
) -> None:
    load_spec(VERSION, spec_folder)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(spec_folder, elsewhere)
    assert again(elsewhere).path == elsewhere.resolve() / VERSION


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05garbage"])
def test_a_corrupt_kept_file_is_passed_over_and_replaced(
    spec_folder: Path, kept: Path, damage: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_spec(VERSION, spec_folder)
    (path,) = kept.glob("spec-*.pickle")
    whole = path.read_bytes()
    path.write_bytes(damage or whole[: len(whole) // 2])
    reads = read_from_files_only(monkeypatch)
    assert again(spec_folder) == first
    assert reads == [VERSION]
    assert path.read_bytes() == whole  # kept again, whole


def test_a_file_others_could_have_written_is_never_unpickled(
    spec_folder: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_spec(VERSION, spec_folder)
    (path,) = kept.glob("spec-*.pickle")
    path.chmod(0o666)
    reads = read_from_files_only(monkeypatch)
    again(spec_folder)
    assert reads == [VERSION]


def test_the_cache_folder_is_the_users_alone(spec_folder: Path, kept: Path) -> None:
    load_spec(VERSION, spec_folder)
    assert kept.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in kept.iterdir()} == {0o600}


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only"])
def test_a_cache_that_cannot_be_written_is_no_error(
    spec_folder: Path, tmp_path: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    folder = {"a file": blocker, "under a file": blocker / "cache", "read-only": tmp_path / "ro"}
    if where == "read-only":
        folder[where].mkdir(mode=0o500)
    monkeypatch.setenv(cache.CACHE_ENV, str(folder[where]))
    loading._load_cached.cache_clear()
    try:
        assert load_spec(VERSION, spec_folder).version == VERSION
        assert latest_version(spec_folder) == VERSION
    finally:
        loading._load_cached.cache_clear()
    if where == "read-only":
        folder[where].chmod(0o700)  # (root writes there all the same: the test still holds)


def test_an_empty_setting_turns_the_cache_off(
    spec_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_folder() is None
    loading._load_cached.cache_clear()
    load_spec(VERSION, spec_folder)
    loading._load_cached.cache_clear()
    assert not (tmp_path / "home").exists() and not (tmp_path / "xdg").exists()


def test_the_default_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_folder() == tmp_path / "mhdeaths"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_folder() == tmp_path / "home" / ".cache" / "mhdeaths"


def test_a_version_header_change_is_seen(spec_folder: Path, kept: Path) -> None:
    assert latest_version(spec_folder) == VERSION
    head = spec_folder / VERSION / "version.yaml"
    head.write_text(head.read_text().replace("status: released", "status: draft"))
    assert "status: draft" in head.read_text()
    assert [h.draft for h in loading.version_headers(spec_folder)] == [True]


def test_the_folder_keeps_only_the_newest_files(
    spec_folder: Path, kept: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "KEPT", 2)
    for n in range(4):
        (spec_folder / VERSION / f"extra{n}.txt").write_text(str(n))  # a new key each time
        again(spec_folder)
    assert len(list(kept.glob("*.pickle"))) == 2

"""The national feeds' specs: found under spec/feeds/, loaded only as feeds, never as the dataset.

A feed (death registrations, MHSDS spells) is loaded by the national analysts alone; its spec
lives beside the dataset's but in a folder of its own, so nothing a provider's tooling reads
(``available_versions`` of the spec root) can see it, and a folder that does not declare itself
the feed asked for is refused rather than read as one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mhdeaths.errors import SpecError
from mhdeaths.spec import available_versions, feed_root, feed_roots, load_feed_spec, load_spec

FEEDS = ["registrations", "spells"]


def test_the_spec_root_has_the_two_national_feeds(spec_root: Path) -> None:
    roots = feed_roots(spec_root)
    assert list(roots) == FEEDS
    for name, folder in roots.items():
        assert folder == spec_root / "feeds" / name
        assert (folder / "released.yaml").is_file()
        assert feed_root(name, spec_root) == folder


def test_a_spec_root_without_a_feeds_folder_has_no_feeds(tmp_path: Path) -> None:
    assert feed_roots(tmp_path) == {}
    (tmp_path / "feeds" / "notes").mkdir(parents=True)  # a folder holding no version
    assert feed_roots(tmp_path) == {}


def test_an_unknown_feed_is_a_spec_error_naming_the_known_ones(spec_root: Path) -> None:
    with pytest.raises(
        SpecError,
        match=r"no national feed called 'deaths' \(known feeds: "
        r"registrations, spells\)",
    ):
        feed_root("deaths", spec_root)
    with pytest.raises(SpecError, match=r"known feeds: none"):
        load_feed_spec("spells", root=spec_root / "1.0.0")


@pytest.mark.parametrize("feed", FEEDS)
def test_each_feed_loads_as_a_feed_with_no_attribution(spec_root: Path, feed: str) -> None:
    spec = load_feed_spec(feed, root=spec_root)  # the newest version (each is a draft for now)
    assert (spec.kind, spec.feed, spec.is_feed) == ("feed", feed, True)
    assert spec.version == available_versions(feed_root(feed, spec_root))[-1]
    assert spec.attribution is None
    assert spec.definitions == ()
    with pytest.raises(SpecError, match="a feed counts no deaths"):
        _ = spec.counting_rule
    assert load_feed_spec(feed, "1.0.0", spec_root) == spec


def test_a_folder_not_declaring_itself_a_feed_is_refused(spec_copy: Path) -> None:
    head = spec_copy / "feeds" / "spells" / "1.0.0" / "version.yaml"
    head.write_text(head.read_text().replace("kind: feed\n", ""))
    assert load_spec("1.0.0", spec_copy / "feeds" / "spells").kind == "dataset"
    with pytest.raises(SpecError, match=r"does not declare itself the spells feed"):
        load_feed_spec("spells", "1.0.0", spec_copy)


def test_one_feed_is_never_read_as_another(spec_copy: Path) -> None:
    shutil.copytree(spec_copy / "feeds" / "spells", spec_copy / "feeds" / "beds")
    with pytest.raises(SpecError, match=r"does not declare itself the beds feed"):
        load_feed_spec("beds", "1.0.0", spec_copy)


def test_the_dataset_versions_never_list_a_feed(spec_root: Path) -> None:
    versions = available_versions(spec_root)
    assert "feeds" not in versions
    assert all(load_spec(v, spec_root).kind == "dataset" for v in versions)
    assert all(load_spec(v, spec_root).feed is None for v in versions)
    # Nor does the default version: a feed is never what a provider's tooling picks.
    assert not load_spec(None, spec_root).is_feed


@pytest.mark.parametrize("feed", FEEDS)
def test_each_feed_version_passes_its_own_check(spec_root: Path, feed: str) -> None:
    from mhdeaths.standard.check import check_spec

    folder = feed_root(feed, spec_root)
    for version in available_versions(folder):
        assert check_spec(load_feed_spec(feed, version, spec_root), folder) == []

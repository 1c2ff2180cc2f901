"""publish() writes every artefact, lists each with its checksum, and fails in one sentence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mhdeaths.errors import OutputError
from mhdeaths.spec import (
    ChangeItem,
    ChangeLogEntry,
    available_versions,
    feed_roots,
    load_feed_spec,
    load_spec,
)
from mhdeaths.standard.publish import publish
from mhdeaths.standard.publish.changelog import entries_for, render_changelog

SPEC = load_spec("1.0.0")

EXPECTED_FILES = {
    "data-dictionary.md",
    "data-dictionary.html",
    "schema/death.schema.json",
    "schema/activity.schema.json",
    "datapackage.json",
    "tableschema/death.json",
    "tableschema/activity.json",
    "template-1.0.0.xlsx",
    "gx-suite-death.json",
    "gx-suite-activity.json",
    "CHANGELOG.md",
    "manifest.json",
}


def entry(version: str, **changes: object) -> ChangeLogEntry:
    return SPEC.change.model_copy(update={"version": version, "id": f"MHD-{version}", **changes})


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("out") / "publication"
    return out, publish(SPEC, out, [SPEC.change])


def test_every_artefact_is_written_and_returned(published: tuple[Path, list[Path]]) -> None:
    out, paths = published
    assert {p.relative_to(out).as_posix() for p in paths} == EXPECTED_FILES
    assert all(p.is_file() for p in paths)
    assert paths[-1] == out / "manifest.json"
    # The example CSVs live only in the tests: the publication ships no data.
    assert not list(out.rglob("*.csv"))


def test_manifest_lists_every_other_file_with_its_sha256(
    published: tuple[Path, list[Path]],
) -> None:
    out, _ = published
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["spec_version"] == "1.0.0"
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == EXPECTED_FILES - {"manifest.json"}
    for path, item in listed.items():
        data = (out / path).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert item["bytes"] == len(data), path


def test_publishing_twice_gives_the_same_bytes(
    published: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    out, _ = published
    publish(SPEC, tmp_path, [SPEC.change])
    first = (out / "manifest.json").read_text("utf-8")
    assert (tmp_path / "manifest.json").read_text("utf-8") == first


def test_an_output_path_that_is_a_file_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(OutputError) as caught:
        publish(SPEC, blocker, [SPEC.change])
    message = str(caught.value)
    assert str(blocker) in message
    assert message.endswith(".") and "\n" not in message


def test_changelog_is_newest_first_and_stops_at_this_version() -> None:
    older = entry("0.9.0", summary="A pilot release.")
    newer = entry("1.1.0", summary="Not yet for this publication.")
    shown = entries_for(SPEC, [older, newer, SPEC.change])
    assert [e.version for e in shown] == ["1.0.0", "0.9.0"]


def test_changelog_adds_the_specs_own_entry_when_missing() -> None:
    assert [e.version for e in entries_for(SPEC, [])] == ["1.0.0"]


def test_changelog_shows_every_part_of_an_entry() -> None:
    change = entry(
        "1.0.0",
        changes=(
            ChangeItem(kind="code", item="ethnic_category", change="label", old="A", new="B"),
        ),
        rules_added=("death.new.rule",),
        rules_retired=("death.old.rule",),
        end_of_life="2029-03",
    )
    text = render_changelog(SPEC, [change])
    for expected in (
        "MHD-1.0.0",
        "major",
        "effective",
        "2026-11-01",
        "2027-04",
        "2029-03",
        "HSSIB safety recommendation",
        "| code | `ethnic_category` | label | A | B |",
        "Providers build a new monthly extract",
        "none (first release)",
        "`death.new.rule`",
        "`death.old.rule`",
        "Fields map to MHSDS v6",
        "mhdeaths standards board",
    ):
        assert expected in text, expected
    assert text.endswith("\n") and not text.endswith("\n\n")


# --- The national feeds: published for the analysts, never into the providers' artefacts ------

FEED_FILES = {
    "data-dictionary.md",
    "data-dictionary.html",
    "datapackage.json",
    "CHANGELOG.md",
    "manifest.json",
}


@pytest.mark.parametrize("feed", ["registrations", "spells"])
def test_a_feed_publishes_no_template_and_no_suite(tmp_path: Path, feed: str) -> None:
    spec = load_feed_spec(feed, "1.0.0")
    (table,) = [t.name for t in spec.tables]
    paths = publish(spec, tmp_path, [spec.change])
    written = {p.relative_to(tmp_path).as_posix() for p in paths}
    assert written == FEED_FILES | {f"schema/{table}.schema.json", f"tableschema/{table}.json"}
    assert not list(tmp_path.rglob("*.xlsx"))
    assert not list(tmp_path.rglob("gx-suite-*"))
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert {f["path"] for f in manifest["files"]} == written - {"manifest.json"}


def _feed_names() -> tuple[set[str], set[str]]:
    """The feeds' tables, and the fields that only a feed has (no dataset version has them)."""
    feeds = [
        load_feed_spec(f, v, None)
        for f, root in feed_roots().items()
        for v in available_versions(root)
    ]
    dataset = {f.name for v in available_versions() for t in load_spec(v).tables for f in t.fields}
    tables = {t.name for s in feeds for t in s.tables}
    fields = {f.name for s in feeds for t in s.tables for f in t.fields} - dataset
    return tables, fields


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "2.0.0"])
def test_no_dataset_artefact_names_a_feed_table(tmp_path: Path, version: str) -> None:
    """What providers are given (template, JSON Schema, Data Package, dictionary, GX suites) for
    a version of the dataset names no feed table and no field only a feed has."""
    from openpyxl import load_workbook

    tables, fields = _feed_names()
    assert tables == {"registration", "spell"}
    assert {"registration_date", "registered_sex", "residence_area", "cause_icd10_15"} <= fields
    spec = load_spec(version)
    paths = publish(spec, tmp_path, [spec.change])
    for path in paths:
        name = path.relative_to(tmp_path).as_posix()
        assert not any(t in name for t in tables), name
    package = json.loads((tmp_path / "datapackage.json").read_text("utf-8"))
    assert not {r["name"] for r in package["resources"]} & tables
    named = {f["name"] for r in package["resources"] for f in r["schema"]["fields"]}
    for schema in (tmp_path / "schema").glob("*.schema.json"):
        named |= set(json.loads(schema.read_text("utf-8")).get("properties", {}))
    workbook = load_workbook(tmp_path / f"template-{version}.xlsx", read_only=True)
    assert not {s.lower() for s in workbook.sheetnames} & tables
    for sheet in workbook.worksheets:
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
        named |= {str(c) for c in first if c is not None}
    workbook.close()
    assert {"death_date", "nhs_number"} <= named, "the artefacts were read"
    assert not named & (fields | tables)
    for path in paths:
        if path.suffix in {".md", ".html", ".json"}:
            text = path.read_text("utf-8")
            assert not [f for f in fields if f in text], path.name
            assert not [t for t in tables if f"table-{t}" in text or f'"{t}"' in text], path.name

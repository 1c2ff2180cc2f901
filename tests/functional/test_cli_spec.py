"""The spec commands end to end, as a standards team would use them."""

from __future__ import annotations

import json
from pathlib import Path

from .cli import mhdeaths


def test_spec_list_shows_both_released_versions() -> None:
    run = mhdeaths("spec", "list")
    assert run.code == 0
    assert "1.0.0" in run.stdout and "1.1.0" in run.stdout
    assert "released" in run.stdout


def test_spec_show_summarises_a_version_and_one_rule() -> None:
    run = mhdeaths("spec", "show", "1.1.0")
    assert run.code == 0
    assert "family_involvement" in run.stdout
    rule = mhdeaths("spec", "show", "1.1.0", "--rule", "death.ipd.discharge_method_died")
    assert rule.code == 0
    assert "patient_status_at_death NOT IN" in rule.stdout


def test_spec_check_passes_on_the_real_spec() -> None:
    run = mhdeaths("spec", "check")
    assert run.code == 0, run.output
    assert "1.0.0: ok" in run.stdout and "1.1.0: ok" in run.stdout


def test_spec_check_covers_the_feeds_and_checks_one_with_feed() -> None:
    every = mhdeaths("spec", "check")
    assert every.code == 0, every.output
    assert "registrations 1.0.0: ok" in every.stdout and "spells 1.0.0: ok" in every.stdout
    run = mhdeaths("spec", "check", "--feed", "spells")
    assert run.code == 0, run.output
    assert "spells 1.0.0: ok" in run.stdout
    # Only that feed: neither the dataset's versions nor the other feed.
    assert "registrations" not in run.stdout and "2.0.0" not in run.stdout
    unknown = mhdeaths("spec", "check", "--feed", "deaths")
    assert unknown.code == 2
    assert "known feeds: registrations, spells" in unknown.stderr


def test_spec_list_with_feed_lists_that_feeds_versions() -> None:
    run = mhdeaths("spec", "list", "--feed", "registrations")
    assert run.code == 0, run.output
    assert "1.0.0" in run.stdout and "draft" in run.stdout
    # The dataset's versions are not the feed's.
    assert "1.1.0" not in run.stdout and "2.0.0" not in run.stdout


def test_spec_diff_reports_a_minor_bump_and_exits_0() -> None:
    run = mhdeaths("spec", "diff", "1.0.0", "1.1.0")
    assert run.code == 0, run.output
    assert "Needs a minor bump; the version numbers declare minor" in run.stdout
    assert "death.family_involvement" in run.stdout


def test_spec_diff_fails_when_the_version_numbers_understate_the_change(spec_copy: Path) -> None:
    # A new mandatory field is a major change; calling the version 1.2.0 understates it.
    new = spec_copy / "1.2.0"
    (spec_copy / "1.1.0").rename(new)
    header = new / "version.yaml"
    header.write_text(header.read_text().replace("version: 1.1.0", "version: 1.2.0"))
    table = new / "tables" / "death.yaml"
    table.write_text(
        table.read_text().replace(
            "    mandation: optional\n    code_list: family_involvement",
            "    mandation: mandatory\n    code_list: family_involvement",
        )
    )
    run = mhdeaths("spec", "diff", "1.0.0", "1.2.0", "--spec-dir", spec_copy)
    assert run.code == 1
    assert "Needs a major bump; the version numbers declare minor" in run.stderr
    assert "Traceback" not in run.output


def test_spec_check_fails_with_exit_1_when_a_released_file_is_edited(spec_copy: Path) -> None:
    path = spec_copy / "1.0.0" / "codelists" / "record_action.csv"
    path.write_text(path.read_text().replace("Withdraw", "Delete").replace("withdraw", "delete"))
    run = mhdeaths("spec", "check", "--spec-dir", spec_copy)
    assert run.code == 1
    assert "record_action.csv: this file of a released version has changed" in run.stderr


def test_spec_release_refuses_to_record_a_released_version_again(spec_copy: Path) -> None:
    path = spec_copy / "1.0.0" / "codelists" / "record_action.csv"
    path.write_text(path.read_text().replace("Withdraw", "Delete"))
    released = (spec_copy / "released.yaml").read_text()
    run = mhdeaths("spec", "release", "1.0.0", "--spec-dir", spec_copy)
    assert run.code == 1
    assert "already released, and a released version never changes" in run.stderr
    assert (spec_copy / "released.yaml").read_text() == released
    assert mhdeaths("spec", "check", "--spec-dir", spec_copy).code == 1


def test_spec_publish_writes_every_artefact(tmp_path: Path) -> None:
    out = tmp_path / "published"
    run = mhdeaths("spec", "publish", "1.1.0", "--out", out)
    assert run.code == 0, run.output
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for expected in [
        "data-dictionary.md",
        "data-dictionary.html",
        "schema/death.schema.json",
        "schema/activity.schema.json",
        "datapackage.json",
        "template-1.1.0.xlsx",
        "gx-suite-death.json",
        "CHANGELOG.md",
    ]:
        assert expected in names, expected
    schema = json.loads((out / "schema" / "death.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    changelog = (out / "CHANGELOG.md").read_text()
    assert "1.1.0" in changelog and "1.0.0" in changelog


def test_unknown_version_is_one_sentence_and_exit_2() -> None:
    run = mhdeaths("spec", "show", "9.9.9")
    assert run.code == 2
    assert run.stderr.strip().startswith("error: There is no spec version 9.9.9")
    assert "Traceback" not in run.output


def test_bad_usage_exits_2() -> None:
    run = mhdeaths("spec", "diff", "1.0.0")
    assert run.code == 2
    assert "Traceback" not in run.output

"""Optional child tables in the spec: the table attribute ``presence``, its default, and what
``spec check`` and ``spec diff`` say about it (plan Q14: a submission may leave a child table out)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mhdeaths.engines import polars_engine, sql_engine
from mhdeaths.errors import SpecError
from mhdeaths.spec import Presence, load_spec
from mhdeaths.standard.check import check_spec, released_checksums
from mhdeaths.standard.diff import Bump, diff_specs
from tests.child_table import DEATH_SIDE_RULE, VERSION, add_review_table, add_rule
from tests.conftest import SPEC_ROOT
from tests.functional.cli import mhdeaths

# What editing a released copy always brings: its checksums move and its change log does not list
# the added rules. Everything else a check says is about the edit.
_EXPECTED = {
    "spec/released-file-changed",
    "spec/released-file-added",
    "spec/change-new-rule-unlisted",
}


def _problems(root: Path) -> list[tuple[str, str]]:
    found = check_spec(load_spec(VERSION, root), root)
    return [(p.id, str(p)) for p in found if p.id not in _EXPECTED]


def test_the_released_tables_are_main_by_default(any_spec) -> None:  # type: ignore[no-untyped-def]
    # 1.0.0 and 1.1.0 say nothing of presence (their checksums must not move): every table is a
    # main one, as the validator has always read them. Later versions add optional child tables.
    if any_spec.version not in released_checksums(SPEC_ROOT):
        assert [t.name for t in any_spec.main_tables] == ["death", "activity"]
        return
    assert all(t.presence is Presence.MAIN and not t.optional for t in any_spec.tables)
    assert any_spec.main_tables == list(any_spec.tables)


def test_a_table_says_it_is_optional(spec_copy: Path) -> None:
    add_review_table(spec_copy)
    spec = load_spec(VERSION, spec_copy)
    assert [t.name for t in spec.tables] == ["death", "review", "activity"]
    assert spec.table("review").optional
    assert [t.name for t in spec.main_tables] == ["death", "activity"]
    # The check templates give the child table its field rules like any other table.
    assert "review.mandatory.review_id" in {r.id for r in spec.rules}


def test_an_unknown_presence_does_not_load(spec_copy: Path) -> None:
    add_review_table(spec_copy, presence="sometimes")
    with pytest.raises(SpecError, match=r"presence"):
        load_spec(VERSION, spec_copy)


def test_a_spec_with_an_optional_child_table_passes_its_check(spec_copy: Path) -> None:
    add_rule(add_review_table(spec_copy), DEATH_SIDE_RULE)
    assert _problems(spec_copy) == []


# The 1.x "file not empty" rule, written for the review table.
NOT_EMPTY = {
    "id": "review.file.not_empty",
    "table": "review",
    "severity": "file_reject",
    "scope": "table",
    "fields": [],
    "title": "A submission holds at least one record",
    "message": "The file has no records.",
    "fix": "Check the extract.",
    "expression": "COUNT(*) > 0",
    "example": [{"reporting_period": "2027-04"}],
    "counterexample": [],
    "since": VERSION,
}


def test_an_optional_table_that_must_hold_records_is_reported(spec_copy: Path) -> None:
    # The 1.x "file not empty" rule copied onto an optional table contradicts its presence: a
    # submission without the file would pass where one with only its header fails.
    folder = add_review_table(spec_copy)
    add_rule(
        folder,
        NOT_EMPTY,
    )
    found = _problems(spec_copy)
    assert [i for i, _ in found] == ["spec/optional-table-needs-records"]
    assert "table review" in found[0][1] and "review.file.not_empty" in found[0][1]


def test_the_same_rule_on_a_main_table_is_not_reported(spec_copy: Path) -> None:
    add_review_table(spec_copy, presence=None)
    folder = spec_copy / VERSION
    add_rule(
        folder,
        NOT_EMPTY,
    )
    assert _problems(spec_copy) == []


def test_a_spec_whose_tables_are_all_optional_is_reported(spec_copy: Path) -> None:
    folder = add_review_table(spec_copy)
    for name in ("death", "activity"):
        path = folder / "tables" / f"{name}.yaml"
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
        table["presence"] = "optional"
        path.write_text(yaml.safe_dump(table, sort_keys=False), encoding="utf-8")
    assert "spec/no-main-table" in {i for i, _ in _problems(spec_copy)}


def test_an_optional_table_that_belongs_to_no_main_table_is_reported(spec_copy: Path) -> None:
    # Its key must hold a main table's key (a review's holds its death's): that is how the
    # validator knows which table it is sent with.
    folder = add_review_table(spec_copy)
    path = folder / "tables" / "review.yaml"
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    table["key"] = ["org_id_provider", "review_id"]
    path.write_text(yaml.safe_dump(table, sort_keys=False), encoding="utf-8")
    found = _problems(spec_copy)
    assert [i for i, _ in found] == ["spec/optional-table-without-parent"]
    spec = load_spec(VERSION, spec_copy)
    assert spec.parents_of(spec.table("review")) == []


def test_an_optional_table_belongs_to_the_main_table_its_key_holds(spec_copy: Path) -> None:
    spec = load_spec(VERSION, add_review_table(spec_copy).parent)
    assert [t.name for t in spec.parents_of(spec.table("review"))] == ["death"]


def test_a_cross_table_example_leaving_an_optional_table_out_sees_it_empty(
    spec_copy: Path,
) -> None:
    # review.death_in_file's counterexample names no death record: both engines read the death
    # table as empty there (and the rule fails), rather than stopping on a missing table.
    add_rule(add_review_table(spec_copy), DEATH_SIDE_RULE)
    spec = load_spec(VERSION, spec_copy)
    for rule_id in ("review.death_in_file", "death.review.record_sent", "review.month_has_a_death"):
        rule = spec.rule(rule_id)
        assert polars_engine.tables_read(rule) <= {"death", "review", "activity"}
        for engine in (polars_engine, sql_engine):
            assert not engine.example_fails(spec, rule, rule.example), (rule_id, engine)
            assert engine.example_fails(spec, rule, rule.counterexample), (rule_id, engine)


def test_making_a_table_optional_is_a_change_spec_diff_reports(spec_copy: Path) -> None:
    add_review_table(spec_copy, presence=None)
    main = load_spec(VERSION, spec_copy)
    add_review_table(spec_copy)
    optional = load_spec(VERSION, spec_copy)
    changes = [c for c in diff_specs(main, optional).changes if c.kind == "table"]
    assert [(c.item, c.change, c.bump) for c in changes] == [
        ("review", "presence changed", Bump.MAJOR)
    ]


def test_spec_show_says_which_table_is_optional(spec_copy: Path) -> None:
    add_review_table(spec_copy)
    run = mhdeaths("spec", "show", VERSION, "--spec-dir", spec_copy)
    assert run.code == 0, run.output
    assert "review (optional)" in run.output
    assert "death (optional)" not in run.output and "activity (optional)" not in run.output


def test_a_date_aggregate_over_a_missing_group_is_unknown_not_zero(spec_copy: Path) -> None:
    # A group a table does not have counts as zero there, but its earliest date is unknown (a
    # date has no zero): a rule comparing the earliest dates of two tables passes for a review
    # whose death is not in the file, in both engines, and still fails on dates out of order.
    folder = add_review_table(spec_copy)
    death = {"org_id_provider": "RX4", "death_record_id": "D1", "reporting_period": "2027-04"}
    review = {**death, "review_id": "R1"}
    add_rule(
        folder,
        {
            "id": "review.dates.not_before_death",
            "table": "review",
            "severity": "warning",
            "scope": "cross_table",
            "group_by": ["org_id_provider", "death_record_id"],
            "fields": ["review_started_date"],
            "title": "A review starts after the death",
            "message": "A review of this death started before the death.",
            "fix": "Check the dates.",
            "expression": (
                "COUNT(review.review_id) = 0 "
                "OR MIN(review.review_started_date) >= MIN(death.death_date)"
            ),
            "example": {
                "review": [{**review, "review_started_date": "2027-04-20"}],
                "death": [{**death, "death_date": "2027-04-12"}],
            },
            "counterexample": {
                "review": [{**review, "review_started_date": "2027-04-01"}],
                "death": [{**death, "death_date": "2027-04-12"}],
            },
            "since": VERSION,
        },
    )
    assert _problems(spec_copy) == []
    spec = load_spec(VERSION, spec_copy)
    rule = spec.rule("review.dates.not_before_death")
    alone = {"review": [{**review, "review_started_date": "2027-04-01"}]}
    for engine in (polars_engine, sql_engine):
        assert not engine.example_fails(spec, rule, alone), engine
        assert engine.example_fails(spec, rule, rule.counterexample), engine

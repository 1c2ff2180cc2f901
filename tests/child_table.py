"""An optional child table added to a copy of spec 1.1.0, for the tests of optional tables.

Spec 2.0.0 adds child tables of the death table that a submission may leave out (reviews,
prevention of future deaths report addressees). These tests prove the machinery on a small
``review`` table of their own, added to a temporary copy of 1.1.0, so that they do not depend on
the 2.0.0 draft: its fields (the death's key and the review's own), a record rule, a structure
rule, and cross-table rules that read two and three tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

VERSION = "1.1.0"

#: Fields of the review table taken, as they are, from the death table.
FROM_DEATH = (
    "spec_version",
    "org_id_provider",
    "reporting_period",
    "death_record_id",
    "record_action",
)

REVIEW_FIELDS: list[dict[str, Any]] = [
    {
        "name": "review_id",
        "title": "Review identifier",
        "definition": "The provider's identifier for this review, stable across resubmissions.",
        "type": "string",
        "format": "max an36",
        "mandation": "mandatory",
        "max_length": 36,
        "pattern": "[A-Za-z0-9_./-]+",
        "source": "mhdeaths",
        "since": VERSION,
        "example": "RX4-R-000045",
    },
    {
        "name": "review_method",
        "title": "Review method",
        "definition": "The method of this review.",
        "type": "code",
        "format": "an2",
        "mandation": "mandatory",
        "code_list": "review_method",
        "source": "NQB Learning from Deaths (2017)",
        "since": VERSION,
        "example": "01",
    },
    {
        "name": "review_started_date",
        "title": "Review started date",
        "definition": "The date the review started.",
        "type": "date",
        "format": "an10 CCYY-MM-DD",
        "mandation": "mandatory",
        "source": "NQB Learning from Deaths",
        "since": VERSION,
        "example": "2027-04-20",
    },
    {
        "name": "review_completed_date",
        "title": "Review completed date",
        "definition": "The date the review was completed; empty while it is under way.",
        "type": "date",
        "format": "an10 CCYY-MM-DD",
        "mandation": "optional",
        "source": "NQB Learning from Deaths",
        "since": VERSION,
        "example": "2027-05-20",
    },
]

_DEATH = {"org_id_provider": "RX4", "death_record_id": "D1", "reporting_period": "2027-04"}
_REVIEW = {**_DEATH, "review_id": "R1", "review_method": "01"}

REVIEW_RULES: list[dict[str, Any]] = [
    {
        "id": "review.structure.missing_mandatory_column",
        "table": "review",
        "severity": "file_reject",
        "scope": "structure",
        "fields": ["field_name"],
        "title": "Every mandatory field has a column",
        "message": "The file has no column for a mandatory field.",
        "fix": "Add the column, with the field name as its header.",
        "expression": "present OR mandation <> 'mandatory'",
        "example": {"field_name": "review_id", "mandation": "mandatory", "present": "true"},
        "counterexample": {"field_name": "review_id", "mandation": "mandatory", "present": "false"},
        "since": VERSION,
    },
    {
        "id": "review.dates.completed_not_before_started",
        "table": "review",
        "severity": "record_reject",
        "fields": ["review_completed_date", "review_started_date"],
        "title": "A review is completed on or after it starts",
        "message": "The review is completed before it started.",
        "fix": "Check the dates.",
        "expression": "review_completed_date >= review_started_date",
        "example": {"review_started_date": "2027-04-20", "review_completed_date": "2027-05-20"},
        "counterexample": {
            "review_started_date": "2027-04-20",
            "review_completed_date": "2027-04-19",
        },
        "since": VERSION,
    },
    {
        "id": "review.death_in_file",
        "table": "review",
        "severity": "warning",
        "scope": "cross_table",
        "group_by": ["org_id_provider", "death_record_id"],
        "fields": ["death_record_id"],
        "title": "Reviews are sent with their death",
        "message": "Reviews are sent for a death whose record is not in the file.",
        "fix": "Send the death record (record action U) with its reviews.",
        "expression": "COUNT(review.review_id) = 0 OR COUNT(death.death_record_id) > 0",
        "example": {"review": [_REVIEW], "death": [_DEATH]},
        "counterexample": {"review": [_REVIEW]},
        "since": VERSION,
    },
    {
        "id": "review.month_has_a_death",
        "table": "review",
        "severity": "warning",
        "scope": "cross_table",
        "group_by": ["org_id_provider", "reporting_period"],
        "fields": ["review_id"],
        "title": "Reviews are sent for a month with deaths",
        "message": "Reviews are sent for a month in which neither table counts a death.",
        "fix": "Send the reviews with their death's reporting period.",
        "expression": (
            "COUNT(review.review_id) = 0 "
            "OR COUNT(death.death_record_id) + SUM(activity.deaths_in_spell) > 0"
        ),
        "example": {
            "review": [_REVIEW],
            "activity": [{**_DEATH, "deaths_in_spell": "1"}],
        },
        "counterexample": {
            "review": [_REVIEW],
            "activity": [{**_DEATH, "deaths_in_spell": "0"}],
        },
        "since": VERSION,
    },
]


#: A rule of the death table that reads the review table: with no review file, it sees no
#: reviews (and fails for a death that names a review method).
DEATH_SIDE_RULE: dict[str, Any] = {
    "id": "death.review.record_sent",
    "table": "death",
    "severity": "warning",
    "scope": "cross_table",
    "group_by": ["org_id_provider", "death_record_id"],
    "fields": ["review_method"],
    "title": "A reviewed death has its review record",
    "message": "The death record names a review method, but no review record is sent.",
    "fix": "Send the review with the death record.",
    "expression": ("COUNT_IF(death.review_method IS NOT NULL) = 0 OR COUNT(review.review_id) > 0"),
    "example": {"death": [{**_DEATH, "review_method": "01"}], "review": [_REVIEW]},
    "counterexample": {"death": [{**_DEATH, "review_method": "01"}]},
    "since": VERSION,
}


def add_review_table(root: Path, *, presence: str | None = "optional") -> Path:
    """Add the review table and its rules to spec 1.1.0 under ``root`` (a copy of spec/).

    ``presence`` is written into the table's YAML (left out when None). Returns the version
    folder."""
    folder = root / VERSION
    death = yaml.safe_load((folder / "tables" / "death.yaml").read_text(encoding="utf-8"))
    shared = [f for f in death["fields"] if f["name"] in FROM_DEATH]
    table: dict[str, Any] = {
        "name": "review",
        "title": "Review",
        "description": "One record for each review of the care given before a death.",
        "grain": "one record per review per death per reporting provider",
        "key": ["org_id_provider", "death_record_id", "review_id"],
    }
    if presence is not None:
        table["presence"] = presence
    table["fields"] = shared + REVIEW_FIELDS
    (folder / "tables" / "review.yaml").write_text(
        yaml.safe_dump(table, sort_keys=False), encoding="utf-8"
    )
    head = yaml.safe_load((folder / "version.yaml").read_text(encoding="utf-8"))
    head["tables"] = ["death", "review", "activity"]
    (folder / "version.yaml").write_text(yaml.safe_dump(head, sort_keys=False), encoding="utf-8")
    rules = yaml.safe_load((folder / "rules.yaml").read_text(encoding="utf-8"))
    (folder / "rules.yaml").write_text(
        yaml.safe_dump(rules + REVIEW_RULES, sort_keys=False), encoding="utf-8"
    )
    return folder


def add_rule(folder: Path, rule: dict[str, Any]) -> None:
    """Append one rule to the version's rules.yaml."""
    rules = yaml.safe_load((folder / "rules.yaml").read_text(encoding="utf-8"))
    (folder / "rules.yaml").write_text(
        yaml.safe_dump([*rules, rule], sort_keys=False), encoding="utf-8"
    )

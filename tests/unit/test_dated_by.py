"""A field's ``dated_by`` through the spec: loaded, checked by ``spec check``, and applied by
both engines and by ``validate()`` to a real file.

The probe of the spec 2.0.0 plan (section 7.1) on a copy of spec 1.1.0 whose review method is
dated by the review's date: method 11 (valid from 2027-10-01) is accepted in a September 2027
submission when the review is dated 3 November, and rejected when it is dated 20 September.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from mhdeaths.engines import polars_engine as engine
from mhdeaths.engines import sql_engine
from mhdeaths.periods import period_start
from mhdeaths.spec import Spec, load_spec
from mhdeaths.standard.check import check_spec
from mhdeaths.validate.validator import validate

SEPTEMBER = period_start("2027-09")


def date_the_review_method(root: Path, dated_by: str = "review_completed_date") -> Spec:
    """Spec 1.1.0 of a copied spec folder, with review_method dated by ``dated_by``."""
    path = root / "1.1.0" / "tables" / "death.yaml"
    text = path.read_text()
    anchor = "    code_list: review_method\n"
    assert anchor in text
    path.write_text(text.replace(anchor, f"{anchor}    dated_by: {dated_by}\n", 1))
    return load_spec("1.1.0", root)


def test_the_code_list_check_of_a_dated_field_is_dated_in_both_engines(spec_copy: Path) -> None:
    spec = date_the_review_method(spec_copy)
    rule = spec.rule("death.code_list.review_method")
    assert rule.dated_by == "review_completed_date"
    # Only the check that binds {codes} is dated; it keeps its id and its one field.
    assert spec.rule("death.required.review_method").dated_by is None
    assert rule.fields == ("review_method",)
    death = spec.table("death")
    rows = [
        {"review_method": "11", "review_completed_date": "2027-11-03"},
        {"review_method": "11", "review_completed_date": "2027-09-20"},
        {"review_method": "11", "review_completed_date": None},
        {"review_method": "01", "review_completed_date": "2027-09-20"},
    ]
    text = engine.text_frame(death, rows)
    typed = engine.to_typed(death, text)
    from_polars = engine.record_failures(spec, rule, text, typed, SEPTEMBER).arg_true().to_list()
    con = duckdb.connect()
    try:
        sql_engine.register_frame(con, "typed", typed.with_row_index("_row"))
        sql = sql_engine.record_failures_sql(spec, rule, "typed", "_row", SEPTEMBER)
        from_duckdb = [r[0] for r in con.execute(sql).fetchall()]
    finally:
        con.close()
    assert from_polars == from_duckdb == [1, 2]
    # In October the undated 11 is valid; the one dated 20 September still is not.
    october = period_start("2027-10")
    assert engine.record_failures(spec, rule, text, typed, october).arg_true().to_list() == [1]


def test_the_released_field_without_dated_by_keeps_the_period_check() -> None:
    released = load_spec("1.1.0")
    rule = released.rule("death.code_list.review_method")
    assert rule.dated_by is None
    death = released.table("death")
    text = engine.text_frame(
        death, [{"review_method": "11", "review_completed_date": "2027-11-03"}]
    )
    typed = engine.to_typed(death, text)
    assert engine.record_failures(released, rule, text, typed, SEPTEMBER).to_list() == [True]


def test_spec_2_dates_the_review_method_by_the_review_s_start_in_both_engines() -> None:
    # The probe itself in the 2.0.0 draft, where reviews are their own table: a September 2027
    # death's PSIRF review (11, valid from 2027-10-01) started in November is accepted; one
    # started in September is rejected.
    spec = load_spec("2.0.0")
    rule = spec.rule("review.code_list.review_method")
    assert rule.dated_by == "review_started_date"
    review = spec.table("review")
    records = [
        {"review_method": "11", "review_started_date": "2027-11-03"},
        {"review_method": "11", "review_started_date": "2027-09-20"},
    ]
    text = engine.text_frame(review, records)
    typed = engine.to_typed(review, text)
    assert engine.record_failures(spec, rule, text, typed, SEPTEMBER).to_list() == [False, True]
    con = duckdb.connect()
    try:
        sql_engine.register_frame(con, "typed", typed.with_row_index("_row"))
        sql = sql_engine.record_failures_sql(spec, rule, "typed", "_row", SEPTEMBER)
        assert [r[0] for r in con.execute(sql).fetchall()] == [1]
    finally:
        con.close()


def test_a_dated_spec_passes_its_own_field_and_rule_checks(spec_copy: Path) -> None:
    spec = date_the_review_method(spec_copy)
    found = {p.id for p in check_spec(spec, spec_copy)}
    # The copy's 1.1.0 no longer matches its recorded checksums; nothing else is wrong.
    assert found == {"spec/released-file-changed"}


@pytest.mark.parametrize(
    ("field", "dated_by", "problem"),
    [
        ("review_method", "review_started_date", "spec/dated-by-not-a-field"),
        ("review_method", "review_method", "spec/dated-by-not-a-date"),
        ("review_completed_date", "death_date", "spec/dated-by-without-code-list"),
    ],
)
def test_a_dated_by_that_cannot_date_the_codes_is_reported(
    spec_copy: Path, field: str, dated_by: str, problem: str
) -> None:
    path = spec_copy / "1.1.0" / "tables" / "death.yaml"
    text = path.read_text()
    anchor = f"  - name: {field}\n"
    assert anchor in text
    path.write_text(text.replace(anchor, f"{anchor}    dated_by: {dated_by}\n", 1))
    spec = load_spec("1.1.0", spec_copy)
    found = [p for p in check_spec(spec, spec_copy) if p.id.startswith("spec/dated-by")]
    assert [(p.id, p.where) for p in found] == [(problem, f"field death.{field}")]
    assert repr(dated_by) in found[0].message
    # Reported once, at the field: the rule's examples are not run against a missing column.
    assert not [p for p in check_spec(spec, spec_copy) if p.id == "spec/examples-not-evaluable"]


def review_file(folder: Path, started: str) -> Path:
    """The September example submission, written to 1.1.0 with a PSIRF review (method 11)."""
    example = Path(__file__).resolve().parents[2] / "submissions/examples/RZ1"
    frame = pl.read_csv(example / "RZ1_2027-09_death.csv", infer_schema=False)
    frame = frame.with_columns(
        pl.lit("1.1.0").alias("spec_version"),
        pl.lit("11").alias("review_method"),
        pl.lit(started).alias("review_completed_date"),
    )
    folder.mkdir()
    path = folder / "RZ1_2027-09_death.csv"
    frame.write_csv(path)
    return path


@pytest.mark.parametrize(
    ("started", "rejected_when_dated"), [("2027-11-03", False), ("2027-09-20", True)]
)
def test_validate_judges_a_dated_code_in_a_real_file(
    spec_copy: Path, tmp_path: Path, started: str, rejected_when_dated: bool
) -> None:
    path = review_file(tmp_path / "in", started)
    rule_id = "death.code_list.review_method"

    def flagged(root: Path) -> bool:
        report = validate([path], spec_root=root).report
        return any(f.rule_id == rule_id for f in report.findings)

    assert flagged(spec_copy)  # by the reporting period, 11 is not yet valid
    date_the_review_method(spec_copy)
    assert flagged(spec_copy) is rejected_when_dated


def test_a_written_rule_dated_by_a_field_that_is_not_a_date_is_reported(spec_copy: Path) -> None:
    path = spec_copy / "1.1.0" / "rules.yaml"
    text = path.read_text()
    anchor = "- id: "
    assert text.count(anchor) > 1
    head, first, rest = text.partition(anchor)
    rule_id = rest.split("\n", 1)[0].strip()
    path.write_text(f"{head}{first}{rule_id}\n  dated_by: review_method{rest[len(rule_id) :]}")
    spec = load_spec("1.1.0", spec_copy)
    found = [p for p in check_spec(spec, spec_copy) if p.id.startswith("spec/dated-by")]
    assert [(p.id, p.where) for p in found] == [("spec/dated-by-not-a-date", f"rule {rule_id}")]

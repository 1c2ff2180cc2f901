"""Crosswalks kept as data in the code lists, and the references that must not carry identifiers.

A code list's further columns map each code onto another list (an ethnic category 2021 code onto
its 2001 category and broad group). Rules and definitions name a crosswalk (``{crosswalk:...}``)
and the loader writes it out from the list's own rows, so the mapping is stated once. These tests
attack that: every mapped code must exist in its target list, the rule that compares the two
classifications must accept exactly the crosswalk's pairs, the derived broad group must be what
the synthetic data generator counts its denominators by, and a mistyped crosswalk must stop the
spec loading.
"""

from __future__ import annotations

import datetime as dt
import shutil
from itertools import product
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mhdeaths import language as ex
from mhdeaths.engines import polars_engine as engine
from mhdeaths.engines import sql_engine as sqlengine
from mhdeaths.errors import SpecError
from mhdeaths.spec import load_spec
from mhdeaths.spec.loading import expand_crosswalks
from mhdeaths.synth.oversight import ethnic_crosswalks, ethnic_group_of

from ..conftest import SPEC_ROOT, VERSIONS

SPEC = load_spec("2.0.0", SPEC_ROOT)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_crosswalk_maps_onto_codes_of_its_target_list(version: str) -> None:
    spec = load_spec(version, SPEC_ROOT)
    names = {c.name for c in spec.code_lists}
    checked = 0
    for codes in spec.code_lists:
        for target in sorted({t for c in codes.codes for t in c.maps}):
            assert target in names, (codes.name, target)
            valid = set(spec.code_list(target).valid_codes())
            walk = codes.crosswalk(target)
            assert set(walk.values()) <= valid, (codes.name, target)
            # Every code is mapped: a code with no counterpart would derive nothing.
            assert set(walk) == {c.code for c in codes.codes}, (codes.name, target)
            checked += 1
    assert checked == (3 if version == "2.0.0" else 0)


def test_the_two_ethnic_categories_agree_exactly_on_the_crosswalks_pairs() -> None:
    rule = SPEC.rule("death.ethnicity.categories_agree")
    walk = SPEC.code_list("ethnic_category_2021").crosswalk("ethnic_category")
    codes_2001 = SPEC.code_list("ethnic_category").valid_codes()
    for code_2021, code_2001 in product(walk, codes_2001):
        record = {"ethnic_category": code_2001, "ethnic_category_2021": code_2021}
        fails = engine.example_fails(SPEC, rule, [record])
        assert fails == (code_2001 != walk[code_2021]), record


def test_the_derived_broad_group_is_the_one_the_generator_counts_bed_days_by() -> None:
    """The synthetic activity puts each inpatient death in the stratum of its broad ethnic group;
    the warehouse derives the group from the definition. They must agree on every pair of codes,
    or rates by ethnic group would have numerators and denominators in different groups."""
    table = SPEC.table("death")
    codes_2021 = [None, *SPEC.code_list("ethnic_category_2021").valid_codes()]
    codes_2001 = SPEC.code_list("ethnic_category").valid_codes()
    records = [
        {"ethnic_category": b, "ethnic_category_2021": a}
        for a, b in product(codes_2021, codes_2001)
    ]
    typed = engine.to_typed(table, engine.text_frame(table, records))
    derived = engine.derive(SPEC, "death", typed)["ethnic_group"].to_list()
    walks = ethnic_crosswalks(SPEC)
    assert derived == [ethnic_group_of(r, walks) for r in records]
    assert set(derived) == set(SPEC.code_list("ethnic_group").valid_codes())


def test_a_crosswalk_is_written_out_as_a_case_over_the_lists_rows() -> None:
    lists = {c.name: c for c in SPEC.code_lists}
    text = expand_crosswalks("{crosswalk:ethnic_category.ethnic_group(x)} = 'W'", lists)
    assert text.startswith("(CASE WHEN x = 'A' THEN 'W' WHEN x = 'B' THEN 'W'")
    assert text.endswith(" ELSE '' END) = 'W'")
    assert "{crosswalk" not in text
    frame = pl.DataFrame({"x": ["A", "N", "R", "Z", "~~", None]})
    assert frame.select(ex.to_polars(text).alias("w"))["w"].to_list() == [
        True,
        False,
        False,
        False,
        False,
        False,  # no code maps to '', never NULL: a rule guards its own empty cells
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{crosswalk:no_such_list.ethnic_group(x)}", "no_such_list"),
        ("{crosswalk:ethnic_category.no_such_column(x)}", "no crosswalk to 'no_such_column'"),
    ],
)
def test_a_crosswalk_to_nowhere_stops_the_spec_loading(text: str, says: str) -> None:
    lists = {c.name: c for c in SPEC.code_lists}
    with pytest.raises(SpecError, match=says):
        expand_crosswalks(text, lists)


def test_a_draft_whose_rule_names_a_missing_crosswalk_does_not_load(tmp_path: Path) -> None:
    folder = tmp_path / "2.0.0"
    shutil.copytree(SPEC.path, folder)
    rules = folder / "rules.yaml"
    rules.write_text(
        rules.read_text().replace(
            "{crosswalk:ethnic_category_2021.ethnic_category(", "{crosswalk:ethnic_category_2021.x("
        )
    )
    with pytest.raises(SpecError, match="no crosswalk to 'x'"):
        load_spec("2.0.0", tmp_path)


REFERENCES = [f.name for f in SPEC.table("death").fields if f.reference]


@given(
    number=st.integers(min_value=0, max_value=10**10 - 1).map(lambda n: f"{n:010d}"),
    spacing=st.sampled_from(["", " ", "-"]),
    before=st.sampled_from(["", "CQC-", "REF ", "2028/"]),
    after=st.sampled_from(["", "-A", " 01", "/x"]),
)
def test_no_reference_field_accepts_a_number_written_as_an_nhs_number_is(
    number: str, spacing: str, before: str, after: str
) -> None:
    written = f"{number[:3]}{spacing}{number[3:6]}{spacing}{number[6:]}"
    for name in REFERENCES:
        rule = SPEC.rule(f"death.no_identifier.{name}")
        assert engine.example_fails(SPEC, rule, [{name: f"{before}{written}{after}"}]), name


def test_the_reference_fields_are_every_link_to_another_system() -> None:
    assert set(REFERENCES) == {
        "coroner_reference",
        "pfd_reference",
        "lfpse_event_id",
        "cqc_reference",
        "leder_reference",
        "ncmd_reference",
    }
    for name in REFERENCES:
        rule = SPEC.rule(f"death.no_identifier.{name}")
        example = SPEC.table("death").field(name).example
        assert not engine.example_fails(SPEC, rule, [{name: example}]), name


def test_duckdb_evaluates_a_crosswalk_over_a_table_where_no_code_matches() -> None:
    """DuckDB 2.0 folds a CASE whose arms its column statistics say cannot match into a NULL
    constant, and then fails to bind a comparison with it ("BindBuiltinScalarFunction did not
    return a BoundFunctionExpression"): a stored table whose every 2021 code is unknown broke the
    rule comparing the two classifications. The crosswalk is written so that this cannot
    happen (hypothesis found it in tests/property/test_engines_agree.py)."""
    rule = SPEC.rule("death.ethnicity.categories_agree")
    con = duckdb.connect()
    sql = sqlengine.scope_sql(SPEC, rule, {"death": "death"}, "_row", dt.date(2028, 4, 1))
    for codes in [("31/02/2027", "31/02/2027"), ("~~", "31/02/2027"), ("A", "~~")]:
        con.execute(
            "CREATE OR REPLACE TABLE death AS SELECT 0 AS _row, ? AS ethnic_category, "
            "? AS ethnic_category_2021",
            list(codes),
        )
        # Evaluated, not refused: an unknown 2021 code fails the warning here, as the code list
        # rule rejects it too.
        assert con.execute(sql).fetchall() == [(0,)], codes
    con.execute("INSERT INTO death VALUES (1, 'M', 'D2'), (2, 'N', 'D2')")
    assert con.execute(sql).fetchall() == [(0,), (1,)]

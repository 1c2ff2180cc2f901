"""The canonical model's mapping features (build plan 9.1), against real DuckDB files: a 1.x
submission loaded into the 2.0.0 canonical model lands renamed (the provisional type as the manner
of death, the detention status in the legacy column), code-mapped (06 and 07 to 05), backfilled
from the record as written (drugs or alcohol, the cause's source) and split (its review as a
review row); and ``check_canonical`` refusing every way of getting a mapping wrong, on copies of
the shipped model.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from mhdeaths.errors import WarehouseError
from mhdeaths.paths import warehouse_root
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.canonical import (
    CanonicalModel,
    canonical_spec,
    check_canonical,
    load_canonical,
)
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key
from mhdeaths.warehouse.store import connect, table_columns

KEY = demo_key()


def write_model(root: Path, changes: dict[str, Any]) -> CanonicalModel:
    """Merge ``changes`` into the canonical model under ``root`` (a copy of warehouse/)."""
    path = root / "canonical.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if key == "versions":
            for version, mapping in value.items():
                data["versions"][version] = {**data["versions"][version], **mapping}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    load_canonical.cache_clear()
    return load_canonical(root)


@pytest.fixture
def warehouse_copy(tmp_path: Path) -> Path:
    root = tmp_path / "warehouse-src"
    shutil.copytree(warehouse_root(), root)
    return root


@pytest.fixture(scope="module")
def v1_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One provider-month of 1.0.0 deaths, some of them of provisional type 06 or 07, some
    reviewed, some not."""
    out = tmp_path_factory.mktemp("v1")
    spec = load_spec("1.0.0")
    generate(spec, SynthOptions(provider_list=("RX1",), months=1, start="2027-04", seed=3), out)
    (death,) = out.rglob("*_death.csv")
    frame = pl.read_csv(death, infer_schema=False)
    # Every third death is a drug or alcohol death and every third but one other circumstances:
    # the codes the 2.0.0 model maps onto 05 (other non-natural).
    row = pl.int_range(pl.len())
    frame = frame.with_columns(
        pl.when(row % 3 == 0)
        .then(pl.lit("06"))
        .when(row % 3 == 1)
        .then(pl.lit("07"))
        .otherwise(pl.col("provisional_death_type"))
        .alias("provisional_death_type")
    )
    frame.write_csv(death)
    assert (frame["review_method"] == "10").any() and (frame["review_method"] != "10").any()
    return out


def submitted(folder: Path) -> pl.DataFrame:
    (death,) = folder.rglob("*_death.csv")
    return pl.read_csv(death, infer_schema=False).with_row_index("i")


def stored(warehouse: Path, sql: str) -> pl.DataFrame:
    with connect(warehouse, read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description or ()]
        return pl.DataFrame(cursor.fetchall(), schema=names, orient="row")


# --- Rename, codes, backfill, a legacy column and a split --------------------------------------


def test_a_1_0_0_file_lands_renamed_code_mapped_backfilled_and_split(
    tmp_path: Path, v1_files: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    (outcome,) = load(warehouse, [v1_files], key=KEY)
    assert outcome.status == "loaded", outcome.report.verdict
    with connect(warehouse, read_only=True) as con:
        assert check_canonical(load_canonical(), tables=table_columns(con)) == []
    records = stored(
        warehouse,
        "SELECT source_row, manner_of_death, drug_alcohol_involvement, underlying_cause_source, "
        "detention_group_1x, legal_status_at_death FROM death_record ORDER BY 1",
    )
    sent = submitted(v1_files)
    assert records.height == sent.height
    written = sent["provisional_death_type"]
    assert (written == "06").any() and (written == "07").any()
    # renamed and code-mapped: the provisional type as the manner of death, 06 and 07 as 05
    expected = written.replace({"06": "05", "07": "05"})
    assert records["manner_of_death"].to_list() == expected.to_list()
    # backfilled from the record as written, before codes mapped it
    assert records["drug_alcohol_involvement"].to_list() == [
        "Y" if code == "06" else None for code in written
    ]
    assert records["underlying_cause_source"].to_list() == [
        None if icd is None else "R" for icd in sent["underlying_cause_icd10"]
    ]
    # a legacy column keeps what no 2.0.0 field can hold; the 2.0.0 field is not collected
    assert records["detention_group_1x"].to_list() == sent["detention_status"].to_list()
    assert records["legal_status_at_death"].null_count() == records.height
    canonical = canonical_spec(load_canonical())
    assert "detention_group_1x" not in {f.name for f in canonical.table("death").fields}
    # split: each death's review as its review 'legacy', withdrawn where it had none
    reviews = stored(
        warehouse,
        "SELECT r.*, d.death_record_id AS death_id FROM review_record AS r "
        "JOIN death_record AS d USING (submission_id, source_row) ORDER BY source_row",
    )
    assert reviews.height == sent.height
    assert reviews["death_record_id"].to_list() == reviews["death_id"].to_list()
    assert reviews["review_id"].unique().to_list() == ["legacy"]
    none = sent["review_method"].is_null() | (sent["review_method"] == "10")
    assert none.any() and (~none).any()
    assert reviews["record_action"].to_list() == [
        "D" if n else action for n, action in zip(none, sent["record_action"], strict=True)
    ]
    assert reviews["review_method"].to_list() == sent["review_method"].to_list()
    assert reviews["review_started_date"].null_count() == reviews.height  # not named: NULL
    assert reviews["family_involvement"].null_count() == reviews.height  # 1.0.0 had none
    kinds = reviews.filter(~none)["review_kind"]
    assert kinds.null_count() == 0  # derived under 2.0.0, as a 2.0.0 review is


def test_a_2_0_0_file_leaves_the_legacy_column_null(tmp_path: Path) -> None:
    out = tmp_path / "v2"
    spec = load_spec(load_canonical().canonical_version)
    generate(spec, SynthOptions(provider_list=("RX2",), months=1, start="2028-04", seed=4), out)
    warehouse = tmp_path / "w.duckdb"
    (outcome,) = load(warehouse, [out], key=KEY)
    assert outcome.status == "loaded"
    counts = stored(
        warehouse, "SELECT count(*) AS n, count(detention_group_1x) AS legacy FROM death_record"
    )
    assert counts["n"][0] > 0 and counts["legacy"][0] == 0


# --- check_canonical ---------------------------------------------------------------------------


def shipped_mapping(version: str) -> dict[str, Any]:
    data = yaml.safe_load((warehouse_root() / "canonical.yaml").read_text(encoding="utf-8"))
    return dict(data["versions"][version])


def with_1_0_0(**changes: Any) -> dict[str, Any]:
    """The shipped 1.0.0 mapping with some of its parts replaced."""
    return {"versions": {"1.0.0": {**shipped_mapping("1.0.0"), **changes}}}


def backfill(**columns: str) -> dict[str, dict[str, str]]:
    return {"death": {**shipped_mapping("1.0.0")["backfill"]["death"], **columns}}


def test_the_shipped_model_checks_clean() -> None:
    assert check_canonical(load_canonical()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (with_1_0_0(renamed={}), "1.0.0: death.detention_status has no home"),
        (
            with_1_0_0(backfill=backfill(drug_alcohol_involvement="provisional_death_type =")),
            "does not parse",
        ),
        (
            with_1_0_0(backfill=backfill(drug_alcohol_involvement="manner_of_death")),
            "reads manner_of_death, which death has not in 1.0.0",
        ),
        (
            with_1_0_0(backfill=backfill(no_such_column="'x'")),
            "backfill sets death.no_such_column, no canonical column",
        ),
        (
            with_1_0_0(codes={"death": {"manner_of_death": {"06": "99"}}}),
            "06 to 99, which is not a code of manner_of_death",
        ),
        (
            with_1_0_0(codes={"death": {"death_record_id": {"a": "b"}}}),
            "no canonical coded field",
        ),
        (
            with_1_0_0(backfill={"death": {}}),
            "canonical field death.drug_alcohol_involvement is neither submitted nor listed",
        ),
        (
            with_1_0_0(
                not_collected={
                    **shipped_mapping("1.0.0")["not_collected"],
                    "death": [
                        *shipped_mapping("1.0.0")["not_collected"]["death"],
                        "drug_alcohol_involvement",
                    ],
                }
            ),
            "drug_alcohol_involvement is backfilled, but the version submits it or lists it",
        ),
        (
            {"legacy_columns": {"death": {"death_date": {"type": "DATE", "meaning": "x"}}}},
            "Legacy column death.death_date is a field of spec 2.0.0",
        ),
        (
            {"legacy_columns": {"death": {"detention_group_1x": {"type": "TEXT", "meaning": "x"}}}},
            "has the type TEXT",
        ),
    ],
    ids=[
        "field-without-home",
        "backfill-does-not-parse",
        "backfill-reads-canonical-name",
        "backfill-target-unknown",
        "code-not-in-canonical-list",
        "codes-on-uncoded-field",
        "canonical-field-without-source",
        "backfilled-and-not-collected",
        "legacy-column-clashes",
        "legacy-type-unknown",
    ],
)
def test_check_canonical_refuses_a_wrong_mapping(
    warehouse_copy: Path, changes: dict[str, Any], expected: str
) -> None:
    found = check_canonical(write_model(warehouse_copy, changes))
    assert any(expected in p for p in found), found


SPLIT = shipped_mapping("1.0.0")["split"]["review"]


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ({**SPLIT, "from": "nowhere"}, "split reads nowhere"),
        (
            {**SPLIT, "columns": {**SPLIT["columns"], "review_rating": "'x'"}},
            "split sets review.review_rating",
        ),
        ({**SPLIT, "where": "review_method IN ("}, "the split condition of review: The expression"),
        (
            {**SPLIT, "columns": {**SPLIT["columns"], "family_involvement": "family_involvement"}},
            "reads family_involvement, which death has not in 1.0.0",
        ),
    ],
    ids=["unknown-source", "unknown-column", "where-does-not-parse", "reads-later-field"],
)
def test_check_canonical_refuses_a_wrong_split(
    warehouse_copy: Path, split: dict[str, Any], expected: str
) -> None:
    model = write_model(warehouse_copy, with_1_0_0(split={"review": split}))
    found = check_canonical(model)
    assert any(expected in p for p in found), found


def test_a_field_only_a_split_reads_has_a_home(warehouse_copy: Path) -> None:
    # 2.0.0 has no review_method on the death table: 1.0.0's lives on as the method of its split
    # review, and without the split it would have nowhere to go.
    no_split = write_model(warehouse_copy, with_1_0_0(split={}))
    assert any("death.review_method has no home" in p for p in check_canonical(no_split))
    assert not any("has no home" in p for p in check_canonical(load_canonical()))


def test_a_mapping_without_its_migration_is_refused_in_one_sentence_loading_nothing(
    tmp_path: Path, v1_files: Path, warehouse_copy: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    # The model gains a column no migration makes: as a new version mapped in, its migration
    # forgotten.
    write_model(
        warehouse_copy,
        {"legacy_columns": {"death": {"new_measure_2x": {"type": "VARCHAR", "meaning": "new"}}}},
    )
    try:
        with pytest.raises(WarehouseError) as refused:
            load(warehouse, [v1_files], key=KEY, root=warehouse_copy)
    finally:
        load_canonical.cache_clear()
    said = str(refused.value)
    assert said.startswith("The warehouse's death_record table has no column for new_measure_2x")
    assert "add a migration in warehouse/migrations" in said
    with connect(warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM death_record").fetchone() == (0,)

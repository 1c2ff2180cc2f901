"""The canonical model's mapping features (build plan 9.1), against real DuckDB files: an older
version's submission loaded into a canonical version that renamed a field, maps codes, backfills
new columns from the record as written, keeps a legacy column and splits child rows; and
``check_canonical`` refusing every way of getting a mapping wrong.

Each test works on a temporary copy of the spec and of ``warehouse/``, so the shipped canonical
model (which has none of these yet) is not touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from mhdeaths.paths import warehouse_root
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.canonical import (
    CanonicalModel,
    canonical_columns,
    canonical_spec,
    check_canonical,
    load_canonical,
)
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key
from mhdeaths.warehouse.schema import migrations
from mhdeaths.warehouse.store import connect, table_columns

from ..child_table import add_review_table

KEY = demo_key()
NEXT = len(migrations()) + 1


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


def add_migration(root: Path, name: str, sql: str) -> None:
    number = len(list((root / "migrations").glob("*.sql"))) + 1
    (root / "migrations" / f"{number:04d}_{name}.sql").write_text(sql, encoding="utf-8")


def rename_in_1_1_0(spec_root: Path, old: str, new: str) -> None:
    """Make the copy's 1.1.0 call a death field by another name (no rule reads this one)."""
    path = spec_root / "1.1.0" / "tables" / "death.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(f"name: {old}\n") == 1
    path.write_text(text.replace(f"name: {old}\n", f"name: {new}\n"), encoding="utf-8")


@pytest.fixture
def warehouse_copy(tmp_path: Path) -> Path:
    root = tmp_path / "warehouse-src"
    shutil.copytree(warehouse_root(), root)
    return root


@pytest.fixture(scope="module")
def v1_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One provider-month of 1.0.0 deaths, some of them of provisional type 06 and reviewed."""
    out = tmp_path_factory.mktemp("v1")
    spec = load_spec("1.0.0")
    generate(spec, SynthOptions(provider_list=("RX1",), months=1, start="2027-04", seed=3), out)
    (death,) = out.rglob("*_death.csv")
    frame = pl.read_csv(death, infer_schema=False)
    # Every third death is a drug or alcohol death: the code 1.1.0's copy maps onto 05 below.
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then(pl.lit("06"))
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


# --- Rename, codes, backfill and a legacy column ---------------------------------------------


MAPPED: dict[str, Any] = {
    "legacy_columns": {
        "death": {
            "death_type_1x": {
                "type": "VARCHAR",
                "meaning": "1.0.0's provisional death type as submitted, before codes mapped it.",
            }
        }
    },
    "versions": {
        "1.0.0": {
            "renamed": {"death": {"lfpse_event_id": "psirf_event_id"}},
            "not_collected": {},
            "codes": {"death": {"provisional_death_type": {"06": "05"}}},
            "backfill": {
                "death": {
                    "family_involvement": "CASE WHEN review_method <> '10' THEN 'N' END",
                    "death_type_1x": "provisional_death_type",
                }
            },
        },
        "1.1.0": {"renamed": {}},
    },
}


@pytest.fixture
def mapped(spec_copy: Path, warehouse_copy: Path) -> CanonicalModel:
    rename_in_1_1_0(spec_copy, "lfpse_event_id", "psirf_event_id")
    model = write_model(warehouse_copy, MAPPED)
    # The release that renames a field and adds a legacy column changes the table in a migration.
    add_migration(
        warehouse_copy,
        "psirf_and_legacy_death_type",
        "ALTER TABLE death_record RENAME lfpse_event_id TO psirf_event_id;\n"
        "ALTER TABLE death_record ADD death_type_1x VARCHAR;\n",
    )
    return model


def test_a_1_0_0_file_lands_renamed_code_mapped_and_backfilled(
    tmp_path: Path, spec_copy: Path, warehouse_copy: Path, mapped: CanonicalModel, v1_files: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    (outcome,) = load(warehouse, [v1_files], key=KEY, spec_root=spec_copy, root=warehouse_copy)
    assert outcome.status == "loaded", outcome.report.verdict
    with connect(warehouse, read_only=True) as con:
        assert check_canonical(mapped, spec_copy, table_columns(con)) == []
    records = stored(
        warehouse,
        "SELECT source_row, psirf_event_id, provisional_death_type, death_type_1x, "
        "family_involvement, review_method FROM death_record ORDER BY 1",
    )
    sent = submitted(v1_files)
    assert records.height == sent.height
    # renamed: the 1.0.0 field's values under the canonical name
    assert records["psirf_event_id"].to_list() == sent["lfpse_event_id"].to_list()
    # codes: 06 became 05, every other code as sent
    expected = sent["provisional_death_type"].replace({"06": "05"})
    assert records["provisional_death_type"].to_list() == expected.to_list()
    # backfill reads the record as written: the legacy column keeps 06, before codes mapped it
    assert records["death_type_1x"].to_list() == sent["provisional_death_type"].to_list()
    assert (records["death_type_1x"] == "06").sum() > 0
    reviewed = records["review_method"] != "10"
    assert reviewed.any() and (~reviewed).any()
    assert records.filter(reviewed)["family_involvement"].unique().to_list() == ["N"]
    assert records.filter(~reviewed)["family_involvement"].null_count() == (~reviewed).sum()
    canonical = canonical_spec(mapped, spec_copy)
    assert "death_type_1x" not in {f.name for f in canonical.table("death").fields}


def test_a_1_1_0_file_leaves_the_legacy_column_null(
    tmp_path: Path, spec_copy: Path, warehouse_copy: Path, mapped: CanonicalModel
) -> None:
    out = tmp_path / "v2"
    spec = load_spec("1.1.0", spec_copy)
    generate(spec, SynthOptions(provider_list=("RX2",), months=1, start="2027-10", seed=4), out)
    warehouse = tmp_path / "w.duckdb"
    (outcome,) = load(warehouse, [out], key=KEY, spec_root=spec_copy, root=warehouse_copy)
    assert outcome.status == "loaded"
    counts = stored(
        warehouse, "SELECT count(*) AS n, count(death_type_1x) AS legacy FROM death_record"
    )
    assert counts["n"][0] > 0 and counts["legacy"][0] == 0


# --- Split: child rows from an older version's records -----------------------------------------

SPLIT: dict[str, Any] = {
    "versions": {
        "1.0.0": {
            "split": {
                "review": {
                    "from": "death",
                    "where": "review_method IS NOT NULL AND review_method <> '10'",
                    "columns": {
                        "spec_version": "spec_version",
                        "org_id_provider": "org_id_provider",
                        "reporting_period": "reporting_period",
                        "death_record_id": "death_record_id",
                        "record_action": "record_action",
                        "review_id": "'legacy'",
                        "review_method": "review_method",
                        "review_completed_date": "review_completed_date",
                    },
                }
            }
        }
    }
}


def test_a_split_makes_one_child_row_per_matching_record(
    tmp_path: Path, spec_copy: Path, warehouse_copy: Path, v1_files: Path
) -> None:
    add_review_table(spec_copy)
    model = write_model(warehouse_copy, SPLIT)
    canonical = canonical_spec(model, spec_copy)
    columns = canonical_columns(model, canonical, "review")
    ddl = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
    add_migration(warehouse_copy, "review_record", f"CREATE TABLE review_record ({ddl});\n")
    warehouse = tmp_path / "w.duckdb"
    (outcome,) = load(warehouse, [v1_files], key=KEY, spec_root=spec_copy, root=warehouse_copy)
    assert outcome.status == "loaded"
    with connect(warehouse, read_only=True) as con:
        assert check_canonical(model, spec_copy, table_columns(con)) == []
    reviews = stored(
        warehouse,
        "SELECT r.*, d.review_method AS death_method FROM review_record AS r "
        "JOIN death_record AS d USING (submission_id, source_row) ORDER BY source_row",
    )
    sent = submitted(v1_files)
    chosen = sent.filter(pl.col("review_method").is_not_null() & (pl.col("review_method") != "10"))
    assert chosen.height > 0
    assert reviews.height == chosen.height
    assert reviews["death_record_id"].to_list() == chosen["death_record_id"].to_list()
    assert reviews["review_method"].to_list() == chosen["review_method"].to_list()
    assert reviews["review_id"].unique().to_list() == ["legacy"]
    assert reviews["review_started_date"].null_count() == reviews.height  # not named: NULL
    assert (reviews["review_method"] == reviews["death_method"]).all()


# --- check_canonical ---------------------------------------------------------------------------


def problems_with(spec_copy: Path, warehouse_copy: Path, changes: dict[str, Any]) -> list[str]:
    rename_in_1_1_0(spec_copy, "lfpse_event_id", "psirf_event_id")
    return check_canonical(write_model(warehouse_copy, changes), spec_copy)


def test_the_mapped_model_checks_clean(spec_copy: Path, warehouse_copy: Path) -> None:
    assert problems_with(spec_copy, warehouse_copy, MAPPED) == []


def with_1_0_0(**mapping: Any) -> dict[str, Any]:
    one = {**MAPPED["versions"]["1.0.0"], **mapping}
    return {**MAPPED, "versions": {**MAPPED["versions"], "1.0.0": one}}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (with_1_0_0(renamed={}), "1.0.0: death.lfpse_event_id has no home"),
        (
            with_1_0_0(backfill={"death": {"death_type_1x": "provisional_death_type ="}}),
            "does not parse",
        ),
        (
            with_1_0_0(backfill={"death": {"death_type_1x": "manner_of_death"}}),
            "reads manner_of_death, which death has not in 1.0.0",
        ),
        (
            with_1_0_0(backfill={"death": {"no_such_column": "'x'"}}),
            "backfill sets death.no_such_column, no canonical column",
        ),
        (
            with_1_0_0(codes={"death": {"provisional_death_type": {"06": "99"}}}),
            "06 to 99, which is not a code of provisional_death_type",
        ),
        (
            with_1_0_0(codes={"death": {"death_record_id": {"a": "b"}}}),
            "no canonical coded field",
        ),
        (
            with_1_0_0(
                backfill={"death": {"death_type_1x": "provisional_death_type"}},
                not_collected={"death": ["family_involvement"]},
                codes={},
            ),
            None,
        ),
        (
            with_1_0_0(backfill={"death": {"death_type_1x": "'x'"}}),
            "canonical field death.family_involvement is neither submitted nor listed",
        ),
        (
            with_1_0_0(
                not_collected={"death": ["family_involvement"]},
                backfill={"death": {"family_involvement": "'N'", "death_type_1x": "'x'"}},
            ),
            "family_involvement is backfilled, but the version submits it or lists it",
        ),
        (
            {
                **MAPPED,
                "legacy_columns": {"death": {"death_date": {"type": "DATE", "meaning": "x"}}},
            },
            "Legacy column death.death_date is a field of spec 1.1.0",
        ),
        (
            {**MAPPED, "legacy_columns": {"death": {"x_1x": {"type": "TEXT", "meaning": "x"}}}},
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
        "legacy-column-without-backfill-is-fine",
        "canonical-field-without-source",
        "backfilled-and-not-collected",
        "legacy-column-clashes",
        "legacy-type-unknown",
    ],
)
def test_check_canonical_refuses_a_wrong_mapping(
    spec_copy: Path, warehouse_copy: Path, changes: dict[str, Any], expected: str | None
) -> None:
    found = problems_with(spec_copy, warehouse_copy, changes)
    if expected is None:
        assert found == []
    else:
        assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ({"from": "death", "columns": {"review_id": "'legacy'"}}, None),
        ({"from": "nowhere", "columns": {"review_id": "'x'"}}, "split reads nowhere"),
        ({"from": "death", "columns": {"review_rating": "'x'"}}, "split sets review.review_rating"),
        (
            {"from": "death", "where": "review_method IN (", "columns": {"review_id": "'x'"}},
            "the split condition of review: The expression",
        ),
        (
            {"from": "death", "columns": {"review_id": "family_involvement"}},
            "reads family_involvement, which death has not in 1.0.0",
        ),
    ],
    ids=["clean", "unknown-source", "unknown-column", "where-does-not-parse", "reads-later-field"],
)
def test_check_canonical_refuses_a_wrong_split(
    spec_copy: Path, warehouse_copy: Path, split: dict[str, Any], expected: str | None
) -> None:
    add_review_table(spec_copy)
    model = write_model(warehouse_copy, {"versions": {"1.0.0": {"split": {"review": split}}}})
    found = check_canonical(model, spec_copy)
    if expected is None:
        assert found == []
    else:
        assert any(expected in p for p in found), found


def test_a_field_only_a_split_reads_has_a_home(spec_copy: Path, warehouse_copy: Path) -> None:
    # The copy's 1.1.0 no longer has review_method on the death table; 1.0.0's lives on as the
    # method of a split review.
    add_review_table(spec_copy)
    path = spec_copy / "1.1.0" / "tables" / "death.yaml"
    death = yaml.safe_load(path.read_text(encoding="utf-8"))
    death["fields"] = [f for f in death["fields"] if f["name"] != "review_method"]
    path.write_text(yaml.safe_dump(death, sort_keys=False), encoding="utf-8")
    rules = yaml.safe_load((spec_copy / "1.1.0" / "rules.yaml").read_text(encoding="utf-8"))
    kept = [r for r in rules if "review_method" not in str(r.get("expression", ""))]
    (spec_copy / "1.1.0" / "rules.yaml").write_text(yaml.safe_dump(kept), encoding="utf-8")
    no_split = write_model(warehouse_copy, {})
    assert any("death.review_method has no home" in p for p in check_canonical(no_split, spec_copy))
    split = {"from": "death", "columns": {"review_method": "review_method"}}
    model = write_model(warehouse_copy, {"versions": {"1.0.0": {"split": {"review": split}}}})
    assert not any("review_method has no home" in p for p in check_canonical(model, spec_copy))

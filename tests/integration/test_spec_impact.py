"""``mhdeaths spec impact``: what a new spec version would do to the national figures, on a real
warehouse, before release (build plan section 10).

The new side of the assessment must be exactly what the warehouse itself derives and attributes
(the same expressions, read from the same stored values); a version assessed against itself moves
nothing; the review's probe cases move for the reason the 2.0.0 definitions give; the outputs
hold no pseudonym or identifier and release no small count; and a user's mistake is one sentence
and exit 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from mhdeaths.benchmark.compute import compute
from mhdeaths.benchmark.disclosure_control import release
from mhdeaths.benchmark.impact import RESTRICTED, assess_impact, compare_indicators
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key
from mhdeaths.warehouse.store import connect

from ..functional.cli import mhdeaths

KEY = demo_key()
NEW, OLD = load_spec("2.0.0"), load_spec("1.1.0")
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def find(folder: Path, wanted: Callable[[dict[str, Any]], bool]) -> tuple[Path, int]:
    """The first original death record in the folder that ``wanted`` picks: its file and row."""
    for path in sorted(folder.glob("*/*_death.csv")):
        for i, record in enumerate(pl.read_csv(path, infer_schema=False).iter_rows(named=True)):
            if wanted(record):
                return path, i
    raise AssertionError("no such record to plant a probe in")


def edit(path: Path, row: int, **values: str | None) -> dict[str, str | None]:
    """Set fields of one record of a death file; returns the record as it was."""
    frame = pl.read_csv(path, infer_schema=False)
    before = frame.row(row, named=True)
    for name, value in values.items():
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == row)
            .then(pl.lit(value, dtype=pl.String))
            .otherwise(pl.col(name))
            .alias(name)
        )
    frame.write_csv(path)
    return before


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A 2.0.0 warehouse with the review's probe cases planted; the probe -> its record id."""
    out = tmp_path_factory.mktemp("probes")
    generate(
        NEW,
        SynthOptions(provider_list=("RX1", "RX2"), months=3, start="2028-04", seed=41),
        out / "files",
    )
    files = out / "files"
    planted: dict[str, str] = {}
    # A registered holding code (Y33.9): 1.1.0 read it as suicide; 2.0.0 as not yet known.
    path, row = find(
        files,
        lambda r: r["declared_death_category"] == "IPD" and r["underlying_cause_icd10"] is None,
    )
    planted["holding_code"] = edit(
        path, row, underlying_cause_icd10="Y339", underlying_cause_source="R"
    )["death_record_id"]
    # A death after a transfer with no record at the receiving provider: out of the D30 rate.
    path, row = find(
        files,
        lambda r: (
            r["declared_death_category"] == "D30"
            and r["discharge_method"] != "4"
            and r["receiving_provider"] is None
        ),
    )
    planted["transfer"] = edit(path, row, discharge_destination="53", receiving_provider="RVN")[
        "death_record_id"
    ]
    # One person reported by both providers with different dates of death: 1.1.0 matched on the
    # NHS number and the date and counted two deaths; 2.0.0 matches on the number and counts one.
    first, row = find(
        files,
        lambda r: (
            r["org_id_provider"] == "RX1"
            and r["declared_death_category"] == "IPD"
            and r["death_record_id"] not in planted.values()
        ),
    )
    person = pl.read_csv(first, infer_schema=False).row(row, named=True)
    path, row = find(
        files,
        lambda r: (
            r["org_id_provider"] == "RX2"
            and r["declared_death_category"] in ("D30", "OOS")
            and r["death_date"] != person["death_date"]
        ),
    )
    planted["two_dates"] = edit(path, row, nhs_number=person["nhs_number"])["death_record_id"]
    warehouse = out / "w.duckdb"
    outcomes = load(warehouse, [files], key=KEY)
    assert all(o.status == "loaded" for o in outcomes), [o.report.counts for o in outcomes]
    return warehouse, planted


def moved(warehouse: Path) -> pl.DataFrame:
    return assess_impact(warehouse, NEW, OLD).moved


def test_the_new_side_is_what_the_warehouse_derives_and_attributes(
    probes: tuple[Path, dict[str, str]],
) -> None:
    warehouse, _ = probes
    impact = assess_impact(warehouse, NEW, NEW)
    assert impact.moved.height == 0  # a version against itself moves nothing
    with connect(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT death_category, count(*) FROM deaths WHERE counted GROUP BY ALL"
        ).fetchall()
    assert impact.counted["new"] == {"all": sum(n for _, n in rows), **dict(sorted(rows))}


def test_a_version_against_itself_moves_nothing(probes: tuple[Path, dict[str, str]]) -> None:
    warehouse, _ = probes
    same = assess_impact(warehouse, OLD, OLD)
    assert same.moved.height == 0
    assert same.counted["old"] == same.counted["new"]


def test_each_probe_moves_for_its_reason(probes: tuple[Path, dict[str, str]]) -> None:
    warehouse, planted = probes
    found = {r["death_record_id"]: r for r in moved(warehouse).iter_rows(named=True)}
    holding = found[planted["holding_code"]]
    # The holding code is no cause: the next source in the precedence (here the provisional
    # manner of death) decides.
    assert holding["cause_group_old"] == "SUI" and holding["cause_group_new"] != "SUI"
    assert holding["cause_basis_new"] != "REG"
    assert holding["moved_by"] in ("provisional_cause_class", "cause_basis")
    assert holding["definitions_differing"].split()[-1] == "cause_group"
    twice = found[planted["two_dates"]]
    assert twice["counted_old"] and not twice["counted_new"]
    assert twice["attributed_provider_new"] == "RX1" and twice["moved_by"] == "attribution"
    transfer = found[planted["transfer"]]
    assert transfer["left_d30_rate"] and transfer["death_category_new"] == "D30"
    assert transfer["moved_by"] == "transfer_discharge"


def test_the_command_writes_restricted_records_and_released_counts(
    probes: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    warehouse, planted = probes
    out = tmp_path / "impact"
    run = mhdeaths("spec", "impact", "2.0.0", "--against", "1.1.0", "-w", warehouse, "-o", out)
    assert run.code == 0, run.output
    assert "deaths moved" in run.stdout and "would reject" in run.stdout
    assert (out / "rejections.csv").exists() and (out / "indicators.csv").exists()
    assert summary_has_indicators(out)
    csv = (out / "moved_deaths.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0] == RESTRICTED
    assert all(record in csv for record in planted.values())
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["new"], summary["old"]) == ("2.0.0", "1.1.0")
    # Every count released under the rule: withheld (*) or a multiple of 5.
    counts = [summary["deaths_moved"], *summary["moved_by"].values()]
    counts += [v for side in summary["counted"].values() for v in side.values()]
    assert all(c == "*" or int(c) % 5 == 0 for c in counts), counts
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not HEX64.search(text), f"a pseudonym in {path.name}"
    html = (out / "impact.html").read_text(encoding="utf-8")
    assert "moved_deaths.csv" in html and "<script" not in html


def latest(warehouse: Path) -> Any:
    with connect(warehouse, read_only=True) as con:
        row = con.execute("SELECT max(received_at) FROM submission").fetchone()
    assert row is not None
    return row[0]


def test_the_new_figures_are_the_benchmark_s(probes: tuple[Path, dict[str, str]]) -> None:
    warehouse, _ = probes
    when = latest(warehouse)
    figures = compare_indicators(warehouse, NEW, OLD, as_at=when)
    published = release(compute(warehouse, as_at=when), "nhs_england")
    real = {(str(r["indicator"]), str(r["provider"])): r for r in published.rows}
    single = {r.indicator.id for r in published.results if len(r.indicator.live_variants) == 1}
    new = figures.filter(pl.col("indicator_new").is_not_null())
    assert new.height > 0
    for row in new.iter_rows(named=True):
        key = row["indicator_new"]
        if key not in single:
            key = f"{key}.{row['variant_new']}"
        cells = real[(key, row["provider"])]
        for ours, theirs in (
            ("observed_new", "observed"),
            ("denominator_new", "denominator"),
            ("rate_new", "value"),
            ("band_new", "band_95"),
        ):
            expected = None if cells[theirs] is None else str(cells[theirs])
            assert row[ours] == expected, (key, row["provider"], ours)
    # Every count released under the rule: withheld or rounded to 5.
    for column in ("observed_old", "observed_new"):
        cells = [c for c in figures[column].to_list() if c is not None]
        assert all(c == "*" or float(c) % 5 == 0 for c in cells), column
    # Each retired figure is set against what superseded it.
    paired = set(zip(figures["indicator_old"], figures["indicator_new"], strict=True))
    assert ("deaths_after_discharge", "deaths_after_discharge_v2") in paired
    assert ("deaths_reviewed", "deaths_case_record_reviewed") in paired


def test_a_kept_figure_moves_only_where_deaths_moved(probes: tuple[Path, dict[str, str]]) -> None:
    # An indicator both versions compute under the same id and variant reads no definition that
    # changed, so its figures can differ only for a provider one of whose deaths the matching
    # moved (two records with different dates became one death).
    warehouse, _ = probes
    impact = assess_impact(warehouse, NEW, OLD, indicators=True)
    assert impact.indicators is not None
    moved = impact.moved.filter(pl.col("moved_by") == "attribution")
    touched = set(moved["attributed_provider_old"]) | set(moved["attributed_provider_new"])
    assert touched, "the probe warehouse has a death two providers report with two dates"
    kept = impact.indicators.filter(
        (pl.col("indicator_old") == pl.col("indicator_new"))
        & (pl.col("variant_old") == pl.col("variant_new"))
    )
    assert set(kept["indicator_new"]) >= {"inpatient_deaths", "family_involvement"}
    for row in kept.iter_rows(named=True):
        same = all(row[f"{n}_old"] == row[f"{n}_new"] for n in ("observed", "denominator"))
        assert same or row["provider"] in touched | {"England"}, row


def test_a_version_against_itself_changes_no_figure(probes: tuple[Path, dict[str, str]]) -> None:
    warehouse, _ = probes
    figures = compare_indicators(warehouse, NEW, NEW, as_at=latest(warehouse))
    assert figures.height > 0
    assert figures["indicator_old"].to_list() == figures["indicator_new"].to_list()
    for name in ("observed", "denominator", "rate", "ratio", "band"):
        assert figures[f"{name}_old"].to_list() == figures[f"{name}_new"].to_list(), name
    assert not figures["band_changed"].any()


def test_the_new_rules_find_nothing_in_what_they_accepted_and_report_the_rest(
    tmp_path: Path,
) -> None:
    # 1.1.0 deaths with PSIRF reviews that judged avoidability (which 2.0.0 rejects), and 2.0.0
    # submissions the validator accepted under the same rules.
    files = tmp_path / "files"
    generate(OLD, SynthOptions(provider_list=("RX1",), months=2, start="2028-01", seed=3), files)
    path, row = find(files, lambda r: r["review_method"] not in (None, "10"))
    edit(path, row, review_method="04", problems_in_care_judgement="Y")
    generate(NEW, SynthOptions(provider_list=("RX2",), months=2, start="2028-04", seed=4), files)
    warehouse = tmp_path / "w.duckdb"
    assert all(o.status == "loaded" for o in load(warehouse, [files], key=KEY))
    impact = assess_impact(warehouse, NEW, OLD, recent_months=12)
    found = impact.rejected
    assert found is not None and impact.rejected_submissions == 4
    assessed = found.filter(pl.col("assessable") == "yes")
    # What the validator accepted under 2.0.0, the same rules on the stored records accept.
    assert assessed.filter(pl.col("spec_version") == "2.0.0").height == 0
    psirf = assessed.filter(pl.col("rule_id") == "review.psirf.no_avoidability")
    assert psirf["records"].sum() >= 1 and set(psirf["spec_version"]) == {"1.1.0"}
    needs = set(found.filter(pl.col("assessable") == "needs field")["rule_id"])
    assert "death.code_list.nhs_number_status" in needs  # 1.1.0 had no NHS number status
    unassessable = set(found.filter(pl.col("assessable") == "not assessable")["rule_id"])
    checksum = [r.id for r in NEW.rules if "nhs_number" in r.fields and r.table == "death"]
    assert checksum and set(checksum) <= unassessable  # the number itself is not kept


def summary_has_indicators(out: Path) -> bool:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return any(i["new"] == "deaths_after_discharge_v2.all" for i in summary["indicators"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("1.1.0", "--against", "2.0.0"), "must be later than"),
        (("9.9.9", "--against", "1.1.0"), "There is no spec version 9.9.9"),
    ],
)
def test_a_mistake_is_one_sentence_and_exit_2(
    probes: tuple[Path, dict[str, str]], args: tuple[str, ...], says: str
) -> None:
    warehouse, _ = probes
    run = mhdeaths("spec", "impact", *args, "-w", warehouse)
    assert run.code == 2
    assert says in run.output and "Traceback" not in run.output


def test_a_missing_warehouse_is_one_sentence(tmp_path: Path) -> None:
    run = mhdeaths("spec", "impact", "2.0.0", "--against", "1.1.0", "-w", tmp_path / "none.duckdb")
    assert run.code == 2 and "There is no warehouse" in run.output

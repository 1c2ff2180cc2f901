"""The report's inequalities section, its recurring-themes table and the provider pages' sentinel
events (issue 15), on a synthetic national warehouse written to spec 2.0.0.

The generator plants two inequalities (``mhdeaths.synth.oversight``): deaths of Black people at
twice the rate of their share of bed days, and a deprivation gradient (decile 1 about 2.7 times
decile 10). The section must find both from the released figures. The themes table and the
sentinel lines are checked against counts made here, in SQL, from what the warehouse holds; and
every new cell is attacked as ``test_benchmark_disclosure`` attacks the indicators' cells.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from mhdeaths.benchmark.compute import NATIONAL, compute
from mhdeaths.benchmark.disclosure_control import RELEASABLE_RULES
from mhdeaths.benchmark.inequalities import (
    DECILES,
    Tables,
    compute_tables,
    financial_year,
)
from mhdeaths.benchmark.provider_summary import QUARTER_LINES, SENTINEL_LABELS, quarter_counts
from mhdeaths.benchmark.run import Published, publish_benchmarks
from mhdeaths.spec import load_spec
from mhdeaths.stats import DISCLOSURE_RULES, disclose
from mhdeaths.synth import SynthOptions, generate, provider_codes
from mhdeaths.synth.oversight import BLACK_RATE_RATIO
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.overview import reading
from mhdeaths.warehouse.pseudonym import demo_key

from .attacker import (
    Attack,
    Recovery,
    Var,
    build,
    build_tables,
    differences,
    feed,
    nested,
    recoveries,
    table_row_attacks,
)
from .benchmark_outputs import (
    Place,
    Shown,
    read_csv,
    read_json,
    read_provider_pages,
    read_report,
    read_xlsx,
)
from .test_warehouse_reliability import built_once

PROVIDERS = 10
PERIODS = ("2028-08", "2028-09")
PERIOD = PERIODS[-1]
RULES = tuple(sorted(RELEASABLE_RULES))


def national_2_0_0(factory: pytest.TempPathFactory) -> Path:
    """Ten providers over six months from April 2028, every file written to spec 2.0.0. Every
    provider's death rates are raised alike (eight times), so that six months hold enough
    inpatient deaths for a rate ratio of 2 to show: the planted inequalities are in who dies, not
    how many, so raising every provider alike leaves them as they are."""

    def build_warehouse(folder: Path) -> None:
        options = SynthOptions(
            providers=PROVIDERS,
            months=6,
            start="2028-04",
            seed=15,
            outliers=tuple(provider_codes(PROVIDERS)),
            outlier_factor=8.0,
        )
        generate(load_spec("2.0.0"), options, folder / "inbox")
        outcomes = load(folder / "warehouse.duckdb", [folder / "inbox"], key=demo_key())
        assert all(o.status == "loaded" for o in outcomes), [o.label for o in outcomes]

    return built_once(factory, "inequalities-2-0-0", build_warehouse) / "warehouse.duckdb"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return national_2_0_0(tmp_path_factory)


@pytest.fixture(scope="module")
def published(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_benchmarks(warehouse, tmp_path_factory.mktemp("inequalities"), period=PERIOD)


def _query(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    with reading(warehouse) as con:
        return con.execute(sql).fetchall()


def _row(published: Published, measure: str, group: str) -> dict[str, object]:
    assert published.released.tables is not None
    (row,) = [r for r in published.released.tables.rows(measure) if r["group"] == group]
    return row


def _number(value: object) -> float:
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return float(value)


def test_the_inequalities_section_finds_the_planted_inequalities(published: Published) -> None:
    for measure in ("inpatient_deaths", "detained_deaths"):
        black = _row(published, measure, "B")
        low, high = _number(black["ratio_lower"]), _number(black["ratio_upper"])
        # The interval excludes 1 and holds the planted ratio.
        assert 1 < low <= BLACK_RATE_RATIO <= high, (measure, black)
        assert _row(published, measure, "W")["note"] == "reference group"
    most, least = _row(published, "deprivation", "1"), _row(published, "deprivation", "10")
    assert _number(most["ratio"]) > 1 > _number(least["ratio"])
    assert _number(most["ratio_lower"]) > _number(least["ratio_upper"])
    # Every provider-month here was written to 2.0.0, and the report says so.
    tables = published.released.tables
    assert tables is not None
    assert tables.coverage.with_strata == tables.coverage.provider_months == PROVIDERS * 6
    html = published.report.read_text(encoding="utf-8")
    assert "Only provider-months whose activity was submitted to spec 2.0.0" in html
    assert f"That is {PROVIDERS * 6} of the {PROVIDERS * 6} provider-months" in html


def test_the_section_counts_what_the_warehouse_holds(warehouse: Path) -> None:
    # The section's unrounded counts against counts made here from the deaths and activity views.
    tables = compute_tables(warehouse, compute(warehouse, PERIOD))
    ipd = dict(
        _query(
            warehouse,
            "SELECT coalesce(ethnic_group, 'U'), count(*) FROM deaths "
            "WHERE counted AND inpatient_death GROUP BY 1",
        )
    )
    beds = dict(
        _query(warehouse, "SELECT ethnic_group, sum(occupied_bed_days) FROM activity GROUP BY 1")
    )
    frame = tables.ethnic["inpatient_deaths"]
    for group, observed, denominator in frame.iter_rows():
        if group == NATIONAL:
            assert observed == sum(ipd.values()) and denominator == sum(beds.values())
        else:
            assert observed == ipd.get(group, 0) and denominator == beds[group], group
    deciles = dict(
        _query(
            warehouse,
            "SELECT imd_decile, count(*) FROM deaths WHERE counted "
            "AND death_category IN ('IPD', 'D30', 'AWA') GROUP BY 1",
        )
    )
    counts = dict(tables.deprivation.iter_rows())
    assert [counts[d] for d in DECILES] == [deciles.get(int(d), 0) for d in DECILES]
    assert tables.not_known == deciles.get(None, 0)


def test_the_themes_table_counts_what_the_warehouse_holds(
    warehouse: Path, published: Published
) -> None:
    truth: Counter[tuple[str, str, str]] = Counter()
    for theme, provider, died in _query(
        warehouse, "SELECT theme, attributed_provider, death_date FROM themes"
    ):
        assert isinstance(died, dt.date)
        year = financial_year(died.year if died.month >= 4 else died.year - 1)
        truth[(str(theme), str(provider), year)] += 1
        truth[(str(theme), NATIONAL, year)] += 1
    assert sum(truth.values()) > 500
    tables = published.released.tables
    assert tables is not None and tables.years == ("2028-29",)
    labels = {c.code: c.label for c in load_spec("2.0.0").code_list("theme").codes}
    assert tables.theme_labels == labels
    shown = 0
    for row in tables.themes:
        count = truth[(str(row["theme"]), str(row["provider"]), str(row["year"]))]
        assert row["label"] == labels[str(row["theme"])]
        if row["observed"] != "*":
            # Released as the rule rounds the warehouse's count.
            assert row["observed"] == disclose([float(count)]).values[0], row
            shown += 1
    assert shown > 50
    # Every theme of the code list, for every provider and the nation, in the year.
    assert len(tables.themes) == len(labels) * (PROVIDERS + 1)


def test_a_provider_page_shows_its_sentinel_events(warehouse: Path, published: Published) -> None:
    quarter = "death_date >= DATE '2028-07-01' AND death_date < DATE '2028-10-01'"
    truth = {
        provider: counts
        for provider, *counts in _query(
            warehouse,
            "SELECT attributed_provider, "
            "count(*) FILTER (WHERE death_category = 'AWA'), "
            "count(*) FILTER (WHERE death_category IN ('IPD', 'D30', 'AWA') "
            "AND restrictive_intervention_24h = 'Y'), "
            "count(*) FILTER (WHERE died_in_state_detention), "
            "count(*) FILTER (WHERE ligature_anchor = 'N') "
            f"FROM deaths WHERE counted AND {quarter} GROUP BY 1",
        )
    }
    assert sum(c[2] for c in truth.values()) > 20  # deaths in state detention to count
    pages = read_provider_pages(published.report.parent)
    assert sorted(pages) == sorted(published.benchmarks.providers)
    for provider, page in pages.items():
        html = (published.report.parent / "providers" / f"{provider}.html").read_text()
        assert all(label in html for label in SENTINEL_LABELS)
        counts = [*truth.get(provider, [0, 0, 0, 0]), 0, 0]  # no inquest or response is due yet
        for i, count in enumerate(counts):
            text = disclose([float(count)]).text[0]
            expected: Shown = "*" if text == "*" else float(text)
            assert page.cells[("quarter", provider, f"sentinel.{i}")] == expected, (provider, i)


def test_every_format_releases_the_same_new_cells(published: Published) -> None:
    out = published.report.parent
    _document, cells = read_json(out)
    new = {p: v for p, v in cells.items() if p[0] in ("inequality", "theme")}
    assert len(new) > 300 and "*" in new.values()
    for other in (read_csv(out), read_xlsx(out)):
        assert {p: other.get(p, "missing") for p in new} == new
    report = read_report(out).cells
    in_report = {p: v for p, v in report.items() if p[0] in ("inequality", "theme")}
    assert len(in_report) > 300
    assert {p: new.get(p, "missing") for p in in_report} == in_report


def _truth(path: Path, tables: Tables, period: str) -> dict[Var, int]:
    """The true count of every new cell: the section's, the themes' and the sentinel lines'."""
    truth: dict[Var, int] = {}
    for measure, frame in tables.ethnic.items():
        for group, observed, denominator in frame.iter_rows():
            label = "all" if group == NATIONAL else str(group)
            truth[(period, "inequality", measure, label, "observed")] = int(observed)
            truth[(period, "inequality", measure, label, "denominator")] = int(denominator)
    total = int(tables.deprivation["observed"][-1])
    for group, observed in tables.deprivation.iter_rows():
        label = "all" if group == NATIONAL else str(group)
        truth[(period, "inequality", "deprivation", label, "observed")] = int(observed)
        if label != "all":
            truth[(period, "inequality", "deprivation", label, "denominator")] = total
    truth[(period, "inequality", "deprivation", "not_known", "observed")] = int(tables.not_known)
    for theme, provider, year, observed in tables.themes.iter_rows():
        truth[(period, "theme", theme, provider, year, "observed")] = int(observed)
    benchmarks = compute(path, period)
    counts = quarter_counts(path, benchmarks)
    for provider in benchmarks.providers:
        for line, count in zip(
            QUARTER_LINES, counts.get(provider, (0,) * len(QUARTER_LINES)), strict=True
        ):
            truth[(period, "quarter", provider, line)] = count
    return truth


@pytest.mark.slow
def test_no_attack_recovers_a_count_from_the_new_tables(
    warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    truth: dict[Var, int] = {}
    for period in PERIODS:
        truth |= _truth(warehouse, compute_tables(warehouse, compute(warehouse, period)), period)
    units = {"inpatient_deaths": (100_000.0, 2), "detained_deaths": (100_000.0, 2)}
    units["deprivation"] = (100.0, 1)
    found: list[Recovery] = []
    stats: Counter[str] = Counter()
    for rule in RULES:
        spec = DISCLOSURE_RULES[rule]
        published: dict[str, dict[Place, Shown]] = {}
        pins: dict[Var, int] = {}
        providers: tuple[str, ...] = ()
        for period in PERIODS:
            out = tmp_path_factory.mktemp(f"attack-{rule}-{period}")
            done = publish_benchmarks(warehouse, out, period=period, rule=rule)
            providers = done.benchmarks.providers
            _document, cells = read_json(out)
            for provider, page in read_provider_pages(out).items():
                cells |= {p: v for p, v in page.cells.items() if p[0] == "quarter"}
                assert any(p[0] == "quarter" for p in page.cells), provider
            published[period] = cells
            found += table_row_attacks(period, cells, spec, truth, units, pins)
            stats["withheld"] += sum(v == "*" for p, v in cells.items() if p[0] != "row")
        for informed in (None, truth):
            attack = Attack(spec, informed)
            for period, cells in published.items():
                quarter = {p: v for p, v in cells.items() if p[0] == "quarter"}
                build(attack, period, quarter, {}, providers, {})
                build_tables(attack, period, cells)
            stats["fed"] += feed(attack, pins)
            attack.propagate()
            tables, wrong = recoveries(attack, truth)
            found += tables + nested(attack, truth) + differences(attack, *PERIODS, truth)
            stats["pinned"] += len(attack.pinned())
            stats["wrong_pins"] += wrong
            stats["contradictions"] += attack.contradictions
    print(dict(stats))
    assert stats["withheld"] > 300
    assert stats["pinned"]  # the attacks do narrow counts
    assert stats["wrong_pins"] == 0 and stats["contradictions"] == 0
    assert not found, found[:5]


def test_a_rate_from_a_true_count_would_give_it_back() -> None:
    # The row attack has teeth: a Black rate computed from the true 29 deaths beside the released
    # 30 and bed days gives back 29.
    rule = DISCLOSURE_RULES["nhs_england"]
    var = ("t", "inequality", "inpatient_deaths", "B", "observed")
    cells: dict[Place, Shown] = {
        ("inequality", "inpatient_deaths", "B", "observed"): 30.0,
        ("inequality", "inpatient_deaths", "B", "denominator"): 65675.0,
        ("inequality", "inpatient_deaths", "B", "value"): round(29 / 65674 * 100_000, 2),
    }
    units = {"inpatient_deaths": (100_000.0, 2)}
    found = table_row_attacks("t", cells, rule, {var: 29}, units)
    assert [(f.attack, f.value) for f in found] == [("rate x denominator", 29)]


def test_a_warehouse_without_strata_shows_no_inequality_table(tmp_path: Path) -> None:
    # A warehouse of 1.x activity alone has no strata: the section says so and shows no table.
    options = SynthOptions(providers=2, months=2, start="2027-06", seed=3)
    generate(load_spec("1.1.0"), options, tmp_path / "inbox")
    load(tmp_path / "warehouse.duckdb", [tmp_path / "inbox"], key=demo_key())
    done = publish_benchmarks(tmp_path / "warehouse.duckdb", tmp_path / "out")
    assert done.released.tables is not None
    assert done.released.tables.coverage.with_strata == 0
    html = done.report.read_text(encoding="utf-8")
    assert "None of the 4 provider-months with activity in the window does yet" in html
    assert 'table class="inequality"' not in html
    assert "No theme of a counted death has been submitted yet." in html


def test_the_attacker_knows_how_the_new_tables_add_up() -> None:
    # The table relations have teeth: with the national theme count and one provider's known
    # exactly (as they were before rounding), the other provider's withheld count is pinned; so
    # is a withheld ethnic group beside its total and the other groups.
    attack = Attack(DISCLOSURE_RULES["nhs_england"])
    cells: dict[Place, Shown] = {
        ("theme", "RA", "RZ1", "2028-29", "observed"): "*",
        ("theme", "RA", "RZ2", "2028-29", "observed"): 5.0,
        ("theme", "RA", NATIONAL, "2028-29", "observed"): 10.0,
        ("inequality", "inpatient_deaths", "M", "observed"): "*",
        ("inequality", "inpatient_deaths", "W", "observed"): 120.0,
        ("inequality", "inpatient_deaths", "all", "observed"): 125.0,
    }
    build_tables(attack, "t", cells)
    exact = {
        ("t", "theme", "RA", "RZ2", "2028-29", "observed"): 6,
        ("t", "theme", "RA", NATIONAL, "2028-29", "observed"): 9,
        ("t", "inequality", "inpatient_deaths", "W", "observed"): 121,
        ("t", "inequality", "inpatient_deaths", "all", "observed"): 125,
    }
    for var, value in exact.items():
        attack.bounds[var] = [value, value]
    attack.propagate()
    truth = {
        **exact,
        ("t", "theme", "RA", "RZ1", "2028-29", "observed"): 3,
        ("t", "inequality", "inpatient_deaths", "M", "observed"): 4,
    }
    found, wrong = recoveries(attack, truth)
    withheld = [(f.var[1], f.value) for f in found if attack.shown[f.var] == "*"]
    assert sorted(withheld) == [("inequality", 4), ("theme", 3)]
    assert wrong == 0

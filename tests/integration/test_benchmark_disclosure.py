"""Disclosure control of the published benchmarks, attacked as an attacker would attack it.

Small synthetic warehouses (six providers, eight months: pooled counts of a few deaths each, so
most cells are small) are loaded through the real loader and published with ``mhdeaths benchmark``
(and ``publish_benchmarks``, which the command calls) under every named rule, for two consecutive
periods. Every output is read back: the CSV, the workbook, the HTML report with its funnel plots
and the provider pages must release exactly the JSON's cells; and the attacks of
``tests/integration/attacker.py`` (rate x denominator, ratio x expected, interval inversion,
national minus the other providers, cause groups, years within a window, a provider's quarter,
consecutive publications) run on what was read, with the warehouse's unrounded counts as the
oracle. The attack model is written out in ``docs/statistics.md``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mhdeaths.benchmark.compute import NATIONAL, Benchmarks, compute
from mhdeaths.benchmark.disclosure_control import (
    RELEASABLE_RULES,
    ROW_COLUMNS,
    decimals_for,
    release,
)
from mhdeaths.benchmark.indicators import Indicator
from mhdeaths.benchmark.provider_summary import QUARTER_LINES, quarter_counts
from mhdeaths.benchmark.run import publish_benchmarks
from mhdeaths.stats import DISCLOSURE_RULES
from mhdeaths.synth import SynthOptions

from ..functional.cli import mhdeaths
from .attacker import (
    Attack,
    Recovery,
    Var,
    build,
    differences,
    feed,
    nested,
    recoveries,
    row_attacks,
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
from .test_benchmarks import shared_warehouse

SEEDS = (1, 2, 3)
"""Three small national histories: each alone reaches more cells and withheld counts than six
together once did, and each is attacked under every rule (a seed's warehouse and attack take
about a minute of the suite, so three rather than six)."""
RULES = tuple(sorted(RELEASABLE_RULES))  # the rules the benchmarks can be released under
assert len(SEEDS) >= len(RULES)  # so that each rule goes through the command once
BEFORE, AFTER = "2027-12", "2028-01"


def _warehouse(factory: pytest.TempPathFactory, seed: int) -> Path:
    """The small warehouse of a seed, built once per run: the tests here only read it."""
    options = SynthOptions(providers=6, months=8, start="2027-06", seed=seed, transfers=0.1)
    return shared_warehouse(factory, f"disclosure-{seed}", options)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _warehouse(tmp_path_factory, SEEDS[0])


def read_everything(out: Path) -> tuple[dict[str, Any], dict[Place, Shown]]:
    """Every cell of every output, after checking that every output shows the JSON's cells."""
    document, cells = read_json(out)
    for name, other in (("csv", read_csv(out)), ("xlsx", read_xlsx(out))):
        assert other == cells, (name, _first_difference(other, cells))
    report = read_report(out)
    assert report.cells, "the report's cells were not found"
    assert {p: cells.get(p, "missing") for p in report.cells} == report.cells, (
        "html",
        _first_difference(report.cells, cells),
    )
    union = dict(cells)
    for provider, page in read_provider_pages(out).items():
        benchmark = {p: v for p, v in page.cells.items() if p[0] == "row"}
        assert {p: cells.get(p, "missing") for p in benchmark} == benchmark, (
            provider,
            _first_difference(benchmark, cells),
        )
        assert all(p[2] == provider for p in benchmark)
        union |= page.cells
    _check_plots(report, cells, document)
    return document, union


def _first_difference(a: dict[Place, Shown], b: dict[Place, Shown]) -> object:
    for place in sorted(set(a) | set(b)):
        if a.get(place, "missing") != b.get(place, "missing"):
            return place, a.get(place, "missing"), b.get(place, "missing")
    return None


def _check_plots(report: Any, cells: dict[Place, Shown], document: dict[str, Any]) -> None:
    """A funnel plot shows only providers whose count is released, each at the published figure,
    and places them by the published expected count (or denominator)."""
    meta = {m["indicator"]: m for m in document["indicators"]}
    by_indicator: dict[str, list[Any]] = {}
    for point in report.points:
        by_indicator.setdefault(point.indicator, []).append(point)
    for key, points in by_indicator.items():
        standardised = meta[key]["standardised_by"] is not None
        xs, published = [], []
        for point in points:
            row = lambda c, p=point.provider, k=key: cells[("row", k, p, c)]  # noqa: E731
            assert isinstance(row("observed"), float), (key, point.provider, "plotted but withheld")
            shown_value = float(point.title.split(": ")[1].split()[0])
            figure = row("ratio") if standardised else row("value")
            assert isinstance(figure, float)
            places = 2 if standardised else (0 if float(figure).is_integer() else 1)
            tolerance = 0.005 + 0.5 * 10.0**-places if not standardised else 0.0051
            if not standardised and meta[key]["unit"].startswith("per 1"):
                tolerance = 0.0051  # a rate is published to two places too
            assert abs(shown_value - figure) <= tolerance, (key, point.provider, point.title)
            xs.append(point.cx)
            published.append(row("expected") if standardised else row("denominator"))
        # Positions are proportional to the published x of each point, to within its rounding
        # (one place for an expected count, 5 for a denominator) and the pixel.
        scale = max(xs) / max(published)
        half = 0.05 if standardised else 2.5
        for x, p in zip(xs, published, strict=True):
            assert abs(x - p * scale) <= 2 * half * scale + 0.2, (key, x, p)
        withheld = {
            place[2]
            for place, v in cells.items()
            if place[:2] == ("row", key) and place[-1] == "observed" and v == "*"
        }
        assert not withheld & {p.provider for p in points}
        caption = report.not_plotted.get(key, "")
        named = (
            set(re.findall(r"\bR[A-Z0-9]{2}\b", caption.split("suppressed:")[-1]))
            if "suppressed:" in caption
            else set()
        )
        assert named == withheld, (key, named, withheld)  # every withheld provider is named


@pytest.mark.parametrize("rule", RULES)
def test_every_format_releases_exactly_the_same_cells(
    small: Path, tmp_path: Path, rule: str
) -> None:
    run = mhdeaths(
        "benchmark", "-w", small, "--period", AFTER, "--out", tmp_path, "--disclosure", rule
    )
    assert run.code == 0, run.output
    document, cells = read_everything(tmp_path)
    assert document["disclosure"]["rule"] == rule
    assert sum(v == "*" for v in cells.values()) > 50  # small counts exist and were withheld
    rows = [p for p in cells if p[0] == "row" and p[-1] == "observed"]
    assert len(rows) == len(document["indicators"]) * (len(document["providers"]) + 1)
    # A withheld row says nothing in words either (a note of no activity gives its denominator).
    # Nor by its shape: every withheld provider row of an indicator shows the same cells.
    for indicator in document["indicators"]:
        shapes = set()
        for row in indicator["rows"]:
            if row["observed"] == "*":
                assert row["note"] is None and row["band_95"] in ("*", None), row
                if row["provider"] != NATIONAL:
                    shapes.add(tuple(c for c in ROW_COLUMNS if row.get(c) == "*"))
        assert len(shapes) <= 1, (indicator["indicator"], shapes)


@pytest.mark.parametrize("rule", RULES)
def test_published_figures_are_computed_from_released_counts(small: Path, rule: str) -> None:
    # Rate x denominator and ratio x expected give back the released count, never a finer one:
    # the value carries nothing its count cell does not.
    benchmarks = compute(small, AFTER)
    released = release(benchmarks, rule)
    checked = 0
    for result, row in (
        (r, row) for r in benchmarks.results for row in released.rows if row["indicator"] == r.key
    ):
        o, n, v = row["observed"], row["denominator"], row["value"]
        if (
            not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (o, n, v))
            or not n
        ):
            continue
        assert isinstance(o, int) and isinstance(n, int) and isinstance(v, float | int)
        assert o % 5 == 0 and n % 5 == 0
        places = decimals_for(result, rule)
        implied = v * n / result.indicator.multiplier
        assert abs(implied - o) <= 0.5 * 10.0**-places * n / result.indicator.multiplier + 1e-9
        if isinstance(row["ratio"], float) and isinstance(row["expected"], float):
            assert (
                abs(row["ratio"] * row["expected"] - o)
                <= 0.005 * row["expected"] + 0.05 * row["ratio"] + 0.01
            )
        checked += 1
    assert checked > 10
    # The providers' expected counts add up to the released national count, not the true one.
    for true, shown in zip(benchmarks.results, released.results, strict=True):
        if true.standardised and shown.national["observed"]:
            e_true = dict(zip(true.providers["provider"], true.providers["expected"], strict=True))
            for provider, e in zip(
                shown.providers["provider"], shown.providers["expected"], strict=True
            ):
                if e is not None and np.isfinite(e) and e_true.get(provider):
                    scale = shown.national["observed"] / true.national["observed"]
                    assert e == pytest.approx(e_true[provider] * scale)


def test_the_attacker_recovers_a_count_from_a_rate_computed_from_true_counts() -> None:
    # The attack has teeth: the published figures of issue 20 (a rate from the unrounded count
    # beside its rounded denominator) give the count back.
    from mhdeaths.benchmark.indicators import load_indicators

    indicator = next(i for i in load_indicators() if i.id == "deaths_after_discharge_v2")
    rule = DISCLOSURE_RULES["nhs_england"]
    from mhdeaths.benchmark.compute import crude

    o, n = 11.0, 3890.0
    value, lower, upper = (
        round(float(x[0]), 2) for x in crude(indicator, np.array([o]), np.array([n]))
    )
    cells: dict[Place, Shown] = {
        ("row", "k", "RZ1", "observed"): 10.0,
        ("row", "k", "RZ1", "denominator"): 3890.0,
        ("row", "k", "RZ1", "value"): value,
        ("row", "k", "RZ1", "lower"): lower,
        ("row", "k", "RZ1", "upper"): upper,
    }
    truth = {("t", "row", "k", "RZ1", "observed"): 11}
    found = row_attacks("t", cells, {"k": indicator}, rule, truth, {"k": 2})
    assert {f.attack for f in found} == {"rate x denominator", "interval inversion"}
    assert all(f.value == 11 for f in found)


def test_the_attacker_pins_a_count_that_the_tables_give_away() -> None:
    # ... and its interval arithmetic pins a suppressed count that exact cells give away.
    attack = Attack(DISCLOSURE_RULES["nhs_england"])
    total, a, b = ("t", "total"), ("t", "a"), ("t", "b")
    attack.know(a, "*")
    attack.shown |= {total: 9.0, b: 6.0}  # exact cells, as the counts were before rounding
    attack.bounds |= {total: [9, 9], b: [6, 6]}
    attack.sums.append((total, (a, b)))
    attack.propagate()
    found, wrong = recoveries(attack, {a: 3, b: 6, total: 9})
    assert [(f.var, f.value, f.small) for f in found] == [(a, 3, True)] and wrong == 0


def _truth(benchmarks: Benchmarks, period: str, path: Path) -> dict[Var, int]:
    truth: dict[Var, int] = {}
    for result in benchmarks.results:
        columns = ["observed"] if result.indicator.listed else ["observed", "denominator"]
        for provider in benchmarks.providers:
            for c in columns:
                truth[(period, "row", result.key, provider, c)] = 0
        for row in result.providers.iter_rows(named=True):
            for c in columns:
                truth[(period, "row", result.key, row["provider"], c)] = int(row[c] or 0)
        for c in columns:
            truth[(period, "row", result.key, NATIONAL, c)] = int(result.national[c] or 0)
        for row in result.trend.filter(result.trend["provider"] == NATIONAL).iter_rows(named=True):
            for c in columns:
                truth[(period, "trend", result.key, NATIONAL, str(int(row["year"])), c)] = int(
                    row[c] or 0
                )
    counts = quarter_counts(path, benchmarks)
    for provider in benchmarks.providers:
        for line, count in zip(
            QUARTER_LINES, counts.get(provider, (0,) * len(QUARTER_LINES)), strict=True
        ):
            truth[(period, "quarter", provider, line)] = count
    return truth


@functools.cache
def _oracle(path: Path, period: str) -> tuple[Benchmarks, dict[Var, int]]:
    """The warehouse's unrounded figures for a period and the true counts of every cell: the same
    under every rule, so computed once per warehouse and period (the warehouse is only read)."""
    true = compute(path, period)
    return true, _truth(true, period, path)


def _attack(
    path: Path, out: Path, rule: str, use_command: bool
) -> tuple[list[Recovery], Counter[str]]:
    spec = DISCLOSURE_RULES[rule]
    found: list[Recovery] = []
    stats: Counter[str] = Counter()
    published: dict[str, dict[Place, Shown]] = {}
    truth: dict[Var, int] = {}
    indicators: dict[str, Indicator] = {}
    providers: tuple[str, ...] = ()
    windows: dict[str, dict[str, tuple[str, str]]] = {}
    pins: dict[Var, int] = {}
    for period in (BEFORE, AFTER):
        folder = out / period
        if use_command and period == AFTER:
            run = mhdeaths(
                "benchmark", "-w", path, "--period", period, "--out", folder, "--disclosure", rule
            )
            assert run.code == 0, run.output
        else:
            publish_benchmarks(path, folder, period=period, rule=rule)
        _document, cells = read_everything(folder)
        published[period] = cells
        true, period_truth = _oracle(path, period)
        truth |= period_truth
        indicators = {r.key: r.indicator for r in true.results}
        providers = true.providers
        windows[period] = {r.key: (r.window.first, r.window.last) for r in true.results}
        decimals = {r.key: decimals_for(r, rule) for r in true.results}
        found += row_attacks(period, cells, indicators, spec, truth, decimals, pins)
        stats["cells"] += len(cells)
        stats["withheld"] += sum(v == "*" for v in cells.values())
    for informed in (None, truth):
        attack = Attack(spec, informed)
        name = "" if informed is None else "_informed"
        for period, cells in published.items():
            build(attack, period, cells, indicators, providers, windows[period])
        stats["fed"] += feed(attack, pins)
        attack.propagate()
        tables, wrong = recoveries(attack, truth)
        found += tables + nested(attack, truth) + differences(attack, BEFORE, AFTER, truth)
        stats["pinned" + name] += len(attack.pinned())
        stats["wrong_pins"] += wrong
        stats["contradictions"] += attack.contradictions
    return found, stats


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_no_attack_recovers_a_count_from_any_published_output(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    # One test per seed, so that the xdist workers share the seeds (and their warehouses) out.
    # Each seed alone must reach the counts six seeds once reached together (it does, with
    # room: some 11,000 cells and 4,000 withheld each). One rule goes through the command per seed.
    found: list[Recovery] = []
    stats: Counter[str] = Counter()
    path = _warehouse(tmp_path_factory, seed)
    for j, rule in enumerate(RULES):
        # Through the command itself once per rule across the seeds (a subprocess costs
        # seconds); through publish_benchmarks, which the command calls, otherwise.
        out = tmp_path_factory.mktemp(f"out{seed}{rule}")
        more, counts = _attack(path, out, rule, use_command=SEEDS.index(seed) == j)
        found += more
        stats += counts
    print(dict(stats))
    small = [f for f in found if f.small]
    other = [f for f in found if not f.small]
    assert stats["withheld"] > 1000 and stats["cells"] > 10_000
    assert stats["pinned"] and stats["pinned_informed"]  # the attacks do narrow counts
    # Every pin is true: the attackers' intervals always hold the true count.
    assert stats["wrong_pins"] == 0 and stats["contradictions"] == 0
    assert not small, small[:5]
    assert not other, other[:5]

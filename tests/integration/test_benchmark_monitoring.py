"""Monthly CUSUM monitoring in the published benchmarks: the alerts it finds, and that none is released.

The national history of ``test_benchmarks`` plants two providers at four times their rates: their
charts must alert, and the in-control providers' must not (at one false alert in a hundred
provider-years, eighteen providers over two years should raise none). Those alerts are computed
but not published (``mhdeaths.benchmark.monitoring`` says why): every output shows each charted
provider's threshold and a status from published figures, and no alert, not even the summary line.

The attacks that showed why stay, with the attacker unchanged: the small warehouses of
``test_benchmark_disclosure`` published under every rule; consecutive publications attacked
together with the monthly deaths as unknowns (``attacker.build_monitoring``), on the national
history with windows shortened to 12 months so that four publications slide over months with
deaths, and on bursts of one provider's deaths that a random search found where the earlier
release rule (alerts listed under caps) let the attack pin a rounded pooled count. The teeth: the
statistic, were it published, gives every month's deaths back, and the bursts' alerts, were they
published, give the attacker a count.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import polars as pl
import pytest

from mhdeaths.benchmark.compute import (
    Benchmarks,
    IndicatorResult,
    Window,
    compute,
    window_ending,
)
from mhdeaths.benchmark.disclosure_control import RELEASABLE_RULES, decimals_for
from mhdeaths.benchmark.indicators import Indicator, load_indicators
from mhdeaths.benchmark.monitoring import (
    CHARTED,
    MONITORING_COLUMNS,
    NOT_PUBLISHED,
    SUMMARY_LINE,
    _one,
)
from mhdeaths.benchmark.monitoring_pack import RESTRICTED
from mhdeaths.benchmark.run import Published, publish_benchmarks, publish_computed
from mhdeaths.errors import OutputError
from mhdeaths.stats import DISCLOSURE_RULES, cusum, disclose

from .attacker import (
    Attack,
    Monthly,
    Recovery,
    Var,
    build,
    build_monitoring,
    differences,
    feed,
    month_var,
    nested,
    recoveries,
    row_attacks,
    window_months,
)
from .benchmark_outputs import Place, Shown, read_json, read_provider_pages
from .test_benchmark_disclosure import SEEDS, _truth, _warehouse
from .test_benchmarks import OUTLIERS, PERIOD, warehouse  # noqa: F401  (the fixture)

RULES = tuple(sorted(RELEASABLE_RULES))


@pytest.fixture(scope="module")
def national_published(
    warehouse: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Published:
    folder = tmp_path_factory.mktemp("monitoring")
    return publish_benchmarks(warehouse, folder / "out", period=PERIOD, pack=folder / "pack")


@pytest.fixture(scope="module")
def national(national_published: Published) -> Path:
    return national_published.report.parent


def test_the_summary_names_no_alert(national_published: Published) -> None:
    # What `mhdeaths benchmark`, `mhdeaths run` and the demo print after the report is written:
    # the planted outliers alert (internally), and the summary says only that alerts are not
    # published.
    lines = national_published.summary()
    alerted = {
        month
        for m in national_published.released.monitoring
        for months in m.unpublished_alerts.values()
        for month in months
    }
    assert alerted
    assert [line for line in lines if "CUSUM" in line] == [f"  {SUMMARY_LINE}"]
    # Where the restricted pack is, and nothing of what it says.
    pack = national_published.pack[0]
    assert f"  Monitoring pack (restricted, not for publication): {pack}" in lines
    text = "\n".join(lines)
    # The outliers are named, for their funnels' bands; no month of an alert is.
    assert not [month for month in alerted if month in text]


def _monitoring(out: Path) -> list[dict[str, Any]]:
    document = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
    return list(document["monitoring"])


def test_the_planted_outliers_alert_and_no_one_else_does(national_published: Published) -> None:
    monitoring = national_published.released.monitoring
    assert [m.indicator for m in monitoring] == [
        "inpatient_deaths.all",
        "deaths_after_discharge_v2.all",
    ]
    for m in monitoring:
        alerted = {p for p, months in m.unpublished_alerts.items() if months}
        assert alerted == set(OUTLIERS), m.indicator


def test_only_thresholds_are_published(national: Path) -> None:
    charts = _monitoring(national)
    assert [c["indicator"] for c in charts] == [
        "inpatient_deaths.all",
        "deaths_after_discharge_v2.all",
    ]
    for chart in charts:
        assert chart["alerts"] == NOT_PUBLISHED
        for r in chart["rows"]:
            assert set(r) == set(MONITORING_COLUMNS)
            # The outliers' status is the in-control providers': it does not say who alerted.
            assert r["status"] == CHARTED
            # Thresholds for 0.01 false alerts a provider-year at these sizes (docs/statistics.md).
            assert 4 < r["threshold"] < 5.5


def test_every_output_shows_the_same_thresholds_and_no_alert(national: Path) -> None:
    rows = [
        {k: r[k] for k in MONITORING_COLUMNS}
        for chart in _monitoring(national)
        for r in chart["rows"]
    ]
    with (national / "benchmarks-monitoring.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert "alerts" not in (reader.fieldnames or ())
        from_csv = [{k: r[k] for k in MONITORING_COLUMNS} for r in reader]
    assert from_csv == [{k: str(v) for k, v in r.items()} for r in rows]
    book = openpyxl.load_workbook(national / "benchmarks.xlsx", read_only=True)
    sheet = book["Monitoring"].iter_rows(values_only=True)
    header = [str(h) for h in next(sheet)]
    assert "alerts" not in header
    from_xlsx = [
        {k: v for k, v in zip(header, row, strict=True) if k in MONITORING_COLUMNS} for row in sheet
    ]
    book.close()
    assert from_xlsx == rows
    pages = [national / "benchmarks.html", *sorted((national / "providers").glob("*.html"))]
    for path in pages:
        html = path.read_text(encoding="utf-8")
        assert "data-month=" not in html and "alert in " not in html, path.name
    for provider in OUTLIERS:
        page = (national / "providers" / f"{provider}.html").read_text(encoding="utf-8")
        assert NOT_PUBLISHED in page
        assert page.count(f'data-provider="{provider}" data-status="{CHARTED}"') == 2


def _pack_rows(pack: Path) -> list[dict[str, str]]:
    with (pack / "monitoring-charts.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_restricted_pack_lists_every_alert_and_only_those(
    national_published: Published,
) -> None:
    """The pack's index and CSV say which providers alerted and when, as the charts found: the
    planted outliers, in both monitored indicators, and no one else."""
    pack = national_published.pack[0].parent
    html = (pack / "index.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and RESTRICTED in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    rows = _pack_rows(pack)
    for m in national_published.released.monitoring:
        expected = {p: list(c.alerts) for p, c in m.restricted.items()}
        assert {p for p, a in expected.items() if a} == set(OUTLIERS)
        from_csv: dict[str, list[str]] = {}
        for r in rows:
            if r["indicator"] == m.indicator:
                months = from_csv.setdefault(r["provider"], [])
                if r["alert"] == "yes":
                    months.append(r["month"])
        assert from_csv == expected, m.indicator
        for provider, months in expected.items():
            # Every provider's months, the window's whole length, one row each.
            assert (
                sum(r["indicator"] == m.indicator and r["provider"] == provider for r in rows)
                == m.window.months
            )
            row = html.split(f'data-indicator="{m.indicator}" data-provider="{provider}"')[1]
            row = row.split("</tr>")[0]
            assert [part.split('"')[0] for part in row.split('data-month="')[1:]] == months, (
                m.indicator,
                provider,
            )


def test_the_pack_charts_are_the_charts_on_the_true_counts(national_published: Published) -> None:
    """Each month of the pack's CSV is the cusum of that provider's true monthly counts: the
    statistic adds O ln R - (R - 1) E from the last reset, and alerts exactly where it reaches h."""
    rows = _pack_rows(national_published.pack[0].parent)
    m = national_published.released.monitoring[0]  # the Poisson chart
    assert m.model == "poisson"
    for provider in (*OUTLIERS, "RZ1"):
        own = [r for r in rows if r["indicator"] == m.indicator and r["provider"] == provider]
        s = 0.0
        for r in own:
            h = float(r["threshold"])
            s = max(0.0, s + int(r["observed"]) * math.log(2) - float(r["expected"]))
            # The CSV rounds E and the statistic to 4 places: 36 months of rounding stay < 0.005.
            assert abs(s - float(r["statistic"])) < 5e-3, (provider, r)
            if abs(s - h) > 5e-3:
                assert (r["alert"] == "yes") == (s >= h), (provider, r)
            if r["alert"] == "yes":
                s = 0.0


def test_each_provider_page_of_the_pack_holds_its_own_figures_only(
    national_published: Published,
) -> None:
    pack = national_published.pack[0].parent
    pages = sorted((pack / "providers").glob("*.html"))
    providers = {p.stem for p in pages}
    charted = {p for m in national_published.released.monitoring for p in m.restricted}
    assert providers == charted
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert RESTRICTED in html and "noindex" in html
        others = [p for p in providers - {page.stem} if p in html]
        assert others == [], page.name
        assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == len(
            [m for m in national_published.released.monitoring if page.stem in m.restricted]
        )


@pytest.mark.parametrize("where", ["inside", "same", "holding"])
def test_the_pack_is_never_written_with_the_publication(
    where: str,
    tmp_path: Path,
    warehouse: Path,  # noqa: F811
) -> None:
    out = tmp_path / "pub"
    pack = {"inside": out / "pack", "same": out, "holding": tmp_path}[where]
    with pytest.raises(OutputError, match="must be outside the publication's folder"):
        publish_benchmarks(warehouse, out, period=PERIOD, pack=pack)
    # Refused before any work: nothing written, the warehouse untouched.
    assert not out.exists()


def test_the_statistic_if_published_would_give_every_month_back() -> None:
    """Why only alerts are released: from S_t, S_(t-1) and E_t, O_t = (S_t - S_(t-1) +
    (R - 1)E_t) / ln R whenever the statistic stays above 0."""
    rng = np.random.default_rng(19)
    expected = rng.uniform(0.3, 0.8, 36)
    observed = rng.poisson(expected * 1.5).astype(float)
    chart = cusum(observed, expected, threshold=1e6).months
    s = chart["statistic"].to_numpy()
    recovered = 0
    for t in range(1, 36):
        if s[t] > 0 and s[t - 1] >= 0:
            o = (s[t] - s[t - 1] + expected[t]) / math.log(2)
            assert round(o) == observed[t]
            recovered += 1
    assert recovered >= 10


def _interval(count: Any, rule: Any, true: float) -> tuple[float, float]:
    """What a released pooled count says of the true one, to the informed attacker (who is told
    whether a ``*`` is the rule's own or withheld for another count's sake)."""
    if count == "*":
        if true <= rule.max_suppressed:
            return (0 if rule.suppress_zero else 1), rule.max_suppressed
        return rule.max_suppressed + 1, math.inf
    half = rule.rounding_base // 2
    if count == 0 and not rule.suppress_zero:
        return 0, 0
    return max(count - half, rule.max_suppressed + 1), count + half


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_the_small_warehouses_release_no_alert(
    seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = _warehouse(tmp_path_factory, seed)
    truth = compute(path, "2028-01")
    true_counts = {
        (r.key, p): (o, e)
        for r in truth.results
        if r.monthly is not None
        for p, o, e in r.providers.select("provider", "observed", "expected").iter_rows()
    }
    checked = charted = 0
    for rule_name in RULES:
        rule = DISCLOSURE_RULES[rule_name]
        out = tmp_path_factory.mktemp(f"attack-{seed}-{rule_name}")
        publish_benchmarks(path, out, period="2028-01", rule=rule_name)
        document = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
        rows = {
            (str(r["indicator"]), str(r["provider"])): r
            for meta in document["indicators"]
            for r in meta["rows"]
        }
        for chart in document["monitoring"]:
            assert chart["alerts"] == NOT_PUBLISHED
            for r in chart["rows"]:
                key = (chart["indicator"], r["provider"])
                true_o, _ = true_counts[key]
                low, high = _interval(rows[key]["observed"], rule, true_o)
                assert low <= true_o <= high
                # No alert and nothing that depends on one: the status is the count's own
                # (released or withheld) and the threshold is the published expected count's.
                assert set(r) == set(MONITORING_COLUMNS), r
                assert r["status"] in {CHARTED, "*", "nothing expected"}, r
                assert (r["status"] == "*") == (rows[key]["observed"] in ("*", None)), r
                charted += r["status"] == CHARTED
                # Every relation holds of the truth, and none fixes a count not shown exactly.
                assert low <= true_o <= high, (rule_name, key, r)
                exact = rows[key]["observed"] == 0 and not rule.suppress_zero
                assert low < high or exact, (rule_name, key, r, true_o)
                checked += 1
    assert checked and charted


# Consecutive publications. Each publication's chart starts at 0 at its own window's start, so
# the alerts of one publication bound sums of months that the next one's counts also cover. On
# the national history, with the monitored indicators pooled over 12 months (so that windows
# slide over months with deaths and the planted outliers alert in every one), four monthly
# publications are attacked together: every count cell and table relation of each
# (``attacker.build``), the rows' own figures (``row_attacks``), and the monthly counts behind
# the pooled counts, the pages' quarters and the charts (``attacker.build_monitoring``).
CONSECUTIVE = ("2028-09", "2028-10", "2028-11", "2028-12")
SLIDING_MONTHS = 12
# The page's line that counts the same deaths as a monitored indicator's numerator
# (provider_summary._DEATHS: .0 inpatient deaths, by the date of death). Deaths after discharge
# are charted by the date of discharge and without transfers, the page's .2 by the date of death.
QUARTER_LINES = {"inpatient_deaths.all": "deaths.0"}


def _sliding_indicators() -> tuple[Indicator, ...]:
    return tuple(
        i.model_copy(update={"pooling_months": SLIDING_MONTHS}) if i.monitor is not None else i
        for i in load_indicators()
    )


@functools.cache
def _sliding(path: Path, period: str) -> tuple[Benchmarks, dict[Var, int]]:
    """The period's unrounded benchmarks and the true count of every cell (under every rule)."""
    true = compute(path, period, indicators=_sliding_indicators())
    return true, _truth(true, period, path)


def _months(true: Benchmarks) -> tuple[dict[Var, int], dict[tuple[str, str, str], float]]:
    """Each monitored provider-month's true deaths and its chart's drift."""
    counts: dict[Var, int] = {}
    drift: dict[tuple[str, str, str], float] = {}
    for result in true.results:
        if result.monthly is None:
            continue
        monitor = result.indicator.monitor
        assert monitor is not None
        r = monitor.rate_ratio
        for row in result.monthly.iter_rows(named=True):
            o, e = float(row["observed"]), float(row["expected"])
            where = (result.key, str(row["provider"]), str(row["month"]))
            counts[month_var(*where)] = int(o)
            if result.indicator.kind == "proportion":
                n = max(float(row["denominator"]), o, e)
                drift[where] = n * math.log1p((r - 1) * e / n) if n > 0 else 0.0
            else:
                drift[where] = (r - 1) * e
    return counts, drift


@pytest.mark.parametrize("rule", RULES)
def test_consecutive_publications_give_no_count_back(
    warehouse: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    rule: str,
) -> None:
    spec = DISCLOSURE_RULES[rule]
    published: dict[str, tuple[dict[str, Any], dict[Place, Shown]]] = {}
    truth: dict[Var, int] = {}
    monthly_truth: dict[Var, int] = {}
    drift: dict[tuple[str, str, str], float] = {}
    windows: dict[str, dict[str, tuple[str, str]]] = {}
    pins: dict[Var, int] = {}
    found: list[Recovery] = []
    true = None
    alerts = 0
    for period in CONSECUTIVE:
        true, period_truth = _sliding(warehouse, period)
        truth |= period_truth
        counts, more = _months(true)
        monthly_truth |= counts
        drift |= more
        out = tmp_path_factory.mktemp(f"sliding-{rule}-{period}")
        out_published = publish_computed(warehouse, true, out, rule=rule)
        alerts += sum(
            len(months)
            for m in out_published.released.monitoring
            for months in m.unpublished_alerts.values()
        )
        document, cells = read_json(out)
        # Nothing of the alerts is released: no row has one, and no page marks a month.
        assert all(
            set(r) == set(MONITORING_COLUMNS) and r["status"] != "monitored"
            for m in document["monitoring"]
            for r in m["rows"]
        )
        for provider, page in read_provider_pages(out).items():
            cells |= page.cells
            html = (out / "providers" / f"{provider}.html").read_text(encoding="utf-8")
            assert "data-month=" not in html, provider
        published[period] = (document, cells)
        windows[period] = {r.key: (r.window.first, r.window.last) for r in true.results}
        indicators = {r.key: r.indicator for r in true.results}
        decimals = {r.key: decimals_for(r, rule) for r in true.results}
        found += row_attacks(period, cells, indicators, spec, truth, decimals, pins)
        # The monthly counts add up to the pooled counts and, on the pages' lines, the quarter's.
        quarter = window_months(*_first_last(window_ending(period, 3)))
        for result in true.results:
            if result.monthly is None:
                continue
            months = window_months(result.window.first, result.window.last)
            for provider in true.providers:
                own = [monthly_truth.get(month_var(result.key, provider, m), 0) for m in months]
                assert sum(own) == truth[(period, "row", result.key, provider, "observed")]
                if result.key not in QUARTER_LINES:
                    continue
                line = (period, "quarter", provider, QUARTER_LINES[result.key])
                in_quarter = sum(
                    monthly_truth.get(month_var(result.key, provider, m), 0) for m in quarter
                )
                assert in_quarter == truth[line], (line, in_quarter)
    assert true is not None
    indicators = {r.key: r.indicator for r in true.results}
    assert alerts >= 10  # the planted outliers alert in every publication, unpublished
    stats: Counter[str] = Counter()
    for informed in (None, truth):
        attack = Attack(spec, informed)
        monthly = Monthly(attack, drift)
        for period, (document, cells) in published.items():
            build(attack, period, cells, indicators, true.providers, windows[period])
            quarter = window_months(*_first_last(window_ending(period, 3)))
            build_monitoring(
                monthly,
                period,
                document["monitoring"],
                {k: window_months(*w) for k, w in windows[period].items()},
                quarter,
                QUARTER_LINES,
            )
        feed(attack, pins)
        attack.propagate(rounds=200)
        oracle = truth | monthly_truth | monthly.truth(monthly_truth)
        tables, wrong = recoveries(attack, oracle)
        found += tables + nested(attack, truth)
        for before, after in itertools.pairwise(CONSECUTIVE):
            found += differences(attack, before, after, truth)
        stats["wrong"] += wrong
        stats["contradictions"] += attack.contradictions
        stats["pinned"] += len(attack.pinned())
        stats["latent"] += len(monthly.spans)
    print(dict(stats))
    assert stats["wrong"] == 0 and stats["contradictions"] == 0
    assert not found, [(f.attack, f.var, f.value) for f in found[:10]]


def _first_last(window: Window) -> tuple[str, str]:
    return window.first, window.last


# Bursts found by a random search over one provider's monthly deaths (expected deaths a month
# fixed), each published four months running with a 12-month window: the months 2027-10 to
# 2028-12, the expected deaths a month, and the rule under which the earlier release rule (alerts
# listed, under caps) let the attack pin the rounded pooled count.
BURSTS = (
    ([6, 5, 6, 9, 8, 6, 9, 5, 8, 0, 7, 0, 0, 5, 0], 0.2876456540414631, "nhs_england"),
    ([4, 4, 6, 7, 7, 0, 7, 0, 7, 0, 3, 3, 1, 7, 0], 0.25, "opensafely"),
)


def _burst_publications(
    counts: list[int],
    expected: float,
    rule: str,
    periods: tuple[str, ...] = CONSECUTIVE,
    *,
    leak: bool = False,
) -> tuple[Attack, Monthly, dict[Var, int]]:
    """Four consecutive publications of one provider's chart (``monitoring._one``, the release
    step itself), with its pooled count released under ``rule``, put to the attacker. With
    ``leak``, the chart's unpublished alerts are put to it too, as if they had been released."""
    indicator = next(i for i in _sliding_indicators() if i.id == "inpatient_deaths")
    variant = next(v for v in indicator.live_variants if v.id == "all")
    key = "inpatient_deaths.all"
    months = window_months("2027-10", "2028-12")
    spec = DISCLOSURE_RULES[rule]
    attack = Attack(spec)
    monthly = Monthly(attack, {(key, "P1", m): expected for m in months})
    truth = {month_var(key, "P1", m): c for m, c in zip(months, counts, strict=True)}
    alerted = 0
    for period in periods:
        window = window_ending(period, SLIDING_MONTHS)
        own = window_months(window.first, window.last)
        o = [truth[month_var(key, "P1", m)] for m in own]
        frame = pl.DataFrame(
            {
                "provider": ["P1"] * len(own),
                "month": own,
                "observed": [float(x) for x in o],
                "expected": [expected] * len(own),
                "denominator": [1000.0] * len(own),
            }
        )
        result = IndicatorResult(
            indicator, variant, window, pl.DataFrame(), {}, None, pl.DataFrame(), frame
        )
        released = disclose(np.array([float(sum(o))]), rule).text[0]
        cell: Any = "*" if released == "*" else int(float(released))
        rows = {"P1": {"observed": cell, "expected": round(expected * len(own), 1)}}
        chart = _one(result, rows)
        alerted += sum(len(a) for a in chart.unpublished_alerts.values())
        var = (period, "row", key, "P1", "observed")
        attack.know(var, "*" if cell == "*" else float(cell))
        truth[var] = sum(o)
        shown: list[dict[str, Any]] = [dict(r) for r in chart.rows()]
        if leak:
            for r in shown:
                if r["status"] == CHARTED:
                    r["status"] = "monitored"
                    r["alerts"] = list(chart.unpublished_alerts[str(r["provider"])])
        build_monitoring(
            monthly,
            period,
            [{"indicator": key, "rate_ratio": chart.rate_ratio, "rows": shown}],
            {key: own},
            window_months(*_first_last(window_ending(period, 3))),
            {},
        )
    # The bursts alert: what is left out is not nothing.
    assert alerted
    return attack, monthly, truth


def _attack_bursts(attack: Attack, monthly: Monthly, truth: dict[Var, int]) -> list[Recovery]:
    attack.propagate(rounds=200)
    found, wrong = recoveries(attack, truth | monthly.truth(truth))
    for before, after in itertools.pairwise(CONSECUTIVE):
        found += differences(attack, before, after, truth)
    assert wrong == 0 and attack.contradictions == 0
    return found


@pytest.mark.parametrize(("counts", "expected", "rule"), BURSTS)
def test_consecutive_charts_of_a_burst_give_no_count_back(
    counts: list[int], expected: float, rule: str
) -> None:
    found = _attack_bursts(*_burst_publications(counts, expected, rule))
    assert not found, [(f.var, f.value) for f in found]


@pytest.mark.parametrize(("counts", "expected", "rule"), BURSTS)
def test_the_bursts_alerts_if_published_would_give_a_count_back(
    counts: list[int], expected: float, rule: str
) -> None:
    # The teeth of the test above: the same attacker, given the alerts the chart raised.
    found = _attack_bursts(*_burst_publications(counts, expected, rule, leak=True))
    assert found


@pytest.mark.parametrize(("counts", "expected", "rule"), BURSTS)
def test_one_publication_of_a_burst_gives_no_count_back(
    counts: list[int], expected: float, rule: str
) -> None:
    for period in CONSECUTIVE:
        attack, monthly, truth = _burst_publications(counts, expected, rule, (period,))
        attack.propagate(rounds=200)
        found, wrong = recoveries(attack, truth | monthly.truth(truth))
        assert wrong == 0 and not found, (period, [(f.var, f.value) for f in found])

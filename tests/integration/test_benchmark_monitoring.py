"""Monthly CUSUM monitoring in the published benchmarks: the alerts it finds, and what it releases.

The national history of ``test_benchmarks`` plants two providers at four times their rates: their
charts must alert, and the in-control providers' must not (at one false alert in a hundred
provider-years, eighteen providers over two years should raise none). The small warehouses of
``test_benchmark_disclosure`` (six providers, eight months: small counts) are published under
every rule and attacked with what an alert says about deaths (``mhdeaths.benchmark.monitoring``):
an alert means at least m = ceil(h / ln R) deaths since the previous alert, and a chart with no
alert means fewer than (h + (R - 1)E) / ln R deaths in the window. The attacker is given the
true expected count (stronger than any reader, who has it to one place), and must not pin a count
the release rounded or withheld. The teeth: the statistic itself, were it published, gives every
month's deaths back.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest

from mhdeaths.benchmark.compute import compute, window_ending
from mhdeaths.benchmark.disclosure_control import RELEASABLE_RULES
from mhdeaths.benchmark.monitoring import MONITORING_COLUMNS, _released_alerts, _silence_pins
from mhdeaths.benchmark.run import publish_benchmarks
from mhdeaths.periods import add_months, period_start
from mhdeaths.stats import DISCLOSURE_RULES, cusum

from .test_benchmark_disclosure import SEEDS, _warehouse
from .test_benchmarks import OUTLIERS, PERIOD, warehouse  # noqa: F401  (the fixture)

RULES = tuple(sorted(RELEASABLE_RULES))


@pytest.fixture(scope="module")
def national(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("monitoring") / "out"
    publish_benchmarks(warehouse, out, period=PERIOD)
    return out


def _monitoring(out: Path) -> list[dict[str, Any]]:
    document = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
    return list(document["monitoring"])


def test_the_planted_outliers_alert_and_no_one_else_does(national: Path) -> None:
    charts = _monitoring(national)
    assert [c["indicator"] for c in charts] == [
        "inpatient_deaths.all",
        "deaths_after_discharge_v2.all",
    ]
    for chart in charts:
        alerted = {r["provider"] for r in chart["rows"] if r["alerts"]}
        assert alerted == set(OUTLIERS), chart["indicator"]
        assert {r["status"] for r in chart["rows"]} == {"monitored"}
        # Thresholds for 0.01 false alerts a provider-year at these sizes (docs/statistics.md).
        assert all(4 < r["threshold"] < 5.5 for r in chart["rows"])


def test_every_output_shows_the_same_alerts(national: Path) -> None:
    rows = [
        {**{k: r[k] for k in MONITORING_COLUMNS}, "alerts": " ".join(r["alerts"])}
        for chart in _monitoring(national)
        for r in chart["rows"]
    ]
    with (national / "benchmarks-monitoring.csv").open(newline="", encoding="utf-8") as handle:
        from_csv = [{k: r[k] for k in MONITORING_COLUMNS} for r in csv.DictReader(handle)]
    assert from_csv == [{k: str(v) for k, v in r.items()} for r in rows]
    book = openpyxl.load_workbook(national / "benchmarks.xlsx", read_only=True)
    sheet = book["Monitoring"].iter_rows(values_only=True)
    header = [str(h) for h in next(sheet)]
    from_xlsx = [
        {k: v for k, v in zip(header, row, strict=True) if k in MONITORING_COLUMNS} for row in sheet
    ]
    book.close()
    # An empty cell reads back as None.
    assert from_xlsx == [{**r, "alerts": r["alerts"] or None} for r in rows]
    report = (national / "benchmarks.html").read_text(encoding="utf-8")
    listed = set(
        re.findall(
            r'<tr data-indicator="([^"]+)" data-provider="([^"]+)" data-month="([^"]+)">', report
        )
    )
    released = {
        (str(r["indicator"]), str(r["provider"]), m) for r in rows for m in str(r["alerts"]).split()
    }
    assert listed == released and released
    for indicator, provider, month in released:
        page = (national / "providers" / f"{provider}.html").read_text(encoding="utf-8")
        assert f'data-month="{month}"' in page
        assert f'data-indicator="{indicator}" data-provider="{provider}"' in page


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


def test_silence_is_withheld_where_it_would_fix_a_count() -> None:
    rule = DISCLOSURE_RULES["nhs_england"]
    h, expected = 4.5, 14.0
    # No alert means c ln 2 < 4.5 + 14, c <= 26: a count released as 30 (28 to 32) is safe
    # (an alert must have happened), as is 25 (23 to 27); 28 would be fixed at its bottom, 28.
    assert not _silence_pins(30, expected, None, 500, h, 2.0, rule)
    assert not _silence_pins(25, expected, None, 500, h, 2.0, rule)
    assert _silence_pins(28, expected, None, 500, h, 2.0, rule)


def test_alerts_are_capped_and_kept_out_of_the_latest_quarter() -> None:
    window, quarter = window_ending("2028-12", 36), window_ending("2028-12", 3)
    alerts = ["2026-05", "2027-02", "2028-09", "2028-11"]
    # The fourth alert's months since the third lie inside the quarter: not released.
    assert _released_alerts(alerts, 9, window, quarter) == ["2026-05", "2027-02", "2028-09"]
    assert _released_alerts(alerts, 2, window, quarter) == ["2026-05", "2027-02"]


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
def test_no_attack_recovers_a_count_from_the_alerts(
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
    quarter = window_ending("2028-01", 3)
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
            log_r = math.log(chart["rate_ratio"])
            for r in chart["rows"]:
                key = (chart["indicator"], r["provider"])
                true_o, true_e = true_counts[key]
                low, high = _interval(rows[key]["observed"], rule, true_o)
                assert low <= true_o <= high
                if r["status"] == "monitored":
                    charted += 1
                    m = math.ceil(r["threshold"] / log_r - 1e-9)
                    if r["alerts"]:
                        low = max(low, m * len(r["alerts"]))
                        # Runs (since the previous alert) inside the page's quarter bound its count.
                        starts = [chart["window"][:7]] + [
                            add_months(period_start(a), 1).strftime("%Y-%m")
                            for a in r["alerts"][:-1]
                        ]
                        inside = sum(s >= quarter.first for s in starts)
                        assert inside == 0, (key, r["alerts"])
                    else:
                        drift = (chart["rate_ratio"] - 1) * (true_e or 0.0)
                        high = min(high, math.ceil((r["threshold"] + drift) / log_r - 1e-9) - 1)
                # Every relation holds of the truth, and none fixes a count not shown exactly.
                assert low <= true_o <= high, (rule_name, key, r)
                exact = rows[key]["observed"] == 0 and not rule.suppress_zero
                assert low < high or exact, (rule_name, key, r, true_o)
                checked += 1
    assert checked and charted

"""Benchmarks across providers, from a real warehouse loaded with synthetic submissions.

The synthetic national history has two planted outlier providers (death rates four times their
own), so the funnel plots have a known answer. The other providers are in control but not
identical: like real trusts, their own rates differ (by up to 60% for inpatient deaths and twice
over for deaths after discharge), which is the over-dispersion the adjusted limits allow for. The outputs are checked for what they release: no
count from 1 to 7 in any published cell, and the same bytes from the same warehouse.
"""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from pathlib import Path

import openpyxl
import pytest
from scipy import stats

from mhdeaths.benchmark.compute import NATIONAL, compute, window_ending
from mhdeaths.benchmark.indicators import load_indicators
from mhdeaths.benchmark.run import Published, publish_benchmarks
from mhdeaths.errors import UserError
from mhdeaths.spec import load_spec
from mhdeaths.stats import detectable_ratio
from mhdeaths.synth import SynthOptions, generate, provider_codes
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key

from ..functional.cli import mhdeaths, query_rows
from .test_warehouse_reliability import built_once

PROVIDERS = 20
OUTLIERS = ("RZ3", "RZ7")
PERIOD = "2028-12"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty providers over two years, two of them outliers, loaded like a national history.

    Built once per run for both xdist workers (the tests of this module are shared out between
    them, and the build takes a minute); every test only reads it (the benchmarks open the
    warehouse read-only)."""
    return shared_warehouse(tmp_path_factory, "national-history", national_history_options())


def national_history_options() -> SynthOptions:
    """The synthetic national history (the completeness tests link its national feeds)."""
    codes = provider_codes(PROVIDERS)
    assert set(OUTLIERS) <= set(codes)
    return SynthOptions(
        providers=PROVIDERS,
        months=24,
        start="2027-01",
        seed=21,
        outliers=OUTLIERS,
        outlier_factor=4.0,
        resubmissions=0.2,
        transfers=0.1,
    )


def synthetic_warehouse(folder: Path, options: SynthOptions) -> Path:
    """A warehouse in ``folder`` holding every submission ``synth`` makes with ``options``."""
    generate(load_spec("1.1.0"), options, folder / "inbox")
    path = folder / "warehouse.duckdb"
    outcomes = load(path, [folder / "inbox"], key=demo_key())
    assert all(o.status == "loaded" for o in outcomes), [o.label for o in outcomes]
    return path


def shared_warehouse(factory: pytest.TempPathFactory, name: str, options: SynthOptions) -> Path:
    """The ``synthetic_warehouse`` of ``options``, built once per test run under ``name`` and
    shared by the xdist workers: only for tests that read it, never write to it."""

    def build(folder: Path) -> None:
        synthetic_warehouse(folder, options)

    return built_once(factory, name, build) / "warehouse.duckdb"


@pytest.fixture(scope="module")
def published(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_benchmarks(warehouse, tmp_path_factory.mktemp("out"), period=PERIOD)


def _bands(published: Published, indicator: str, level: str) -> dict[str, object]:
    return {
        str(r["provider"]): r[f"band_{level}"]
        for r in published.released.rows
        if r["indicator"] == indicator and r["provider"] != NATIONAL
    }


@pytest.mark.parametrize("indicator", ["inpatient_deaths.all", "deaths_after_discharge_v2.all"])
def test_planted_outliers_are_higher_than_expected(published: Published, indicator: str) -> None:
    # Banded as the SHMI bands: 95% limits adjusted for over-dispersion.
    bands = _bands(published, indicator, "95")
    assert all(bands[p] == "higher than expected" for p in OUTLIERS), bands
    assert set(published.outliers()[indicator]) == set(OUTLIERS)


def test_planted_outliers_of_inpatient_deaths_pass_the_998_limits_too(published: Published) -> None:
    bands = _bands(published, "inpatient_deaths.all", "998")
    assert all(bands[p] == "higher than expected" for p in OUTLIERS), bands


@pytest.mark.parametrize("indicator", ["inpatient_deaths.all", "deaths_after_discharge_v2.all"])
def test_in_control_providers_are_rarely_banded(published: Published, indicator: str) -> None:
    # Accepted: of the 18 in-control providers, at most 2 banded either way at 95% (11%, against
    # a nominal 5%: their own rates really differ) and none higher than expected at all; none
    # banded at 99.8%.
    in_control = [p for p in published.benchmarks.providers if p not in OUTLIERS]
    at_95 = _bands(published, indicator, "95")
    at_998 = _bands(published, indicator, "998")
    banded_95 = [p for p in in_control if at_95[p] not in ("as expected", None)]
    assert len(banded_95) <= 2, banded_95
    assert all(at_95[p] != "higher than expected" for p in in_control)
    assert all(at_998[p] in ("as expected", None) for p in in_control)


def test_every_indicator_and_variant_is_computed(published: Published) -> None:
    expected = {
        f"{i.id}.{v.id}" if len(i.live_variants) > 1 else i.id
        for i in load_indicators()
        for v in i.live_variants
        # Completeness needs death registrations, which this warehouse has none of: it is left
        # out, not shown as zero (test_completeness_indicator.py computes it once they are).
        if i.denominator is None or i.denominator.expected is None
    }
    assert "reported_completeness" not in expected
    # A retired variant is never computed.
    assert not any(r.key.endswith((".suicide", ".unnatural")) for r in published.benchmarks.results)
    assert {r.key for r in published.benchmarks.results} == expected
    assert published.benchmarks.providers == tuple(provider_codes(PROVIDERS))
    for result in published.benchmarks.results:
        assert result.window == window_ending(PERIOD, result.indicator.pooling_months)


def test_standardised_ratios_are_one_nationally(published: Published) -> None:
    for result in published.benchmarks.results:
        if result.standardised:
            table = result.providers.drop_nulls("expected")
            assert table["expected"].sum() == pytest.approx(table["observed"].sum())


def test_crude_figures_match_the_warehouse_counts(warehouse: Path, published: Published) -> None:
    result = next(r for r in published.benchmarks.results if r.key == "inpatient_deaths.all")
    rows = query_rows(
        warehouse,
        "SELECT attributed_provider AS p, count(*) AS n FROM deaths WHERE counted "
        "AND inpatient_death AND death_date BETWEEN DATE '2027-01-01' AND DATE '2028-12-31' "
        "GROUP BY ALL",
    )
    counted = {row["p"]: row["n"] for row in rows}
    table = dict(zip(result.providers["provider"], result.providers["observed"], strict=True))
    assert {p: int(n) for p, n in table.items() if n} == counted
    assert result.national["observed"] == sum(counted.values())


def _released_counts(published: Published) -> list[tuple[str, str]]:
    """Every published count cell, as (where, text), from every output format."""
    cells: list[tuple[str, str]] = []
    out = published.report.parent
    document = json.loads((out / "benchmarks.json").read_text())
    for indicator in document["indicators"]:
        for row in indicator["rows"] + indicator["trend"]:
            for column in ("observed", "denominator"):
                if row.get(column) is not None:
                    cells.append((f"json {indicator['indicator']}", str(row[column])))
    for name in ("benchmarks.csv", "benchmarks-trend.csv"):
        with (out / name).open(newline="") as handle:
            for row in csv.DictReader(handle):
                cells += [(name, row[c]) for c in ("observed", "denominator") if row[c]]
    book = openpyxl.load_workbook(out / "benchmarks.xlsx", read_only=True)
    for sheet in ("Providers", "Trend"):
        rows = book[sheet].iter_rows(values_only=True)
        header = list(next(rows))
        for row in rows:
            cells += [
                (f"xlsx {sheet}", str(row[header.index(c)])) for c in ("observed", "denominator")
            ]
    for page in [out / "benchmarks.html", *sorted((out / "providers").glob("*.html"))]:
        html = page.read_text()
        cells += [(page.name, text) for text in re.findall(r'<td class="count">([^<]*)</td>', html)]
    return cells


def test_no_output_releases_a_count_from_1_to_7(published: Published) -> None:
    cells = _released_counts(published)
    assert len(cells) > 500  # the scan sees every format
    assert any(text == "*" for _, text in cells)  # small counts exist and were suppressed
    leaked = [(where, text) for where, text in cells if text.replace(",", "") in set("1234567")]
    assert not leaked, leaked[:5]
    numbers = [int(text.replace(",", "")) for _, text in cells if text.replace(",", "").isdigit()]
    assert numbers and all(n % 5 == 0 for n in numbers)


def test_a_suppressed_count_suppresses_what_it_derives(published: Published) -> None:
    suppressed = [r for r in published.released.rows if r["observed"] == "*"]
    assert suppressed
    for row in suppressed:
        for column in ("value", "lower", "upper", "expected", "ratio", "ratio_lower", "z"):
            assert row.get(column) in ("*", None), (row["indicator"], column, row)


@pytest.mark.parametrize("rule", ["mhsds", "opensafely"])
def test_other_disclosure_rules_are_named_and_applied(
    warehouse: Path, tmp_path: Path, rule: str
) -> None:
    done = publish_benchmarks(warehouse, tmp_path, period=PERIOD, rule=rule)
    document = json.loads((tmp_path / "benchmarks.json").read_text())
    assert document["disclosure"]["rule"] == rule
    smallest = 5 if rule == "mhsds" else 8
    for row in done.released.rows:
        observed = row["observed"]
        if isinstance(observed, int):
            assert observed >= smallest or (observed == 0 and rule != "mhsds"), row


def test_a_rule_whose_totals_must_be_sums_is_refused_in_one_sentence(
    warehouse: Path, tmp_path: Path
) -> None:
    # Midpoint 6 keeps a total safe only as the sum of released cells; the national rows here are
    # rounded on their own, so releasing under it would give cells back by differencing. The
    # command does not offer it (test_cli_startup); a caller of the library is refused.
    with pytest.raises(UserError) as refused:
        publish_benchmarks(warehouse, tmp_path / "out", period=PERIOD, rule="opensafely_midpoint6")
    assert str(refused.value).startswith(
        "The benchmarks cannot be released under opensafely_midpoint6"
    )
    assert not (tmp_path / "out" / "benchmarks.json").exists()


def test_the_same_warehouse_gives_the_same_bytes(warehouse: Path, tmp_path: Path) -> None:
    first = publish_benchmarks(warehouse, tmp_path / "a", period=PERIOD)
    second = publish_benchmarks(warehouse, tmp_path / "b", period=PERIOD)
    for a, b in zip(first.paths, second.paths, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_a_period_with_no_deaths_anywhere_publishes_without_plots(
    warehouse: Path, tmp_path: Path
) -> None:
    done = publish_benchmarks(warehouse, tmp_path, period="2026-06")
    assert all(r.national["observed"] == 0 for r in done.benchmarks.results)
    assert "<svg" not in done.report.read_text()


def test_a_stale_provider_page_is_removed(warehouse: Path, tmp_path: Path) -> None:
    (tmp_path / "providers").mkdir()
    stale = tmp_path / "providers" / "RXX.html"
    stale.write_text("from an earlier run", encoding="utf-8")
    publish_benchmarks(warehouse, tmp_path, period=PERIOD)
    assert not stale.exists()


def test_numbers_in_the_csv_stay_numbers(published: Published) -> None:
    with (published.report.parent / "benchmarks.csv").open(newline="") as handle:
        z = [row["z"] for row in csv.DictReader(handle) if row["z"] not in ("", "*")]
    assert any(v.startswith("-") for v in z)  # a negative z-score is not quoted as text
    assert all(float(v) == float(v) for v in z)


def test_as_at_benchmarks_the_warehouse_as_it_stood(warehouse: Path) -> None:
    import datetime as dt

    before = compute(warehouse, PERIOD, as_at=dt.datetime(2000, 1, 1))
    assert before.providers == ()
    assert all(r.national["observed"] == 0 for r in before.results)


def test_each_provider_has_a_quarterly_summary(published: Published) -> None:
    pages = sorted((published.report.parent / "providers").glob("*.html"))
    assert [p.stem for p in pages] == list(published.benchmarks.providers)
    page = pages[0].read_text()
    assert "2028-10 to 2028-12" in page
    for heading in (
        "Deaths in the quarter",
        "Learning from deaths",
        "Compared with other providers",
    ):
        assert heading in page


def test_national_row_is_present_for_every_indicator(published: Published) -> None:
    keys = {r.key for r in published.benchmarks.results}
    national = {r["indicator"] for r in published.released.rows if r["provider"] == NATIONAL}
    assert national == keys


def test_a_bad_period_or_missing_warehouse_is_one_sentence(warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="CCYY-MM"):
        compute(warehouse, "2028-13")
    run = mhdeaths("benchmark", "-w", tmp_path / "none.duckdb", "--out", tmp_path / "o")
    assert run.code == 2
    assert "no warehouse" in run.stderr and "Traceback" not in run.stderr
    run = mhdeaths("benchmark", "-w", warehouse, "--period", "December", "--out", tmp_path / "o")
    assert run.code == 2 and "CCYY-MM" in run.stderr
    # An --out that is a file, or under one: one sentence, not mkdir's traceback.
    (tmp_path / "a-file").write_text("")
    for out in (tmp_path / "a-file", tmp_path / "a-file" / "sub"):
        run = mhdeaths("benchmark", "-w", warehouse, "--period", PERIOD, "--out", out)
        assert run.code == 2 and "Traceback" not in run.output, run.output
        assert f"The benchmarks cannot be written to {out}" in run.stderr, run.stderr


def test_the_command_writes_every_output(warehouse: Path, tmp_path: Path) -> None:
    run = mhdeaths("benchmark", "-w", warehouse, "--period", PERIOD, "--out", tmp_path)
    assert run.code == 0, run.output
    for name in ("benchmarks.html", "benchmarks.csv", "benchmarks.xlsx", "benchmarks.json"):
        assert (tmp_path / name).is_file()
    assert "higher than expected" in run.stdout
    assert all(p in run.stdout for p in OUTLIERS)


def test_withheld_providers_cannot_be_read_back_from_the_national_row(
    published: Published,
) -> None:
    # The national row is the sum of the providers' rows: the withheld ones together must not be
    # a count the rule would withhold, or the national row must be withheld too.
    for result in published.benchmarks.results:
        rows = {r["provider"]: r for r in published.released.rows if r["indicator"] == result.key}
        true = dict(zip(result.providers["provider"], result.providers["observed"], strict=True))
        withheld = [p for p, r in rows.items() if p != NATIONAL and r["observed"] == "*"]
        if withheld and rows[NATIONAL]["observed"] != "*":
            assert sum(true[p] for p in withheld) >= 8 or sum(true[p] for p in withheld) == 0, (
                result.key,
                withheld,
            )


def test_annual_figures_are_national_only_and_end_with_the_period(
    warehouse: Path, tmp_path: Path
) -> None:
    done = publish_benchmarks(warehouse, tmp_path, period="2027-06")
    assert {r["provider"] for r in done.released.trend} == {NATIONAL}
    assert max(int(str(r["year"])) for r in done.released.trend) == 2027


def test_a_share_of_deaths_is_withheld_when_its_denominator_is(published: Published) -> None:
    shares = {
        "deaths_case_record_reviewed",
        "deaths_investigated",
        "required_reviews_within_3_months",
        "required_reviews_within_6_months",
        "problems_in_care_crr",
        "family_involvement",
    }
    for row in published.released.rows:
        if row["indicator"] in shares and row["denominator"] == "*":
            assert row["observed"] == "*"
            assert all(row[c] in ("*", None) for c in ("value", "lower", "upper", "z"))


_POWER = re.compile(
    r'<(?:p|li) class="power" data-indicator="([^"]*)"(?: data-provider="([^"]*)")?'
    r' data-kind="([^"]*)" data-size="([^"]*)" data-ratio="([^"]*)">(.*?)</(?:p|li)>',
    re.S,
)


def _target(meta: dict[str, object]) -> float:
    """The centre a proportion's statement is relative to, from the published national row."""
    national = next(r for r in meta["rows"] if r["provider"] == NATIONAL)  # type: ignore[attr-defined]
    return float(national["observed"]) / float(national["denominator"])


def _detectable(size: float, meta: dict[str, object]) -> float | None:
    """What the report must say, from the published figures alone."""
    tau2 = meta["tau2"]
    proportion = meta["detectable_kind"] == "proportion"
    target = _target(meta) if proportion else 1.0
    widening = ("arcsine",) if proportion else ("log", "sqrt")
    adjusted = meta["overdispersion"] in widening and isinstance(tau2, float) and tau2 > 0
    minimum = meta["min_expected"]
    if isinstance(minimum, float | int) and size * target < minimum:
        return None
    found = detectable_ratio(
        size,
        0.998,
        0.8,
        kind="proportion" if proportion else "ratio",
        target=target if proportion else None,
        tau2=tau2 if adjusted else 0.0,  # type: ignore[arg-type]
        overdispersion=meta["overdispersion"] if adjusted else None,  # type: ignore[arg-type]
    )
    return None if found is None else round(found, 2)


def _size_column(meta: dict[str, object]) -> str:
    return "expected" if meta["detectable_kind"] == "ratio" else "denominator"


def test_each_banded_indicator_says_what_its_funnel_can_detect(published: Published) -> None:
    out = published.report.parent
    document = json.loads((out / "benchmarks.json").read_text())
    statements = {m[0]: m for m in _POWER.findall((out / "benchmarks.html").read_text())}
    funnels = {r.key: r.funnel for r in published.released.results}
    stated = {"ratio": 0, "proportion": 0}
    for meta in document["indicators"]:
        key, kind = meta["indicator"], meta["detectable_kind"]
        if meta["standardised_by"] is not None:
            assert kind == "ratio"
        elif meta["kind"] == "proportion" and funnels[key] is not None:
            assert kind == "proportion"
        else:
            # Counts and medians are never banded: no statement.
            assert kind is None and key not in statements
            assert meta["detectable_ratio"] is None
            continue
        column = _size_column(meta)
        sizes = [
            r[column]
            for r in meta["rows"]
            if r["provider"] != NATIONAL
            and isinstance(r[column], float | int)
            and (kind == "ratio" or r[column] > 0)
        ]
        if not sizes:
            assert key not in statements
            continue
        median = round(statistics.median(sizes), 2)
        assert meta[f"detectable_{'expected' if kind == 'ratio' else 'denominator'}"] == median
        if kind == "proportion":
            # The centre is the released national proportion: a function of published cells.
            assert meta["detectable_target"] == pytest.approx(_target(meta), rel=1e-12)
        want = _detectable(median, meta)
        assert meta["detectable_ratio"] == want
        _, _, said_kind, size, ratio, text = statements[key]
        assert (said_kind, float(size)) == (kind, median)
        if want is None:
            assert ratio == ""
            assert "not banded" in text or "cannot flag" in text
            continue
        stated[kind] += 1
        assert float(ratio) == want
        # The flag is at the limit the funnel bands against: only a real excess is detectable.
        assert want > 1
        if kind == "ratio":
            assert f"(E = {median:g})" in text
            assert f"{want:.1f} times the expected number" in text
            continue
        assert f"(n = {median:g})" in text
        assert f"at least {meta['detectable_value']:.1f} {meta['unit']}" in text
        assert f"{want:.1f} times the national figure" in text
        # Against the released funnel's own 99.8% limit at n: a provider at the stated relative
        # risk (to the 2 places published) is flagged with about 80% probability.
        funnel = funnels[key]
        assert funnel is not None
        limit = funnel.limits([median])["upper_998_adjusted"][0] * median
        count = math.floor(round(limit, 9)) + 1
        target = meta["detectable_target"]
        assert stats.binom.sf(count - 1, median, (want + 0.01) * target) >= 0.8
        assert stats.binom.sf(count - 1, median, (want - 0.01) * target) < 0.8
    assert stated["ratio"] >= 2 and stated["proportion"] >= 2, stated


def test_each_provider_page_says_what_its_funnel_can_detect_at_its_own_size(
    published: Published,
) -> None:
    out = published.report.parent
    document = json.loads((out / "benchmarks.json").read_text())
    banded = {m["indicator"]: m for m in document["indicators"] if m["detectable_kind"]}
    stated = {"ratio": 0, "proportion": 0}
    withheld = 0
    for provider in document["providers"]:
        page = (out / "providers" / f"{provider}.html").read_text()
        statements = {(m[0], m[1]): m for m in _POWER.findall(page)}
        assert {p for _, p in statements} <= {provider}
        assert {k for k, _ in statements} <= set(banded)
        for key, meta in banded.items():
            row = next(r for r in meta["rows"] if r["provider"] == provider)
            size = row[_size_column(meta)]
            if not isinstance(size, float | int) or size <= 0:
                # A withheld (or absent) size gets no statement: nothing is derived from a figure
                # that is not published; nor does a provider with nothing at risk.
                assert (key, provider) not in statements
                withheld += size == "*"
                continue
            _, _, kind, said, ratio, text = statements[key, provider]
            assert (kind, float(said)) == (meta["detectable_kind"], size)
            want = _detectable(float(size), meta)
            if want is None:
                assert ratio == ""
                assert "not banded" in text or "cannot flag" in text
                continue
            stated[kind] += 1
            assert float(ratio) == want
            if kind == "ratio":
                assert f"{want:.1f} times the expected number" in text
            else:
                assert f"{want:.1f} times the national figure" in text
    assert stated["ratio"] >= 10 and stated["proportion"] >= 10, stated
    assert withheld >= 1

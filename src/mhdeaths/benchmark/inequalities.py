"""The benchmark report's inequalities section and recurring-themes table (issue 15).

Inequalities, nationally, over the inpatient indicators' pooling window: inpatient deaths per
100,000 occupied bed days and deaths of detained inpatients per 100,000 detained bed days (the
IAPDC rate) by broad ethnic group, each with its rate ratio against White; and deaths in scope by
deprivation decile, with each decile's share and its ratio to the tenth of the population every
decile holds. Only the provider-months whose activity was submitted to spec 2.0.0 or later count,
numerators and denominators alike: earlier activity has no ethnic strata (the warehouse files it
as "not known") and earlier death records no decile, so a rate over a mixture would be wrong.

Recurring themes: the themes the reviews of counted deaths found (spec 2.0.0's optional theme
table), nationally and by provider, by financial year of death (April to March): the year trusts'
Quality Accounts and annual Learning from Deaths reports cover; a quarter's themes are too few per
provider to be worth publishing.

As for the indicators, the counts are taken here unrounded and published only through
:func:`release_tables`, which applies the same disclosure control
(:func:`mhdeaths.benchmark.disclosure_control.suppressed_rows`: the rule, and secondary
suppression against each table's total) and computes every published rate, share, ratio and
interval again from the released counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mhdeaths.benchmark.compute import (
    NATIONAL,
    Benchmarks,
    Window,
    as_at_sql,
    window_ending,
)
from mhdeaths.benchmark.disclosure_control import Cell, suppressed_rows
from mhdeaths.benchmark.indicators import Indicator, load_indicators
from mhdeaths.spec import available_versions, load_spec
from mhdeaths.stats import ci_proportion, disclose, rate
from mhdeaths.stats.disclosure import SUPPRESSED
from mhdeaths.warehouse.overview import reading

POOLING_MONTHS = 36
"""The window of the inequalities section: the pooling window of the inpatient rates it splits."""
ETHNIC_MEASURES = ("inpatient_deaths", "detained_deaths")
"""The indicators split by ethnic group: their numerator and denominator, as the indicator states
them (``warehouse/indicators``), so the section's rate is the indicator's rate."""
REFERENCE_GROUP = "W"
"""The rate ratios' reference: White, the largest group (as ONS and IAPDC compare)."""
NOT_KNOWN_GROUP = "U"
DEPRIVATION = "deprivation"
DECILES = tuple(str(d) for d in range(1, 11))
NOT_KNOWN = "not_known"
TOTAL = "all"
"""The group label of a table's total row in the published cells."""
IN_SCOPE = "death_category IN ('IPD', 'D30', 'AWA')"
STRATA_SPEC = "NOT starts_with(spec_version, '1.')"
"""The activity that carries the ethnic and ward strata (spec 2.0.0 and its successors)."""

INEQUALITY_COLUMNS = (
    "measure",
    "window",
    "group",
    "label",
    "observed",
    "denominator",
    "value",
    "lower",
    "upper",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "note",
)
"""The columns of a released inequalities row, in the order the CSV and workbook show them."""
THEME_COLUMNS = ("theme", "label", "provider", "year", "observed")
"""The columns of a released themes row."""

_PLACES = {"rate": 2, "share": 1, "ratio": 2}


@dataclass(frozen=True)
class Coverage:
    """The provider-months of the window with activity, and how many of them carry the strata."""

    provider_months: int
    with_strata: int
    providers_with_strata: int


@dataclass(frozen=True)
class Tables:
    """The section's unrounded counts: never published as they stand."""

    window: Window
    coverage: Coverage
    ethnic: dict[str, pl.DataFrame]
    """Per measure: ``provider`` (the group; the total labelled NATIONAL), observed, denominator."""
    measures: dict[str, Indicator]
    deprivation: pl.DataFrame
    """``provider`` (the decile; the total of known deciles labelled NATIONAL) and observed."""
    not_known: float
    """Deaths in scope whose record gives no decile."""
    themes: pl.DataFrame
    """theme, provider (NATIONAL for the nation), year (``2028-29``), observed."""
    theme_labels: dict[str, str]
    ethnic_labels: dict[str, str]
    years: tuple[str, ...]


@dataclass(frozen=True)
class ReleasedTables:
    """The section's published cells."""

    window: Window
    coverage: Coverage
    inequalities: list[dict[str, Cell]]
    themes: list[dict[str, Cell]]
    theme_labels: dict[str, str]
    ethnic_labels: dict[str, str]
    years: tuple[str, ...]
    measures: dict[str, dict[str, str]]
    """Per measure: its title, unit, numerator and denominator labels."""
    withheld: int
    """How many of the section's counts are withheld (shown as ``*``)."""

    def rows(self, measure: str) -> list[dict[str, Cell]]:
        return [r for r in self.inequalities if r["measure"] == measure]

    def theme_rows(self, year: str) -> list[dict[str, Cell]]:
        return [r for r in self.themes if r["year"] == year]


def financial_year(year: int) -> str:
    """The label of the financial year that starts in April of ``year``: ``2028-29``."""
    return f"{year}-{(year + 1) % 100:02d}"


def _labels(name: str, version: str) -> dict[str, str]:
    """A code list's labels, from the definitions' spec version, or the newest spec holding it
    (a warehouse derived under 1.x definitions may still hold 2.0.0 records)."""
    for candidate in (version, *reversed(available_versions())):
        try:
            code_list = load_spec(candidate).code_list(name)
        except (KeyError, LookupError, ValueError):
            continue
        return {c.code: c.label for c in code_list.codes}
    return {}


def compute_tables(path: Path, benchmarks: Benchmarks) -> Tables:
    """The section's counts for the window ending at the benchmarks' period, from the warehouse as
    at the benchmarks' time."""
    window = window_ending(benchmarks.period, POOLING_MONTHS)
    at = as_at_sql(benchmarks.as_at)
    indicators = {i.id: i for i in load_indicators()}
    measures = {m: indicators[m] for m in ETHNIC_MEASURES if m in indicators}
    version = benchmarks.definitions.version
    # The groups, in the code list's order, as the spec holds them.
    ethnic_labels = _labels("ethnic_group", version)
    groups = tuple(ethnic_labels)
    with reading(path) as con:
        # The provider-months of the window whose activity carries the strata: the section counts
        # only deaths in these months, against only their activity.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE iq_months AS "
            "SELECT org_id_provider, reporting_period, bool_and(" + STRATA_SPEC + ") AS strata "
            f"FROM activity_as_at({at}) WHERE reporting_period BETWEEN $first AND $last "
            "GROUP BY ALL",
            {"first": window.first, "last": window.last},
        )
        row = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE strata), "
            "count(DISTINCT org_id_provider) FILTER (WHERE strata) FROM iq_months"
        ).fetchone()
        coverage = Coverage(*(int(x or 0) for x in (row or (0, 0, 0))))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE iq_deaths AS SELECT d.* "
            f"FROM deaths_as_at({at}) AS d JOIN iq_months AS m "
            "ON m.strata AND m.org_id_provider = d.org_id_provider "
            "AND m.reporting_period = strftime(d.death_date, '%Y-%m') "
            "WHERE d.counted AND d.death_date >= $start AND d.death_date < $end",
            {"start": window.start, "end": window.end},
        )
        ethnic = {}
        for key, indicator in measures.items():
            assert indicator.denominator is not None and indicator.denominator.activity
            numerator = dict(
                con.execute(
                    f"SELECT coalesce(ethnic_group, '{NOT_KNOWN_GROUP}'), count(*) FROM iq_deaths "
                    f"WHERE {indicator.numerator.where} GROUP BY 1"
                ).fetchall()
            )
            denominator = dict(
                con.execute(
                    f"SELECT coalesce(a.ethnic_group, '{NOT_KNOWN_GROUP}'), "
                    f"sum({indicator.denominator.activity}) "
                    f"FROM activity_as_at({at}) AS a JOIN iq_months AS m "
                    "USING (org_id_provider, reporting_period) WHERE m.strata GROUP BY 1"
                ).fetchall()
            )
            ethnic[key] = _with_total(
                groups,
                [float(numerator.get(g, 0)) for g in groups],
                [float(denominator.get(g) or 0) for g in groups],
            )
        deciles = dict(
            con.execute(
                f"SELECT CAST(imd_decile AS VARCHAR), count(*) FROM iq_deaths WHERE {IN_SCOPE} "
                "GROUP BY 1"
            ).fetchall()
        )
        themes = con.execute(
            "SELECT theme, attributed_provider, "
            "CASE WHEN month(death_date) >= 4 THEN year(death_date) ELSE year(death_date) - 1 END, "
            f"count(*) FROM themes_as_at({at}) WHERE death_date < $end GROUP BY ALL",
            {"end": window.end},
        ).fetchall()
    deprivation = _with_total(DECILES, [float(deciles.get(d, 0)) for d in DECILES], None)
    theme_labels = _labels("theme", version)
    return Tables(
        window=window,
        coverage=coverage,
        ethnic=ethnic,
        measures=measures,
        deprivation=deprivation,
        not_known=float(deciles.get(None, 0)),
        themes=_theme_frame(themes, benchmarks.providers, theme_labels),
        theme_labels=theme_labels,
        ethnic_labels=ethnic_labels,
        years=tuple(sorted({financial_year(int(t[2])) for t in themes})),
    )


def _with_total(groups: tuple[str, ...], o: list[float], n: list[float] | None) -> pl.DataFrame:
    columns: dict[str, Any] = {"provider": [*groups, NATIONAL], "observed": [*o, sum(o)]}
    if n is not None:
        columns["denominator"] = [*n, sum(n)]
    return pl.DataFrame(columns)


def _theme_frame(
    rows: list[tuple[Any, ...]], providers: tuple[str, ...], labels: dict[str, str]
) -> pl.DataFrame:
    """Every theme of the code list, for every provider (a provider left out of a table would
    say its count is 0, which the MHSDS rule withholds) and each financial year with a theme, with
    the national row: zeros filled in."""
    counts = {(str(t), str(p), financial_year(int(y))): float(c) for t, p, y, c in rows}
    years = sorted({k[2] for k in counts})
    themes = sorted(set(labels) | {k[0] for k in counts}, key=_theme_order(labels))
    everyone = sorted(set(providers) | {k[1] for k in counts})
    out = []
    for theme in themes:
        for year in years:
            values = [counts.get((theme, p, year), 0.0) for p in everyone]
            out += [{"theme": theme, "provider": p, "year": year, "observed": v}
                    for p, v in zip(everyone, values, strict=True)]  # fmt: skip
            out.append(
                {"theme": theme, "provider": NATIONAL, "year": year, "observed": sum(values)}
            )
    schema = {"theme": pl.String, "provider": pl.String, "year": pl.String, "observed": pl.Float64}
    return pl.DataFrame(out, schema=schema)


def _theme_order(labels: dict[str, str]) -> Any:
    order = {code: i for i, code in enumerate(labels)}
    return lambda code: (order.get(code, len(order)), code)


def release_tables(tables: Tables, rule: str) -> ReleasedTables:
    """Disclosure control of every count of the section, then every figure from the released
    counts."""
    rows: list[dict[str, Cell]] = []
    for key, frame in tables.ethnic.items():
        rows += _ethnic_rows(key, frame, tables, rule)
    rows += _deprivation_rows(tables, rule)
    themes = _theme_rows(tables, rule)
    withheld = sum(
        1 for r in [*rows, *themes] for c in ("observed", "denominator") if r.get(c) == SUPPRESSED
    )
    measures = {
        key: {
            "title": i.title,
            "unit": i.unit,
            "numerator": i.numerator.label,
            "denominator": i.denominator.label if i.denominator else "",
        }
        for key, i in tables.measures.items()
    }
    return ReleasedTables(
        tables.window,
        tables.coverage,
        rows,
        themes,
        tables.theme_labels,
        tables.ethnic_labels,
        tables.years,
        measures,
        withheld,
    )


def _released(values: np.ndarray, hidden: np.ndarray, rule: str) -> np.ndarray:
    out = disclose(values, rule=rule).values.astype(float).copy()
    out[hidden] = np.nan
    return out


def _cell(value: float, hidden: bool, places: int | None = None) -> Cell:
    """A published figure: ``*`` where its row is withheld, empty where it has no value."""
    if hidden:
        return SUPPRESSED
    if not np.isfinite(value):
        return None
    return int(value) if places is None else round(float(value), places)


def rate_ratio_limits(
    o: np.ndarray, n: np.ndarray, o_ref: float, n_ref: float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """The limits of the ratio of two Poisson rates (o/n over o_ref/n_ref), by the conditional
    method: given the two counts' total, a group's count is binomial with proportion
    RR·n / (RR·n + n_ref); the Wilson limits of that proportion (``ci_proportion``), mapped back
    to the ratio. NaN where either count is missing or both are 0; an infinite upper limit where
    the reference count is 0."""
    total = o + o_ref
    usable = np.isfinite(o) & np.isfinite(total) & (total > 0) & (n > 0) & (n_ref > 0)
    low, up = ci_proportion(np.where(usable, o, 0.0), np.where(usable, total, 1.0), confidence)
    low, up = np.asarray(low), np.asarray(up)
    scale = np.where(usable, n_ref / np.where(n > 0, n, 1.0), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(low < 1, low / (1 - low), np.inf) * scale
        upper = np.where(up < 1, up / (1 - up), np.inf) * scale
    return np.where(usable, lower, np.nan), np.where(usable, upper, np.nan)


def _ethnic_rows(key: str, frame: pl.DataFrame, tables: Tables, rule: str) -> list[dict[str, Cell]]:
    indicator = tables.measures[key]
    hidden = suppressed_rows(frame, rule)
    o = _released(frame["observed"].to_numpy().astype(float), hidden, rule)
    n = _released(frame["denominator"].to_numpy().astype(float), hidden, rule)
    value, lower, upper = rate(np.nan_to_num(o, nan=0.0), n, multiplier=indicator.multiplier)
    value = np.where(np.isfinite(o), value, np.nan)
    groups = frame["provider"].to_list()
    ref = groups.index(REFERENCE_GROUP)
    o_ref, n_ref = o[ref], n[ref]  # numpy scalars: a 0 reference gives NaN, not an error
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (o / n) / (o_ref / n_ref)
    r_low, r_up = rate_ratio_limits(o, n, o_ref, n_ref)
    out = []
    for i, group in enumerate(groups):
        total, reference = group == NATIONAL, i == ref
        # No ratio for the total, the reference itself, the unknown group, nor against a
        # reference with no deaths (an infinite ratio).
        has_ratio = not (total or reference or group == NOT_KNOWN_GROUP or o_ref == 0)
        # A ratio is withheld with its own row, or with the reference row it is taken against.
        ratio_hidden = bool(hidden[i] or hidden[ref])
        note = None
        if reference:
            note = "reference group"
        elif group == NOT_KNOWN_GROUP:
            note = "not stated or not known: no ratio"
        out.append(
            {
                "measure": key,
                "window": tables.window.label,
                "group": TOTAL if total else group,
                "label": "All ethnic groups" if total else tables.ethnic_labels.get(group, group),
                "observed": _cell(o[i], hidden[i]),
                "denominator": _cell(n[i], hidden[i]),
                "value": _cell(value[i], hidden[i], _PLACES["rate"]),
                "lower": _cell(lower[i], hidden[i], _PLACES["rate"]),
                "upper": _cell(upper[i], hidden[i], _PLACES["rate"]),
                "ratio": _cell(ratio[i], ratio_hidden, 2) if has_ratio else None,
                "ratio_lower": _cell(r_low[i], ratio_hidden, 2) if has_ratio else None,
                "ratio_upper": _cell(r_up[i], ratio_hidden, 2) if has_ratio else None,
                "note": note,
            }
        )
    return out


def _deprivation_rows(tables: Tables, rule: str) -> list[dict[str, Cell]]:
    frame = tables.deprivation
    counts = frame["observed"].to_numpy().astype(float)
    total = counts[-1]
    # A decile's share is a share of deaths: the deaths in the other deciles are a count of
    # people too, withheld with it when the rule would withhold them.
    complement = disclose(np.clip(total - counts, 0, None), rule=rule).suppressed
    complement[-1] = False
    hidden = suppressed_rows(frame, rule, also=complement)
    o = _released(counts, hidden, rule)
    t = float(o[-1])
    usable = np.isfinite(o) & np.isfinite(t) & (t > 0)
    low, up = ci_proportion(np.where(usable, o, 0.0), t if usable.any() else 1.0)
    share = np.where(usable, o / (t if t > 0 else 1.0), np.nan)
    low, up = np.where(usable, low, np.nan), np.where(usable, up, np.nan)
    out = []
    groups = frame["provider"].to_list()
    for i, group in enumerate(groups):
        is_total = group == NATIONAL
        out.append(
            {
                "measure": DEPRIVATION,
                "window": tables.window.label,
                "group": TOTAL if is_total else group,
                "label": "All deaths with a known decile"
                if is_total
                else f"Decile {group}"
                + (
                    " (most deprived)"
                    if group == "1"
                    else " (least deprived)"
                    if group == "10"
                    else ""
                ),
                "observed": _cell(o[i], hidden[i]),
                "denominator": _cell(t, bool(hidden[-1])) if not is_total else None,
                "value": _cell(100 * share[i], hidden[i], _PLACES["share"])
                if not is_total
                else None,
                "lower": _cell(100 * low[i], hidden[i], _PLACES["share"]) if not is_total else None,
                "upper": _cell(100 * up[i], hidden[i], _PLACES["share"]) if not is_total else None,
                # Each decile holds a tenth of England's population (IMD deciles of LSOAs).
                "ratio": _cell(10 * share[i], hidden[i], 2) if not is_total else None,
                "ratio_lower": _cell(10 * low[i], hidden[i], 2) if not is_total else None,
                "ratio_upper": _cell(10 * up[i], hidden[i], 2) if not is_total else None,
                "note": None,
            }
        )
    # Deaths whose record gives no decile: a count of its own, in no total.
    unknown_hidden = bool(disclose([tables.not_known], rule=rule).suppressed[0])
    released_unknown = float(disclose([tables.not_known], rule=rule).values[0])
    out.append(
        {
            "measure": DEPRIVATION,
            "window": tables.window.label,
            "group": NOT_KNOWN,
            "label": "Decile not known",
            "observed": _cell(released_unknown, unknown_hidden),
            **dict.fromkeys(INEQUALITY_COLUMNS[5:-1]),
            "note": "not in the shares",
        }
    )
    return out


def _theme_rows(tables: Tables, rule: str) -> list[dict[str, Cell]]:
    out: list[dict[str, Cell]] = []
    frame = tables.themes
    if frame.height == 0:
        return out
    for (theme, year), part in frame.group_by(["theme", "year"], maintain_order=True):
        hidden = suppressed_rows(part, rule)
        o = _released(part["observed"].to_numpy().astype(float), hidden, rule)
        label = tables.theme_labels.get(str(theme), str(theme))
        for i, provider in enumerate(part["provider"].to_list()):
            out.append(
                {
                    "theme": str(theme),
                    "label": label,
                    "provider": provider,
                    "year": str(year),
                    "observed": _cell(o[i], hidden[i]),
                }
            )
    return out

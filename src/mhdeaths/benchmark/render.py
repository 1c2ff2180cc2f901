"""The published benchmark outputs: an offline HTML report, CSV, a workbook, JSON, and one quarterly
summary per provider.

Every output is written from the same released cells (``mhdeaths.benchmark.disclosure_control``), so no file
shows a figure another suppresses. Nothing here computes a statistic; the funnel geometry is
drawn from the released figures (the funnel re-run on the released counts).
Outputs carry no time of generation, so running the same benchmark twice writes the same bytes.
Every output names the definitions its figures were derived under (the spec version and the day
of the warehouse's latest derivation run): a column of every CSV and of the workbook's sheets, a
key of the JSON, a line of the report's methods and of each provider page's footer.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import xlsxwriter

from mhdeaths.benchmark.compute import NATIONAL, Benchmarks
from mhdeaths.benchmark.disclosure_control import (
    ROW_COLUMNS,
    TREND_COLUMNS,
    Cell,
    Released,
    as_plain,
)
from mhdeaths.benchmark.inequalities import INEQUALITY_COLUMNS, THEME_COLUMNS
from mhdeaths.benchmark.monitoring import MONITORING_COLUMNS, NOT_PUBLISHED, ProviderChart
from mhdeaths.benchmark.plot import BAND_CLASS, funnel_plot
from mhdeaths.benchmark.provider_summary import ProviderSummary
from mhdeaths.output.folders import inside, make_folder, write_whole
from mhdeaths.output.writing import dump_json, excel_safe
from mhdeaths.stats import BAND_HIGHER, BAND_LOWER
from mhdeaths.stats.disclosure import SUPPRESSED

JSON_SCHEMA = "mhdeaths-benchmarks/1"
DEFINITIONS_COLUMN = "definitions_version"
"""The last column of every CSV: the spec version whose definitions derived the figures."""

INDICATOR_COLUMNS = (
    "indicator",
    "title",
    "unit",
    "kind",
    "window",
    "months",
    "standardised_by",
    "min_expected",
    "overdispersion",
    "phi",
    "tau2",
    "method",
)


def write_outputs(
    benchmarks: Benchmarks,
    released: Released,
    summaries: list[ProviderSummary],
    out: Path,
) -> list[Path]:
    """Write every output into ``out``, whole or not at all (``write_whole``); the paths written,
    the HTML report first."""
    return write_whole(
        out, "benchmarks", lambda staging: _write(benchmarks, released, summaries, staging)
    )


def _write(
    benchmarks: Benchmarks,
    released: Released,
    summaries: list[ProviderSummary],
    out: Path,
) -> list[Path]:
    written = {
        out / "benchmarks.html": _html(benchmarks, released),
        out / "benchmarks.json": _json(benchmarks, released),
        out / "benchmarks.csv": csv_text(ROW_COLUMNS, released.rows, benchmarks),
        out / "benchmarks-trend.csv": csv_text(TREND_COLUMNS, released.trend, benchmarks),
        out / "benchmarks-inequalities.csv": csv_text(
            INEQUALITY_COLUMNS, _inequalities(released), benchmarks
        ),
        out / "benchmarks-themes.csv": csv_text(THEME_COLUMNS, _themes(released), benchmarks),
        out / "benchmarks-monitoring.csv": csv_text(
            MONITORING_COLUMNS, _monitoring_rows(released), benchmarks
        ),
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8", newline="")
    workbook = out / "benchmarks.xlsx"
    _xlsx(workbook, released, benchmarks.period, benchmarks.definitions.version)
    providers = make_folder(out / "providers", "provider pages")
    pages = []
    for summary in summaries:
        # A provider code from the warehouse passed the spec's pattern at load; the page is still
        # checked to stay in its folder, as every file named from data is.
        page = inside(providers, f"{summary.provider}.html")
        page.write_text(_summary_html(summary, released, benchmarks), encoding="utf-8")
        pages.append(page)
    return [*written, workbook, *pages]


def _inequalities(released: Released) -> list[dict[str, Cell]]:
    return released.tables.inequalities if released.tables else []


def _themes(released: Released) -> list[dict[str, Cell]]:
    return released.tables.themes if released.tables else []


def _monitoring_rows(released: Released) -> list[dict[str, Cell]]:
    return [row for m in released.monitoring for row in m.rows()]


def _monitoring_json(released: Released) -> list[dict[str, Any]]:
    """Each monitored indicator's charts as released: thresholds only, no alert."""
    return [{**m.describe(), "rows": m.rows()} for m in released.monitoring]


def _provider_monitoring(released: Released, provider: str) -> list[tuple[Any, ProviderChart]]:
    """The provider's own released chart rows (thresholds), one per monitored indicator."""
    return [(m, c) for m in released.monitoring for c in m.charts if c.provider == provider]


def _tables_json(released: Released) -> dict[str, Any]:
    """The inequalities section and the themes table, with what they cover."""
    tables = released.tables
    if tables is None:
        return {"inequalities": None, "themes": None}
    coverage = tables.coverage
    return {
        "inequalities": {
            "window": tables.window.label,
            "provider_months": coverage.provider_months,
            "provider_months_with_strata": coverage.with_strata,
            "rows": tables.inequalities,
        },
        "themes": {
            "years": list(tables.years),
            "labels": tables.theme_labels,
            "rows": tables.themes,
        },
    }


def _json(benchmarks: Benchmarks, released: Released) -> str:
    document = {
        "schema": JSON_SCHEMA,
        "period": benchmarks.period,
        "as_at": benchmarks.as_at.isoformat() if benchmarks.as_at else None,
        "definitions_version": benchmarks.definitions.version,
        "definitions_sha256": benchmarks.definitions.sha256,
        "disclosure": {
            "rule": released.rule.name,
            "title": released.rule.title,
            "description": released.rule.description,
            "source": released.rule.source,
        },
        "providers": list(benchmarks.providers),
        "indicators": [
            {
                **meta,
                "rows": [r for r in released.rows if r["indicator"] == meta["indicator"]],
                "trend": [r for r in released.trend if r["indicator"] == meta["indicator"]],
            }
            for meta in released.indicators
        ],
        **_tables_json(released),
        "monitoring": _monitoring_json(released),
    }
    return dump_json(document)


def csv_text(columns: tuple[str, ...], rows: list[dict[str, Cell]], benchmarks: Benchmarks) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*columns, DEFINITIONS_COLUMN])
    version = benchmarks.definitions.version
    for row in rows:
        writer.writerow([*(_csv_cell(row.get(c)) for c in columns), version])
    return buffer.getvalue()


def _csv_cell(value: Cell) -> object:
    # A number is written as it is (a negative z-score must stay a number); text can never
    # start a spreadsheet formula.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return excel_safe(as_plain(value))


def _xlsx(path: Path, released: Released, period: str, definitions: str) -> None:
    # Text cells are written as strings (never formulas); numbers stay numbers.
    with xlsxwriter.Workbook(str(path), {"strings_to_formulas": False}) as book:
        # The workbook's own creation time is the period's, so the same warehouse gives the
        # same bytes.
        book.set_properties({"created": dt.datetime.strptime(period, "%Y-%m")})
        bold = book.add_format({"bold": True})
        sheets: list[tuple[str, tuple[str, ...], list[dict[str, Cell]]]] = [
            ("Indicators", INDICATOR_COLUMNS, released.indicators),
            ("Providers", ROW_COLUMNS, released.rows),
            ("Trend", TREND_COLUMNS, released.trend),
            ("Inequalities", INEQUALITY_COLUMNS, _inequalities(released)),
            ("Themes", THEME_COLUMNS, _themes(released)),
            ("Monitoring", MONITORING_COLUMNS, _monitoring_rows(released)),
        ]
        for name, columns, rows in sheets:
            sheet = book.add_worksheet(name)
            sheet.write_row(0, 0, (*columns, DEFINITIONS_COLUMN), bold)
            for i, row in enumerate(rows, start=1):
                for j, column in enumerate(columns):
                    sheet.write(i, j, as_plain(row.get(column)))
                sheet.write(i, len(columns), definitions)
            sheet.freeze_panes(1, 0)
        notes = book.add_worksheet("Disclosure")
        notes.write_row(0, 0, ("rule", "title", "description", "source"), bold)
        rule = released.rule
        notes.write_row(1, 0, (rule.name, rule.title, rule.description, rule.source))


def _html(benchmarks: Benchmarks, released: Released) -> str:
    from mhdeaths.output.templating import html_environment

    sections = []
    # The plots are drawn from the released figures: the funnel re-run on released counts.
    for result, meta in zip(released.results, released.indicators, strict=True):
        rows = [r for r in released.rows if r["indicator"] == result.key]
        shown = {
            str(r["provider"])
            for r in rows
            if r["provider"] != NATIONAL and r["observed"] not in (SUPPRESSED, None)
        }
        trend = [
            r for r in released.trend if r["indicator"] == result.key and r["provider"] == NATIONAL
        ]
        sections.append(
            {
                "meta": meta,
                "result": result,
                "rows": [r for r in rows if r["provider"] != NATIONAL],
                "national": next(r for r in rows if r["provider"] == NATIONAL),
                "plot": funnel_plot(result, shown),
                "trend": trend,
            }
        )
    summary = _band_summary(benchmarks, released)
    template = html_environment().get_template("benchmark-report.html.j2")
    return template.render(
        benchmarks=benchmarks,
        released=released,
        sections=sections,
        summary=summary,
        band_class=BAND_CLASS,
        tables=released.tables,
        theme_table=_theme_table(released),
        monitoring=released.monitoring,
    )


def _theme_table(released: Released) -> dict[str, Any]:
    """The themes' released counts arranged for the report: per financial year, the national
    row and each provider's row, each a mapping of theme to its cell."""
    tables = released.tables
    if tables is None or not tables.themes:
        return {"themes": [], "years": [], "national": {}, "providers": {}}
    themes = list(dict.fromkeys(str(r["theme"]) for r in tables.themes))
    national: dict[str, dict[str, Cell]] = {}
    providers: dict[str, dict[str, dict[str, Cell]]] = {}
    for r in tables.themes:
        year, theme, provider = str(r["year"]), str(r["theme"]), str(r["provider"])
        if provider == NATIONAL:
            national.setdefault(theme, {})[year] = r["observed"]
        else:
            providers.setdefault(year, {}).setdefault(provider, {})[theme] = r["observed"]
    return {
        "themes": themes,
        "years": list(tables.years),
        "national": national,
        "providers": providers,
    }


def _band_summary(benchmarks: Benchmarks, released: Released) -> list[dict[str, Any]]:
    out = []
    for result, meta in zip(released.results, released.indicators, strict=True):
        rows = [
            r for r in released.rows if r["indicator"] == result.key and r["provider"] != NATIONAL
        ]
        out.append(
            {
                "indicator": result.key,
                "title": meta["title"],
                "high": released.providers_banded(result.key, "95", BAND_HIGHER),
                "low": released.providers_banded(result.key, "95", BAND_LOWER),
                "high_998": released.providers_banded(result.key, "998", BAND_HIGHER),
                "low_998": released.providers_banded(result.key, "998", BAND_LOWER),
                "unbanded": sum(r.get("band_95") is None for r in rows),
                "banded": result.indicator.banded,
                "kind": result.indicator.kind,
            }
        )
    return out


def _summary_html(summary: ProviderSummary, released: Released, benchmarks: Benchmarks) -> str:
    from mhdeaths.output.templating import html_environment

    template = html_environment().get_template("provider-summary.html.j2")
    return template.render(
        summary=summary,
        released=released,
        band_class=BAND_CLASS,
        definitions=benchmarks.definitions,
        monitoring=_provider_monitoring(released, summary.provider),
        not_published=NOT_PUBLISHED,
    )

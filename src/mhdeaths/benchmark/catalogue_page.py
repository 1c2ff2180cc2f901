"""The indicators page of the docs site, rendered from the indicator files themselves.

A retired indicator id stays in old publications and in people's scripts; whoever meets one needs
to know what replaced it. A hand-kept table of retired ids would drift from
``warehouse/indicators/retired/`` the day an indicator is retired, so the docs site renders this
page from the loaded catalogue (``mhdeaths.docsite`` writes it to ``docs/reference/``).
"""

from __future__ import annotations

from pathlib import Path

from mhdeaths.benchmark.indicators import Indicator, load_catalogue
from mhdeaths.output.templating import md, mdcode


def _ids(ids: tuple[str, ...]) -> str:
    return ", ".join(mdcode(i) for i in ids)


def _compared(indicator: Indicator) -> str:
    if indicator.method.compare == "standardised_ratio":
        by = " × ".join(
            s.removeprefix("stated_").replace("_", " ") for s in indicator.standardise_by
        )
        compared = f"ratio standardised by {by}"
        if indicator.monitor is not None:
            compared += (
                f"; charted monthly (CUSUM, R = {indicator.monitor.rate_ratio:g}, "
                f"{indicator.monitor.false_alarms_per_year:g} false alerts a provider-year)"
            )
        return compared
    return {"crude": "funnel on the value", "none": "not banded"}[indicator.method.compare]


def catalogue_page(root: Path | None = None) -> str:
    """The Markdown page: the indicators in use, then every retired id with its replacements."""
    catalogue = load_catalogue(root)
    lines = [
        "# Indicators",
        "",
        "The indicators `mhdeaths benchmark` computes, read from `warehouse/indicators/` (the",
        "format is in [the benchmarks guide](../benchmarks.md#the-indicators)). A published id",
        "keeps its meaning: when a definition changes what an indicator counts, the indicator gets",
        "a new id and the old one is retired (below).",
        "",
        "## In use",
        "",
        "| id | title | kind | unit | compared by | months pooled | mature months | variants |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i in catalogue:
        if i.status != "active":
            continue
        variants = _ids(tuple(v.id for v in i.live_variants)) if len(i.live_variants) > 1 else "-"
        lines.append(
            f"| {mdcode(i.id)} | {md(i.title)} | {md(i.kind)} | {md(i.unit)} | {_compared(i)} "
            f"| {i.pooling_months} | {i.mature_months or '-'} | {variants} |"
        )
    lines += [
        "",
        "## Retired",
        "",
        "A retired indicator (or variant) is never computed; `mhdeaths benchmark --indicator` with",
        "a retired id exits with code 2 and names the ids to use instead.",
        "",
        "| retired id | retired with definitions | use instead |",
        "|---|---|---|",
    ]
    retired = [(i.id, i.retired_in, i.superseded_by) for i in catalogue if i.status == "retired"]
    retired += [
        (f"{i.id}.{v.id}", v.retired_in, v.superseded_by)
        for i in catalogue
        for v in i.variants
        if v.status == "retired"
    ]
    for key, version, instead in sorted(retired):
        lines.append(f"| {mdcode(key)} | {md(version)} | {_ids(instead)} |")
    return "\n".join(lines) + "\n"

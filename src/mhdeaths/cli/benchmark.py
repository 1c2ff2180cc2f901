"""The ``mhdeaths benchmark`` command, and the options it shares with ``mhdeaths run``.

Compares providers on every indicator the warehouse holds and writes the published report; every
count passes a disclosure rule first.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mhdeaths.cli.common import as_at_option, escape, out
from mhdeaths.cli.warehouse import WarehousePath


def disclosure_rules() -> list[tuple[str, str]]:
    """The disclosure rules in ``mhdeaths.stats``' own table (``DISCLOSURE_RULES``), in its
    order, each as its name and its ``rounding`` ("nearest" or "midpoint"), read from the table's
    source.

    Read, not imported: importing ``mhdeaths.stats`` loads numpy, polars and scipy (half a second
    or more), and typer builds every command's options to run any one of them, so every command,
    ``--help`` included, would wait for it. Only benchmark and run apply a rule, and they import
    the stats package then (where an unknown name would fail: ``stats.disclosure.get_rule``).
    A rule that does not say its ``rounding`` has the ``DisclosureRule`` field's default, read
    from the same source.
    """
    found = importlib.util.find_spec("mhdeaths.stats")  # where the package is; nothing is run
    assert found is not None and found.submodule_search_locations
    source = Path(found.submodule_search_locations[0]) / "disclosure.py"
    body = ast.parse(source.read_text(encoding="utf-8")).body
    default = next(
        field.value.value
        for node in body
        if isinstance(node, ast.ClassDef) and node.name == "DisclosureRule"
        for field in node.body
        if isinstance(field, ast.AnnAssign)
        and isinstance(field.target, ast.Name)
        and field.target.id == "rounding"
        and isinstance(field.value, ast.Constant)
    )
    for node in body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "DISCLOSURE_RULES"
            and node.value is not None
        ):
            rules = []
            for call in ast.walk(node.value):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == "DisclosureRule"
                ):
                    continue
                said = {
                    k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)
                }
                if "name" in said:
                    rules.append((str(said["name"]), str(said.get("rounding", default))))
            if rules:
                return rules
    raise RuntimeError(f"No DisclosureRule(name=...) in DISCLOSURE_RULES of {source}.")


def releasable_rule_names() -> list[str]:
    """The stats package's disclosure rules the benchmarks can be released under, in its order:
    those that round every count, totals included, to the nearest multiple of their base
    (``benchmark.disclosure_control.RELEASABLE_RULES``). A midpoint rule keeps a total safe only
    as the sum of its released cells, and the benchmarks' national rows are rounded on their own.
    """
    return [name for name, rounding in disclosure_rules() if rounding == "nearest"]


DisclosureRuleName = StrEnum(  # type: ignore[misc]
    "DisclosureRuleName", [(name, name) for name in releasable_rule_names()]
)
"""The --disclosure option's choices for benchmark and run: the stats package's disclosure rules
the benchmarks can be released under, by name. Offering the others would only have them refused."""
DEFAULT_DISCLOSURE = DisclosureRuleName("nhs_england")
"""The rule a publication applies unless told otherwise (as ``stats.disclose`` does)."""


Period = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="The last reporting period (CCYY-MM) of every pooling window \\[default: the "
        "latest with activity].",
        show_default=False,
    ),
]
Disclosure = Annotated[
    DisclosureRuleName,
    typer.Option("--disclosure", help="The disclosure control rule applied to released counts."),
]
MonitoringPack = Annotated[
    Path | None,
    typer.Option(
        "--monitoring-pack",
        help="Also write the restricted monitoring pack into this folder: each provider's "
        "monthly CUSUM charts and alerts, for the provider and the national team, NOT for "
        "publication. It must be outside the publication's folder.",
        show_default=False,
    ),
]


def benchmark(
    warehouse: WarehousePath = None,
    period: Period = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the report and its data.")
    ] = Path("out/benchmarks"),
    disclosure: Disclosure = DEFAULT_DISCLOSURE,
    as_at: Annotated[
        dt.datetime | None,
        as_at_option("Benchmark the warehouse as it stood at this time (for a past publication)."),
    ] = None,
    indicator: Annotated[
        list[str] | None,
        typer.Option(
            "--indicator",
            help="Benchmark only this indicator (its id; repeat for more) \\[default: every "
            "indicator in use]. A retired id is refused with the ids that replace it.",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        bool,
        typer.Option(
            help="Record the run and its released figures in the warehouse (benchmark_run, "
            "benchmark_result), so outliers and trends are SQL.",
        ),
    ] = True,
    monitoring_pack: MonitoringPack = None,
) -> None:
    """Compare providers on every indicator and write the published report.

    Writes benchmarks.html (self-contained, with a funnel plot per indicator), the same figures as
    CSV, XLSX and JSON, and each provider's quarterly summary in providers/. Every count passes the
    disclosure rule first, and every figure is computed from the released counts.
    """
    from mhdeaths.benchmark.run import publish_benchmarks
    from mhdeaths.warehouse.store import default_path

    done = publish_benchmarks(
        warehouse or default_path(),
        out_dir,
        period=period,
        rule=disclosure.value,
        as_at=as_at,
        indicators=indicator,
        store=store,
        pack=monitoring_pack,
    )
    for line in done.summary():
        out.print(escape(line))
    out.print(
        f"Report: {escape(str(done.report))} ({len(done.paths)} files in {escape(str(out_dir))})."
    )
    if done.run_id is not None:
        out.print(f"Recorded as benchmark run {done.run_id} in the warehouse.")

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


def disclosure_rule_names() -> list[str]:
    """The names of the disclosure rules in ``mhdeaths.stats``' own table (``DISCLOSURE_RULES``),
    in its order, read from the table's source.

    Read, not imported: importing ``mhdeaths.stats`` loads numpy, polars and scipy (half a second
    or more), and typer builds every command's options to run any one of them, so every command,
    ``--help`` included, would wait for it. Only benchmark and run apply a rule, and they import
    the stats package then (where an unknown name would fail: ``stats.disclosure.get_rule``).
    """
    found = importlib.util.find_spec("mhdeaths.stats")  # where the package is; nothing is run
    assert found is not None and found.submodule_search_locations
    source = Path(found.submodule_search_locations[0]) / "disclosure.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "DISCLOSURE_RULES"
            and node.value is not None
        ):
            names = [
                keyword.value.value
                for call in ast.walk(node.value)
                if isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == "DisclosureRule"
                for keyword in call.keywords
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant)
            ]
            if names:
                return [str(name) for name in names]
    raise RuntimeError(f"No DisclosureRule(name=...) in DISCLOSURE_RULES of {source}.")


DisclosureRuleName = StrEnum(  # type: ignore[misc]
    "DisclosureRuleName", [(name, name) for name in disclosure_rule_names()]
)
"""The --disclosure option's choices: the stats package's disclosure rules, by name."""
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
    )
    for line in done.summary():
        out.print(escape(line))
    out.print(
        f"Report: {escape(str(done.report))} ({len(done.paths)} files in {escape(str(out_dir))})."
    )
    if done.run_id is not None:
        out.print(f"Recorded as benchmark run {done.run_id} in the warehouse.")

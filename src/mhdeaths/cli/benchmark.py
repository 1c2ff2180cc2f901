"""The ``mhdeaths benchmark`` command, and the options it shares with ``mhdeaths run``.

Compares providers on every indicator the warehouse holds and writes the published report; every
count passes a disclosure rule first.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mhdeaths.cli.common import out
from mhdeaths.cli.warehouse import WarehousePath


class DisclosureRuleName(StrEnum):
    nhs_england = "nhs_england"
    mhsds = "mhsds"
    opensafely = "opensafely"


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
    disclosure: Disclosure = DisclosureRuleName.nhs_england,
    as_at: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-at",
            help="Benchmark the warehouse as it stood at this time (for a past publication).",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
            show_default=False,
        ),
    ] = None,
) -> None:
    """Compare providers on every indicator and write the published report.

    Writes benchmarks.html (self-contained, with a funnel plot per indicator), the same figures as
    CSV, XLSX and JSON, and each provider's quarterly summary in providers/. Every count passes the
    disclosure rule first, and every figure is computed from the released counts.
    """
    from mhdeaths.benchmark.run import publish_benchmarks
    from mhdeaths.warehouse.store import default_path

    done = publish_benchmarks(
        warehouse or default_path(), out_dir, period=period, rule=disclosure.value, as_at=as_at
    )
    for line in done.summary():
        out.print(escape(line))
    out.print(
        f"Report: {escape(str(done.report))} ({len(done.paths)} files in {escape(str(out_dir))})."
    )

"""The ``mhdeaths run`` and ``mhdeaths demo`` commands: the main job, on an inbox or on the examples.

``run`` validates a folder of received submissions, loads the accepted ones and refreshes the
benchmarks (``mhdeaths.jobs.inbox``); ``demo`` runs the whole flow on the bundled examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mhdeaths import guard
from mhdeaths.cli.benchmark import DEFAULT_DISCLOSURE, Disclosure, MonitoringPack, Period
from mhdeaths.cli.common import SpecRoot, escape, out, spec_root
from mhdeaths.cli.progress import progress_bar
from mhdeaths.cli.warehouse import DemoKey, KeyFile, LimitSettings, WarehousePath, pseudonym_key
from mhdeaths.errors import ExitCode
from mhdeaths.limits import Limits

if TYPE_CHECKING:
    from mhdeaths.jobs.inbox import Received


def run(
    inbox: Annotated[
        Path, typer.Argument(help="The folder of submissions received.", show_default=False)
    ],
    warehouse: WarehousePath = None,
    key_file: KeyFile = None,
    demo_key: DemoKey = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for the benchmarks \\[default: benchmarks/ beside the warehouse].",
            show_default=False,
        ),
    ] = None,
    period: Period = None,
    disclosure: Disclosure = DEFAULT_DISCLOSURE,
    limit: LimitSettings = None,
    monitoring_pack: MonitoringPack = None,
) -> None:
    """Validate every submission in a folder, load the accepted ones, refresh the benchmarks.

    Each submission's report (HTML and JSON) is written beside its files; rejected submissions
    are left where they are and listed with the rules they failed, as is a submission whose file
    cannot be read at all; the rest of the inbox still goes in. Exits 0 when nothing was rejected,
    1 when something was rejected or unreadable, 2 on bad usage, 3 when the warehouse is busy.
    """
    from mhdeaths.jobs.inbox import run_inbox
    from mhdeaths.validate.submission_files import group_submission_files
    from mhdeaths.warehouse.store import default_path

    limits = Limits.parse(limit)
    path = warehouse or default_path()
    key = pseudonym_key(key_file, demo_key)
    total = len(group_submission_files([inbox])) if inbox.is_dir() else None
    with progress_bar("Validating and loading", total) as advance:

        def received(r: Received) -> None:
            out.print(_received_line(r, inbox))
            advance()

        done = run_inbox(
            inbox,
            path,
            out_dir or path.parent / "benchmarks",
            key=key,
            period=period,
            rule=disclosure.value,
            progress=received,
            reporting=lambda line: out.print(line),
            limits=limits,
            pack=monitoring_pack,
        )
    failed = [r for r in done.received if r.status in ("rejected", "unreadable")]
    out.print(
        f"{len(done.received)} submission(s) in {escape(str(inbox))}: {done.count('loaded')} "
        f"loaded, {done.count('unchanged')} already loaded, {done.count('rejected')} rejected, "
        f"{done.count('unreadable')} unreadable; each report is beside its files."
    )
    for r in failed:
        where = f"; see {escape(guard.path_below(r.reports[0], inbox))}" if r.reports else ""
        out.print(f"  {r.status} {escape(r.label)}: {escape(', '.join(r.reasons))}{where}")
    if done.published:
        for line in done.published.summary():
            out.print(escape(line))
        out.print(f"Benchmarks: {escape(str(done.published.report))}")
    else:
        out.print("No benchmarks yet: the warehouse holds no activity.")
    if failed:
        raise typer.Exit(int(ExitCode.FAILED))


def _received_line(received: Received, inbox: Path) -> str:
    from mhdeaths.cli.warehouse import describe

    if received.outcome is None:
        error = guard.message(received.error or "")
        return f"[red]unreadable[/red] {escape(received.label)}: {escape(error)}"
    return describe(received.outcome, typed=inbox)


def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for everything the demo writes.")
    ] = Path("out"),
    spec_dir: SpecRoot = None,
) -> None:
    """Run the main job end to end on the bundled example submissions.

    Checks every spec version, publishes the latest, and checks every example submission against
    the rules of the spec version it declares.
    """
    from mhdeaths.jobs.demo import run_demo

    root = spec_root(spec_dir)
    summary = run_demo(root, out_dir, progress=lambda line: out.print(line))
    out.print(summary)

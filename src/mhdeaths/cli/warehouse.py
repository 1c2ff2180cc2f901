"""The ``mhdeaths warehouse`` commands: init, load, status, history, query, export.

Each parses its options, calls one function of ``mhdeaths.warehouse``, and renders the result.
The warehouse file is named by --warehouse, else $MHDEATHS_WAREHOUSE, else ./mhdeaths.duckdb.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import sys
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mhdeaths import guard
from mhdeaths.cli.common import AS_AT_FORMATS, LazyConsole, escape
from mhdeaths.cli.process import end_command
from mhdeaths.cli.progress import progress_bar
from mhdeaths.errors import ExitCode, UserError
from mhdeaths.limits import NAMES as LIMIT_NAMES
from mhdeaths.limits import Limits

if TYPE_CHECKING:
    from mhdeaths.warehouse.feeds import FeedOutcome
    from mhdeaths.warehouse.loading import LoadOutcome
    from mhdeaths.warehouse.pseudonym import PseudonymKey

app = typer.Typer(
    help="The national warehouse: load validated submissions, see what arrived, query it.",
    no_args_is_help=True,
)
out = LazyConsole(highlight=False, soft_wrap=True)

WarehousePath = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="The warehouse file \\[default: $MHDEATHS_WAREHOUSE, the settings file's warehouse, else ./mhdeaths.duckdb].",
        show_default=False,
    ),
]


KeyFile = Annotated[
    Path | None,
    typer.Option(
        help="A file holding the pseudonym key: one line of at least 32 hex or base64 "
        "characters, readable by its owner alone (chmod 600) \\[default: "
        "$MHDEATHS_PSEUDONYM_KEY_FILE or $MHDEATHS_PSEUDONYM_KEY].",
        show_default=False,
    ),
]
LimitSettings = Annotated[
    list[str] | None,
    typer.Option(
        "--limit",
        metavar="NAME=VALUE",
        help="Change a limit on what one file may take to read (repeatable): "
        + ", ".join(name.replace("_", "-") for name in LIMIT_NAMES)
        + "; sizes may end in K, M or G, e.g. --limit file-size=2G (see the Limits table in "
        "docs/validator.md).",
        show_default=False,
    ),
]
DemoKey = Annotated[
    bool,
    typer.Option(
        help="Use the public demo key: only for synthetic NHS numbers (the bundled examples)."
    ),
]


def pseudonym_key(key_file: Path | None, demo_key: bool) -> PseudonymKey:
    """The key the options name; --demo-key is explicit, so it wins over a key in the
    environment."""
    from mhdeaths.warehouse.pseudonym import demo_key as demo
    from mhdeaths.warehouse.pseudonym import load_key

    if demo_key and key_file:
        raise UserError("Give --demo-key or --key-file, not both.")
    return demo() if demo_key else load_key(key_file)


class QueryFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class StatusFormat(StrEnum):
    text = "text"
    json = "json"


def _path(warehouse: Path | None) -> Path:
    from mhdeaths.warehouse.store import default_path

    return warehouse or default_path()


@app.command("init")
def init(warehouse: WarehousePath = None) -> None:
    """Make a new warehouse, or bring an existing one up to date (its data stays as it is)."""
    from mhdeaths.warehouse.schema import upgrade
    from mhdeaths.warehouse.store import connect

    path = _path(warehouse)
    existed = path.exists()
    with connect(path) as con:
        done = upgrade(con)
    rederived = sum(done.rederived.records.values()) if existed and done.rederived else 0
    changed = done.applied or done.views_rewritten or rederived
    what = "Made" if not existed else "Upgraded" if changed else "Checked"
    applied = f"; applied {', '.join(done.applied)}" if done.applied else ""
    applied += "; views rewritten" if existed and done.views_rewritten else ""
    if done.rederived and rederived:
        version = done.rederived.definitions_version
        applied += f"; {rederived} records derived again under spec {version}'s definitions"
    out.print(f"{what} the warehouse {escape(str(path))}: schema {done.schema_version}{applied}.")


@app.command("load")
def load(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Submission files or folders. Files named <ODS>_<CCYY-MM>_<table>.<ext> are "
            "grouped by provider and period; others by folder.",
            show_default=False,
        ),
    ],
    warehouse: WarehousePath = None,
    key_file: KeyFile = None,
    demo_key: DemoKey = False,
    received_at: Annotated[
        dt.datetime | None,
        typer.Option(
            help="When the submissions were received, if not now (for loading an archive).",
            formats=AS_AT_FORMATS,
            show_default=False,
        ),
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="Use this provider's profile (validators/<ODS>.yaml).")
    ] = None,
    profile_path: Annotated[
        Path | None, typer.Option("--profile", help="Use the profile in this file.")
    ] = None,
    reports: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the report of a rejected submission \\[default: reports/ "
            "beside the warehouse].",
            show_default=False,
        ),
    ] = None,
    limit: LimitSettings = None,
) -> None:
    """Validate each submission and load the accepted ones, each in one transaction.

    Exits 0 when every submission was loaded (or was already there), 1 when any was rejected,
    3 when the warehouse is busy with another process.
    """
    from mhdeaths.jobs.load_reports import write_rejected_report
    from mhdeaths.validate.profiles import load_profile
    from mhdeaths.warehouse.loading import load as load_files

    if provider and profile_path:
        raise UserError("Give --provider or --profile, not both.")
    from mhdeaths.validate.submission_files import group_submission_files

    limits = Limits.parse(limit)
    path = _path(warehouse)
    folder = reports or path.parent / "reports"
    key = pseudonym_key(key_file, demo_key)
    with progress_bar("Loading", len(group_submission_files(files))) as advance:

        def done(outcome: LoadOutcome) -> None:
            out.print(describe(write_rejected_report(outcome, folder)))
            advance()

        outcomes = load_files(
            path,
            files,
            key=key,
            received_at=received_at,
            profile=load_profile(profile_path) if profile_path else None,
            provider=provider,
            progress=done,
            limits=limits,
        )
    counts = {s: sum(o.status == s for o in outcomes) for s in ("loaded", "unchanged", "rejected")}
    out.print(
        f"{len(outcomes)} submission(s): {counts['loaded']} loaded, "
        f"{counts['unchanged']} already loaded, {counts['rejected']} rejected."
    )
    end_command(ExitCode.FAILED if counts["rejected"] else ExitCode.OK)


def describe(outcome: LoadOutcome, typed: Path | None = None) -> str:
    """One line per submission, as the load goes; a report's path is shown as typed down to
    ``typed`` (the folder the user named) and guarded below it."""
    o = outcome
    name = escape(f"{o.provider or '?'} {o.reporting_period or '?'}")
    if o.status == "rejected":
        where = (
            escape(guard.path_below(o.reports[0], typed)) if o.reports else "the validation report"
        )
        label = "" if o.label == f"{o.provider} {o.reporting_period}" else f" ({escape(o.label)})"
        return f"[red]rejected[/red]  {name}{label}: see {where}"
    if o.status == "unchanged":
        return f"unchanged {name}: identical to submission {o.submission_id}, nothing loaded"
    extra = f", supersedes submission {o.supersedes}" if o.supersedes else ""
    if not o.current:
        extra += ", older than the current submission, which stays current"
    return (
        f"[green]loaded[/green]    {name} as submission {o.submission_id} (spec "
        f"{o.spec_version}, {o.death_rows} death and {o.activity_rows} activity records{extra})"
    )


class Feed(StrEnum):
    registrations = "registrations"
    spells = "spells"


@app.command("load-feed")
def load_feed(
    feed: Annotated[Feed, typer.Argument(help="The national feed the files hold.")],
    files: Annotated[
        list[Path],
        typer.Argument(
            help="The feed's CSV or Parquet files, or folders of them; they load in name order "
            "(name them <feed>_<CCYY-MM>.<ext>, the month the extract ends).",
            show_default=False,
        ),
    ],
    warehouse: WarehousePath = None,
    key_file: KeyFile = None,
    demo_key: DemoKey = False,
    feed_version: Annotated[
        str | None,
        typer.Option(help="The feed spec version \\[default: its latest].", show_default=False),
    ] = None,
    received_at: Annotated[
        dt.datetime | None,
        typer.Option(
            help="When the extract was received, if not now (for loading an archive).",
            formats=AS_AT_FORMATS,
            show_default=False,
        ),
    ] = None,
    reports: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the report of a rejected file \\[default: reports/ beside the "
            "warehouse].",
            show_default=False,
        ),
    ] = None,
    limit: LimitSettings = None,
) -> None:
    """Validate national feed files (death registrations or MHSDS spells) against the feed's
    spec and load the accepted ones, each in one transaction; for the national analysts only.

    NHS numbers are stored only as pseudonyms, under the warehouse's key. A registration is kept
    only when it links to a spell in the reporting window or to a reported death; the rest are
    counted and never stored. Exits 0 when every file was loaded (or was already there), 1 when
    any was rejected, 3 when the warehouse is busy.
    """
    from mhdeaths.jobs.load_reports import write_rejected_feed_report
    from mhdeaths.warehouse.feeds import load_feed as load_files

    path = _path(warehouse)
    folder = reports or path.parent / "reports"
    key = pseudonym_key(key_file, demo_key)
    with progress_bar(f"Loading {feed.value}", None) as advance:

        def done(outcome: FeedOutcome) -> None:
            out.print(describe_feed(write_rejected_feed_report(outcome, folder)))
            advance()

        outcomes = load_files(
            path,
            feed.value,
            files,
            key=key,
            version=feed_version,
            received_at=received_at,
            limits=Limits.parse(limit),
            progress=done,
        )
    rejected = sum(o.status == "rejected" for o in outcomes)
    end_command(ExitCode.FAILED if rejected else ExitCode.OK)


def describe_feed(outcome: FeedOutcome, typed: Path | None = None) -> str:
    """One line per feed file: counts only."""
    o = outcome
    name = escape(f"{o.feed} {_months(o)}")
    if o.status == "rejected":
        where = (
            escape(guard.path_below(o.reports[0], typed)) if o.reports else "the validation report"
        )
        return f"[red]rejected[/red]  {o.feed} file {escape(guard.name(o.label))}: see {where}"
    if o.status == "unchanged":
        more = ", and no spells or submissions since" if o.feed == "registrations" else ""
        return f"unchanged {escape(o.feed)} file: identical to feed load {o.feed_load_id}{more}"
    head = f"[green]loaded[/green]    {name} as feed load {o.feed_load_id} ({o.feed} {o.feed_version}): "
    if o.feed == "spells":
        return head + f"{o.rows_kept:,} spells, {o.unlinkable:,} without a usable NHS number"
    return head + (
        f"{o.rows_read:,} read, {o.rows_kept:,} kept ({o.kept_by_spell:,} linked to spells, "
        f"{o.kept_by_report_only:,} to reported deaths only), "
        f"{o.discarded_unlinked + o.unlinkable:,} discarded ({o.discarded_unlinked:,} unlinked, "
        f"{o.unlinkable:,} without a usable NHS number)"
    )


def _months(o: FeedOutcome) -> str:
    if o.covers_from is None or o.covers_to is None:
        return "(no records)"
    return f"{o.covers_from:%Y-%m}..{o.covers_to:%Y-%m}"


@app.command("status")
def status(
    warehouse: WarehousePath = None,
    fmt: Annotated[StatusFormat, typer.Option("--format")] = StatusFormat.text,
) -> None:
    """What arrived, what was superseded, what is late or missing, and what the deaths come to."""
    from mhdeaths.warehouse.overview import status as get_status

    s = get_status(_path(warehouse))
    if fmt is StatusFormat.json:
        sys.stdout.write(json.dumps(asdict(s), default=_plain, indent=1) + "\n")
        return
    lines = [
        f"Warehouse {escape(str(s.path))} ({s.size_bytes / 1e6:.1f} MB), schema {s.schema_version}"
        + (
            f", {s.migrations_pending} migration(s) waiting: run init"
            if s.migrations_pending
            else ""
        ),
        f"Submissions: {s.submissions} ({s.current} current, {s.superseded} superseded, "
        f"{s.late} current ones late) from {s.providers} provider(s), periods "
        f"{s.first_period or '-'} to {s.last_period or '-'}; last received "
        f"{_plain(s.last_received) or '-'}",
        f"Death records stored: {s.death_records_stored}; deaths now: {s.deaths} "
        f"({s.deaths_counted} counted, {s.duplicates_resolved} resolved as duplicates of another "
        f"provider's record), {s.withdrawn} withdrawn, {s.category_disagreements} whose declared "
        "category disagrees with the derived one",
        f"Review records stored: {s.review_records_stored}; reviews now: {s.reviews} "
        f"({s.orphan_reviews} of no current death record)",
        f"Coroners' report addressee records stored: {s.pfd_addressee_records_stored}; "
        f"addressees now: {s.pfd_addressees} ({s.pfd_responses_overdue} responses overdue)",
        f"Theme records stored: {s.theme_records_stored}; themes of counted deaths now: {s.themes}",
        f"Pseudonym key fingerprint: {s.key_fingerprint or '-'}",
    ]
    for f in s.feeds:
        kept = "spells stored" if f.feed == "spells" else "registrations kept"
        lines.append(
            f"National feed {f.feed}: {f.loads} load(s), covering {_plain(f.covers_from) or '-'} "
            f"to {_plain(f.covers_to) or '-'}; {f.rows_kept:,} {kept}"
            + (f", {f.rows_discarded:,} discarded" if f.feed == "registrations" else "")
            + f"; last loaded {_plain(f.last_loaded) or '-'}"
        )
        if f.relink_advised:
            lines.append(
                "  Re-link advised: spells or submissions were loaded after the last "
                "registrations load; load the registrations extract again to link them."
            )
    for provider, months in s.activity_differs:
        lines.append(
            f"Activity of {provider} differs from the spells feed in {months} of the last 12 "
            "periods the feed covers (see the activity_crosscheck view)"
        )
    for line in lines:
        out.print(line)
    if s.missing:
        out.print(f"Missing and overdue: {len(s.missing)} provider-period(s)")
        for gap in s.missing[:50]:
            out.print(f"  {gap.provider} {gap.reporting_period} (due {gap.due_date.isoformat()})")
        if len(s.missing) > 50:
            out.print(f"  ... and {len(s.missing) - 50} more (see --format json)")
    else:
        out.print("Missing and overdue: none")


FormatOption = Annotated[
    QueryFormat,
    typer.Option(
        "--format",
        help="table on the terminal; csv (with a byte-order mark for Excel when written to "
        "a file, none into a pipe) or json for every row.",
    ),
]


@app.command("history")
def history(
    warehouse: WarehousePath = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    period: Annotated[
        str | None, typer.Option(help="Only this reporting period (CCYY-MM).")
    ] = None,
    fmt: FormatOption = QueryFormat.table,
) -> None:
    """Every submission, oldest first: what it held, what it did, and what superseded it."""
    from mhdeaths.warehouse.overview import HistoryRow
    from mhdeaths.warehouse.overview import history as get_history

    rows = get_history(_path(warehouse), provider, period)
    if fmt is not QueryFormat.table:
        columns = tuple(HistoryRow.__dataclass_fields__)
        _emit(columns, [tuple(asdict(r).values()) for r in rows], fmt, limit=None)
        return
    # On the terminal: one narrow line per submission (csv and json carry every column).
    from rich.table import Table as RichTable

    table = RichTable("id", "provider", "period", "spec", "received (UTC)", "status", "late",
                      "death records N/U/D", "reviews", "PFD addressees", "themes",
                      "activity")  # fmt: skip
    for r in rows:
        status = r.status if r.superseded_by is None else f"superseded by {r.superseded_by}"
        table.add_row(
            str(r.submission_id), r.provider, r.reporting_period, r.spec_version,
            r.received_at.strftime("%Y-%m-%d %H:%M"), status, "late" if r.late else "",
            f"{r.new_records}/{r.updated_records}/{r.withdrawn_records}", str(r.review_rows),
            str(r.pfd_addressee_rows), str(r.theme_rows), str(r.activity_rows),
        )  # fmt: skip
    out.print(table)
    out.print(f"({len(rows)} submission{'s' if len(rows) != 1 else ''})")


@app.command("query")
def query(
    sql: Annotated[str, typer.Argument(help="One SQL query, or - to read it from standard input.")],
    warehouse: WarehousePath = None,
    fmt: FormatOption = QueryFormat.table,
    limit: Annotated[
        int, typer.Option(help="The most rows shown as a table (csv and json show all).")
    ] = 100,
) -> None:
    """Query the warehouse with SQL, read-only (the views are documented in docs/warehouse.md)."""
    from mhdeaths.warehouse.querying import query as run_query

    text = sys.stdin.read() if sql == "-" else sql
    result = run_query(_path(warehouse), text)
    _emit(result.columns, result.rows, fmt, limit)


@app.command("export")
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write the Parquet into.")],
    warehouse: WarehousePath = None,
) -> None:
    """Export the current deaths and activity as Parquet, partitioned by year and provider.

    The export holds pseudonyms, not identifiers, but it is record level: it is for analysts,
    not for publication (published figures go through small-number suppression).
    """
    from mhdeaths.warehouse.querying import export as run_export

    for path in run_export(_path(warehouse), out_dir):
        out.print(f"Wrote {escape(str(path))}")


@app.command("copy")
def copy_command(
    target: Annotated[
        Path, typer.Argument(help="The new DuckDB file to write.", show_default=False)
    ],
    warehouse: WarehousePath = None,
    storage_version: Annotated[
        str,
        typer.Option(
            help="The DuckDB storage format of the copy: v1.0.0 opens in DuckDB 1.1 and newer.",
        ),
    ] = "v1.0.0",
) -> None:
    """Copy the warehouse into a file that DuckDB 1.x opens (R, Node, older notebooks).

    The warehouse is in DuckDB 2's storage format, which DuckDB 1.x refuses. The copy holds every
    table, view and macro, pseudonyms included: keep it as you keep the warehouse.
    """
    from mhdeaths.warehouse.querying import copy_for_older_duckdb

    written = copy_for_older_duckdb(_path(warehouse), target, storage_version)
    out.print(f"Wrote {escape(str(written))} (DuckDB storage {escape(storage_version)}).")


def _plain(value: object) -> object:
    from mhdeaths.warehouse.querying import as_text

    if value is None:
        return None
    if isinstance(value, Path):
        return str(value)
    return as_text(value)


def _to_a_file() -> bool:
    """Whether standard output is a regular file (``> result.csv``), not a pipe or terminal."""
    import stat

    try:
        return stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def _emit(
    columns: tuple[str, ...],
    rows: list[tuple[object, ...]],
    fmt: QueryFormat,
    limit: int | None,
) -> None:
    from mhdeaths.output.writing import excel_safe
    from mhdeaths.warehouse.querying import as_text

    if fmt is QueryFormat.csv:
        if _to_a_file():
            # Excel reads a CSV as UTF-8 only after a byte-order mark, as the findings CSV has
            # one; a pipe to another program gets none (it would be read as part of a header).
            sys.stdout.write("\ufeff")
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([excel_safe(as_text(v)) for v in row] for row in rows)
    elif fmt is QueryFormat.json:
        records = [
            {
                c: v if isinstance(v, int | float | bool) or v is None else as_text(v)
                for c, v in zip(columns, row, strict=True)
            }
            for row in rows
        ]
        sys.stdout.write(json.dumps(records, indent=1) + "\n")
    else:
        from rich.table import Table as RichTable

        table = RichTable(*[escape(c) for c in columns])
        shown = rows if limit is None else rows[:limit]
        for row in shown:
            table.add_row(*[escape(as_text(v)) for v in row])
        out.print(table)
        if limit is not None and len(rows) > limit:
            out.print(f"({limit} of {len(rows)} rows shown; use --limit, or --format csv for all)")
        else:
            out.print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    sys.stdout.flush()

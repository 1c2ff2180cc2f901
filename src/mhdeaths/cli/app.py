"""The ``mhdeaths`` command: parse options, call one library function, render, map errors to exits.

Nothing below this module prints. A ``UserError`` from the library becomes one sentence on stderr
and its documented exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from mhdeaths.cli.process import end_command, files_to_read_ahead

if _files_ahead := files_to_read_ahead():
    # Read the files on a thread while the rest is imported (a third of a second, on one core).
    from mhdeaths.validate.reading import read_ahead

    read_ahead(_files_ahead)

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from mhdeaths import errors, guard
from mhdeaths.cli.warehouse import DemoKey, KeyFile, LimitSettings, WarehousePath, pseudonym_key
from mhdeaths.cli.warehouse import app as warehouse_app
from mhdeaths.errors import ExitCode, SpecCheckFailed, UserError
from mhdeaths.limits import Limits
from mhdeaths.paths import default_spec_root
from mhdeaths.spec import Severity, Spec, available_versions, latest_version, load_spec
from mhdeaths.validate.report import Report

if TYPE_CHECKING:
    from mhdeaths.jobs.inbox import Received

app = typer.Typer(
    name="mhdeaths",
    help="A unified national dataset of deaths in NHS mental health services in England.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
spec_app = typer.Typer(
    help="Work with the versioned data specification: list, show, check, diff, publish, release.",
    no_args_is_help=True,
)
app.add_typer(spec_app, name="spec")
profile_app = typer.Typer(
    help="Work with provider profiles (validators/<ODS>.yaml).", no_args_is_help=True
)
app.add_typer(profile_app, name="profile")
app.add_typer(warehouse_app, name="warehouse")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

SpecRoot = Annotated[
    Path | None,
    typer.Option(
        "--spec-dir",
        help="The spec folder \\[default: the spec/ folder of this checkout, or $MHDEATHS_SPEC_DIR].",
        show_default=False,
    ),
]


def _root(spec_dir: Path | None) -> Path:
    return spec_dir or default_spec_root()


@spec_app.command("list")
def spec_list(spec_dir: SpecRoot = None) -> None:
    """List the spec versions, newest last, with their status and effective reporting period."""
    root = _root(spec_dir)
    table = RichTable("version", "status", "published", "effective from", "also accepts")
    for version in available_versions(root):
        spec = load_spec(version, root)
        table.add_row(
            spec.version,
            spec.status,
            spec.published.isoformat(),
            spec.effective_from,
            ", ".join(spec.accepts_previous) or "-",
        )
    out.print(table)


@spec_app.command("show")
def spec_show(
    version: Annotated[
        str | None, typer.Argument(help="Spec version \\[default: the latest].")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="Show one rule by its id.")] = None,
    field: Annotated[
        str | None,
        typer.Option(help="Show one field, written TABLE.FIELD (e.g. death.death_date)."),
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Show a spec version: its tables, fields, code lists, rules and definitions."""
    spec = load_spec(version, _root(spec_dir))
    if rule:
        _show_rule(spec, rule)
    elif field:
        _show_field(spec, field)
    else:
        _show_summary(spec)


def _show_summary(spec: Spec) -> None:
    out.print(f"[bold]{spec.title}[/bold]  version {spec.version} ({spec.status})")
    out.print(f"Published {spec.published}; effective from reporting period {spec.effective_from}.")
    for t in spec.tables:
        grid = RichTable(
            "field", "title", "type", "format", "mandation", "code list / pattern", title=t.name
        )
        for f in t.fields:
            rule_text = f.code_list or f.pattern or ""
            grid.add_row(f.name, f.title, f.type.value, f.format, f.mandation.value, rule_text)
        out.print(grid)
    counts: dict[str, int] = {}
    for r in spec.rules:
        counts[r.severity.value] = counts.get(r.severity.value, 0) + 1
    out.print(
        f"{len(spec.rules)} rules ("
        + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
        + f"); {len(spec.code_lists)} code lists; {len(spec.definitions)} definitions: "
        + ", ".join(d.name for d in spec.definitions)
        + "."
    )


def _show_rule(spec: Spec, rule_id: str) -> None:
    try:
        rule = spec.rule(rule_id)
    except KeyError:
        raise errors.SpecError(f"Spec {spec.version} has no rule {rule_id!r}.") from None
    grid = RichTable.grid(padding=(0, 2))
    for label, value in [
        ("id", rule.id),
        ("table", rule.table),
        ("severity", rule.severity.value),
        ("scope", rule.scope.value),
        ("fields", ", ".join(rule.fields)),
        ("title", rule.title),
        ("message", rule.message),
        ("fix", rule.fix),
        ("expression", rule.expression),
        ("example", str(rule.example)),
        ("since", rule.since),
    ]:
        grid.add_row(f"[bold]{label}[/bold]", value)
    out.print(grid)


def _show_field(spec: Spec, name: str) -> None:
    table_name, _, field_name = name.rpartition(".")
    try:
        f = spec.table(table_name or "death").field(field_name)
    except KeyError:
        raise errors.SpecError(f"Spec {spec.version} has no field {name!r}.") from None
    grid = RichTable.grid(padding=(0, 2))
    for label, value in f.model_dump(exclude_none=True).items():
        grid.add_row(f"[bold]{label}[/bold]", str(value))
    out.print(grid)


@spec_app.command("check")
def spec_check(
    versions: Annotated[
        list[str] | None, typer.Argument(help="Versions to check \\[default: every version].")
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Check spec versions: references, expressions, examples, rule ids and released checksums.

    Exits 0 when every version is sound, 1 when a problem is found.
    """
    from mhdeaths.standard.check import check_spec

    root = _root(spec_dir)
    problems = []
    names = versions or available_versions(root)
    for version in names:
        spec = load_spec(version, root)
        found = check_spec(spec, root)
        problems += [str(p) for p in found]
        mark = "[green]ok[/green]" if not found else f"[red]{len(found)} problem(s)[/red]"
        out.print(
            f"{version}: {mark}  ({len(spec.rules)} rules, {len(spec.definitions)} definitions, "
            f"{sum(len(d.worked_examples) for d in spec.definitions)} worked examples)"
        )
    if problems:
        raise SpecCheckFailed(problems, f"The spec check found {len(problems)} problem(s).")


@spec_app.command("diff")
def spec_diff(
    old: Annotated[str, typer.Argument(help="The earlier version.")],
    new: Annotated[str, typer.Argument(help="The later version.")],
    spec_dir: SpecRoot = None,
) -> None:
    """List every change between two versions and the bump it needs.

    Exits 1 when the version numbers understate the bump the changes need.
    """
    from mhdeaths.standard.diff import diff_specs

    root = _root(spec_dir)
    result = diff_specs(load_spec(old, root), load_spec(new, root))
    table = RichTable("kind", "item", "change", "bump", "old", "new", title=f"{old} -> {new}")
    for c in result.changes:
        table.add_row(c.kind, c.item, c.change, str(c.bump), c.old or "", c.new or "")
    out.print(table)
    verdict = f"Needs a {result.needed} bump; the version numbers declare {result.declared}."
    if result.understated:
        raise SpecCheckFailed([], verdict + " The new version number understates it.")
    out.print(verdict + " [green]OK[/green]")


@spec_app.command("publish")
def spec_publish(
    version: Annotated[str, typer.Argument(help="The version to publish.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the artefacts into.")],
    spec_dir: SpecRoot = None,
) -> None:
    """Write a version's artefacts: data dictionary, JSON Schema, Data Package, Excel template,
    Great Expectations suite and change log."""
    from mhdeaths.standard.publish import publish

    root = _root(spec_dir)
    spec = load_spec(version, root)
    changelog = [load_spec(v, root).change for v in available_versions(root)]
    changelog = [c for c in changelog if _not_later(c.version, spec.version)]
    written = publish(spec, out_dir, changelog)
    out.print(f"Published spec {spec.version} to {out_dir}: {len(written)} files.")
    for path in written:
        out.print(f"  {path}")


def _not_later(a: str, b: str) -> bool:
    from mhdeaths.spec import parse_version

    return parse_version(a) <= parse_version(b)


@spec_app.command("release")
def spec_release(
    version: Annotated[str, typer.Argument(help="The version to release.")],
    spec_dir: SpecRoot = None,
) -> None:
    """Record a version's checksums in released.yaml, after it passes the spec check.

    From then on the version is immutable: changing any of its files fails the check and the tests.
    """
    from mhdeaths.standard.check import check_spec, record_release, released_checksums

    root = _root(spec_dir)
    spec = load_spec(version, root)
    if version in released_checksums(root):
        raise SpecCheckFailed(
            [],
            f"Spec {version} is already released, and a released version never changes: make the "
            "change in a new version.",
        )
    if spec.status == "draft":
        raise SpecCheckFailed(
            [], f"Spec {version} is still a draft: set its status in version.yaml first."
        )
    problems = check_spec(spec, root, releasing=True)
    if problems:
        raise SpecCheckFailed([str(p) for p in problems], f"Spec {version} fails its check.")
    path = record_release(spec, root)
    out.print(f"Recorded the checksums of {version} in {path}.")


@profile_app.command("check")
def profile_check(
    path: Annotated[Path, typer.Argument(help="The profile file, e.g. validators/RZ9.yaml.")],
    version: Annotated[
        str | None,
        typer.Option(
            "--spec",
            help="Spec version to check against \\[default: the profile's, or the latest].",
        ),
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Check a provider profile against the spec: its headers, code maps and derogations.

    Exits 0 when the profile fits the spec, 1 when a problem is found.
    """
    from mhdeaths.validate.profiles import check_profile, load_profile

    profile = load_profile(path)
    spec = load_spec(version or profile.spec_version, _root(spec_dir))
    problems = check_profile(profile, spec)
    if problems:
        raise SpecCheckFailed(problems, f"The profile {path} does not fit spec {spec.version}.")
    out.print(
        f"{path}: fits spec {spec.version} ({sum(len(h) for h in profile.headers.values())} headers, "
        f"{sum(len(c) for c in profile.codes.values())} local codes, "
        f"{len(profile.derogations)} derogations)."
    )


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"
    CSV = "csv"


@app.command("validate")
def validate_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="The submission: one file per table (CSV, Excel or Parquet), or one workbook "
            "with a sheet per table.",
            show_default=False,
        ),
    ],
    provider: Annotated[
        str | None,
        typer.Option(help="Use this provider's profile (validators/<ODS>.yaml)."),
    ] = None,
    profile_path: Annotated[
        Path | None, typer.Option("--profile", help="Use the profile in this file.")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--spec", help="Validate against this spec version \\[default: the file's own]."
        ),
    ] = None,
    formats: Annotated[
        list[OutputFormat] | None,
        typer.Option(
            "--format",
            help="Report format(s): text on the terminal; json, csv or html on standard output, "
            "or into --out (repeatable) \\[default: text; with --out: json, csv and html].",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the reports into this folder.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat warnings as failures.")] = False,
    encoding: Annotated[
        str | None,
        typer.Option(help="The CSV's encoding (utf-8 or windows-1252) \\[default: detected]."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="The CSV's delimiter \\[default: detected].")
    ] = None,
    limit: LimitSettings = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Validate a submission offline: every finding by row, column and rule, with a fix hint.

    Exits 0 when the submission is accepted (warnings allowed), 1 when it is rejected (or, with
    --strict, has warnings), 2 when a file cannot be read or the options are wrong.
    """
    from mhdeaths.validate.profiles import load_profile
    from mhdeaths.validate.validator import validate

    if provider and profile_path:
        raise UserError("Give --provider or --profile, not both.")
    limits = Limits.parse(limit)
    result = validate(
        files,
        spec_version=version,
        profile=load_profile(profile_path) if profile_path else None,
        provider=provider,
        spec_root=spec_dir,
        encoding=encoding,
        delimiter=delimiter,
        strict=strict,
        limits=limits,
    )
    report = result.report
    chosen = [f.value for f in formats or []]
    try:
        _write_validation_outputs(report, chosen, out_dir, files, spec_dir)
    except BrokenPipeError:
        # The reader of a pipe stopped early (| head): the exit code still tells the verdict.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    failed = not result.accepted or (strict and report.counts.get(Severity.WARNING))
    end_command(ExitCode.FAILED if failed else ExitCode.OK)


def _write_validation_outputs(
    report: Report,
    chosen: list[str],
    out_dir: Path | None,
    files: list[Path],
    spec_dir: Path | None,
) -> None:
    from mhdeaths.validate.render import print_report, to_csv, to_html, to_json, write_reports

    if out_dir is not None:
        from mhdeaths.validate.report_files import report_stem

        stem = report_stem(report, files, spec_root=spec_dir)
        wanted = [f for f in chosen if f != "text"] or ["json", "csv", "html"]
        written = write_reports(report, out_dir, stem, wanted)
        print_report(report, out)
        for path in written:
            out.print(f"Wrote {escape(str(path))}")
    elif not chosen or chosen == ["text"]:
        print_report(report, out)
    else:
        renderers = {"json": to_json, "csv": to_csv, "html": to_html, "text": None}
        for name in chosen:
            render = renderers[name]
            if render is None:
                print_report(report, out)
            else:
                sys.stdout.write(render(report))
    sys.stdout.flush()


@app.command("synth")
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the submissions into.")],
    providers: Annotated[int, typer.Option(min=1, help="Number of providers.")] = 5,
    months: Annotated[int, typer.Option(min=1, help="Number of monthly reporting periods.")] = 12,
    start: Annotated[str, typer.Option(help="First reporting period, CCYY-MM.")] = "2027-04",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 1,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of death records given one known error.")
    ] = 0.0,
    resubmissions: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of provider-months with deaths resubmitted later (to <ODS>/resubmissions/): "
            "updates with the details that came later, now and then a withdrawal or a late death.",
        ),
    ] = 0.0,
    transfers: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of deaths within 30 days of discharge that follow a transfer to another "
            "provider, which reports the same death as an inpatient death.",
        ),
    ] = 0.0,
    outlier: Annotated[
        list[str] | None,
        typer.Option(help="ODS code of a provider to plant as an outlier (repeatable)."),
    ] = None,
    provider: Annotated[
        list[str] | None,
        typer.Option(help="Name the providers by ODS code instead of numbering them (repeatable)."),
    ] = None,
    profile_path: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            help="Write the files the way this profile's provider exports them (its own headers, "
            "local codes and date format).",
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--spec", help="Spec version to write \\[default: the latest].")
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Write realistic synthetic death and activity submissions derived from the spec."""
    from mhdeaths.periods import period_start
    from mhdeaths.synth import SynthOptions, generate, rewrite_for_profile
    from mhdeaths.validate.profiles import load_profile

    period_start(start)
    spec = load_spec(version, _root(spec_dir))
    profile = load_profile(profile_path) if profile_path else None
    names = tuple(provider or ()) or ((profile.provider,) if profile else ())
    options = SynthOptions(
        providers=providers,
        months=months,
        start=start,
        seed=seed,
        error_rate=error_rate,
        outliers=tuple(outlier or ()),
        provider_list=names,
        resubmissions=resubmissions,
        transfers=transfers,
    )
    result = generate(spec, options, out_dir)
    if profile is not None:
        rewrite_for_profile(spec, profile, result.files)
    out.print(
        f"Wrote {len(result.files)} files for {len(result.providers)} providers "
        f"({', '.join(result.providers)}) to {out_dir}"
        + (f", {len(result.resubmissions)} of them resubmissions" if result.resubmissions else "")
        + (
            f", {len(result.transfers)} deaths reported by two providers"
            if result.transfers
            else ""
        )
        + (f", with {len(result.planted_errors)} planted errors." if result.planted_errors else ".")
    )


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


@app.command("benchmark")
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


@app.command("run")
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
    disclosure: Disclosure = DisclosureRuleName.nhs_england,
    limit: LimitSettings = None,
) -> None:
    """Validate every submission in a folder, load the accepted ones, refresh the benchmarks.

    Each submission's report (HTML and JSON) is written beside its files; rejected submissions
    are left where they are and listed with the rules they failed, as is a submission whose file
    cannot be read at all; the rest of the inbox still goes in. Exits 0 when nothing was rejected,
    1 when something was rejected or unreadable, 2 on bad usage, 3 when the warehouse is busy.
    """
    from mhdeaths.jobs.inbox import run_inbox
    from mhdeaths.warehouse.store import default_path

    limits = Limits.parse(limit)
    path = warehouse or default_path()
    done = run_inbox(
        inbox,
        path,
        out_dir or path.parent / "benchmarks",
        key=pseudonym_key(key_file, demo_key),
        period=period,
        rule=disclosure.value,
        progress=lambda r: out.print(_received_line(r, inbox)),
        reporting=lambda line: out.print(line),
        limits=limits,
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


@app.command("demo")
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

    root = _root(spec_dir)
    summary = run_demo(root, out_dir, progress=lambda line: out.print(line))
    out.print(summary)


FILE_UMASK = 0o077
"""The process's umask: files made 0600 and folders 0700, whatever the user's own umask says."""


def main() -> None:
    """Entry point: run the app, turning user errors into one line and an exit code.

    Usage errors are typer's own (exit 2, with the usage line). Every file and folder the command
    makes (the warehouse and its WAL, reports, benchmarks, exports) is the owner's alone: they
    hold pseudonymised records and what providers submitted (docs/warehouse.md, "File
    permissions").
    """
    os.umask(FILE_UMASK)
    try:
        app()
    except UserError as exc:
        _fail(exc)
    except Exception as exc:
        # A full disk, a read-only folder or a refused permission, met anywhere below: one
        # sentence and exit 2, like any other input the user can fix.
        # So is running out of memory (a machine smaller than the file needs).
        from mhdeaths.output.storage_errors import out_of_memory, storage_error

        words = _command_words()
        kept = _KEPT.get(words)
        mapped: UserError | None = storage_error(exc, _paths_named(), kept, _writes_to(words))
        mapped = mapped or out_of_memory(exc, kept)
        if mapped is None:
            raise
        _fail(mapped)


def _fail(exc: UserError) -> None:
    # A sentence may carry data from a file: the guard takes out control characters and
    # identifiers, whichever function made it.
    err.print(f"[red]error:[/red] {escape(guard.message(str(exc)))}", soft_wrap=True)
    if isinstance(exc, SpecCheckFailed):
        for problem in exc.problems:
            err.print(f"  - {escape(guard.message(problem))}", soft_wrap=True)
    # At once: a writer left half-open by the error (a workbook's zip on a full disk) would fail
    # again as Python frees it on the way out, and print that failure's traceback after the
    # sentence. Every connection and temporary folder was closed as the error unwound.
    end_command(int(exc.exit_code))


_LOADS_KEPT = (
    "each submission is in the warehouse whole or not at all, and {} skips those already loaded"
)
_KEPT = {
    ("warehouse", "load"): _LOADS_KEPT.format("loading again"),
    ("run",): _LOADS_KEPT.format("running again"),
    ("warehouse", "init"): "the warehouse's schema is as it was",
    ("benchmark",): "nothing was changed in the warehouse",
    ("warehouse", "export"): "nothing was changed in the warehouse",
    ("warehouse", "query"): "nothing was changed in the warehouse",
    ("warehouse", "status"): "nothing was changed in the warehouse",
    ("warehouse", "history"): "nothing was changed in the warehouse",
}
"""What a refused write leaves as it was, by command (each warehouse write is one transaction)."""


def _command_words() -> tuple[str, ...]:
    words = tuple(sys.argv[1:3])
    return words if words[:1] == ("warehouse",) else words[:1]


def _writes_to(words: tuple[str, ...]) -> str:
    """Where the command writes, as the user named it (or its default): --out, else the warehouse
    for a warehouse command, else the command's default output folder."""
    from mhdeaths.warehouse.store import default_path

    args = sys.argv[1:]
    for option in ("--out", "--warehouse", "-w"):
        for i, arg in enumerate(args):
            if arg == option and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(option + "="):
                return arg.partition("=")[2]
    if words in {("benchmark",), ("demo",)}:
        return "out/benchmarks" if words == ("benchmark",) else "out"
    return str(default_path())


def _paths_named() -> list[str]:
    """The paths a refused write's sentence may name: those on the command line, and the
    command's defaults (none of them made from a submission's values)."""
    from mhdeaths.output.storage_errors import paths_named
    from mhdeaths.warehouse.store import default_path

    warehouse = default_path()
    defaults = [warehouse, warehouse.parent / "reports", warehouse.parent / "benchmarks"]
    return paths_named(sys.argv[1:], [*defaults, Path("out/benchmarks"), Path("out")])


__all__ = ["app", "latest_version", "main"]

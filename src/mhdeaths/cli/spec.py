"""The ``mhdeaths spec`` commands: list, show, check, diff, publish, release and impact.

Each loads the versions it names from the spec folder and calls the standard's toolchain
(``mhdeaths.standard``); the spec is imported when a command runs, not when the command tree is
built, so that ``mhdeaths validate`` starts reading its files sooner.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mhdeaths import errors
from mhdeaths.cli.common import FeedName, SpecRoot, as_at_option, out, refuse_packaged, spec_root
from mhdeaths.cli.warehouse import WarehousePath
from mhdeaths.errors import SpecCheckFailed

if TYPE_CHECKING:
    from mhdeaths.spec import Spec

app = typer.Typer(
    help=(
        "Work with the versioned data specification: list, show, check, diff, publish, release, "
        "and assess a version's impact on a warehouse."
    ),
    no_args_is_help=True,
)


@app.command("list")
def spec_list(spec_dir: SpecRoot = None, feed: FeedName = None) -> None:
    """List the spec versions, newest last, with their status and effective reporting period."""
    from rich.table import Table as RichTable

    from mhdeaths.spec import available_versions, load_spec

    root = spec_root(spec_dir, feed)
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


@app.command("show")
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
    feed: FeedName = None,
) -> None:
    """Show a spec version: its tables, fields, code lists, rules and definitions."""
    from mhdeaths.spec import load_spec

    spec = load_spec(version, spec_root(spec_dir, feed))
    if rule:
        _show_rule(spec, rule)
    elif field:
        _show_field(spec, field)
    else:
        _show_summary(spec)


def _show_summary(spec: Spec) -> None:
    from rich.table import Table as RichTable

    out.print(f"[bold]{spec.title}[/bold]  version {spec.version} ({spec.status})")
    out.print(f"Published {spec.published}; effective from reporting period {spec.effective_from}.")
    for t in spec.tables:
        grid = RichTable(
            "field",
            "title",
            "type",
            "format",
            "mandation",
            "code list / pattern",
            # An optional table may be left out of a submission (spec/README.md, presence).
            title=f"{t.name} (optional)" if t.optional else t.name,
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
    from rich.table import Table as RichTable

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
    from rich.table import Table as RichTable

    table_name, _, field_name = name.rpartition(".")
    try:
        f = spec.table(table_name or "death").field(field_name)
    except KeyError:
        raise errors.SpecError(f"Spec {spec.version} has no field {name!r}.") from None
    grid = RichTable.grid(padding=(0, 2))
    for label, value in f.model_dump(exclude_none=True).items():
        grid.add_row(f"[bold]{label}[/bold]", str(value))
    out.print(grid)


@app.command("check")
def spec_check(
    versions: Annotated[
        list[str] | None, typer.Argument(help="Versions to check \\[default: every version].")
    ] = None,
    spec_dir: SpecRoot = None,
    feed: FeedName = None,
) -> None:
    """Check spec versions: references, expressions, examples, rule ids and released checksums.

    With no version and no --feed, checks every version of the dataset and of each national feed.
    Exits 0 when every version is sound, 1 when a problem is found.
    """
    from mhdeaths.spec import available_versions, feed_roots, load_spec
    from mhdeaths.standard.check import check_spec

    root = spec_root(spec_dir, feed)
    roots: list[tuple[str, Path]] = [(f"{feed} " if feed else "", root)]
    if not versions and feed is None:
        roots += [(f"{name} ", folder) for name, folder in feed_roots(root).items()]
    problems = []
    for label, folder in roots:
        for version in versions or available_versions(folder):
            spec = load_spec(version, folder)
            found = check_spec(spec, folder)
            problems += [label + str(p) for p in found]
            mark = "[green]ok[/green]" if not found else f"[red]{len(found)} problem(s)[/red]"
            out.print(
                f"{label}{version}: {mark}  ({len(spec.rules)} rules, "
                f"{len(spec.definitions)} definitions, "
                f"{sum(len(d.worked_examples) for d in spec.definitions)} worked examples)"
            )
    if problems:
        raise SpecCheckFailed(problems, f"The spec check found {len(problems)} problem(s).")


@app.command("diff")
def spec_diff(
    old: Annotated[str, typer.Argument(help="The earlier version.")],
    new: Annotated[str, typer.Argument(help="The later version.")],
    spec_dir: SpecRoot = None,
    feed: FeedName = None,
) -> None:
    """List every change between two versions and the bump it needs.

    Exits 1 when the version numbers understate the bump the changes need.
    """
    from rich.table import Table as RichTable

    from mhdeaths.spec import load_spec
    from mhdeaths.standard.diff import diff_specs

    root = spec_root(spec_dir, feed)
    result = diff_specs(load_spec(old, root), load_spec(new, root))
    table = RichTable("kind", "item", "change", "bump", "old", "new", title=f"{old} -> {new}")
    for c in result.changes:
        table.add_row(c.kind, c.item, c.change, str(c.bump), c.old or "", c.new or "")
    out.print(table)
    verdict = f"Needs a {result.needed} bump; the version numbers declare {result.declared}."
    if result.understated:
        raise SpecCheckFailed([], verdict + " The new version number understates it.")
    out.print(verdict + " [green]OK[/green]")


@app.command("publish")
def spec_publish(
    version: Annotated[str, typer.Argument(help="The version to publish.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the artefacts into.")],
    spec_dir: SpecRoot = None,
    feed: FeedName = None,
) -> None:
    """Write a version's artefacts: data dictionary, JSON Schema, Data Package, Excel template,
    Great Expectations suite, change log and the validator as a web page (a national feed gets
    no template, no suite and no page)."""
    from mhdeaths.spec import available_versions, load_spec
    from mhdeaths.standard.publish import publish
    from mhdeaths.validate.page import write_validator_page

    root = spec_root(spec_dir, feed)
    spec = load_spec(version, root)
    changelog = [load_spec(v, root).change for v in available_versions(root)]
    changelog = [c for c in changelog if _not_later(c.version, spec.version)]
    written = publish(spec, out_dir, changelog, () if spec.is_feed else (write_validator_page,))
    out.print(f"Published spec {spec.version} to {out_dir}: {len(written)} files.")
    for path in written:
        out.print(f"  {path}")


def _not_later(a: str, b: str) -> bool:
    from mhdeaths.spec import parse_version

    return parse_version(a) <= parse_version(b)


@app.command("release")
def spec_release(
    version: Annotated[str, typer.Argument(help="The version to release.")],
    spec_dir: SpecRoot = None,
    feed: FeedName = None,
) -> None:
    """Record a version's checksums in released.yaml, after it passes the spec check.

    From then on the version is immutable: changing any of its files fails the check and the tests.
    """
    from mhdeaths.spec import load_spec
    from mhdeaths.standard.check import check_spec, record_release, released_checksums

    root = spec_root(spec_dir, feed)
    refuse_packaged(root)
    spec = load_spec(version, root)
    if version in released_checksums(root):
        raise SpecCheckFailed(
            [],
            f"Spec {version} is already released, and a released version never changes: make the "
            "change in a new version.",
        )
    if spec.draft:
        raise SpecCheckFailed(
            [], f"Spec {version} is still a draft: set its status in version.yaml first."
        )
    problems = check_spec(spec, root, releasing=True)
    if problems:
        raise SpecCheckFailed([str(p) for p in problems], f"Spec {version} fails its check.")
    path = record_release(spec, root)
    out.print(f"Recorded the checksums of {version} in {path}.")


@app.command("impact")
def spec_impact(
    new: Annotated[str, typer.Argument(help="The version assessed (a draft or released).")],
    against: Annotated[
        str, typer.Option("--against", help="The earlier version it is assessed against.")
    ],
    warehouse: WarehousePath = None,
    as_at: Annotated[
        dt.datetime | None,
        as_at_option(
            "Assess the warehouse as it stood at this time [default: its latest submission]."
        ),
    ] = None,
    recent_months: Annotated[
        int,
        typer.Option(
            "--recent-months",
            min=0,
            help="Run the new version's rules on the submissions received in this many months.",
        ),
    ] = 12,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder to write into [default: impact-NEW-vs-OLD beside the warehouse].",
            show_default=False,
        ),
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Assess what a new version's definitions would do to the national figures, before release.

    Derives every death record in the warehouse (read-only) under both versions' definitions and
    attribution rules, and writes moved_deaths.csv (each death that moves and the definition
    that moved it; record level, restricted), indicators.csv (every indicator under both
    versions, per provider, paired by what superseded what), rejections.csv (what the new
    version's rules would say of recent submissions), summary.json and impact.html (counts under
    the disclosure rule).
    """
    from mhdeaths.benchmark.impact import assess_impact, write_impact
    from mhdeaths.spec import load_spec
    from mhdeaths.warehouse.store import default_path

    root = spec_root(spec_dir)
    if not _not_later(against, new) or against == new:
        raise errors.UserError(
            f"The version assessed ({new}) must be later than the version it is assessed against "
            f"({against})."
        )
    path = warehouse or default_path()
    impact = assess_impact(
        path,
        load_spec(new, root),
        load_spec(against, root),
        as_at=as_at,
        recent_months=recent_months,
        indicators=True,
    )
    folder = out_dir or path.parent / f"impact-{new}-vs-{against}"
    written = write_impact(impact, folder)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    counted = summary["counted"]
    out.print(
        f"Spec {new} against {against}, on {path} as at {impact.as_at:%Y-%m-%d %H:%M}: "
        f"{summary['deaths_moved']} deaths moved."
    )
    moved_by = ", ".join(f"{name} {n}" for name, n in summary["moved_by"].items()) or "none"
    out.print(f"  Moved by: {moved_by}.")
    out.print(
        f"  Deaths counted: {counted['old'].get('all', '0')} under {against}, "
        f"{counted['new'].get('all', '0')} under {new} (counts under the disclosure rule)."
    )
    rejected = summary["rejections"]
    out.print(
        f"  Submissions of the last {recent_months} months with a record the new rules would "
        f"reject: {rejected['submissions_with_a_reject']} of {rejected['submissions_assessed']}."
    )
    out.print(f"Written to {folder}: {', '.join(p.name for p in written)}.")

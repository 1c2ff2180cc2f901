"""The main job, end to end, on the bundled example submissions (the README's first command).

It strings the library together the way a national team would: check the spec, publish it, then
load the example submissions into a fresh warehouse (which validates each against the rules of the
spec version it declares, and refuses the rejected ones), and publish the benchmarks across providers
from it, so the README's one command always runs the whole job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mhdeaths import guard
from mhdeaths.benchmark.run import publish_benchmarks
from mhdeaths.errors import SpecCheckFailed
from mhdeaths.jobs.inbox import rejection_reasons
from mhdeaths.jobs.load_reports import write_rejected_report
from mhdeaths.paths import example_feeds_root, examples_root
from mhdeaths.spec import available_versions, latest_version, load_spec
from mhdeaths.standard.check import check_spec
from mhdeaths.stats import disclose
from mhdeaths.warehouse.feeds import FeedOutcome, load_feed
from mhdeaths.warehouse.loading import LoadOutcome, load
from mhdeaths.warehouse.overview import reading, status
from mhdeaths.warehouse.pseudonym import demo_key

EXAMPLES = examples_root()
FEEDS = example_feeds_root()


def run_demo(
    spec_root: Path,
    out: Path,
    progress: Callable[[str], None],
    examples: Path = EXAMPLES,
    feeds: Path = FEEDS,
) -> str:
    """Run every stage; return the closing summary. Raises SpecCheckFailed if the spec is unsound."""
    from mhdeaths.standard.publish import publish

    versions = available_versions(spec_root)
    problems = []
    for version in versions:
        problems += [str(p) for p in check_spec(load_spec(version, spec_root), spec_root)]
    if problems:
        raise SpecCheckFailed(problems, f"The spec check found {len(problems)} problem(s).")
    specs = [load_spec(v, spec_root) for v in versions]
    named = ", ".join(f"{s.version} (draft)" if s.draft else s.version for s in specs)
    progress(f"Checked spec versions {named}: no problems.")

    # The published artefacts are those of the version providers use now, not a draft's.
    latest = load_spec(latest_version(spec_root), spec_root)
    changelog = [s.change for s in specs]
    written = publish(latest, out / "spec" / latest.version, changelog)
    progress(
        f"Published spec {latest.version} to {out / 'spec' / latest.version} ({len(written)} files)."
    )

    warehouse = out / "warehouse.duckdb"
    # The demo starts from an empty warehouse every time, so that it always tells the same story.
    for stale in (warehouse, Path(f"{warehouse}.wal")):
        stale.unlink(missing_ok=True)
    outcomes: list[LoadOutcome] = []

    def loaded(outcome: LoadOutcome) -> None:
        # Written as each comes in, so that its line can say where its report is.
        outcome = write_rejected_report(outcome, out / "reports", spec_root=spec_root)
        outcomes.append(outcome)
        progress(_line(outcome))

    load(warehouse, [examples], key=demo_key(), spec_root=spec_root, progress=loaded)
    accepted = sum(o.status != "rejected" for o in outcomes)
    progress(f"Loaded {accepted} accepted submission(s) into the warehouse {warehouse}.")
    s = status(warehouse)
    progress(
        f"  {s.submissions} submissions ({s.superseded} superseded) from {s.providers} providers, "
        f"{s.first_period} to {s.last_period}: {s.deaths} deaths, {s.deaths_counted} counted, "
        f"{s.duplicates_resolved} resolved as another provider's, {s.withdrawn} withdrawn, "
        f"{s.category_disagreements} declared category disagreeing with the derived one."
    )
    if feeds.is_dir():
        _link_feeds(warehouse, feeds, spec_root, progress)
    progress("Computing the benchmarks ...")
    # The restricted monitoring pack beside the publication, never inside it: the charts and
    # alerts a provider and the national team would be sent in confidence.
    published = publish_benchmarks(
        warehouse, out / "benchmarks", store=True, pack=out / "monitoring-pack"
    )
    for line in published.summary():
        progress(line)
    rejected = [
        f"  {o.label}: rejected by {', '.join(rejection_reasons(o.report))}; report "
        f"{o.reports[0] if o.reports else out / 'reports'}"
        for o in outcomes
        if o.status == "rejected"
    ]
    return "\n".join(
        [
            f"Done: {len(outcomes)} example submissions checked, {accepted} accepted and loaded, "
            f"{len(outcomes) - accepted} rejected.",
            *rejected,
            f"Spec artefacts: {out / 'spec'}",
            f"Warehouse: {warehouse}",
            f"Benchmark report: {published.report} (with CSV, XLSX, JSON and provider summaries)",
            f"Monitoring pack (restricted, not for publication): {published.pack[0]}",
        ]
    )


def _link_feeds(
    warehouse: Path, feeds: Path, spec_root: Path, progress: Callable[[str], None]
) -> None:
    """Load the examples' national feeds, spells first, and say what the linkage found: per
    provider, the registered deaths its spells link to and how many it did not report (counts
    of people, so released under the default disclosure rule, as every published count is)."""
    for feed in ("spells", "registrations"):
        files = sorted(feeds.glob(f"{feed}_*"))
        load_feed(
            warehouse,
            feed,
            files,
            key=demo_key(),
            spec_root=spec_root,
            progress=lambda o: progress(_feed_line(o)),
        )
    with reading(warehouse) as con:
        rows = con.execute(
            "SELECT provider, sum(expected), sum(missed) FROM reconciliation GROUP BY 1 ORDER BY 1"
        ).fetchall()
    linked = []
    for provider, expected, missed in rows:
        shown = disclose([float(expected), float(missed)]).text
        linked.append(f"{provider} {shown[0]} ({shown[1]} not reported)")
    progress(
        "Registered deaths the spells link to each provider, under the disclosure rule: "
        + ", ".join(linked)
        + "."
    )


def _feed_line(outcome: FeedOutcome) -> str:
    o = outcome
    name = guard.name(o.label)  # a file's name is shown as the guard shows names
    if o.status != "loaded":
        return f"  {o.feed} {name}: {o.status}"
    if o.feed == "spells":
        return f"  spells {name}: {o.rows_kept} spells (feed load {o.feed_load_id})"
    return (
        f"  registrations {name}: {o.rows_read} read, {o.rows_kept} kept, "
        f"{o.discarded_unlinked + o.unlinkable} discarded (feed load {o.feed_load_id})"
    )


def _line(outcome: LoadOutcome) -> str:
    report = outcome.report
    counts = ", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in report.counts.items() if n)
    records = ", ".join(f"{t.records} {t.name}" for t in report.tables)
    line = f"  {outcome.provider} {outcome.reporting_period} (spec {report.spec_version}, {records}): {report.verdict}"
    line += f" ({counts})" if counts else ""
    if outcome.status == "loaded":
        line += f"; loaded as submission {outcome.submission_id}"
        line += f", superseding {outcome.supersedes}" if outcome.supersedes else ""
    elif outcome.reports:
        line += f"; see {outcome.reports[0]}"
    return line

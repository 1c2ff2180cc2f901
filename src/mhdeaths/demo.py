"""The main job, end to end, on the bundled example submissions (the README's first command).

It strings the library together the way a national team would: check the spec, publish it, then
check each example submission against the rules of the spec version it declares. Each later stage
(loading the warehouse, the benchmark report) joins here as it is built, so the README's one
command always runs the whole job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mhdeaths.errors import SpecCheckFailed
from mhdeaths.profile import apply_profile, profile_for
from mhdeaths.spec import Severity, available_versions, load_spec, period_start
from mhdeaths.speccheck import check_spec
from mhdeaths.validation import evaluate, severity_counts

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples"
_NAME = re.compile(r"^(?P<provider>[A-Z0-9]{3,5})_(?P<period>\d{4}-\d{2})_(?P<table>[a-z]+)\.csv$")


@dataclass(frozen=True)
class SubmissionResult:
    provider: str
    period: str
    spec_version: str
    records: dict[str, int]
    counts: dict[Severity, int]

    @property
    def verdict(self) -> str:
        if self.counts.get(Severity.FILE_REJECT) or self.counts.get(Severity.RECORD_REJECT):
            return "rejected"
        if self.counts.get(Severity.WARNING):
            return "accepted with warnings"
        return "accepted"


def run_demo(
    spec_root: Path,
    out: Path,
    progress: Callable[[str], None],
    examples: Path = EXAMPLES,
) -> str:
    """Run every stage; return the closing summary. Raises SpecCheckFailed if the spec is unsound."""
    from mhdeaths.publish import publish

    versions = available_versions(spec_root)
    problems = []
    for version in versions:
        problems += [str(p) for p in check_spec(load_spec(version, spec_root), spec_root)]
    if problems:
        raise SpecCheckFailed(problems, f"The spec check found {len(problems)} problem(s).")
    progress(f"Checked spec versions {', '.join(versions)}: no problems.")

    latest = load_spec(versions[-1], spec_root)
    changelog = [load_spec(v, spec_root).change for v in versions]
    written = publish(latest, out / "spec" / latest.version, changelog)
    progress(
        f"Published spec {latest.version} to {out / 'spec' / latest.version} ({len(written)} files)."
    )

    results = check_examples(spec_root, examples)
    for r in results:
        counts = ", ".join(f"{n} {s.value.replace('_', ' ')}" for s, n in r.counts.items() if n)
        progress(
            f"  {r.provider} {r.period} (spec {r.spec_version}, "
            + ", ".join(f"{n} {t}" for t, n in r.records.items())
            + f"): {r.verdict}"
            + (f" ({counts})" if counts else "")
        )
    accepted = sum(r.verdict != "rejected" for r in results)
    return (
        f"Done: {len(results)} example submissions checked, {accepted} accepted, "
        f"{len(results) - accepted} rejected. Spec artefacts are in {out / 'spec'}."
    )


def check_examples(spec_root: Path, examples: Path) -> list[SubmissionResult]:
    """Check each provider-period submission (its death and activity files together)."""
    groups: dict[tuple[str, str], dict[str, Path]] = {}
    for path in sorted(examples.rglob("*.csv")):
        match = _NAME.match(path.name)
        if match:
            key = (match["provider"], match["period"])
            groups.setdefault(key, {})[match["table"]] = path
    results = []
    for (provider, period), files in sorted(groups.items()):
        profile = profile_for(provider)
        frames: dict[str, pl.DataFrame] = {}
        version = None
        for table, path in sorted(files.items()):
            frame = pl.read_csv(path, infer_schema=False)
            if profile is not None:
                spec_for_profile = load_spec(profile.spec_version or None, spec_root)
                frame = apply_profile(profile, spec_for_profile, table, frame)
            if "spec_version" in frame.columns and frame.height:
                version = version or frame["spec_version"][0]
            frames[table] = frame
        spec = load_spec(version, spec_root)
        for name, frame in frames.items():
            # An absent column reads as empty: the mandation checks then report what is missing.
            absent = [
                f.name for f in spec.table(name).submitted_fields if f.name not in frame.columns
            ]
            frames[name] = frame.with_columns(
                pl.lit(None, dtype=pl.String).alias(a) for a in absent
            )
        outcomes = evaluate(spec, frames, period_start(period))
        results.append(
            SubmissionResult(
                provider,
                period,
                spec.version,
                {name: frame.height for name, frame in frames.items()},
                dict(severity_counts(outcomes)),
            )
        )
    return results

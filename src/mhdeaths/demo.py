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

from mhdeaths.errors import SpecCheckFailed
from mhdeaths.profile import profile_for
from mhdeaths.report import Report, Verdict
from mhdeaths.spec import available_versions, load_spec
from mhdeaths.speccheck import check_spec
from mhdeaths.validate import validate

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples"
_NAME = re.compile(r"^(?P<provider>[A-Z0-9]{3,5})_(?P<period>\d{4}-\d{2})_(?P<table>[a-z]+)\.csv$")


@dataclass(frozen=True)
class SubmissionResult:
    provider: str
    period: str
    report: Report


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
        report = r.report
        counts = ", ".join(
            f"{n} {s.value.replace('_', ' ')}" for s, n in report.counts.items() if n
        )
        records = ", ".join(f"{t.records} {t.name}" for t in report.tables)
        progress(
            f"  {r.provider} {r.period} (spec {report.spec_version}, {records}): {report.verdict}"
            + (f" ({counts})" if counts else "")
        )
    accepted = sum(r.report.verdict is not Verdict.REJECTED for r in results)
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
        result = validate(
            [files[name] for name in sorted(files)], profile=profile, spec_root=spec_root
        )
        results.append(SubmissionResult(provider, period, result.report))
    return results

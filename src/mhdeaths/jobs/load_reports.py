"""Where the validation reports of submissions put through the loader are written, and by what name.

The loader (``mhdeaths.warehouse.loading``) writes nothing but the warehouse: each outcome carries
its report, and the jobs and commands that run it write the report where its reader will look.
Two places, one naming convention (``report_stem``) and one writer (``write_reports``):

- a rejected submission's report into a folder of reports that many submissions share
  (``mhdeaths warehouse load --reports``, the demo), named with the first characters of the
  submission's content hash so that two submissions never overwrite each other's;
- every submission's report beside its own files (``mhdeaths run``), named by provider and period.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mhdeaths.validate.render import write_reports
from mhdeaths.validate.report_files import report_stem
from mhdeaths.warehouse.feeds import FeedOutcome
from mhdeaths.warehouse.loading import LoadOutcome, content_sha256

REPORT_FORMATS = ["html", "json"]
"""What a loaded or rejected submission's report is written as: a page to read, data to process."""


def write_rejected_report(
    outcome: LoadOutcome, folder: Path, *, spec_root: Path | None = None
) -> LoadOutcome:
    """The outcome with its report's files, when the submission was rejected: written into
    ``folder``, shared by many submissions. Any other outcome is returned as it is."""
    if outcome.status != "rejected":
        return outcome
    report = outcome.report
    stem = report_stem(report, outcome.paths, digest=content_sha256(report), spec_root=spec_root)
    return replace(outcome, reports=tuple(write_reports(report, folder, stem, REPORT_FORMATS)))


def write_rejected_feed_report(outcome: FeedOutcome, folder: Path) -> FeedOutcome:
    """A rejected national feed file's outcome with its report's files, written into ``folder``
    as ``feeds_<feed>_<sha8>``: a feed file's own name may say anything, so it is not used."""
    if outcome.status != "rejected":
        return outcome
    (file,) = outcome.report.files
    stem = f"feeds_{outcome.feed}_{file.sha256[:8]}"
    return replace(
        outcome, reports=tuple(write_reports(outcome.report, folder, stem, REPORT_FORMATS))
    )


def write_report_beside(outcome: LoadOutcome, *, spec_root: Path | None = None) -> LoadOutcome:
    """The outcome with its report's files, written beside the submission's first file."""
    folder = outcome.paths[0].parent
    stem = report_stem(outcome.report, outcome.paths, spec_root=spec_root)
    written = write_reports(outcome.report, folder, stem, REPORT_FORMATS)
    return replace(outcome, reports=tuple(written))


__all__ = [
    "REPORT_FORMATS",
    "write_rejected_feed_report",
    "write_rejected_report",
    "write_report_beside",
]

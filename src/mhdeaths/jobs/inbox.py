"""The receiving team's whole job on a folder of submissions: validate, load, benchmark.

``mhdeaths run INBOX`` validates every submission in the folder and writes its report beside its
files, loads the accepted ones (each in one transaction; one already loaded is left as it is),
leaves the rejected ones untouched and lists them with the rules they failed, and then refreshes
the published benchmarks from the warehouse. Running it again on the same folder changes nothing
in the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mhdeaths import guard
from mhdeaths.benchmark.compute import NoActivity
from mhdeaths.benchmark.monitoring_pack import check_apart
from mhdeaths.benchmark.run import Published, publish_benchmarks
from mhdeaths.errors import UserError, WarehouseError
from mhdeaths.jobs.load_reports import write_report_beside
from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.spec import Severity
from mhdeaths.validate.report import Report
from mhdeaths.validate.submission_files import group_submission_files
from mhdeaths.warehouse.loading import LoadOutcome, open_loader
from mhdeaths.warehouse.pseudonym import PseudonymKey


@dataclass(frozen=True)
class Received:
    """One submission of the inbox: what became of it and where its report is."""

    label: str
    outcome: LoadOutcome | None
    """None when a file of the submission could not be read at all (see ``error``)."""
    error: str | None = None

    @property
    def reports(self) -> tuple[Path, ...]:
        """The validation report's files, beside the submission's (none for an unreadable one)."""
        return self.outcome.reports if self.outcome else ()

    @property
    def status(self) -> str:
        return self.outcome.status if self.outcome else "unreadable"

    @property
    def reasons(self) -> list[str]:
        """For a rejected submission, the rules that rejected it, with how many failed."""
        if self.outcome is None:
            return [self.error or "unreadable"]
        return rejection_reasons(self.outcome.report)


@dataclass(frozen=True)
class InboxRun:
    received: list[Received]
    published: Published | None
    """None when the warehouse has no activity yet, so there is nothing to benchmark."""

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.received)


def rejection_reasons(report: Report) -> list[str]:
    rejecting = {Severity.FILE_REJECT, Severity.RECORD_REJECT}
    return [
        f"{r.rule_id} ({r.failed} {'file' if r.severity == Severity.FILE_REJECT else 'record'}"
        f"{'s' if r.failed != 1 else ''})"
        for r in report.rules
        if r.severity in rejecting
    ]


def run_inbox(
    inbox: Path,
    warehouse: Path,
    out: Path,
    *,
    key: PseudonymKey,
    period: str | None = None,
    rule: str = "nhs_england",
    spec_root: Path | None = None,
    progress: Callable[[Received], None] | None = None,
    reporting: Callable[[str], None] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    pack: Path | None = None,
) -> InboxRun:
    """Validate and load every submission in ``inbox``, then write the benchmarks into ``out``
    (and, with ``pack``, the restricted monitoring pack there)."""
    if pack is not None:
        check_apart(pack, out)  # before anything is loaded
    # The user typed the inbox's path, so it is shown as typed (docs/privacy.md); only the
    # folders below it, named by whoever sent the files, are guarded.
    if not inbox.is_dir():
        raise UserError(f"{inbox} is not a folder of submissions.")
    groups = group_submission_files([inbox])
    if not groups:
        raise UserError(f"There are no submission files in {inbox}.")
    received: list[Received] = []
    with open_loader(warehouse, key=key, spec_root=spec_root) as loader:
        for group in groups:
            try:
                outcome = loader.load(group, limits=limits)
            except WarehouseError:
                raise
            except UserError as exc:
                # A file that cannot be read at all (a truncated workbook, say) is listed, and
                # the rest of the inbox still goes in.
                one = Received(group.label, None, error=guard.message(str(exc)))
            else:
                one = Received(group.label, write_report_beside(outcome, spec_root=spec_root))
            received.append(one)
            if progress:
                progress(one)
    if reporting:
        reporting("Computing the benchmarks ...")
    try:
        published = publish_benchmarks(
            warehouse, out, period=period, rule=rule, store=True, pack=pack
        )
    except NoActivity:
        published = None
    return InboxRun(received, published)

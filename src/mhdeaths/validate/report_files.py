"""Where a validation report is written: never where a submission's values say.

A report's file name comes from the submission (its provider and period), and a submission is
written by someone else: an ``org_id_provider`` of ``../../../../elsewhere/`` must not choose the
folder. So the one function that names reports, ``report_stem``, builds the name only from values
that match the spec's own strict patterns (an ODS code, a ``CCYY-MM`` period) and otherwise falls
back to a fixed name; and every report file the validator and the jobs that run the loader
(``mhdeaths.jobs.load_reports``) write is checked by ``mhdeaths.output.folders.inside`` to lie
directly in its output folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from mhdeaths.errors import SpecError
from mhdeaths.spec import Spec, load_spec
from mhdeaths.validate.report import Report
from mhdeaths.validate.submission_files import named_provider_period

FALLBACK_STEM = "submission"
"""The report's name when neither the records nor the file names give a well-formed one."""
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _pattern(spec: Spec, name: str) -> str | None:
    for table in spec.tables:
        if name in table.field_names:
            return table.field(name).pattern
    return None


def _well_formed(spec: Spec | None, provider: str | None, period: str | None) -> bool:
    if spec is None or not provider or not period:
        return False
    patterns = _pattern(spec, "org_id_provider"), _pattern(spec, "reporting_period")
    return all(
        p is not None and re.fullmatch(p, v) is not None
        for p, v in zip(patterns, (provider, period), strict=True)
    )


def report_stem(
    report: Report,
    paths: Sequence[Path] = (),
    *,
    digest: str | None = None,
    spec_root: Path | None = None,
) -> str:
    """The name a submission's reports share (``<stem>.report.html`` ...): ``<ODS>_<CCYY-MM>``
    from the records, else from the documented file name, else ``submission``; with ``digest``
    (for a folder shared by many submissions) its first eight characters after it."""
    try:
        spec: Spec | None = load_spec(report.spec_version, spec_root)
    except SpecError:
        spec = None
    stem = FALLBACK_STEM
    if _well_formed(spec, report.provider, report.reporting_period):
        stem = f"{report.provider}_{report.reporting_period}"
    else:
        named = named_provider_period(paths[0]) if paths else None
        if named and _well_formed(spec, *named):
            stem = "_".join(named)
    if digest:
        stem += "_" + re.sub(r"[^0-9a-f]", "", digest.lower())[:8]
    # Belt and braces: whatever the spec's patterns allow, a stem is one plain file name.
    return stem if _SAFE.fullmatch(stem) and ".." not in stem else FALLBACK_STEM


__all__ = ["FALLBACK_STEM", "report_stem"]

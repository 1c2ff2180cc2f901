"""CHANGELOG.md: every spec version's change-log entry, newest first.

Providers plan extract changes, and analysts judge time series, from the change log, so it must be
the same record the standards board approved: it is rendered from the ``ChangeLogEntry`` of each
version and never edited by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import semver

from mhdeaths.output.templating import text_environment, tidy
from mhdeaths.output.writing import write_text
from mhdeaths.spec import ChangeLogEntry, Spec


def entries_for(spec: Spec, changelog: Sequence[ChangeLogEntry]) -> list[ChangeLogEntry]:
    """The entries a publication of ``spec`` shows: versions up to its own, newest first.

    Later versions are left out, since a publication must not announce what its readers cannot
    yet use; the spec's own entry is added when the caller's list lacks it.
    """
    current = spec.semver
    shown = [e for e in changelog if semver.Version.parse(e.version) <= current]
    if not any(e.version == spec.version for e in shown):
        shown.append(spec.change)
    return sorted(shown, key=lambda e: semver.Version.parse(e.version), reverse=True)


def render_changelog(spec: Spec, changelog: Sequence[ChangeLogEntry]) -> str:
    template = text_environment().get_template("CHANGELOG.md.j2")
    return tidy(template.render(spec=spec, entries=entries_for(spec, changelog)))


def write_changelog(spec: Spec, out: Path, changelog: Sequence[ChangeLogEntry]) -> list[Path]:
    return [write_text(out / "CHANGELOG.md", render_changelog(spec, changelog))]

"""The terminal view written without rich, to a file or a pipe, is the same bytes rich writes.

``plain_report`` gives the view of a report that is only text (an accepted submission's verdict,
counts and notes) for a stream rich styles nothing on; for anything rich would not print as it is
it gives None, and rich draws the view as before. Here rich draws every report too, on a console
that is not a terminal, and the two must agree byte for byte.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rich.console import Console

from mhdeaths.validate.render import plain_report, print_report
from mhdeaths.validate.report import Report
from mhdeaths.validate.validator import validate

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples"
MONTH = sorted((EXAMPLES / "RZ1").glob("RZ1_2027-05_*.csv"))
REJECTED = sorted((EXAMPLES / "known-bad" / "RY1").glob("RY1_2027-10_*.csv"))


def drawn_by_rich(report: Report) -> str:
    """The view as ``mhdeaths validate`` draws it with rich, on a stream that is no terminal."""
    stream = io.StringIO()
    print_report(report, Console(file=stream, highlight=False, soft_wrap=True))
    return stream.getvalue()


@pytest.fixture(scope="module")
def accepted() -> Report:
    return validate(MONTH).report


def test_an_accepted_month_is_written_without_rich_as_rich_writes_it(accepted: Report) -> None:
    plain = plain_report(accepted)
    assert plain is not None
    assert plain == drawn_by_rich(accepted)


def test_a_rejected_submission_is_left_to_rich() -> None:
    report = validate(REJECTED).report
    assert report.rules and plain_report(report) is None


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@given(files=st.lists(TEXT, min_size=1, max_size=3), provider=TEXT, notes=st.lists(TEXT))
@example(files=["a:smile:.csv"], provider="RZ1", notes=[])
@example(files=["[bold]x[/bold].csv"], provider="\\", notes=["tab\there", "line\nbreak"])
@example(files=["trailing  "], provider=" ", notes=["", "Ω 家 e\u0301 🙂", ":x: :)"])
def test_whatever_the_texts_the_two_agree_or_rich_draws(
    accepted: Report, files: list[str], provider: str, notes: list[str]
) -> None:
    # The texts are put in as they are, past the guard, to try what rich would make of them.
    first = accepted.files[0]
    shown = [first.model_copy(update={"name": name}) for name in files]
    report = accepted.model_copy(update={"files": shown, "provider": provider, "notes": notes})
    plain = plain_report(report)
    assert plain is None or plain == drawn_by_rich(report)

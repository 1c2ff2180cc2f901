"""The guard on what a person sees: identifiers masked in any spelling, codes shown only where the
spec makes a field a code, control characters and terminal escapes removed, and the tool's own
sentences (every rule's message and fix) left as they are."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nhs_number.validate import calculate_checksum

from mhdeaths import guard
from mhdeaths.spec import Spec

SEPARATORS = ["", " ", "-", ".", "  ", " - ", "/", "_"]


@st.composite
def nhs_numbers(draw: st.DrawFn) -> str:
    """A ten-digit number whose check digit is right (most are synthetic; none is shown)."""
    while True:
        stem = str(draw(st.integers(100_000_000, 999_999_999)))
        check = calculate_checksum(stem)
        if check is not None and check < 10:
            return f"{stem}{check}"


@st.composite
def spelt(draw: st.DrawFn, number: str) -> str:
    """The number written as people write it: grouped 3-3-4 (or not), with any separator."""
    sep = draw(st.sampled_from(SEPARATORS))
    if draw(st.booleans()):
        return sep.join([number[:3], number[3:6], number[6:]])
    return sep.join(number) if draw(st.booleans()) else number


AROUND = st.text(alphabet="abcXYZ _:;()[]=", max_size=12)


@given(number=nhs_numbers(), data=st.data(), before=AROUND, after=AROUND)
def test_an_nhs_number_is_masked_in_any_spelling(
    number: str, data: st.DataObject, before: str, after: str
) -> None:
    text = before + data.draw(spelt(number)) + after
    for shown in (guard.name(text), guard.message(text)):
        assert number not in re.sub(r"\D", "", shown.replace(guard.HIDDEN, "|")), (text, shown)
        assert guard.HIDDEN in shown


def test_a_number_whose_check_digit_is_wrong_is_left_in_a_sentence() -> None:
    # Counts and sizes are not NHS numbers: only a number passing the check digit is masked.
    assert guard.message("9434765918 records") == "9434765918 records"
    assert guard.message("9434765919 records") == f"{guard.HIDDEN} records"


@pytest.mark.parametrize(
    "date",
    ["1980-05-17", "17/05/1980", "17.05.1980", "17-5-80", "19800517", "17051980", "17 May 1980",
     "May 17, 1980", "1980/5/17", "17th may 1980"],
)  # fmt: skip
def test_a_date_is_hidden_in_a_name(date: str) -> None:
    shown = guard.name(f"born {date}.csv")
    assert shown == f"born {guard.HIDDEN}.csv", shown
    assert guard.mask_identifiers(date) == guard.HIDDEN


@pytest.mark.parametrize("postcode", ["LS1 4AP", "ls14ap", "SW1A 1AA", "M1 1AE", "B33 8TH"])
def test_a_postcode_is_hidden_in_a_name_and_a_sentence(postcode: str) -> None:
    assert guard.name(f"x_{postcode}_y") == f"x_{guard.HIDDEN}_y"
    assert postcode not in guard.message(f"lives at {postcode}.")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;owned\x07title", "title"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("a\x00b\x07c\x08d\x7fe", "abcde"),
        ("c1\x9b2Jx\x85y", "c1xy"),
        ("tab\there", "tab here"),
        ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),
    ],
)
def test_control_characters_and_escapes_are_stripped(raw: str, clean: str) -> None:
    assert guard.name(raw) == clean
    assert guard.message(raw) == clean


def test_a_sentence_keeps_its_line_breaks_and_a_name_does_not() -> None:
    assert guard.message("one\ntwo") == "one\ntwo"
    assert guard.name("one\ntwo") == "one two"


@given(st.text())
def test_nothing_shown_holds_a_control_character(text: str) -> None:
    for shown in (guard.name(text), guard.message(text, keep_newlines=False)):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", shown), repr(shown)


def test_code_fields_come_from_the_spec(any_spec: Spec) -> None:
    for table in any_spec.tables:
        for field in table.fields:
            code = guard.is_code(field)
            if field.identifier:
                assert not code, field.name
            elif field.code_list:
                assert code, field.name
    death = any_spec.table("death")
    assert guard.is_code(death.field("org_id_provider"))
    assert guard.is_code(death.field("reporting_period"))
    # A local record identifier is free text to a person reading it, whatever its pattern.
    assert not guard.is_code(death.field("death_record_id"))


def test_a_code_is_shown_verbatim_and_anything_else_withheld(spec_latest: Spec) -> None:
    death = spec_latest.table("death")

    def shown(name: str, value: str) -> str | None:
        return guard.value(value, death.field(name), spec_latest)

    code = spec_latest.code_list(death.field("ethnic_category").code_list or "").valid_codes()[0]
    assert shown("ethnic_category", code) == code
    assert shown("ethnic_category", "ZZ") == "ZZ"  # a wrong code, to be found and fixed
    assert shown("org_id_provider", "RX4") == "RX4"
    assert shown("reporting_period", "2027-04") == "2027-04"
    for name, value in [
        ("org_id_provider", "../../../../elsewhere/"),
        ("org_id_provider", "9434765919"),
        ("reporting_period", "1980-05-17"),
        ("death_record_id", "943.476.5919"),
        ("death_record_id", "RX4-D-000123"),
        ("nhs_number", "9434765919"),
        ("local_patient_id", "LS1 4AP"),  # a postcode in a free-text field
        ("ethnic_category", "White British, born 17/05/1980"),
        ("ethnic_category", "LS1 4AP"),
        ("ethnic_category", "\x1b[2J"),
        ("record_action", "94347"),
    ]:
        assert shown(name, value) == guard.WITHHELD, (name, value)
    assert guard.value(None, death.field("ethnic_category")) is None
    assert guard.value("A", None) == guard.WITHHELD


def test_the_tools_own_sentences_pass_unchanged(any_spec: Spec) -> None:
    """The guard must not garble what the tool says: every rule's title, message and fix, and
    every field's title, is shown exactly as the spec words it."""
    texts = [t for r in any_spec.rules for t in (r.title, r.message, r.fix)]
    texts += [f.title for t in any_spec.tables for f in t.fields]
    # Save the spec's own examples of identifiers (an NHS number in a fix hint): masked too.
    examples = {f.example for t in any_spec.tables for f in t.fields if f.identifier and f.example}
    masked = 0
    for text in texts:
        expected = " ".join(text.split("\n"))
        for example in examples:
            if guard.message(example) != example:
                expected = expected.replace(example, guard.HIDDEN)
        masked += expected != " ".join(text.split("\n"))
        assert guard.message(text, keep_newlines=False) == expected, text
    assert masked < 5, "only a hint or two quotes an example identifier"


@pytest.mark.parametrize(
    "spelling",
    [
        "943\u00a0476\u00a05919",  # non-breaking spaces, as spreadsheets write them
        "943\u2009476\u20095919",  # thin spaces
        "943\u2013476\u20135919",  # en dashes
        "943\u200b476\u200b5919",  # zero-width spaces
        "943\u00ad476\u00ad5919",  # soft hyphens
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",  # full-width digits
        "\u202e9195674349",  # a right-to-left override shows it reversed
    ],
)
def test_an_nhs_number_in_unicode_spacing_or_digits_is_masked(spelling: str) -> None:
    for shown in (guard.name(f"pt {spelling}.csv"), guard.message(f"found {spelling} here")):
        digits = "".join(ch for ch in shown if ch.isdigit())
        assert "9434765919" not in digits and "9195674349" not in digits, shown
        assert not any(ch in shown for ch in "\u200b\u00ad\u202e"), shown


def test_a_date_with_unicode_separators_is_hidden_in_a_name() -> None:
    for date in ("17\u00a0/\u00a005\u00a0/\u00a01980", "1980\u201305\u201317"):
        assert guard.name(f"born {date}") == f"born {guard.HIDDEN}"


def test_a_path_is_shown_as_typed_with_the_folders_below_guarded_and_the_tools_name_kept() -> None:
    from pathlib import PurePosixPath as P

    report = "RQ1_2027-10_05f072f2.report.html"  # the tool's own name: a period and a digest
    typed = P("/data/inbox 2027-10-01")
    shown = guard.path_below(typed / "from 943 476 5919" / report, typed)
    assert shown == f"/data/inbox 2027-10-01/from {guard.HIDDEN}/{report}"
    assert guard.path_below(P("reports") / report) == f"reports/{report}"

"""What a person may see of a submission: the one guard every text from the data passes through.

The validator, the loader and ``mhdeaths run`` show text that came from a provider's file in many
places: the provider and period in the summary, headers, sheet and file names, a wrong code in a
finding, a sentence saying why a file cannot be read. Any of them may hold an NHS number (a column
shifted by one, a file named after a patient), a date of birth or a postcode, and any may hold
terminal escape sequences. So such text is never written out as found; it goes through one of:

* ``value``: a cell's value. Shown verbatim only when the spec says its field is a code (a code
  list, or a fixed-shape pattern such as an ODS code or a period) and the value has that shape and
  looks like no identifier; anything else (free text, identifiers, local record ids) is replaced by
  ``WITHHELD``.
* ``name``: a header, sheet name, file name or path. People need these to find their columns and
  files, so they are shown, less control characters and with anything that reads as an NHS number
  (in any spacing), a date or a postcode replaced by ``HIDDEN``.
* ``message``: a sentence the tool wrote around data (a report's texts, an error): control
  characters are removed (a newline may stay) and NHS numbers and postcodes are masked. Dates are
  left: the tool's own sentences carry dates (a derogation's end), and data that could be a date
  reaches a sentence only through ``value`` or ``name``.

Which fields are codes is read from the loaded spec, never listed here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mhdeaths.spec import Spec, SpecField

WITHHELD = "(value withheld)"
"""What a finding shows in place of a value that is not a code."""
HIDDEN = "(hidden)"
"""What replaces an identifier-like part of a name or a sentence."""

# ANSI/VT escape sequences (CSI, OSC, and two-character escapes), then any other C0 or C1 control
# character and DEL. A terminal acts on these: a value must never move the cursor, retitle the
# window or hide the text before it.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS, PM, APC, SOS ... ST
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# Invisible format characters: zero-width spaces and joiners, the soft hyphen, the byte-order mark,
# and the bidirectional controls that make a terminal show text in another order than it is
# (U+202E shows "9195 674 349" for "943 476 5919").
_FORMAT = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_CONTROLS = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_FORMAT}]")
_CONTROLS_BUT_NEWLINE = re.compile(f"[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f{_FORMAT}]")

# Ten digits, with any spacing or punctuation between them (943 476 5919, 943-476-5919,
# 943.476.5919, 9434765919): every run of digits and separators is examined, and masked whole when
# any ten consecutive digits in it pass the NHS number's check digit.
# Separators in any script's spelling: every Unicode space (a spreadsheet's non-breaking space
# among them), the Unicode dashes and minus sign as well as the ASCII ones.
_SEPARATOR = r"[\s.\-/_\u2010-\u2015\u2212]"
_DIGIT_RUN = re.compile(rf"\d(?:{_SEPARATOR}{{0,3}}\d)*")
_DATE_SEPARATOR = r"[-/.\\_\s\u2010-\u2015\u2212]"
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATES = re.compile(
    r"(?<!\d)(?:"
    rf"\d{{4}}\s*{_DATE_SEPARATOR}\s*\d{{1,2}}\s*{_DATE_SEPARATOR}\s*\d{{1,2}}"  # 1980-05-17
    rf"|\d{{1,2}}\s*{_DATE_SEPARATOR}\s*\d{{1,2}}\s*{_DATE_SEPARATOR}\s*\d{{2,4}}"  # 17/05/1980
    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"  # 19800517
    r"|(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:19|20)\d\d"  # 17051980
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[\s\-/.]*(?:{_MONTHS})[a-z]*\.?[\s\-/.,]*\d{{2,4}}"  # 17 May 1980
    rf"|(?:{_MONTHS})[a-z]*\.?\s*\d{{1,2}}(?:st|nd|rd|th)?,?\s*\d{{4}}"  # May 17, 1980
    r")(?!\d)",
    re.IGNORECASE,
)
_POSTCODES = re.compile(
    r"(?<![A-Za-z])[A-Za-z]{1,2}\d[A-Za-z\d]?[\s\-_]*\d[A-Za-z]{2}(?![A-Za-z])", re.IGNORECASE
)
# A code has no unbounded repetition in its pattern: an ODS code, a period, an ICD-10 code do;
# a local record identifier ('[A-Za-z0-9_./-]+') or a version ('[0-9]+...') do not.
_UNBOUNDED = re.compile(r"(?<!\\)[+*]|\{\d*,\}")
_CODE_TEXT = re.compile(r"[!-~](?:[ !-~]*[!-~])?")
_SHORTEST_IDENTIFIER = 5
"""No NHS number, date or postcode is shorter (A9 9AA is 5 without its space): a value this short,
in a code field, is shown even when it is longer than any code (a formula such as =1+1)."""


def strip_controls(text: str, keep_newlines: bool = False) -> str:
    """The text without escape sequences or control characters (a newline may be kept)."""
    text = _ESCAPES.sub("", text)
    return (_CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS).sub(
        lambda m: " " if m.group() in "\t\r\n" else "", text
    )


def _nhs_valid(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return (0 if check == 11 else check) == int(digits[9]) and check != 10


def _mask_nhs_numbers(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        digits = "".join(ch for ch in match.group() if ch.isdigit())
        for start in range(len(digits) - 9):
            if _nhs_valid(digits[start : start + 10]):
                return HIDDEN
        return match.group()

    return _DIGIT_RUN.sub(one, text)


def mask_identifiers(text: str, dates: bool = True) -> str:
    """The text with every NHS number (in any spacing), postcode and (``dates``) date hidden.

    The text is first brought to its compatibility form (NFKC), so that full-width digits and
    letters, and spaces of other widths, are matched as the plain ones they stand for."""
    text = _mask_nhs_numbers(unicodedata.normalize("NFKC", text))
    if dates:
        text = _DATES.sub(HIDDEN, text)
    return _POSTCODES.sub(HIDDEN, text)


def looks_identifying(text: str) -> bool:
    """True when any part of the text reads as an NHS number, a date or a postcode."""
    return mask_identifiers(text) != text


# A report repeats the same texts (a rule's message and fix, a file's name) on every finding:
# each is guarded once.
@lru_cache(maxsize=8192)
def name(text: str | PurePath) -> str:
    """A header, sheet name, file name or path as it may be shown."""
    return mask_identifiers(strip_controls(str(text)))


def path_below(path: PurePath, typed: PurePath | None = None) -> str:
    """A path the tool wrote, as it may be shown: the folder the user typed (``typed``) as they
    typed it, every folder below it (named by whoever sent the files, such as a provider's folder
    in an inbox) through ``name``, and the file's own name as the tool made it (a report's name is
    built from strict patterns, and ``name`` could take its period and digest for a date)."""
    if typed is None:
        return str(path)
    try:
        below = PurePath(path).relative_to(typed)
    except ValueError:
        return str(PurePath(name(path.parent), path.name))
    folders = [name(part) for part in below.parts[:-1]]
    return str(PurePath(typed, *folders, path.name))


def names(items: list[str] | tuple[str, ...]) -> list[str]:
    return [name(item) for item in items]


@lru_cache(maxsize=8192)
def message(text: str, keep_newlines: bool = True) -> str:
    """A sentence the tool made (perhaps around data) as it may be shown: no control character,
    no NHS number, no postcode."""
    return mask_identifiers(strip_controls(text, keep_newlines), dates=False)


def is_code(spec_field: SpecField) -> bool:
    """Whether the spec makes a field's values codes, safe to show: a field with a code list, or a
    fixed-shape pattern; never an identifier."""
    if spec_field.identifier:
        return False
    if spec_field.code_list:
        return True
    return spec_field.pattern is not None and not _UNBOUNDED.search(spec_field.pattern)


def _longest(spec_field: SpecField, spec: Spec | None) -> int:
    """The longest a value of the code field can be: its longest code, or its pattern's example."""
    if spec_field.code_list and spec is not None:
        try:
            codes = spec.code_list(spec_field.code_list).valid_codes()
        except KeyError:
            codes = []
        if codes:
            return max(len(c) for c in codes)
    return max(len(spec_field.example or ""), spec_field.max_length or 0, 8)


def value(found: object, spec_field: SpecField | None, spec: Spec | None = None) -> str | None:
    """A cell's value as a report may show it: verbatim only for a code of a code field (the
    data team needs the wrong code to find it); ``WITHHELD`` otherwise."""
    if found is None:
        return None
    text = str(found)
    if spec_field is None or not is_code(spec_field):
        return WITHHELD
    if spec_field.pattern and not spec_field.code_list:
        if not re.fullmatch(spec_field.pattern, text):
            return WITHHELD
    elif len(text) > max(_longest(spec_field, spec), _SHORTEST_IDENTIFIER - 1) or not (
        _CODE_TEXT.fullmatch(text)
    ):
        return WITHHELD
    if looks_identifying(text):
        return WITHHELD
    return text


def code_shape(spec_field: SpecField, spec: Spec | None = None) -> dict[str, object] | None:
    """What ``value`` holds a field's values to before showing one, as data: None when it shows
    none (not a code), else the pattern it must match or the longest it may be. The validator
    page runs ``value`` in JavaScript from this and ``patterns()``."""
    if not is_code(spec_field):
        return None
    if spec_field.pattern and not spec_field.code_list:
        return {"pattern": spec_field.pattern}
    return {"longest": max(_longest(spec_field, spec), _SHORTEST_IDENTIFIER - 1)}


def patterns() -> dict[str, str]:
    """The guard's words and regular expressions, for the validator page, which guards what it
    shows with these same patterns in JavaScript rather than a copy of them."""
    return {
        "withheld": WITHHELD,
        "hidden": HIDDEN,
        "escapes": _ESCAPES.pattern,
        "controls": _CONTROLS.pattern,
        "controls_but_newline": _CONTROLS_BUT_NEWLINE.pattern,
        "digit_run": _DIGIT_RUN.pattern,
        "dates": _DATES.pattern,
        "postcodes": _POSTCODES.pattern,
        "code_text": _CODE_TEXT.pattern,
    }


__all__ = [
    "HIDDEN",
    "WITHHELD",
    "code_shape",
    "is_code",
    "looks_identifying",
    "mask_identifiers",
    "message",
    "name",
    "names",
    "path_below",
    "patterns",
    "strip_controls",
    "value",
]

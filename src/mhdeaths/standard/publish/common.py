"""What every published artefact says the same way: a field's text form, its words, its files.

Each artefact restates the same facts about a field (the text form of its type, its pattern, its
codes, its mandation) in a different client's language. Deriving them here, once, keeps the JSON
Schema, the Table Schema, the GX suite, the Excel template and the data dictionary from drifting
apart; a unit test pins the text forms to the validator's own ``is_<type>`` functions.
"""

from __future__ import annotations

from mhdeaths.spec import CodeList, FieldType, Mandation, Severity, Spec, SpecField, Table

#: The text a provider may send for each typed field, as the validator's ``is_<type>`` functions
#: accept it (unanchored, in the common subset of ECMA-262 and Python regular expressions).
#: Strings and codes have no text form of their own: their pattern or code list says it.
TYPE_PATTERNS: dict[FieldType, str] = {
    FieldType.INTEGER: "[+-]?[0-9]{1,15}",
    FieldType.DECIMAL: r"[+-]?[0-9]{1,15}(\.[0-9]+)?",
    FieldType.DATE: "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    FieldType.TIME: "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?",
}

MANDATION_LETTERS: dict[Mandation, str] = {
    Mandation.MANDATORY: "M",
    Mandation.REQUIRED: "R",
    Mandation.OPTIONAL: "O",
    Mandation.DERIVED: "D",
}

#: What each mandation means to a provider, in the words the template and dictionary both use.
MANDATION_MEANINGS: dict[Mandation, str] = {
    Mandation.MANDATORY: "must be filled in; a record without it is rejected",
    Mandation.REQUIRED: "fill in wherever known; a record without it gets a warning",
    Mandation.OPTIONAL: "fill in if known",
    Mandation.DERIVED: "never submitted; the warehouse derives it from the agreed definitions",
}

SEVERITY_WORDS: dict[Severity, str] = {
    Severity.FILE_REJECT: "file reject",
    Severity.RECORD_REJECT: "record reject",
    Severity.WARNING: "warning",
    Severity.INFO: "information",
}

IDENTIFIER_NOTE = "Personal identifier: never shown in reports."


def presence_note(spec: Spec, table: Table) -> str | None:
    """What a provider must know of a table it may leave out (None for a main table)."""
    if not table.optional:
        return None
    parents = " or ".join(t.name for t in spec.parents_of(table)) or "main"
    return (
        "Optional: a submission may leave this table out, which means it has no records; when "
        f"sent, it is sent with its {parents} table."
    )


def anchored(pattern: str) -> str:
    """A whole-value regular expression from a spec pattern, for clients that search.

    The spec's patterns match the whole value (as XML Schema and the validator read them), but JSON
    Schema and GX search anywhere in the text. The group keeps a top-level ``|`` inside the
    anchors; a capturing group is used because JSON Schema's recommended regex subset has no
    ``(?:``.
    """
    return f"^({pattern})$"


def code_list_of(spec: Spec, field: SpecField) -> CodeList | None:
    return spec.code_list(field.code_list) if field.code_list else None


def has_dated_codes(code_list: CodeList) -> bool:
    """True when some code is valid only for part of the time, so a static list over-accepts."""
    return any(c.valid_from is not None or c.valid_to is not None for c in code_list.codes)


def range_text(field: SpecField) -> str | None:
    if field.minimum is not None and field.maximum is not None:
        return f"{field.minimum} to {field.maximum}"
    if field.minimum is not None:
        return f"at least {field.minimum}"
    if field.maximum is not None:
        return f"at most {field.maximum}"
    return None


def field_description(spec: Spec, field: SpecField, *, range_note: bool) -> str:
    """A field's definition plus what a schema reader needs and the schema may not say itself.

    ``range_note`` is for schemas that carry values as text and so cannot state a numeric range.
    """
    parts = [field.definition.strip(), f"Format {field.format} (NHS Data Dictionary notation)."]
    code_list = code_list_of(spec, field)
    if code_list is not None:
        parts.append(f"Codes from the {code_list.title} code list ({code_list.name}).")
        if has_dated_codes(code_list):
            parts.append(
                "Some codes are valid only in some reporting periods; the validator checks."
            )
    bounds = range_text(field)
    if range_note and bounds is not None:
        parts.append(
            f"The number must be {bounds}; the validator checks this, as a range cannot be "
            "stated on a text value."
        )
    if field.identifier:
        parts.append(IDENTIFIER_NOTE)
    return " ".join(parts)


def integer_range_pattern(minimum: int | None, maximum: int | None) -> str:
    """A whole-value regular expression for the text of an integer from ``minimum`` to ``maximum``.

    A client that reads every column as text (as it must, for codes such as ``01`` to keep their
    leading zero) cannot compare numbers, so a range is stated on the text: an optional sign,
    leading zeros, then the digits of a number in the range. ``None`` leaves that side open.
    """
    arms = []
    if maximum is None or maximum >= 0:
        arms.append(rf"\+?0*({_natural_range(max(minimum or 0, 0), maximum)})")
    if minimum is None or minimum <= 0:
        # -0 is 0: a minus sign is read as such even when the range holds no negative number.
        upper = None if minimum is None else -minimum
        arms.append(f"-0*({_natural_range(max(-maximum, 0) if maximum is not None else 0, upper)})")
    return "|".join(arms)


def _natural_range(low: int, high: int | None) -> str:
    """The digits (no leading zeros) of the whole numbers from ``low`` to ``high`` (None: on)."""
    if high is not None and low > high:
        return "(?!)"  # no number: a pattern that never matches
    top = high if high is not None else 10 ** len(str(low)) - 1
    arms = []
    for digits in range(len(str(low)), len(str(top)) + 1):
        first = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        last = min(top, 10**digits - 1)
        arms += _same_length(str(first), str(last))
    if high is None:
        arms.append(f"[1-9][0-9]{{{len(str(top))},}}")
    return "|".join(arms)


def _same_length(low: str, high: str) -> list[str]:
    """Patterns for the digit strings from ``low`` to ``high``, both of the same length."""
    if low == high:
        return [low]
    if len(low) == 1:
        return [f"[{low}-{high}]"]
    if low[0] == high[0]:
        return [low[0] + p for p in _same_length(low[1:], high[1:])]
    rest = len(low) - 1
    arms, start, end, tail = [], int(low[0]), int(high[0]), []
    if low[1:] != "0" * rest:
        arms = [low[0] + p for p in _same_length(low[1:], "9" * rest)]
        start += 1
    if high[1:] != "9" * rest:
        tail = [high[0] + p for p in _same_length("0" * rest, high[1:])]
        end -= 1
    if start <= end:
        digit = str(start) if start == end else f"[{start}-{end}]"
        arms.append(f"{digit}[0-9]{{{rest}}}")
    return arms + tail

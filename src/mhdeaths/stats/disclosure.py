"""Statistical disclosure control for released counts, and for rates built on them.

Every statistic is computed from unrounded counts; disclosure control is applied last, to the
cells that are released (STATISTICS.md section 4.6). The publishers this project sits beside
disagree on the rule, so the rule is named in every output:

- ``"nhs_england"``: NHS England's sub-national rule for HES and ECDS (from September 2018):
  counts of 1 to 7 are shown as ``*``, 0 is shown as 0, other counts are rounded to the nearest 5;
- ``"mhsds"``: the Mental Health Services Data Set publications (``count_suppression`` in the
  Mental Health Bulletin code): counts below 5, *including 0*, are ``*``, others rounded to 5;
- ``"opensafely"``: OpenSAFELY's output rules: counts of 7 or fewer are redacted and the rest
  rounded to the nearest 5; zero is released as 0 ("counts of zero can be retained").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arrays import BoolArray, FloatArray, Vector, as_float_array, check_same_length

SUPPRESSED = "*"
NOT_RELEASED = ""


@dataclass(frozen=True)
class DisclosureRule:
    """A named disclosure-control rule for counts.

    ``name``, ``title``, ``description`` and ``source`` describe the rule for readers of an
    output; ``max_suppressed``, ``suppress_zero`` and ``rounding_base`` say what it does: counts
    from 1 (or from 0 when ``suppress_zero``) up to ``max_suppressed`` are shown as ``*``, the
    rest are rounded to the nearest multiple of ``rounding_base`` (halves round up).
    """

    name: str
    title: str
    description: str
    source: str
    max_suppressed: int
    suppress_zero: bool
    rounding_base: int = 5


DISCLOSURE_RULES: dict[str, DisclosureRule] = {
    rule.name: rule
    for rule in (
        DisclosureRule(
            name="nhs_england",
            title="NHS England sub-national rule (HES and ECDS)",
            description=(
                "Counts of 1 to 7 are shown as *; 0 is shown as 0; all other counts are rounded "
                "to the nearest 5."
            ),
            source=(
                "NHS Digital, 'Disclosure control methodology for Hospital Episode Statistics "
                "(HES) and Emergency Care Data Set (ECDS)', applied from September 2018 "
                "(digital.nhs.uk)."
            ),
            max_suppressed=7,
            suppress_zero=False,
        ),
        DisclosureRule(
            name="mhsds",
            title="Mental Health Services Data Set publications",
            description=(
                "Counts below 5, including 0, are shown as *; all other counts are rounded to "
                "the nearest 5."
            ),
            source=(
                "NHS England Mental Health Bulletin code, function count_suppression "
                "(github.com/NHSDigital/mental-health-bulletin)."
            ),
            max_suppressed=4,
            suppress_zero=True,
        ),
        DisclosureRule(
            name="opensafely",
            title="OpenSAFELY output rules",
            description=(
                "Counts of 1 to 7 are redacted (shown as *); 0 is shown as 0; all other counts "
                "are rounded to the nearest 5."
            ),
            source=(
                "OpenSAFELY documentation, 'Releasing files' (redact counts of 7 or fewer, then "
                "round to the nearest 5; counts of zero can be retained); ehrQL "
                "ehrql/measures/disclosure_control.py."
            ),
            max_suppressed=7,
            suppress_zero=False,
        ),
    )
}


@dataclass(frozen=True, eq=False)
class Disclosed:
    """Counts after disclosure control.

    Attributes
    ----------
    rule:
        The rule applied.
    text:
        The released cells: ``"*"``, a rounded whole number as text, or ``""`` for a missing
        count (nothing to release).
    values:
        The released numbers; NaN where suppressed or missing.
    suppressed:
        True where the count was suppressed (shown as ``*``).
    """

    rule: DisclosureRule
    text: list[str]
    values: FloatArray
    suppressed: BoolArray


def get_rule(rule: str | DisclosureRule) -> DisclosureRule:
    """The rule object for a rule name (or the rule itself); ValueError for an unknown name."""
    if isinstance(rule, DisclosureRule):
        return rule
    try:
        return DISCLOSURE_RULES[rule]
    except (KeyError, TypeError):
        names = ", ".join(sorted(DISCLOSURE_RULES))
        raise ValueError(f"Unknown disclosure rule {rule!r}; the rules are: {names}.") from None


def disclose(counts: Vector, rule: str | DisclosureRule = "nhs_england") -> Disclosed:
    """Apply a disclosure-control rule to counts of people or events.

    Parameters
    ----------
    counts:
        Whole, non-negative counts; ``None``/NaN marks a missing count, which is not released
        (text ``""``).
    rule:
        ``"nhs_england"`` (default), ``"mhsds"``, ``"opensafely"``, or a :class:`DisclosureRule`.

    Returns
    -------
    Disclosed:
        The released text, the released values and the suppression mask.

    Raises ValueError for an unknown rule name, a negative count or a count that is not a whole
    number. Sources: see :data:`DISCLOSURE_RULES` (each rule's ``source``).
    """
    chosen = get_rule(rule)
    values = as_float_array(counts, "counts")
    present = ~np.isnan(values)
    if bool(np.any(values[present] < 0)):
        raise ValueError("counts must be zero or more; found a negative count.")
    if bool(np.any(values[present] != np.floor(values[present]))):
        raise ValueError("counts must be whole numbers; round or aggregate them first.")
    suppressed = _suppressed(values, chosen)
    base = chosen.rounding_base
    # Half up: x/5 of a whole number never ends in exactly .5, so this equals round() there.
    rounded = np.floor(values / base + 0.5) * base
    released = np.where(suppressed, np.nan, rounded)
    numbers = np.char.mod("%d", np.nan_to_num(released).astype(np.int64))
    text = np.where(suppressed, SUPPRESSED, np.where(present, numbers, NOT_RELEASED)).tolist()
    return Disclosed(
        rule=chosen, text=text, values=released.astype(np.float64), suppressed=suppressed
    )


def disclose_dependent(
    values: Vector,
    counts: Vector,
    rule: str | DisclosureRule = "nhs_england",
    decimals: int = 1,
) -> list[str]:
    """Release rates or percentages whose numerators are subject to disclosure control.

    Parameters
    ----------
    values:
        The statistics, computed from unrounded counts (e.g. a rate per 100,000 or a percentage).
    counts:
        Each statistic's numerator count.
    rule:
        As for :func:`disclose`.
    decimals:
        Decimal places in the released text.

    Returns
    -------
    list[str]:
        ``"*"`` where the numerator is suppressed under the rule; ``""`` where the value or its
        count is missing; otherwise the value with ``decimals`` decimal places. The value itself
        is never rounded to the count's base: only its numerator is a count of people.

    Source: the MHSDS publications release a percentage as ``*`` when its numerator is
    suppressed (NHSDigital/mental-health-bulletin, ``mhsds_suppression``).
    """
    if not (isinstance(decimals, int) and decimals >= 0):
        raise ValueError(f"decimals must be a whole number, 0 or more; got {decimals!r}.")
    chosen = get_rule(rule)
    stats = as_float_array(values, "values")
    numerators = as_float_array(counts, "counts")
    check_same_length(values=stats, counts=numerators)
    suppressed = disclose(numerators, chosen).suppressed
    missing = np.isnan(stats) | np.isnan(numerators)
    formatted = np.char.mod(f"%.{decimals}f", stats)
    released: list[str] = np.where(
        suppressed, SUPPRESSED, np.where(missing, NOT_RELEASED, formatted)
    ).tolist()
    return released


def _suppressed(values: FloatArray, rule: DisclosureRule) -> BoolArray:
    smallest = 0 if rule.suppress_zero else 1
    # NaN compares False, so missing counts are never marked suppressed.
    return np.asarray((values >= smallest) & (values <= rule.max_suppressed), dtype=np.bool_)


__all__ = [
    "DISCLOSURE_RULES",
    "Disclosed",
    "DisclosureRule",
    "disclose",
    "disclose_dependent",
    "get_rule",
]

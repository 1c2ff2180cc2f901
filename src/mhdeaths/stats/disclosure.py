"""Statistical disclosure control for released counts, and for rates built on them.

Every statistic is computed from unrounded counts; disclosure control is applied last, to the
cells that are released (STATISTICS.md section 4.6). The publishers this project sits beside
disagree on the rule, so the rule is named in every output:

- ``"nhs_england"``: NHS England's sub-national rule for HES and ECDS (from September 2018):
  counts of 1 to 7 are shown as ``*``, 0 is shown as 0, other counts are rounded to the nearest 5;
- ``"mhsds"``: the Mental Health Services Data Set publications (``count_suppression`` in the
  Mental Health Bulletin code): counts below 5, *including 0*, are ``*``, others rounded to 5;
- ``"opensafely"``: OpenSAFELY's output rules: counts of 7 or fewer are redacted and the rest
  rounded to the nearest 5; zero is released as 0 ("counts of zero can be retained");
- ``"opensafely_midpoint6"``: OpenSAFELY's "midpoint 6" rounding, for counts that must stay
  numbers (the numerator and denominator of a rate): 0 stays 0 and every other count becomes the
  midpoint of its band of six, 1-6 -> 3, 7-12 -> 9, 13-18 -> 15. Nothing is shown as ``*``: a
  released 3 is a label for "1 to 6", never a true count, so no count of 7 or fewer can be read
  back; rates whose numerator is 1 to 7 are still withheld (:func:`disclose_dependent`). A
  total must be released as the sum of the released cells: rounded on its own beside its cells
  it can give small cells back (six cells of 1 are each "3", and so is their total of 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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

    ``rounding="midpoint"`` rounds instead to the midpoint of bands ``rounding_base`` wide,
    ``ceil(x / base) x base - floor(base / 2)`` for x > 0 and 0 for 0 (OpenSAFELY's
    ``roundmid_any``). ``dependent_max_suppressed``, when set, is the largest numerator whose
    rate or percentage :func:`disclose_dependent` withholds; by default a value is withheld
    exactly when its numerator is.
    """

    name: str
    title: str
    description: str
    source: str
    max_suppressed: int
    suppress_zero: bool
    rounding_base: int = 5
    rounding: Literal["nearest", "midpoint"] = "nearest"
    dependent_max_suppressed: int | None = None


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
        DisclosureRule(
            name="opensafely_midpoint6",
            title="OpenSAFELY midpoint 6 rounding",
            description=(
                "0 is shown as 0; every other count is shown as the midpoint of its band of six "
                "(1 to 6 as 3, 7 to 12 as 9, 13 to 18 as 15, and so on), so a 3 means '1 to 6' "
                "and no count is shown as *; a rate or percentage whose numerator is 1 to 7 is "
                "shown as *. Totals are the sums of the released cells."
            ),
            source=(
                "OpenSAFELY documentation, 'Statistical disclosure control', sections 'Rounding "
                "rates' and 'Midpoint 6 rounding' (function roundmid_any: ceiling(x/6)*6 - "
                "floor(6/2)*(x != 0); 'any rate calculated from counts <=7 should also be "
                "redacted') (opensafely/documentation, docs/outputs/sdc.md)."
            ),
            max_suppressed=0,
            suppress_zero=False,
            rounding_base=6,
            rounding="midpoint",
            dependent_max_suppressed=7,
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
        ``"nhs_england"`` (default), ``"mhsds"``, ``"opensafely"``, ``"opensafely_midpoint6"``,
        or a :class:`DisclosureRule`.

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
    rounded = _rounded(values, chosen)
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
        ``"*"`` where the numerator is suppressed under the rule (under a rule with
        ``dependent_max_suppressed``, where the numerator is 1 to that number); ``""`` where the
        value or its count is missing; otherwise the value with ``decimals`` decimal places. The value itself
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
    suppressed = _dependent_suppressed(disclose(numerators, chosen), numerators)
    missing = np.isnan(stats) | np.isnan(numerators)
    formatted = np.char.mod(f"%.{decimals}f", stats)
    released: list[str] = np.where(
        suppressed, SUPPRESSED, np.where(missing, NOT_RELEASED, formatted)
    ).tolist()
    return released


def _rounded(values: FloatArray, rule: DisclosureRule) -> FloatArray:
    base = rule.rounding_base
    if rule.rounding == "midpoint":
        # OpenSAFELY's roundmid_any: zero stays zero, so it is told apart from "1 to 6" (3).
        offset = np.where(values != 0, base // 2, 0)
        return np.asarray(np.ceil(values / base) * base - offset, dtype=np.float64)
    # Half up: x/5 of a whole number never ends in exactly .5, so this equals round() there.
    return np.asarray(np.floor(values / base + 0.5) * base, dtype=np.float64)


def _dependent_suppressed(disclosed: Disclosed, numerators: FloatArray) -> BoolArray:
    largest = disclosed.rule.dependent_max_suppressed
    if largest is None:
        return disclosed.suppressed
    # A released count of 3 under midpoint rounding hides 1 to 6, but a rate computed from the
    # true numerator would give it back: OpenSAFELY withholds rates built on counts of 7 or less.
    return np.asarray(disclosed.suppressed | ((numerators >= 1) & (numerators <= largest)))


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

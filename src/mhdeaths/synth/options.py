"""What to generate and what was generated: the public options and results of the generator.

The command and the tests build a ``SynthOptions`` and read a ``SynthResult`` (the files in the
order written, the planted errors, the resubmissions and the transfers); ``Row`` and ``Weights``
are the shapes every other module of the generator passes around.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: One record as written to a file: field name to its text (None is written as an empty cell).
Row = dict[str, str | None]
#: Codes and their relative weights.
Weights = Mapping[str, float]


@dataclass(frozen=True)
class SynthOptions:
    """What to generate. The defaults give one year of five providers, all clean."""

    providers: int = 5
    months: int = 12
    start: str = "2027-04"
    """The first reporting period, CCYY-MM."""
    seed: int = 1
    error_rate: float = 0.0
    """The share of death records given exactly one injected error (0 to 1)."""
    outliers: tuple[str, ...] = ()
    """ODS codes of providers whose inpatient and post-discharge death rates are raised."""
    outlier_factor: float = 2.5
    spec_version: str | None = None
    """The version the files declare; by default the version of the spec passed in."""
    provider_list: tuple[str, ...] = ()
    """Name the providers instead of numbering them (overrides ``providers``)."""
    resubmissions: float = 0.0
    """The share of provider-months with deaths that are later resubmitted (0 to 1).

    A resubmission of a month goes to ``<ODS>/resubmissions/`` under the same file names, so that
    it sorts after the originals. Its death file updates (U) the month's deaths whose details came
    later (underlying cause, inquest, review), which the original file sends as they first stood;
    it repeats every inpatient death, so that it and its activity table agree; now and then it
    withdraws (D) a death reported in error or adds (N) one notified late. Its activity table is
    the whole month again, now and then slightly corrected.
    """
    transfers: float = 0.0
    """The share of deaths within 30 days of discharge that follow a transfer (0 to 1).

    In such a death the person was discharged to another generated provider's mental health ward
    and died there, so two providers report it: the sending one as a death within 30 days of
    discharge (D30), the receiving one as an inpatient death (IPD), with the same NHS number and
    date of death. It needs at least two providers.
    """
    planted_cases: bool = False
    """Plant each of the hard cases of ``CASES`` once (spec 2.0.0 and later; two providers).

    Each is a death added to a provider-month of its own (see synth/cases.py), recorded in
    ``SynthResult.planted_cases`` with where it is, so a test of the warehouse knows what to look
    for. Off by default, so the other options' files stay as they were.
    """
    feeds: bool = False
    """Also write the national feeds (issue 16) under ``feeds/``: the MHSDS spells of each month
    (``spells_<CCYY-MM>``) and the death registrations of each calendar year of registration
    (``registrations_<CCYY>``). They draw from streams of their own, so the death and activity
    files are the same with or without them (synth/feeds.py)."""
    feed_format: str = "parquet"
    """``parquet`` or ``csv``: the format of the feed files."""
    background_deaths: int = 580_000
    """Registrations a year of people never in mental health care (England and Wales)."""
    under_report: tuple[tuple[str, float], ...] = ()
    """(ODS code, share): that provider leaves out the share of its deaths after discharge. The
    feeds gain the deaths it left out (a person, spell and registration each, no death record);
    its own files do not change."""
    registrations_to: str | None = None
    """The registrations extract's last month, CCYY-MM; by default the month after the last
    generated one. Deaths registered later are not in the files."""
    spells_missing: tuple[tuple[str, float], ...] = ()
    """(ODS code, share): that provider's spells feed leaves out the share of its spells (the
    generated ones; never the spell of a death), for the activity cross-check to find."""


#: The planted cases, in the order planted: what each is, as the warehouse must see it.
CASES: dict[str, str] = {
    "date_conflict": "one death reported by two providers with dates of death 1 to 3 days apart "
    "(after a transfer): counted once, listed in death_date_conflicts",
    "transfer_unmatched": "a death within 30 days of a transfer discharge to another generated "
    "provider, which has no record of it: listed in transfers_unmatched",
    "holding_code": "a registered cause first sent as the holding code Y33.9 (cause not yet "
    "known), replaced by the real code in the month's resubmission",
    "undetermined_at_12": "an undetermined-intent death (ICD-10 Y10-Y34) at age 12: cause group "
    "UNN, not suicide",
    "inquest_later": "an inquest first sent as opened, its conclusion and conclusion date arriving "
    "in the month's resubmission months after the death",
}


@dataclass(frozen=True)
class PlantedCase:
    """One planted case (a key of ``CASES``) and the records that carry it."""

    case: str
    provider: str
    reporting_period: str
    death_record_id: str
    """The record that carries the case (for a date conflict, the sending provider's)."""
    other_provider: str | None = None
    """A date conflict: the provider whose record gives the other date; an unmatched transfer:
    the receiving provider, which has no record of the death."""
    other_record_id: str | None = None
    """A date conflict: the other provider's record of the same death."""
    days_apart: int | None = None
    """A date conflict: how many days apart the two dates of death are."""


@dataclass(frozen=True)
class PlantedError:
    """One injected error and where the validator must find it."""

    file: Path
    table: str
    row_number: int
    """1-based data row: the CSV line is row_number + 1 (after the header)."""
    field: str
    rule_id: str


@dataclass(frozen=True)
class Transfer:
    """One death reported by two providers: after discharge by one, as an inpatient by the other."""

    nhs_number: str
    death_date: str
    sending_provider: str
    sending_record_id: str
    """The sending provider's record: a death within 30 days of discharge (D30)."""
    receiving_provider: str
    receiving_record_id: str
    """The receiving provider's record: an inpatient death (IPD)."""


@dataclass(frozen=True)
class PlantedMissed:
    """A death after discharge a provider left out (``SynthOptions.under_report``): in the feeds,
    with its own person, spell and registration, and in no death file."""

    provider: str
    death_date: str
    registration_date: str
    category: str
    """D30 (within 30 days of the live discharge) or OOS (day 31 to 3 months after it)."""


@dataclass(frozen=True)
class FeedsWritten:
    """What ``SynthOptions.feeds`` wrote: the files and the counts a test checks."""

    spell_files: list[Path]
    registration_files: list[Path]
    spells: int
    """Distinct spells over all the monthly files."""
    registrations: int
    """Registrations in the files (within the extract)."""
    background: int
    """Of them, deaths of people never in mental health care."""
    spells_missing: dict[str, int] = field(default_factory=dict)
    """Per provider of ``SynthOptions.spells_missing``: how many of its spells were left out."""
    unmatched_months: list[str] = field(default_factory=list)
    """``<ODS> <CCYY-MM>`` of any month whose spells could not match its activity's counts
    (none unless the death records leave no room); a test expects it empty."""


@dataclass(frozen=True)
class SynthResult:
    """What was written: every file in the order written, the providers, the planted errors."""

    files: list[Path]
    providers: list[str]
    planted_errors: list[PlantedError]
    resubmissions: list[Path] = field(default_factory=list)
    """The files of resubmissions (also in ``files``), in the order written."""
    transfers: list[Transfer] = field(default_factory=list)
    planted_cases: list[PlantedCase] = field(default_factory=list)
    """With ``SynthOptions.planted_cases``: each planted case and where it is, in ``CASES`` order."""
    planted_missed: list[PlantedMissed] = field(default_factory=list)
    """With ``SynthOptions.under_report``: each death left out, in provider and date order."""
    feeds: FeedsWritten | None = None
    """With ``SynthOptions.feeds``: the feed files written."""

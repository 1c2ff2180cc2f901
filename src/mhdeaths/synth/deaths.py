"""Synthetic submissions: realistic, reproducible death and activity files for any spec version.

Nobody outside a provider may hold real death records, yet the validator, the warehouse, the
benchmarks, the docs and the demo all need submissions to run on. This module writes them from the
spec alone: for each provider and month, a death file and an activity file whose values follow the
agreed definitions and national orders of magnitude, so that

- a clean set passes every rule of the spec (a rule that rejects realistic data is a bug in the
  rule or in the generator, and the tests say which);
- a set with planted errors says, for each error, the rule that must find it and on which row, so
  the validator can be tested end to end and known-bad examples explain themselves;
- outlier providers, whose death rates are raised while their denominators stay normal, give the
  benchmarks a known answer (a funnel plot must flag them);
- records live as they do in the warehouse: resubmissions of a month update (U) the deaths whose
  cause, inquest or review came later, withdraw (D) one reported in error or add (N) one notified
  late; and a transfer makes two providers report one death (D30 at the sending provider, IPD at
  the receiving one, the same NHS number and date of death), for the warehouse to match;
- identifiers never collide across runs: a death record is ``<ODS>-D-<CCYYMM>-<nnnn>`` and an NHS
  number is drawn from a hash of the seed, provider, month and that number, so files of separate
  runs (other months, other spec versions) can be loaded together;
- the same options always give byte-identical files, so examples and benchmarks are reproducible.

Every draw comes from a ``random.Random`` seeded from the options' seed and the provider and month
it is for, never from global state: adding a provider, an outlier, error injection, resubmissions
or transfers leaves the other provider-months as they were (bar an NHS number redrawn, rarely, to
keep numbers unique; transfers add deaths to the receiving provider's months).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from nhs_number.constants import REGION_SYNTHETIC
from nhs_number.validate import calculate_checksum

from mhdeaths.errors import UserError
from mhdeaths.periods import add_months, period_start
from mhdeaths.spec import FieldType, Mandation, Spec, SpecField, Table
from mhdeaths.validate.profiles import Profile, to_provider_format

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
class SynthResult:
    """What was written: every file in the order written, the providers, the planted errors."""

    files: list[Path]
    providers: list[str]
    planted_errors: list[PlantedError]
    resubmissions: list[Path] = field(default_factory=list)
    """The files of resubmissions (also in ``files``), in the order written."""
    transfers: list[Transfer] = field(default_factory=list)


# --- Providers ---------------------------------------------------------------------------------

# Synthetic ODS-like codes "R" + letter + character. The second letter is never A, which is kept
# for the acute trusts where some people die (died_in_other_provider), so the two never collide.
_ODS_SECOND = "ZYXWVUTSQPNMLKJHGFEDCB"
_ODS_THIRD = "123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_ACUTE_TRUSTS = tuple(f"RA{c}" for c in _ODS_THIRD)


def provider_codes(n: int) -> list[str]:
    """The first n synthetic provider codes (RZ1, RZ2, ...): always the same for the same n."""
    capacity = len(_ODS_SECOND) * len(_ODS_THIRD)
    if not 0 <= n <= capacity:
        raise UserError(f"The generator can make between 0 and {capacity} providers, not {n}.")
    return [
        f"R{_ODS_SECOND[i // len(_ODS_THIRD)]}{_ODS_THIRD[i % len(_ODS_THIRD)]}" for i in range(n)
    ]


# --- National orders of magnitude ----------------------------------------------------------------
# A mental health trust has about 300-700 beds at about 90% occupancy and a mean length of stay of
# five to eight weeks, so 8,000-20,000 occupied bed days and 150-400 admissions a month. Inpatient
# deaths run at about one per 25,000-40,000 occupied bed days; deaths within 30 days of discharge
# at 3-6 per 1,000 live discharges. Deaths awaiting admission are a rare sentinel event.
_BEDS = (330, 700)
_OCCUPANCY = (0.87, 0.95)
_MEAN_STAY = (38.0, 62.0)
_BED_DAYS_PER_IPD = (25_000.0, 40_000.0)
_D30_PER_DISCHARGE = (0.003, 0.006)
_AWA_PER_MONTH = 0.04
# Out-of-scope deaths the provider reports anyway (day 31-90 after discharge, no spell at all).
_OOS_PER_MONTH = 0.25

# Share of occupied bed days by age band: most inpatients are 18-64. 00-17 is set per provider
# (only some trusts run children's wards).
_BED_DAY_AGE_SHARE: dict[str, float] = {
    "18-24": 0.11,
    "25-34": 0.19,
    "35-44": 0.18,
    "45-54": 0.16,
    "55-64": 0.12,
    "65-74": 0.10,
    "75-84": 0.08,
    "85+": 0.04,
}
# Age at death: inpatient deaths are older (natural deaths on older adult wards), deaths after
# discharge younger (suicide risk is highest in the weeks after discharge).
_IPD_DEATH_AGE: dict[str, float] = {
    "18-24": 4,
    "25-34": 8,
    "35-44": 10,
    "45-54": 14,
    "55-64": 16,
    "65-74": 18,
    "75-84": 19,
    "85+": 11,
}
_D30_DEATH_AGE: dict[str, float] = {
    "18-24": 10,
    "25-34": 17,
    "35-44": 18,
    "45-54": 18,
    "55-64": 15,
    "65-74": 10,
    "75-84": 8,
    "85+": 4,
}
_BAND_AGES: dict[str, tuple[int, int]] = {
    "00-17": (0, 17),
    "18-24": (18, 24),
    "25-34": (25, 34),
    "35-44": (35, 44),
    "45-54": (45, 54),
    "55-64": (55, 64),
    "65-74": (65, 74),
    "75-84": (75, 84),
    "85+": (85, 97),
}

# Underlying causes consistent with each provisional type of death, in both accepted forms (the
# fixed-width X70X and the dotted F32.9), as providers send them.
_CAUSES: dict[str, tuple[str, ...]] = {
    "01": ("C34.9", "C349", "J44.9", "J449", "G30.9", "G309", "F03X", "I50.0", "C80.9"),
    "02": ("I21.9", "I219", "J18.9", "J189", "I26.9", "I64X", "E11.9", "K70.3", "G40.9"),
    "03": ("X70X", "X70", "X80X", "X64.9", "X78", "X81X", "X84.9", "X68"),
    "04": ("X99X", "Y09X", "X99.9"),
    "05": ("W19X", "W19.0", "V89.2", "W80X"),
    "06": ("X42X", "X42.0", "X44X", "X45X"),
    "08": ("Y14X", "Y17.9", "Y12X", "Y10"),
}
_INQUEST_CONCLUSIONS: dict[str, Weights] = {
    "01": {"06": 8, "11": 2},
    "02": {"06": 8, "11": 2},
    "03": {"10": 6, "11": 3, "07": 1},
    "04": {"05": 9, "07": 1},
    "05": {"01": 8, "11": 2},
    "06": {"02": 7, "01": 2, "11": 1},
    "07": {"11": 8, "01": 2},
    "08": {"07": 5, "11": 4, "10": 1},
    "09": {"11": 6, "07": 4},
}
_UNNATURAL = frozenset({"03", "04", "05", "06", "07", "08"})
_DETAINED = frozenset({"02", "03", "04"})
_LEARNING_DISABILITY_OR_AUTISM = frozenset({"L", "A", "B"})
_IN_SPELL = frozenset({"01", "02", "03", "04", "05", "06"})

_IPD_STATUS: Weights = {"01": 70, "02": 5, "03": 3, "04": 12, "05": 5, "06": 5}
_PLACE_BY_STATUS: dict[str, Weights] = {
    "01": {"01": 1},
    "02": {"02": 1},
    "03": {"08": 3, "04": 1, "98": 1},
    "04": {"05": 6, "08": 3, "04": 1},
    "05": {"08": 6, "05": 2, "04": 1, "98": 1},
    "06": {"03": 8, "04": 2},
    "07": {"05": 55, "08": 12, "03": 8, "04": 5, "06": 6, "07": 4, "09": 2, "98": 2},
    "08": {"04": 5, "05": 4, "08": 1},
    "99": {"05": 5, "03": 3, "99": 2},
}
_LIVE_DISCHARGE_METHOD: Weights = {"1": 85, "2": 6, "3": 4, "6": 3, "7": 2}
_LIVE_DESTINATION: Weights = {
    "19": 70, "29": 5, "51": 5, "53": 3, "55": 3, "56": 3, "87": 2, "37": 1, "40": 2, "42": 1
}  # fmt: skip
_ETHNIC: Weights = {
    "A": 68, "B": 1, "C": 5, "D": 1.5, "E": 0.7, "F": 0.7, "G": 1, "H": 2.5, "J": 2.5, "K": 1,
    "L": 1.5, "M": 2.5, "N": 3, "P": 1, "R": 0.4, "S": 2, "Z": 3, "99": 2,
}  # fmt: skip
_POSTCODE_AREAS = ("LS", "M", "B", "S", "NE", "BS", "L", "SE", "N", "E", "NG", "LE", "CV", "BD",
                   "HU", "PL", "EX", "OX", "CB", "NR", "DN", "WF", "ST", "DE")  # fmt: skip
# Royal Mail never uses C I K M O V in the last two letters of a postcode.
_POSTCODE_UNIT = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True)
class _Provider:
    """A provider's size and rates, drawn once from the seed."""

    ods: str
    beds: int
    occupancy: float
    mean_stay: float
    leave_share: float
    awol_share: float
    detained_share: float
    male_share: float
    cyp_share: float
    ipd_per_bed_day: float
    d30_per_discharge: float
    x_gender: bool
    """Whether the provider records some people's stated gender as X (not known)."""
    postcode_area: str


@dataclass
class _Ids:
    """A provider's identifiers so far: unique per provider and stable from one run to the next."""

    patients: set[str] = field(default_factory=set)
    spells: set[str] = field(default_factory=set)


@dataclass
class _Death:
    row: Row
    category: str
    stratum: tuple[str, str]
    """(age band, stated gender) of an inpatient death: the activity stratum it is counted in."""
    linked: bool = False
    """Whether another provider reports the same death (a transfer)."""
    same_person_as: _Death | None = None
    """For the receiving provider's record of a transfer: the sending provider's record."""


@dataclass(frozen=True)
class _Person:
    """Who died and when, as another provider's record says: a transfer's receiving record."""

    death: dt.date
    birth: dt.date
    sex: str
    ld: str
    admission: dt.date
    """The start of the receiving provider's spell."""


class _Codebook:
    """The codes of each coded field valid in one reporting period (codes carry validity dates)."""

    def __init__(self, spec: Spec, table: Table, day: dt.date) -> None:
        self.valid: dict[str, frozenset[str]] = {}
        self.fallback: dict[str, tuple[str, ...]] = {}
        for f in table.submitted_fields:
            if f.code_list is None:
                continue
            codes = spec.code_list(f.code_list)
            self.valid[f.name] = frozenset(codes.valid_codes(day))
            defaults = set(codes.default_codes())
            self.fallback[f.name] = tuple(c for c in codes.valid_codes(day) if c not in defaults)

    def pick(self, rng: random.Random, name: str, weights: Weights) -> str:
        """A weighted choice among the codes still valid; any valid code if none of them is."""
        valid = self.valid.get(name)
        options = (
            dict(weights) if valid is None else {c: w for c, w in weights.items() if c in valid}
        )
        if not options:
            # A later spec version retired every code we would choose: take any valid one.
            fallback = self.fallback.get(name) or tuple(sorted(valid or ())) or tuple(weights)
            return rng.choice(fallback)
        return rng.choices(list(options), weights=list(options.values()))[0]


def _weighted(rng: random.Random, weights: Weights) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; deaths per provider-month have small means, where Knuth's method is exact."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _split(total: int, weights: list[float]) -> list[int]:
    """Share a count between strata in proportion to weights, whole numbers adding up to total."""
    scale = sum(weights)
    raw = [total * w / scale for w in weights]
    parts = [int(x) for x in raw]
    # Largest remainders first; sorted() is stable, so ties go to the earlier stratum.
    order = sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _years_between(start: dt.date, end: dt.date) -> int:
    """Completed years, as the spec's years_between (a birthday counts on the day itself)."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _age_band(age: int) -> str:
    for band, (low, high) in _BAND_AGES.items():
        if low <= age <= high:
            return band
    return "85+"


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# --- Generation ----------------------------------------------------------------------------------


def generate(spec: Spec, options: SynthOptions, out: Path) -> SynthResult:
    """Write the submissions of each provider and month under ``out/<ODS>/``.

    Each provider-month has an activity file ``<ODS>_<CCYY-MM>_activity.csv`` and, when anyone
    died, a death file ``<ODS>_<CCYY-MM>_death.csv``; ``files`` lists them in the order written,
    each provider's originals first, then its resubmissions (``<ODS>/resubmissions/``, the same
    file names). A month that is not resubmitted holds its records as they stand at the end, so
    review outcomes and inquest conclusions that came later may already be filled in; a month that
    is resubmitted holds them as they first stood, and its resubmission completes them.
    """
    first = period_start(options.start)
    if options.providers < 1 or options.months < 1:
        raise UserError("Generate at least one provider and one month.")
    for name, rate in (
        ("error rate", options.error_rate),
        ("resubmission rate", options.resubmissions),
        ("transfer rate", options.transfers),
    ):
        if not 0.0 <= rate <= 1.0:
            raise UserError(f"The {name} must be between 0 and 1, not {rate}.")
    if options.outlier_factor <= 0:
        raise UserError(f"The outlier factor must be positive, not {options.outlier_factor}.")
    codes = list(options.provider_list) or provider_codes(options.providers)
    unknown = sorted(set(options.outliers) - set(codes))
    if unknown:
        raise UserError(
            f"Outlier {', '.join(unknown)} is not one of the generated providers ({codes[0]} to "
            f"{codes[-1]})."
        )
    if options.transfers > 0 and len(codes) < 2:
        raise UserError("Transfers between providers need at least two providers.")
    generator = _Generator(spec, options, out)
    months = [
        generator.draw_month(ods, add_months(first, n))
        for ods in codes
        for n in range(options.months)
    ]
    pairs = generator.transfer(months, codes) if options.transfers > 0 else []
    for m in months:
        generator.settle(m)
    for sending, receiving in pairs:
        # The same person: the receiving provider's record has the sending provider's number.
        receiving.row["nhs_number"] = sending.row["nhs_number"]
    transfers = [
        Transfer(
            nhs_number=_text(receiving.row, "nhs_number"),
            death_date=_text(receiving.row, "death_date"),
            sending_provider=_text(sending.row, "org_id_provider"),
            sending_record_id=_text(sending.row, "death_record_id"),
            receiving_provider=_text(receiving.row, "org_id_provider"),
            receiving_record_id=_text(receiving.row, "death_record_id"),
        )
        for sending, receiving in pairs
    ]
    files: list[Path] = []
    resubmissions: list[Path] = []
    for ods in codes:
        own = [m for m in months if m.p.ods == ods]
        for m in own:
            generator.plan_resubmission(m)
            files.extend(generator.write(m))
        for m in own:
            written = generator.write_resubmission(m)
            files.extend(written)
            resubmissions.extend(written)
    return SynthResult(
        files=files,
        providers=codes,
        planted_errors=generator.planted,
        resubmissions=resubmissions,
        transfers=transfers,
    )


def death_record_id(ods: str, period: str, n: int) -> str:
    """The nth death record of a provider's month: unique per provider, whichever run wrote it."""
    return f"{ods}-D-{period.replace('-', '')}-{n:04d}"


def _text(row: Row, name: str) -> str:
    return row.get(name) or ""


@dataclass
class _Month:
    """One provider-month while it is generated: its deaths first, its activity once they settle."""

    p: _Provider
    month: dt.date
    days: int
    factor: float
    rng: random.Random
    """The month's own stream: counts, deaths, then activity, always in that order."""
    ids: _Ids
    totals: tuple[int, int, int]
    """Occupied bed days, admissions and live discharges."""
    deaths: list[_Death]
    activity: list[Row] = field(default_factory=list)
    resubmission: tuple[list[Row], list[Row]] | None = None
    """The death records and activity rows of the month's resubmission, if it has one."""

    @property
    def period(self) -> str:
        return self.month.strftime("%Y-%m")


class _Generator:
    """Holds what every provider-month shares: the spec's tables, code books and used numbers."""

    def __init__(self, spec: Spec, options: SynthOptions, out: Path) -> None:
        self.spec = spec
        self.options = options
        self.out = out
        self.version = options.spec_version or spec.version
        self.death = spec.table("death")
        self.activity = spec.table("activity")
        self.rule_ids = frozenset(r.id for r in spec.rules)
        self.death_fields = frozenset(f.name for f in self.death.submitted_fields)
        self.codebooks: dict[tuple[str, dt.date], _Codebook] = {}
        self.nhs_numbers: set[str] = set()
        # The synthetic (never issued) range of the nhs-number package.
        self.nhs_ranges = [(int(r.start) // 10, int(r.end) // 10) for r in REGION_SYNTHETIC.ranges]
        self.planted: list[PlantedError] = []
        self.providers: dict[str, tuple[_Provider, _Ids]] = {}

    def codebook(self, table: Table, day: dt.date) -> _Codebook:
        key = (table.name, day)
        if key not in self.codebooks:
            self.codebooks[key] = _Codebook(self.spec, table, day)
        return self.codebooks[key]

    def provider(self, ods: str) -> tuple[_Provider, _Ids]:
        if ods not in self.providers:
            seed = self.options.seed
            self.providers[ods] = (
                _draw_provider(random.Random(f"{seed}:provider:{ods}"), ods),
                _Ids(),
            )
        return self.providers[ods]

    def draw_month(self, ods: str, month: dt.date) -> _Month:
        """The month's activity totals and deaths, not yet numbered."""
        p, ids = self.provider(ods)
        factor = self.options.outlier_factor if ods in self.options.outliers else 1.0
        rng = random.Random(f"{self.options.seed}:month:{ods}:{month.strftime('%Y-%m')}")
        days = (add_months(month, 1) - month).days
        bed_days = round(p.beds * p.occupancy * days * rng.uniform(0.97, 1.03))
        admissions = round(bed_days / p.mean_stay * rng.uniform(0.9, 1.1))
        discharges = round(admissions * rng.uniform(0.93, 1.07))
        counts = {
            "IPD": _poisson(rng, bed_days * p.ipd_per_bed_day * factor),
            "D30": _poisson(rng, discharges * p.d30_per_discharge * factor),
            "AWA": _poisson(rng, _AWA_PER_MONTH),
            "OOS": _poisson(rng, _OOS_PER_MONTH),
        }
        builder = _DeathBuilder(self, rng, p, month, days, ids)
        deaths = [builder.build(category) for category, n in counts.items() for _ in range(n)]
        return _Month(p, month, days, factor, rng, ids, (bed_days, admissions, discharges), deaths)

    def transfer(self, months: list[_Month], codes: list[str]) -> list[tuple[_Death, _Death]]:
        """Turn some deaths after discharge into deaths after a transfer to another provider.

        The person was discharged (live) to another provider's mental health ward and died there
        within 30 days: the sending provider's record stays a death within 30 days of discharge,
        now to destination 53 and in the other provider's care, and the receiving provider
        reports an inpatient death of the same person on the same day, its spell starting on or
        after the discharge.
        """
        by_key = {(m.p.ods, m.period): m for m in months}
        pairs: list[tuple[_Death, _Death]] = []
        for m in months:
            # A stream of its own, so the other values do not depend on the transfer rate.
            rng = random.Random(f"{self.options.seed}:transfers:{m.p.ods}:{m.period}")
            for sending in list(m.deaths):
                if sending.category != "D30" or sending.linked:
                    continue
                if _text(sending.row, "patient_status_at_death") != "07":
                    continue
                if rng.random() >= self.options.transfers:
                    continue
                other = rng.choice([c for c in codes if c != m.p.ods])
                receiving_month = by_key[(other, m.period)]
                receiving = self.transferred(rng, sending, receiving_month)
                receiving_month.deaths.append(receiving)
                pairs.append((sending, receiving))
        return pairs

    def transferred(self, rng: random.Random, sending: _Death, to: _Month) -> _Death:
        """The receiving provider's inpatient death of the person the sending one discharged."""
        row = sending.row
        death = dt.date.fromisoformat(_text(row, "death_date"))
        discharge = dt.date.fromisoformat(_text(row, "discharge_date"))
        gap = (death - discharge).days
        # Most transfers are admitted the day of the discharge, a few a day or two later.
        delay = int(_weighted(rng, {str(d): w for d, w in ((0, 6), (1, 3), (2, 1)) if d <= gap}))
        person = _Person(
            death=death,
            birth=dt.date.fromisoformat(_text(row, "person_birth_date")),
            sex=_text(row, "stated_gender"),
            ld=_text(row, "ld_autism_status"),
            admission=discharge + _days(delay),
        )
        builder = _DeathBuilder(self, rng, to.p, to.month, to.days, to.ids)
        received = builder.build("IPD", person)
        new = received.row
        # The same person, and the same death: what the coroner and the medical examiner found
        # does not depend on who reports it.
        for name in (
            "gender_identity",
            "ethnic_category",
            "postcode",
            "provisional_death_type",
            "underlying_cause_icd10",
            "me_outcome",
            "inquest_status",
            "inquest_conclusion",
            "pfd_report_issued",
        ):
            if name in row and name in new:
                new[name] = row[name]
        # The sending provider learns of it from the receiving one, which knows where and when.
        codes = self.codebook(self.death, to.month)
        row["discharge_method"] = codes.pick(rng, "discharge_method", {"1": 1})
        row["discharge_destination"] = codes.pick(rng, "discharge_destination", {"53": 1})
        row["place_of_death_type"] = new["place_of_death_type"]
        row["died_in_other_provider"] = to.p.ods
        row["death_date_basis"] = new["death_date_basis"]
        if row.get("death_time") is not None:
            row["death_time"] = new["death_time"]
        row["notification_source"] = codes.pick(rng, "notification_source", {"07": 1})
        told = dt.date.fromisoformat(_text(new, "date_provider_notified"))
        row["date_provider_notified"] = (told + _days(rng.randint(0, 3))).isoformat()
        sending.linked = True
        received.linked = True
        received.same_person_as = sending
        return received

    def settle(self, m: _Month) -> None:
        """Number the month's deaths, give each person an NHS number, then draw the activity."""
        # Deaths are listed and numbered by date, as a provider's extract would list them.
        m.deaths.sort(key=lambda d: d.row.get("death_date") or "")
        for n, d in enumerate(m.deaths, start=1):
            d.row["death_record_id"] = death_record_id(m.p.ods, m.period, n)
            if d.same_person_as is None:
                d.row["nhs_number"] = self.nhs_number(m.p.ods, m.period, n)
        in_spell = Counter(d.stratum for d in m.deaths if d.category == "IPD")
        m.activity = self.activity_rows(m.rng, m.p, m.month, m.days, m.totals, in_spell)

    def write(self, m: _Month) -> list[Path]:
        """Write the month's original submission (with its planted errors, if any)."""
        folder = self.out / m.p.ods
        folder.mkdir(parents=True, exist_ok=True)
        death_file = folder / f"{m.p.ods}_{m.period}_death.csv"
        activity_file = folder / f"{m.p.ods}_{m.period}_activity.csv"
        if self.options.error_rate > 0:
            # A stream of its own, so the clean values do not depend on the error rate.
            errors = random.Random(f"{self.options.seed}:errors:{m.p.ods}:{m.period}")
            self.plant_errors(errors, m.deaths, death_file, m.month)
        files: list[Path] = []
        if m.deaths:
            # A month without deaths has no death file: the spec rejects a file with no
            # records, and a provider with nothing to report sends no file at all.
            _write_csv(death_file, self.death, [d.row for d in m.deaths])
            files.append(death_file)
        _write_csv(activity_file, self.activity, m.activity)
        files.append(activity_file)
        return files

    def plan_resubmission(self, m: _Month) -> None:
        """Decide whether the month is resubmitted and what the resubmission holds.

        The resubmission updates (U) the deaths whose details came later, whose original records
        are sent as they first stood; it repeats every other inpatient death unchanged, so that
        its death file and its activity table (which counts deaths in spell) agree; now and then
        it withdraws (D) a death after discharge reported in error, or adds (N) one notified
        late. Deaths it does not mention stay as they were.
        """
        rate = self.options.resubmissions
        rng = random.Random(f"{self.options.seed}:resubmission:{m.p.ods}:{m.period}")
        if not m.deaths or rate <= 0 or rng.random() >= rate:
            return
        codes = self.codebook(self.death, m.month)
        withdrawable = [d for d in m.deaths if d.category != "IPD" and not d.linked]
        withdrawn = rng.choice(withdrawable) if withdrawable and rng.random() < 0.2 else None
        rows: list[Row] = []
        for d in m.deaths:
            if d is withdrawn:
                # Reported in error: the record is withdrawn as it was sent.
                rows.append({**d.row, "record_action": "D"})
                continue
            first_sent = _as_first_sent(rng, d.row, codes)
            if first_sent is not None and (d.category == "IPD" or rng.random() < 0.8):
                _fill_unknown(rng, self.death, first_sent, m.month, codes)
                rows.append({**d.row, "record_action": "U"})
                d.row = first_sent
            elif d.category == "IPD":
                rows.append({**d.row, "record_action": "U"})
        if rng.random() < 0.25:
            rows.append(self.notified_late(rng, m))
        if not rows:
            return
        activity = [dict(row) for row in m.activity]
        if rng.random() < 0.4:
            _correct_activity(rng, activity)
        m.resubmission = (rows, activity)

    def notified_late(self, rng: random.Random, m: _Month) -> Row:
        """A death after discharge the provider learned of after it sent the month."""
        builder = _DeathBuilder(self, rng, m.p, m.month, m.days, m.ids)
        late = builder.build("D30" if rng.random() < 0.7 else "OOS")
        row = late.row
        n = len(m.deaths) + 1
        row["death_record_id"] = death_record_id(m.p.ods, m.period, n)
        row["nhs_number"] = self.nhs_number(m.p.ods, m.period, n)
        codes = self.codebook(self.death, m.month)
        row["notification_source"] = codes.pick(
            rng, "notification_source", {"02": 4, "05": 3, "03": 2, "04": 1}
        )
        month_end = add_months(m.month, 1)
        row["date_provider_notified"] = (month_end + _days(rng.randint(3, 60))).isoformat()
        return row

    def write_resubmission(self, m: _Month) -> list[Path]:
        if m.resubmission is None:
            return []
        rows, activity = m.resubmission
        folder = self.out / m.p.ods / "resubmissions"
        folder.mkdir(parents=True, exist_ok=True)
        death_file = folder / f"{m.p.ods}_{m.period}_death.csv"
        activity_file = folder / f"{m.p.ods}_{m.period}_activity.csv"
        _write_csv(death_file, self.death, rows)
        _write_csv(activity_file, self.activity, activity)
        return [death_file, activity_file]

    def activity_rows(
        self,
        rng: random.Random,
        p: _Provider,
        month: dt.date,
        days: int,
        totals: tuple[int, int, int],
        in_spell: Counter[tuple[str, str]],
    ) -> list[Row]:
        codes = self.codebook(self.activity, month)
        bands = sorted(codes.valid.get("age_band", frozenset(_BAND_AGES)), key=_band_order)
        age_share = {"00-17": p.cyp_share, **_BED_DAY_AGE_SHARE}
        strata = [(band, gender) for band in bands for gender in ("1", "2")]
        weights = [
            age_share.get(band, 0.02)
            * (p.male_share if gender == "1" else 1 - p.male_share)
            * rng.uniform(0.85, 1.15)
            for band, gender in strata
        ]
        bed_days, admissions, discharges = totals
        split_bed_days = _split(bed_days, weights)
        split_admissions = _split(admissions, [w * rng.uniform(0.8, 1.2) for w in weights])
        split_discharges = _split(discharges, [w * rng.uniform(0.8, 1.2) for w in weights])
        counts = list(zip(strata, split_bed_days, split_admissions, split_discharges, strict=True))
        if (
            p.x_gender
            and "X" in codes.valid.get("stated_gender", frozenset("X"))
            and rng.random() < 0.5
        ):
            # A few people whose stated gender is not recorded, in one or two adult bands.
            adult_bands = bands[1:7] or bands
            for band in sorted(rng.sample(adult_bands, k=min(2, len(adult_bands)))):
                counts.append(
                    ((band, "X"), rng.randint(5, 60), rng.randint(0, 2), rng.randint(0, 2))
                )
        # Every inpatient death needs its stratum, even one a later spec's code lists left out,
        # or deaths in spell would not match the death file.
        present = {stratum for stratum, *_ in counts}
        for stratum in sorted(set(in_spell) - present):
            counts.append((stratum, rng.randint(20, 200), rng.randint(0, 3), rng.randint(0, 3)))
        rows: list[Row] = []
        period = month.strftime("%Y-%m")
        for (band, gender), occupied, admitted, discharged in counts:
            died = in_spell.get((band, gender), 0)
            if died and not occupied:
                # Whoever died in a stratum spent nights in a bed in it.
                occupied = rng.randint(5, 40) * died
            leave = min(occupied, int(occupied * p.leave_share * rng.uniform(0.7, 1.3)))
            awol = min(occupied - leave, int(occupied * p.awol_share * rng.uniform(0.0, 2.0)))
            detained = int(occupied * min(0.95, p.detained_share * rng.uniform(0.85, 1.15)))
            # Spells open at month end hold about one bed each; at least occupied/31 of them keep
            # the occupied bed days within what the month's spells could hold.
            open_end = max(
                round(occupied / days * rng.uniform(0.96, 1.04)), math.ceil(occupied / 31)
            )
            readmitted = int(discharged * rng.uniform(0.0, 0.05))
            patients = max(open_end, open_end + discharged + died - readmitted)
            row: Row = {
                "spec_version": self.version,
                "org_id_provider": p.ods,
                "reporting_period": period,
                "age_band": band,
                "stated_gender": gender,
                "admissions": str(admitted),
                "discharges_live": str(discharged),
                "deaths_in_spell": str(died),
                "occupied_bed_days": str(occupied),
                "leave_days": str(leave),
                "awol_days": str(awol),
                "detained_bed_days": str(detained),
                "open_spells_end": str(open_end),
                "distinct_patients": str(patients),
            }
            _fill_unknown(rng, self.activity, row, month, codes)
            rows.append(row)
        return rows

    def nhs_number(self, ods: str, period: str, n: int) -> str:
        """The NHS number of the nth person who died in a provider's month.

        It depends on the seed, the provider, the month and n alone, through a hash, so two runs
        that write different months or providers give different people different numbers (two of
        k numbers collide with a chance of about k squared over 180 million), and one run never
        gives two people the same number.
        """
        attempt = 0
        while True:
            key = f"{self.options.seed}:nhs:{ods}:{period}:{n}:{attempt}"
            digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
            low, high = self.nhs_ranges[digest % len(self.nhs_ranges)]
            stem = str(low + digest // len(self.nhs_ranges) % (high - low + 1)).zfill(9)
            check = calculate_checksum(stem)
            # A check digit of 10 means no NHS number has these nine digits.
            number = f"{stem}{check}"
            if check is not None and check < 10 and number not in self.nhs_numbers:
                self.nhs_numbers.add(number)
                return number
            attempt += 1

    def plant_errors(
        self, rng: random.Random, deaths: list[_Death], file: Path, month: dt.date
    ) -> None:
        rows = [d.row for d in deaths]
        for i, death in enumerate(deaths):
            if rng.random() >= self.options.error_rate:
                continue
            candidates = [
                (name, rule_id, value)
                for name, rule_id, value in _error_candidates(rng, rows, i, death.category, month)
                if rule_id in self.rule_ids and name in self.death_fields
            ]
            if not candidates:
                continue
            name, rule_id, value = rng.choice(candidates)
            death.row[name] = value
            self.planted.append(PlantedError(file, "death", i + 1, name, rule_id))


def _band_order(band: str) -> tuple[int, str]:
    return (_BAND_AGES.get(band, (200, 0))[0], band)


def _draw_provider(rng: random.Random, ods: str) -> _Provider:
    return _Provider(
        ods=ods,
        beds=rng.randint(*_BEDS),
        occupancy=rng.uniform(*_OCCUPANCY),
        mean_stay=rng.uniform(*_MEAN_STAY),
        leave_share=rng.uniform(0.04, 0.09),
        awol_share=rng.uniform(0.001, 0.004),
        detained_share=rng.uniform(0.5, 0.7),
        male_share=rng.uniform(0.52, 0.6),
        # About a third of trusts run children's and young people's wards.
        cyp_share=rng.uniform(0.02, 0.05) if rng.random() < 0.35 else rng.uniform(0.0, 0.003),
        ipd_per_bed_day=1 / rng.uniform(*_BED_DAYS_PER_IPD),
        d30_per_discharge=rng.uniform(*_D30_PER_DISCHARGE),
        x_gender=rng.random() < 0.3,
        postcode_area=rng.choice(_POSTCODE_AREAS),
    )


class _DeathBuilder:
    """Builds the death records of one provider-month, category first, then consistent details."""

    def __init__(
        self,
        gen: _Generator,
        rng: random.Random,
        p: _Provider,
        month: dt.date,
        days: int,
        ids: _Ids,
    ) -> None:
        self.gen, self.rng, self.p, self.month, self.days, self.ids = gen, rng, p, month, days, ids
        self.codes = gen.codebook(gen.death, month)

    def pick(self, name: str, weights: Weights) -> str:
        return self.codes.pick(self.rng, name, weights)

    def build(self, category: str, person: _Person | None = None) -> _Death:
        """A death of the category; of that person, on the ward, when another provider says so."""
        rng, pick = self.rng, self.pick
        spell: tuple[dt.date | None, dt.date | None, str | None]
        if person is None:
            death = self.month + _days(rng.randrange(self.days))
            ages = _IPD_DEATH_AGE if category == "IPD" else _D30_DEATH_AGE
            birth = self.birth_date(death, _weighted(rng, ages))
            sex = "1" if rng.random() < 0.58 else "2"
            ld = pick("ld_autism_status", {"N": 84, "A": 5, "L": 3, "B": 2, "U": 6})
            status = self.status(category)
            spell = self.spell(category, status, death)
        else:
            death, birth, sex, ld = person.death, person.birth, person.sex, person.ld
            status = self.pick("patient_status_at_death", {"01": 1})
            spell = (person.admission, death, "4")
        age = _years_between(birth, death)
        admission, discharge, method = spell
        destination = None
        if method == "4":
            destination = "79"
        elif method is not None:
            destination = pick("discharge_destination", _LIVE_DESTINATION)
        place = self.place(status, destination)
        other = rng.choice(_ACUTE_TRUSTS) if place in ("03", "04") or status == "06" else None

        kind = self.death_type(category, age)
        me = self.medical_examiner(kind)
        inquest = self.inquest_status(me)
        conclusion = (
            pick("inquest_conclusion", _INQUEST_CONCLUSIONS[kind]) if inquest == "C" else None
        )
        cause = None
        known_cause = me in ("1", "2") or inquest == "C"
        if kind in _CAUSES and rng.random() < (0.75 if known_cause else 0.05):
            cause = rng.choice(_CAUSES[kind])

        detention = self.detention(category, status, spell)
        review = self.review_method(category, kind, ld)
        completed = None
        if review != "10" and rng.random() < 0.45:
            completed = death + _days(rng.randint(14, 120))
        rating: str | None = pick(
            "overall_care_rating", {"1": 8, "2": 42, "3": 35, "4": 12, "5": 3}
        )
        rating = rating if completed is not None and rng.random() < 0.9 else None
        if completed is None:
            judgement = (
                "P" if review != "10" else pick("problems_in_care_judgement", {"N": 1, "P": 1})
            )
        else:
            # A judgement of problems in care only ever follows a completed review.
            poor = rating in ("4", "5")
            judgement = "Y" if rng.random() < (0.5 if poor else 0.02) else "N"
        lfpse = None
        unexpected = kind in _UNNATURAL or kind == "02"
        # Patient safety events are recorded for deaths in care or soon after it.
        in_care = {"IPD": 0.7, "D30": 0.25}.get(category, 0.0)
        if unexpected and rng.random() < in_care:
            lfpse = f"LFPSE-{death.year}-{rng.randrange(10**6):06d}"
        source, lag = self.notification(category, status)

        row: Row = {
            "spec_version": self.gen.version,
            "org_id_provider": self.p.ods,
            "reporting_period": self.month.strftime("%Y-%m"),
            # Numbered once the month's deaths are in date order (see _Generator.settle).
            "death_record_id": "",
            "record_action": "N",
            # Given once the month's deaths are in date order (see _Generator.settle).
            "nhs_number": "",
            "local_patient_id": self.new_id("P", 7, self.ids.patients),
            "person_birth_date": birth.isoformat(),
            "postcode": self.postcode() if rng.random() < 0.92 else None,
            "gender_identity": sex
            if rng.random() < 0.96
            else pick("gender_identity", {"3": 1, "4": 0.5, "Z": 1, "X": 2}),
            "stated_gender": sex,
            "ethnic_category": pick("ethnic_category", _ETHNIC),
            "ld_autism_status": ld,
            "death_date": death.isoformat(),
            "death_time": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
            if rng.random() < (0.85 if category == "IPD" else 0.4)
            else None,
            "death_date_basis": pick(
                "death_date_basis",
                {"C": 60, "R": 25, "E": 15} if place in ("05", "08") else {"C": 70, "R": 30},
            ),
            "notification_source": source,
            "date_provider_notified": (death + _days(lag)).isoformat(),
            "patient_status_at_death": status,
            "place_of_death_type": place,
            "died_in_other_provider": other,
            "hosp_prov_spell_id": None
            if admission is None
            else self.new_id("S", 9, self.ids.spells),
            "admission_date": _iso(admission),
            "discharge_date": _iso(discharge),
            "discharge_method": method,
            "discharge_destination": destination,
            "ward_type_group": self.ward_type(age, sex, ld, admission is not None),
            "detention_status": detention,
            "restrictive_intervention_24h": self.restrictive_intervention(category, kind),
            "provisional_death_type": kind,
            "underlying_cause_icd10": cause,
            "me_outcome": me,
            "inquest_status": inquest,
            "inquest_conclusion": conclusion,
            "pfd_report_issued": pick("pfd_report_issued", {"Y": 2, "N": 8})
            if inquest == "C"
            else None,
            "review_method": review,
            "review_completed_date": _iso(completed),
            "overall_care_rating": rating,
            "problems_in_care_judgement": judgement,
            "lfpse_event_id": lfpse,
            "lfpse_physical_harm": None
            if lfpse is None
            else pick("lfpse_physical_harm", {"5": 9, "4": 1}),
            "cqc_notified": self.cqc(category, detention),
            "leder_notified": "Y"
            if ld in _LEARNING_DISABILITY_OR_AUTISM
            else pick("leder_notified", {"X": 85, "N": 15}),
            # Added in 1.1.0: whether the family was involved in the review.
            "family_involvement": self.family_involvement(review, completed),
            "declared_death_category": category,
        }
        _fill_unknown(rng, self.gen.death, row, self.month, self.codes)
        band = _age_band(age)
        return _Death(row=row, category=category, stratum=(band, sex))

    def birth_date(self, death: dt.date, band: str) -> dt.date:
        low, high = _BAND_AGES[band]
        age = self.rng.randint(low, high)
        # Any day in the year before the (age)th birthday back from the death gives that age.
        latest = _years_back(death, age)
        earliest = _years_back(death, age + 1) + _days(1)
        return earliest + _days(self.rng.randrange((latest - earliest).days + 1))

    def status(self, category: str) -> str:
        match category:
            case "IPD":
                return self.pick("patient_status_at_death", _IPD_STATUS)
            case "D30":
                # Some die awaiting readmission within 30 days of a discharge: still D30.
                return "07" if self.rng.random() < 0.95 else "08"
            case "AWA":
                return "08"
        return "07" if self.rng.random() < 0.75 else "99"

    def spell(
        self, category: str, status: str, death: dt.date
    ) -> tuple[dt.date | None, dt.date | None, str | None]:
        """Admission date, discharge date and discharge method of the index spell, if any."""
        rng = self.rng
        if category == "IPD":
            return death - _days(self.stay()), death, "4"
        if category == "D30":
            # Risk is highest in the first week after discharge: weight day d by 1/(d + 3).
            gap = _weighted(rng, {str(d): 1 / (d + 3) for d in range(31)})
            discharge = death - _days(int(gap))
        elif category == "OOS" and status == "07":
            discharge = death - _days(rng.randint(31, 90))
        elif category == "AWA" and rng.random() < 0.3:
            # An earlier discharge more than 30 days before: still only awaiting admission.
            discharge = death - _days(rng.randint(31, 365))
        else:
            return None, None, None
        return (
            discharge - _days(self.stay()),
            discharge,
            self.pick("discharge_method", _LIVE_DISCHARGE_METHOD),
        )

    def stay(self) -> int:
        # Lengths of stay are long-tailed: a median of about five weeks, some stays of years.
        return min(3650, int(self.rng.lognormvariate(math.log(35), 0.9)))

    def place(self, status: str, destination: str | None) -> str:
        if destination == "51":
            return self.pick("place_of_death_type", {"03": 7, "04": 3})
        if destination in ("37", "40", "42") and self.rng.random() < 0.5:
            return self.pick("place_of_death_type", {"09": 1})
        if destination in ("55", "56") and self.rng.random() < 0.7:
            return self.pick("place_of_death_type", {"06": 1})
        return self.pick("place_of_death_type", _PLACE_BY_STATUS[status])

    def death_type(self, category: str, age: int) -> str:
        rng = self.rng
        if rng.random() < 0.12:
            return self.pick("provisional_death_type", {"09": 1})
        natural = 0.8 if age >= 65 else 0.5 if age >= 45 else 0.25
        if category != "IPD":
            natural -= 0.15
        if rng.random() < natural:
            # An expected natural death (terminal illness, frailty) is mostly one of old age.
            expected = 55 if age >= 65 else 15
            return self.pick("provisional_death_type", {"01": expected, "02": 100 - expected})
        if category == "IPD":
            unnatural: Weights = {"03": 45, "05": 12, "06": 15, "07": 3, "08": 10, "04": 2}
        else:
            unnatural = {"03": 50, "05": 8, "06": 25, "08": 10, "04": 2}
        return self.pick("provisional_death_type", unnatural)

    def medical_examiner(self, kind: str) -> str:
        if kind in ("01", "02"):
            return self.pick("me_outcome", {"1": 70, "2": 8, "3": 6, "9": 16})
        if kind in _UNNATURAL:
            return self.pick("me_outcome", {"3": 85, "9": 15})
        return self.pick("me_outcome", {"9": 60, "3": 40})

    def inquest_status(self, me: str) -> str:
        if me == "3":
            return self.pick("inquest_status", {"O": 55, "P": 25, "C": 12, "D": 8})
        if me == "9":
            return self.pick("inquest_status", {"P": 1, "N": 1})
        return "N"

    def detention(
        self, category: str, status: str, spell: tuple[dt.date | None, dt.date | None, str | None]
    ) -> str:
        if category == "IPD":
            return self.pick("detention_status", {"02": 55, "01": 34, "03": 8, "04": 1})
        if status == "08":
            # Awaiting a bed: often held under a place of safety order or detained in the ED.
            return self.pick("detention_status", {"98": 45, "04": 35, "02": 20})
        if spell[0] is None:
            return self.pick("detention_status", {"98": 60, "99": 40})
        # At discharge: mostly informal, some onto a community treatment order.
        return self.pick("detention_status", {"01": 62, "05": 22, "02": 12, "03": 4})

    def ward_type(self, age: int, sex: str, ld: str, has_spell: bool) -> str:
        rng, pick = self.rng, self.pick
        if not has_spell:
            return pick("ward_type_group", {"99": 1})
        if age < 18:
            return pick("ward_type_group", {"04": 1})
        if ld in ("L", "B") and rng.random() < 0.4:
            return pick("ward_type_group", {"07": 1})
        if age >= 65:
            return pick("ward_type_group", {"02": 70, "01": 20, "06": 5, "05": 3, "03": 2})
        weights: dict[str, float] = {"01": 62, "03": 10, "05": 9, "06": 10, "08": 2, "98": 2}
        if sex == "2" and age < 45:
            weights["09"] = 1
        return pick("ward_type_group", weights)

    def restrictive_intervention(self, category: str, kind: str) -> str:
        if kind == "07":
            return "Y"
        if category == "IPD":
            return self.pick("restrictive_intervention_24h", {"N": 86, "Y": 8, "U": 6})
        return self.pick("restrictive_intervention_24h", {"N": 75, "U": 25})

    def review_method(self, category: str, kind: str, ld: str) -> str:
        if ld in ("L", "B") and self.rng.random() < 0.5:
            return self.pick("review_method", {"03": 1})
        weights: Weights
        if category == "IPD" and kind in _UNNATURAL:
            weights = {"04": 40, "05": 15, "06": 15, "07": 15, "01": 10, "11": 5}
        elif category == "IPD":
            weights = {"01": 45, "02": 30, "06": 15, "05": 5, "09": 5}
        elif category in ("D30", "AWA"):
            weights = {"01": 25, "02": 25, "06": 20, "07": 5, "04": 10, "10": 15, "11": 3}
        else:
            weights = {"10": 50, "06": 20, "01": 20, "09": 10}
        return self.pick("review_method", weights)

    def family_involvement(self, review: str, completed: dt.date | None) -> str | None:
        if completed is not None:
            return self.pick("family_involvement", {"Y": 60, "D": 15, "N": 25})
        if review == "10":
            return self.pick("family_involvement", {"X": 1})
        return (
            None if self.rng.random() < 0.5 else self.pick("family_involvement", {"Y": 3, "N": 2})
        )

    def cqc(self, category: str, detention: str) -> str:
        # Deaths of detained patients must be notified (Regulation 17), wherever they happen.
        if detention in _DETAINED:
            return "Y"
        if category == "IPD":
            return self.pick("cqc_notified", {"Y": 6, "N": 1, "X": 3})
        return self.pick("cqc_notified", {"X": 85, "N": 15})

    def notification(self, category: str, status: str) -> tuple[str, int]:
        """How the provider learned of the death, and how many days after it."""
        rng, pick = self.rng, self.pick
        if category == "IPD" and status == "06":
            return pick("notification_source", {"07": 6, "01": 4}), rng.randint(0, 2)
        if category == "IPD" and status == "05":
            return pick("notification_source", {"06": 6, "01": 4}), rng.randint(0, 3)
        if category == "IPD":
            return pick("notification_source", {"01": 1}), 0 if rng.random() < 0.9 else 1
        if status == "08":
            return pick("notification_source", {"01": 5, "07": 5}), rng.randint(0, 2)
        source = pick(
            "notification_source", {"02": 30, "03": 15, "04": 20, "05": 15, "06": 8, "07": 12}
        )
        lags = {"02": (2, 21), "03": (1, 14), "04": (0, 7), "05": (1, 10), "06": (0, 3)}
        return source, rng.randint(*lags.get(source, (0, 5)))

    def new_id(self, prefix: str, digits: int, used: set[str]) -> str:
        while True:
            value = f"{prefix}{self.rng.randrange(10**digits):0{digits}d}"
            if value not in used:
                used.add(value)
                return value

    def postcode(self) -> str:
        rng = self.rng
        unit = "".join(rng.choice(_POSTCODE_UNIT) for _ in range(2))
        return f"{self.p.postcode_area}{rng.randint(1, 20)} {rng.randint(0, 9)}{unit}"


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _fill_unknown(
    rng: random.Random, table: Table, row: Row, month: dt.date, codes: _Codebook
) -> None:
    """Fill the submitted fields this generator does not know (a later spec version's additions).

    Unknown fields are always filled, never left empty: a later version's rules more often ask for
    a new field to be present than absent. Known fields left empty that the spec now makes
    mandatory or required are filled the same way.
    """
    for f in table.submitted_fields:
        known = f.name in row
        if known and (row[f.name] is not None or f.mandation is Mandation.OPTIONAL):
            continue
        row[f.name] = _any_value(rng, f, month, codes)


def _any_value(rng: random.Random, f: SpecField, month: dt.date, codes: _Codebook) -> str | None:
    """A plausible value of a field from its definition alone."""
    if f.code_list is not None:
        return codes.pick(rng, f.name, {})
    match f.type:
        case FieldType.DATE:
            return (month + _days(rng.randrange(28))).isoformat()
        case FieldType.TIME:
            return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
        case FieldType.INTEGER | FieldType.DECIMAL:
            low = f.minimum if f.minimum is not None else 0
            high = f.maximum if f.maximum is not None else low + 100
            return str(rng.randint(low, min(high, low + 100)))
    example = f.example
    fits = example is not None and (f.pattern is None or re.fullmatch(f.pattern, example))
    if example is not None and fits and (f.max_length is None or len(example) <= f.max_length):
        return example
    return None


def _as_first_sent(rng: random.Random, row: Row, codes: _Codebook) -> Row | None:
    """The record as the provider first sent it, before the details that come later; None if
    nothing in it comes later.

    The underlying cause comes with the medical certificate or the inquest; the inquest itself
    was first only opened or awaited; the review of care was still under way (no completed date,
    no rating, judgement pending, family involvement not yet recorded); and until the cause is
    known the provisional type of death is sometimes still awaiting information.
    """
    inquest = row.get("inquest_status")
    cause = row.get("underlying_cause_icd10")
    reviewed = row.get("review_completed_date") is not None
    if cause is None and inquest not in ("C", "D", "O") and not reviewed:
        return None
    first = dict(row)
    first["underlying_cause_icd10"] = None
    if (
        cause is not None
        and row.get("provisional_death_type") not in ("07", "09")
        and rng.random() < 0.3
    ):
        first["provisional_death_type"] = codes.pick(rng, "provisional_death_type", {"09": 1})
    if inquest in ("C", "D", "O"):
        weights: Weights = {"O": 6, "P": 4} if inquest == "C" else {"P": 1}
        first["inquest_status"] = codes.pick(rng, "inquest_status", weights)
        first["inquest_conclusion"] = None
        first["pfd_report_issued"] = None
    if (
        first.get("inquest_status") in ("P", "N")
        and row.get("me_outcome") in ("1", "2", "3")
        and rng.random() < 0.4
    ):
        first["me_outcome"] = codes.pick(rng, "me_outcome", {"9": 1})
    if reviewed:
        first["review_completed_date"] = None
        first["overall_care_rating"] = None
        first["problems_in_care_judgement"] = codes.pick(
            rng, "problems_in_care_judgement", {"P": 1}
        )
        first["family_involvement"] = None
    return first


def _correct_activity(rng: random.Random, rows: list[Row]) -> None:
    """Correct one or two strata slightly, as a resubmitted activity table may, keeping every rule."""

    def number(row: Row, name: str) -> int | None:
        value = row.get(name)
        return int(value) if value is not None and value.isdigit() else None

    for row in rng.sample(rows, k=min(2, len(rows))):
        occupied = number(row, "occupied_bed_days")
        spells = [number(row, n) for n in ("open_spells_end", "discharges_live", "deaths_in_spell")]
        if occupied is None or None in spells:
            continue
        most = 31 * sum(s or 0 for s in spells)
        corrected = min(most, max(0, occupied + round(occupied * rng.uniform(-0.03, 0.03))))
        row["occupied_bed_days"] = str(corrected)
        leave = min(corrected, number(row, "leave_days") or 0)
        awol = min(corrected - leave, number(row, "awol_days") or 0)
        for name, value in (
            ("leave_days", leave),
            ("awol_days", awol),
            ("detained_bed_days", min(corrected, number(row, "detained_bed_days") or 0)),
        ):
            if row.get(name) is not None:
                row[name] = str(value)
        admissions = number(row, "admissions")
        if admissions is not None:
            row["admissions"] = str(max(0, admissions + rng.choice((-1, 0, 1))))


def _write_csv(path: Path, table: Table, rows: list[Row]) -> None:
    names = [f.name for f in table.submitted_fields]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([("" if (v := row.get(n)) is None else v) for n in names] for row in rows)


# --- Planted errors ------------------------------------------------------------------------------

# Realistic wrong codes: a provider's local code or a code from another list.
_BAD_CODES: dict[str, str] = {
    "ethnic_category": "W",
    "notification_source": "00",
    "place_of_death_type": "10",
    "ward_type_group": "12",
    "review_method": "99",
    "me_outcome": "5",
    "death_date_basis": "X",
}
_MANDATORY_TO_DROP = (
    "local_patient_id",
    "death_date_basis",
    "notification_source",
    "place_of_death_type",
    "provisional_death_type",
)

Candidate = tuple[str, str, str | None]
"""An error that could be planted: the field, the rule that must find it and the bad value."""


def _error_candidates(
    rng: random.Random, rows: list[Row], i: int, category: str, month: dt.date
) -> list[Candidate]:
    """Every error that fits record i, each with the rule that must find it.

    Each error breaks one field. Some also change what the definitions derive (a death date that
    does not parse cannot be categorised), so other rules may fire on the same row as well; those
    that would change whether a death is an inpatient death are kept off inpatient deaths where
    the brief allows, so the activity file's deaths in spell still match.
    """
    row = rows[i]

    def text(name: str) -> str:
        return row.get(name) or ""

    death = dt.date.fromisoformat(text("death_date"))
    code_field = rng.choice(sorted(_BAD_CODES))
    dropped = rng.choice(
        _MANDATORY_TO_DROP if category == "IPD" else (*_MANDATORY_TO_DROP, "death_date")
    )
    date_field = rng.choice(
        ("date_provider_notified", "person_birth_date")
        if category == "IPD"
        else ("death_date", "date_provider_notified", "person_birth_date")
    )
    bad_day = dt.date.fromisoformat(text(date_field))
    bad_date = (
        f"{bad_day.day:02d}/{bad_day.month:02d}/{bad_day.year}"
        if rng.random() < 0.5
        else f"{bad_day.year}-02-30"
    )
    candidates: list[Candidate] = [
        (code_field, f"death.code_list.{code_field}", _BAD_CODES[code_field]),
        (dropped, f"death.mandatory.{dropped}", None),
        (date_field, f"death.type.{date_field}", bad_date),
        (
            "date_provider_notified",
            "death.dates.notified_not_before_death",
            (death - _days(rng.randint(1, 10))).isoformat(),
        ),
        (
            "person_birth_date",
            "death.dates.birth_not_after_death",
            (death + _days(rng.randint(1, 200))).isoformat(),
        ),
        ("postcode", "death.pattern.postcode", rng.choice(("LS1 4A", "1LS 4AB", "ls1 4ab"))),
        # A local identifier with the patient record system's name appended: too long.
        (
            "local_patient_id",
            "death.max_length.local_patient_id",
            f"{text('local_patient_id')}-EPR-NORTH-2027",
        ),
    ]
    number = text("nhs_number")
    if len(number) == 10 and number.isdigit():
        # Any other last digit breaks the modulus 11 check: only one check digit fits.
        wrong = (int(number[-1]) + rng.randint(1, 9)) % 10
        candidates.append(("nhs_number", "death.nhs_number.check_digit", f"{number[:-1]}{wrong}"))
    if category == "IPD":
        candidates.append(
            ("discharge_method", "death.ipd.discharge_method_died", rng.choice(("1", "2", "3")))
        )
    elif row.get("admission_date") is not None:
        candidates.append(
            (
                "admission_date",
                "death.dates.admission_not_after_death",
                (death + _days(rng.randint(1, 30))).isoformat(),
            )
        )
    else:
        # No spell, so nothing else depends on the date: only the reporting period is wrong.
        candidates.append(
            (
                "death_date",
                "death.dates.death_in_reporting_period",
                (month - _days(rng.randint(1, 20))).isoformat(),
            )
        )
    if text("patient_status_at_death") == "07":
        candidates.append(("discharge_method", "death.discharged.live_discharge", "4"))
    if text("inquest_status") != "C":
        candidates.append(
            (
                "inquest_conclusion",
                "death.inquest.conclusion_needs_concluded",
                rng.choice(("06", "10", "11")),
            )
        )
    if i > 0:
        candidates.append(
            (
                "death_record_id",
                "death.duplicate.death_record_id",
                rows[rng.randrange(i)]["death_record_id"],
            )
        )
    return candidates


def rewrite_for_profile(spec: Spec, profile: Profile, files: list[Path]) -> None:
    """Rewrite the profile's provider's files in its own export format, in place."""
    for path in files:
        if not path.name.startswith(f"{profile.provider}_"):
            continue
        table = path.stem.rsplit("_", 1)[1]
        frame = pl.read_csv(path, infer_schema=False)
        to_provider_format(profile, spec, table, frame).write_csv(path)

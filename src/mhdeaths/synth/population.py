"""The providers and the national orders of magnitude their activity and deaths follow.

A provider's size and rates (beds, occupancy, length of stay, death rates) are drawn once from
the seed and its ODS code, so adding a provider leaves the others as they were. The synthetic
ODS codes, the age bands and the share of bed days by age band live here too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from mhdeaths.errors import UserError

# Synthetic ODS-like codes "R" + letter + character. The second letter is never A, which is kept
# for the acute trusts where some people die (died_in_other_provider), so the two never collide.
_ODS_SECOND = "ZYXWVUTSQPNMLKJHGFEDCB"
_ODS_THIRD = "123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
ACUTE_TRUSTS = tuple(f"RA{c}" for c in _ODS_THIRD)


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
AWA_PER_MONTH = 0.04
# Out-of-scope deaths the provider reports anyway (day 31-90 after discharge, no spell at all).
OOS_PER_MONTH = 0.25


# Share of occupied bed days by age band: most inpatients are 18-64. 00-17 is set per provider
# (only some trusts run children's wards).
BED_DAY_AGE_SHARE: dict[str, float] = {
    "18-24": 0.11,
    "25-34": 0.19,
    "35-44": 0.18,
    "45-54": 0.16,
    "55-64": 0.12,
    "65-74": 0.10,
    "75-84": 0.08,
    "85+": 0.04,
}


BAND_AGES: dict[str, tuple[int, int]] = {
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


_POSTCODE_AREAS = ("LS", "M", "B", "S", "NE", "BS", "L", "SE", "N", "E", "NG", "LE", "CV", "BD",
                   "HU", "PL", "EX", "OX", "CB", "NR", "DN", "WF", "ST", "DE")  # fmt: skip


@dataclass(frozen=True)
class Provider:
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
class Ids:
    """A provider's identifiers so far: unique per provider and stable from one run to the next."""

    patients: set[str] = field(default_factory=set)
    spells: set[str] = field(default_factory=set)


def age_band(age: int) -> str:
    """The age band an age falls in, as the activity table counts it."""
    for band, (low, high) in BAND_AGES.items():
        if low <= age <= high:
            return band
    return "85+"


def draw_provider(rng: random.Random, ods: str) -> Provider:
    """A provider's size and rates, from a stream seeded by the run's seed and its ODS code."""
    return Provider(
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

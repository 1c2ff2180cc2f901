"""What one run of the generator holds while it works, and the records it passes between stages.

``Run`` keeps what every provider-month shares (the spec's tables, code books per period, the
providers drawn so far, the NHS numbers used, the planted errors); ``Month`` is one provider-month
on its way to files; ``Death`` and ``Person`` are a death record and who died. Death record ids
and NHS numbers depend on the seed, provider, month and number alone, so separate runs never
collide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from nhs_number.constants import REGION_SYNTHETIC
from nhs_number.validate import calculate_checksum

from mhdeaths.spec import Spec, Table
from mhdeaths.synth.draws import Codebook
from mhdeaths.synth.options import PlantedError, Row, SynthOptions
from mhdeaths.synth.population import Ids, Provider, draw_provider


@dataclass
class Death:
    row: Row
    category: str
    stratum: tuple[str, ...]
    """(age band, stated gender) of an inpatient death, and from spec 2.0.0 its ward type group
    and broad ethnic group: the activity stratum it is counted in."""
    linked: bool = False
    """Whether another provider reports the same death (a transfer)."""
    same_person_as: Death | None = None
    """For the receiving provider's record of a transfer: the sending provider's record."""
    reviews: list[Row] = field(default_factory=list)
    """Spec 2.0.0: the death's reviews, not yet keyed to it (see synth/children.py)."""
    case: str | None = None
    """The planted case (synth/cases.py) this record belongs to; errors and resubmissions leave
    it as planted, so the case stays what it says."""


@dataclass(frozen=True)
class Person:
    """Who died and when, as another provider's record says: a transfer's receiving record."""

    death: dt.date
    birth: dt.date
    sex: str
    ld: str
    admission: dt.date
    """The start of the receiving provider's spell."""


def death_record_id(ods: str, period: str, n: int) -> str:
    """The nth death record of a provider's month: unique per provider, whichever run wrote it."""
    return f"{ods}-D-{period.replace('-', '')}-{n:04d}"


def text_of(row: Row, name: str) -> str:
    """A field's text in a row, empty when it is missing or None."""
    return row.get(name) or ""


@dataclass
class Month:
    """One provider-month while it is generated: its deaths first, its activity once they settle."""

    p: Provider
    month: dt.date
    days: int
    factor: float
    rng: random.Random
    """The month's own stream: counts, deaths, then activity, always in that order."""
    ids: Ids
    totals: tuple[int, int, int]
    """Occupied bed days, admissions and live discharges."""
    deaths: list[Death]
    activity: list[Row] = field(default_factory=list)
    resubmission: tuple[list[Row], list[Row]] | None = None
    """The death records and activity rows of the month's resubmission, if it has one."""
    resubmitted_children: dict[str, list[Row]] = field(default_factory=dict)
    """The records of each child table (spec 2.0.0) the resubmission sends with its deaths."""

    @property
    def period(self) -> str:
        return self.month.strftime("%Y-%m")


class Run:
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
        self.tables = frozenset(t.name for t in spec.tables)
        self.codebooks: dict[tuple[str, dt.date], Codebook] = {}
        self.nhs_numbers: set[str] = set()
        # The synthetic (never issued) range of the nhs-number package.
        self.nhs_ranges = [(int(r.start) // 10, int(r.end) // 10) for r in REGION_SYNTHETIC.ranges]
        self.planted: list[PlantedError] = []
        self.providers: dict[str, tuple[Provider, Ids]] = {}

    def codebook(self, table: Table, day: dt.date) -> Codebook:
        key = (table.name, day)
        if key not in self.codebooks:
            self.codebooks[key] = Codebook(self.spec, table, day)
        return self.codebooks[key]

    def provider(self, ods: str) -> tuple[Provider, Ids]:
        if ods not in self.providers:
            seed = self.options.seed
            self.providers[ods] = (
                draw_provider(random.Random(f"{seed}:provider:{ods}"), ods),
                Ids(),
            )
        return self.providers[ods]

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

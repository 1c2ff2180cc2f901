"""A provider's MHSDS spells, made to agree with the activity it submitted (issue 16, the spells feed).

The activity cross-check (warehouse/views/35_activity_crosscheck.sql) counts, per provider-month,
admissions by admission date, live discharges and deaths (method 4) by discharge date, and
occupied bed days as midnights in the month. Those totals are drawn already, for the activity
files; here the spells are made to give them back. First the fixed spells are placed, each as its
record says (the spell of every reported death, the receiving spell of a transfer, the spell of a
planted missed death); then generated spells fill each month to exactly its counts: admissions on
days of the month, discharges taken from the pool of open spells (the longest open first half the
time, else at random). How many spells are open is then fixed by the counts alone, so the bed days
are met by when in the month people come and go: the days are drawn at random and then shifted,
all in proportion, until the month's midnights are the activity's (exactly, unless the month
leaves no room). The pool starts at the size that best centres the run's occupancy on the bed
days, because admissions less discharges wander from month to month as they were drawn.

Dates are whole days since 1970-01-01 in numpy arrays, so ten years of 33 providers (about a
million spells) take seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Days = npt.NDArray[np.int64]

OPEN = np.int64(2**40)
"""The discharge day of a spell still open at the end of the run."""

_EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


@dataclass(frozen=True)
class MonthTotals:
    """A provider-month's activity, summed over its strata, as the cross-check reads it."""

    start: dt.date
    days: int
    admissions: int
    discharges_live: int
    deaths_in_spell: int
    occupied_bed_days: int


@dataclass(frozen=True)
class FixedSpell:
    """A spell as a death record (or a planted missed death) says it was."""

    spell_id: str
    nhs_number: str
    admission: dt.date
    discharge: dt.date | None
    method: str | None
    destination: str | None
    ward: str
    decision_to_admit: dt.date | None = None


@dataclass
class Generated:
    """A provider's generated spells: admission and discharge days (``OPEN`` if never
    discharged), whether the discharge was a death, and the months the counts could not meet."""

    admission: Days
    discharge: Days
    died: npt.NDArray[np.bool_]
    unmatched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Need:
    """What the generated spells must add to one month."""

    start: int
    days: int
    admissions: int
    discharges_live: int
    deaths: int
    nights: int

    @property
    def net(self) -> int:
        return self.admissions - self.discharges_live - self.deaths


def generate_spells(
    months: list[MonthTotals],
    fixed: list[FixedSpell],
    mean_stay: float,
    rng: np.random.Generator,
) -> Generated:
    """The generated spells that, with the fixed ones, give each month its activity's totals."""
    fixed_admission = np.array([day_number(s.admission) for s in fixed], dtype=np.int64)
    fixed_discharge = np.array(
        [OPEN if s.discharge is None else day_number(s.discharge) for s in fixed], dtype=np.int64
    )
    fixed_died = np.array([s.method == "4" for s in fixed], dtype=np.bool_)
    unmatched: list[str] = []
    needs: list[_Need] = []
    for m in months:
        start = day_number(m.start)
        end = start + m.days
        admitted = int(((fixed_admission >= start) & (fixed_admission < end)).sum())
        ended = (fixed_discharge >= start) & (fixed_discharge < end)
        wanted = (
            m.admissions - admitted,
            m.discharges_live - int((ended & ~fixed_died).sum()),
            m.deaths_in_spell - int((ended & fixed_died).sum()),
        )
        if min(wanted) < 0:
            unmatched.append(m.start.strftime("%Y-%m"))
        nights = int(_nights(fixed_admission, fixed_discharge, start, end).sum())
        a, lv, d = (max(0, w) for w in wanted)
        needs.append(_Need(start, m.days, a, lv, d, m.occupied_bed_days - nights))
    # Spells open at the start of each month, before the first: admissions less discharges so far.
    walk = [0, *np.cumsum([n.net for n in needs[:-1]]).tolist()]
    centre = [n.nights / n.days - w - n.net / 2 for n, w in zip(needs, walk, strict=True)]
    floor = max(max(-n.net - w, -w) for n, w in zip(needs, walk, strict=True))
    initial = max(0, round(float(np.median(centre))), floor)

    capacity = initial + sum(n.admissions for n in needs)
    admission = np.zeros(capacity, dtype=np.int64)
    discharge = np.full(capacity, OPEN, dtype=np.int64)
    died = np.zeros(capacity, dtype=np.bool_)
    # Spells open when the run starts were admitted days to months before it.
    before = np.floor(rng.exponential(mean_stay, initial)).astype(np.int64)
    admission[:initial] = needs[0].start - 1 - before
    pool = np.arange(initial, dtype=np.int64)
    made = initial
    for n in needs:
        leaving, deaths = n.discharges_live + n.deaths, n.deaths
        same_month = max(0, leaving - len(pool))
        if same_month > n.admissions:
            unmatched.append(dt.date.fromordinal(_EPOCH.toordinal() + n.start).strftime("%Y-%m"))
            same_month = n.admissions
            leaving = len(pool) + n.admissions
            deaths = min(deaths, leaving)
        came = rng.integers(0, n.days, n.admissions)
        went = rng.integers(0, n.days, leaving)
        came, went = _meet_nights(came, went, n.nights - len(pool) * n.days, n.days, rng)
        new = np.arange(made, made + n.admissions, dtype=np.int64)
        admission[new] = n.start + came
        made += n.admissions
        from_pool = leaving - same_month
        oldest_first = int(rng.binomial(from_pool, 0.5)) if from_pool else 0
        by_age = pool[np.argsort(admission[pool], kind="stable")]
        picked = rng.choice(by_age[oldest_first:], from_pool - oldest_first, replace=False)
        out = np.concatenate([by_age[:oldest_first], picked]).astype(np.int64)
        went = np.sort(went)
        order = np.argsort(came, kind="stable")[:same_month]
        short = new[order]
        # Admitted and discharged in the month: the earliest admissions, the latest days out.
        discharge[short] = n.start + np.maximum(went[from_pool:], came[order])
        discharge[out] = n.start + rng.permutation(went[:from_pool])
        died[np.concatenate([out, short])[:deaths]] = True
        kept = np.setdiff1d(pool, out, assume_unique=True)
        pool = np.concatenate([kept, np.setdiff1d(new, short, assume_unique=True)])
    return Generated(admission[:made], discharge[:made], died[:made], unmatched)


def _nights(admission: Days, discharge: Days, start: int, end: int) -> Days:
    """Midnights in [start, end) of each spell, as the cross-check counts them."""
    nights: Days = np.maximum(0, np.minimum(discharge, end) - np.maximum(admission, start))
    return nights


def _meet_nights(
    came: Days, went: Days, wanted: int, days: int, rng: np.random.Generator
) -> tuple[Days, Days]:
    """Shift admission and discharge days within the month so that the new admissions give
    ``sum(days - came)`` and the discharges take away ``sum(days - went)``, netting ``wanted``
    midnights: every day moves in proportion to its room, then single days settle the rest."""
    have = int((days - came).sum() - (days - went).sum())
    need = wanted - have
    if need == 0:
        return came, went
    more = need > 0
    # More midnights: admissions earlier, discharges later; fewer: the other way.
    room = np.concatenate([came if more else days - 1 - came, days - 1 - went if more else went])
    total = int(room.sum())
    need = abs(need)
    if need >= total:
        shift = room
    else:
        shift = np.floor(room * (need / total)).astype(np.int64)
        rest = need - int(shift.sum())
        spare = np.flatnonzero(room - shift > 0)
        shift[rng.choice(spare, rest, replace=False)] += 1
    sign = -1 if more else 1
    return came + sign * shift[: len(came)], went - sign * shift[len(came) :]

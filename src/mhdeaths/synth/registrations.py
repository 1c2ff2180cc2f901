"""Death registrations for the national feed: who died, when it was registered, of what.

Four kinds of registration go into the feed, all in the columns of the registrations feed spec:
every death a provider reported (its NHS number and date of death, the registered cause, age and
sex from the record); every death a provider left out (planted, synth/feeds.py); a death 4 to 12
months after discharge for some people discharged alive (outside the reporting window, so the
load counts and discards them); and the background, the deaths of people never in mental health
care, in national orders of magnitude, which are most of the feed and all discarded at load.

The background is made a calendar year at a time, as numpy arrays, one polars frame per year, so
memory does not grow with the years. The tables below are national shares (ONS deaths registered
in England and Wales, order of magnitude): about 85% of deaths are at 65 or over, cancers and
circulatory disease are about half, suicide about 1%. Natural deaths are registered within days
(within 5 days by law: 1 + Gamma(2, 1.5) days); deaths referred to a coroner (external causes,
ICD-10 V01-Y98) wait for the inquest: 30 + Gamma(2, 65) days, a third more than six months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from mhdeaths.synth.numbers import Numbers
from mhdeaths.synth.spells import Days, day_number

# Underlying causes by group (fixed-width ICD-10 codes, as ONS gives them).
CAUSES: dict[str, tuple[str, ...]] = {
    "neoplasm": ("C349", "C189", "C509", "C61X", "C259", "C809", "C159", "C679"),
    "circulatory": ("I219", "I251", "I64X", "I500", "I48X", "I679", "I110"),
    "respiratory": ("J449", "J189", "J841", "J690"),
    "dementia": ("F03X", "G309", "F019"),
    "other_natural": ("E119", "K703", "N189", "G20X", "K566", "R54X", "A419", "G122"),
    "accident": ("W19X", "W108", "V892", "W80X", "X420", "X440", "X450"),
    "suicide": ("X700", "X800", "X649", "X780", "X810", "X840", "X680"),
    "undetermined": ("Y149", "Y179", "Y120", "Y109", "Y319"),
    "homicide": ("X999", "Y099"),
}
_GROUPS = tuple(CAUSES)
#: The background: every death registered in England and Wales, by group.
_BACKGROUND_CAUSES = (0.25, 0.24, 0.12, 0.11, 0.23, 0.039, 0.0095, 0.0025, 0.0005)
#: People discharged from a mental health ward who die months later: more unnatural deaths.
_AFTER_CARE_CAUSES = (0.12, 0.14, 0.08, 0.06, 0.2, 0.14, 0.18, 0.06, 0.02)
#: Ages at death of the background: (lowest, highest, share).
_BACKGROUND_AGES = ((0, 17, 0.007), (18, 44, 0.028), (45, 64, 0.115), (65, 74, 0.15),
                    (75, 84, 0.27), (85, 104, 0.43))  # fmt: skip
_AFTER_CARE_AGES = ((18, 34, 0.2), (35, 54, 0.35), (55, 74, 0.3), (75, 95, 0.15))
#: Where people die (the feed's place of death list): hospital, home, care home, hospice, other.
_PLACES = (("03", 0.44), ("05", 0.28), ("06", 0.21), ("07", 0.05), ("98", 0.02))
#: Local authority districts of residence (GSS code prefix, highest number, share).
_AREAS = (("E06", 66, 0.25), ("E07", 246, 0.35), ("E08", 37, 0.2), ("E09", 33, 0.14),
          ("W06", 24, 0.06))  # fmt: skip
#: ICD-10 chapters of external causes: a death the coroner holds an inquest into.
CORONER_CHAPTERS = ("V", "W", "X", "Y")


_ALL_CAUSES = [code for name in _GROUPS for code in CAUSES[name]]
_FIRST_OF_GROUP = np.cumsum([0, *(len(CAUSES[name]) for name in _GROUPS)])
_AREA_CODES = [f"{prefix}{k:06d}" for prefix, highest, _ in _AREAS for k in range(1, highest + 1)]
_AREA_WEIGHTS = np.concatenate([np.full(highest, share / highest) for _, highest, share in _AREAS])


def registration_lags(rng: np.random.Generator, causes: pl.Series) -> Days:
    """Days from death to registration: days for a natural death, months after an inquest."""
    coroner = causes.str.slice(0, 1).is_in(CORONER_CHAPTERS).to_numpy()
    natural = 1 + rng.gamma(2.0, 1.5, len(causes))
    inquest = 30 + rng.gamma(2.0, 65.0, len(causes))
    lags: Days = np.floor(np.where(coroner, inquest, natural)).astype(np.int64)
    return lags


def draw_causes(rng: np.random.Generator, n: int, after_care: bool = False) -> pl.Series:
    """n underlying causes, by the national shares of the groups (or of people after care)."""
    shares = np.array(_AFTER_CARE_CAUSES if after_care else _BACKGROUND_CAUSES)
    groups = rng.choice(len(_GROUPS), n, p=shares / shares.sum())
    sizes = np.diff(_FIRST_OF_GROUP)
    # Drawn as positions in one list of codes: a gather, not n strings made one by one.
    which = _FIRST_OF_GROUP[groups] + np.floor(rng.random(n) * sizes[groups]).astype(np.int64)
    return pl.Series(_ALL_CAUSES, dtype=pl.String).gather(which)


def draw_ages(rng: np.random.Generator, n: int, after_care: bool = False) -> npt.NDArray[np.int64]:
    bands = _AFTER_CARE_AGES if after_care else _BACKGROUND_AGES
    shares = np.array([s for *_, s in bands])
    band = rng.choice(len(bands), n, p=shares / shares.sum())
    low = np.array([b[0] for b in bands])[band]
    high = np.array([b[1] for b in bands])[band]
    return rng.integers(low, high + 1)


def draw_codes(
    rng: np.random.Generator, codes: list[str], shares: npt.ArrayLike, n: int
) -> pl.Series:
    """n codes drawn with the shares given."""
    weights = np.asarray(shares, dtype=float)
    return pl.Series(codes, dtype=pl.String).gather(
        rng.choice(len(codes), n, p=weights / weights.sum())
    )


def draw_places(rng: np.random.Generator, n: int) -> pl.Series:
    return draw_codes(rng, [c for c, _ in _PLACES], [s for _, s in _PLACES], n)


def draw_areas(rng: np.random.Generator, n: int) -> pl.Series:
    return draw_codes(rng, _AREA_CODES, _AREA_WEIGHTS, n)


def frame(
    numbers: pl.Series,
    death: Days,
    lag: Days,
    causes: pl.Series,
    places: pl.Series,
    sexes: pl.Series,
    ages: npt.NDArray[np.int64],
    areas: pl.Series,
) -> pl.DataFrame:
    """Registrations in the feed's columns but the contributing causes, which ``in_feed_columns``
    adds as the files are written (a column of empty text costs 16 bytes a row in every copy)."""
    columns = {
        "nhs_number": numbers.cast(pl.String),
        "death_date": pl.Series(death, dtype=pl.Int32).cast(pl.Date),
        "registration_date": pl.Series(death + lag, dtype=pl.Int32).cast(pl.Date),
        "underlying_cause_icd10": causes,
        "place_of_death_type": places,
        "registered_sex": sexes,
        "age_at_death": pl.Series(ages, dtype=pl.Int16),
        "residence_area": areas,
    }
    return pl.DataFrame([column.alias(name) for name, column in columns.items()])


def in_feed_columns(registrations: pl.DataFrame, fields: Sequence[str]) -> pl.DataFrame:
    """The feed's columns in its order: the contributing causes hold only the underlying one (the
    generator knows no other), the rest are left empty."""
    causes = {
        "cause_icd10_01": pl.col("underlying_cause_icd10"),
        **{f"cause_icd10_{k:02d}": pl.lit(None, dtype=pl.String) for k in range(2, 16)},
    }
    return registrations.select(causes.get(name, pl.col(name)).alias(name) for name in fields)


def background(
    rng: np.random.Generator, numbers: Numbers, first: dt.date, last: dt.date
) -> pl.DataFrame:
    """Deaths of people never in mental health care, one for each number, dated evenly in
    [first, last]."""
    n = len(numbers)
    death = rng.integers(day_number(first), day_number(last) + 1, n)
    causes = draw_causes(rng, n)
    return frame(
        pl.Series(numbers),
        death,
        registration_lags(rng, causes),
        causes,
        draw_places(rng, n),
        draw_codes(rng, ["1", "2"], [1, 1], n),
        draw_ages(rng, n),
        draw_areas(rng, n),
    )


def after_care(rng: np.random.Generator, numbers: pl.Series, death: Days) -> pl.DataFrame:
    """Deaths of people once discharged from a mental health ward, on the days given."""
    n = len(numbers)
    causes = draw_causes(rng, n, after_care=True)
    return frame(
        numbers,
        death,
        registration_lags(rng, causes),
        causes,
        draw_places(rng, n),
        draw_codes(rng, ["1", "2"], [0.58, 0.42], n),
        draw_ages(rng, n, after_care=True),
        draw_areas(rng, n),
    )

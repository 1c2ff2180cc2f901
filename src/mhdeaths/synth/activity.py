"""The activity table of a provider-month: occupied bed days, admissions and discharges by stratum.

Its strata (age band by stated gender, and from spec 2.0.0 by ward type group and broad ethnic
group too) come from the spec's code lists for the period, and every inpatient death in the death
file is counted in its stratum, so the two files of a month agree.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter

from mhdeaths.synth.draws import fill_unknown, split
from mhdeaths.synth.options import Row, Weights
from mhdeaths.synth.oversight import BED_DAY_ETHNIC_SHARE
from mhdeaths.synth.population import BAND_AGES, BED_DAY_AGE_SHARE, Provider
from mhdeaths.synth.run import Run


def activity_rows(
    run: Run,
    rng: random.Random,
    p: Provider,
    month: dt.date,
    days: int,
    totals: tuple[int, int, int],
    in_spell: Counter[tuple[str, ...]],
) -> list[Row]:
    """The month's activity rows, one per stratum, counting every inpatient death in its own."""
    codes = run.codebook(run.activity, month)
    bands = sorted(codes.valid.get("age_band", frozenset(BAND_AGES)), key=_band_order)
    age_share = {"00-17": p.cyp_share, **BED_DAY_AGE_SHARE}
    strata = [(band, gender) for band in bands for gender in ("1", "2")]
    weights = [
        age_share.get(band, 0.02)
        * (p.male_share if gender == "1" else 1 - p.male_share)
        * rng.uniform(0.85, 1.15)
        for band, gender in strata
    ]
    bed_days, admissions, discharges = totals
    split_bed_days = split(bed_days, weights)
    split_admissions = split(admissions, [w * rng.uniform(0.8, 1.2) for w in weights])
    split_discharges = split(discharges, [w * rng.uniform(0.8, 1.2) for w in weights])
    counts: list[tuple[tuple[str, ...], int, int, int]] = list(
        zip(strata, split_bed_days, split_admissions, split_discharges, strict=True)
    )
    if (
        p.x_gender
        and "X" in codes.valid.get("stated_gender", frozenset("X"))
        and rng.random() < 0.5
    ):
        # A few people whose stated gender is not recorded, in one or two adult bands.
        adult_bands = bands[1:7] or bands
        for band in sorted(rng.sample(adult_bands, k=min(2, len(adult_bands)))):
            counts.append(((band, "X"), rng.randint(5, 60), rng.randint(0, 2), rng.randint(0, 2)))
    if "ethnic_group" in codes.valid:
        # 2.0.0 strata draw from a stream of their own: the other draws stay as they were.
        rng = random.Random(f"{run.options.seed}:strata:{p.ods}:{month}")
        counts = _by_ward_and_ethnic_group(rng, counts, _provider_wards(p))
    # Every inpatient death needs its stratum, even one a later spec's code lists left out,
    # or deaths in spell would not match the death file.
    present = {stratum for stratum, *_ in counts}
    for stratum in sorted(set(in_spell) - present):
        counts.append((stratum, rng.randint(20, 200), rng.randint(0, 3), rng.randint(0, 3)))
    rows: list[Row] = []
    period = month.strftime("%Y-%m")
    for stratum, occupied, admitted, discharged in counts:
        band, gender = stratum[:2]
        died = in_spell.get(stratum, 0)
        if died and not occupied:
            # Whoever died in a stratum spent nights in a bed in it.
            occupied = rng.randint(5, 40) * died
        leave = min(occupied, int(occupied * p.leave_share * rng.uniform(0.7, 1.3)))
        awol = min(occupied - leave, int(occupied * p.awol_share * rng.uniform(0.0, 2.0)))
        detained = int(occupied * min(0.95, p.detained_share * rng.uniform(0.85, 1.15)))
        # Spells open at month end hold about one bed each; at least occupied/31 of them keep
        # the occupied bed days within what the month's spells could hold.
        open_end = max(round(occupied / days * rng.uniform(0.96, 1.04)), math.ceil(occupied / 31))
        readmitted = int(discharged * rng.uniform(0.0, 0.05))
        patients = max(open_end, open_end + discharged + died - readmitted)
        row: Row = {
            "spec_version": run.version,
            "org_id_provider": p.ods,
            "reporting_period": period,
            "age_band": band,
            "stated_gender": gender,
            **(
                {"ward_type_group": stratum[2], "ethnic_group": stratum[3]}
                if len(stratum) == 4
                else {}
            ),
            "admissions": str(admitted),
            "discharges_live": str(discharged),
            # Added in 2.0.0: about one live discharge in 25 is a transfer to another provider's
            # mental health bed. Not drawn at random, so earlier versions' files stay as they were.
            "discharges_transfer": str(discharged // 25),
            "deaths_in_spell": str(died),
            "occupied_bed_days": str(occupied),
            "leave_days": str(leave),
            "awol_days": str(awol),
            "detained_bed_days": str(detained),
            "open_spells_end": str(open_end),
            "distinct_patients": str(patients),
        }
        fill_unknown(rng, run.activity, row, month, codes)
        rows.append(row)
    return rows


def _wards(band: str) -> Weights:
    """Which wards the bed days of an age band are spent on (as the death records' wards)."""
    if band == "00-17":
        return {"04": 1}
    if BAND_AGES.get(band, (0, 0))[0] >= 65:
        return {"02": 70, "01": 20, "06": 5, "05": 3, "03": 2}
    return {"01": 60, "03": 10, "05": 9, "06": 10, "07": 3, "08": 2, "09": 1, "98": 2}


def _provider_wards(p: Provider) -> frozenset[str]:
    """The ward type groups a provider runs: adult and older adult acute wards everywhere, and
    two or three of the specialist ones (no trust runs them all), fixed per provider."""
    specialist = ["03", "05", "06", "07", "08", "09", "98"]
    rng = random.Random(f"wards:{p.ods}")
    return frozenset({"01", "02", "04", *rng.sample(specialist, k=rng.choice((2, 3)))})


def _by_ward_and_ethnic_group(
    rng: random.Random,
    counts: list[tuple[tuple[str, ...], int, int, int]],
    wards: frozenset[str],
) -> list[tuple[tuple[str, ...], int, int, int]]:
    """Split each (age band, gender) stratum's counts across the provider's ward type groups and
    the broad ethnic groups (spec 2.0.0), leaving out the strata with nothing to count. A death
    on a ward the provider's split leaves out still gets its stratum (see activity_rows)."""
    finer: list[tuple[tuple[str, ...], int, int, int]] = []
    for stratum, occupied, admitted, discharged in counts:
        run = {w: v for w, v in _wards(stratum[0]).items() if w in wards} or _wards(stratum[0])
        cells = [
            (ward, group, w * share * rng.uniform(0.8, 1.2))
            for ward, w in run.items()
            for group, share in BED_DAY_ETHNIC_SHARE.items()
        ]
        weights = [w for *_, w in cells]
        parts = zip(
            cells,
            split(occupied, weights),
            split(admitted, weights),
            split(discharged, weights),
            strict=True,
        )
        for (ward, group, _), o, a, d in parts:
            if o or a or d:
                finer.append(((*stratum, ward, group), o, a, d))
    return finer


def _band_order(band: str) -> tuple[int, str]:
    return (BAND_AGES.get(band, (200, 0))[0], band)

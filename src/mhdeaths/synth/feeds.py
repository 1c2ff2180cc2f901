"""The national feeds of a synthetic run (``--feeds``): MHSDS spells and death registrations.

Issue 16 reconciles what providers reported with two national extracts, so the demo, the tests
and the benchmark need those extracts for the same synthetic people. They are made once every
provider-month is settled, from what the death and activity files hold as they finally stand
(after resubmissions), and from random streams of their own (``<seed>:feeds:...``): nothing here
changes a death or activity file.

- ``feeds/spells_<CCYY-MM>``: each month, every spell open at any time in it, as it stood that
  month (a later discharge not yet known), in the spells feed's columns; per provider-month the
  spells give back the activity's admissions, live discharges and deaths exactly and its bed days
  to within the cross-check's tolerance (synth/spells.py).
- ``feeds/registrations_<CCYY>``: by calendar year of registration up to the extract's end, every
  reported death, the deaths a provider left out (``under_report``), later deaths of some people
  discharged alive, and the background (synth/registrations.py).

Planted under-reporting adds and never removes: for a provider that leaves out a share s of its
deaths after discharge, round(s / (1 - s) * n) more such deaths are made (n: the deaths after
discharge it reported), each with a person, spell and registration of its own and no record, so
the provider reported 1 - s of them by construction.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mhdeaths.errors import UserError
from mhdeaths.periods import add_months, period_start
from mhdeaths.spec import Spec, load_feed_spec
from mhdeaths.synth.draws import n_days, numpy_stream, weighted, years_between
from mhdeaths.synth.numbers import NumberSource
from mhdeaths.synth.options import FeedsWritten, PlantedMissed, Row, Weights
from mhdeaths.synth.registrations import (
    CAUSES,
    after_care,
    background,
    draw_areas,
    frame,
    in_feed_columns,
    registration_lags,
)
from mhdeaths.synth.run import Month, Run, text_of
from mhdeaths.synth.spells import (
    OPEN,
    FixedSpell,
    Generated,
    MonthTotals,
    day_number,
    generate_spells,
)

# Generated live discharges: the death files' methods, and where people go (never a transfer to
# another mental health ward, which would need the receiving provider's spell).
_LIVE_METHOD = {"1": 85, "2": 6, "3": 4, "6": 3, "7": 2}
_LIVE_DESTINATION = {"19": 82, "29": 5, "55": 4, "56": 4, "51": 2, "87": 1, "40": 1, "37": 1}
_WARDS = {"01": 58, "02": 22, "03": 6, "05": 5, "06": 5, "07": 2, "08": 1, "98": 1}
_LATER_DEATHS = 0.02
"""The share of people discharged alive whose death, 4 to 12 months later, is in the feed."""
# What a reported death's manner (1.x: provisional type) says of its registered cause.
_GROUP_OF_MANNER = {
    "01": ("other_natural", "neoplasm", "dementia"),
    "02": ("circulatory", "respiratory", "other_natural"),
    "03": ("suicide",),
    "04": ("homicide",),
    "05": ("accident",),
    "06": ("accident",),
    "07": ("accident",),
    "08": ("undetermined",),
}
_AWAITING = ("circulatory", "other_natural", "suicide", "suicide", "accident", "undetermined")


@dataclass(frozen=True)
class _Missed:
    provider: str
    spell: FixedSpell
    death: dt.date
    category: str
    age: int
    sex: str
    cause: str


def check_feed_options(run: Run, codes: list[str]) -> None:
    """Refuse feed options that name a provider not generated or a share outside [0, 1)."""
    options = run.options
    if options.feed_format not in ("parquet", "csv"):
        raise UserError(f"The feed format is parquet or csv, not {options.feed_format}.")
    if options.background_deaths < 0:
        raise UserError("The background deaths a year cannot be negative.")
    for name, pairs in (("--under-report", options.under_report),
                        ("--spells-missing", options.spells_missing)):  # fmt: skip
        for ods, share in pairs:
            if ods not in codes:
                raise UserError(f"{name} names {ods}, which is not one of the generated providers.")
            if not 0.0 <= share < 1.0:
                raise UserError(f"{name} {ods}: the share must be at least 0 and below 1.")
    if options.registrations_to is not None:
        period_start(options.registrations_to)


def write_feeds(
    run: Run, months: list[Month], codes: list[str]
) -> tuple[FeedsWritten, list[PlantedMissed]]:
    """Write the spells and registrations of the run under ``out/feeds/``."""
    options = run.options
    key = f"{options.seed}:feeds"
    folder = run.out / "feeds"
    folder.mkdir(parents=True, exist_ok=True)
    periods = sorted({m.period for m in months})
    first = period_start(periods[0])
    end = add_months(period_start(periods[-1]), 1)
    extract_to = period_start(options.registrations_to) if options.registrations_to else end
    extract_end = add_months(extract_to, 1) - n_days(1)
    spells_spec = load_feed_spec("spells")
    registrations_spec = load_feed_spec("registrations")
    known = {
        name: frozenset(spells_spec.code_list(name).valid_codes())
        for name in ("discharge_method", "discharge_destination", "ward_type_group")
    }
    records = {
        ods: [r for m in months if m.p.ods == ods for r in final_records(m)] for ods in codes
    }
    source = NumberSource(f"{key}:numbers", run.nhs_numbers)

    missed: list[_Missed] = []
    for ods, share in options.under_report:
        missed += _plant_missed(run, ods, share, records, first, end, source)

    generated: dict[str, tuple[list[FixedSpell], Generated]] = {}
    unmatched: list[str] = []
    for ods in codes:
        p, _ = run.provider(ods)
        provider_months = [m for m in months if m.p.ods == ods]
        fixed = _fixed_spells(records[ods], known) + [x.spell for x in missed if x.provider == ods]
        totals = [_totals(m) for m in provider_months]
        made = generate_spells(totals, fixed, p.mean_stay, numpy_stream(f"{key}:spells:{ods}"))
        generated[ods] = (fixed, made)
        unmatched += [f"{ods} {period}" for period in made.unmatched]

    frames: list[pl.DataFrame] = []
    later: list[pl.DataFrame] = []
    dropped: dict[str, int] = {}
    leave_out = dict(options.spells_missing)
    for ods in codes:
        fixed, made = generated[ods]
        rng = numpy_stream(f"{key}:spell-details:{ods}")
        numbers = pl.Series(source.take(len(made.admission))).cast(pl.String)
        own = _generated_frame(ods, made, numbers, rng, first)
        live = (made.discharge != OPEN) & ~made.died & (made.discharge < day_number(end))
        dies = live & (rng.random(len(live)) < _LATER_DEATHS)
        death = made.discharge[dies] + rng.integers(122, 366, int(dies.sum()))
        later.append(after_care(rng, numbers.filter(pl.Series(dies)), death))
        if ods in leave_out:
            n = round(leave_out[ods] * own.height)
            gone = np.zeros(own.height, dtype=np.bool_)
            gone[rng.choice(own.height, n, replace=False)] = True
            own = own.filter(~pl.Series(gone))
            dropped[ods] = n
        frames += [_fixed_frame(ods, fixed), own]
    spells = pl.concat(frames)
    # The files hold the feed specs' fields, in their order: the specs say what a feed is.
    spell_fields = spells_spec.table("spell").field_names
    spell_files = _write_spells(spells, periods, folder, options.feed_format, spell_fields)

    reported = _reported(records, registrations_spec, key)
    planted = _missed_frame(missed, key)
    linked = pl.concat([reported, planted, *later])
    registration_files, count, background_count = _write_registrations(
        linked,
        run,
        source,
        first,
        extract_end,
        folder,
        key,
        registrations_spec.table("registration").field_names,
    )
    planted_missed = sorted(
        (
            PlantedMissed(
                provider=x.provider,
                death_date=x.death.isoformat(),
                registration_date=str(row),
                category=x.category,
            )
            for x, row in zip(missed, planted["registration_date"], strict=True)
        ),
        key=lambda p: (p.provider, p.death_date, p.registration_date),
    )
    written = FeedsWritten(
        spell_files=spell_files,
        registration_files=registration_files,
        spells=spells.height,
        registrations=count,
        background=background_count,
        spells_missing=dropped,
        unmatched_months=unmatched,
    )
    return written, planted_missed


def final_records(m: Month) -> list[Row]:
    """The month's death records as they finally stand: its resubmission's updates and late
    deaths in, its withdrawals out."""
    rows = {text_of(d.row, "death_record_id"): d.row for d in m.deaths}
    if m.resubmission is not None:
        for row in m.resubmission[0]:
            record = text_of(row, "death_record_id")
            if row.get("record_action") == "D":
                rows.pop(record, None)
            else:
                rows[record] = row
    return list(rows.values())


def _totals(m: Month) -> MonthTotals:
    """The month's activity as it finally stands (its resubmission's, if any), summed."""
    rows = m.resubmission[1] if m.resubmission is not None else m.activity

    def total(name: str) -> int:
        return sum(int(v) for r in rows if (v := r.get(name)) is not None and v.isdigit())

    return MonthTotals(
        start=m.month,
        days=m.days,
        admissions=total("admissions"),
        discharges_live=total("discharges_live"),
        deaths_in_spell=total("deaths_in_spell"),
        occupied_bed_days=total("occupied_bed_days"),
    )


def _date(row: Row, name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text_of(row, name))
    except ValueError:
        return None


def _fixed_spells(rows: list[Row], known: dict[str, frozenset[str]]) -> list[FixedSpell]:
    """The spell of each death record that has one, as the record gives it."""
    spells: dict[str, FixedSpell] = {}
    for row in rows:
        spell_id, admission = text_of(row, "hosp_prov_spell_id"), _date(row, "admission_date")
        if not spell_id or admission is None or spell_id in spells:
            continue
        discharge = _date(row, "discharge_date")
        if discharge is not None and discharge < admission:
            continue
        method = row.get("discharge_method") if discharge is not None else None
        destination = row.get("discharge_destination") if discharge is not None else None
        ward = text_of(row, "ward_type_group")
        # A death awaiting admission dates the decision to admit to a spell never started; the
        # record's spell is an earlier one.
        decided = _date(row, "decision_to_admit_date")
        spells[spell_id] = FixedSpell(
            spell_id=spell_id,
            nhs_number=text_of(row, "nhs_number"),
            admission=admission,
            discharge=discharge,
            method=method if method in known["discharge_method"] else "9" if discharge else None,
            destination=destination
            if destination in known["discharge_destination"]
            else "99"
            if discharge
            else None,
            ward=ward if ward in known["ward_type_group"] else "99",
            decision_to_admit=decided if decided is not None and decided <= admission else None,
        )
    return list(spells.values())


def _after_discharge(rows: list[Row], elsewhere: set[str]) -> int:
    """The provider's reported deaths after a live discharge within 3 calendar months, leaving
    out those that followed a transfer to another generated provider's ward (the receiver holds
    the index spell)."""
    n = 0
    for row in rows:
        discharge, death = _date(row, "discharge_date"), _date(row, "death_date")
        if discharge is None or death is None or row.get("discharge_method") == "4":
            continue
        if text_of(row, "patient_status_at_death") != "07" or death < discharge:
            continue
        if death <= add_months(discharge, 3) and text_of(row, "nhs_number") not in elsewhere:
            n += 1
    return n


def _plant_missed(
    run: Run,
    ods: str,
    share: float,
    records: dict[str, list[Row]],
    first: dt.date,
    end: dt.date,
    source: NumberSource,
) -> list[_Missed]:
    """The deaths after discharge the provider left out: a person, spell and death each."""
    elsewhere = {
        text_of(r, "nhs_number")
        for other, rows in records.items()
        if other != ods
        for r in rows
        if r.get("discharge_method") == "4"
    }
    n = _after_discharge(records[ods], elsewhere)
    count = round(share / (1 - share) * n)
    numbers = source.take(count)
    rng = random.Random(f"{run.options.seed}:feeds:missed:{ods}")
    span = (end - first).days
    missed = []
    for k in range(count):
        while True:
            death = first + n_days(rng.randrange(span))
            if rng.random() < 0.75:
                category = "D30"
                gap = int(weighted(rng, {str(d): 1 / (d + 3) for d in range(31)}))
            else:
                category = "OOS"
                gap = rng.randint(31, 89)
            discharge = death - n_days(gap)
            if discharge >= first and death <= add_months(discharge, 3):
                break
        stay = min(3650, int(rng.lognormvariate(np.log(35), 0.9)))
        spell = FixedSpell(
            # Named by the run's first month as well: runs that follow one another (the examples)
            # must not reuse a spell's identity, or the later run's spell would supersede it.
            spell_id=f"M{first:%Y%m}{k + 1:07d}",
            nhs_number=str(numbers[k]),
            admission=discharge - n_days(stay),
            discharge=discharge,
            method=weighted(rng, _LIVE_METHOD),
            destination=weighted(rng, _LIVE_DESTINATION),
            ward=weighted(rng, _WARDS),
        )
        group = weighted(rng, {"suicide": 4, "accident": 3, "undetermined": 1, "circulatory": 2})
        missed.append(
            _Missed(
                provider=ods,
                spell=spell,
                death=death,
                category=category,
                age=rng.randint(18, 85),
                sex="1" if rng.random() < 0.58 else "2",
                cause=rng.choice(CAUSES[group]),
            )
        )
    return missed


def _fixed_frame(ods: str, fixed: list[FixedSpell]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "org_id_provider": [ods] * len(fixed),
            "hosp_prov_spell_id": [s.spell_id for s in fixed],
            "nhs_number": [s.nhs_number or None for s in fixed],
            "decision_to_admit_date": [s.decision_to_admit for s in fixed],
            "admission_date": [s.admission for s in fixed],
            "discharge_date": [s.discharge for s in fixed],
            "discharge_method": [s.method for s in fixed],
            "discharge_destination": [s.destination for s in fixed],
            "ward_type_group": [s.ward for s in fixed],
        },
        schema={
            "org_id_provider": pl.String,
            "hosp_prov_spell_id": pl.String,
            "nhs_number": pl.String,
            "decision_to_admit_date": pl.Date,
            "admission_date": pl.Date,
            "discharge_date": pl.Date,
            "discharge_method": pl.String,
            "discharge_destination": pl.String,
            "ward_type_group": pl.String,
        },
    )


def _choices(rng: np.random.Generator, weights: Weights, n: int) -> pl.Series:
    codes = np.array(list(weights))
    shares = np.array(list(weights.values()), dtype=float)
    return pl.Series(rng.choice(codes, n, p=shares / shares.sum()), dtype=pl.String)


def _generated_frame(
    ods: str, made: Generated, numbers: pl.Series, rng: np.random.Generator, first: dt.date
) -> pl.DataFrame:
    n = len(made.admission)
    ended = made.discharge != OPEN
    died = pl.Series(made.died)
    open_ = pl.Series(~ended)
    method = _choices(rng, _LIVE_METHOD, n)
    destination = _choices(rng, _LIVE_DESTINATION, n)
    discharge = pl.Series(np.where(ended, made.discharge, 0), dtype=pl.Int32).cast(pl.Date)
    return pl.DataFrame(
        {
            "org_id_provider": pl.Series([ods] * n, dtype=pl.String),
            # With the run's first month, as the planted missed deaths' spells are named.
            "hosp_prov_spell_id": f"H{first:%Y%m}"
            + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(7),
            "nhs_number": numbers,
            "decision_to_admit_date": pl.Series([None] * n, dtype=pl.Date),
            "admission_date": pl.Series(made.admission, dtype=pl.Int32).cast(pl.Date),
            "discharge_date": pl.select(pl.when(open_).then(None).otherwise(discharge)).to_series(),
            "discharge_method": pl.select(
                pl.when(open_).then(None).when(died).then(pl.lit("4")).otherwise(method)
            ).to_series(),
            "discharge_destination": pl.select(
                pl.when(open_).then(None).when(died).then(pl.lit("79")).otherwise(destination)
            ).to_series(),
            "ward_type_group": _choices(rng, _WARDS, n),
        }
    )


def _write_spells(
    spells: pl.DataFrame, periods: list[str], folder: Path, fmt: str, fields: Sequence[str]
) -> list[Path]:
    """One file a month: every spell open at any time in it, as it stood at the month's end."""
    files = []
    for period in periods:
        start = period_start(period)
        end = add_months(start, 1)
        discharged = pl.col("discharge_date") < end
        month = (
            spells.filter(
                (pl.col("admission_date") < end)
                & (pl.col("discharge_date").is_null() | (pl.col("discharge_date") >= start))
            )
            .with_columns(
                pl.lit(period).alias("reporting_period"),
                *(
                    pl.when(discharged).then(pl.col(c)).otherwise(None).alias(c)
                    for c in ("discharge_date", "discharge_method", "discharge_destination")
                ),
            )
            .select(fields)
            .sort("org_id_provider", "hosp_prov_spell_id")
        )
        files.append(_write(month, folder / f"spells_{period}", fmt))
    return files


def _write(data: pl.DataFrame, stem: Path, fmt: str) -> Path:
    path = stem.with_suffix(f".{fmt}")
    if fmt == "csv":
        data.write_csv(path)
    else:
        data.write_parquet(path, compression="zstd")
    return path


def _reported(records: dict[str, list[Row]], spec: Spec, key: str) -> pl.DataFrame:
    """A registration for each person whose death a provider reported: the date of death of the
    record of an inpatient death where two providers report one person (a transfer), the
    record's own cause where it has one, else one of the group its manner says."""
    crosswalk = spec.code_list("registered_sex").crosswalk("stated_gender")
    sexes = {stated: code for code, stated in crosswalk.items()}
    places = frozenset(spec.code_list("place_of_death_type").valid_codes())
    chosen: dict[str, Row] = {}
    for ods in sorted(records):
        for row in records[ods]:
            number = text_of(row, "nhs_number")
            if len(number) != 10 or not number.isdigit() or _date(row, "death_date") is None:
                continue
            if number not in chosen or row.get("discharge_method") == "4":
                chosen[number] = row
    rng = random.Random(f"{key}:reported")
    numbers, deaths, causes, place, sex, ages = [], [], [], [], [], []
    pattern = spec.table("registration").field("underlying_cause_icd10").pattern or ""
    for number in sorted(chosen):
        row = chosen[number]
        death = _date(row, "death_date")
        assert death is not None
        cause = text_of(row, "underlying_cause_icd10")
        if not re.fullmatch(pattern, cause):
            manner = text_of(row, "manner_of_death") or text_of(row, "provisional_death_type")
            cause = rng.choice(CAUSES[rng.choice(_GROUP_OF_MANNER.get(manner, _AWAITING))])
        birth = _date(row, "person_birth_date")
        age = years_between(birth, death) if birth is not None else rng.randint(18, 90)
        numbers.append(number)
        deaths.append(day_number(death))
        causes.append(cause)
        where = text_of(row, "place_of_death_type")
        place.append(where if where in places else "99")
        sex.append(sexes.get(text_of(row, "stated_gender"), "9"))
        ages.append(min(125, max(0, age)))
    lag_rng = numpy_stream(f"{key}:reported-lags")
    cause_series = pl.Series(causes, dtype=pl.String)
    return frame(
        pl.Series(numbers, dtype=pl.String),
        np.array(deaths, dtype=np.int64),
        registration_lags(lag_rng, cause_series),
        cause_series,
        pl.Series(place, dtype=pl.String),
        pl.Series(sex, dtype=pl.String),
        np.array(ages, dtype=np.int64),
        draw_areas(lag_rng, len(numbers)),
    )


def _missed_frame(missed: list[_Missed], key: str) -> pl.DataFrame:
    rng = numpy_stream(f"{key}:missed-lags")
    causes = pl.Series([x.cause for x in missed], dtype=pl.String)
    return frame(
        pl.Series([x.spell.nhs_number for x in missed], dtype=pl.String),
        np.array([day_number(x.death) for x in missed], dtype=np.int64),
        registration_lags(rng, causes),
        causes,
        pl.Series(["05"] * len(missed), dtype=pl.String),
        pl.Series([x.sex for x in missed], dtype=pl.String),
        np.array([x.age for x in missed], dtype=np.int64),
        draw_areas(rng, len(missed)),
    )


def _write_registrations(
    linked: pl.DataFrame,
    run: Run,
    source: NumberSource,
    first: dt.date,
    extract_end: dt.date,
    folder: Path,
    key: str,
    fields: Sequence[str],
) -> tuple[list[Path], int, int]:
    """One file per calendar year of registration, the background made a year at a time: each
    year's deaths registered that year, the rest carried into the next."""
    options = run.options
    linked = linked.filter(pl.col("registration_date") <= extract_end)
    carried = linked.clear()
    files: list[Path] = []
    count = background_count = 0
    for year in range(first.year, extract_end.year + 1):
        low = max(first, dt.date(year, 1, 1))
        high = min(extract_end, dt.date(year, 12, 31))
        days_in_year = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
        n = round(options.background_deaths * ((high - low).days + 1) / days_in_year)
        rng = numpy_stream(f"{key}:background:{year}")
        made = background(rng, source.take(n), low, high)
        made = made.filter(pl.col("registration_date") <= extract_end)
        background_count += made.height
        together = pl.concat(
            [carried, linked.filter(pl.col("registration_date").dt.year() == year), made]
        )
        this_year = together.filter(pl.col("registration_date").dt.year() == year)
        carried = together.filter(pl.col("registration_date").dt.year() > year)
        if this_year.height:
            # Sorted by date with the row order to break ties (a stable sort held far more memory).
            ordered = this_year.with_row_index("row").sort("registration_date", "row").drop("row")
            stem = folder / f"registrations_{year}"
            files.append(_write(in_feed_columns(ordered, fields), stem, options.feed_format))
            count += this_year.height
    return files, count, background_count

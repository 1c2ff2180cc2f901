"""The generator's one entry point: check the options, then draw, settle and write each provider-month.

The order of the steps is what keeps the output byte-identical for the same options: every
provider-month's deaths are drawn first, then transfers link some of them, then each month is
numbered and given its activity, then each provider's originals and resubmissions are written.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path

from mhdeaths.errors import UserError
from mhdeaths.periods import add_months, period_start
from mhdeaths.spec import Spec
from mhdeaths.synth.activity import activity_rows
from mhdeaths.synth.cases import check_cases, link_cases, plant_cases, resubmit_cases
from mhdeaths.synth.deaths import DeathBuilder
from mhdeaths.synth.draws import poisson
from mhdeaths.synth.feeds import check_feed_options, write_feeds
from mhdeaths.synth.files import write_month, write_resubmission
from mhdeaths.synth.options import SynthOptions, SynthResult, Transfer
from mhdeaths.synth.population import AWA_PER_MONTH, OOS_PER_MONTH, provider_codes
from mhdeaths.synth.resubmissions import plan_resubmission
from mhdeaths.synth.run import Month, Run, death_record_id, text_of
from mhdeaths.synth.transfers import transfer


def generate(spec: Spec, options: SynthOptions, out: Path) -> SynthResult:
    """Write the submissions of each provider and month under ``out/<ODS>/``.

    Each provider-month has an activity file ``<ODS>_<CCYY-MM>_activity.csv`` and, when anyone
    died, a death file ``<ODS>_<CCYY-MM>_death.csv`` (and, from spec 2.0.0, ``_review.csv`` and
    ``_pfd_addressee.csv`` beside it when the month has any); ``files`` lists them in the order
    written, each provider's originals first, then its resubmissions (``<ODS>/resubmissions/``,
    the same file names). A month that is not resubmitted holds its records as they stand at the
    end, so review outcomes and inquest conclusions that came later may already be filled in; a
    month that is resubmitted holds them as they first stood, and its resubmission completes them.
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
    run = Run(spec, options, out)
    if options.feeds:
        check_feed_options(run, codes)
    elif options.under_report or options.spells_missing:
        raise UserError("Under-reporting and missing spells are planted in the feeds: add --feeds.")
    if options.planted_cases:
        check_cases(run, codes)
    months = [
        draw_month(run, ods, add_months(first, n)) for ods in codes for n in range(options.months)
    ]
    pairs = transfer(run, months, codes) if options.transfers > 0 else []
    # After the transfers, so that none of the planted deaths is made a transfer as well.
    cases = plant_cases(run, months, codes) if options.planted_cases else []
    for m in months:
        settle(run, m)
    planted_cases = link_cases(cases)
    for sending, receiving in pairs:
        # The same person: the receiving provider's record has the sending provider's number.
        receiving.row["nhs_number"] = sending.row["nhs_number"]
    transfers = [
        Transfer(
            nhs_number=text_of(receiving.row, "nhs_number"),
            death_date=text_of(receiving.row, "death_date"),
            sending_provider=text_of(sending.row, "org_id_provider"),
            sending_record_id=text_of(sending.row, "death_record_id"),
            receiving_provider=text_of(receiving.row, "org_id_provider"),
            receiving_record_id=text_of(receiving.row, "death_record_id"),
        )
        for sending, receiving in pairs
    ]
    files: list[Path] = []
    resubmissions: list[Path] = []
    for ods in codes:
        own = [m for m in months if m.p.ods == ods]
        for m in own:
            plan_resubmission(run, m)
            resubmit_cases(run, m, cases)
            files.extend(write_month(run, m))
        for m in own:
            written = write_resubmission(run, m)
            files.extend(written)
            resubmissions.extend(written)
    # Last, from what the files finally hold and from streams of their own: the files above are
    # the same with or without the feeds.
    feeds, planted_missed = write_feeds(run, months, codes) if options.feeds else (None, [])
    return SynthResult(
        files=files,
        providers=codes,
        planted_errors=run.planted,
        resubmissions=resubmissions,
        transfers=transfers,
        planted_cases=planted_cases,
        planted_missed=planted_missed,
        feeds=feeds,
    )


def draw_month(run: Run, ods: str, month: dt.date) -> Month:
    """The month's activity totals and deaths, not yet numbered."""
    p, ids = run.provider(ods)
    factor = run.options.outlier_factor if ods in run.options.outliers else 1.0
    rng = random.Random(f"{run.options.seed}:month:{ods}:{month.strftime('%Y-%m')}")
    days = (add_months(month, 1) - month).days
    bed_days = round(p.beds * p.occupancy * days * rng.uniform(0.97, 1.03))
    admissions = round(bed_days / p.mean_stay * rng.uniform(0.9, 1.1))
    discharges = round(admissions * rng.uniform(0.93, 1.07))
    counts = {
        "IPD": poisson(rng, bed_days * p.ipd_per_bed_day * factor),
        "D30": poisson(rng, discharges * p.d30_per_discharge * factor),
        "AWA": poisson(rng, AWA_PER_MONTH),
        "OOS": poisson(rng, OOS_PER_MONTH),
    }
    builder = DeathBuilder(run, rng, p, month, days, ids)
    deaths = [builder.build(category) for category, n in counts.items() for _ in range(n)]
    return Month(p, month, days, factor, rng, ids, (bed_days, admissions, discharges), deaths)


def settle(run: Run, m: Month) -> None:
    """Number the month's deaths, give each person an NHS number, then draw the activity."""
    # Deaths are listed and numbered by date, as a provider's extract would list them.
    m.deaths.sort(key=lambda d: d.row.get("death_date") or "")
    for n, d in enumerate(m.deaths, start=1):
        d.row["death_record_id"] = death_record_id(m.p.ods, m.period, n)
        if d.same_person_as is None:
            d.row["nhs_number"] = run.nhs_number(m.p.ods, m.period, n)
    in_spell = Counter(d.stratum for d in m.deaths if d.category == "IPD")
    m.activity = activity_rows(run, m.rng, m.p, m.month, m.days, m.totals, in_spell)

"""Planted cases: the review's hard cases (build plan 9.6, Appendix A), each planted once in a run.

Whoever tests the warehouse on synthetic data needs each hard case to be in it, and to know
where, without hoping that a rate drew it: two providers giving dates of death days apart, a
transfer the receiver never reported, a holding code replaced later, an undetermined-intent death
of a child, an inquest concluded months later. With ``SynthOptions.planted_cases`` each is one
death added to a provider-month of its own (case i in the ith period and the ith provider, round
the run), drawn by the ordinary death builder from a stream of its own until a record fits, then
given what the case needs. Every record stays one that passes every rule of the spec, and
``SynthResult.planted_cases`` says where each case is.

The cases need the fields of spec 2.0.0 (receiving provider, inquest dates, where the cause came
from); the loaded spec's fields decide, not its version number.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from mhdeaths.errors import UserError
from mhdeaths.synth.deaths import DeathBuilder
from mhdeaths.synth.options import CASES, PlantedCase, Row
from mhdeaths.synth.run import Death, Month, Run, text_of
from mhdeaths.synth.transfers import transferred

# The fields the cases write: a spec without them cannot carry the cases.
_NEEDS = (
    "receiving_provider",
    "manner_of_death",
    "underlying_cause_source",
    "inquest_opened_date",
    "inquest_concluded_date",
)
# Draws of the builder before giving up. The rarest case (a suicide an inquest concluded, with no
# code) fits about one draw in 150 (at most 461 over 20 seeds), so giving up never happens.
_TRIES = 20_000
# The cases updated by the month's resubmission, with what the first record lacked.
_LATER = ("holding_code", "inquest_later")
# ICD-10 events of undetermined intent (Y10-Y34) a provider sends, in both accepted forms.
_UNDETERMINED = ("Y14X", "Y17.9", "Y12X", "Y10", "Y31X", "Y20.9")


@dataclass
class Planted:
    """A planted case while the run works: its month, its record and, for a conflict, the other."""

    case: str
    month: Month
    death: Death
    other: Death | None = None
    other_month: Month | None = None
    days_apart: int | None = None


def check_cases(run: Run, providers: list[str]) -> None:
    """Refuse planted cases the spec or the providers cannot carry."""
    missing = [name for name in _NEEDS if name not in run.death_fields]
    if missing:
        raise UserError(
            f"Planted cases need spec 2.0.0 or later; spec {run.version} has no "
            f"{', '.join(missing)}."
        )
    if len(providers) < 2:
        raise UserError("Planted cases need at least two providers.")


def plant_cases(run: Run, months: list[Month], providers: list[str]) -> list[Planted]:
    """Add each case's death(s) to its provider-month, before the months are numbered."""
    periods = sorted({m.period for m in months})
    by_key = {(m.p.ods, m.period): m for m in months}
    planted: list[Planted] = []
    for i, case in enumerate(CASES):
        period = periods[i % len(periods)]
        month = by_key[(providers[i % len(providers)], period)]
        other = by_key[(providers[(i + 1) % len(providers)], period)]
        rng = random.Random(f"{run.options.seed}:case:{case}:{month.p.ods}:{period}")
        builder = DeathBuilder(run, rng, month.p, month.month, month.days, month.ids)
        planted.append(_PLANT[case](run, rng, builder, case, month, other))
    for p in planted:
        for death, m in ((p.death, p.month), (p.other, p.other_month)):
            if death is not None and m is not None:
                death.case = p.case
                m.deaths.append(death)
    return planted


def _draw(builder: DeathBuilder, fits: Callable[[Row], bool], age: int | None = None) -> Death:
    """The first death after discharge the builder draws that fits the case."""
    for _ in range(_TRIES):
        death = builder.build("D30", age=age)
        if fits(death.row):
            return death
    raise AssertionError("no drawn death fits the planted case")  # pragma: no cover


def _days(row: Row, a: str, b: str) -> int:
    return (dt.date.fromisoformat(text_of(row, a)) - dt.date.fromisoformat(text_of(row, b))).days


def _after_discharge(row: Row) -> bool:
    return text_of(row, "patient_status_at_death") == "07" and bool(text_of(row, "discharge_date"))


def _date_conflict(
    run: Run, rng: random.Random, builder: DeathBuilder, case: str, month: Month, other: Month
) -> Planted:
    """A transfer whose receiving provider gives a date of death 1 to 3 days before the sender's."""
    earlier = rng.randint(1, 3)

    def fits(row: Row) -> bool:
        # Both dates stay in the month and on or after the discharge.
        return (
            _after_discharge(row)
            and _days(row, "death_date", "discharge_date") >= earlier
            and (dt.date.fromisoformat(text_of(row, "death_date")) - month.month).days >= earlier
        )

    sending = _draw(builder, fits)
    receiving = transferred(run, rng, sending, other, earlier=earlier)
    return Planted(case, month, sending, receiving, other, earlier)


def _transfer_unmatched(
    run: Run, rng: random.Random, builder: DeathBuilder, case: str, month: Month, other: Month
) -> Planted:
    """A death after a transfer discharge to another generated provider that never reports it."""
    death = _draw(builder, _after_discharge)
    codes = run.codebook(run.death, month.month)
    death.row["discharge_method"] = codes.pick(rng, "discharge_method", {"1": 1})
    death.row["discharge_destination"] = codes.pick(rng, "discharge_destination", {"53": 1})
    death.row["receiving_provider"] = other.p.ods
    return Planted(case, month, death)


def _holding_code(
    run: Run, rng: random.Random, builder: DeathBuilder, case: str, month: Month, other: Month
) -> Planted:
    """A suicide whose inquest concluded, its registered cause given: first sent while the
    inquest was open, with the holding code Y33.9 and the manner still awaiting information."""

    def fits(row: Row) -> bool:
        return (
            row.get("manner_of_death") == "03"
            and row.get("underlying_cause_icd10") is not None
            and row.get("underlying_cause_source") == "R"
            and row.get("inquest_status") == "C"
            and row.get("pfd_report_issued") != "Y"
        )

    return Planted(case, month, _draw(builder, fits))


def _undetermined_at_12(
    run: Run, rng: random.Random, builder: DeathBuilder, case: str, month: Month, other: Month
) -> Planted:
    """A 12-year-old's death of undetermined intent, registered with a Y10-Y34 code."""
    death = _draw(builder, lambda row: row.get("manner_of_death") == "08", age=12)
    row = death.row
    if not "Y10" <= text_of(row, "underlying_cause_icd10")[:3] <= "Y34":
        row["underlying_cause_icd10"] = rng.choice(_UNDETERMINED)
        codes = run.codebook(run.death, month.month)
        row["underlying_cause_source"] = codes.pick(rng, "underlying_cause_source", {"R": 1})
    return Planted(case, month, death)


def _inquest_later(
    run: Run, rng: random.Random, builder: DeathBuilder, case: str, month: Month, other: Month
) -> Planted:
    """A suicide with no registered cause whose inquest concluded it at least three months after
    the death: the conclusion is what classifies it (cause basis INQ) once it arrives."""

    def fits(row: Row) -> bool:
        return (
            row.get("inquest_status") == "C"
            and row.get("inquest_conclusion") == "10"
            and row.get("underlying_cause_icd10") is None
            and row.get("pfd_report_issued") != "Y"
            and _days(row, "inquest_concluded_date", "death_date") >= 90
        )

    return Planted(case, month, _draw(builder, fits))


_PLANT = {
    "date_conflict": _date_conflict,
    "transfer_unmatched": _transfer_unmatched,
    "holding_code": _holding_code,
    "undetermined_at_12": _undetermined_at_12,
    "inquest_later": _inquest_later,
}


def link_cases(planted: list[Planted]) -> list[PlantedCase]:
    """Once the months are numbered: the other record of a conflict is the same person."""
    found = []
    for p in planted:
        other_provider = other_record = None
        if p.other is not None:
            p.other.row["nhs_number"] = p.death.row["nhs_number"]
            other_provider = text_of(p.other.row, "org_id_provider")
            other_record = text_of(p.other.row, "death_record_id")
        elif p.case == "transfer_unmatched":
            other_provider = text_of(p.death.row, "receiving_provider")
        found.append(
            PlantedCase(
                case=p.case,
                provider=p.month.p.ods,
                reporting_period=p.month.period,
                death_record_id=text_of(p.death.row, "death_record_id"),
                other_provider=other_provider,
                other_record_id=other_record,
                days_apart=p.days_apart,
            )
        )
    return found


def resubmit_cases(run: Run, m: Month, planted: list[Planted]) -> None:
    """Send the month's later cases first as they stood, and as they end in its resubmission.

    Runs after the month's own resubmission is planned (which leaves the cases alone); a month
    with none gets one that repeats its inpatient deaths, so its activity table still agrees.
    """
    for p in planted:
        if p.month is not m or p.case not in _LATER:
            continue
        rng = random.Random(f"{run.options.seed}:case-first:{p.case}:{m.p.ods}:{m.period}")
        codes = run.codebook(run.death, m.month)
        final = p.death.row
        first = dict(final)
        # The inquest was open: no conclusion, no date for it, no report to prevent future deaths.
        first["inquest_status"] = codes.pick(rng, "inquest_status", {"O": 1})
        for later in ("inquest_conclusion", "inquest_concluded_date", "pfd_report_issued"):
            first[later] = None
        for later in ("pfd_reference", "pfd_date"):
            first[later] = None
        if p.case == "holding_code":
            # Registered while the inquest was adjourned: "event pending investigation".
            first["underlying_cause_icd10"] = "Y33.9"
            first["underlying_cause_source"] = codes.pick(rng, "underlying_cause_source", {"R": 1})
            # As the review's probe has it: nothing else says what the death was yet.
            first["manner_of_death"] = codes.pick(rng, "manner_of_death", {"09": 1})
        if m.resubmission is None:
            repeated = [{**d.row, "record_action": "U"} for d in m.deaths if d.category == "IPD"]
            m.resubmission = (repeated, [dict(row) for row in m.activity])
        m.resubmission[0].append({**final, "record_action": "U"})
        p.death.row = first

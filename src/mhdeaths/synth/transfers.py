"""Transfers: one death reported by two providers, for the warehouse to match.

A person discharged by one provider to another's mental health ward dies there within 30 days:
the sending provider reports a death within 30 days of discharge (D30), the receiving one an
inpatient death (IPD) of the same person on the same day.
"""

from __future__ import annotations

import datetime as dt
import random

from mhdeaths.synth.deaths import DeathBuilder
from mhdeaths.synth.draws import n_days, weighted
from mhdeaths.synth.oversight import ethnic_group_of
from mhdeaths.synth.run import Death, Month, Person, Run, text_of


def transfer(run: Run, months: list[Month], codes: list[str]) -> list[tuple[Death, Death]]:
    """Turn some deaths after discharge into deaths after a transfer to another provider.

    The person was discharged (live) to another provider's mental health ward and died there
    within 30 days: the sending provider's record stays a death within 30 days of discharge,
    now to destination 53 and in the other provider's care, and the receiving provider
    reports an inpatient death of the same person on the same day, its spell starting on or
    after the discharge.
    """
    by_key = {(m.p.ods, m.period): m for m in months}
    pairs: list[tuple[Death, Death]] = []
    for m in months:
        # A stream of its own, so the other values do not depend on the transfer rate.
        rng = random.Random(f"{run.options.seed}:transfers:{m.p.ods}:{m.period}")
        for sending in list(m.deaths):
            if sending.category != "D30" or sending.linked:
                continue
            if text_of(sending.row, "patient_status_at_death") != "07":
                continue
            if rng.random() >= run.options.transfers:
                continue
            other = rng.choice([c for c in codes if c != m.p.ods])
            receiving_month = by_key[(other, m.period)]
            receiving = transferred(run, rng, sending, receiving_month)
            receiving_month.deaths.append(receiving)
            pairs.append((sending, receiving))
    return pairs


def transferred(run: Run, rng: random.Random, sending: Death, to: Month, earlier: int = 0) -> Death:
    """The receiving provider's inpatient death of the person the sending one discharged.

    With ``earlier`` days the receiving provider's record gives a date of death that many days
    before the sending one's (a planted date conflict, synth/cases.py); the sending provider's
    record must then leave room for it after the discharge.
    """
    row = sending.row
    death = dt.date.fromisoformat(text_of(row, "death_date")) - n_days(earlier)
    discharge = dt.date.fromisoformat(text_of(row, "discharge_date"))
    gap = (death - discharge).days
    # Most transfers are admitted the day of the discharge, a few a day or two later.
    delay = int(weighted(rng, {str(d): w for d, w in ((0, 6), (1, 3), (2, 1)) if d <= gap}))
    person = Person(
        death=death,
        birth=dt.date.fromisoformat(text_of(row, "person_birth_date")),
        sex=text_of(row, "stated_gender"),
        ld=text_of(row, "ld_autism_status"),
        admission=discharge + n_days(delay),
    )
    builder = DeathBuilder(run, rng, to.p, to.month, to.days, to.ids)
    received = builder.build("IPD", person)
    new = received.row
    # The same person, and the same death: what the coroner and the medical examiner found
    # does not depend on who reports it.
    for name in (
        "gender_identity",
        "ethnic_category",
        "ethnic_category_2021",
        "imd_decile",
        "org_id_sub_icb_residence",
        "primary_diagnosis_icd10",
        "method_of_death",
        "ligature_type",
        "ligature_anchor",
        "postcode",
        "provisional_death_type",
        "manner_of_death",
        "drug_alcohol_involvement",
        "underlying_cause_icd10",
        "underlying_cause_source",
        "me_outcome",
        "inquest_status",
        "inquest_conclusion",
        "pfd_report_issued",
        "legal_status_at_death",
        "coroner_reported_date",
        "coroner_reference",
        "inquest_opened_date",
        "inquest_concluded_date",
        "pfd_reference",
        "pfd_date",
    ):
        if name in row and name in new:
            new[name] = row[name]
    if len(received.stratum) == 4:
        # Counted in the activity stratum of the person's own ethnic group, now copied over.
        received.stratum = (
            *received.stratum[:3],
            ethnic_group_of(new, builder.to_group),
        )
    if new.get("legal_status_at_death") == "98":
        # Not subject to the Act after the discharge: an informal patient on the new ward.
        new["legal_status_at_death"] = "01"
    # The sending provider learns of it from the receiving one, which knows where and when.
    codes = run.codebook(run.death, to.month)
    row["discharge_method"] = codes.pick(rng, "discharge_method", {"1": 1})
    row["discharge_destination"] = codes.pick(rng, "discharge_destination", {"53": 1})
    row["receiving_provider"] = to.p.ods
    row["place_of_death_type"] = new["place_of_death_type"]
    row["died_in_other_provider"] = to.p.ods
    row["death_date_basis"] = new["death_date_basis"]
    if row.get("death_time") is not None:
        row["death_time"] = new["death_time"]
    row["notification_source"] = codes.pick(rng, "notification_source", {"07": 1})
    # Never before the sending record's own date of death (later than the receiver's in a conflict).
    told = max(
        dt.date.fromisoformat(text_of(new, "date_provider_notified")),
        dt.date.fromisoformat(text_of(row, "death_date")),
    )
    row["date_provider_notified"] = (told + n_days(rng.randint(0, 3))).isoformat()
    sending.linked = True
    received.linked = True
    received.same_person_as = sending
    return received

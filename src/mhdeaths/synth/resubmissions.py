"""The life of a month's records after it is first sent: resubmissions that update, withdraw or add.

A resubmitted month's original file holds its deaths as they first stood; the resubmission
updates (U) those whose cause, inquest or review came later, repeats the inpatient deaths so its
activity table agrees, now and then withdraws (D) one reported in error or adds (N) one notified
late, and may correct its activity table slightly.
"""

from __future__ import annotations

import random

from mhdeaths.periods import add_months
from mhdeaths.synth.children import (
    pfd_addressee_rows,
    review_rows,
    reviews_as_first_sent,
    theme_rows,
)
from mhdeaths.synth.deaths import DeathBuilder
from mhdeaths.synth.draws import Codebook, fill_unknown, n_days
from mhdeaths.synth.options import Row, Weights
from mhdeaths.synth.run import Death, Month, Run, death_record_id


def plan_resubmission(run: Run, m: Month) -> None:
    """Decide whether the month is resubmitted and what the resubmission holds.

    The resubmission updates (U) the deaths whose details came later, whose original records
    are sent as they first stood; it repeats every other inpatient death unchanged, so that
    its death file and its activity table (which counts deaths in spell) agree; now and then
    it withdraws (D) a death after discharge reported in error, or adds (N) one notified
    late. Deaths it does not mention stay as they were.
    """
    rate = run.options.resubmissions
    rng = random.Random(f"{run.options.seed}:resubmission:{m.p.ods}:{m.period}")
    if not m.deaths or rate <= 0 or rng.random() >= rate:
        return
    codes = run.codebook(run.death, m.month)
    withdrawable = [d for d in m.deaths if d.category != "IPD" and not d.linked and d.case is None]
    withdrawn = rng.choice(withdrawable) if withdrawable and rng.random() < 0.2 else None
    rows: list[Row] = []
    children: dict[str, list[Row]] = {"review": [], "pfd_addressee": [], "theme": []}
    for d in m.deaths:
        if d.case is not None and d.category != "IPD":
            # A planted case plans its own update, if any (synth/cases.py).
            continue
        if d is withdrawn:
            # Reported in error: the record is withdrawn as it was sent.
            rows.append({**d.row, "record_action": "D"})
            children["review"] += review_rows(d.row, d.reviews, "D")
            children["pfd_addressee"] += pfd_addressee_rows(run, d.row, "D")
            children["theme"] += theme_rows(run, d.row, "D")
            continue
        first_sent = _as_first_sent(rng, d.row, codes)
        # 2.0.0: reviews completed later come with an update of their death.
        reviews_first = reviews_as_first_sent(d.reviews)
        if first_sent is None and reviews_first is not None:
            first_sent = dict(d.row)
        if first_sent is not None and (d.category == "IPD" or rng.random() < 0.8):
            fill_unknown(rng, run.death, first_sent, m.month, codes)
            rows.append({**d.row, "record_action": "U"})
            if reviews_first is not None:
                children["review"] += review_rows(d.row, d.reviews, "U")
                d.reviews = reviews_first
            # A report named only now is new; one sent already is updated with its responses.
            sent = "U" if pfd_addressee_rows(run, first_sent) else "N"
            children["pfd_addressee"] += pfd_addressee_rows(run, d.row, sent)
            sent = "U" if theme_rows(run, first_sent) else "N"
            children["theme"] += theme_rows(run, d.row, sent)
            d.row = first_sent
        elif d.category == "IPD":
            rows.append({**d.row, "record_action": "U"})
    if rng.random() < 0.25:
        late = notified_late(run, rng, m)
        rows.append(late.row)
        children["review"] += review_rows(late.row, late.reviews)
        children["pfd_addressee"] += pfd_addressee_rows(run, late.row)
        children["theme"] += theme_rows(run, late.row)
    if not rows:
        return
    m.resubmitted_children = children
    activity = [dict(row) for row in m.activity]
    if rng.random() < 0.4:
        _correct_activity(rng, activity)
    m.resubmission = (rows, activity)


def notified_late(run: Run, rng: random.Random, m: Month) -> Death:
    """A death after discharge the provider learned of after it sent the month."""
    builder = DeathBuilder(run, rng, m.p, m.month, m.days, m.ids)
    late = builder.build("D30" if rng.random() < 0.7 else "OOS")
    row = late.row
    n = len(m.deaths) + 1
    row["death_record_id"] = death_record_id(m.p.ods, m.period, n)
    row["nhs_number"] = run.nhs_number(m.p.ods, m.period, n)
    codes = run.codebook(run.death, m.month)
    row["notification_source"] = codes.pick(
        rng, "notification_source", {"02": 4, "05": 3, "03": 2, "04": 1}
    )
    month_end = add_months(m.month, 1)
    row["date_provider_notified"] = (month_end + n_days(rng.randint(3, 60))).isoformat()
    return late


def _as_first_sent(rng: random.Random, row: Row, codes: Codebook) -> Row | None:
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
    # 2.0.0 renamed the provisional type of death; its 07 (restraint) became a circumstance.
    manner = "manner_of_death" if "manner_of_death" in row else "provisional_death_type"
    if "underlying_cause_source" in row:
        first["underlying_cause_source"] = None
    if cause is not None and row.get(manner) not in ("07", "09") and rng.random() < 0.3:
        first[manner] = codes.pick(rng, manner, {"09": 1})
    if inquest in ("C", "D", "O"):
        weights: Weights = {"O": 6, "P": 4} if inquest == "C" else {"P": 1}
        first["inquest_status"] = codes.pick(rng, "inquest_status", weights)
        first["inquest_conclusion"] = None
        first["pfd_report_issued"] = None
        # 2.0.0 dates the inquest: nothing is concluded yet, and an awaited one is not open.
        for later in ("inquest_concluded_date", "pfd_reference", "pfd_date"):
            if later in first:
                first[later] = None
        if "inquest_opened_date" in first and first["inquest_status"] == "P":
            first["inquest_opened_date"] = None
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

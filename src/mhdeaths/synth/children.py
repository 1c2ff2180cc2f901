"""The child tables of a death (spec 2.0.0): its reviews, the addressees of a PFD report and
the recurring themes its review found.

A death's reviews are drawn with it (the review a 1.x record holds is the first of them), and
its prevention of future deaths report addressees and its themes follow from the record as it is
sent (a report is only named once the inquest concluded, themes once a review was required),
each from a random stream of their own. Both are
keyed by the death once the month's deaths are numbered, so they are made into rows only when
the files are written. A version without these tables draws nothing here.
"""

from __future__ import annotations

import datetime as dt
import random

from mhdeaths.periods import period_start
from mhdeaths.synth.draws import Codebook, iso, n_days
from mhdeaths.synth.options import Row
from mhdeaths.synth.run import Death, Run

#: Review methods that are patient safety learning responses (PSIRF): no avoidability judgement.
_PSIRF = frozenset({"04", "05", "06", "07", "08", "11"})
_UNNATURAL = frozenset({"03", "04", "05", "06", "07", "08"})
#: Copied from the death record onto each of its child records.
_FROM_DEATH = ("spec_version", "org_id_provider", "reporting_period", "death_record_id")
#: Other addressees of a PFD report than the provider itself, with an ODS code where one has it.
_OTHER_ADDRESSEES: dict[str, str | None] = {
    "I": "QE1",
    "E": "X24",
    "D": None,
    "N": "RT1",
    "L": None,
    "C": None,
    "Q": None,
    "O": None,
}


def screen_and_review(
    run: Run,
    rng: random.Random,
    codes: Codebook,
    row: Row,
    category: str,
    kind: str,
    status: str,
    death: dt.date,
) -> list[Row]:
    """Screen the death for review and return its reviews (rows not yet keyed to the death).

    The review fields a 1.x record holds are taken out of the death record: they make its
    first review. A death meeting a national red flag is screened in; others are screened in
    now and then, out, or not yet screened. A death screened in has one review or, now and then
    for an unnatural inpatient death, both a learning response and a case record review.
    """
    method = row.pop("review_method", None)
    completed = row.pop("review_completed_date", None)
    rating = row.pop("overall_care_rating", None)
    judgement = row.pop("problems_in_care_judgement", None)
    family = row.pop("family_involvement", None)
    community = status in ("07", "08", "99")
    concerns = codes.pick(rng, "concerns_raised", {"N": 70, "Y": 12, "U": 18})
    psychosis = codes.pick(rng, "psychosis_or_eating_disorder", {"N": 55, "Y": 35, "U": 10})
    crisis = codes.pick(
        rng, "under_crisis_team_at_death", {"N": 75, "Y": 15, "U": 10} if community else {"N": 1}
    )
    row["concerns_raised"] = concerns
    row["psychosis_or_eating_disorder"] = psychosis
    row["under_crisis_team_at_death"] = crisis
    flagged = (
        category in ("IPD", "D30")
        or "Y" in (concerns, psychosis, crisis)
        or row.get("me_outcome") == "2"
        or row.get("ld_autism_status") in ("L", "B")
    )
    required = "Y" if flagged else codes.pick(rng, "review_required", {"N": 70, "Y": 20, "P": 10})
    row["review_required"] = required
    if required != "Y":
        return []
    started = death + n_days(rng.randint(1, 13))
    review_codes = run.codebook(run.spec.table("review"), started)
    if method is None or method not in review_codes.valid.get("review_method", frozenset()):
        # 1.x's "no review" (10) is gone: a death screened in is reviewed.
        method = review_codes.pick(rng, "review_method", {"01": 3, "02": 3, "06": 2, "04": 1})
    first = _review(method, started, completed, rating, judgement, family)
    reviews = [first]
    if category == "IPD" and kind in _UNNATURAL and rng.random() < 0.3:
        # Investigated and reviewed: a PSII beside a case record review, or the other way round.
        other = "01" if method in _PSIRF else "04"
        began = death + n_days(rng.randint(1, 13))
        done = began + n_days(rng.randint(30, 150)) if rng.random() < 0.4 else None
        verdict = "Y" if rng.random() < 0.1 else "N"
        reviews.append(
            _review(
                review_codes.pick(rng, "review_method", {other: 1}),
                began,
                iso(done),
                None if done is None else review_codes.pick(rng, "overall_care_rating", {"2": 1}),
                verdict if done is not None else "P",
                None if done is None else review_codes.pick(rng, "family_involvement", {"Y": 1}),
            )
        )
    return reviews


def _review(
    method: str,
    started: dt.date,
    completed: str | None,
    rating: str | None,
    judgement: str | None,
    family: str | None,
) -> Row:
    psirf = method in _PSIRF
    if not psirf and completed is None:
        judgement = "P"
    elif not psirf and judgement not in ("Y", "N"):
        judgement = "N"
    return {
        "record_action": "N",
        "review_method": method,
        "review_started_date": started.isoformat(),
        "review_completed_date": completed,
        "overall_care_rating": None if psirf else rating,
        # A learning response does not judge whether the death was avoidable.
        "problems_in_care_judgement": "X" if psirf else judgement,
        # Open: involvement may be recorded already, but not as "no review".
        "family_involvement": family if completed is not None or family in ("Y", "N") else None,
    }


def reviews_as_first_sent(reviews: list[Row]) -> list[Row] | None:
    """The reviews as the provider first sent them, still under way; None if none came later."""
    if not any(r.get("review_completed_date") is not None for r in reviews):
        return None
    first = []
    for review in reviews:
        review = dict(review)
        if review.get("review_completed_date") is not None:
            review["review_completed_date"] = None
            review["overall_care_rating"] = None
            review["family_involvement"] = None
            if review["problems_in_care_judgement"] != "X":
                review["problems_in_care_judgement"] = "P"
        first.append(review)
    return first


def review_rows(death: Row, reviews: list[Row], action: str | None = None) -> list[Row]:
    """A death's reviews keyed to it (its numbered record), with ``action`` if given."""
    rows = []
    for n, review in enumerate(reviews, start=1):
        row: Row = {name: death.get(name) for name in _FROM_DEATH}
        row.update(review)
        row["review_id"] = f"{death.get('death_record_id')}-R{n}"
        if action is not None:
            row["record_action"] = action
        rows.append(row)
    return rows


def pfd_addressee_rows(run: Run, death: Row, action: str = "N") -> list[Row]:
    """The addressees of the death's PFD report, if its record names one; drawn from a stream
    of the death's own, so that a resubmission repeats the same addressees."""
    if "pfd_addressee" not in run.tables or death.get("pfd_report_issued") != "Y":
        return []
    reference, date = death.get("pfd_reference"), death.get("pfd_date")
    if reference is None or date is None:
        return []
    key = f"{run.options.seed}:pfd:{death.get('org_id_provider')}:{death.get('death_record_id')}"
    rng = random.Random(key)
    sent = dt.date.fromisoformat(date)
    codes = run.codebook(run.spec.table("pfd_addressee"), sent)
    others = rng.sample(list(_OTHER_ADDRESSEES), k=rng.choice((0, 1, 1, 2)))
    addressees = [("P", death.get("org_id_provider"))] + [
        (code, _OTHER_ADDRESSEES[code]) for code in others
    ]
    rows = []
    for n, (kind, ods) in enumerate(addressees, start=1):
        # Most answer within the 56 days Regulation 29 gives, some late; the provider knows its
        # own response, not always the others'.
        answered = kind == "P" or rng.random() < 0.6
        response = sent + n_days(rng.randint(20, 75)) if answered else None
        row: Row = {name: death.get(name) for name in _FROM_DEATH}
        row.update(
            {
                "record_action": action,
                "pfd_reference": reference,
                "pfd_date": date,
                "addressee_id": str(n),
                "addressee_type": codes.pick(rng, "addressee_type", {kind: 1}),
                "addressee_ods": ods,
                "response_sent_date": iso(response),
            }
        )
        rows.append(row)
    return rows


def theme_rows(run: Run, death: Row, action: str = "N") -> list[Row]:
    """The recurring themes the death's review found, if a review was required; drawn from a
    stream of the death's own, so that a resubmission repeats the same themes. Themes follow
    the death: discharge and follow-up after a death after discharge, ligatures and the ward
    after a hanging on the ward, bed availability after an out of area placement."""
    if "theme" not in run.tables or death.get("review_required") != "Y":
        return []
    key = f"{run.options.seed}:theme:{death.get('org_id_provider')}:{death.get('death_record_id')}"
    rng = random.Random(key)
    if rng.random() < 0.3:
        return []  # the review is under way, or found nothing that recurs
    inpatient = death.get("patient_status_at_death") in ("01", "02", "03", "04", "05", "06")
    weights: dict[str, float] = {
        "RA": 30, "CS": 18, "FI": 16, "TE": 12, "ST": 8, "MM": 6, "PH": 6, "OT": 4
    }  # fmt: skip
    if inpatient:
        weights.update({"OB": 22, "LV": 8, "RP": 6})
    else:
        weights.update({"DT": 30})
    if death.get("method_of_death") == "01" and inpatient:
        weights["LE"] = 40
    if death.get("out_of_area_placement") == "Y":
        weights["BA"] = 45
    if death.get("drug_alcohol_involvement") == "Y":
        weights["SU"] = 25
    if death.get("manner_of_death") in ("01", "02"):
        weights["PH"] = 30
    # The codes of the death's month (its date of death may carry a planted error).
    codes = run.codebook(run.spec.table("theme"), period_start(str(death["reporting_period"])))
    chosen: list[str] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        options = {c: w for c, w in weights.items() if c not in chosen}
        chosen.append(codes.pick(rng, "theme", options))
    rows = []
    for theme in chosen:
        row: Row = {name: death.get(name) for name in _FROM_DEATH}
        row.update({"record_action": action, "theme": theme, "review_id": None})
        rows.append(row)
    return rows


def child_rows(run: Run, deaths: list[Death]) -> dict[str, list[Row]]:
    """The rows of each child table for an original submission of these deaths."""
    return {
        "review": [r for d in deaths for r in review_rows(d.row, d.reviews)],
        "pfd_addressee": [r for d in deaths for r in pfd_addressee_rows(run, d.row)],
        "theme": [r for d in deaths for r in theme_rows(run, d.row)],
    }

"""Planted errors: realistic mistakes put into death records, each with the rule that must find it.

Known-bad files explain themselves and the validator can be tested end to end: each planted error
breaks one field and is recorded (file, row, field, rule) in the ``SynthResult``. Errors draw from
a random stream of their own, so the clean values do not depend on the error rate.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import partial
from pathlib import Path

from mhdeaths.synth.draws import n_days
from mhdeaths.synth.options import PlantedError, Row
from mhdeaths.synth.run import Death, Run


def plant_errors(
    run: Run, rng: random.Random, deaths: list[Death], file: Path, month: dt.date
) -> None:
    """Give each death record, with the error rate's chance, one error a rule of the spec finds."""
    rows = [d.row for d in deaths]
    # A planted case stays as planted: no error copies its identifier either.
    cases = frozenset(j for j, d in enumerate(deaths) if d.case is not None)
    for i, death in enumerate(deaths):
        if rng.random() >= run.options.error_rate or death.case is not None:
            continue
        candidates = [
            (name, rule_id, value)
            for name, rule_id, value in map(
                partial(_renamed, run),
                _error_candidates(rng, rows, i, death.category, month, cases),
            )
            if rule_id in run.rule_ids and name in run.death_fields
        ]
        if not candidates:
            continue
        name, rule_id, value = rng.choice(candidates)
        death.row[name] = value
        run.planted.append(PlantedError(file, "death", i + 1, name, rule_id))


# Fields a later spec version renamed: an error planted in the old name goes into the new one.
_RENAMED = {"provisional_death_type": "manner_of_death"}


def _renamed(run: Run, candidate: Candidate) -> Candidate:
    name, rule_id, value = candidate
    new = _RENAMED.get(name)
    if new is None or name in run.death_fields or new not in run.death_fields:
        return candidate
    return new, rule_id.replace(name, new), value


# Realistic wrong codes: a provider's local code or a code from another list.
_BAD_CODES: dict[str, str] = {
    "ethnic_category": "W",
    "notification_source": "00",
    "place_of_death_type": "10",
    "ward_type_group": "12",
    "review_method": "99",
    "me_outcome": "5",
    "death_date_basis": "X",
}
_MANDATORY_TO_DROP = (
    "local_patient_id",
    "death_date_basis",
    "notification_source",
    "place_of_death_type",
    "provisional_death_type",
)

Candidate = tuple[str, str, str | None]
"""An error that could be planted: the field, the rule that must find it and the bad value."""


def _error_candidates(
    rng: random.Random,
    rows: list[Row],
    i: int,
    category: str,
    month: dt.date,
    cases: frozenset[int] = frozenset(),
) -> list[Candidate]:
    """Every error that fits record i, each with the rule that must find it.

    Each error breaks one field. Some also change what the definitions derive (a death date that
    does not parse cannot be categorised), so other rules may fire on the same row as well; those
    that would change whether a death is an inpatient death are kept off inpatient deaths where
    the brief allows, so the activity file's deaths in spell still match.
    """
    row = rows[i]

    def text(name: str) -> str:
        return row.get(name) or ""

    death = dt.date.fromisoformat(text("death_date"))
    code_field = rng.choice(sorted(_BAD_CODES))
    dropped = rng.choice(
        _MANDATORY_TO_DROP if category == "IPD" else (*_MANDATORY_TO_DROP, "death_date")
    )
    date_field = rng.choice(
        ("date_provider_notified", "person_birth_date")
        if category == "IPD"
        else ("death_date", "date_provider_notified", "person_birth_date")
    )
    bad_day = dt.date.fromisoformat(text(date_field))
    bad_date = (
        f"{bad_day.day:02d}/{bad_day.month:02d}/{bad_day.year}"
        if rng.random() < 0.5
        else f"{bad_day.year}-02-30"
    )
    candidates: list[Candidate] = [
        (code_field, f"death.code_list.{code_field}", _BAD_CODES[code_field]),
        (dropped, f"death.mandatory.{dropped}", None),
        (date_field, f"death.type.{date_field}", bad_date),
        (
            "date_provider_notified",
            "death.dates.notified_not_before_death",
            (death - n_days(rng.randint(1, 10))).isoformat(),
        ),
        (
            "person_birth_date",
            "death.dates.birth_not_after_death",
            (death + n_days(rng.randint(1, 200))).isoformat(),
        ),
        ("postcode", "death.pattern.postcode", rng.choice(("LS1 4A", "1LS 4AB", "ls1 4ab"))),
        # A local identifier with the patient record system's name appended: too long.
        (
            "local_patient_id",
            "death.max_length.local_patient_id",
            f"{text('local_patient_id')}-EPR-NORTH-2027",
        ),
    ]
    number = text("nhs_number")
    if len(number) == 10 and number.isdigit():
        # Any other last digit breaks the modulus 11 check: only one check digit fits.
        wrong = (int(number[-1]) + rng.randint(1, 9)) % 10
        candidates.append(("nhs_number", "death.nhs_number.check_digit", f"{number[:-1]}{wrong}"))
    if category == "IPD":
        candidates.append(
            ("discharge_method", "death.ipd.discharge_method_died", rng.choice(("1", "2", "3")))
        )
    elif row.get("admission_date") is not None:
        candidates.append(
            (
                "admission_date",
                "death.dates.admission_not_after_death",
                (death + n_days(rng.randint(1, 30))).isoformat(),
            )
        )
    else:
        # No spell, so nothing else depends on the date: only the reporting period is wrong.
        candidates.append(
            (
                "death_date",
                "death.dates.death_in_reporting_period",
                (month - n_days(rng.randint(1, 20))).isoformat(),
            )
        )
    if text("patient_status_at_death") == "07":
        candidates.append(("discharge_method", "death.discharged.live_discharge", "4"))
    if text("inquest_status") != "C":
        candidates.append(
            (
                "inquest_conclusion",
                "death.inquest.conclusion_needs_concluded",
                rng.choice(("06", "10", "11")),
            )
        )
    earlier = [j for j in range(i) if j not in cases]
    if earlier:
        candidates.append(
            (
                "death_record_id",
                "death.duplicate.death_record_id",
                rows[rng.choice(earlier)]["death_record_id"],
            )
        )
    return candidates

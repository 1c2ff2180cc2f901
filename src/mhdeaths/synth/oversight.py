"""The fields spec 2.0.0 added for national oversight, drawn for one death record.

Commissioner and residence, out of area placements, the primary diagnosis, ethnicity in both
classifications, deprivation, the follow-up after discharge, the method of death with the
ligature, the observation level, the duty of candour and references to other systems: each in
plausible national proportions and consistent with the rest of the record, so a clean record
passes every rule. Two inequalities are planted so a test (and the benchmark report's
inequalities section) can find them: deaths of Black people run at ``BLACK_RATE_RATIO`` times the
rate of their share of bed days, and deaths fall more often in the more deprived deciles
(``DECILE_WEIGHTS``). A version without these fields draws nothing here, so earlier versions'
output stays as it was.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib

from mhdeaths.spec import Spec
from mhdeaths.synth.draws import Codebook, iso, n_days, weighted
from mhdeaths.synth.options import Row, Weights
from mhdeaths.synth.population import Provider

#: Each broad ethnic group's share of occupied bed days (Black people are over-represented in
#: mental health inpatient care, detained care above all).
BED_DAY_ETHNIC_SHARE: dict[str, float] = {
    "W": 74.0,
    "A": 8.0,
    "B": 8.0,
    "M": 3.5,
    "O": 3.0,
    "U": 3.5,
}
#: The planted inequality: the death rate of Black people against everyone else's.
BLACK_RATE_RATIO = 2.0
#: Deaths by deprivation decile (1 most deprived): a steady gradient, about 2.7 to 1 end to end.
DECILE_WEIGHTS: dict[str, float] = {str(d): 1.7 - 0.12 * (d - 1) for d in range(1, 11)}
#: The 2021 categories of each broad group, in rough national proportions within the group.
_CATEGORIES_2021: dict[str, Weights] = {
    "W": {"A1": 84, "A2": 2, "A3": 1, "A4": 1, "A5": 12},
    "A": {"C1": 32, "C2": 30, "C3": 12, "C4": 6, "C5": 20},
    "B": {"D1": 35, "D2": 50, "D3": 15},
    "M": {"B1": 35, "B2": 15, "B3": 25, "B4": 25},
    "O": {"E1": 30, "E2": 70},
    "U": {"Z": 60, "99": 40},
}
#: Primary diagnoses (ICD-10, as providers send them), by the age of the person.
_DIAGNOSES_OLDER: Weights = {
    "F03X": 18, "F01.9": 8, "F00.1": 10, "F32.2": 12, "F33.2": 8, "F20.0": 12, "F31.4": 8,
    "F06.2": 6, "F10.2": 4, "F41.2": 4, "G30.9": 6, "F99X": 4,
}  # fmt: skip
_DIAGNOSES_ADULT: Weights = {
    "F20.0": 22, "F25.1": 8, "F29X": 5, "F31.1": 12, "F32.3": 10, "F33.2": 6, "F60.3": 10,
    "F10.2": 6, "F19.2": 3, "F43.1": 5, "F43.2": 2, "F50.0": 2, "F84.0": 2, "F70.1": 1,
    "F99X": 2, "Z03.2": 4,
}  # fmt: skip
_DIAGNOSES_YOUNG: Weights = {
    "F32.2": 20, "F50.0": 18, "F60.3": 12, "F43.1": 10, "F84.0": 8, "F20.0": 8, "F90.0": 6,
    "F92.8": 8, "F41.1": 6, "F99X": 4,
}  # fmt: skip
#: Methods of death by manner, inpatients and in the community (NCISH proportions, roughly).
_METHOD_SUICIDE_INPATIENT: Weights = {
    "01": 55, "02": 12, "03": 10, "04": 6, "05": 3, "06": 3, "07": 3, "10": 4, "99": 4
}  # fmt: skip
_METHOD_SUICIDE_COMMUNITY: Weights = {
    "01": 45, "02": 22, "03": 8, "04": 12, "05": 4, "06": 3, "07": 2, "10": 2, "99": 2
}  # fmt: skip
_METHOD_ACCIDENT: Weights = {"02": 50, "03": 15, "05": 5, "10": 25, "99": 5}
_METHOD_HOMICIDE: Weights = {"06": 50, "10": 40, "99": 10}
_OUT_OF_AREA_REASON: Weights = {"10": 75, "14": 8, "11": 7, "15": 6, "12": 2, "13": 2}
_IN_SPELL = frozenset({"01", "02", "03", "04", "05", "06"})
_TRANSFER_DESTINATIONS = frozenset({"49", "50", "53", "84"})


def home_codes(p: Provider) -> tuple[str, str]:
    """The provider's home sub-ICB location and ICB: fixed per provider, code-shaped."""
    n = zlib.crc32(p.ods.encode())
    sub_icb = f"{10 + n % 90:02d}{chr(65 + (n >> 8) % 26)}"
    icb = f"Q{chr(65 + (n >> 13) % 26)}{chr(65 + (n >> 18) % 26)}"
    return sub_icb, icb


def ethnic_group_weights() -> Weights:
    """The broad groups of deaths: bed-day shares, with the planted rate ratio for Black people."""
    return {
        g: share * (BLACK_RATE_RATIO if g == "B" else 1.0)
        for g, share in BED_DAY_ETHNIC_SHARE.items()
    }


def draw_oversight(
    rng: random.Random,
    codes: Codebook,
    p: Provider,
    row: Row,
    category: str,
    age: int,
    ethnic_2001: dict[str, str],
) -> None:
    """Fill the 2.0.0 oversight fields of one death record, from what it already holds.

    ``ethnic_2001`` is the 2021 code list's crosswalk to the 2001 categories: the record's two
    ethnic categories agree by it."""
    pick = codes.pick
    status = row.get("patient_status_at_death") or "99"
    has_spell = row.get("admission_date") is not None
    death = dt.date.fromisoformat(str(row["death_date"]))

    group = weighted(rng, ethnic_group_weights())
    code_2021 = pick(rng, "ethnic_category_2021", _CATEGORIES_2021[group])
    row["ethnic_category"] = pick(rng, "ethnic_category", {ethnic_2001.get(code_2021, "99"): 1})
    # Not every provider records the 2021 categories yet.
    row["ethnic_category_2021"] = code_2021 if rng.random() < 0.7 else None
    row["imd_decile"] = weighted(rng, DECILE_WEIGHTS)

    sub_icb, icb = home_codes(p)
    placed = has_spell and rng.random() < (0.08 if row.get("ward_type_group") == "01" else 0.03)
    row["out_of_area_placement"] = pick(
        rng, "out_of_area_placement", {"Y": 1} if placed else {"N": 95, "U": 5}
    )
    row["out_of_area_reason"] = (
        pick(rng, "out_of_area_reason", _OUT_OF_AREA_REASON) if placed else None
    )
    row["independent_sector_bed"] = pick(
        rng,
        "independent_sector_bed",
        {"Y": 55, "N": 45} if placed else {"Y": 3, "N": 95, "U": 2} if has_spell else {"N": 1},
    )
    row["org_id_sub_icb_residence"] = sub_icb if rng.random() < 0.93 else f"{rng.randint(10, 99)}X"
    row["org_id_commissioner"] = "13Q" if row.get("ward_type_group") == "05" else icb
    row["site_of_treatment"] = (
        f"{p.ods}{rng.choice('ABCDE')}{rng.randint(1, 9)}" if has_spell else None
    )

    diagnoses = (
        _DIAGNOSES_YOUNG if age < 18 else _DIAGNOSES_OLDER if age >= 65 else _DIAGNOSES_ADULT
    )
    row["primary_diagnosis_icd10"] = weighted(rng, diagnoses)

    row["first_contact_after_discharge_date"] = _first_contact(rng, row, death)

    manner = row.get("manner_of_death")
    inpatient = status in _IN_SPELL
    method_weights: Weights
    if manner in ("03", "08"):
        method_weights = _METHOD_SUICIDE_INPATIENT if inpatient else _METHOD_SUICIDE_COMMUNITY
    elif manner == "05":
        method_weights = _METHOD_ACCIDENT
    elif manner == "04":
        method_weights = _METHOD_HOMICIDE
    elif manner == "09":
        method_weights = {"99": 1}
    else:
        method_weights = {"98": 1}
    method = pick(rng, "method_of_death", method_weights)
    row["method_of_death"] = method
    row["ligature_type"] = row["ligature_anchor"] = None
    if method == "01":
        row["ligature_type"] = pick(
            rng, "ligature_type", {"2": 40, "3": 20, "1": 15, "4": 10, "5": 10, "9": 5}
        )
        # On wards built without anchor points, more ligatures are non-anchored (R/2025/054).
        row["ligature_anchor"] = pick(
            rng,
            "ligature_anchor",
            {"N": 35, "A": 55, "9": 10} if inpatient else {"A": 75, "N": 15, "9": 10},
        )
    row["observation_level"] = pick(
        rng,
        "observation_level",
        {"1": 70, "2": 20, "3": 6, "4": 2, "9": 2}
        if inpatient
        else {"8": 1}
        if status in ("07", "08")
        else {"9": 1},
    )

    unexpected = manner not in ("01", "09")
    in_care = inpatient or category == "D30"
    candour = unexpected and in_care and rng.random() < 0.6
    row["duty_of_candour_date"] = iso(death + n_days(rng.randint(2, 20))) if candour else None
    screened = row.get("review_required")
    row["review_findings_shared"] = pick(
        rng,
        "review_findings_shared",
        {"X": 1} if screened == "N" else {"Y": 55, "N": 45},
    )

    year = death.year
    row["cqc_reference"] = (
        f"CQC-{year}-{rng.randrange(10**5):05d}"
        if row.get("cqc_notified") == "Y" and rng.random() < 0.8
        else None
    )
    row["leder_reference"] = (
        f"LD-{year}-{rng.randrange(10**5):05d}" if row.get("leder_notified") == "Y" else None
    )
    row["ncmd_reference"] = (
        f"NCMD-{year}-{rng.randrange(10**4):04d}" if row.get("cdr_notified") == "Y" else None
    )


def ethnic_crosswalks(spec: Spec) -> dict[str, dict[str, str]]:
    """Each ethnic category list's crosswalk to the broad groups, as the spec holds it."""
    return {
        name: spec.code_list(name).crosswalk("ethnic_group")
        for name in ("ethnic_category", "ethnic_category_2021")
    }


def ethnic_group_of(row: Row, crosswalks: dict[str, dict[str, str]]) -> str:
    """The broad ethnic group the warehouse derives for the record (definition ethnic_group):
    the activity stratum its inpatient death is counted in. ``crosswalks`` holds each ethnic
    code list's crosswalk to ethnic_group, by the list's name."""
    stated = row.get("ethnic_category_2021")
    if stated is not None and stated not in ("Z", "99"):
        return crosswalks["ethnic_category_2021"].get(str(stated), "U")
    return crosswalks["ethnic_category"].get(str(row.get("ethnic_category")), "U")


def _first_contact(rng: random.Random, row: Row, death: dt.date) -> str | None:
    """The first attended contact after a live discharge that was not a transfer: about three
    in four people are seen within 72 hours, some later, some not before they die."""
    if row.get("patient_status_at_death") != "07" or row.get("discharge_date") is None:
        return None
    if row.get("discharge_destination") in _TRANSFER_DESTINATIONS:
        return None
    discharge = dt.date.fromisoformat(str(row["discharge_date"]))
    draw = rng.random()
    if draw < 0.72:
        day = rng.randint(0, 3)
    elif draw < 0.9:
        day = rng.randint(4, 14)
    else:
        return None
    contact = discharge + n_days(day)
    return iso(contact) if contact <= death else None

"""Death records: one provider-month's deaths, each consistent with the agreed definitions.

The category (inpatient death, death within 30 days of discharge, awaiting admission, out of
scope) is drawn first; every other field (spell, place, cause, inquest, review, notification)
follows from it with national proportions, so a clean record passes every rule of the spec.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from mhdeaths.synth.children import screen_and_review
from mhdeaths.synth.draws import fill_unknown, iso, n_days, weighted, years_back, years_between
from mhdeaths.synth.options import Row, Weights
from mhdeaths.synth.oversight import draw_oversight, ethnic_crosswalks, ethnic_group_of
from mhdeaths.synth.population import ACUTE_TRUSTS, BAND_AGES, Ids, Provider, age_band
from mhdeaths.synth.run import Death, Person, Run

# Age at death: inpatient deaths are older (natural deaths on older adult wards), deaths after
# discharge younger (suicide risk is highest in the weeks after discharge).
_IPD_DEATH_AGE: dict[str, float] = {
    "18-24": 4,
    "25-34": 8,
    "35-44": 10,
    "45-54": 14,
    "55-64": 16,
    "65-74": 18,
    "75-84": 19,
    "85+": 11,
}
_D30_DEATH_AGE: dict[str, float] = {
    "18-24": 10,
    "25-34": 17,
    "35-44": 18,
    "45-54": 18,
    "55-64": 15,
    "65-74": 10,
    "75-84": 8,
    "85+": 4,
}


# Underlying causes consistent with each provisional type of death, in both accepted forms (the
# fixed-width X70X and the dotted F32.9), as providers send them.
_CAUSES: dict[str, tuple[str, ...]] = {
    "01": ("C34.9", "C349", "J44.9", "J449", "G30.9", "G309", "F03X", "I50.0", "C80.9"),
    "02": ("I21.9", "I219", "J18.9", "J189", "I26.9", "I64X", "E11.9", "K70.3", "G40.9"),
    "03": ("X70X", "X70", "X80X", "X64.9", "X78", "X81X", "X84.9", "X68"),
    "04": ("X99X", "Y09X", "X99.9"),
    "05": ("W19X", "W19.0", "V89.2", "W80X"),
    "06": ("X42X", "X42.0", "X44X", "X45X"),
    "08": ("Y14X", "Y17.9", "Y12X", "Y10"),
}
_INQUEST_CONCLUSIONS: dict[str, Weights] = {
    "01": {"06": 8, "11": 2},
    "02": {"06": 8, "11": 2},
    "03": {"10": 6, "11": 3, "07": 1},
    "04": {"05": 9, "07": 1},
    "05": {"01": 8, "11": 2},
    "06": {"02": 7, "01": 2, "11": 1},
    "07": {"11": 8, "01": 2},
    "08": {"07": 5, "11": 4, "10": 1},
    "09": {"11": 6, "07": 4},
}
# Spec 2.0.0 compares the sources of the cause (a warning when they disagree), so a clean record's
# conclusion must agree with its provisional manner: an open conclusion is undetermined intent, not
# self-harm, homicide or natural. Same codes, same number of draws: 1.x output does not change.
_INQUEST_CONCLUSIONS_AGREEING: dict[str, Weights] = {
    **_INQUEST_CONCLUSIONS,
    "03": {"10": 6, "11": 3},
    "04": {"05": 1},
    "08": {"07": 5, "11": 4},
}
# 1.x provisional types 06 (drug or alcohol related) and 07 (restraint) are circumstances in 2.0.0:
# their manner is other non-natural.
_MANNER_OF_KIND: dict[str, str] = {"06": "05", "07": "05"}
# Patient statuses at death with the person in a spell or awaiting admission: the status at death
# is the one the spell (or the place of safety) had.
_DETAINED_AT_DEATH = frozenset({"01", "02", "03", "04", "05", "06", "08"})
# A grouped detention status ungrouped into MHSDS legal status codes, in national proportions.
_SECTIONS: dict[str, Weights] = {
    "01": {"01": 1},
    "02": {"03": 60, "02": 35, "05": 3, "06": 2},
    "03": {"10": 40, "09": 35, "07": 5, "16": 10, "15": 5, "31": 3, "32": 2},
    "04": {"20": 70, "19": 30},
    "98": {"98": 1},
    "99": {"99": 1},
}
_UNNATURAL = frozenset({"03", "04", "05", "06", "07", "08"})
_DETAINED = frozenset({"02", "03", "04"})
_LEARNING_DISABILITY_OR_AUTISM = frozenset({"L", "A", "B"})
_IN_SPELL = frozenset({"01", "02", "03", "04", "05", "06"})

_IPD_STATUS: Weights = {"01": 70, "02": 5, "03": 3, "04": 12, "05": 5, "06": 5}
_PLACE_BY_STATUS: dict[str, Weights] = {
    "01": {"01": 1},
    "02": {"02": 1},
    "03": {"08": 3, "04": 1, "98": 1},
    "04": {"05": 6, "08": 3, "04": 1},
    "05": {"08": 6, "05": 2, "04": 1, "98": 1},
    "06": {"03": 8, "04": 2},
    "07": {"05": 55, "08": 12, "03": 8, "04": 5, "06": 6, "07": 4, "09": 2, "98": 2},
    "08": {"04": 5, "05": 4, "08": 1},
    "99": {"05": 5, "03": 3, "99": 2},
}
_LIVE_DISCHARGE_METHOD: Weights = {"1": 85, "2": 6, "3": 4, "6": 3, "7": 2}
_LIVE_DESTINATION: Weights = {
    "19": 70, "29": 5, "51": 5, "53": 3, "55": 3, "56": 3, "87": 2, "37": 1, "40": 2, "42": 1
}  # fmt: skip
# Discharge destinations that are another provider's mental health bed (a transfer discharge),
# and the provider outside the generated ones that a transfer not paired with a receiving record
# went to: its own record of the death is never in the data, as when it was not sent.
_TRANSFER_DESTINATIONS = frozenset({"49", "50", "53", "84"})
_ELSEWHERE = "RVN"
_ETHNIC: Weights = {
    "A": 68, "B": 1, "C": 5, "D": 1.5, "E": 0.7, "F": 0.7, "G": 1, "H": 2.5, "J": 2.5, "K": 1,
    "L": 1.5, "M": 2.5, "N": 3, "P": 1, "R": 0.4, "S": 2, "Z": 3, "99": 2,
}  # fmt: skip


# Royal Mail never uses C I K M O V in the last two letters of a postcode.
_POSTCODE_UNIT = "ABDEFGHJLNPQRSTUWXYZ"


class DeathBuilder:
    """Builds the death records of one provider-month, category first, then consistent details."""

    def __init__(
        self,
        gen: Run,
        rng: random.Random,
        p: Provider,
        month: dt.date,
        days: int,
        ids: Ids,
    ) -> None:
        self.gen, self.rng, self.p, self.month, self.days, self.ids = gen, rng, p, month, days, ids
        self.codes = gen.codebook(gen.death, month)
        # The 2.0.0 oversight fields draw from a stream of their own, so adding them left the
        # rest of each record (and every earlier version's output) as it was drawn before.
        self.oversight_rng = random.Random(f"{gen.options.seed}:oversight:{p.ods}:{month}")
        if "method_of_death" in gen.death_fields:
            # Read once per provider-month, not per death: the crosswalks the spec holds.
            self.to_2001 = gen.spec.code_list("ethnic_category_2021").crosswalk("ethnic_category")
            self.to_group = ethnic_crosswalks(gen.spec)

    def pick(self, name: str, weights: Weights) -> str:
        return self.codes.pick(self.rng, name, weights)

    def build(self, category: str, person: Person | None = None, age: int | None = None) -> Death:
        """A death of the category; of that person, on the ward, when another provider says so;
        at that age when given (a planted case), else at an age drawn for the category."""
        rng, pick = self.rng, self.pick
        spell: tuple[dt.date | None, dt.date | None, str | None]
        if person is None:
            death = self.month + n_days(rng.randrange(self.days))
            ages = _IPD_DEATH_AGE if category == "IPD" else _D30_DEATH_AGE
            if age is None:
                birth = self.birth_date(death, weighted(rng, ages))
            else:
                birth = self.born(death, age)
            sex = "1" if rng.random() < 0.58 else "2"
            ld = pick("ld_autism_status", {"N": 84, "A": 5, "L": 3, "B": 2, "U": 6})
            status = self.status(category)
            spell = self.spell(category, status, death)
        else:
            death, birth, sex, ld = person.death, person.birth, person.sex, person.ld
            status = self.pick("patient_status_at_death", {"01": 1})
            spell = (person.admission, death, "4")
        age = years_between(birth, death)
        admission, discharge, method = spell
        destination = None
        if method == "4":
            destination = "79"
        elif method is not None:
            destination = pick("discharge_destination", _LIVE_DESTINATION)
        place = self.place(status, destination)
        other = rng.choice(ACUTE_TRUSTS) if place in ("03", "04") or status == "06" else None

        kind = self.death_type(category, age)
        me = self.medical_examiner(kind)
        # 2.0.0 sends a death in state detention to the coroner, who must hold an inquest: the
        # status at death is drawn first there (1.x keeps its order of draws, so its output stays).
        at_death = "legal_status_at_death" in self.gen.death_fields
        detention = self.detention(category, status, spell) if at_death else ""
        detained = at_death and status in _DETAINED_AT_DEATH and detention in _DETAINED
        if detained:
            me = "3"
        inquest = self.inquest_status(me, held=detained)
        separate_manner = "manner_of_death" in self.gen.death_fields
        conclusions = _INQUEST_CONCLUSIONS_AGREEING if separate_manner else _INQUEST_CONCLUSIONS
        conclusion = pick("inquest_conclusion", conclusions[kind]) if inquest == "C" else None
        cause = None
        known_cause = me in ("1", "2") or inquest == "C"
        if kind in _CAUSES and rng.random() < (0.75 if known_cause else 0.05):
            cause = rng.choice(_CAUSES[kind])

        if not at_death:
            detention = self.detention(category, status, spell)
        review = self.review_method(category, kind, ld)
        completed = None
        if review != "10" and rng.random() < 0.45:
            completed = death + n_days(rng.randint(14, 120))
        rating: str | None = pick(
            "overall_care_rating", {"1": 8, "2": 42, "3": 35, "4": 12, "5": 3}
        )
        rating = rating if completed is not None and rng.random() < 0.9 else None
        if completed is None:
            judgement = (
                "P" if review != "10" else pick("problems_in_care_judgement", {"N": 1, "P": 1})
            )
        else:
            # A judgement of problems in care only ever follows a completed review.
            poor = rating in ("4", "5")
            judgement = "Y" if rng.random() < (0.5 if poor else 0.02) else "N"
        lfpse = None
        unexpected = kind in _UNNATURAL or kind == "02"
        # Patient safety events are recorded for deaths in care or soon after it.
        in_care = {"IPD": 0.7, "D30": 0.25}.get(category, 0.0)
        if unexpected and rng.random() < in_care:
            lfpse = f"LFPSE-{death.year}-{rng.randrange(10**6):06d}"
        source, lag = self.notification(category, status)

        row: Row = {
            "spec_version": self.gen.version,
            "org_id_provider": self.p.ods,
            "reporting_period": self.month.strftime("%Y-%m"),
            # Numbered once the month's deaths are in date order (see generator.settle).
            "death_record_id": "",
            "record_action": "N",
            # Given once the month's deaths are in date order (see generator.settle).
            "nhs_number": "",
            # Added in 2.0.0: every synthetic person has a verified number.
            "nhs_number_status": "01",
            "local_patient_id": self.new_id("P", 7, self.ids.patients),
            "person_birth_date": birth.isoformat(),
            "postcode": self.postcode() if rng.random() < 0.92 else None,
            "gender_identity": sex
            if rng.random() < 0.96
            else pick("gender_identity", {"3": 1, "4": 0.5, "Z": 1, "X": 2}),
            "stated_gender": sex,
            "ethnic_category": pick("ethnic_category", _ETHNIC),
            "ld_autism_status": ld,
            "death_date": death.isoformat(),
            "death_time": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
            if rng.random() < (0.85 if category == "IPD" else 0.4)
            else None,
            "death_date_basis": pick(
                "death_date_basis",
                {"C": 60, "R": 25, "E": 15} if place in ("05", "08") else {"C": 70, "R": 30},
            ),
            "notification_source": source,
            "date_provider_notified": (death + n_days(lag)).isoformat(),
            # Added in 2.0.0: the PDS trace after a discharge found the death when the provider
            # learned of it; a person awaiting admission died on the day of the decision to admit.
            # Neither draws at random, so earlier versions' records stay as they were.
            "pds_traced_date": (death + n_days(lag)).isoformat() if status == "07" else None,
            "decision_to_admit_date": death.isoformat() if status == "08" else None,
            "patient_status_at_death": status,
            "place_of_death_type": place,
            "died_in_other_provider": other,
            "hosp_prov_spell_id": None
            if admission is None
            else self.new_id("S", 9, self.ids.spells),
            "admission_date": iso(admission),
            "discharge_date": iso(discharge),
            "discharge_method": method,
            "discharge_destination": destination,
            # Added in 2.0.0; transfers.py names the receiving provider of a paired transfer.
            "receiving_provider": _ELSEWHERE if destination in _TRANSFER_DESTINATIONS else None,
            "ward_type_group": self.ward_type(age, sex, ld, admission is not None),
            "detention_status": detention,
            "restrictive_intervention_24h": self.restrictive_intervention(category, kind),
            "provisional_death_type": kind,
            "underlying_cause_icd10": cause,
            "me_outcome": me,
            "inquest_status": inquest,
            "inquest_conclusion": conclusion,
            "pfd_report_issued": pick("pfd_report_issued", {"Y": 2, "N": 8})
            if inquest == "C"
            else None,
            "review_method": review,
            "review_completed_date": iso(completed),
            "overall_care_rating": rating,
            "problems_in_care_judgement": judgement,
            "lfpse_event_id": lfpse,
            "lfpse_physical_harm": None
            if lfpse is None
            else pick("lfpse_physical_harm", {"5": 9, "4": 1}),
            "cqc_notified": self.cqc(category, detention),
            "leder_notified": "Y"
            if ld in _LEARNING_DISABILITY_OR_AUTISM
            else pick("leder_notified", {"X": 85, "N": 15}),
            # Added in 1.1.0: whether the family was involved in the review.
            "family_involvement": self.family_involvement(review, completed),
            "declared_death_category": category,
        }
        if separate_manner:
            self.manner(row, kind, cause, me)
        if at_death:
            self.legal_status(row, detention, status, death, me, inquest)
        if "cdr_notified" in self.gen.death_fields:
            row["cdr_notified"] = self.pick("cdr_notified", {"Y": 1} if age < 18 else {"X": 1})
        reviews: list[Row] = []
        if "review_required" in self.gen.death_fields:
            # 2.0.0 screens the death and sends its reviews as records of their own.
            reviews = screen_and_review(
                self.gen, rng, self.codes, row, category, kind, status, death
            )
        stratum: tuple[str, ...] = (age_band(age), sex)
        if "method_of_death" in self.gen.death_fields:
            # 2.0.0, part 2: oversight, case-mix and method; activity strata by ward and ethnicity.
            draw_oversight(self.oversight_rng, self.codes, self.p, row, category, age, self.to_2001)
            group = ethnic_group_of(row, self.to_group)
            stratum = (*stratum, str(row["ward_type_group"]), group)
        fill_unknown(rng, self.gen.death, row, self.month, self.codes)
        return Death(row=row, category=category, stratum=stratum, reviews=reviews)

    def manner(self, row: Row, kind: str, cause: str | None, me: str) -> None:
        """The 2.0.0 fields of the cause: the manner apart from its circumstances, and where the
        underlying cause comes from (an MCCD cause only once the medical examiner agreed it)."""
        del row["provisional_death_type"]
        row["manner_of_death"] = self.pick("manner_of_death", {_MANNER_OF_KIND.get(kind, kind): 1})
        row["drug_alcohol_involvement"] = self.pick(
            "drug_alcohol_involvement",
            {"Y": 1}
            if kind == "06"
            else {"N": 80, "U": 15, "Y": 5}
            if kind != "03"
            else {"N": 7, "Y": 3},
        )
        agreed = me in ("1", "2") and self.rng.random() < 0.6
        row["underlying_cause_source"] = None if cause is None else "M" if agreed else "R"

    def legal_status(
        self, row: Row, group: str, status: str, death: dt.date, me: str, inquest: str
    ) -> None:
        """The 2.0.0 fields of the Mental Health Act and the coroner. The generator's grouped status
        is at death for a death in a spell or awaiting admission, and at discharge for a death
        after it (as 1.x defined it): 2.0.0 takes the two apart and ungroups them."""
        rng = self.rng
        del row["detention_status"]
        row["legal_status_at_discharge"] = row["pfd_reference"] = row["pfd_date"] = None
        if status in _DETAINED_AT_DEATH:
            row["legal_status_at_death"] = self.pick("legal_status_at_death", _SECTIONS[group])
            row["cto_at_death"] = self.pick("cto_at_death", {"N": 1})
        else:
            row["legal_status_at_death"] = self.pick("legal_status_at_death", {"98": 1})
            row["cto_at_death"] = self.pick("cto_at_death", {"Y": 1} if group == "05" else {"N": 1})
            if status == "07":
                at_discharge = _SECTIONS.get(group, {"01": 1}) if group != "05" else {"03": 1}
                row["legal_status_at_discharge"] = self.pick(
                    "legal_status_at_discharge", at_discharge
                )
        reported = death + n_days(rng.randint(0, 3)) if me == "3" else None
        row["coroner_reported_date"] = iso(reported)
        row["coroner_reference"] = (
            None if reported is None else f"COR-{death.year}-{rng.randrange(10**5):05d}"
        )
        opened = concluded = None
        if reported is not None and inquest in ("O", "C"):
            opened = reported + n_days(rng.randint(2, 21))
        if opened is not None and inquest == "C":
            concluded = opened + n_days(rng.randint(60, 400))
        row["inquest_opened_date"] = iso(opened)
        row["inquest_concluded_date"] = iso(concluded)
        if row.get("pfd_report_issued") == "Y" and concluded is not None:
            row["pfd_reference"] = f"{concluded.year}-{rng.randrange(10**4):04d}"
            row["pfd_date"] = iso(concluded + n_days(rng.randint(0, 30)))
        elif row.get("pfd_report_issued") == "Y":
            row["pfd_report_issued"] = self.pick("pfd_report_issued", {"N": 1})

    def birth_date(self, death: dt.date, band: str) -> dt.date:
        low, high = BAND_AGES[band]
        return self.born(death, self.rng.randint(low, high))

    def born(self, death: dt.date, age: int) -> dt.date:
        """A date of birth that makes the person the age on the day of death."""
        # Any day in the year before the (age)th birthday back from the death gives that age.
        latest = years_back(death, age)
        earliest = years_back(death, age + 1) + n_days(1)
        return earliest + n_days(self.rng.randrange((latest - earliest).days + 1))

    def status(self, category: str) -> str:
        match category:
            case "IPD":
                return self.pick("patient_status_at_death", _IPD_STATUS)
            case "D30":
                # Some die awaiting readmission within 30 days of a discharge: still D30.
                return "07" if self.rng.random() < 0.95 else "08"
            case "AWA":
                return "08"
        return "07" if self.rng.random() < 0.75 else "99"

    def spell(
        self, category: str, status: str, death: dt.date
    ) -> tuple[dt.date | None, dt.date | None, str | None]:
        """Admission date, discharge date and discharge method of the index spell, if any."""
        rng = self.rng
        if category == "IPD":
            return death - n_days(self.stay()), death, "4"
        if category == "D30":
            # Risk is highest in the first week after discharge: weight day d by 1/(d + 3).
            gap = weighted(rng, {str(d): 1 / (d + 3) for d in range(31)})
            discharge = death - n_days(int(gap))
        elif category == "OOS" and status == "07":
            discharge = death - n_days(rng.randint(31, 90))
        elif category == "AWA" and rng.random() < 0.3:
            # An earlier discharge more than 30 days before: still only awaiting admission.
            discharge = death - n_days(rng.randint(31, 365))
        else:
            return None, None, None
        return (
            discharge - n_days(self.stay()),
            discharge,
            self.pick("discharge_method", _LIVE_DISCHARGE_METHOD),
        )

    def stay(self) -> int:
        # Lengths of stay are long-tailed: a median of about five weeks, some stays of years.
        return min(3650, int(self.rng.lognormvariate(math.log(35), 0.9)))

    def place(self, status: str, destination: str | None) -> str:
        if destination == "51":
            return self.pick("place_of_death_type", {"03": 7, "04": 3})
        if destination in ("37", "40", "42") and self.rng.random() < 0.5:
            return self.pick("place_of_death_type", {"09": 1})
        if destination in ("55", "56") and self.rng.random() < 0.7:
            return self.pick("place_of_death_type", {"06": 1})
        return self.pick("place_of_death_type", _PLACE_BY_STATUS[status])

    def death_type(self, category: str, age: int) -> str:
        rng = self.rng
        if rng.random() < 0.12:
            return self.pick("provisional_death_type", {"09": 1})
        natural = 0.8 if age >= 65 else 0.5 if age >= 45 else 0.25
        if category != "IPD":
            natural -= 0.15
        if rng.random() < natural:
            # An expected natural death (terminal illness, frailty) is mostly one of old age.
            expected = 55 if age >= 65 else 15
            return self.pick("provisional_death_type", {"01": expected, "02": 100 - expected})
        if category == "IPD":
            unnatural: Weights = {"03": 45, "05": 12, "06": 15, "07": 3, "08": 10, "04": 2}
        else:
            unnatural = {"03": 50, "05": 8, "06": 25, "08": 10, "04": 2}
        return self.pick("provisional_death_type", unnatural)

    def medical_examiner(self, kind: str) -> str:
        if kind in ("01", "02"):
            return self.pick("me_outcome", {"1": 70, "2": 8, "3": 6, "9": 16})
        if kind in _UNNATURAL:
            return self.pick("me_outcome", {"3": 85, "9": 15})
        return self.pick("me_outcome", {"9": 60, "3": 40})

    def inquest_status(self, me: str, held: bool = False) -> str:
        if held:
            return self.pick("inquest_status", {"O": 55, "P": 25, "C": 12})
        if me == "3":
            return self.pick("inquest_status", {"O": 55, "P": 25, "C": 12, "D": 8})
        if me == "9":
            return self.pick("inquest_status", {"P": 1, "N": 1})
        return "N"

    def detention(
        self, category: str, status: str, spell: tuple[dt.date | None, dt.date | None, str | None]
    ) -> str:
        if category == "IPD":
            return self.pick("detention_status", {"02": 55, "01": 34, "03": 8, "04": 1})
        if status == "08":
            # Awaiting a bed: often held under a place of safety order or detained in the ED.
            return self.pick("detention_status", {"98": 45, "04": 35, "02": 20})
        if spell[0] is None:
            return self.pick("detention_status", {"98": 60, "99": 40})
        # At discharge: mostly informal, some onto a community treatment order.
        return self.pick("detention_status", {"01": 62, "05": 22, "02": 12, "03": 4})

    def ward_type(self, age: int, sex: str, ld: str, has_spell: bool) -> str:
        rng, pick = self.rng, self.pick
        if not has_spell:
            return pick("ward_type_group", {"99": 1})
        if age < 18:
            return pick("ward_type_group", {"04": 1})
        if ld in ("L", "B") and rng.random() < 0.4:
            return pick("ward_type_group", {"07": 1})
        if age >= 65:
            return pick("ward_type_group", {"02": 70, "01": 20, "06": 5, "05": 3, "03": 2})
        weights: dict[str, float] = {"01": 62, "03": 10, "05": 9, "06": 10, "08": 2, "98": 2}
        if sex == "2" and age < 45:
            weights["09"] = 1
        return pick("ward_type_group", weights)

    def restrictive_intervention(self, category: str, kind: str) -> str:
        if kind == "07":
            return "Y"
        if category == "IPD":
            return self.pick("restrictive_intervention_24h", {"N": 86, "Y": 8, "U": 6})
        return self.pick("restrictive_intervention_24h", {"N": 75, "U": 25})

    def review_method(self, category: str, kind: str, ld: str) -> str:
        if ld in ("L", "B") and self.rng.random() < 0.5:
            return self.pick("review_method", {"03": 1})
        weights: Weights
        if category == "IPD" and kind in _UNNATURAL:
            weights = {"04": 40, "05": 15, "06": 15, "07": 15, "01": 10, "11": 5}
        elif category == "IPD":
            weights = {"01": 45, "02": 30, "06": 15, "05": 5, "09": 5}
        elif category in ("D30", "AWA"):
            weights = {"01": 25, "02": 25, "06": 20, "07": 5, "04": 10, "10": 15, "11": 3}
        else:
            weights = {"10": 50, "06": 20, "01": 20, "09": 10}
        return self.pick("review_method", weights)

    def family_involvement(self, review: str, completed: dt.date | None) -> str | None:
        if completed is not None:
            return self.pick("family_involvement", {"Y": 60, "D": 15, "N": 25})
        if review == "10":
            return self.pick("family_involvement", {"X": 1})
        return (
            None if self.rng.random() < 0.5 else self.pick("family_involvement", {"Y": 3, "N": 2})
        )

    def cqc(self, category: str, detention: str) -> str:
        # Deaths of detained patients must be notified (Regulation 17), wherever they happen.
        if detention in _DETAINED:
            return "Y"
        if category == "IPD":
            return self.pick("cqc_notified", {"Y": 6, "N": 1, "X": 3})
        return self.pick("cqc_notified", {"X": 85, "N": 15})

    def notification(self, category: str, status: str) -> tuple[str, int]:
        """How the provider learned of the death, and how many days after it."""
        rng, pick = self.rng, self.pick
        if category == "IPD" and status == "06":
            return pick("notification_source", {"07": 6, "01": 4}), rng.randint(0, 2)
        if category == "IPD" and status == "05":
            return pick("notification_source", {"06": 6, "01": 4}), rng.randint(0, 3)
        if category == "IPD":
            return pick("notification_source", {"01": 1}), 0 if rng.random() < 0.9 else 1
        if status == "08":
            return pick("notification_source", {"01": 5, "07": 5}), rng.randint(0, 2)
        source = pick(
            "notification_source", {"02": 30, "03": 15, "04": 20, "05": 15, "06": 8, "07": 12}
        )
        lags = {"02": (2, 21), "03": (1, 14), "04": (0, 7), "05": (1, 10), "06": (0, 3)}
        return source, rng.randint(*lags.get(source, (0, 5)))

    def new_id(self, prefix: str, digits: int, used: set[str]) -> str:
        while True:
            value = f"{prefix}{self.rng.randrange(10**digits):0{digits}d}"
            if value not in used:
                used.add(value)
                return value

    def postcode(self) -> str:
        rng = self.rng
        unit = "".join(rng.choice(_POSTCODE_UNIT) for _ in range(2))
        return f"{self.p.postcode_area}{rng.randint(1, 20)} {rng.randint(0, 9)}{unit}"

"""Linking death registrations to MHSDS spells under the agreed definitions (issue 16).

A registration is linked to a spell of the same person when the death falls in the providers'
reporting obligation: the spell was open at death (or closed by it), or it ended in a live
discharge at most 3 calendar months before. The window is one SQL condition, made here from the
canonical spec's own ``within_3_months`` definition, and used both by the load (which keeps only
the registrations it links) and by the views, so what is kept and what is linked cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence

from mhdeaths import language as ex
from mhdeaths.engines.sql_engine import attribution_window_sql, derive_sql, ident
from mhdeaths.spec import Spec
from mhdeaths.spec.loading import expand_crosswalks
from mhdeaths.warehouse.canonical import DUCKDB_TYPES

DEATH_CLOSES_SPELL_DAYS = 3
"""A spell closed by the death (discharge method 4) up to this many days after the registered
date of death is the same death: the HES-ONS linked mortality data merge dates of death up to 3
days apart (design/completeness-linkage.md, section 11)."""

BED_DAYS_TOLERANCE = 0.02
"""Occupied bed days from the spells feed and from a provider's activity differ when more than
this share of the larger apart: a provider's own count and MHSDS ward stays treat leave and moves
between wards differently, so a small gap is not a finding (the counts must agree exactly)."""

DIED = "'4'"
"""Discharge method 4: the patient died (MHSDS MethOfDischMHHospProvSpell)."""


def open_at_death_sql() -> str:
    """The spell was open when the person died: not yet discharged, discharged after the death,
    or closed by the death within the tolerance. Reads ``death_date`` (the registration's),
    ``admission_date``, ``discharge_date`` and ``discharge_method`` (the spell's)."""
    return (
        "(admission_date <= death_date AND (discharge_date IS NULL "
        f"OR (discharge_method = {DIED} AND discharge_date >= death_date - {DEATH_CLOSES_SPELL_DAYS})"
        f" OR (discharge_method IS DISTINCT FROM {DIED} AND discharge_date > death_date)))"
    )


def window_sql(canonical: Spec) -> str:
    """The linkage window over the columns of ``open_at_death_sql``: open at death, or a live
    discharge within 3 calendar months, by the canonical version's ``within_3_months``."""
    within = canonical.definition("within_3_months")
    return f"({open_at_death_sql()} OR ({ex.to_duckdb(within.expression)}))"


REGISTERED_CAUSE_FIELDS = ("underlying_cause_icd10", "underlying_cause_source")
"""What a linked registration gives a reported death: the registered underlying cause, whose
source is then R (registered), as the cause precedence of the definitions expects."""


def rederived_in_place_sql(spec: Spec, table: str, source: str, names: Sequence[str]) -> str:
    """A query over ``source`` with the named definitions derived again from its columns, each
    replacing its column where it stands (in the order given: each reads those before it)."""
    query = f"SELECT * FROM {source}"
    for i, name in enumerate(names):
        expression = ex.to_duckdb(spec.definition(name).expression)
        query = f"SELECT * REPLACE (({expression}) AS {ident(name)}) FROM ({query}) AS c{i}"
    return query


def registered_cause_sql(canonical: Spec) -> str:
    """The death records current at ``as_at`` (in a macro taking it), with the registered
    underlying cause of the person's kept registration in place of the provider's, and the
    cause definitions derived again from it; the provider's own code and the registration's
    date stay beside it. A record of a person with no kept registration is as submitted."""
    icd, source = REGISTERED_CAUSE_FIELDS
    joined = (
        f"(SELECT r.* REPLACE ("
        f"coalesce(g.underlying_cause_icd10, r.{icd}) AS {icd}, "
        f"CASE WHEN g.underlying_cause_icd10 IS NOT NULL THEN 'R' ELSE r.{source} END AS {source}),"
        f" r.{icd} AS reported_{icd}, r.{source} AS reported_{source},"
        " g.registration_date, g.underlying_cause_icd10 AS registered_underlying_cause_icd10,"
        " g.registration_date IS NOT NULL AS registered"
        " FROM death_records_as_at(as_at) AS r"
        " LEFT JOIN registrations_as_at(as_at) AS g USING (nhs_number_pseudonym))"
    )
    names = canonical.reads.readers_of("death", set(REGISTERED_CAUSE_FIELDS))
    return rederived_in_place_sql(canonical, "death", joined, names)


def candidates_sql(canonical: Spec, registrations: Spec | None) -> str:
    """Each current registration with each current spell of the same person in the linkage
    window, as a death record in the canonical shape, as if the provider holding the spell had
    reported the death; with the canonical definitions derived over it and its rank among the
    person's candidates by the spec's own attribution order (the first is the index spell).

    For use in a macro taking ``as_at``. What the feeds cannot know is NULL, and the definitions
    that read it give NULL or FALSE, as for a record that leaves the field empty."""
    supplied = {
        "spec_version": ex.duckdb_literal(canonical.version),
        "org_id_provider": "org_id_provider",
        "reporting_period": "strftime(death_date, '%Y-%m')",
        "death_record_id": "'reg:' || hosp_prov_spell_id",
        "nhs_number_pseudonym": "nhs_number_pseudonym",
        "death_date": "death_date",
        "patient_status_at_death": "CASE WHEN spell_open_at_death THEN '01' ELSE '07' END",
        "hosp_prov_spell_id": "hosp_prov_spell_id",
        "admission_date": "admission_date",
        "decision_to_admit_date": "decision_to_admit_date",
        "ward_type_group": "ward_type_group",
        # A spell ended by the death is discharged on the day of death by method 4 (died).
        "discharge_date": "CASE WHEN spell_open_at_death THEN death_date ELSE discharge_date END",
        "discharge_method": f"CASE WHEN spell_open_at_death THEN {DIED} ELSE discharge_method END",
        "discharge_destination": (
            "CASE WHEN spell_open_at_death THEN '79' ELSE discharge_destination END"
        ),
        "receiving_provider": "receiving_provider",
        "underlying_cause_icd10": "underlying_cause_icd10",
        "underlying_cause_source": "'R'",
        "age_at_death": "age_at_death",
        # Sex as registered, in the dataset's codes by the feed's own crosswalk.
        "stated_gender": expand_crosswalks(
            "nullif({crosswalk:registered_sex.stated_gender(registered_sex)}, '')",
            {c.name: c for c in registrations.code_lists},
        )
        if registrations is not None
        else "CAST(NULL AS VARCHAR)",
        "place_of_death_type": "place_of_death_type",
    }
    death = canonical.table("death")
    derived = {d.name for d in canonical.definitions_for("death")}
    read = set().union(
        *(ex.parse(d.expression).columns for d in canonical.definitions_for("death"))
    )
    unknown = {
        f.name: f"CAST(NULL AS {DUCKDB_TYPES[f.type]})"
        for f in death.fields
        if f.name in read and f.name not in derived and f.name not in supplied
    }
    columns = ",\n    ".join(
        f"{sql} AS {ident(name)}" for name, sql in {**supplied, **unknown}.items()
    )
    pairs = f"""
SELECT r.nhs_number_pseudonym, r.death_date, r.registration_date, r.underlying_cause_icd10,
       r.age_at_death, r.registered_sex, r.place_of_death_type,
       s.org_id_provider, s.hosp_prov_spell_id, s.admission_date, s.decision_to_admit_date,
       s.discharge_date, s.discharge_method, s.discharge_destination, s.ward_type_group,
       (SELECT arg_min(n.org_id_provider, n.admission_date) FROM spells_as_at(as_at) AS n
        WHERE n.nhs_number_pseudonym = s.nhs_number_pseudonym
          AND n.org_id_provider <> s.org_id_provider
          AND n.admission_date BETWEEN s.discharge_date AND s.discharge_date + 2)
           AS receiving_provider,
       {open_at_death_sql()} AS spell_open_at_death
FROM registrations_as_at(as_at) AS r
JOIN spells_as_at(as_at) AS s USING (nhs_number_pseudonym)
WHERE {window_sql(canonical)}"""
    candidates = (
        f"(SELECT {columns},\n    spell_open_at_death, registration_date, "
        f"{ex.duckdb_literal(CANDIDATE_MARK)} AS linked_from\nFROM ({pairs}) AS p)"
    )
    derived_sql = derive_sql(canonical, "death", candidates, keep={"age_at_death"})
    rank = attribution_window_sql(canonical, {"nhs_number": "nhs_number_pseudonym"})
    return f"SELECT *, row_number() OVER ({rank}) AS candidate_rank FROM ({derived_sql}) AS d"


CANDIDATE_MARK = "registration"
"""What a linked candidate says it was made from (a death record says nothing: it was reported)."""


def registrations_spec(canonical: Spec) -> Spec | None:
    """The newest registrations feed spec beside the canonical version's spec folder (None when
    that folder has no feeds: a standards team's own copy of the dataset's spec)."""
    from mhdeaths.spec import feed_roots, load_feed_spec

    root = canonical.path.parent
    return (
        load_feed_spec("registrations", None, root) if "registrations" in feed_roots(root) else None
    )

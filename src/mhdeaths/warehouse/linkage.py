"""Linking death registrations to MHSDS spells under the agreed definitions (issue 16).

A registration is linked to a spell of the same person when the death falls in the providers'
reporting obligation: the spell was open at death (or closed by it), or it ended in a live
discharge at most 3 calendar months before. The window is one SQL condition, made here from the
canonical spec's own ``within_3_months`` definition, and used both by the load (which keeps only
the registrations it links) and by the views, so what is kept and what is linked cannot drift.
"""

from __future__ import annotations

from mhdeaths import language as ex
from mhdeaths.spec import Spec

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

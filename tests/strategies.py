"""Hypothesis strategies derived from the spec: records as a provider would send them.

Nothing here names a field or a code: every value comes from a field's type, code list, pattern,
range or example, so the strategies follow the spec as it changes.
"""

from __future__ import annotations

import datetime as dt
import string

from hypothesis import strategies as st

from mhdeaths.spec import ExampleRecord, FieldType, Mandation, Spec, SpecField, Table

# Dates close together, so that the agreed definitions see every ordering of the spell's dates
# and the 0, 7, 30, 31 and 90 day edges.
BASE = dt.date(2027, 4, 12)


def near_dates(days: int = 100) -> st.SearchStrategy[str]:
    return st.integers(-days, 10).map(lambda d: (BASE + dt.timedelta(days=d)).isoformat())


def valid_text(spec: Spec, field: SpecField) -> st.SearchStrategy[str]:
    """A value of the field that passes its own field checks."""
    if field.code_list:
        return st.sampled_from(spec.code_list(field.code_list).valid_codes())
    if field.type is FieldType.DATE:
        if field.identifier:  # a date of birth
            return st.dates(dt.date(1920, 1, 1), dt.date(2015, 12, 31)).map(dt.date.isoformat)
        return near_dates()
    if field.type is FieldType.TIME:
        return st.times().map(lambda t: t.strftime("%H:%M"))
    if field.type is FieldType.INTEGER:
        low = field.minimum if field.minimum is not None else 0
        high = field.maximum if field.maximum is not None else 10_000
        return st.integers(low, min(high, 5_000)).map(str)
    if field.type is FieldType.DECIMAL:
        return st.decimals(0, 1000, places=2).map(str)
    if field.pattern:
        strategy = st.from_regex(f"^(?:{field.pattern})$", fullmatch=True).filter(
            lambda s: "\n" not in s
        )
        if field.max_length:
            strategy = strategy.filter(lambda s: 0 < len(s) <= (field.max_length or 0))
        return strategy
    alphabet = string.ascii_letters + string.digits
    return st.text(alphabet, min_size=1, max_size=field.max_length or 20)


def messy_text(spec: Spec, field: SpecField) -> st.SearchStrategy[str | None]:
    """Anything a provider's extract might hold in the field: valid, empty, or wrong."""
    wrong = st.one_of(
        st.text(string.ascii_letters + string.digits + " -./:", max_size=12),
        st.just("31/02/2027"),
        st.just("~~"),
    )
    return st.one_of(valid_text(spec, field), st.none(), wrong)


def records(
    spec: Spec,
    table: Table,
    *,
    messy: bool = False,
    max_size: int = 12,
    fixed: ExampleRecord | None = None,
) -> st.SearchStrategy[list[ExampleRecord]]:
    """Lists of records of one table. Mandatory fields are always filled unless messy."""
    fixed = fixed or {}
    fields = {}
    for f in table.submitted_fields:
        if f.name in fixed:
            fields[f.name] = st.just(fixed[f.name])
        elif messy:
            fields[f.name] = messy_text(spec, f)
        elif f.mandation is Mandation.MANDATORY:
            fields[f.name] = valid_text(spec, f).map(lambda v: v)
        else:
            fields[f.name] = st.one_of(st.none(), valid_text(spec, f))
    record = st.fixed_dictionaries(fields)
    return st.lists(record, min_size=1, max_size=max_size)  # type: ignore[arg-type]

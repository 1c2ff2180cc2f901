"""The published JSON Schema accepts what providers may send and rejects what the rules reject."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mhdeaths.language import to_polars
from mhdeaths.spec import FieldType, Mandation, Rule, Spec, SpecField, Table, load_spec
from mhdeaths.standard.publish.common import TYPE_PATTERNS, anchored
from mhdeaths.standard.publish.json_schema import table_schema, write_json_schemas

SPEC = load_spec("1.0.0")
TABLES = [t.name for t in SPEC.tables]


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The schemas as written to disk, so the tests read what is published, not a dict."""
    out = tmp_path_factory.mktemp("schema")
    paths = write_json_schemas(SPEC, out)
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text("utf-8")) for p in paths}


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def example_record(table: Table) -> dict[str, str | None]:
    return {f.name: f.example for f in table.submitted_fields if f.example is not None}


def problems(schema: dict[str, Any], record: dict[str, Any]) -> set[tuple[str, str]]:
    """Each error as (field, JSON Schema keyword); a missing or unknown field has field ""."""
    found = set()
    for error in validator(schema).iter_errors(record):
        field = str(error.absolute_path[0]) if error.absolute_path else ""
        found.add((field, str(error.validator)))
    return found


# --- the schema itself -----------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_schema_is_valid_draft_2020_12(schemas: dict[str, dict[str, Any]], table: str) -> None:
    schema = schemas[table]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://mhdeaths.example/spec/1.0.0/{table}.schema.json"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("table", TABLES)
def test_schema_has_every_submitted_field_and_no_derived_one(
    schemas: dict[str, dict[str, Any]], table: str
) -> None:
    spec_table = SPEC.table(table)
    schema = schemas[table]
    assert list(schema["properties"]) == [f.name for f in spec_table.submitted_fields]
    assert schema["required"] == [
        f.name for f in spec_table.fields if f.mandation is Mandation.MANDATORY
    ]


def test_numeric_range_is_stated_in_the_description(schemas: dict[str, dict[str, Any]]) -> None:
    admissions = schemas["activity"]["properties"]["admissions"]
    assert "0 to 1000000" in admissions["description"]
    assert "minimum" not in admissions


def test_identifier_fields_say_they_are_never_shown(schemas: dict[str, dict[str, Any]]) -> None:
    for name in ("nhs_number", "person_birth_date", "postcode", "local_patient_id"):
        assert "never shown in reports" in schemas["death"]["properties"][name]["description"]


# --- valid and broken records ----------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_a_record_of_the_field_examples_is_valid(
    schemas: dict[str, dict[str, Any]], table: str
) -> None:
    assert problems(schemas[table], example_record(SPEC.table(table))) == set()


def test_optional_fields_may_be_null_or_left_out(schemas: dict[str, dict[str, Any]]) -> None:
    table = SPEC.table("death")
    record = example_record(table)
    optional = [f.name for f in table.submitted_fields if f.mandation is not Mandation.MANDATORY]
    nulled = {**record, **dict.fromkeys(optional)}
    left_out = {k: v for k, v in record.items() if k not in optional}
    assert problems(schemas["death"], nulled) == set()
    assert problems(schemas["death"], left_out) == set()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"record_action": "Q"}, ("record_action", "enum")),
        ({"ethnic_category": "a"}, ("ethnic_category", "enum")),
        ({"death_date": "12/04/2027"}, ("death_date", "pattern")),
        ({"death_date": "2027-02-30"}, ("death_date", "format")),
        ({"death_time": "25:00"}, ("death_time", "pattern")),
        ({"nhs_number": "943 476 5919"}, ("nhs_number", "pattern")),
        ({"death_record_id": "D" * 37}, ("death_record_id", "maxLength")),
        ({"local_patient_id": ""}, ("local_patient_id", "minLength")),
        ({"death_date": None}, ("death_date", "type")),
        ({"surname": "Smith"}, ("", "additionalProperties")),
    ],
)
def test_a_broken_death_record_is_rejected(
    schemas: dict[str, dict[str, Any]], change: dict[str, Any], expected: tuple[str, str]
) -> None:
    record = {**example_record(SPEC.table("death")), **change}
    assert expected in problems(schemas["death"], record)


@pytest.mark.parametrize("missing", ["death_date", "record_action", "spec_version"])
def test_a_record_without_a_mandatory_field_is_rejected(
    schemas: dict[str, dict[str, Any]], missing: str
) -> None:
    record = example_record(SPEC.table("death"))
    del record[missing]
    assert ("", "required") in problems(schemas["death"], record)


def test_integer_text_is_checked_but_not_its_range(schemas: dict[str, dict[str, Any]]) -> None:
    record = example_record(SPEC.table("activity"))
    assert ("admissions", "pattern") in problems(
        schemas["activity"], {**record, "admissions": "1.5"}
    )
    # Out of range, but a text value cannot carry a numeric range: the validator's job.
    assert problems(schemas["activity"], {**record, "admissions": "2000000"}) == set()


_SCHEMA_CHECKS = {"mandatory", "code_list", "pattern", "type", "max_length"}


@pytest.mark.parametrize(
    "rule",
    [r for r in SPEC.rules if r.generated_from in _SCHEMA_CHECKS],
    ids=lambda r: r.id,
)
def test_each_per_field_rules_counterexample_is_rejected(
    schemas: dict[str, dict[str, Any]], rule: Rule
) -> None:
    # The spec's own counterexample of each per-field rule the schema can express must fail it,
    # so the schema can never be looser than the rules it mirrors.
    (field,) = rule.fields
    (bad,) = rule.counterexample
    record = {**example_record(SPEC.table(rule.table)), field: bad[field]}
    assert problems(schemas[rule.table], record), rule.id


# --- the type patterns are the validator's --------------------------------------------------


_SAMPLES = [
    "12", "+12", "-3", "007", "1.5", "-1.25", "1.", ".5", "1e3", "", " 12", "1234567890123456",
    "2027-04-12", "2027-4-12", "27-04-12", "2027-02-30", "14:35", "14:35:09", "24:00", "9:05",
    "14:60", "abc",
]  # fmt: skip


@pytest.mark.parametrize("field_type", list(TYPE_PATTERNS), ids=lambda t: t.value)
def test_type_patterns_agree_with_the_validators_is_functions(field_type: FieldType) -> None:
    pattern = re.compile(anchored(TYPE_PATTERNS[field_type]))
    frame = pl.DataFrame({"x": _SAMPLES}).select(to_polars(f"is_{field_type.value}(x)").alias("ok"))
    engine = frame["ok"].to_list()
    for sample, accepted in zip(_SAMPLES, engine, strict=True):
        shaped = pattern.search(sample) is not None
        if field_type is FieldType.DATE:
            # The pattern gives the shape; the schema's format "date" rejects impossible days.
            real = shaped and _is_real_date(sample)
            assert real == accepted, sample
        else:
            assert shaped == accepted, sample


def _is_real_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


# --- property: any record the spec allows satisfies the schema -------------------------------


def value_strategy(spec: Spec, field: SpecField) -> st.SearchStrategy[str]:
    """Text a provider may send for a field, as the spec defines it."""
    choices: list[st.SearchStrategy[str]] = []
    if field.example is not None:
        choices.append(st.just(field.example))
    if field.code_list:
        choices.append(st.sampled_from(spec.code_list(field.code_list).valid_codes()))
    elif field.type is FieldType.DATE:
        choices.append(st.dates().map(dt.date.isoformat))
    elif field.type is FieldType.TIME:
        choices.append(st.times().map(lambda t: t.strftime("%H:%M")))
        choices.append(st.times().map(lambda t: t.strftime("%H:%M:%S")))
    elif field.type is FieldType.INTEGER:
        low = field.minimum if field.minimum is not None else -(10**15) + 1
        high = field.maximum if field.maximum is not None else 10**15 - 1
        choices.append(st.integers(min_value=low, max_value=high).map(str))
    elif field.type is FieldType.DECIMAL:
        number = st.decimals(
            min_value=Decimal(-(10**14)), max_value=Decimal(10**14), places=2, allow_nan=False
        )
        choices.append(number.map(lambda d: format(d, "f")))
    elif field.pattern:
        text = st.from_regex(f"(?:{field.pattern})", fullmatch=True)
        if field.max_length is not None:
            limit = field.max_length
            text = text.filter(lambda s: len(s) <= limit)
        choices.append(text)
    else:
        choices.append(st.text(min_size=1, max_size=field.max_length or 40))
    return st.one_of(choices)


def record_strategy(spec: Spec, table: Table) -> st.SearchStrategy[dict[str, str | None]]:
    required = {}
    optional: dict[str, st.SearchStrategy[str | None]] = {}
    for field in table.submitted_fields:
        if field.mandation is Mandation.MANDATORY:
            required[field.name] = value_strategy(spec, field)
        else:
            optional[field.name] = st.none() | value_strategy(spec, field)
    return st.fixed_dictionaries(required, optional=optional)


_VALIDATORS = {t.name: validator(table_schema(SPEC, t)) for t in SPEC.tables}


@pytest.mark.parametrize("table", TABLES)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_record_the_spec_allows_satisfies_the_schema(table: str, data: st.DataObject) -> None:
    record = data.draw(record_strategy(SPEC, SPEC.table(table)))
    errors = [e.message for e in _VALIDATORS[table].iter_errors(record)]
    assert errors == []


def test_published_file_is_the_schema(tmp_path: Path) -> None:
    (path, *_) = write_json_schemas(SPEC, tmp_path)
    assert json.loads(path.read_text("utf-8")) == table_schema(SPEC, SPEC.tables[0])

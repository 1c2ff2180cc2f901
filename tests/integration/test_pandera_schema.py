"""The spec as a pandera schema, run by pandera on every example submission, in polars and pandas.

Each file is read as the schema's docs say (the text as submitted, every column a string); the
schema must find exactly the validator's findings of the rules it states, by rule and row, and
nothing else, on the files in the published layout; a provider's own layout (RZ9's headers) lacks
the mandatory columns, which the schema says. The planted files of ``test_published_clients`` add
a row per one-field rule. Files of one version, table and header are validated as one frame:
each record's codes are its own period's, so months may share a frame, and pandera's run costs
the same whatever the frame's size.

A second test attacks the privacy guarantee: an NHS number, a date of birth and a postcode that
fail their rules appear nowhere in what pandera reports (the error, its failure cases, a warning).
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.errors as pe
import polars as pl
import pytest

from mhdeaths import guard
from mhdeaths.paths import examples_root
from mhdeaths.spec import RuleKind, Scope, load_spec, rule_kind
from mhdeaths.standard import pandera_schema

from .test_published_clients import ExampleFile, Found, _example_files, in_layout

pytestmark = pytest.mark.slow

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> list[ExampleFile]:
    return list(_example_files(tmp_path_factory.mktemp("planted")))


def read(path: Path, backend: str) -> Any:
    if backend == "polars":
        return pl.read_csv(path, infer_schema=False)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def every_check(schema: Any) -> Iterator[Any]:
    yield from schema.checks
    for column in schema.columns.values():
        yield from column.checks


def findings(schema: Any, frame: Any) -> tuple[list[tuple[str, int]], list[str]]:
    """The (rule id, position) of every failing check, warnings included, and any other error
    (a dtype, a missing column) by pandera's own words."""
    for check in every_check(schema):
        check.raise_warning = False  # the validator's warnings are findings too
    try:
        schema.validate(frame, lazy=True)
    except pe.SchemaErrors as errors:
        cases = errors.failure_cases
        rows = cases.to_dicts() if isinstance(cases, pl.DataFrame) else cases.to_dict("records")
    else:
        return [], []
    rules = {c.name for c in every_check(schema)}
    assert all(r["index"] is not None for r in rows if r["check"] in rules), [
        (r["check"], r["failure_case"]) for r in rows if r["index"] is None and r["check"] in rules
    ][:5]
    found = [(r["check"], int(r["index"])) for r in rows if r["check"] in rules]
    other = [str(r["check"]) for r in rows if r["check"] not in rules]
    return found, other


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_the_schema_finds_what_the_validator_finds(
    examples: list[ExampleFile], backend: str
) -> None:
    groups: dict[tuple[str, str, tuple[str, ...]], list[tuple[ExampleFile, Any]]] = {}
    for example in examples:
        frame = read(example.path, backend)
        key = (example.spec.version, example.table, tuple(frame.columns))
        groups.setdefault(key, []).append((example, frame))
    found: dict[Path, Found] = defaultdict(set)
    stated_in: dict[tuple[str, str], set[str]] = {}
    for (version, table, _), members in groups.items():
        schema = pandera_schema(version, table, backend)  # type: ignore[arg-type]
        stated_in[version, table] = {c.name for c in every_check(schema)}
        frames = [f for _, f in members]
        whole = pl.concat(frames) if backend == "polars" else pd.concat(frames, ignore_index=True)
        origin = [(e.path, row + 2) for e, f in members for row in range(len(f))]
        rules, other = findings(schema, whole)
        for rule_id, index in rules:
            path, row = origin[index]
            found[path].add((rule_id, row))
        if all(in_layout(e) for e, _ in members):
            assert other == [], (version, table, other)
        else:
            assert "column_in_dataframe" in other
    for example in examples:
        if not in_layout(example):
            continue
        stated = stated_in[example.spec.version, example.table]
        expected = {(r, row) for r, row in example.findings if r in stated}
        assert found[example.path] == expected, example.path
    # Not all clean: the known-bad and planted rows hold findings across fields and of one field.
    kinds = {rule_kind(e.spec, e.spec.rule(r)) for e in examples for r, _ in found[e.path]}
    assert kinds == {RuleKind.FIELD, RuleKind.CROSS_FIELD}


def test_the_schema_states_every_rule_on_one_record_and_lists_the_rest() -> None:
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        spec = load_spec(version)
        for table in spec.tables:
            schema = pandera_schema(version, table.name)
            stated = {c.name for c in every_check(schema)}
            rules = spec.rules_for(table.name)
            on_one_record = {
                r.id
                for r in rules
                if r.scope is Scope.RECORD
                and rule_kind(spec, r) in {RuleKind.FIELD, RuleKind.CROSS_FIELD}
            }
            assert stated == on_one_record
            assert set(schema.metadata["not_expressible"]) == {r.id for r in rules} - stated


# --- Privacy -------------------------------------------------------------------------------------

NHS_NUMBER = "9434765919"  # passes the check digit: a real NHS number's shape
BIRTH_DATE = "1980-05-17"
POSTCODE = "LS1 4AP"


def _attacked(backend: str) -> tuple[Any, list[str]]:
    """A frame of one death whose identifiers break their rules, and the texts that must not
    appear: the NHS number where a reference is given, a birth after the death, a postcode too
    long; and an NHS number one digit short."""
    spec = load_spec("2.0.0")
    table = spec.table("death")
    good = {f.name: f.example for f in table.submitted_fields}
    good["spec_version"] = spec.version
    short = NHS_NUMBER[:9]
    reference = next(f.name for f in table.submitted_fields if f.reference)
    rows = [
        {**good, "nhs_number": short, "person_birth_date": BIRTH_DATE, "death_date": "1979-01-01"},
        {**good, "postcode": f"{POSTCODE} {POSTCODE} {POSTCODE}", reference: NHS_NUMBER},
    ]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(good, pl.String))
    secrets = [NHS_NUMBER, short, BIRTH_DATE, POSTCODE.replace(" ", "")]
    return (frame if backend == "polars" else frame.to_pandas()), secrets


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_no_identifier_appears_in_what_pandera_reports(backend: str) -> None:
    frame, secrets = _attacked(backend)
    schema = pandera_schema("2.0.0", "death", backend)  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(pe.SchemaErrors) as raised:
            schema.validate(frame, lazy=True)
    errors = raised.value
    cases = errors.failure_cases
    failed = set(cases["check"])
    # The attack reached the identifier fields' own rules and a rule across them.
    assert {"death.pattern.nhs_number", "death.dates.birth_not_after_death"} <= failed, failed
    assert any(c.startswith("death.no_identifier.") for c in failed), failed
    assert guard.WITHHELD in set(cases["failure_case"].to_list())
    reported = " ".join(
        [str(errors), repr(errors), cases.to_pandas().to_csv() if backend == "polars" else ""]
        + ([cases.to_csv()] if backend == "pandas" else [])
        + [str(w.message) for w in caught]
        + [str(e) for e in errors.schema_errors]
    )
    squeezed = re.sub(r"[^0-9A-Za-z]", "", reported)
    for secret in secrets:
        assert secret not in reported and re.sub(r"[^0-9A-Za-z]", "", secret) not in squeezed


def _guide_snippet() -> str:
    (snippet,) = re.findall(
        r"## 7\. The spec as a pandera schema\n.*?```python\n(.*?)```",
        GUIDE.read_text(encoding="utf-8"),
        flags=re.S,
    )
    return str(snippet)


def test_the_analysts_guide_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = examples_root() / "RZ1" / "RZ1_2027-10_death.csv"
    monkeypatch.chdir(tmp_path)
    (tmp_path / example.name).write_bytes(example.resolve().read_bytes())
    namespace: dict[str, Any] = {}
    exec(compile(_guide_snippet(), str(GUIDE), "exec"), namespace)
    assert namespace["valid"].height == pl.read_csv(example, infer_schema=False).height

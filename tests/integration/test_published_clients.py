"""The published GX suites and Data Package, run by their real clients on every example submission.

Great Expectations 1.x reads each CSV as its users do (pandas, every column as text, as the suite's
``meta.usage`` says) and frictionless validates the Data Package's resource on the file; each must
find exactly the validator's findings of the rules it states, by rule and row, and nothing on the
rules it lists as not expressible that the validator does not find too. A provider's own layout
(RZ9's headers, mapped by its profile) is not the published layout: there both clients and the
validator without the profile must refuse the file's columns.

One GX context serves the module, and GX validates each version's table once, over the files
concatenated (a GX run costs seconds whatever its size).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import frictionless
import pandas as pd
import pytest

from mhdeaths.paths import examples_root
from mhdeaths.spec import Scope, Spec, load_spec
from mhdeaths.standard.publish.datapackage import expressible, write_data_package
from mhdeaths.standard.publish.gx import USAGE, write_gx_suites
from mhdeaths.validate.submission_files import group_submission_files
from mhdeaths.validate.validator import validate

Found = set[tuple[str, int]]
"""(rule id, row): a row as the user sees it, the header being row 1."""

#: Frictionless's constraint names, as the spec's check templates call the same check.
CONSTRAINT_CHECKS = {
    "required": "mandatory",
    "enum": "code_list",
    "pattern": "pattern",
    "minimum": "range",
    "maximum": "range",
    "maxLength": "max_length",
}


@dataclass
class ExampleFile:
    path: Path
    spec: Spec
    table: str
    findings: Found = field(default_factory=set)
    structure: set[str] = field(default_factory=set)
    """The rule ids of the validator's findings about the file's columns."""


PER_FIELD = {"mandatory", "required", "code_list", "pattern", "type", "range", "max_length"}


def plant_counterexamples(spec: Spec, folder: Path) -> Path:
    """A death file of the spec's field examples, then one row per one-field rule breaking it.

    The examples hold no finding of a one-field rule (their known-bad records break rules across
    fields), so without these rows the comparison would only ever compare nothing with nothing.
    """
    table = spec.table("death")
    names = [f.name for f in table.submitted_fields]
    good = {f.name: f.example or "" for f in table.submitted_fields}
    good["spec_version"] = spec.version  # the field's example is the version it came in
    rows = [good]
    for number, rule in enumerate(spec.rules_for("death")):
        (name,) = rule.fields if rule.generated_from in PER_FIELD else ("",)
        if not name or name in {"spec_version", "org_id_provider", "reporting_period"}:
            continue  # a file of two versions, providers or periods is a whole-file problem
        (bad,) = rule.counterexample
        rows.append({**good, "death_record_id": f"PLANTED-{number}", name: bad[name] or ""})
    path = folder / f"{good['org_id_provider']}_{good['reporting_period']}_death.csv"
    frame = pd.DataFrame(rows, columns=names)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def _example_files(planted: Path) -> Iterator[ExampleFile]:
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        (planted / version).mkdir()
        plant_counterexamples(load_spec(version), planted / version)
    for group in group_submission_files([examples_root(), planted]):
        report = validate(list(group.paths), sample=10**9).report
        assert not report.truncated
        spec = load_spec(report.spec_version)
        for table in report.tables:
            found = [f for f in report.findings if f.file == table.file and f.table == table.name]
            yield ExampleFile(
                path=next(p for p in group.paths if p.name == table.file),
                spec=spec,
                table=table.name,
                findings={(f.rule_id, f.row) for f in found if f.row is not None},
                structure={
                    f.rule_id for f in found if spec.rule(f.rule_id).scope is Scope.STRUCTURE
                },
            )


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> list[ExampleFile]:
    files = list(_example_files(tmp_path_factory.mktemp("planted")))
    assert len(files) == len(list(examples_root().rglob("*.csv"))) + 3
    return files


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, examples: list[ExampleFile]) -> Path:
    out = tmp_path_factory.mktemp("published")
    for version in sorted({e.spec.version for e in examples}):
        spec = load_spec(version)
        write_gx_suites(spec, out / version)
        write_data_package(spec, out / version)
    return out


def read_as_text(path: Path) -> pd.DataFrame:
    # The suite's usage line, exactly: every column as text, only an empty cell missing.
    assert 'pd.read_csv("{table}.csv", dtype=str, keep_default_na=False, na_values=[""])' in USAGE
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def in_layout(example: ExampleFile) -> bool:
    """False for a file in a provider's own layout (headers the profile maps)."""
    return not any(r.endswith("missing_mandatory_column") for r in example.structure)


def _gx_findings(
    published: Path, examples: list[ExampleFile]
) -> tuple[dict[Path, Found], dict[Path, bool]]:
    """Each file's failing (rule, row) under GX, and whether its columns met the critical set."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batches: dict[tuple[str, str, tuple[str, ...]], list[tuple[ExampleFile, pd.DataFrame]]] = {}
    for example in examples:
        frame = read_as_text(example.path)
        key = (example.spec.version, example.table, tuple(frame.columns))
        batches.setdefault(key, []).append((example, frame))
    found: dict[Path, Found] = defaultdict(set)
    columns_ok: dict[Path, bool] = {}
    for (version, table, columns), members in batches.items():
        suite_file = published / version / f"gx-suite-{table}.json"
        descriptor = json.loads(suite_file.read_text("utf-8"))
        descriptor["name"] = f"{descriptor['name']}-{len(context.suites.all())}"
        suite = context.suites.add(gx.ExpectationSuite(**descriptor))
        frame = pd.concat([f for _, f in members], ignore_index=True)
        # Which file and row each line of the concatenated frame came from.
        origin = [(e.path, row + 2) for e, f in members for row in range(len(f))]
        batch = context.data_sources.pandas_default.read_dataframe(frame)
        result = batch.validate(suite, result_format="COMPLETE")
        critical_columns_met = True
        for outcome in result.results:
            config = outcome.expectation_config
            rule_id = config.meta["rule_id"]
            if config.type == "expect_table_columns_to_match_set":
                if config.severity.value == "critical":
                    critical_columns_met = outcome.success
                continue
            if outcome.exception_info.get("raised_exception"):
                # Only a column the file lacks may stop an expectation.
                assert config.kwargs["column"] not in columns, outcome.exception_info
                continue
            for index in outcome.result.get("unexpected_index_list") or []:
                path, row = origin[index]
                found[path].add((rule_id, row))
        for example, _ in members:
            columns_ok[example.path] = critical_columns_met
    return found, columns_ok


def test_great_expectations_finds_what_the_validator_finds(
    published: Path, examples: list[ExampleFile]
) -> None:
    found, columns_ok = _gx_findings(published, examples)
    for example in examples:
        suite = json.loads(
            (published / example.spec.version / f"gx-suite-{example.table}.json").read_text()
        )
        stated = {e["meta"]["rule_id"] for e in suite["expectations"]} - {None}
        assert columns_ok[example.path] == in_layout(example), example.path
        if in_layout(example):
            expected = {(r, row) for r, row in example.findings if r in stated}
            assert found[example.path] == expected, example.path
        else:
            assert "missing_mandatory_column" in " ".join(example.structure)
    # Not all clean: the planted rows hold findings GX states, and GX finds them.
    assert any(found.values())


def _frictionless_findings(published: Path, example: ExampleFile) -> tuple[Found, set[str]]:
    """The file's cell errors as (rule, row), and the kinds of every other error."""
    package = json.loads((published / example.spec.version / "datapackage.json").read_text())
    (descriptor,) = [r for r in package["resources"] if r["name"] == example.table]
    resource = frictionless.Resource(
        {**descriptor, "path": example.path.name}, basepath=str(example.path.parent)
    )
    report = resource.validate()
    cells: Found = set()
    others = set()
    for error in report.flatten(["rowNumber", "fieldName", "type", "note"]):
        row, name, kind, note = error
        if kind == "type-error":
            cells.add((f"{example.table}.type.{name}", row))
        elif kind == "constraint-error":
            constraint = note.split('"')[1]
            cells.add((f"{example.table}.{CONSTRAINT_CHECKS[constraint]}.{name}", row))
        else:
            others.add(kind)
    return cells, others


def test_frictionless_finds_what_the_validator_finds(
    published: Path, examples: list[ExampleFile]
) -> None:
    any_found = False
    for example in examples:
        cells, others = _frictionless_findings(published, example)
        if not in_layout(example):
            # Frictionless reads the header by position: another layout's labels are wrong.
            assert others & {"missing-label", "incorrect-label"}, (example.path, others)
            continue
        assert others == set(), (example.path, others)
        spec = example.spec
        stated = {r.id for r in spec.rules_for(example.table) if expressible(spec, r)}
        assert {f for f in cells if f[0] in stated} == {
            f for f in example.findings if f[0] in stated
        }, example.path
        # A constraint standing in loosely for a rule it cannot state (a code list dated by
        # period holds every code of any period) finds only what the validator finds.
        assert {f for f in cells if f[0] not in stated} <= example.findings, example.path
        any_found |= bool(cells)
    assert any_found


def test_every_example_is_compared(examples: list[ExampleFile]) -> None:
    known_bad = [e for e in examples if "known-bad" in e.path.parts]
    assert known_bad and any(e.findings for e in known_bad)
    planted = [e for e in examples if e.path.parent.name in {"1.0.0", "1.1.0", "2.0.0"}]
    assert len(planted) == 3 and all(len(e.findings) > 20 for e in planted)
    assert {e.spec.version for e in examples} == {"1.0.0", "1.1.0", "2.0.0"}

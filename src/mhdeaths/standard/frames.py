"""The spec as a pandera schema, for analysts who hold a table as a frame in their own notebook.

An analyst with a month's death records in a polars or pandas frame can check them without the
validator's files and reports: ``pandera_schema`` builds a pandera ``DataFrameSchema`` from the
spec version's fields and its rules on one record, so the checks are the spec's and never written
again here. Each rule becomes one pandera check named by the rule's id and evaluated exactly as
the validator evaluates it (``mhdeaths.engines.polars_engine``): the same reading of text into
types, the same derived fields, the same code lists, and a rule that reads a value that does not
read as its type is left to the type rule, as the validator leaves it. A test runs the schema on
every example submission and finds the validator's findings of the rules it states, by row.

**The frame it checks** is the text as submitted: every column a string, an empty cell missing,
as ``pl.read_csv(path, infer_schema=False)`` or ``pd.read_csv(path, dtype=str,
keep_default_na=False, na_values=[""])`` read it. Only that shape matches the validator exactly:
its type checks ask whether the text reads as a date or a number, and a code such as ``01`` read
as a number has lost its leading zero. Each column's dtype is therefore checked as a string.

**What it leaves out**: the rules that compare records (duplicates, one period per file), tables
(cross-table counts) or read the file's columns (``mhdeaths.spec.kinds``) have no counterpart on
a frame's rows; the schema lists their ids in its ``metadata["not_expressible"]``. A column of a
mandatory field is ``required``; a missing one is pandera's finding, and the rules that read it
are then not run (the validator reports the missing column once, not its echoes).

**Code lists and the period**: a code valid only in some reporting periods is checked against the
codes of each record's own ``reporting_period`` (so a frame may hold many months), or against
those of ``period`` when given. A record without a readable period is checked against every code.

**Warnings** (rules of severity warning or information) are pandera warnings (``SchemaWarning``):
the frame validates, as the validator accepts such a submission. Rejects are errors.

**Privacy**: pandera's report of a failed check (``SchemaError``, ``SchemaErrors.failure_cases``,
the warnings) shows failing values. Every check here shows a value only as ``mhdeaths.guard``
lets a report show it (a code of a code field); an NHS number, a date of birth, a postcode or free
text appears as ``guard.WITHHELD``. A frame-wide check shows only the fields its rule reads, not
the whole record. The row index says which record to look at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd  # type: ignore[import-untyped]
import pandera.pandas as pap
import pandera.polars as pa_pl
import polars as pl
from pandera.api.base.checks import CheckResult

from mhdeaths import guard
from mhdeaths import language as ex
from mhdeaths.engines import polars_engine as engine
from mhdeaths.errors import SpecError
from mhdeaths.periods import period_start
from mhdeaths.spec import (
    Definition,
    Mandation,
    Rule,
    RuleKind,
    Scope,
    Severity,
    Spec,
    SpecField,
    Stage,
    Table,
    load_spec,
    rule_kind,
)

if TYPE_CHECKING:
    from pathlib import Path

Backend = Literal["polars", "pandas"]

#: The rule kinds a check on a frame's rows can state: a record's own values.
EXPRESSED = frozenset({RuleKind.FIELD, RuleKind.CROSS_FIELD})
#: The column holding each record's reporting period, whose codes its code lists take.
PERIOD_FIELD = "reporting_period"
_RAW = "raw::"
_PASSES = "passes"
_ROW = "row::"


def pandera_schema(
    version: str | None = None,
    table: str = "death",
    backend: Backend = "polars",
    period: str | None = None,
    *,
    spec_root: Path | None = None,
) -> pa_pl.DataFrameSchema | pap.DataFrameSchema:
    """A pandera schema of one table of a spec version (the newest released when none is named),
    for a frame of the text as submitted: every column a string (see the module's docstring).

    ``backend`` picks the flavour: ``"polars"`` (``pandera.polars``) or ``"pandas"``
    (``pandera.pandas``). ``period`` (CCYY-MM) checks every record's codes against that reporting
    period's; by default each record's own ``reporting_period`` says.

    >>> import polars as pl
    >>> from mhdeaths.standard import pandera_schema
    >>> schema = pandera_schema("1.1.0", "death")
    >>> frame = pl.read_csv("RZ1_2027-10_death.csv", infer_schema=False)  # doctest: +SKIP
    >>> schema.validate(frame, lazy=True)  # doctest: +SKIP

    Each failing check is named by its rule's id (``spec.rule(id)`` has its message and fix).
    """
    spec = load_spec(version, spec_root)
    the_table = spec.table(table)
    fixed = None if period is None else period_start(period)
    rules = spec.rules_for(table)
    expressed = [r for r in rules if r.scope is Scope.RECORD and rule_kind(spec, r) in EXPRESSED]
    per_column: dict[str, list[Rule]] = {}
    frame_wide: list[Rule] = []
    for rule in expressed:
        if rule_kind(spec, rule) is RuleKind.FIELD:
            per_column.setdefault(rule.fields[0], []).append(rule)
        else:
            frame_wide.append(rule)
    metadata = {
        "spec_version": spec.version,
        "table": table,
        "frame": "text as submitted: every column a string, an empty cell missing",
        "not_expressible": [r.id for r in rules if r not in expressed],
    }
    name = f"mhdeaths-{spec.version}-{table}"
    api: Any = pa_pl if backend == "polars" else pap
    if backend not in ("polars", "pandas"):
        raise ValueError(f"backend must be 'polars' or 'pandas', not {backend!r}.")

    def check(rule: Rule, column: str | None) -> Any:
        return _check(spec, the_table, rule, fixed, column, backend)

    columns = {
        f.name: api.Column(
            pl.String if backend == "polars" else pd.StringDtype(na_value=float("nan")),
            nullable=True,
            required=f.mandation is Mandation.MANDATORY,
            checks=[check(r, f.name) for r in per_column.get(f.name, [])],
            title=f.title,
            description=f.definition.strip(),
            metadata={"identifier": f.identifier, "mandation": f.mandation.value},
        )
        for f in the_table.submitted_fields
    }
    schema: pa_pl.DataFrameSchema | pap.DataFrameSchema = api.DataFrameSchema(
        columns,
        checks=[check(r, None) for r in frame_wide],
        name=name,
        title=the_table.title,
        description=(
            f"{the_table.title}, spec {spec.version}: the rules on one record. Validate the text "
            "as submitted (every column a string)."
        ),
        metadata=metadata,
    )
    return schema


# --- Evaluating a rule as the validator does ----------------------------------------------------


def passes(
    spec: Spec, table: Table, rule: Rule, frame: pl.LazyFrame, period: dt.date | None
) -> pl.LazyFrame:
    """One boolean column, True where a record passes ``rule``: the validator's verdict on it.

    ``period`` binds every record's code lists; None binds each record's own period.
    """
    names = set(frame.collect_schema().names())
    reads = {f for t, f in spec.reads.rule(rule) if t == table.name}
    if any(table.field(f).mandation is Mandation.MANDATORY for f in reads - names):
        # The missing column is pandera's finding (the column is required); as in the
        # validator, the rules that read it would only echo it.
        return frame.with_row_index(_PASSES).select(pl.col(_PASSES).is_not_null())
    # Only what the rule reads is read and derived: a check builds its own query.
    needed = reads | set(rule.fields) | {PERIOD_FIELD, rule.dated_by}
    fields = [f for f in table.submitted_fields if f.name in needed]
    raw = {f.name: f"{_RAW}{f.name}" for f in fields}
    # A field without a column is read as empty, as the validator reads it; the row index keeps
    # the frame's height when none of the rule's fields has a column.
    query = (
        frame.with_row_index(_ROW)
        .select(
            pl.col(_ROW),
            *(pl.col(f.name).cast(pl.String).alias(raw[f.name]) for f in fields if f.name in names),
        )
        .with_columns(
            pl.lit(None, pl.String).alias(raw[f.name]) for f in fields if f.name not in names
        )
    )
    query = query.with_columns(engine.typed_column(f, raw[f.name]) for f in fields)
    for definition in _definitions_read(spec, table, rule):
        query = query.with_columns(ex.to_polars(definition.expression).alias(definition.name))
    fails = _fails(spec, rule, frame, period, raw)
    # Where a value the rule reads does not read as its type, the type rule is the finding.
    types = {r.fields[0]: r for r in spec.rules_for(table.name) if r.generated_from == "type"}
    if rule.generated_from != "type":
        causes = [_fails(spec, types[f], frame, period, raw) for f in rule.fields if f in types]
        if causes:
            fails = fails & ~pl.any_horizontal(causes)
    return query.select((~fails).alias(_PASSES))


def _definitions_read(spec: Spec, table: Table, rule: Rule) -> list[Definition]:
    """The table's definitions a rule reads, directly or through another, in the order written."""
    written = spec.definitions_for(table.name)
    wanted = set(ex.parse(ex.bind_codes(rule.expression, [])).columns)
    for definition in reversed(written):
        if definition.name in wanted:
            wanted |= set(ex.parse(definition.expression).columns)
    return [d for d in written if d.name in wanted]


def _fails(
    spec: Spec, rule: Rule, frame: pl.LazyFrame, period: dt.date | None, raw: dict[str, str]
) -> pl.Expr:
    columns = raw if rule.stage is Stage.TEXT else None

    def bound(on: dt.date | None) -> pl.Expr:
        return engine.fails(engine.bound_expression(spec, rule, on).tree, columns)

    if not rule.code_list or period is not None:
        return bound(period)
    if PERIOD_FIELD not in frame.collect_schema().names():
        return bound(None)
    # Each record's codes are those of its own period: one binding per period in the frame.
    texts = frame.select(pl.col(PERIOD_FIELD).cast(pl.String).unique()).collect()
    chain: Any = None
    for text in sorted(v for v in texts.to_series().to_list() if v is not None):
        try:
            on = period_start(text)
        except SpecError:
            continue  # the period's pattern rule says so; the codes of every period apply
        test = pl.col(raw[PERIOD_FIELD]) == text
        chain = pl.when(test).then(bound(on)) if chain is None else chain.when(test).then(bound(on))
    return bound(None) if chain is None else chain.otherwise(bound(None))


# --- Checks whose failure cases show only what a report may show ---------------------------------


def _check(
    spec: Spec,
    table: Table,
    rule: Rule,
    period: dt.date | None,
    column: str | None,
    backend: Backend,
) -> Any:
    warning = rule.severity in (Severity.WARNING, Severity.INFO)
    shown = [column] if column else [f for f in rule.fields if f in table.field_names]
    mask = _masker(spec, table, shown)
    options: dict[str, Any] = {
        "name": rule.id,
        "title": rule.title,
        "description": rule.message,
        "raise_warning": warning,
        "ignore_na": False,  # a missing value is what a mandatory rule fails
    }
    if backend == "polars":

        def on_polars(data: Any) -> pl.LazyFrame:
            return passes(spec, table, rule, data.lazyframe, period)

        return RuleCheck(on_polars, mask=mask, **options)

    def on_pandas(data: pd.DataFrame | pd.Series) -> pd.Series:
        frame = data.to_frame() if isinstance(data, pd.Series) else data
        result = passes(spec, table, rule, pl.from_pandas(frame).lazy(), period).collect()
        return pd.Series(result.to_series().to_numpy(), index=frame.index, dtype=bool)

    return RuleCheck(on_pandas, mask=mask, **options)


Masker = Callable[[Any], Any]


def _masker(spec: Spec, table: Table, shown: list[str]) -> Masker:
    """What a failure case may show: the rule's fields only, each value through the guard."""
    fields: dict[str, SpecField] = {f: table.field(f) for f in shown}

    def show(name: str, values: list[Any]) -> dict[Any, str | None]:
        return {v: guard.value(v, fields.get(name), spec) for v in set(values)}

    def polars(cases: pl.LazyFrame | pl.DataFrame | None) -> pl.LazyFrame | None:
        if cases is None:
            return None
        frame = cases.lazy().collect()
        kept = [c for c in frame.columns if c in fields] or frame.columns[:1]
        columns = []
        for name in kept:
            values = frame.get_column(name).cast(pl.String)
            mapping = show(name, values.to_list())
            columns.append(values.replace_strict(mapping, return_dtype=pl.String).alias(name))
        if not columns:
            columns = [pl.Series("record", [guard.WITHHELD] * frame.height, pl.String)]
        return pl.DataFrame(columns).lazy()

    def pandas(cases: pd.DataFrame | pd.Series | None) -> pd.DataFrame | pd.Series | None:
        if cases is None:
            return None
        if isinstance(cases, pd.Series):
            return _masked_series(cases, show)
        kept = [c for c in cases.columns if c in fields] or list(cases.columns[:1])
        return pd.DataFrame({c: _masked_series(cases[c], show) for c in kept}, index=cases.index)

    def mask(cases: Any) -> Any:
        return polars(cases) if isinstance(cases, pl.LazyFrame | pl.DataFrame) else pandas(cases)

    return mask


def _masked_series(cases: pd.Series, show: Callable[[str, list[Any]], dict[Any, Any]]) -> pd.Series:
    values = [None if pd.isna(v) else str(v) for v in cases.tolist()]
    mapping = show(str(cases.name), values)
    return pd.Series([mapping[v] for v in values], index=cases.index, name=cases.name, dtype=object)


class RuleCheck(pap.Check):
    """A pandera check of one spec rule whose failure cases are masked before pandera reports
    them anywhere (the error, its message, a warning)."""

    def __init__(self, check_fn: Callable[..., Any], *, mask: Masker, **options: Any) -> None:
        super().__init__(check_fn, **options)
        self._mask = mask

    def __call__(self, check_obj: Any, column: str | None = None) -> CheckResult:
        # The backend is the plain Check's: pandera registers its backends for Check itself.
        backend = pap.Check.get_backend(check_obj)(self)
        result: CheckResult = backend(check_obj, column)
        return result._replace(failure_cases=self._mask(result.failure_cases))

"""What a new spec version would do to the national figures, before it is released.

A standards team consulting on a new version needs to say which deaths its definitions would
move, and why: a death counted as suicide that becomes "not yet known", one that leaves the
deaths-after-discharge rate because its discharge was a transfer, two records that become one
death. This module answers it from a real warehouse, read-only: every death record as at a
time is derived twice, under the old version's definitions and under the new one's, from the
same stored columns (the same expressions the validator and the loader run), attributed twice
under each version's attribution rule, and compared record by record.

Each moved death names the definition that moved it: of the definitions the changed figure
reads (itself and everything it reads, from the parsed expressions), the first, in the new
version's order, whose value for that record differs between the two derivations (a definition
the old version lacks differs where its new value is not empty); or ``attribution`` when only the
matching of records changed (first, when it did: a death counted elsewhere or no longer
counted is in no figure of its own provider). Every such definition is listed beside it, in order, so that a
reader sees the whole chain (a holding code set aside by the ICD route shows as the provisional
cause that now decides, then the cause basis, then the cause group).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from mhdeaths import __version__
from mhdeaths import language as ex
from mhdeaths.benchmark.compute import NATIONAL
from mhdeaths.engines.sql_engine import attribution_window_sql, derive_sql, ident
from mhdeaths.errors import UserError
from mhdeaths.spec import Spec, load_spec
from mhdeaths.warehouse.canonical import CanonicalModel, canonical_spec, load_canonical
from mhdeaths.warehouse.overview import reading
from mhdeaths.warehouse.rederive import frozen_definitions

KEY = ("org_id_provider", "death_record_id")
"""A death record, as the warehouse keys it: never the pseudonym, never an identifier."""
COMPARED = ("death_category", "cause_group")
"""The derived figures whose change moves a death between the benchmarks' numerators."""
ATTRIBUTION = "attribution"
"""``moved_by`` for a death whose records were matched or ranked differently."""
TRANSFER = "transfer_discharge"
RESTRICTED = (
    "# RESTRICTED: record-level, for the standards team assessing a spec version; "
    "not for publication."
)


@dataclass(frozen=True)
class Impact:
    """The deaths a new version moves, against an old one, on one warehouse as at one time."""

    new: str
    old: str
    as_at: dt.datetime
    records: int
    """Death records (not withdrawn) as at ``as_at``."""
    moved: pl.DataFrame
    """One row per moved death (``moved_deaths.csv``'s columns)."""
    counted: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per version ("old", "new"): counted deaths per death category, and ``all``."""
    rejected: pl.DataFrame | None = None
    """What the new version's rules say of recent submissions (``rejections``)."""
    rejected_submissions: int = 0
    """How many recent submissions the rules were run on."""
    indicators: pl.DataFrame | None = None
    """Every indicator under both versions, figure by figure (``compare_indicators``)."""

    @property
    def moved_by(self) -> dict[str, int]:
        return dict(Counter(self.moved["moved_by"].to_list()).most_common())


def assess_impact(
    warehouse: Path,
    new: Spec,
    old: Spec,
    *,
    as_at: dt.datetime | None = None,
    model: CanonicalModel | None = None,
    recent_months: int | None = None,
    indicators: bool = False,
) -> Impact:
    """Derive and attribute the warehouse's death records as at ``as_at`` (default: the latest
    submission's receipt) under ``old`` and ``new``, and list the deaths that move; with
    ``recent_months``, also run the new version's rules on that many months' submissions, and
    with ``indicators``, compute every indicator under both versions."""
    model = model or load_canonical()
    with reading(warehouse) as con:
        latest = con.execute("SELECT max(received_at) FROM submission").fetchone()
        if latest is None or latest[0] is None:
            raise UserError(f"The warehouse {warehouse} has no submissions to assess.")
        when = as_at or latest[0]
        columns = _stored_columns(con, when)
        sides = {
            side: _attributed(spec, model, STORED, columns)
            for side, spec in (("old", old), ("new", new))
        }
        frames = {}
        for side, sql in sides.items():
            cursor = con.execute(sql, [when])
            names = [d[0] for d in cursor.description or ()]
            frames[side] = pl.DataFrame(
                cursor.fetchall(), schema=names, orient="row", infer_schema_length=None
            )
    both = _suffixed(frames["old"], "_old").join(
        _suffixed(frames["new"], "_new"), on=list(KEY), how="inner"
    )
    moved = _moves(both, old, new)
    counted = {side: _counted(frame) for side, frame in frames.items()}
    rejected, assessed = (
        (None, 0)
        if recent_months is None
        else rejections(warehouse, new, as_at=when, recent_months=recent_months, model=model)
    )
    compared = (
        compare_indicators(warehouse, new, old, as_at=when, model=model) if indicators else None
    )
    return Impact(
        new.version,
        old.version,
        when,
        frames["new"].height,
        moved,
        counted,
        rejected,
        assessed,
        compared,
    )


STORED = "(SELECT * FROM death_records_as_at(CAST(? AS TIMESTAMP)) WHERE record_action <> 'D')"
"""The death records not withdrawn as at a time (the parameter), with their stored columns."""


def _stored_columns(con: Any, when: dt.datetime) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {STORED} AS s", [when]).fetchall()]


def _suffixed(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
    return frame.rename({c: c + suffix for c in frame.columns if c not in KEY})


def _attributed(spec: Spec, model: CanonicalModel, stored: str, columns: list[str]) -> str:
    """A query deriving ``spec``'s death definitions over the stored records and ranking them by
    its attribution: its definitions, ``counted`` and ``attributed_provider``, per record."""
    renamed = (
        model.versions[spec.version].renamed.get("death", {})
        if (spec.version in model.versions)
        else {}
    )
    definitions = [d.name for d in spec.definitions_for("death")]
    frozen = frozen_definitions(model, spec, "death")
    reads: set[str] = set()
    for d in spec.definitions_for("death"):
        reads |= ex.parse(d.expression).columns
    for k in spec.counting_rule.order_by:
        reads |= ex.parse(k.expression).columns
    hidden = set(model.identifiers.get("death", {}))
    picked = [ident(k) for k in (*KEY, "reporting_period")]
    for name in sorted(reads - set(definitions) - hidden - {*KEY, "reporting_period"}):
        # The version's field under its own name: stored as it is, or under the canonical name
        # it was renamed to, or (a field the canonical model no longer has) not known.
        source = renamed.get(name, name)
        picked.append(
            f"{ident(source)} AS {ident(name)}" if source in columns else f"NULL AS {ident(name)}"
        )
    picked += [ident(f) for f in sorted(frozen) if f in columns]
    picked.append(
        "coalesce(nhs_number_pseudonym, 'unmatched:' || org_id_provider || ':' || "
        "death_record_id) AS _match"
    )
    source = f"(SELECT {', '.join(picked)} FROM {stored} AS s)"
    derived = derive_sql(spec, "death", source, keep=frozen)
    window = attribution_window_sql(spec, {"nhs_number": "_match"})
    selected = ", ".join(ident(c) for c in (*KEY, "reporting_period", *definitions))
    return (
        f"SELECT {selected}, row_number() OVER ({window}) = 1 AS counted, "
        f"first_value(org_id_provider) OVER ({window}) AS attributed_provider "
        f"FROM ({derived}) AS d"
    )


def _dependencies(spec: Spec) -> dict[str, list[str]]:
    """Per definition: itself and every definition it reads, directly or not, in spec order."""
    order = [d.name for d in spec.definitions_for("death")]
    reads = {d.name: ex.parse(d.expression).columns for d in spec.definitions_for("death")}
    closure: dict[str, set[str]] = {}
    for name in order:  # a definition reads only those written before it
        closure[name] = {name}.union(*(closure[r] for r in reads[name] if r in closure))
    return {name: [d for d in order if d in closure[name]] for name in order}


def _moves(both: pl.DataFrame, old: Spec, new: Spec) -> pl.DataFrame:
    """The deaths whose counting, category, cause group or attribution differ, or that leave the
    deaths-after-discharge rate as transfers, each with the definition that moved it."""
    depends = _dependencies(new)
    in_old = {d.name for d in old.definitions_for("death")}
    rows = []
    for r in both.iter_rows(named=True):

        def value(name: str, side: str, r: dict[str, Any] = r) -> Any:
            return r.get(f"{name}_{side}")

        if not (value("counted", "old") or value("counted", "new")):
            continue
        changed = [c for c in COMPARED if value(c, "old") != value(c, "new")]
        left_d30 = (
            bool(value("counted", "new"))
            and bool(value(TRANSFER, "new"))
            and not value(TRANSFER, "old")
            and value("death_category", "new") == "D30"
        )
        if left_d30:
            changed.append(TRANSFER)
        reattributed = any(
            value(c, "old") != value(c, "new") for c in ("counted", "attributed_provider")
        )
        if not changed and not reattributed:
            continue
        candidates = {d for c in changed for d in depends.get(c, [c])}
        differing = [
            name
            for name in depends
            if name in candidates
            # A definition the old version lacks counts only where it says something.
            and (name in in_old or value(name, "new") is not None)
            and value(name, "old") != value(name, "new")
        ]
        rows.append(
            {
                "org_id_provider": r["org_id_provider"],
                "death_record_id": r["death_record_id"],
                "reporting_period": value("reporting_period", "new"),
                **{
                    f"{c}_{side}": value(c, side)
                    for c in ("counted", "attributed_provider", "death_category", "cause_group")
                    for side in ("old", "new")
                },
                "cause_basis_new": value("cause_basis", "new"),
                "left_d30_rate": left_d30,
                # A death no longer counted, or counted elsewhere, moved by the matching first.
                "moved_by": ATTRIBUTION if reattributed or not differing else differing[0],
                "definitions_differing": " ".join(differing),
            }
        )
    schema = {
        "org_id_provider": pl.String,
        "death_record_id": pl.String,
        "reporting_period": pl.String,
        "counted_old": pl.Boolean,
        "counted_new": pl.Boolean,
        "attributed_provider_old": pl.String,
        "attributed_provider_new": pl.String,
        "death_category_old": pl.String,
        "death_category_new": pl.String,
        "cause_group_old": pl.String,
        "cause_group_new": pl.String,
        "cause_basis_new": pl.String,
        "left_d30_rate": pl.Boolean,
        "moved_by": pl.String,
        "definitions_differing": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort(list(KEY))


def _counted(frame: pl.DataFrame) -> dict[str, int]:
    counted = frame.filter(pl.col("counted"))
    by = Counter(counted["death_category"].to_list())
    return {"all": counted.height, **{str(k): v for k, v in sorted(by.items(), key=str)}}


def write_impact(impact: Impact, out: Path, rule: str = "nhs_england") -> list[Path]:
    """Write ``moved_deaths.csv`` (record level, restricted), ``summary.json`` and
    ``impact.html`` (counts under the disclosure rule) into ``out``; returns their paths."""
    from mhdeaths.output.folders import make_folder
    from mhdeaths.stats.disclosure import disclose

    make_folder(out, "impact assessment")
    moved = out / "moved_deaths.csv"
    with moved.open("w", encoding="utf-8", newline="") as handle:
        handle.write(RESTRICTED + "\n")
        impact.moved.write_csv(handle)
    summary: dict[str, Any] = {
        "new": impact.new,
        "old": impact.old,
        "as_at": impact.as_at.isoformat(),
        "tool_version": __version__,
        "disclosure_rule": rule,
        "deaths_moved": _released(len(impact.moved), rule),
        "moved_by": {k: _released(v, rule) for k, v in impact.moved_by.items()},
        "counted": {
            side: {k: _released(v, rule) for k, v in counts.items()}
            for side, counts in impact.counted.items()
        },
    }
    written = [moved]
    if impact.rejected is not None:
        rejected = out / "rejections.csv"
        impact.rejected.write_csv(rejected)
        written.append(rejected)
        found = impact.rejected.filter(pl.col("assessable") == ASSESSED)
        rejects = found.filter(pl.col("severity").is_in(["record_reject", "file_reject"]))
        summary["rejections"] = {
            "submissions_assessed": _released(impact.rejected_submissions, rule),
            "submissions_with_a_reject": _released(rejects["submission_id"].n_unique(), rule),
            "by_rule": {
                str(rule_id): {"severity": str(severity), "records": _released(int(n), rule)}
                for rule_id, severity, n in found.group_by("rule_id", "severity")
                .agg(pl.col("records").sum())
                .sort("rule_id")
                .iter_rows()
            },
            "needs_field": sorted(
                impact.rejected.filter(pl.col("assessable") == NEEDS_FIELD)["rule_id"].to_list()
            ),
            "not_assessable": sorted(
                impact.rejected.filter(pl.col("assessable") == NOT_ASSESSABLE)["rule_id"].to_list()
            ),
        }
    if impact.indicators is not None:
        figures = out / "indicators.csv"
        impact.indicators.write_csv(figures)
        written.append(figures)
        changed = impact.indicators.filter(
            pl.col("band_changed") & (pl.col("provider") != NATIONAL)
        )
        summary["indicators"] = [
            {
                "old": _joined(r["indicator_old"], r["variant_old"]),
                "new": _joined(r["indicator_new"], r["variant_new"]),
                "national_old": r["rate_old"] if r["rate_old"] is not None else r["observed_old"],
                "national_new": r["rate_new"] if r["rate_new"] is not None else r["observed_new"],
                "providers_band_changed": changed.filter(
                    (pl.col("indicator_new") == r["indicator_new"])
                    & (pl.col("variant_new") == r["variant_new"])
                    & (pl.col("indicator_old").eq_missing(r["indicator_old"]))
                    & (pl.col("variant_old").eq_missing(r["variant_old"]))
                ).height,
            }
            for r in impact.indicators.filter(pl.col("provider") == NATIONAL).iter_rows(named=True)
        ]
    summary["providers"] = _per_provider(impact, rule)
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    html = out / "impact.html"
    html.write_text(_html(impact, summary, disclose([0], rule).rule.title), encoding="utf-8")
    return [*written, summary_path, html]


def _per_provider(impact: Impact, rule: str) -> dict[str, dict[str, Any]]:
    """Per provider: the deaths that moved into or out of its figures (released under the rule)
    and the figures whose band changed."""
    moved: Counter[str] = Counter()
    for row in impact.moved.iter_rows(named=True):
        for provider in {row["attributed_provider_old"], row["attributed_provider_new"]}:
            if provider:
                moved[provider] += 1
    bands: dict[str, list[str]] = {}
    if impact.indicators is not None:
        changed = impact.indicators.filter(pl.col("band_changed"))
        for row in changed.iter_rows(named=True):
            if row["provider"] != NATIONAL:
                key = _joined(row["indicator_new"], row["variant_new"])
                bands.setdefault(row["provider"], []).append(str(key))
    return {
        provider: {
            "deaths_moved": _released(moved.get(provider, 0), rule),
            "bands_changed": sorted(set(bands.get(provider, []))),
        }
        for provider in sorted(set(moved) | set(bands))
    }


def _joined(indicator: str | None, variant: str | None) -> str | None:
    return None if indicator is None else f"{indicator}.{variant}"


def _released(count: int, rule: str) -> str:
    """A count as the disclosure rule releases it (``*`` when suppressed, else rounded)."""
    from mhdeaths.stats.disclosure import disclose

    return disclose([count], rule).text[0]


def _html(impact: Impact, summary: dict[str, Any], rule_title: str) -> str:
    from mhdeaths.output.templating import html_environment

    categories = sorted(set(impact.counted.get("old", {})) | set(impact.counted.get("new", {})))
    template = html_environment().get_template("impact.html.j2")
    return template.render(
        impact=impact, summary=summary, categories=categories, rule_title=rule_title
    )


# --- Rejections: what the new version's rules would say of recent submissions ----------------

ASSESSED = "yes"
NEEDS_FIELD = "needs field"
NOT_ASSESSABLE = "not assessable"
REJECTION_COLUMNS = {
    "submission_id": pl.Int64,
    "provider": pl.String,
    "reporting_period": pl.String,
    "spec_version": pl.String,
    "rule_id": pl.String,
    "severity": pl.String,
    "records": pl.Int64,
    "assessable": pl.String,
}


def rejections(
    warehouse: Path,
    new: Spec,
    *,
    as_at: dt.datetime,
    recent_months: int = 12,
    model: CanonicalModel | None = None,
) -> tuple[pl.DataFrame, int]:
    """The new version's record, table and cross-table rules run on the stored records of the
    submissions received in the ``recent_months`` before ``as_at`` (and how many there were):
    per submission and rule, the
    records (or groups, or tables) that would fail. A rule that reads a field the submission's
    version did not collect is listed once per rule as ``needs field`` with the records it would
    have to see; a rule on the text as written, on a file's structure, or on an identifier the
    warehouse does not keep as written cannot be run here and is listed once as ``not
    assessable``."""
    from mhdeaths.engines.polars_engine import bound_expression
    from mhdeaths.engines.sql_engine import record_failures_sql, scope_sql
    from mhdeaths.periods import period_start
    from mhdeaths.spec import Scope, Stage

    model = model or load_canonical()
    hidden = {f for table in model.identifiers.values() for f in table}
    since = _months_before(as_at, recent_months)
    rows: list[dict[str, Any]] = []
    with reading(warehouse) as con:
        present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        recent = con.execute(
            "SELECT submission_id, provider, reporting_period, spec_version FROM submission "
            "WHERE received_at > ? AND received_at <= ? ORDER BY submission_id",
            [since, as_at],
        ).fetchall()
        about = {r[0]: r for r in recent}
        files = dict(
            con.execute(
                "SELECT submission_id, list_distinct(flatten(list(tables))) FROM submission_file "
                "GROUP BY submission_id"
            ).fetchall()
        )
        tables = [t.name for t in new.tables if f"{t.name}_record" in present]
        # Each submission's version's own tables, read once (its rows of others were mapped).
        own = {
            v: {t.name for t in load_spec(v, new.path.parent).tables}
            for v in {r[3] for r in recent}
        }
        for table in tables:
            _stage_records(con, new, model, table, list(about))
        for rule in new.rules:
            parsed = bound_expression(new, rule, None)
            reads = parsed.columns | set(rule.fields)
            if (
                rule.stage is Stage.TEXT
                or rule.scope not in (Scope.RECORD, Scope.TABLE, Scope.CROSS_TABLE)
                or reads & hidden
                or rule.table not in tables
            ):
                rows.append(_listed(rule, NOT_ASSESSABLE, 0))
                continue
            read = _tables_of(rule.table, parsed)
            if not set(read) <= set(tables):
                rows.append(_listed(rule, NOT_ASSESSABLE, 0))
                continue
            able = [i for i, *_, v in recent if not _uncollected(model, v, own, read, reads)]
            needs = _count_rows(
                con,
                f"SELECT 1 FROM {_STAGED}{rule.table} WHERE submission_id IN "
                f"(SELECT unnest(?::INTEGER[]))",
                [[i for i, *_ in recent if i not in able]],
            )
            if needs:
                rows.append(_listed(rule, NEEDS_FIELD, needs))
            failed: Counter[int] = Counter()
            windowed = any(
                isinstance(n, ex.Call) and n.over is not None for n in parsed.tree.walk()
            )
            if rule.scope is Scope.RECORD and not windowed:
                # One query per reporting period (codes are valid by the period); a rule over a
                # window (duplicates) runs per submission, as the window is the submission.
                for period in sorted({about[i][2] for i in able}):
                    ids = [i for i in able if about[i][2] == period]
                    source = (
                        f"(SELECT * FROM {_STAGED}{rule.table} WHERE submission_id IN "
                        f"({', '.join(map(str, ids))}))"
                    )
                    sql = record_failures_sql(
                        new, rule, source, "submission_id", period_start(period)
                    )
                    found = con.execute(f"SELECT submission_id, count(*) FROM ({sql}) GROUP BY 1")
                    failed.update(dict(found.fetchall()))
            else:
                for i in able:
                    if rule.scope is Scope.TABLE and rule.table not in files.get(i, ()):
                        continue  # no file of the table: its table rules never ran
                    one = {
                        t: f"(SELECT * FROM {_STAGED}{t} WHERE submission_id = {i})" for t in read
                    }
                    sql = scope_sql(new, rule, one, "source_row", period_start(about[i][2]))
                    if rule.scope is Scope.TABLE:
                        verdict = con.execute(sql).fetchone()
                        failed[i] = int(verdict is not None and verdict[0] is False)
                    else:
                        failed[i] = _count_rows(con, sql)
            for i, n in sorted(failed.items()):
                if n:
                    _, provider, period, version = about[i]
                    rows.append(
                        {
                            "submission_id": i,
                            "provider": provider,
                            "reporting_period": period,
                            "spec_version": version,
                            "rule_id": rule.id,
                            "severity": rule.severity.value,
                            "records": n,
                            "assessable": ASSESSED,
                        }
                    )
    return pl.DataFrame(rows, schema=REJECTION_COLUMNS), len(recent)


_STAGED = "impact_"
"""Prefix of the temporary tables holding the recent submissions' records, derived again."""


def _stage_records(
    con: Any, spec: Spec, model: CanonicalModel, table: str, submissions: list[int]
) -> None:
    """The recent submissions' records of ``table``, with ``spec``'s definitions derived again,
    in a temporary table (the read-only warehouse is not written). Rows the canonical mapping
    made from another table of a submission without this table's file (a 1.x death's review)
    are kept only where they say something: a withdrawal made for a record with no review is the
    mapping's, not the provider's."""
    actions = any(f.name == "record_action" for f in spec.table(table).fields)
    made = (
        f" AND (list_contains(f.sent, '{table}') OR r.record_action IS DISTINCT FROM 'D')"
        if actions
        else ""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_STAGED}{table} AS "
        f"SELECT r.* FROM {_rederived(spec, model, table)} AS r "
        "LEFT JOIN (SELECT submission_id, list_distinct(flatten(list(tables))) AS sent "
        "FROM submission_file GROUP BY ALL) AS f USING (submission_id) "
        f"WHERE r.submission_id IN (SELECT unnest(?::INTEGER[])){made}",
        [submissions],
    )


def _months_before(when: dt.datetime, months: int) -> dt.datetime:
    total = when.year * 12 + when.month - 1 - months
    day = min(when.day, 28)
    return when.replace(year=total // 12, month=total % 12 + 1, day=day)


def _tables_of(table: str, parsed: ex.Expression) -> list[str]:
    """The tables a rule reads: its own, and for a cross-table rule those its columns name."""
    tables = {table}
    for node in parsed.tree.walk():
        if isinstance(node, ex.Col) and node.table:
            tables.add(str(node.table))
    return sorted(tables)


def _uncollected(
    model: CanonicalModel,
    version: str,
    own: dict[str, set[str]],
    tables: list[str],
    reads: frozenset[str] | set[str],
) -> bool:
    """True when the submission's version did not collect a field (or a table) the rule reads;
    ``own`` gives each version's own tables."""
    if version not in model.versions:
        return False
    mapping = model.versions[version]
    for table in tables:
        if table not in own[version]:
            split = mapping.split.get(table)
            if split is None:
                return True  # a table the version had no rows of
            if reads - set(split.columns) - {"source_row"}:
                return True  # a field its rows, made from another table's, do not carry
        if reads & set(mapping.not_collected.get(table, ())):
            return True
    return False


def _rederived(spec: Spec, model: CanonicalModel, table: str) -> str:
    """The stored records of ``table`` with ``spec``'s definitions derived again (those reading
    an identifier not kept as written taken as stored)."""
    frozen = frozen_definitions(model, spec, table)
    again = [d.name for d in spec.definitions_for(table) if d.name not in frozen]
    target = ident(f"{table}_record")
    source = (
        f"(SELECT * EXCLUDE ({', '.join(ident(n) for n in again)}) FROM {target})"
        if again
        else target
    )
    return f"({derive_sql(spec, table, source, keep=frozen)})"


def _count_rows(con: Any, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(f"SELECT count(*) FROM ({sql}) AS f", params).fetchone()
    return int(row[0]) if row else 0


def _listed(rule: Any, assessable: str, records: int) -> dict[str, Any]:
    return {
        "submission_id": None,
        "provider": None,
        "reporting_period": None,
        "spec_version": None,
        "rule_id": rule.id,
        "severity": rule.severity.value,
        "records": records,
        "assessable": assessable,
    }


# --- Indicators: each figure under both versions ---------------------------------------------

INDICATOR_COLUMNS = {
    "provider": pl.String,
    "indicator_old": pl.String,
    "variant_old": pl.String,
    "indicator_new": pl.String,
    "variant_new": pl.String,
    **{
        f"{name}_{side}": pl.String
        for name in ("observed", "denominator", "rate", "ratio", "band")
        for side in ("old", "new")
    },
    "band_changed": pl.Boolean,
    "suppressed": pl.Boolean,
    "definitions_old": pl.String,
    "definitions_new": pl.String,
}


@dataclass(frozen=True)
class IndicatorSides:
    """The indicators each version computes, and which figure of one answers which of the
    other: a retired one against those that superseded it, a kept one against itself."""

    old: tuple[Any, ...]
    new: tuple[Any, ...]
    pairs: tuple[tuple[tuple[str, str] | None, tuple[str, str] | None], ...]
    """(indicator id, variant id) under the old version, and under the new one."""


def indicator_sides(
    old: Spec, new: Spec, catalogue: tuple[Any, ...] | None = None
) -> IndicatorSides:
    """Split the indicator catalogue between the two versions. The new version computes what
    is in use; the old one what the new one retired, and what is in use that it replaces
    nothing and reads no definition the old version lacks (kept)."""
    import re

    from mhdeaths.benchmark.indicators import load_catalogue

    catalogue = catalogue or load_catalogue()
    lacking = {d.name for d in new.definitions_for("death")} - {
        d.name for d in old.definitions_for("death")
    }
    from mhdeaths.spec import parse_version

    def between(retired_in: str | None) -> bool:
        """Retired by the new version or one before it, after the old one."""
        return retired_in is not None and (
            parse_version(old.version) < parse_version(retired_in) <= parse_version(new.version)
        )

    superseding: dict[str, tuple[str, ...]] = {}
    for indicator in catalogue:
        if indicator.status == "retired" and between(indicator.retired_in):
            superseding[indicator.id] = indicator.superseded_by
        for variant in indicator.variants:
            if variant.status == "retired" and between(variant.retired_in):
                superseding[f"{indicator.id}.{variant.id}"] = variant.superseded_by
    named = {key for keys in superseding.values() for key in keys}
    active = [i for i in catalogue if i.status == "active"]
    by_id = {i.id: i for i in active}

    def reads_new(part: Any) -> bool:
        text = part.model_dump_json()
        return any(re.search(rf"\b{re.escape(name)}\b", text) for name in lacking)

    old_set: list[Any] = []
    pairs: list[tuple[tuple[str, str] | None, tuple[str, str] | None]] = []
    for indicator in catalogue:
        retired = indicator.status == "retired"
        if retired and indicator.id not in superseding:
            continue  # retired before the old version, or after the new one
        base = indicator.model_copy(update={"variants": ()})
        if not retired and (indicator.id in named or reads_new(base)):
            continue  # new with the new version
        variants = [
            v
            for v in indicator.variants
            if retired
            or f"{indicator.id}.{v.id}" in superseding
            or (v.status == "active" and f"{indicator.id}.{v.id}" not in named and not reads_new(v))
        ]
        old_set.append(
            indicator.model_copy(
                update={
                    "status": "active",
                    "variants": tuple(v.model_copy(update={"status": "active"}) for v in variants),
                }
            )
        )
        for v in variants:
            key = f"{indicator.id}.{v.id}"
            targets = superseding.get(key) or (superseding.get(indicator.id) if retired else None)
            if not targets:
                pairs.append(((indicator.id, v.id), (indicator.id, v.id)))
                continue
            for target in targets:
                new_id, _, new_variant = target.partition(".")
                chosen = by_id[new_id]
                if new_variant:
                    pairs.append(((indicator.id, v.id), (new_id, new_variant)))
                    continue
                # A whole indicator superseded: each old variant answers the new variants
                # named like it (suicide -> suicide_ons, suicide_ncish), else all of them.
                live = [w.id for w in chosen.live_variants]
                alike = [w for w in live if w == v.id or w.startswith(f"{v.id}_")]
                for w in alike or live:
                    pairs.append(((indicator.id, v.id), (new_id, w)))
    seen = {p[1] for p in pairs}
    for indicator in active:
        for v in indicator.live_variants:
            if (indicator.id, v.id) not in seen:
                pairs.append((None, (indicator.id, v.id)))
    return IndicatorSides(tuple(old_set), tuple(active), tuple(pairs))


def compare_indicators(
    warehouse: Path,
    new: Spec,
    old: Spec,
    *,
    as_at: dt.datetime,
    period: str | None = None,
    rule: str = "nhs_england",
    model: CanonicalModel | None = None,
) -> pl.DataFrame:
    """Every indicator of both versions over the same window and the same records: the old
    version's on the records derived and attributed under it, the new one's under it, each
    released under the disclosure rule as the benchmark releases it, paired figure by figure
    (``indicator_sides``), per provider and for England."""
    from mhdeaths.benchmark.compute import compute
    from mhdeaths.benchmark.disclosure_control import release
    from mhdeaths.warehouse.rederive import Definitions, spec_sha256

    model = model or load_canonical()
    sides = indicator_sides(old, new)

    def derived_under(spec: Spec, side: str) -> Any:
        def make(con: Any) -> tuple[str, Definitions]:
            attributed = _attributed(spec, model, STORED, _stored_columns(con, as_at))
            view = [
                r[0]
                for r in con.execute(
                    "DESCRIBE SELECT * FROM deaths_as_at(CAST(? AS TIMESTAMP))", [as_at]
                ).fetchall()
            ]
            mine = {d.name for d in spec.definitions_for("death")} | {
                "counted",
                "attributed_provider",
            }
            # The view's derived columns are the canonical version's: each is replaced by this
            # version's, and one this version lacks is empty.
            theirs = {d.name for d in canonical_spec(model).definitions_for("death")}
            dropped = sorted((mine | theirs) & set(view))
            table = f"{_STAGED}deaths_{side}"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT "
                f"w.* EXCLUDE ({', '.join(ident(c) for c in dropped)}), "
                + "".join(f"NULL AS {ident(c)}, " for c in sorted(theirs - mine) if c in view)
                + f"o.* EXCLUDE ({', '.join(ident(k) for k in (*KEY, 'reporting_period'))}) "
                f"FROM deaths_as_at(CAST(? AS TIMESTAMP)) AS w "
                f"JOIN ({attributed}) AS o USING ({', '.join(ident(k) for k in KEY)})",
                [as_at, as_at],
            )
            return table, Definitions(spec.version, spec_sha256(spec))

        return make

    released = {}
    for side, spec, chosen in (("old", old, sides.old), ("new", new, sides.new)):
        benchmarks = compute(
            warehouse, period, as_at=as_at, indicators=chosen, deaths=derived_under(spec, side)
        )
        period = benchmarks.period  # the same window for both
        got = release(benchmarks, rule)
        keys = {r.key: (r.indicator.id, r.variant.id) for r in benchmarks.results}
        released[side] = {
            (keys[str(row["indicator"])], str(row["provider"])): row for row in got.rows
        }
    everyone = {p for side in released.values() for _, p in side} - {NATIONAL}
    providers = [*sorted(everyone), NATIONAL]
    rows = []
    for old_key, new_key in sides.pairs:
        for provider in providers:
            before = released["old"].get((old_key, provider)) if old_key else None
            after = released["new"].get((new_key, provider)) if new_key else None
            if before is None and after is None:
                continue
            row: dict[str, Any] = {
                "provider": provider,
                "indicator_old": old_key[0] if old_key else None,
                "variant_old": old_key[1] if old_key else None,
                "indicator_new": new_key[0] if new_key else None,
                "variant_new": new_key[1] if new_key else None,
            }
            for side, cells in (("old", before), ("new", after)):
                for name, column in (
                    ("observed", "observed"),
                    ("denominator", "denominator"),
                    ("rate", "value"),
                    ("ratio", "ratio"),
                    ("band", "band_95"),
                ):
                    value = None if cells is None else cells.get(column)
                    row[f"{name}_{side}"] = None if value is None else str(value)
            # A withheld band (*) is compared with nothing: saying it changed would tell what
            # it is not.
            row["band_changed"] = (
                before is not None
                and after is not None
                and "*" not in (row["band_old"], row["band_new"])
                and row["band_old"] != row["band_new"]
            )
            row["suppressed"] = "*" in (row["observed_old"], row["observed_new"])
            row["definitions_old"] = old.version
            row["definitions_new"] = new.version
            rows.append(row)
    return pl.DataFrame(rows, schema=INDICATOR_COLUMNS)

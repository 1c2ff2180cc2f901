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
matching of records changed. Every such definition is listed beside it, in order, so that a
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
from mhdeaths.engines.sql_engine import attribution_window_sql, derive_sql, ident
from mhdeaths.errors import UserError
from mhdeaths.spec import Spec
from mhdeaths.warehouse.canonical import CanonicalModel, load_canonical
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
) -> Impact:
    """Derive and attribute the warehouse's death records as at ``as_at`` (default: the latest
    submission's receipt) under ``old`` and ``new``, and list the deaths that move."""
    model = model or load_canonical()
    with reading(warehouse) as con:
        latest = con.execute("SELECT max(received_at) FROM submission").fetchone()
        if latest is None or latest[0] is None:
            raise UserError(f"The warehouse {warehouse} has no submissions to assess.")
        when = as_at or latest[0]
        stored = (
            "(SELECT * FROM death_records_as_at(CAST(? AS TIMESTAMP)) WHERE record_action <> 'D')"
        )
        columns = [
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {stored} AS s", [when]).fetchall()
        ]
        sides = {
            side: _attributed(spec, model, stored, columns)
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
    return Impact(new.version, old.version, when, frames["new"].height, moved, counted)


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
    for k in spec.attribution.order_by:
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
            bool(value(TRANSFER, "new"))
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
                "moved_by": differing[0] if differing else ATTRIBUTION,
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
    summary = {
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
    summary_path = out / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    html = out / "impact.html"
    html.write_text(_html(impact, summary, disclose([0], rule).rule.title), encoding="utf-8")
    return [moved, summary_path, html]


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

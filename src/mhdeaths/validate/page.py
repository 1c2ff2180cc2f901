"""The validator as a web page: published with a spec version, run in the provider's browser.

Provider data teams on locked-down desktops cannot install Python and may not upload patient data
anywhere. ``spec publish`` therefore also writes ``validator/``: a static page whose JavaScript
(``web/validator/``, built into ``PAGE_ASSETS``) reads the file inside the browser and runs DuckDB
compiled to WebAssembly. The page knows nothing of any rule: everything it runs or shows comes
from ``bundle.json``, written here from the spec: the fields, code lists and rules with their
messages, fixes and examples, the read failures' sentences, and every statement of the check step
compiled to DuckDB SQL (``engines.check_sql``), one plan per code-list epoch.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from mhdeaths import __version__, guard
from mhdeaths.engines import check_sql
from mhdeaths.limits import DEFAULT_LIMITS
from mhdeaths.output.writing import FORMULA_START, dump_json, write_text
from mhdeaths.spec import Scope, Spec, available_versions, load_spec
from mhdeaths.spec.words import example_in_words
from mhdeaths.validate import profiles
from mhdeaths.validate.intake import VERSION_SHOWN_LENGTH, feed_shapes, sheet_names
from mhdeaths.validate.reading.failures import FEED_NO_TABLE, READ_FAILURES
from mhdeaths.validate.reading.source import HIDDEN_HEADER
from mhdeaths.validate.render import CSV_COLUMNS

FOLDER = "validator"
BUNDLE = "bundle.json"
BUNDLE_FORMAT = 1
"""Raised when the page's runner must change to read the bundle (the runner checks it)."""

PAGE_ASSETS = Path(__file__).resolve().parent / "page_assets"
"""The built runner (``npm run build`` in ``web/validator/``): HTML, JavaScript and DuckDB's
WebAssembly. Built, never committed (the WebAssembly is some 70 MB); a wheel carries it as package
data built by CI (docs/development.md)."""

NOT_BUILT = "NOT-BUILT.txt"


OTHER_VERSION = (
    "The files are written to spec {declared}, and this page checks spec {page}: open the "
    "validator page published with spec {declared}."
)
"""A sentence of the page's own: the CLI would check such files against the version they declare,
but a page holds one version's checks."""

PAGE_FILE_SIZE = 256 * 2**20
"""The largest file the page reads: about 1,300,000 death records, a thousand times a large
trust's month. A plain CSV file (every line a record) is read by DuckDB's own CSV reader, which
holds each value once, in DuckDB (benchmarks/bench_browser_validator.py: a 1,000,000-record
file, 196 MB, is checked); a larger one is refused at once, with where to check it instead."""

PAGE_PARSED_SIZE = 32 * 2**20
"""The largest workbook, or CSV file that is not plain (a value across lines, a blank line
between records, mixed line endings, quotes inside a value), the page reads: those are parsed in
JavaScript, which holds every value as a string besides DuckDB's copy (1.6 GB at 100,000
records); 32 MiB is about 170,000 death records."""

TOO_LARGE = (
    "{file} is {size}, more than this page checks in a browser ({limit}): check it with "
    "`mhdeaths validate`, or send one month per file."
)

TOO_LARGE_PARSED = (
    "{file} is {size}: this page checks a workbook, or a CSV file with values across lines, "
    "blank lines between records or uneven quotes, only up to {limit}. Check it with "
    "`mhdeaths validate`, save it as plain CSV, or send one month per file."
)

OUT_OF_MEMORY = (
    "This browser ran out of memory checking {files}: check them with `mhdeaths validate`, or "
    "send one month per file."
)

FORMAT = (
    "{file} is {kind}, which this page cannot read: save it as CSV or .xlsx, or check it with "
    "`mhdeaths validate`."
)
"""The other sentence of the page's own: the CLI reads .xls and Parquet files, the page does not
(a reader of each in JavaScript would be as large as the rest of the page, for files providers
rarely send)."""


def bundle(spec: Spec) -> dict[str, Any]:
    """Everything the page needs to validate a submission against ``spec``, as JSON data."""
    from mhdeaths.validate.validator import DEFAULT_SAMPLE

    plans = [
        {
            "from": None if start is None else start.isoformat(),
            "to": None if end is None else end.isoformat(),
            "plan": check_sql.plan(spec, start or end, DEFAULT_SAMPLE),
        }
        for start, end in check_sql.epochs(spec)
    ]
    known = available_versions()
    newest = load_spec(known[-1]) if known else spec
    version_field = next(
        (t.field("spec_version") for t in newest.tables if "spec_version" in t.field_names), None
    )
    return {
        "format": BUNDLE_FORMAT,
        "generator": f"mhdeaths {__version__}",
        "spec_version": spec.version,
        "title": spec.title,
        "status": spec.status,
        "sample": DEFAULT_SAMPLE,
        "tables": [
            {
                "name": t.name,
                "title": t.title,
                "optional": t.optional,
                # The sheet names taken for the table without a profile (intake.sheet_names).
                "sheet_names": sorted(sheet_names(t.name)),
                "parents": [p.name for p in spec.parents_of(t)] if t.optional else [],
                "fields": [
                    {
                        "name": f.name,
                        "title": f.title,
                        "type": f.type.value,
                        "mandation": f.mandation.value,
                        "code_list": f.code_list,
                        "shown": guard.code_shape(f, spec),
                    }
                    for f in t.submitted_fields
                ],
            }
            for t in spec.tables
        ],
        "rules": [
            {
                "id": r.id,
                "table": r.table,
                "severity": r.severity.value,
                "scope": r.scope.value,
                "title": r.title,
                "message": r.message,
                "fix": r.fix,
                "example": example_in_words(r),
                "fields": list(r.fields),
                "generated_from": r.generated_from,
                "group_by": list(r.group_by),
                "reads": sorted([t, f] for t, f in spec.reads.rule(r)),
                "tables_read": list(check_sql.rule_tables(r))
                if r.scope is Scope.CROSS_TABLE
                else [],
            }
            for r in spec.rules
        ],
        "code_lists": {
            c.name: [
                {
                    "code": code.code,
                    "label": code.label,
                    "valid_from": code.valid_from.isoformat() if code.valid_from else None,
                    "valid_to": code.valid_to.isoformat() if code.valid_to else None,
                    "default": code.default,
                }
                for code in c.codes
            ]
            for c in spec.code_lists
        },
        "guard": guard.patterns(),
        # What the read step needs to know of the other versions: which a file may declare, and
        # which the version in force for its period still accepts (intake._check_accepted).
        "versions": [
            {
                "version": v.version,
                "draft": v.draft,
                "effective_from": v.effective_from,
                "accepts_previous": list(v.accepts_previous),
            }
            for v in map(load_spec, known)
        ],
        "version_shown": {
            "pattern": version_field.pattern if version_field else None,
            "longest": (version_field.max_length if version_field else None)
            or VERSION_SHOWN_LENGTH,
        },
        "limits": dataclasses.asdict(DEFAULT_LIMITS),
        "sentences": {
            "other_version": OTHER_VERSION,
            "format": FORMAT,
            "too_large": TOO_LARGE,
            "too_large_parsed": TOO_LARGE_PARSED,
            "out_of_memory": OUT_OF_MEMORY,
        },
        "page_file_size": PAGE_FILE_SIZE,
        "page_parsed_size": PAGE_PARSED_SIZE,
        "hidden_header": HIDDEN_HEADER,
        # The findings CSV as the CLI writes it (render.to_csv, writing.excel_safe).
        "findings_csv": {"columns": CSV_COLUMNS, "formula_start": list(FORMULA_START)},
        "read_failures": {k.id: k.template for k in READ_FAILURES},
        "feeds": {"sentence": FEED_NO_TABLE, "shapes": feed_shapes()},
        "profile": {
            "schema": profiles.Profile.model_json_schema(),
            "sentences": {
                "not_yaml": profiles.NOT_YAML,
                "not_mapping": profiles.NOT_MAPPING,
                "not_valid": profiles.NOT_VALID,
                "not_fit": profiles.NOT_FIT,
                "not_fit_more": profiles.NOT_FIT_MORE,
            },
            # What require_fit checks a profile against (the rest is in the tables, code lists
            # and rules above), and each problem's words.
            "fit_problems": profiles.FIT_PROBLEMS,
            "coded_fields": profiles.coded_fields(spec),
        },
        "plans": plans,
        "plan_without_period": check_sql.plan(spec, None, DEFAULT_SAMPLE),
    }


def write_validator_page(spec: Spec, out: Path, assets: Path = PAGE_ASSETS) -> list[Path]:
    """Write ``validator/`` into ``out``: the built runner's files and the spec's bundle.

    Without a built runner (a checkout where ``npm run build`` has not run), the folder holds the
    bundle and a note saying how to build the page, so the rest of the publication still stands.
    """
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = [write_text(folder / BUNDLE, dump_json(bundle(spec)))]
    if (assets / "index.html").is_file():
        for source in sorted(p for p in assets.rglob("*") if p.is_file()):
            target = folder / source.relative_to(assets)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    else:
        written.append(
            write_text(
                folder / NOT_BUILT,
                "The page of this validator was not built with this copy of mhdeaths: run "
                "`npm ci && npm run build` in web/validator/, then publish again.\n",
            )
        )
    return written

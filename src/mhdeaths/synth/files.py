"""Writing the submissions: CSV files in the spec's columns, or in a provider's own export format.

A month's original files go to ``<ODS>/`` and its resubmission to ``<ODS>/resubmissions/`` under
the same names; ``rewrite_for_profile`` turns a provider's files into its own headers, local
codes and date format through its profile.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import polars as pl

from mhdeaths.spec import Spec, Table
from mhdeaths.synth.children import child_rows
from mhdeaths.synth.options import Row
from mhdeaths.synth.planted import plant_errors
from mhdeaths.synth.run import Month, Run
from mhdeaths.validate.profiles import Profile, to_provider_format


def write_month(run: Run, m: Month) -> list[Path]:
    """Write the month's original submission (with its planted errors, if any)."""
    folder = run.out / m.p.ods
    folder.mkdir(parents=True, exist_ok=True)
    death_file = folder / f"{m.p.ods}_{m.period}_death.csv"
    activity_file = folder / f"{m.p.ods}_{m.period}_activity.csv"
    if run.options.error_rate > 0:
        # A stream of its own, so the clean values do not depend on the error rate.
        errors = random.Random(f"{run.options.seed}:errors:{m.p.ods}:{m.period}")
        plant_errors(run, errors, m.deaths, death_file, m.month)
    files: list[Path] = []
    if m.deaths:
        # A month without deaths has no death file: the spec rejects a file with no
        # records, and a provider with nothing to report sends no file at all.
        write_csv(death_file, run.death, [d.row for d in m.deaths])
        files.append(death_file)
    files.extend(write_children(run, folder, m, child_rows(run, m.deaths)))
    write_csv(activity_file, run.activity, m.activity)
    files.append(activity_file)
    return files


def write_resubmission(run: Run, m: Month) -> list[Path]:
    """Write the month's resubmission, if it has one, under ``<ODS>/resubmissions/``."""
    if m.resubmission is None:
        return []
    rows, activity = m.resubmission
    folder = run.out / m.p.ods / "resubmissions"
    folder.mkdir(parents=True, exist_ok=True)
    death_file = folder / f"{m.p.ods}_{m.period}_death.csv"
    activity_file = folder / f"{m.p.ods}_{m.period}_activity.csv"
    write_csv(death_file, run.death, rows)
    children = write_children(run, folder, m, m.resubmitted_children)
    write_csv(activity_file, run.activity, activity)
    return [death_file, *children, activity_file]


def write_children(run: Run, folder: Path, m: Month, rows: dict[str, list[Row]]) -> list[Path]:
    """Write the month's child tables (spec 2.0.0: reviews, PFD addressees) that have records.

    They are optional tables: a month with no reviews sends no review file."""
    files = []
    for table in run.spec.tables:
        if not table.optional or not rows.get(table.name):
            continue
        path = folder / f"{m.p.ods}_{m.period}_{table.name}.csv"
        write_csv(path, table, rows[table.name])
        files.append(path)
    return files


def write_csv(path: Path, table: Table, rows: list[Row]) -> None:
    """Write rows in the table's submitted columns, an empty cell for None."""
    names = [f.name for f in table.submitted_fields]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([("" if (v := row.get(n)) is None else v) for n in names] for row in rows)


def rewrite_for_profile(spec: Spec, profile: Profile, files: list[Path]) -> None:
    """Rewrite the profile's provider's files in its own export format, in place."""
    for path in files:
        if not path.name.startswith(f"{profile.provider}_"):
            continue
        table = path.stem.split("_", 2)[2]
        frame = pl.read_csv(path, infer_schema=False)
        to_provider_format(profile, spec, table, frame).write_csv(path)


def into_workbooks(files: list[Path], profile: Profile | None = None) -> list[Path]:
    """Put each submission's CSV files (one folder, one provider-month) into one Excel workbook
    beside them, a sheet per table, every cell text (as a provider's export keeps a code's
    leading zero), and remove the CSVs; the workbooks written.

    A sheet is named as the profile's ``sheets`` names the table (the provider's own way), else
    after the table. The workbook's dates are fixed, so the same run writes the same bytes.
    """
    import datetime as dt

    import xlsxwriter

    sheet_of = {table: sheet for sheet, table in (profile.sheets if profile else {}).items()}
    groups: dict[Path, list[Path]] = {}
    for path in files:
        ods, period, _ = path.stem.split("_", 2)
        groups.setdefault(path.parent / f"{ods}_{period}.xlsx", []).append(path)
    for workbook, members in groups.items():
        with xlsxwriter.Workbook(str(workbook), {"strings_to_numbers": False}) as book:
            book.set_properties({"created": dt.datetime(2027, 1, 1)})
            for path in members:
                table = path.stem.split("_", 2)[2]
                frame = pl.read_csv(path, infer_schema=False)
                sheet = book.add_worksheet(sheet_of.get(table, table))
                sheet.write_row(0, 0, frame.columns)
                for r, record in enumerate(frame.iter_rows(), start=1):
                    for c, value in enumerate(record):
                        if value is not None:
                            sheet.write_string(r, c, value)
        for path in members:
            path.unlink()
    return list(groups)

"""Render a validation report: the terminal, JSON, a CSV of findings, and a self-contained HTML page.

Every renderer shows the verdict and the counts first and the findings after. The CSV is safe to
open in Excel: a cell that Excel would read as a formula is written as text. The HTML page needs
no network and no script to read, and every value in it is escaped.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

from mhdeaths.errors import OutputError
from mhdeaths.output.folders import inside
from mhdeaths.output.writing import excel_safe
from mhdeaths.spec import Severity
from mhdeaths.validate.report import Report, Verdict

if TYPE_CHECKING:
    from rich.console import Console

CSV_COLUMNS = [
    "rule_id",
    "severity",
    "table",
    "file",
    "row",
    "column",
    "header",
    "field",
    "group",
    "value",
    "message",
    "fix",
    "example",
]


def to_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for finding in report.findings:
        record = finding.model_dump()
        record["group"] = " / ".join(record["group"] or [])
        record["severity"] = finding.severity.value
        writer.writerow([excel_safe(record[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()


def to_html(report: Report) -> str:
    # Imported here: the template engine takes longer to import than the terminal view to print.
    from mhdeaths.output.templating import html_environment

    return html_environment().get_template("validation-report.html.j2").render(report=report)


def write_reports(report: Report, folder: Path, stem: str, formats: list[str]) -> list[Path]:
    """Write the report in each format (json, csv, html) into a folder; the paths written.

    ``stem`` comes from ``report_files.report_stem``; each file is checked to lie in the folder.
    """
    writers = {
        "json": (to_json, "report.json"),
        "csv": (to_csv, "findings.csv"),
        "html": (to_html, "report.html"),
    }
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in formats:
            render, suffix = writers[name]
            path = inside(folder, f"{stem}.{suffix}")
            # The CSV carries a byte-order mark so that Excel reads it as UTF-8.
            encoding = "utf-8-sig" if name == "csv" else "utf-8"
            path.write_text(render(report), encoding=encoding, newline="")
            written.append(path)
    except OSError as exc:
        raise OutputError(f"The reports cannot be written to {folder}: {exc.strerror}.") from None
    return written


_STYLE = {
    Verdict.ACCEPTED: "bold green",
    Verdict.ACCEPTED_WITH_WARNINGS: "bold yellow",
    Verdict.REJECTED: "bold red",
}


def _heading(report: Report) -> tuple[str, str]:
    """The files named on the verdict's line, and the line of counts below it."""
    files = ", ".join(f.name for f in report.files)
    summary = (
        f"Spec {report.spec_version}; provider {report.provider or '?'}; period "
        f"{report.reporting_period or '?'}; "
        + ", ".join(f"{t.records} {t.name} records" for t in report.tables)
        + "; "
        + ", ".join(
            f"{n} {s.value.replace('_', ' ')}"
            for s, n in report.counts.items()
            if n or s is not Severity.INFO
        )
        + "."
    )
    return files, summary


def print_report(report: Report, console: Console, limit: int = 20) -> None:
    """The terminal view: verdict and counts first, then rules, then the first findings.

    Every value from the file or the spec is escaped, so that no text in it is read as markup.
    """
    # Imported here: a report written as plain text (``plain_report``) needs nothing of rich.
    from rich.markup import escape

    files, summary = _heading(report)
    console.print(f"[{_STYLE[report.verdict]}]{report.verdict.upper()}[/]  {escape(files)}")
    console.print(escape(summary))
    if report.rules:
        # Imported here: an accepted submission has no rule to list.
        from rich.table import Table

        table = Table("rule", "severity", "failed", title="Rules that failed")
        for r in report.rules:
            sev = r.severity.value.replace("_", " ") + (" (derogated)" if r.derogation else "")
            table.add_row(escape(r.rule_id), sev, str(r.failed))
        console.print(table)
        console.print("[bold]Findings[/bold]")
        for f in report.findings[:limit]:
            where = f"{f.file} ({f.table})"
            if f.row is not None:
                where += f", row {f.row}"
            if f.column:
                where += f", column {f.column}"
            if f.header:
                where += f" [{f.header}]"
            elif f.field:
                where += f", field {f.field}"
            if f.group:
                where += f", group {' / '.join(f.group)}"
            found = f" Found: {f.value}." if f.value is not None else ""
            severity = f.severity.value.replace("_", " ")
            console.print(f"{escape(where)}: [bold]{escape(f.rule_id)}[/bold] ({severity})")
            console.print(f"    {escape(f.message + found)}")
            console.print(f"    Fix: {escape(f.fix)}")
            if f.example:
                console.print(f"    Valid example: {escape(f.example)}")
        if len(report.findings) > limit:
            console.print(
                f"... and {len(report.findings) - limit} more findings listed in the JSON, CSV and "
                "HTML reports (use --out DIR)."
            )
    for note in report.notes:
        console.print(f"Note: {escape(note)}")


_READ_BY_RICH = re.compile(r"[\[\\\x00-\x1f\x7f-\x9f]|:\S*:")
"""What rich would not print as it is: markup's brackets and backslashes, control characters
(a tab, a carriage return) and what could be an emoji code (``:smile:``)."""


def plain_report(report: Report) -> str | None:
    """The terminal view as the text it is on a stream rich styles nothing on (a file, a pipe),
    written without rich: an accepted submission's verdict, counts and notes. None when the view
    has more (a table of the rules that failed, the findings) or a text rich would not print as
    it is; ``print_report`` then draws it. The two give the same bytes (a test holds them so)."""
    if report.rules or report.findings:
        return None
    files, summary = _heading(report)
    lines = [f"{report.verdict.upper()}  {files}", summary]
    lines += [f"Note: {note}" for note in report.notes]
    if any(_READ_BY_RICH.search(line) for line in lines):
        return None
    return "".join(f"{line}\n" for line in lines)

"""The ``mhdeaths validate`` command: a provider checks a submission offline, before sending it.

The report goes to the terminal (text), to standard output (json, csv, html) or into a folder;
the exit code says whether the submission would be accepted.
"""

# No ``from __future__ import annotations``: typer reads the command's annotations as it
# builds the command, on every run, and would compile and evaluate each again if kept as text
# (a hundredth of a one-month validation).
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mhdeaths.cli.common import SpecRoot, escape, out
from mhdeaths.cli.process import end_command
from mhdeaths.cli.warehouse import LimitSettings
from mhdeaths.errors import ExitCode, UserError
from mhdeaths.limits import Limits

if TYPE_CHECKING:
    from mhdeaths.validate.report import Report


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"
    CSV = "csv"


def validate_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="The submission: one file per table (CSV, Excel or Parquet), or one workbook "
            "with a sheet per table.",
            show_default=False,
        ),
    ],
    provider: Annotated[
        str | None,
        typer.Option(help="Use this provider's profile (validators/<ODS>.yaml)."),
    ] = None,
    profile_path: Annotated[
        Path | None, typer.Option("--profile", help="Use the profile in this file.")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--spec", help="Validate against this spec version \\[default: the file's own]."
        ),
    ] = None,
    formats: Annotated[
        list[OutputFormat] | None,
        typer.Option(
            "--format",
            help="Report format(s): text on the terminal; json, csv or html on standard output, "
            "or into --out (repeatable) \\[default: text; with --out: json, csv and html].",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the reports into this folder.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat warnings as failures.")] = False,
    encoding: Annotated[
        str | None,
        typer.Option(help="The CSV's encoding (utf-8 or windows-1252) \\[default: detected]."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="The CSV's delimiter \\[default: detected].")
    ] = None,
    limit: LimitSettings = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Validate a submission offline: every finding by row, column and rule, with a fix hint.

    Exits 0 when the submission is accepted (warnings allowed), 1 when it is rejected (or, with
    --strict, has warnings), 2 when a file cannot be read or the options are wrong.
    """
    from mhdeaths.spec import Severity
    from mhdeaths.validate.profiles import load_profile
    from mhdeaths.validate.validator import validate

    if provider and profile_path:
        raise UserError("Give --provider or --profile, not both.")
    limits = Limits.parse(limit)
    result = validate(
        files,
        spec_version=version,
        profile=load_profile(profile_path) if profile_path else None,
        provider=provider,
        spec_root=spec_dir,
        encoding=encoding,
        delimiter=delimiter,
        strict=strict,
        limits=limits,
    )
    report = result.report
    chosen = [f.value for f in formats or []]
    try:
        _write_validation_outputs(report, chosen, out_dir, files, spec_dir)
    except BrokenPipeError:
        # The reader of a pipe stopped early (| head): the exit code still tells the verdict.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    failed = not result.accepted or (strict and report.counts.get(Severity.WARNING))
    end_command(ExitCode.FAILED if failed else ExitCode.OK)


def _write_validation_outputs(
    report: "Report",
    chosen: list[str],
    out_dir: Path | None,
    files: list[Path],
    spec_dir: Path | None,
) -> None:
    from mhdeaths.validate.render import to_csv, to_html, to_json, write_reports

    if out_dir is not None:
        from mhdeaths.validate.report_files import report_stem

        stem = report_stem(report, files, spec_root=spec_dir)
        wanted = [f for f in chosen if f != "text"] or ["json", "csv", "html"]
        written = write_reports(report, out_dir, stem, wanted)
        _print_text(report)
        for path in written:
            out.print(f"Wrote {escape(str(path))}")
    elif not chosen or chosen == ["text"]:
        _print_text(report)
    else:
        renderers = {"json": to_json, "csv": to_csv, "html": to_html, "text": None}
        for name in chosen:
            render = renderers[name]
            if render is None:
                _print_text(report)
            else:
                sys.stdout.write(render(report))
    sys.stdout.flush()


def _print_text(report: "Report") -> None:
    """The report's terminal view on standard output: as plain text, without rich, when it is
    only text and the output is not a terminal; else drawn by rich."""
    from mhdeaths.validate.render import plain_report, print_report

    plain = plain_report(report) if out.plain else None
    if plain is None:
        print_report(report, out.console)
    elif not out.quiet:
        sys.stdout.write(plain)

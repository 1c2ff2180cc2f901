"""The ``mhdeaths synth`` command: realistic synthetic submissions, derived from the spec.

For demonstrations, tests and benchmarks: the same seed gives the same files, and every value
comes from the spec's fields and code lists (or a provider's profile, to write its own headers).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from mhdeaths.cli.common import SpecRoot, out, spec_root
from mhdeaths.errors import UserError


def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the submissions into.")],
    providers: Annotated[int, typer.Option(min=1, help="Number of providers.")] = 5,
    months: Annotated[int, typer.Option(min=1, help="Number of monthly reporting periods.")] = 12,
    start: Annotated[str, typer.Option(help="First reporting period, CCYY-MM.")] = "2027-04",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 1,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of death records given one known error.")
    ] = 0.0,
    resubmissions: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of provider-months with deaths resubmitted later (to <ODS>/resubmissions/): "
            "updates with the details that came later, now and then a withdrawal or a late death.",
        ),
    ] = 0.0,
    transfers: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of deaths within 30 days of discharge that follow a transfer to another "
            "provider, which reports the same death as an inpatient death.",
        ),
    ] = 0.0,
    planted_cases: Annotated[
        bool,
        typer.Option(
            "--planted-cases",
            help="Spec 2.0.0 and later, two or more providers: plant each hard case once, a death "
            "of its own in a provider-month of its own: two providers giving dates of death 1 to 3 "
            "days apart; a transfer the receiving provider never reports; a holding code (Y33.9) "
            "replaced in the month's resubmission; an undetermined-intent death at 12; an inquest "
            "conclusion arriving in the month's resubmission. Each passes every rule.",
        ),
    ] = False,
    feeds: Annotated[
        bool,
        typer.Option(
            "--feeds",
            help="Also write the national feeds to feeds/: the MHSDS spells of each month "
            "(spells_<CCYY-MM>), agreeing with the activity files, and the death registrations of "
            "each calendar year (registrations_<CCYY>): every reported death, later deaths of "
            "some people discharged alive, and the background. The death and activity files do "
            "not change.",
        ),
    ] = False,
    feed_format: Annotated[
        str, typer.Option(help="With --feeds: the feed files' format, parquet or csv.")
    ] = "parquet",
    background_deaths: Annotated[
        int,
        typer.Option(
            min=0,
            help="With --feeds: registrations a year of people never in mental health care.",
        ),
    ] = 580_000,
    under_report: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ODS=SHARE",
            help="With --feeds: that provider leaves out SHARE (0 to below 1) of its deaths after "
            "discharge; the feeds hold the deaths it left out (repeatable).",
        ),
    ] = None,
    registrations_to: Annotated[
        str | None,
        typer.Option(
            help="With --feeds: the registrations extract's last month, CCYY-MM \\[default: the "
            "month after the last generated one]; deaths registered later are not in it.",
        ),
    ] = None,
    spells_missing: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ODS=SHARE",
            help="With --feeds: that provider's spells feed leaves out SHARE of its spells "
            "(repeatable).",
        ),
    ] = None,
    outlier: Annotated[
        list[str] | None,
        typer.Option(help="ODS code of a provider to plant as an outlier (repeatable)."),
    ] = None,
    provider: Annotated[
        list[str] | None,
        typer.Option(help="Name the providers by ODS code instead of numbering them (repeatable)."),
    ] = None,
    profile_path: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            help="Write the files the way this profile's provider exports them (its own headers, "
            "local codes and date format).",
        ),
    ] = None,
    workbook: Annotated[
        bool,
        typer.Option(
            help="Write each submission as one Excel workbook, a sheet per table (named as the "
            "profile's sheets: says, else after the table), instead of CSV files.",
        ),
    ] = False,
    version: Annotated[
        str | None, typer.Option("--spec", help="Spec version to write \\[default: the latest].")
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Write realistic synthetic death and activity submissions derived from the spec."""
    from mhdeaths.periods import period_start
    from mhdeaths.spec import load_spec
    from mhdeaths.synth import SynthOptions, generate, rewrite_for_profile
    from mhdeaths.synth.files import into_workbooks
    from mhdeaths.validate.profiles import load_profile

    period_start(start)
    spec = load_spec(version, spec_root(spec_dir))
    profile = load_profile(profile_path) if profile_path else None
    names = tuple(provider or ()) or ((profile.provider,) if profile else ())
    options = SynthOptions(
        providers=providers,
        months=months,
        start=start,
        seed=seed,
        error_rate=error_rate,
        outliers=tuple(outlier or ()),
        provider_list=names,
        resubmissions=resubmissions,
        transfers=transfers,
        planted_cases=planted_cases,
        feeds=feeds,
        feed_format=feed_format,
        background_deaths=background_deaths,
        under_report=_shares("--under-report", under_report),
        registrations_to=registrations_to,
        spells_missing=_shares("--spells-missing", spells_missing),
    )
    result = generate(spec, options, out_dir)
    if profile is not None:
        rewrite_for_profile(spec, profile, result.files)
    files = into_workbooks(result.files, profile) if workbook else result.files
    out.print(
        f"Wrote {len(files)} files for {len(result.providers)} providers "
        f"({', '.join(result.providers)}) to {out_dir}"
        + (f", {len(result.resubmissions)} of them resubmissions" if result.resubmissions else "")
        + (
            f", {len(result.transfers)} deaths reported by two providers"
            if result.transfers
            else ""
        )
        + (f", {len(result.planted_cases)} planted cases" if result.planted_cases else "")
        + (f", with {len(result.planted_errors)} planted errors." if result.planted_errors else ".")
    )
    if result.feeds is not None:
        written = result.feeds
        out.print(
            f"Wrote the national feeds to {out_dir / 'feeds'}: {len(written.spell_files)} months "
            f"of spells ({written.spells} spells), {written.registrations} registrations in "
            f"{len(written.registration_files)} files ({written.background} of people never in "
            "mental health care)"
            + (
                f", {len(result.planted_missed)} deaths left out by providers"
                if result.planted_missed
                else ""
            )
            + "."
        )
        # Counts only: a planted death is a person, never shown.
        for ods, n in sorted(Counter(m.provider for m in result.planted_missed).items()):
            out.print(f"  {ods} left out {n} deaths after discharge")
        for ods, n in sorted(written.spells_missing.items()):
            out.print(f"  {ods}'s spells feed leaves out {n} spells")
    # Where each case is, by record identifier (never a person's details), for the tester to find.
    for case in result.planted_cases:
        other = ""
        if case.other_record_id:
            other = (
                f" and {case.other_provider} {case.other_record_id}, {case.days_apart} days apart"
            )
        elif case.other_provider:
            other = f", transferred to {case.other_provider}, which has no record of it"
        out.print(f"  {case.case}: {case.provider} {case.death_record_id}{other}")


def _shares(option: str, values: list[str] | None) -> tuple[tuple[str, float], ...]:
    """``ODS=SHARE`` pairs, each share a number."""
    pairs = []
    for value in values or ():
        ods, _, share = value.partition("=")
        try:
            pairs.append((ods.strip().upper(), float(share)))
        except ValueError:
            raise UserError(
                f"{option} takes ODS=SHARE, for example RZ9=0.3, not {value!r}."
            ) from None
    return tuple(pairs)

"""The ``mhdeaths synth`` command: realistic synthetic submissions, derived from the spec.

For demonstrations, tests and benchmarks: the same seed gives the same files, and every value
comes from the spec's fields and code lists (or a provider's profile, to write its own headers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mhdeaths.cli.common import SpecRoot, out, spec_root


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
    version: Annotated[
        str | None, typer.Option("--spec", help="Spec version to write \\[default: the latest].")
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Write realistic synthetic death and activity submissions derived from the spec."""
    from mhdeaths.periods import period_start
    from mhdeaths.spec import load_spec
    from mhdeaths.synth import SynthOptions, generate, rewrite_for_profile
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
    )
    result = generate(spec, options, out_dir)
    if profile is not None:
        rewrite_for_profile(spec, profile, result.files)
    out.print(
        f"Wrote {len(result.files)} files for {len(result.providers)} providers "
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

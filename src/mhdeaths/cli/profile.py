"""The ``mhdeaths profile`` commands: check a provider's profile against the spec.

A profile (``validators/<ODS>.yaml``) maps a provider's own headers and local codes onto the spec;
checking it before a submission is the cheap way to find a header or a code that will not map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mhdeaths.cli.common import SpecRoot, out, spec_root
from mhdeaths.errors import SpecCheckFailed

app = typer.Typer(help="Work with provider profiles (validators/<ODS>.yaml).", no_args_is_help=True)


@app.command("check")
def profile_check(
    path: Annotated[Path, typer.Argument(help="The profile file, e.g. validators/RZ9.yaml.")],
    version: Annotated[
        str | None,
        typer.Option(
            "--spec",
            help="Spec version to check against \\[default: the profile's, or the latest].",
        ),
    ] = None,
    spec_dir: SpecRoot = None,
) -> None:
    """Check a provider profile against the spec: its headers, code maps and derogations.

    Exits 0 when the profile fits the spec, 1 when a problem is found.
    """
    from mhdeaths.spec import load_spec
    from mhdeaths.validate.profiles import check_profile, load_profile

    profile = load_profile(path)
    spec = load_spec(version or profile.spec_version, spec_root(spec_dir))
    problems = check_profile(profile, spec)
    if problems:
        raise SpecCheckFailed(problems, f"The profile {path} does not fit spec {spec.version}.")
    out.print(
        f"{path}: fits spec {spec.version} ({sum(len(h) for h in profile.headers.values())} headers, "
        f"{sum(len(c) for c in profile.codes.values())} local codes, "
        f"{len(profile.derogations)} derogations)."
    )

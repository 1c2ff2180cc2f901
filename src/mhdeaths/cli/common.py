"""What the command groups share: the consoles they print on and the --spec-dir and --feed options.

One console for standard output and one for standard error, so every command prints the same
way (no highlighting of numbers; long lines wrap as the terminal wraps them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mhdeaths.paths import default_spec_root

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

SpecRoot = Annotated[
    Path | None,
    typer.Option(
        "--spec-dir",
        help="The spec folder \\[default: the spec/ folder of this checkout, or $MHDEATHS_SPEC_DIR].",
        show_default=False,
    ),
]

FeedName = Annotated[
    str | None,
    typer.Option(
        "--feed",
        help=(
            "Work on a national feed's spec (registrations or spells) instead of the dataset's: "
            "the folder feeds/NAME of the spec folder."
        ),
        show_default=False,
    ),
]


AS_AT_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def as_at_option(text: str) -> Any:
    """The ``--as-at`` option of a command that reads the warehouse as it stood at a time."""
    return typer.Option("--as-at", help=text, formats=AS_AT_FORMATS, show_default=False)


def spec_root(spec_dir: Path | None, feed: str | None = None) -> Path:
    """The spec folder --spec-dir names, else the default one; with --feed, that feed's folder."""
    root = spec_dir or default_spec_root()
    if feed is None:
        return root
    from mhdeaths.spec import feed_root

    return feed_root(feed, root)

"""What the command groups share: the consoles they print on and the --spec-dir and --feed options.

One console for standard output and one for standard error, so every command prints the same
way (no highlighting of numbers; long lines wrap as the terminal wraps them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mhdeaths.errors import UserError
from mhdeaths.paths import data_root, default_spec_root, installed

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

SpecRoot = Annotated[
    Path | None,
    typer.Option(
        "--spec-dir",
        help="The spec folder \\[default: $MHDEATHS_SPEC_DIR, the settings file's spec_dir, else the spec versions shipped with mhdeaths].",
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


def set_verbosity(*, quiet: bool, verbose: bool) -> None:
    """``-q`` silences standard output (errors still go to standard error, and the exit code
    tells); ``-v`` shows the library's log of steps and timings on standard error."""
    import logging

    out.quiet = quiet
    if verbose:
        from rich.logging import RichHandler

        handler = RichHandler(
            console=err, show_time=False, show_path=False, show_level=False, markup=False
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger = logging.getLogger("mhdeaths")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def refuse_packaged(folder: Path) -> None:
    """Refuse to change a folder inside the installed package: an upgrade would replace it, and
    the released versions there are everyone's, not one team's."""
    if installed() and folder.resolve().is_relative_to(data_root().resolve()):
        raise UserError(
            f"The spec folder {folder} is inside the installed package, which an upgrade "
            "replaces: work on a copy of the spec (a clone of the repository, or a copy of this "
            "folder) named by --spec-dir or $MHDEATHS_SPEC_DIR."
        )

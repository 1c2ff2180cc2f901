"""What the command groups share: the consoles they print on and the --spec-dir and --feed options.

One console for standard output and one for standard error, so every command prints the same
way (no highlighting of numbers; long lines wrap as the terminal wraps them). Each is rich's
console, made when something is first printed on it: importing rich is a twentieth of a
one-month validation, whose report written to a file or a pipe may need none of it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mhdeaths.errors import UserError
from mhdeaths.paths import data_root, default_spec_root, installed

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A rich console on standard output or standard error, made when first printed on."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._made: Console | None = None
        self._quiet = False

    @property
    def console(self) -> Console:
        """The rich console itself (made now if it is not yet)."""
        if self._made is None:
            from rich.console import Console

            self._made = Console(quiet=self._quiet, **self._options)
        return self._made

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*objects, **options)

    @property
    def quiet(self) -> bool:
        return self._made.quiet if self._made is not None else self._quiet

    @quiet.setter
    def quiet(self, value: bool) -> None:
        self._quiet = value
        if self._made is not None:
            self._made.quiet = value

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal

    @property
    def plain(self) -> bool:
        """Whether the console would print text as it is, styles and all dropped: its stream is
        not a terminal and nothing tells rich to treat it as one (FORCE_COLOR, TTY_COMPATIBLE,
        a notebook). Then text that holds nothing rich reads (markup, emoji codes) can be
        written without it. False where unsure (Windows, whose consoles rich writes its own
        way)."""
        if self._made is not None:
            return not self._made.is_terminal and not self._made.is_jupyter
        if os.name == "nt" or "IPython" in sys.modules:
            return False
        if {"FORCE_COLOR", "TTY_COMPATIBLE"} & os.environ.keys():
            return False
        stream = sys.stderr if self._options.get("stderr") else sys.stdout
        try:
            return not stream.isatty()
        except (AttributeError, ValueError):
            return False


def escape(text: str) -> str:
    """rich's ``escape`` (the text printed as it is, never read as markup), imported when first
    needed, as the consoles are."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


out = LazyConsole(highlight=False, soft_wrap=True)
err = LazyConsole(stderr=True, highlight=False)

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
            console=err.console, show_time=False, show_path=False, show_level=False, markup=False
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

"""Where the tool finds what it ships with: the spec versions, provider profiles, warehouse model.

Every folder of data the code reads (``spec/``, ``validators/``, ``warehouse/``, the example
submissions and ``docs/``) is found here and nowhere else, so that moving the package, or
installing it, changes one module.

Two layouts hold the same folders. In a checkout they sit at the repository's root, beside
``src/``, where standards teams and developers edit them. An installed wheel carries copies
inside the package, under ``mhdeaths/_data/`` (``pyproject.toml`` maps them there), found through
``importlib.resources`` so that ``pip install`` gives a tool that works from any folder. The
checkout wins when both are there: an editable install reads the files being edited. Settings
(``mhdeaths.settings``) name another spec or profile folder for teams working on their own
copies.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from mhdeaths.settings import path_setting

CHECKOUT = Path(__file__).resolve().parents[2]
"""The folder above ``src/``: the repository's root in a checkout (meaningless in a wheel)."""


@cache
def data_root() -> Path:
    """The folder holding ``spec/``, ``validators/``, ``warehouse/`` and ``submissions/``: the
    checkout's root when running from one, else the copy installed inside the package."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "spec").is_dir():
        return CHECKOUT
    # A wheel is always unpacked on disk (pip and uv never install zipped), so the traversable
    # is a real folder.
    return Path(str(files("mhdeaths") / "_data"))


def installed() -> bool:
    """Whether the data is the copy inside an installed package, not a checkout's own folders."""
    return data_root() != CHECKOUT


def default_spec_root() -> Path:
    """The ``spec/`` folder shipped with the tool, unless the ``spec_dir`` setting names another."""
    return path_setting("spec_dir") or data_root() / "spec"


def default_profiles_dir() -> Path:
    """The ``validators/`` folder of provider profiles, unless the ``profiles_dir`` setting names
    another."""
    return path_setting("profiles_dir") or data_root() / "validators"


def warehouse_root() -> Path:
    """The ``warehouse/`` folder shipped with the tool: migrations, views and the canonical model."""
    return data_root() / "warehouse"


def examples_root() -> Path:
    """The bundled example submissions, one folder per provider."""
    return data_root() / "submissions" / "examples"


def example_feeds_root() -> Path:
    """The bundled synthetic national feeds (spells and registrations) of the example providers:
    beside the examples, never among them (a feed file is not a submission)."""
    return data_root() / "submissions" / "feeds"


def default_docs_dir() -> Path:
    """The ``docs/`` folder the reference pages are generated into (a checkout's only)."""
    return CHECKOUT / "docs"

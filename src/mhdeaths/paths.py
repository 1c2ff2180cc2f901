"""Where the tool finds what it ships with: the spec versions, provider profiles, warehouse model.

Every folder of data the code reads (``spec/``, ``validators/``, ``warehouse/``, the example
submissions and ``docs/``) is found here and nowhere else, so that moving the package, or
installing it, changes one module. An environment variable names another spec or profile folder
for standards teams and providers working on their own copies.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
"""The folder this package was installed from: the repository's root in a checkout."""


def default_spec_root() -> Path:
    """The ``spec/`` folder of this checkout, or the one named by ``MHDEATHS_SPEC_DIR``."""
    env = os.environ.get("MHDEATHS_SPEC_DIR")
    return Path(env) if env else CHECKOUT / "spec"


def default_profiles_dir() -> Path:
    """The ``validators/`` folder of provider profiles, or the one named by ``MHDEATHS_PROFILES_DIR``."""
    env = os.environ.get("MHDEATHS_PROFILES_DIR")
    return Path(env) if env else CHECKOUT / "validators"


def warehouse_root() -> Path:
    """The ``warehouse/`` folder of this checkout: migrations, views and the canonical model."""
    return CHECKOUT / "warehouse"


def examples_root() -> Path:
    """The bundled example submissions, one folder per provider."""
    return CHECKOUT / "submissions" / "examples"


def example_feeds_root() -> Path:
    """The bundled synthetic national feeds (spells and registrations) of the example providers:
    beside the examples, never among them (a feed file is not a submission)."""
    return CHECKOUT / "submissions" / "feeds"


def default_docs_dir() -> Path:
    """The ``docs/`` folder the reference pages are generated into."""
    return CHECKOUT / "docs"

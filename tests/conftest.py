"""Shared fixtures: the real spec versions under spec/, loaded once per test session.

Also the hypothesis profiles: ``dev`` (hypothesis's defaults, with its deadline) when a test is
run by hand, exploring new examples each run; ``ci`` for ``scripts/test.sh`` (no deadline: a
loaded two-core machine is not a slow function; the same examples every run, so that a red run
is the change's doing and can be run again); and ``fast`` (a few examples each) for its
``--fast`` lane. A test's own ``@settings`` still wins. Choose one with ``HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from mhdeaths.paths import default_spec_root
from mhdeaths.spec import Spec, available_versions, load_spec
from mhdeaths.warehouse.canonical import load_canonical

# The suite's spec cache is its own, not the user's (~/.cache/mhdeaths): a test run must leave
# nothing behind in the home folder, and a user's cache must not decide what a test sees. One
# folder for every worker and run (the cache is keyed by what it holds, so sharing is safe); the
# subprocesses the tests start inherit it. A test of the cache sets its own.
os.environ.setdefault(
    "MHDEATHS_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"mhdeaths-test-cache-{os.getuid()}")
)

settings.register_profile("dev")
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.register_profile("fast", deadline=None, max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The lane `scripts/test.sh --fast` leaves out: whole folders that run real processes,
# warehouses and browsers, tests that build the documentation site or open a browser, the
# property tests that generate thousands of files, every rule through a real file, and the
# synthetic lifecycle over many periods. What stays: every rule's examples in both engines.
SLOW_FOLDERS = {"integration", "functional"}
SLOW_FIXTURES = {"browser", "site"}
SLOW_MODULES = {
    "test_rules_in_files",
    "test_synth_lifecycle",
    "test_engines_agree",
    "test_validator_properties",
    "test_nothing_identifiable_escapes",
    "test_hostile_files_fuzz",
    "test_client_snippets",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if (
            item.path.parent.name in SLOW_FOLDERS
            or item.path.stem in SLOW_MODULES
            or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(pytest.mark.slow)


SPEC_ROOT = default_spec_root()
VERSIONS = available_versions(SPEC_ROOT)
LOADABLE = [v for v in VERSIONS if v in load_canonical().versions]
"""The versions the warehouse loads: a draft only once warehouse/canonical.yaml maps it."""


@pytest.fixture(scope="session")
def spec_root() -> Path:
    return SPEC_ROOT


@pytest.fixture(scope="session", params=VERSIONS)
def any_spec(request: pytest.FixtureRequest) -> Spec:
    """Each spec version in turn."""
    return load_spec(request.param, SPEC_ROOT)


@pytest.fixture(scope="session")
def spec_v1() -> Spec:
    return load_spec("1.0.0", SPEC_ROOT)


@pytest.fixture(scope="session")
def spec_latest() -> Spec:
    return load_spec(VERSIONS[-1], SPEC_ROOT)


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    """A writable copy of the spec folder, for tests that break it on purpose."""
    root = tmp_path / "spec"
    shutil.copytree(SPEC_ROOT, root)
    return root

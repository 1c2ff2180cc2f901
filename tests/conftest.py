"""Shared fixtures: the real spec versions under spec/, loaded once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mhdeaths.paths import default_spec_root
from mhdeaths.spec import Spec, available_versions, load_spec

SPEC_ROOT = default_spec_root()
VERSIONS = available_versions(SPEC_ROOT)


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

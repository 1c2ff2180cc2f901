"""A national feed speaks the dataset's language: its codes and fields mean what the dataset's do.

A feed's code lists are copies of the dataset's (a released feed must not move when the dataset's
lists move), so nothing but these tests keeps them in step: every code a feed list holds must be a
code of the newest dataset list of the same name, every crosswalk a feed list holds must map onto
codes of a dataset list, and a feed field named as a dataset field must be typed as it is, so that
a record made from a feed is classified by the agreed definitions as a submitted one would be.
"""

from __future__ import annotations

import pytest

from mhdeaths.spec import Spec

from ..conftest import VERSIONS
from .cases import SPECS

DATASET = SPECS[VERSIONS[-1]]
FEED_VERSIONS = [key for key, spec in SPECS.items() if spec.is_feed]


def _lists(spec: Spec) -> dict[str, set[str]]:
    return {c.name: set(c.valid_codes()) for c in spec.code_lists}


@pytest.mark.parametrize("version", FEED_VERSIONS)
def test_a_feed_list_holds_only_codes_of_the_dataset_list_of_its_name(version: str) -> None:
    dataset = _lists(DATASET)
    shared = [name for name in _lists(SPECS[version]) if name in dataset]
    assert shared, "a feed uses the dataset's lists"
    for name, codes in _lists(SPECS[version]).items():
        if name in dataset:
            assert codes <= dataset[name], f"{name}: {sorted(codes - dataset[name])}"


@pytest.mark.parametrize("version", FEED_VERSIONS)
def test_a_feed_crosswalk_maps_onto_codes_of_a_dataset_list(version: str) -> None:
    dataset = _lists(DATASET)
    for code_list in SPECS[version].code_lists:
        for code in code_list.codes:
            for target, mapped in code.maps.items():
                assert target in dataset, f"{code_list.name} maps onto {target}"
                assert mapped in dataset[target], f"{code_list.name}.{code.code} -> {mapped}"


def test_registered_sex_crosswalks_to_stated_gender() -> None:
    spec = SPECS["registrations/1.0.0"]
    walk = spec.code_list("registered_sex").crosswalk("stated_gender")
    assert walk == {"1": "1", "2": "2", "9": "X"}


@pytest.mark.parametrize("version", FEED_VERSIONS)
def test_a_feed_field_is_typed_as_the_dataset_field_of_its_name(version: str) -> None:
    death = {f.name: f for f in DATASET.table("death").fields}
    same = 0
    for table in SPECS[version].tables:
        for field in table.fields:
            if field.name in death:
                theirs = death[field.name]
                ours = (field.type, field.pattern, field.identifier, field.code_list)
                assert ours == (theirs.type, theirs.pattern, theirs.identifier, theirs.code_list), (
                    field.name
                )
                same += 1
    assert same >= 5

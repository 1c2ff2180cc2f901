"""Which spec version a file may be written to, for its reporting period (build plan 7.2).

The version in force for a period is the newest released version effective by then. A file may be
written to it, to a version it still accepts (`accepts_previous`), or to any later version: an
update to a death of an earlier period is sent under the current version. Anything older is
refused in one sentence. Tested on a copy of the spec in which 2.0.0 is released, so that the
policy is seen as it will be once the draft is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.validate.reading import SubmissionFileError
from mhdeaths.validate.report import Verdict
from mhdeaths.validate.validator import validate

from ..conftest import SPEC_ROOT


def _released_2(spec_copy: Path) -> Path:
    head = spec_copy / "2.0.0" / "version.yaml"
    head.write_text(head.read_text(encoding="utf-8").replace("status: draft", "status: released"))
    assert load_spec("2.0.0", spec_copy).status == "released"
    return spec_copy


def _files(version: str, period: str, out: Path) -> list[Path]:
    spec = load_spec(version, SPEC_ROOT)
    options = SynthOptions(provider_list=("RZ1",), months=1, start=period, seed=4)
    return generate(spec, options, out).files


def test_a_version_no_longer_accepted_for_the_period_is_refused_in_one_sentence(
    spec_copy: Path, tmp_path: Path
) -> None:
    root = _released_2(spec_copy)
    files = _files("1.0.0", "2028-05", tmp_path)
    with pytest.raises(SubmissionFileError) as raised:
        validate(files, spec_root=root)
    assert str(raised.value) == (
        "The file declares spec version 1.0.0, which is not accepted for reporting period "
        "2028-05: spec 2.0.0 applies from 2028-04 and accepts 2.0.0, 1.1.0; write the file to "
        "one of those."
    )
    # Choosing a version by hand checks the file against it, whatever the period.
    assert validate(files, spec_root=root, spec_version="1.0.0").report.spec_version == "1.0.0"


@pytest.mark.parametrize(
    ("version", "period"),
    [
        ("1.1.0", "2028-05"),  # still accepted by 2.0.0
        ("1.0.0", "2027-09"),  # the version in force for its own period
        ("1.0.0", "2028-03"),  # 1.1.0 is in force then, and accepts it
        ("2.0.0", "2027-09"),  # an update to an earlier period under the current version
    ],
)
def test_versions_in_force_accepted_or_later_are_accepted(
    spec_copy: Path, tmp_path: Path, version: str, period: str
) -> None:
    root = _released_2(spec_copy)
    report = validate(_files(version, period, tmp_path), spec_root=root).report
    assert report.spec_version == version and report.reporting_period == period
    assert report.verdict is not Verdict.REJECTED


def test_a_draft_is_never_the_version_in_force(tmp_path: Path) -> None:
    # With 2.0.0 still a draft, 1.1.0 is in force from 2027-10 on, and it accepts 1.0.0.
    report = validate(_files("1.0.0", "2028-05", tmp_path)).report
    assert report.spec_version == "1.0.0" and report.verdict is not Verdict.REJECTED

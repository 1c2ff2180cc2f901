"""Indicator files: the bundled ones load, and a malformed one is one clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mhdeaths.benchmark.compute import Window, window_ending
from mhdeaths.benchmark.indicators import indicators_root, load_indicators
from mhdeaths.errors import UserError


def test_the_bundled_indicators_cover_the_issue() -> None:
    ids = [i.id for i in load_indicators()]
    assert ids[:2] == ["inpatient_deaths", "deaths_after_discharge"]
    assert set(ids) == {
        "inpatient_deaths",
        "deaths_after_discharge",
        "deaths_reviewed",
        "days_to_review",
        "problems_in_care",
        "family_involvement",
    }
    by_id = {i.id: i for i in load_indicators()}
    for rate in ("inpatient_deaths", "deaths_after_discharge"):
        assert [v.id for v in by_id[rate].variants] == ["all", "unnatural", "suicide"]
        assert by_id[rate].standardise_by == ("age_band", "stated_gender")
        assert by_id[rate].pooling_months == 36
    assert by_id["inpatient_deaths"].multiplier == 100_000
    assert by_id["deaths_after_discharge"].multiplier == 1_000


def _write(folder: Path, name: str, data: object) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def _valid() -> dict[str, object]:
    source = indicators_root() / "deaths_reviewed.yaml"
    data: dict[str, object] = yaml.safe_load(source.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "ratio"}, "not valid"),
        ({"measure": "1"}, "has a denominator and no measure"),
        ({"denominator": {"label": "x", "activity": "a", "deaths": "TRUE"}}, "exactly one"),
        ({"standardise_by": ["age_band"]}, "only an indicator over activity"),
        ({"pooling_months": 0}, "at least 1"),
        ({"method": {"compare": "standardised_ratio"}}, "needs standardise_by"),
        ({"method": {"compare": "none"}}, "a median is compared by 'none'"),
        ({"method": {"compare": "crude", "trim": 0.5}}, "below 0.5"),
        ({"colour": "red"}, "not valid"),
    ],
)
def test_a_malformed_indicator_is_one_sentence(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    _write(tmp_path, "deaths_reviewed", {**_valid(), **change})
    with pytest.raises(UserError, match=message) as raised:
        load_indicators(tmp_path)
    assert "\n" not in str(raised.value)


def test_the_file_name_is_the_id(tmp_path: Path) -> None:
    _write(tmp_path, "other", _valid())
    with pytest.raises(UserError, match="declares the id 'deaths_reviewed'"):
        load_indicators(tmp_path)


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no indicator files"):
        load_indicators(tmp_path)


def test_windows_are_whole_months_ending_at_the_period() -> None:
    assert window_ending("2028-03", 36) == Window("2025-04", "2028-03")
    assert window_ending("2028-03", 3).label == "2028-01 to 2028-03"
    assert window_ending("2028-03", 1).label == "2028-03"
    window = window_ending("2027-12", 12)
    assert (window.start.isoformat(), window.end.isoformat(), window.months) == (
        "2027-01-01",
        "2028-01-01",
        12,
    )

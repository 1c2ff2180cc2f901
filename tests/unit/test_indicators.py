"""Indicator files: the bundled ones load, and a malformed one is one clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mhdeaths.benchmark.compute import Window, window_ending
from mhdeaths.benchmark.indicators import (
    UnknownIndicator,
    indicators_root,
    load_catalogue,
    load_indicators,
    select_indicators,
)
from mhdeaths.errors import UserError


def test_the_bundled_indicators_cover_the_issue() -> None:
    ids = [i.id for i in load_indicators()]
    assert ids == [
        "inpatient_deaths",
        "deaths_after_discharge_v2",
        "deaths_case_record_reviewed",
        "deaths_investigated",
        "required_reviews_within_3_months",
        "required_reviews_within_6_months",
        "problems_in_care_crr",
        "family_involvement",
        "deaths_within_7_days",
        "no_follow_up_within_72_hours",
        "detained_deaths",
        "reported_completeness",
        "notification_lag",
        "deaths_within_3_months",
        "deaths_in_state_detention",
        "deaths_awaiting_admission",
        "deaths_after_restrictive_intervention",
    ]
    by_id = {i.id: i for i in load_indicators()}
    for rate in ("inpatient_deaths", "deaths_after_discharge_v2"):
        live = [v.id for v in by_id[rate].live_variants]
        assert live == ["all", "suicide_ons", "suicide_ncish", "unnatural_ons"]
        assert by_id[rate].standardise_by == ("age_band", "stated_gender")
        assert by_id[rate].pooling_months == 36
    assert by_id["inpatient_deaths"].multiplier == 100_000
    assert by_id["deaths_after_discharge_v2"].multiplier == 1_000
    assert by_id["deaths_after_discharge_v2"].denominator.activity == "discharges_non_transfer"  # type: ignore[union-attr]


def test_every_1_1_0_indicator_is_retired_or_kept_as_the_plan_says() -> None:
    # Section 9.5: a changed meaning is a new id; the old id answers with its replacements.
    retired = {i.id: i.superseded_by for i in load_catalogue() if i.status == "retired"}
    assert retired == {
        "deaths_after_discharge": ("deaths_after_discharge_v2",),
        "deaths_reviewed": ("deaths_case_record_reviewed", "deaths_investigated"),
        "days_to_review": ("required_reviews_within_3_months", "required_reviews_within_6_months"),
        "problems_in_care": ("problems_in_care_crr",),
    }
    assert all(i.retired_in == "2.0.0" for i in load_catalogue() if i.status == "retired")
    inpatient = next(i for i in load_indicators() if i.id == "inpatient_deaths")
    assert {v.id: v.superseded_by for v in inpatient.variants if v.status == "retired"} == {
        "unnatural": ("inpatient_deaths.unnatural_ons",),
        "suicide": ("inpatient_deaths.suicide_ons", "inpatient_deaths.suicide_ncish"),
    }
    with pytest.raises(UnknownIndicator) as raised:
        select_indicators(["deaths_reviewed"])
    assert str(raised.value) == (
        "Indicator deaths_reviewed was retired with definitions 2.0.0; use "
        "deaths_case_record_reviewed or deaths_investigated."
    )


def _write(folder: Path, name: str, data: object) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def _valid() -> dict[str, object]:
    source = indicators_root() / "deaths_case_record_reviewed.yaml"
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
        ({"method": {"compare": "none"}}, "a median or a count is compared by 'none'"),
        ({"method": {"compare": "crude", "trim": 0.5}}, "below 0.5"),
        ({"colour": "red"}, "not valid"),
        ({"kind": "count"}, "a count has no measure and no denominator"),
        (
            {"denominator": {"label": "x", "activity": "a"}, "mature_months": 3},
            "a share of deaths or a median only",
        ),
    ],
)
def test_a_malformed_indicator_is_one_sentence(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    _write(tmp_path, "deaths_case_record_reviewed", {**_valid(), **change})
    with pytest.raises(UserError, match=message) as raised:
        load_indicators(tmp_path)
    assert "\n" not in str(raised.value)


def test_the_file_name_is_the_id(tmp_path: Path) -> None:
    _write(tmp_path, "other", _valid())
    with pytest.raises(UserError, match="declares the id 'deaths_case_record_reviewed'"):
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


def _retire(data: dict[str, object], *instead: str) -> dict[str, object]:
    return {**data, "status": "retired", "retired_in": "2.0.0", "superseded_by": list(instead)}


def _catalogue(tmp_path: Path) -> Path:
    """An indicators folder with one indicator in use and one retired in favour of it."""
    current = {
        **_valid(),
        "id": "current",
        "variants": [
            {"id": "all", "title": "All", "where": "TRUE"},
            {
                "id": "old",
                "title": "Old",
                "where": "TRUE",
                "status": "retired",
                "retired_in": "2.0.0",
                "superseded_by": ["current.new"],
            },
            {"id": "new", "title": "New", "where": "TRUE"},
        ],
    }
    _write(tmp_path, "current", current)
    _write(tmp_path / "retired", "former", _retire({**_valid(), "id": "former"}, "current"))
    return tmp_path


def test_a_retired_indicator_is_read_but_not_in_use(tmp_path: Path) -> None:
    root = _catalogue(tmp_path)
    assert [i.id for i in load_indicators(root)] == ["current"]
    assert [(i.id, i.status) for i in load_catalogue(root)] == [
        ("current", "active"),
        ("former", "retired"),
    ]
    (current,) = load_indicators(root)
    assert [v.id for v in current.live_variants] == ["all", "new"]


def test_asking_for_a_retired_id_names_its_replacements(tmp_path: Path) -> None:
    root = _catalogue(tmp_path)
    with pytest.raises(UnknownIndicator) as raised:
        select_indicators(["former"], root)
    assert str(raised.value) == (
        "Indicator former was retired with definitions 2.0.0; use current."
    )
    assert raised.value.exit_code == 2
    with pytest.raises(
        UnknownIndicator,
        match=r"^Variant current.old was retired with "
        r"definitions 2.0.0; use current.new.$",
    ):
        select_indicators(["current.old"], root)
    assert [i.id for i in select_indicators(["current.new"], root)] == ["current"]


def test_an_unknown_id_lists_the_ids_in_use_not_the_text_asked_for(tmp_path: Path) -> None:
    root = _catalogue(tmp_path)
    for asked in ("9434765919", "current.9434765919"):
        with pytest.raises(UnknownIndicator) as raised:
            select_indicators([asked], root)
        assert "9434765919" not in str(raised.value)
        assert str(raised.value).endswith("the indicators in use are current.")


@pytest.mark.parametrize("instead", ["nowhere", "former", "current.old", "current.none"])
def test_superseded_by_must_name_an_indicator_in_use(tmp_path: Path, instead: str) -> None:
    root = _catalogue(tmp_path)
    _write(tmp_path / "retired", "former", _retire({**_valid(), "id": "former"}, instead))
    with pytest.raises(UserError, match=f"superseded by {instead}, which is not"):
        load_catalogue(root)


@pytest.mark.parametrize(
    ("folder", "data", "message"),
    [
        ("retired", {"status": "active"}, "is in retired/ but says status: active"),
        (
            ".",
            {"status": "retired", "retired_in": "2.0.0", "superseded_by": ["current"]},
            "not retired/ but says status: retired",
        ),
        ("retired", {"status": "retired", "superseded_by": ["current"]}, "names retired_in"),
        ("retired", {"status": "retired", "retired_in": "2.0.0"}, "names retired_in"),
        (".", {"superseded_by": ["current"]}, "only a retired one"),
        (".", {"mature_months": -1}, "at least 0"),
    ],
)
def test_retirement_is_declared_consistently(
    tmp_path: Path, folder: str, data: dict[str, object], message: str
) -> None:
    root = _catalogue(tmp_path)
    _write(tmp_path / folder, "other", {**_valid(), "id": "other", **data})
    with pytest.raises(UserError, match=message) as raised:
        load_catalogue(root)
    assert "\n" not in str(raised.value)


def test_the_same_id_in_use_and_retired_is_refused(tmp_path: Path) -> None:
    root = _catalogue(tmp_path)
    _write(tmp_path / "retired", "current", _retire({**_valid(), "id": "current"}, "current"))
    with pytest.raises(UserError, match="both in use and retired"):
        load_catalogue(root)


def test_the_guide_lists_every_retired_id_with_its_replacements() -> None:
    # The reference page is generated from the files; the hand-written guide is checked here.
    guide = (indicators_root().parents[1] / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    rows = {
        cells[0].strip("` "): {c.strip("` ") for c in cells[2].split(",")}
        for line in guide.splitlines()
        if line.startswith("| `") and len(cells := line.strip("|").split("|")) == 4
    }
    retired = {
        (i.id, v.id if v else None): (v or i).superseded_by
        for i in load_catalogue()
        for v in (None, *i.variants)
        if (v or i).status == "retired"
    }
    assert len(retired) == 6
    for (indicator, variant), instead in retired.items():
        key = indicator if variant is None else f"{indicator}.{variant}"
        assert rows.get(key) == set(instead), key

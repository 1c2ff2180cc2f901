"""Disclosure control of released counts, against each publisher's published rule and examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mhdeaths.stats import DISCLOSURE_RULES, DisclosureRule, disclose, disclose_dependent


def test_opensafely_rounding_example_table() -> None:
    # OpenSAFELY documentation (opensafely/documentation@002abe4, docs/releasing-files.md,
    # "Rounding counts"): heart disease 3, 8, 16, 23 are released as [REDACTED], 10, 15, 25 and
    # population 18, 23, 31, 44 as 20, 25, 30, 45.
    assert disclose([3, 8, 16, 23], "opensafely").text == ["*", "10", "15", "25"]
    assert disclose([18, 23, 31, 44], "opensafely").text == ["20", "25", "30", "45"]


def test_opensafely_threshold_is_seven_as_in_ehrql() -> None:
    # ehrQL (opensafely-core/ehrql@6c6f694, ehrql/measures/disclosure_control.py):
    # SUPPRESSION_THRESHOLD = 7 (values <= 7 are withheld) and ROUNDING_MULTIPLE = 5.
    result = disclose([7, 8, 12, 13], "opensafely")
    assert result.text == ["*", "10", "10", "15"]
    assert result.suppressed.tolist() == [True, False, False, False]


def test_opensafely_releases_zero() -> None:
    # "Counts of zero can be retained" (opensafely/documentation@356684b, docs/releasing-files.md).
    assert disclose([0], "opensafely").text == ["0"]


def test_mhsds_count_suppression_examples() -> None:
    # NHS Mental Health Bulletin (NHSDigital/mental-health-bulletin@815fd62,
    # mh_bulletin_main/mh_bulletin/mhsds_functions.py, count_suppression): the docstring examples
    # count_suppression(254) -> 255 and count_suppression(3) -> *, and the rule "if x < 5: '*'".
    assert disclose([254, 3], "mhsds").text == ["255", "*"]
    assert disclose([0, 4, 5, 7, 8], "mhsds").text == ["*", "*", "5", "5", "10"]


def test_nhs_england_rule_shows_zero_and_hides_one_to_seven() -> None:
    # NHS Digital, "Disclosure control methodology for HES and ECDS" (from September 2018), as
    # summarised in STATISTICS.md section 4.6: 0 shown, 1-7 as *, others rounded to nearest 5.
    result = disclose([0, 1, 7, 8, 22, 23, 1002], "nhs_england")
    assert result.text == ["0", "*", "*", "10", "20", "25", "1000"]
    np.testing.assert_array_equal(result.values, [0.0, np.nan, np.nan, 10.0, 20.0, 25.0, 1000.0])
    assert result.suppressed.tolist() == [False, True, True, False, False, False, False]
    assert result.rule is DISCLOSURE_RULES["nhs_england"]


def test_default_rule_is_nhs_england() -> None:
    assert disclose([3]).rule.name == "nhs_england"


def test_missing_counts_are_not_released() -> None:
    result = disclose([None, 12, float("nan")])
    assert result.text == ["", "10", ""]
    assert result.suppressed.tolist() == [False, False, False]
    assert math.isnan(result.values[0])


def test_unknown_rule_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown disclosure rule 'ons'; the rules are: mhsds, "):
        disclose([1], "ons")


def test_counts_must_be_whole_and_non_negative() -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        disclose([2.5])
    with pytest.raises(ValueError, match="zero or more"):
        disclose([-1])


def test_every_rule_describes_itself() -> None:
    assert set(DISCLOSURE_RULES) == {"nhs_england", "mhsds", "opensafely", "opensafely_midpoint6"}
    for name, rule in DISCLOSURE_RULES.items():
        assert rule.name == name
        assert rule.title and rule.description and rule.source


def test_a_custom_rule_can_be_used() -> None:
    rule = DisclosureRule(
        name="tens",
        title="Suppress below 10",
        description="Counts of 1 to 9 are *; others rounded to the nearest 10.",
        source="local",
        max_suppressed=9,
        suppress_zero=False,
        rounding_base=10,
    )
    assert disclose([0, 9, 14, 15], rule).text == ["0", "*", "10", "20"]


def test_dependent_values_are_hidden_with_their_numerators() -> None:
    # MHSDS publications: a percentage is * when its numerator is * (mhsds_suppression, same
    # file as count_suppression above).
    rates = [12.345, 0.0, 56.78, float("nan"), 9.99]
    counts = [3, 0, 40, 12, None]
    assert disclose_dependent(rates, counts, "nhs_england") == ["*", "0.0", "56.8", "", ""]
    assert disclose_dependent(rates, counts, "mhsds", decimals=0) == ["*", "*", "57", "", ""]
    assert disclose_dependent(rates, counts, "opensafely", decimals=2) == [
        "*",
        "0.00",
        "56.78",
        "",
        "",
    ]


def test_dependent_values_need_one_count_each() -> None:
    with pytest.raises(ValueError, match="one value per row"):
        disclose_dependent([1.0, 2.0], [10])
    with pytest.raises(ValueError, match="decimals"):
        disclose_dependent([1.0], [10], decimals=-1)


# OpenSAFELY documentation (opensafely/documentation@41030f3, docs/outputs/sdc.md, "Midpoint 6
# rounding"): roundmid_any(x, to=6) = ceiling(x/to)*to - (floor(to/2)*(x!=0)), with the published
# mapping 0 -> 0, 1-6 -> 3, 7-12 -> 9, 13-18 -> 15.
def _roundmid_any(x: int, to: int = 6) -> int:
    return math.ceil(x / to) * to - (to // 2) * (x != 0)


def test_midpoint6_reproduces_the_published_mapping_table() -> None:
    result = disclose(list(range(0, 19)), "opensafely_midpoint6")
    assert result.text == ["0"] + ["3"] * 6 + ["9"] * 6 + ["15"] * 6
    assert not result.suppressed.any()
    assert result.rule.name == "opensafely_midpoint6"


def test_midpoint6_equals_roundmid_any_on_large_counts() -> None:
    counts = [19, 24, 25, 100, 101, 102, 599, 600, 601, 12_345]
    assert disclose(counts, "opensafely_midpoint6").values.tolist() == [
        float(_roundmid_any(c)) for c in counts
    ]
    # "For non-zero rounded values of x, we know true values range between x-2 and x+3."
    for count, released in zip(
        counts, disclose(counts, "opensafely_midpoint6").values, strict=True
    ):
        assert released - 2 <= count <= released + 3


def test_midpoint6_keeps_missing_counts_unreleased() -> None:
    result = disclose([None, 0, 4], "opensafely_midpoint6")
    assert result.text == ["", "0", "3"]
    assert math.isnan(result.values[0])


def test_midpoint6_withholds_rates_built_on_seven_or_fewer() -> None:
    # Same page, "Rounding rates": "any rate calculated from counts <=7 should also be redacted".
    # The count itself is released as a band label (3 or 9), but a rate computed from the true
    # numerator would give that numerator back.
    values = [0.0, 1.5, 10.5, 12.0, 8.31]
    counts = [0, 1, 7, 8, 30]
    assert disclose_dependent(values, counts, "opensafely_midpoint6") == [
        "0.0",
        "*",
        "*",
        "12.0",
        "8.3",
    ]

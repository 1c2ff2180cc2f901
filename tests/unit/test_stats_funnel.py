"""Funnel limits, over-dispersion and bands against published values and hand-worked examples.

Published references: PHEindicatormethods' funnel test tables (ratios, rates, proportions and
their significance bands) and FunnelPlotR's tests. Over-dispersion has no published table with
printed phi and tau^2 for a dataset we can reproduce, so it is checked two ways: small examples
worked by hand (the numbers are derived in the comments), and a plain-Python transcription of the
published steps (Spiegelhalter 2005b; the SHMI specification) run on PHE's 300-unit dataset and
compared with the vectorised implementation.
"""

from __future__ import annotations

import io
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mhdeaths.stats import BAND_AS_EXPECTED, BAND_HIGHER, BAND_LOWER, LIMIT_COLUMNS, funnel

Z95 = stats.norm.ppf(0.975)
Z998 = stats.norm.ppf(0.999)

# PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods@b79d644,
# tests/testthat/testdata_funnel_ratio_inputs.csv): 300 observed/expected pairs with the
# significance PHE's assign_funnel_significance() gives each against a ratio of 1.
PHE_RATIO_INPUTS = pl.read_csv(
    io.StringIO(
        """obs,expected,significance
8,6.239860227,Not significant
151,106.4429719,High (0.001)
159,232.9329036,Low (0.001)
191,184.0963855,Not significant
124,183.894409,Low (0.001)
220,249.8012944,Not significant
150,119.5695496,High (0.025)
0,240.6273499,Low (0.001)
182,196.799308,Not significant
151,204.6070461,Low (0.001)
206,139.4719025,High (0.001)
141,106.7211626,High (0.001)
113,96.14566494,Not significant
129,127.9000595,Not significant
121,162.3289509,Low (0.001)
190,202.1491648,Not significant
187,181.3773036,Not significant
136,141.2693466,Not significant
150,100.6778978,High (0.001)
75,120.1923077,Low (0.001)
92,102.6098595,Not significant
182,136.0137508,High (0.001)
182,143.6804295,High (0.025)
101,126.2973615,Low (0.025)
169,125.1573724,High (0.001)
124,176.764077,Low (0.001)
107,125.1461988,Not significant
174,141.4404162,High (0.025)
98,134.6338783,Low (0.001)
160,97.12273886,High (0.001)
141,136.9596892,Not significant
174,143.4578283,High (0.025)
119,140.9618574,Not significant
252,218.7689904,High (0.025)
203,154.185022,High (0.001)
507,272.3024867,High (0.001)
230,176.6920181,High (0.001)
250,164.4628643,High (0.001)
321,178.7902417,High (0.001)
254,254.4070513,Not significant
228,179.598267,High (0.001)
207,177.7129121,High (0.025)
319,274.8815166,High (0.025)
226,126.1160714,High (0.001)
677,349.8165659,High (0.001)
200,164.1901322,High (0.025)
335,276.3114484,High (0.001)
359,292.7505504,High (0.001)
253,200.9531374,High (0.001)
340,261.1367127,High (0.001)
275,226.4679239,High (0.001)
516,429.2131093,High (0.001)
291,178.6920479,High (0.001)
366,208.6421161,High (0.001)
278,176.3623676,High (0.001)
237,138.1843624,High (0.001)
342,252.0265291,High (0.001)
893,706.7669173,High (0.001)
290,232.3531768,High (0.001)
241,288.6919023,Low (0.025)
307,237.6160991,High (0.001)
157,185.666982,Low (0.025)
261,230.9734513,Not significant
233,201.7490692,High (0.025)
457,361.0650233,High (0.001)
187,164.5692159,Not significant
355,318.5570711,High (0.025)
765,571.5780036,High (0.001)
374,281.3299233,High (0.001)
130,81.9413804,High (0.001)
191,111.1757858,High (0.001)
196,134.6246308,High (0.001)
213,159.1095839,High (0.001)
91,88.57309714,Not significant
149,98.22017139,High (0.001)
183,166.1974389,Not significant
152,101.4144649,High (0.001)
194,138.7895264,High (0.001)
366,197.2833118,High (0.001)
327,344.573235,Not significant
164,143.9227731,Not significant
162,151.1617057,Not significant
142,159.3893815,Not significant
188,189.458833,Not significant
183,188.6014635,Not significant
16,36.38844667,Low (0.001)
236,181.3431689,High (0.001)
119,186.5788648,Low (0.001)
156,130.4020731,High (0.025)
292,202.9610065,High (0.001)
102,148.9051095,Low (0.001)
307,279.0909091,Not significant
154,194.8380567,Low (0.025)
163,219.7950378,Low (0.001)
240,205.9378754,High (0.025)
117,140.709561,Low (0.025)
135,139.4772187,Not significant
108,132.8249908,Low (0.025)
158,143.1807884,Not significant
119,124.7902685,Not significant
145,135.1981352,Not significant
164,138.9830508,High (0.025)
103,108.6039646,Not significant
234,197.4516918,High (0.025)
67,76.46656015,Not significant
109,120.6152484,Not significant
79,92.3005024,Not significant
66,76.30939993,Not significant
87,115.0945892,Low (0.025)
76,121.8143933,Low (0.001)
167,147.9054114,Not significant
197,180.1389905,Not significant
148,136.9609476,Not significant
189,154.185022,High (0.025)
133,150.4695101,Not significant
80,105.9462323,Low (0.025)
102,124.7553816,Low (0.025)
90,98.00718719,Not significant
105,137.4165685,Low (0.025)
48,86.81497558,Low (0.001)
47,60.02554278,Not significant
66,135.0521793,Low (0.001)
60,68.87842957,Not significant
43,71.57123835,Low (0.001)
84,91.21511565,Not significant
134,136.6649669,Not significant
62,115.8012701,Low (0.001)
86,110.6109325,Low (0.025)
73,89.2638787,Not significant
96,104.6892039,Not significant
85,77.54766901,Not significant
97,147.5060827,Low (0.001)
98,114.0065147,Not significant
80,88.47600088,Not significant
71,92.2677063,Low (0.025)
95,100.9671591,Not significant
70,93.22146757,Low (0.025)
67,70.74226586,Not significant
95,103.8932633,Not significant
6,4.293052052,Not significant
118,98.01478528,Not significant
85,67.9184978,Not significant
128,97.97168006,High (0.025)
73,68.67356538,Not significant
40,55.14959327,Low (0.025)
72,115.9047006,Low (0.001)
97,111.5840331,Not significant
84,68.37606838,Not significant
107,91.50773967,Not significant
47,75.16392132,Low (0.001)
89,98.98787677,Not significant
82,80.65309334,Not significant
77,101.3958388,Low (0.025)
42,74.53416149,Low (0.001)
98,152.5291829,Low (0.001)
67,88.13470139,Low (0.025)
36,73.67990176,Low (0.001)
80,96.15384615,Not significant
72,90.53187476,Not significant
106,132.0214223,Low (0.025)
46,71.75167681,Low (0.001)
35,56.15273544,Low (0.025)
25,55.01760563,Low (0.001)
59,103.8184058,Low (0.001)
46,66.76342525,Low (0.025)
39,50.23183926,Not significant
75,111.1111111,Low (0.001)
48,64,Low (0.025)
74,52.09066592,High (0.025)
115,82.14285714,High (0.001)
104,77.0199215,High (0.025)
124,88.44507846,High (0.001)
134,82.87976249,High (0.001)
27,26.73002673,Not significant
81,60.21409456,High (0.025)
80,89.98875141,Not significant
101,75.6837767,High (0.025)
66,98.43400447,Low (0.001)
92,104.7358834,Not significant
99,152.7777778,Low (0.001)
131,139.332057,Not significant
84,117.4004193,Low (0.001)
46,65.68613451,Low (0.025)
86,92.24498552,Not significant
104,138.0225614,Low (0.025)
114,133.3801334,Not significant
82,108.6524447,Low (0.025)
64,60.80182405,Not significant
52,60.64139942,Not significant
70,79.64501081,Not significant
176,170.8406135,Not significant
41,64.5059786,Low (0.025)
76,90.86561454,Not significant
43,84.16519867,Low (0.001)
61,82.16594828,Low (0.025)
79,89.24536828,Not significant
77,104.9332243,Low (0.025)
57,76.68505314,Low (0.025)
86,125.1637316,Low (0.001)
60,101.5400237,Low (0.001)
78,100.0641437,Low (0.025)
72,106.8724952,Low (0.001)
81,67.24223809,Not significant
64,73.30202726,Not significant
107,118.2189813,Not significant
157,187.016081,Low (0.025)
46,61.18648577,Not significant
66,101.2425219,Low (0.001)
61,98.48240232,Low (0.001)
74,76.7077848,Not significant
115,114.5989038,Not significant
77,107.8582435,Low (0.025)
72,75.94936709,Not significant
83,103.0799801,Low (0.025)
62,104.6413502,Low (0.001)
59,60.34570932,Not significant
70,72.73482959,Not significant
57,56.39097744,Not significant
78,82.55715495,Not significant
75,96.25256674,Low (0.025)
114,125.994695,Not significant
56,70.8591674,Not significant
117,105.1024075,Not significant
65,84.96732026,Low (0.025)
117,128.3880171,Not significant
58,105.6851312,Low (0.001)
115,100.0434972,Not significant
96,113.1008483,Not significant
174,126.8498943,High (0.001)
73,100.5786718,Low (0.025)
74,90.85328422,Not significant
113,73.49115505,High (0.001)
104,93.71902316,Not significant
68,81.33971292,Not significant
94,67.43668843,High (0.025)
123,122.375883,Not significant
91,74.93412385,Not significant
132,102.7717222,High (0.025)
58,57.18229321,Not significant
67,55.13949469,Not significant
103,98.02988484,Not significant
98,107.385492,Not significant
126,121.7273693,Not significant
75,84.66922556,Not significant
105,133.248731,Low (0.025)
52,75.07941092,Low (0.025)
72,96.93053312,Low (0.025)
35,45.76359833,Not significant
85,80.82921263,Not significant
47,52.42610151,Not significant
67,61.12580969,Not significant
159,169.4373402,Not significant
71,65.66777654,Not significant
77,104.435101,Low (0.025)
70,92.11738387,Low (0.025)
82,121.1942063,Low (0.001)
81,89.03055617,Not significant
92,131.6731072,Low (0.001)
74,127.6302173,Low (0.001)
94,97.08737864,Not significant
128,155.4529998,Low (0.025)
80,128.2051282,Low (0.001)
121,92.34526444,High (0.025)
79,123.1488698,Low (0.001)
87,45.27241505,High (0.001)
48,66.10659689,Low (0.025)
51,70.99109131,Low (0.025)
57,72.87138839,Not significant
140,147.5081656,Not significant
53,73.87789239,Low (0.025)
74,63.9585134,Not significant
38,35.36199516,Not significant
29,31.19956966,Not significant
104,73.9476678,High (0.001)
51,53.31939362,Not significant
53,61.2716763,Not significant
93,58.34744965,High (0.001)
42,57.89110958,Low (0.025)
70,90.06690685,Low (0.025)
105,144.8675497,Low (0.001)
40,44.1014333,Not significant
31,57.81424841,Low (0.001)
118,117.4596854,Not significant
50,70.44237813,Low (0.025)
115,103.0281312,Not significant
125,105.2542944,Not significant
85,99.34548855,Not significant
85,105.5376211,Low (0.025)
105,89.04341927,Not significant
110,106.785749,Not significant
66,95.61060409,Low (0.001)
85,107.6903585,Low (0.025)
75,83.94895903,Not significant
70,113.5626217,Low (0.001)
64,102.9435419,Low (0.001)
49,87.5,Low (0.001)
46,56.88141462,Not significant
41,58.50456621,Low (0.025)
28,37.38816931,Not significant
78,90.84556254,Not significant
"""
    )
)

# PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods@5adcb8c,
# tests/testthat/testdata_funnel_rate_dsr_inputs.csv), the columns count, pop and the two
# crude-rate-per-100,000 significance columns: with the zero-count area included in the average,
# and without it.
PHE_RATE_INPUTS = pl.read_csv(
    io.StringIO(
        """count,pop,crude_per_100000_with_0,crude_per_100000_without_0
2419,264102,High (0.001),High (0.001)
2337,259711,High (0.001),High (0.001)
2291,289247,High (0.001),High (0.001)
2242,265029,High (0.001),High (0.001)
2218,284649,High (0.001),High (0.001)
2159,293578,High (0.001),High (0.001)
2130,286718,High (0.001),High (0.001)
2111,307381,Not significant,Not significant
2105,274145,High (0.001),High (0.001)
2083,297424,High (0.025),Not significant
2078,272628,High (0.001),High (0.001)
2062,269656,High (0.001),High (0.001)
2061,294692,High (0.025),Not significant
2033,277710,High (0.001),High (0.025)
2033,259213,High (0.001),High (0.001)
2010,285516,High (0.025),Not significant
2004,269449,High (0.001),High (0.001)
2002,290888,Not significant,Not significant
1977,287112,Not significant,Not significant
1944,286492,Not significant,Not significant
1932,287012,Not significant,Not significant
1922,291277,Not significant,Not significant
1912,289859,Not significant,Not significant
1881,289653,Not significant,Low (0.025)
1844,282519,Not significant,Low (0.025)
1835,274220,Not significant,Not significant
1833,280271,Not significant,Low (0.025)
1825,284206,Not significant,Low (0.025)
1816,274508,Not significant,Not significant
1809,288384,Low (0.025),Low (0.001)
1798,287072,Low (0.025),Low (0.001)
1754,282744,Low (0.001),Low (0.001)
1746,289208,Low (0.001),Low (0.001)
1709,287736,Low (0.001),Low (0.001)
1694,296175,Low (0.001),Low (0.001)
1688,303255,Low (0.001),Low (0.001)
1649,285959,Low (0.001),Low (0.001)
1553,274661,Low (0.001),Low (0.001)
1332,281425,Low (0.001),Low (0.001)
0,297820,Low (0.001),Not significant
"""
    )
)


def phe_bands(significance: pl.Series) -> tuple[list[str], list[str]]:
    """PHE's significance labels as our 95% and 99.8% bands."""
    band_95, band_998 = [], []
    for label in significance.to_list():
        side = BAND_HIGHER if label.startswith("High") else BAND_LOWER
        band_95.append(side if label.startswith(("High", "Low")) else BAND_AS_EXPECTED)
        band_998.append(side if label.endswith("(0.001)") else BAND_AS_EXPECTED)
    return band_95, band_998


# --- Unadjusted limits: published values ---------------------------------------------------

# PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods@8ac28e5,
# tests/testthat/testdata_funnel_ratio_outputs.csv): for O events, the expected count at which O
# lies on each limit, and the ratio there (lower_2s_count + 1 etc.). Columns: O, E on the lower
# 95% limit, E on the upper 95% limit, E on the lower 99.8% limit, E on the upper 99.8% limit.
PHE_RATIO_POINTS = [
    (1, 5.571644585, 0.025317898, 9.233410143, 0.001000547),
    (2, 7.224687515, 0.242209467, 11.22886836, 0.04540199),
    (10, 18.39035799, 4.795387629, 24.13397235, 2.960519925),
    (33, 46.34427966, 22.71567629, 54.89565059, 18.04631223),
    (100, 121.6268111, 81.36400699, 134.9243187, 71.92139974),
    (716, 770.4222128, 664.5083011, 802.60414, 636.1521174),
]


@pytest.mark.parametrize(("observed", "e_low95", "e_up95", "e_low998", "e_up998"), PHE_RATIO_POINTS)
def test_ratio_limits_pass_through_phe_funnel_points(
    observed: int, e_low95: float, e_up95: float, e_low998: float, e_up998: float
) -> None:
    limits = funnel([1], [1], overdispersion="none").limits([e_low95, e_up95, e_low998, e_up998])
    # PHE bisects to a tolerance of about 5e-5 (relative) on the expected count.
    assert limits["lower_95"][0] == pytest.approx(observed / e_low95, rel=1e-4)
    assert limits["upper_95"][1] == pytest.approx(observed / e_up95, rel=1e-4)
    assert limits["lower_998"][2] == pytest.approx(observed / e_low998, rel=1e-4)
    assert limits["upper_998"][3] == pytest.approx(observed / e_up998, rel=1e-4)


def test_ratio_bands_match_phe_significance_for_all_300_units() -> None:
    result = funnel(PHE_RATIO_INPUTS["obs"], PHE_RATIO_INPUTS["expected"], overdispersion="none")
    band_95, band_998 = phe_bands(PHE_RATIO_INPUTS["significance"])
    assert result.units["band_95"].to_list() == band_95
    assert result.units["band_998"].to_list() == band_998


# PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods@4295d9e,
# tests/testthat/testdata_funnel_rate_outputs_3.csv): crude rates per 100,000 around a baseline of
# 95.60285106 per 100,000 from 3 years of data. For each number of events the file gives the
# population per year at which that count lies on each limit, and the limit there.
PHE_RATE_BASELINE = 95.60285106 / 100_000
PHE_RATE_POINTS = [
    # events, limit, population per year on that limit, the limit (per 100,000)
    (286, "lower_95", 111970.3773, 85.14156661),
    (286, "upper_95", 88494.9416, 107.727438),
    (286, "lower_998", 119317.6437, 79.89877305),
    (286, "upper_998", 82485.29064, 115.5761622),
    (1119, "lower_95", 413702.6663, 90.16137202),
    (1119, "upper_95", 367628.0403, 101.4612486),
    (1119, "lower_998", 427558.6565, 87.23949201),
    (1119, "upper_998", 355104.4927, 105.0395046),
]


@pytest.mark.parametrize(("events", "column", "population", "limit"), PHE_RATE_POINTS)
def test_rate_limits_match_phe_rate_funnel(
    events: int, column: str, population: float, limit: float
) -> None:
    result = funnel(
        [1], [1], kind="rate", target=PHE_RATE_BASELINE, overdispersion="none", multiplier=1e5
    )
    # Three years of data: the person-time is three times the population per year.
    assert result.limits([3 * population])[column][0] == pytest.approx(limit, rel=1e-6)
    # And the count itself lies on the limit: limit = events / person-time x 100,000.
    assert limit == pytest.approx(events / (3 * population) * 1e5, rel=1e-8)


@pytest.mark.parametrize(
    ("column", "keep_zero"),
    [("crude_per_100000_with_0", True), ("crude_per_100000_without_0", False)],
)
def test_rate_bands_match_phe_significance(column: str, keep_zero: bool) -> None:
    data = PHE_RATE_INPUTS if keep_zero else PHE_RATE_INPUTS.filter(pl.col("count") > 0)
    # The target is the default, total events over total person-time, as in PHE.
    result = funnel(data["count"], data["pop"], kind="rate", overdispersion="none", multiplier=1e5)
    band_95, band_998 = phe_bands(data[column])
    assert result.units["band_95"].to_list() == band_95
    assert result.units["band_998"].to_list() == band_998


# PHEindicatormethods (ukhsa-collaboration/PHEindicatormethods@63894a9,
# tests/testthat/testdata_funnel_prop_outputs.csv): Fingertips' proportion limits (percent)
# around a baseline of 80.642448%. Columns: population, lower 95%, upper 95%, lower 99.8%,
# upper 99.8%.
PHE_PROPORTION_BASELINE = 0.80642448
PHE_PROPORTION_POINTS = [
    (1, 3.204264, 100, 0, 100),
    (3, 35.933491, 100, 10.150815, 100),
    (18, 62.390093, 98.894803, 51.864359, 100),
    (41, 68.548635, 92.73626, 61.574398, 99.710497),
    (1008, 78.203374, 83.081521, 76.796814, 84.488082),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]


def test_wilson_proportion_limits_match_phe_funnel_table() -> None:
    result = funnel(
        [1],
        [2],
        kind="proportion",
        target=PHE_PROPORTION_BASELINE,
        overdispersion="none",
        multiplier=100,
        proportion_limits="wilson",
    )
    limits = result.limits([row[0] for row in PHE_PROPORTION_POINTS])
    for index, (_, low95, up95, low998, up998) in enumerate(PHE_PROPORTION_POINTS):
        row = limits.row(index, named=True)
        # PHE prints 6 decimals of a percentage.
        assert row["lower_95"] == pytest.approx(low95, abs=1e-6)
        assert row["upper_95"] == pytest.approx(up95, abs=1e-6)
        assert row["lower_998"] == pytest.approx(low998, abs=1e-6)
        assert row["upper_998"] == pytest.approx(up998, abs=1e-6)


# Rows of PHEindicatormethods' tests/testthat/testdata_funnel_prop_inputs.csv (@3352ce5): PCT
# numerator, denominator and PHE's significance, which is judged against the baseline above
# (computed by PHE from the whole file, of which these are a selection).
PHE_PROPORTION_ROWS = """numerator,denominator,significance
35078.4880000,41980,High (0.001)
24803.6256000,31824,Low (0.001)
50050.7443000,61921,Not significant
24648.7596000,30521,Not significant
26789.2380000,33012,High (0.025)
36850.0492000,45449,High (0.025)
23910.2469000,29457,High (0.025)
30277.5312000,37828,Low (0.025)
21139.2936000,25992,High (0.025)
16924.1296000,20776,High (0.025)
18504.9982000,22739,High (0.025)
14493.3552000,17964,Not significant
13240.9172000,16477,Not significant
15808.1975000,20597,Low (0.001)
18365.4621000,29277,Low (0.001)
13551.2220000,16386,High (0.001)
37945.3125000,46875,Not significant
"""


@pytest.mark.parametrize("limits", ["wilson", "exact"])
def test_proportion_bands_match_phe_significance(limits: str) -> None:
    data = pl.read_csv(io.StringIO(PHE_PROPORTION_ROWS))
    result = funnel(
        data["numerator"],
        data["denominator"],
        kind="proportion",
        target=PHE_PROPORTION_BASELINE,
        overdispersion="none",
        proportion_limits=limits,
    )
    band_95, band_998 = phe_bands(data["significance"])
    assert result.units["band_95"].to_list() == band_95
    assert result.units["band_998"].to_list() == band_998


# --- Unadjusted limits: the defining property of probability-based limits ------------------


@pytest.mark.parametrize("expected", [0.3, 1.0, 2.5, 3.7, 7.0, 15.5, 40.0])
def test_poisson_limits_flag_exactly_the_units_an_exact_test_flags(expected: float) -> None:
    # Spiegelhalter (2005a) appendix; Seaton & Manktelow (2012): a unit is outside the limits
    # when its one-sided exact p-value is below the tail probability.
    observed = np.arange(0, 90)
    result = funnel(observed, np.full(observed.shape, expected), overdispersion="none")
    for level, tail in (("95", 0.025), ("998", 0.001)):
        high = stats.poisson.sf(observed - 1, expected) < tail  # P(X >= O)
        low = stats.poisson.cdf(observed, expected) < tail  # P(X <= O)
        want = np.where(high, BAND_HIGHER, np.where(low, BAND_LOWER, BAND_AS_EXPECTED))
        assert result.units[f"band_{level}"].to_list() == want.tolist()


@pytest.mark.parametrize("size", [20, 57, 300])
def test_binomial_limits_flag_exactly_the_units_an_exact_test_flags(size: int) -> None:
    cases = np.arange(0, size + 1)
    result = funnel(
        cases, np.full(cases.shape, size), kind="proportion", target=0.1, overdispersion="none"
    )
    for level, tail in (("95", 0.025), ("998", 0.001)):
        high = stats.binom.sf(cases - 1, size, 0.1) < tail
        low = stats.binom.cdf(cases, size, 0.1) < tail
        want = np.where(high, BAND_HIGHER, np.where(low, BAND_LOWER, BAND_AS_EXPECTED))
        assert result.units[f"band_{level}"].to_list() == want.tolist()


def test_exact_ci_style_limits_would_flag_a_unit_the_exact_test_does_not() -> None:
    # FunnelPlotR's unadjusted lower 95% limit at E = 15 is 0.5596924 (its
    # tests/testthat/test-poisson_limits.R @9020d49). O = 8 (ratio 0.533) falls below it, yet
    # P(X <= 8 | E = 15) = 0.037 > 0.025: the exact-CI form flags it, the prediction limit not.
    assert 8 / 15 < 0.5596924
    assert stats.poisson.cdf(8, 15) > 0.025
    result = funnel([8, 7], [15, 15], overdispersion="none")
    assert result.units["band_95"].to_list() == [BAND_AS_EXPECTED, BAND_LOWER]


def test_exact_binomial_limits_do_not_over_flag_rare_outcomes_as_wilson_limits_do() -> None:
    # Deaths within 30 days of discharge are rare: at p0 = 0.005 and n = 500 the Fingertips
    # limit p0 + 1.96 sqrt(p0(1 - p0)/n) = 0.01118 flags 6 deaths, whose exact one-sided
    # p-value P(X >= 6) = 0.042 is well above 2.5%; the exact limit flags only 7 or more.
    assert stats.binom.sf(5, 500, 0.005) > 0.025 > stats.binom.sf(6, 500, 0.005)
    common = {"kind": "proportion", "target": 0.005, "overdispersion": "none"}
    exact = funnel([6, 7], [500, 500], **common)
    wilson = funnel([6, 7], [500, 500], proportion_limits="wilson", **common)
    assert exact.units["band_95"].to_list() == [BAND_AS_EXPECTED, BAND_HIGHER]
    assert wilson.units["band_95"].to_list() == [BAND_HIGHER, BAND_HIGHER]


# --- Over-dispersion: hand-worked examples ---------------------------------------------------


def test_shmi_log_scale_worked_example() -> None:
    # Four units with E = 100 and O = 100 e^(z/10), so z = sqrt(E) ln(O/E) = 1, -1, 2, -2.
    # No trimming: phi = (1 + 1 + 4 + 4)/4 = 2.5; w = E = 100 each, so
    # sum w - sum w^2 / sum w = 400 - 100 = 300 and tau^2 = (4 x 2.5 - 3)/300 = 7/300.
    observed = [100 * math.exp(z / 10) for z in (1, -1, 2, -2)]
    result = funnel(observed, [100] * 4, trim=0)
    assert result.overdispersion == "log"
    assert result.phi == pytest.approx(2.5)
    assert result.tau2 == pytest.approx(7 / 300)
    assert result.units["z"].to_list() == pytest.approx([1, -1, 2, -2])
    # Adjusted limits exp(+/- z sqrt(1/E + tau^2)); here wider than the exact limits.
    half = Z95 * math.sqrt(1 / 100 + 7 / 300)
    row = result.units.row(0, named=True)
    assert row["lower_95_adjusted"] == pytest.approx(math.exp(-half))
    assert row["upper_95_adjusted"] == pytest.approx(math.exp(half))
    assert row["upper_998_adjusted"] == pytest.approx(math.exp(Z998 * math.sqrt(1 / 100 + 7 / 300)))


def test_shmi_truncation_sets_aside_both_ends() -> None:
    # Same units, trim 0.25: floor(0.25 x 4) = 1 unit set aside at each end (z = -2 and 2).
    # The two kept units have z = +/-1: phi = 1, I = 2, I phi = 2 > I - 1 = 1, and
    # tau^2 = (2 - 1)/(200 - 20000/200) = 1/100.
    observed = [100 * math.exp(z / 10) for z in (1, -1, 2, -2)]
    result = funnel(observed, [100] * 4, trim=0.25)
    assert result.phi == pytest.approx(1.0)
    assert result.tau2 == pytest.approx(0.01)
    assert result.units_in_estimate == 2


def test_truncation_with_tied_z_scores_does_not_depend_on_input_order() -> None:
    # Two units share the top z-score with different E (100 and 400), so they carry different
    # weights: O = 100 x 1.1^2 and O = 400 x 1.1 give z = 10 ln(1.21) = 20 ln(1.1), equal to the
    # last bit. With one unit set aside at each end, which of the two goes must not depend on
    # the order of the rows.
    observed = [100 * math.exp(z / 10) for z in (-2, -1, 0, 1)] + [100 * 1.1**2, 400 * 1.1]
    expected = [100.0] * 5 + [400.0]
    forward = funnel(observed, expected, trim=0.2)
    backward = funnel(observed[::-1], expected[::-1], trim=0.2)
    z = forward.units["z"].to_list()
    assert z[4] == z[5]  # the tie the test depends on
    assert forward.units_in_estimate == 4
    assert (forward.phi, forward.tau2) == pytest.approx((backward.phi, backward.tau2), rel=1e-12)


def test_cqc_square_root_worked_example_squares_limits_back() -> None:
    # Five units with E = 100 and O = (10 + z/2)^2, so z = 2(sqrt O - sqrt E) = -2, -1, 0, 1, 3.
    # No winsorising: phi = (4 + 1 + 0 + 1 + 9)/5 = 3; w = 1/s^2 = 4E = 400 each:
    # 2000 - 400 = 1600, tau^2 = (15 - 4)/1600 = 11/1600.
    observed = [(10 + z / 2) ** 2 for z in (-2, -1, 0, 1, 3)]
    result = funnel(observed, [100] * 5, overdispersion="sqrt", trim=0)
    assert result.phi == pytest.approx(3.0)
    assert result.tau2 == pytest.approx(11 / 1600)
    half = Z95 * math.sqrt(1 / 400 + 11 / 1600)
    row = result.units.row(0, named=True)
    assert row["upper_95_adjusted"] == pytest.approx((1 + half) ** 2)
    assert row["lower_95_adjusted"] == pytest.approx((1 - half) ** 2)
    # FunnelPlotR #33: the CQC limits must be squared back, not left at 1 +/- z sqrt(...).
    assert row["upper_95_adjusted"] > 1 + half


def test_winsorised_phi_at_one_below_i_minus_one_gives_no_tau2() -> None:
    # The same five units winsorised at 20%: floor(0.2 x 5) = 1 at each end, so z = -2 becomes
    # -1 and z = 3 becomes 1: phi = (1 + 1 + 0 + 1 + 1)/5 = 0.8 and I phi = 4 = I - 1, so
    # tau^2 = 0 and the adjusted limits are the unadjusted ones.
    observed = [(10 + z / 2) ** 2 for z in (-2, -1, 0, 1, 3)]
    result = funnel(observed, [100] * 5, overdispersion="sqrt", trim=0.2)
    assert result.phi == pytest.approx(0.8)
    assert result.tau2 == 0.0
    units = result.units
    for level in ("95", "998"):
        for side in ("lower", "upper"):
            assert units[f"{side}_{level}_adjusted"].to_list() == units[f"{side}_{level}"].to_list()
    assert "τ² = 0" in result.method_note


def test_under_dispersed_units_get_no_tau2() -> None:
    # z = +/-0.5 for four units (O = 100 e^(z/10), E = 100): phi = 0.25 and I phi = 1 < I - 1 = 3.
    # DerSimonian-Laird's estimate would be negative; it is truncated at 0, so the adjusted
    # limits are the unadjusted ones.
    observed = [100 * math.exp(z / 10) for z in (0.5, -0.5, 0.5, -0.5)]
    result = funnel(observed, [100] * 4, trim=0)
    assert result.phi == pytest.approx(0.25)
    assert result.tau2 == 0.0
    assert result.units["upper_95_adjusted"].to_list() == result.units["upper_95"].to_list()


def test_arcsine_worked_example() -> None:
    # n = 100, target 0.25 (asin sqrt 0.25 = pi/6), p = sin^2(pi/6 + z/20) so that
    # z = 2 sqrt(n)(asin sqrt p - pi/6) = 1, -1, 2, -2. phi = 2.5; w = 4n = 400 each:
    # 1600 - 400 = 1200, tau^2 = (10 - 3)/1200 = 7/1200.
    cases = [100 * math.sin(math.pi / 6 + z / 20) ** 2 for z in (1, -1, 2, -2)]
    result = funnel(cases, [100] * 4, kind="proportion", target=0.25, trim=0)
    assert result.overdispersion == "arcsine"
    assert result.phi == pytest.approx(2.5)
    assert result.tau2 == pytest.approx(7 / 1200)
    half = Z95 * math.sqrt(1 / 400 + 7 / 1200)
    row = result.units.row(0, named=True)
    assert row["upper_95_adjusted"] == pytest.approx(math.sin(math.pi / 6 + half) ** 2)
    assert row["lower_95_adjusted"] == pytest.approx(math.sin(math.pi / 6 - half) ** 2)


def test_arcsine_limits_clip_at_zero_instead_of_folding_back() -> None:
    # With a small target and n the lower angle goes negative; sin^2 of a negative angle is
    # positive, so without clipping the lower limit would fold back above zero.
    result = funnel([0, 1, 0, 6, 0, 0], [10, 10, 12, 10, 10, 11], kind="proportion", trim=0)
    assert result.tau2 > 0
    assert result.units["lower_95_adjusted"].to_list() == [0.0] * 6


# --- Over-dispersion: transcription of the published steps on PHE's dataset -----------------


def shmi_by_hand(observed: list[float], expected: list[float], trim: float) -> tuple[float, float]:
    """SHMI steps in plain Python: z = sqrt(E) ln(O/E) for O > 0; drop floor(trim I) ranked
    z-scores at each end; phi = mean z^2 of the rest; DerSimonian-Laird tau^2 with w = E from the
    rest only (the fix for FunnelPlotR #20)."""
    scored = sorted(
        (math.sqrt(e) * math.log(o / e), e)
        for o, e in zip(observed, expected, strict=True)
        if o > 0
    )
    k = math.floor(trim * len(scored))
    kept = scored[k : len(scored) - k]
    count = len(kept)
    phi = sum(z * z for z, _ in kept) / count
    weights = [e for _, e in kept]
    spread = sum(weights) - sum(w * w for w in weights) / sum(weights)
    return phi, max(0.0, (count * phi - (count - 1)) / spread)


def cqc_by_hand(observed: list[float], expected: list[float], trim: float) -> tuple[float, float]:
    """CQC steps in plain Python: z = 2(sqrt O - sqrt E); winsorise floor(trim I) at each end to
    the next value in; phi = mean z^2; tau^2 with w = 1/s^2 = 4E from every unit."""
    scores = [2 * (math.sqrt(o) - math.sqrt(e)) for o, e in zip(observed, expected, strict=True)]
    ordered = sorted(scores)
    k = math.floor(trim * len(scores))
    low, high = ordered[k], ordered[len(scores) - 1 - k]
    clipped = [min(max(z, low), high) for z in scores]
    count = len(clipped)
    phi = sum(z * z for z in clipped) / count
    weights = [4 * e for e in expected]
    spread = sum(weights) - sum(w * w for w in weights) / sum(weights)
    return phi, max(0.0, (count * phi - (count - 1)) / spread)


def test_shmi_estimate_matches_transcription_on_phe_data() -> None:
    observed = PHE_RATIO_INPUTS["obs"].cast(pl.Float64).to_list()
    expected = PHE_RATIO_INPUTS["expected"].to_list()
    phi, tau2 = shmi_by_hand(observed, expected, 0.1)
    result = funnel(observed, expected, overdispersion="log", trim=0.1)
    assert result.phi == pytest.approx(phi, rel=1e-12)
    assert result.tau2 == pytest.approx(tau2, rel=1e-12)
    # 299 units with O > 0, floor(29.9) = 29 set aside at each end.
    assert result.units_in_estimate == 299 - 2 * 29
    units = result.units
    for index in (0, 7, 150, 299):
        e = expected[index]
        row = units.row(index, named=True)
        for level, z in (("95", Z95), ("998", Z998)):
            half = z * math.sqrt(1 / e + tau2)
            assert row[f"lower_{level}_adjusted"] == pytest.approx(
                min(row[f"lower_{level}"], math.exp(-half))
            )
            assert row[f"upper_{level}_adjusted"] == pytest.approx(
                max(row[f"upper_{level}"], math.exp(half))
            )


def test_cqc_estimate_matches_transcription_on_phe_data() -> None:
    observed = PHE_RATIO_INPUTS["obs"].cast(pl.Float64).to_list()
    expected = PHE_RATIO_INPUTS["expected"].to_list()
    phi, tau2 = cqc_by_hand(observed, expected, 0.1)
    result = funnel(observed, expected, overdispersion="sqrt", trim=0.1)
    assert result.phi == pytest.approx(phi, rel=1e-12)
    assert result.tau2 == pytest.approx(tau2, rel=1e-12)
    assert result.units_in_estimate == 300


def test_shmi_estimate_on_funnelplotr_test_data() -> None:
    # The six units of FunnelPlotR's over-dispersion test
    # (nhs-r-community/FunnelPlotR@87072d0, tests/testthat/test-OD_adjust_func.R).
    observed = [100.0, 150, 180, 80, 120, 225]
    expected = [108.0, 112, 165, 95, 100, 220]
    phi, tau2 = shmi_by_hand(observed, expected, 0.1)
    result = funnel(observed, expected)
    assert (result.phi, result.tau2) == pytest.approx((phi, tau2), rel=1e-12)
    assert result.tau2 > 0


# --- Handling of zeros, small units, missing values ------------------------------------------


def test_zero_deaths_are_left_out_of_the_log_scale_estimate_but_still_banded() -> None:
    observed = [100 * math.exp(z / 10) for z in (1, -1, 2, -2)]
    without = funnel(observed, [100] * 4, trim=0)
    with_zero = funnel([*observed, 0], [100] * 4 + [240], trim=0)
    assert (with_zero.phi, with_zero.tau2) == pytest.approx((without.phi, without.tau2))
    zero_row = with_zero.units.row(4, named=True)
    assert zero_row["z"] is None
    assert zero_row["band_998"] == BAND_LOWER
    assert "no observed events (1)" in with_zero.method_note


def test_units_below_min_expected_are_not_banded_nor_used_for_phi() -> None:
    observed = [100 * math.exp(z / 10) for z in (1, -1, 2, -2)]
    without = funnel(observed, [100] * 4, trim=0)
    with_small = funnel([*observed, 9], [100] * 4 + [2.5], trim=0, min_expected=5)
    assert (with_small.phi, with_small.tau2) == pytest.approx((without.phi, without.tau2))
    small = with_small.units.row(4, named=True)
    assert small["band_95"] is None and small["band_998"] is None
    assert small["upper_95"] is not None
    assert "below 5 are not banded" in with_small.method_note


def test_min_expected_for_a_proportion_is_target_times_n() -> None:
    # target 0.01: n = 400 gives 4 expected (not banded), n = 600 gives 6 (banded).
    result = funnel(
        [4, 6], [400, 600], kind="proportion", target=0.01, overdispersion="none", min_expected=5
    )
    assert result.units["band_95"].to_list() == [None, BAND_AS_EXPECTED]


def test_adjusted_limits_are_never_narrower_than_unadjusted_at_tiny_expected_counts() -> None:
    observed = [100 * math.exp(z / 10) for z in (1, -1, 2, -2)]
    result = funnel(observed, [100] * 4, trim=0)
    grid = result.limits([0.05, 0.5, 1, 2, 5, 20, 100, 1000])
    for level in ("95", "998"):
        assert (grid[f"lower_{level}_adjusted"] <= grid[f"lower_{level}"]).all()
        assert (grid[f"upper_{level}_adjusted"] >= grid[f"upper_{level}"]).all()


def test_missing_and_zero_denominators_give_null_rows() -> None:
    result = funnel([5, 3, None, 4], [10, 0, 12, None], overdispersion="none")
    units = result.units
    assert units["value"].to_list()[1:] == [None, None, None]
    assert units["band_95"].to_list()[1:] == [None, None, None]
    assert units["lower_95"][1] is None and units["lower_95"][2] is not None


def test_empty_input_gives_an_empty_result() -> None:
    result = funnel([], [], kind="rate")
    assert result.units.columns[0] == "label"
    assert result.units.height == 0
    assert math.isnan(result.phi) and result.tau2 == 0.0


# --- The result object -------------------------------------------------------------------------


def test_result_fields_and_unit_columns() -> None:
    result = funnel([10, 20, 30], [12, 18, 33], labels=["RX1", "RX2", "RX3"], trim=0.1)
    assert result.kind == "ratio"
    assert result.target == 1.0
    assert result.trim == 0.1
    assert result.units.columns == [
        "label",
        "numerator",
        "denominator",
        "value",
        "z",
        *LIMIT_COLUMNS,
        "band_95",
        "band_998",
    ]
    assert result.units["label"].to_list() == ["RX1", "RX2", "RX3"]
    assert result.units["value"].to_list() == pytest.approx([10 / 12, 20 / 18, 30 / 33])
    assert funnel([1, 2], [3, 4]).units["label"].to_list() == [0, 1]


def test_method_note_names_method_phi_tau2_and_trimming() -> None:
    observed = PHE_RATIO_INPUTS["obs"]
    result = funnel(observed, PHE_RATIO_INPUTS["expected"])
    note = result.method_note
    assert "SHMI" in note
    assert f"φ = {result.phi:.4g}" in note
    assert f"τ² = {result.tau2:.4g}" in note
    assert "29 highest and 29 lowest (10% at each end)" in note
    assert "exact Poisson" in note
    none = funnel(observed, PHE_RATIO_INPUTS["expected"], overdispersion="none")
    assert "No adjustment was made for over-dispersion." in none.method_note
    assert math.isnan(none.phi) and none.tau2 == 0.0


def test_rate_values_and_limits_use_the_multiplier() -> None:
    result = funnel([5, 50], [10_000, 80_000], kind="rate", multiplier=100_000)
    assert result.target == pytest.approx(55 / 90_000)
    assert result.units["value"].to_list() == pytest.approx([50.0, 62.5])
    grid = result.limits([10_000])
    assert grid.columns == ["denominator", *LIMIT_COLUMNS]
    # Limits are on the per-100,000 scale, around the target of 61.1 per 100,000.
    centre = result.target * 100_000
    assert 0 < grid["lower_95"][0] < centre < grid["upper_95"][0]


def test_limits_at_non_positive_denominators_are_null() -> None:
    grid = funnel([3], [4]).limits([0, -1, 2])
    assert grid["lower_95"].to_list()[:2] == [None, None]
    assert grid["lower_95"][2] is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "count"}, "kind must be one of"),
        ({"overdispersion": "arcsine"}, "overdispersion for a ratio must be one of"),
        ({"trim": 0.5}, "trim must be"),
        ({"target": 0}, "target must be a positive number"),
        ({"kind": "proportion", "target": 1.5}, "below 1"),
        ({"labels": ["a"]}, "one label per unit"),
        ({"proportion_limits": "normal"}, "proportion_limits"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        funnel([1, 2], [3, 4], **kwargs)


def test_a_proportion_above_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="not be larger than its denominator"):
        funnel([5], [4], kind="proportion")

"""An attacker of published benchmarks: what the cells of one or more publications give away.

The attacker holds every published output (read back by ``benchmark_outputs``), knows the
disclosure rule (it is named in every output), the methods (``docs/statistics.md``) and how the
tables add up, and works with interval arithmetic:

- a released count ``r`` means a true count in ``r-2 .. r+2``, outside the rule's suppressed range
  (``0`` under NHS England's rule is exactly 0); ``*`` means any count, since it may be a
  secondary suppression; an *informed* attacker, stronger than any real one, is also told which
  ``*`` are primary suppressions, and for those takes ``1 .. max`` (``0 .. max`` under the MHSDS
  rule);
- a value with ``d`` decimals means the value ``+/- 0.5 x 10^-d``.

Attacks on one row: rate (or share) x denominator, ratio x expected, and inverting a published
interval, each as if the figure had been computed from the true counts. Attacks across a table,
by propagating intervals to a fixed point: the national row is the sum of the providers' rows;
cause groups nest (suicide within unnatural within all causes); a share's count is within its
denominator; the national calendar years add up to the national window when the window holds
them all; a provider page's counts of the quarter nest (suicides within their category, the
categories within deaths in scope, reviews and judgements within deaths in scope). Across
publications: the windows (and the current year, and the quarter) ending at ``t`` and ``t-1``
differ by one month in and one out, so the difference of their intervals bounds the net change.

A *recovery* is an attack that narrows a count the publication did not show exactly to a single
value, and that value is the true one (the oracle is the warehouse's unrounded counts). A 0 is not
a recovery under a rule that releases 0 (NHS England's, OpenSAFELY's): a withheld provider with no
suicides beside an exact 0 for unnatural causes is what the rule would have shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from mhdeaths.benchmark.compute import NATIONAL, crude, ratio_limits
from mhdeaths.benchmark.indicators import Indicator
from mhdeaths.stats import DisclosureRule

from .benchmark_outputs import Place, Shown

INF = 10**9
Var = tuple[str, ...]
"""A count: (publication, *place), e.g. ("t", "row", "inpatient_deaths.all", "RZ1", "observed")."""


def count_interval(cell: Shown, rule: DisclosureRule, primary: bool) -> tuple[int, int] | None:
    """What a released count cell says about the true count (None: nothing); ``primary``: that a
    ``*`` is known to be the rule's own suppression, not a secondary one."""
    smallest = 0 if rule.suppress_zero else 1
    if cell == "*":
        return (smallest, rule.max_suppressed) if primary else (0, INF)
    if not isinstance(cell, float):
        return None
    r = int(cell)
    if r == 0 and not rule.suppress_zero:
        return (0, 0)
    low, high = r - rule.rounding_base // 2, r + rule.rounding_base // 2
    return (max(low, rule.max_suppressed + 1), high)


@dataclass
class Recovery:
    attack: str
    var: Var
    value: int
    truth: int
    small: bool


@dataclass
class Attack:
    """The attacker's knowledge: bounds on counts and the relations between them."""

    rule: DisclosureRule
    informed: Mapping[Var, int] | None = None
    """For the informed attacker: the true counts, used only to say which ``*`` are primary."""
    bounds: dict[Var, list[int]] = field(default_factory=dict)
    shown: dict[Var, Shown] = field(default_factory=dict)
    sums: list[tuple[Var, tuple[Var, ...]]] = field(default_factory=list)
    """total = sum of parts"""
    within: list[tuple[tuple[Var, ...], Var]] = field(default_factory=list)
    """sum of parts <= total"""
    contradictions: int = 0

    def know(self, var: Var, cell: Shown) -> None:
        primary = False
        if cell == "*" and self.informed is not None and var in self.informed:
            smallest = 0 if self.rule.suppress_zero else 1
            primary = smallest <= self.informed[var] <= self.rule.max_suppressed
        interval = count_interval(cell, self.rule, primary)
        self.shown[var] = cell
        if interval is None:
            return
        old = self.bounds.setdefault(var, [0, INF])
        old[0], old[1] = max(old[0], interval[0]), min(old[1], interval[1])

    def _tighten(self, var: Var, low: int, high: int) -> bool:
        b = self.bounds.setdefault(var, [0, INF])
        changed = False
        if low > b[0]:
            b[0], changed = low, True
        if high < b[1]:
            b[1], changed = high, True
        return changed

    def propagate(self, rounds: int = 60) -> None:
        for _ in range(rounds):
            changed = False
            for total, parts in self.sums:
                lows = [self.bounds.setdefault(p, [0, INF])[0] for p in parts]
                highs = [self.bounds[p][1] for p in parts]
                t = self.bounds.setdefault(total, [0, INF])
                changed |= self._tighten(total, sum(lows), min(sum(highs), INF))
                for i, part in enumerate(parts):
                    others_low = sum(lows) - lows[i]
                    others_high = sum(highs) - highs[i]
                    changed |= self._tighten(part, t[0] - others_high, t[1] - others_low)
            for parts, total in self.within:
                lows = [self.bounds.setdefault(p, [0, INF])[0] for p in parts]
                t = self.bounds.setdefault(total, [0, INF])
                changed |= self._tighten(total, sum(lows), INF)
                for i, part in enumerate(parts):
                    changed |= self._tighten(part, 0, t[1] - (sum(lows) - lows[i]))
            if not changed:
                break
        self.contradictions = sum(1 for b in self.bounds.values() if b[0] > b[1])

    def pinned(self) -> dict[Var, int]:
        return {v: b[0] for v, b in self.bounds.items() if b[0] == b[1]}


def hidden(cell: Shown, truth: int, rule: DisclosureRule | None = None) -> bool:
    """Whether a publication's cell did not show the true count exactly, and the rule would not
    have shown it either (a 0 withheld beside others is no secret where the rule releases 0)."""
    if rule is not None and truth == 0 and not rule.suppress_zero:
        return False
    return not (isinstance(cell, float) and int(cell) == truth)


def build(
    attack: Attack,
    period: str,
    cells: Mapping[Place, Shown],
    indicators: Mapping[str, Indicator],
    providers: Iterable[str],
    windows: Mapping[str, tuple[str, str]],
) -> None:
    """Add one publication's count cells and table relations to the attack."""
    providers = list(providers)
    for place, cell in cells.items():
        if place[-1] in ("observed", "denominator") or place[0] == "quarter":
            attack.know((period, *place), cell)
    for key, indicator in indicators.items():
        row = lambda p, c, k=key: (period, "row", k, p, c)  # noqa: E731
        for p in providers:
            # A provider missing from a table has nothing to count there.
            if (period, "row", key, p, "observed") not in attack.shown:
                attack.know(row(p, "observed"), 0.0)
        deaths_share = indicator.denominator is not None and indicator.denominator.deaths
        if not indicator.listed:
            attack.sums.append(
                (row(NATIONAL, "denominator"), tuple(row(p, "denominator") for p in providers))
            )
            for p in [*providers, NATIONAL]:
                if indicator.kind == "proportion":
                    attack.within.append(((row(p, "observed"),), row(p, "denominator")))
        # The national count is over the providers at risk: all of them for a share of deaths (a
        # provider with no deaths in scope counts none); those with activity otherwise.
        at_risk = []
        certain = True
        for p in providers:
            n = cells.get(("row", key, p, "denominator"))
            if indicator.listed or deaths_share or (isinstance(n, float) and n > 0):
                at_risk.append(p)
            elif not (isinstance(n, float) and n == 0):
                certain = False
        if certain:
            attack.sums.append(
                (row(NATIONAL, "observed"), tuple(row(p, "observed") for p in at_risk))
            )
        # Years within the window: when the window holds every year the trend shows.
        first, _last = windows[key]
        years = sorted({place[3] for place in cells if place[:2] == ("trend", key)})
        if years and (
            int(years[0]) > int(first[:4]) or (first.endswith("-01") and years[0] == first[:4])
        ):
            for column in ("observed",) if indicator.listed else ("observed", "denominator"):
                attack.sums.append(
                    (
                        row(NATIONAL, column),
                        tuple((period, "trend", key, NATIONAL, y, column) for y in years),
                    )
                )
    # Cause groups nest: ONS suicide within unnatural causes within all causes; NCISH suicide
    # within all causes.
    for key in indicators:
        base, _, variant = key.partition(".")
        if variant == "unnatural_ons":
            for p in [*providers, NATIONAL]:
                attack.within.append(
                    (
                        ((period, "row", f"{base}.suicide_ons", p, "observed"),),
                        (period, "row", f"{base}.unnatural_ons", p, "observed"),
                    )
                )
                attack.within.append(
                    (
                        ((period, "row", f"{base}.unnatural_ons", p, "observed"),),
                        (period, "row", f"{base}.all", p, "observed"),
                    )
                )
        if variant == "suicide_ncish":
            for p in [*providers, NATIONAL]:
                attack.within.append(
                    (
                        ((period, "row", f"{base}.suicide_ncish", p, "observed"),),
                        (period, "row", f"{base}.all", p, "observed"),
                    )
                )
    # A provider page's quarter (provider_summary._DEATHS, _LEARNING): deaths.0 IPD, .1 IPD
    # suicide, .2 D30, .3 D30 suicide, .4 awaiting admission, .5 out of scope, .6 D30 after a
    # transfer; learning.0 in scope, .1 review needed, .2 CRR completed, .3 investigated,
    # .4 problems in care, .5 family involved, .6 family declined, .7 review needed and a review
    # within 3 months.
    for p in providers:
        q = lambda line, p=p: (period, "quarter", p, line)  # noqa: E731
        if q("deaths.0") not in attack.shown:
            continue
        attack.within += [
            ((q("deaths.1"),), q("deaths.0")),
            ((q("deaths.3"),), q("deaths.2")),
            ((q("deaths.0"), q("deaths.2")), q("learning.0")),
            ((q("learning.1"),), q("learning.0")),
            ((q("learning.2"), q("learning.3")), q("learning.0")),
            ((q("learning.4"), q("learning.5")), q("learning.0")),
            ((q("learning.7"),), q("learning.1")),
            ((q("deaths.6"),), q("deaths.2")),
            # Sentinels: restrictive interventions are counted among the deaths in scope.
            ((q("sentinel.1"),), q("learning.0")),
        ]


def recoveries(
    attack: Attack, truth: Mapping[Var, int], name: str = "tables"
) -> tuple[list[Recovery], int]:
    """Counts the attack pinned to their true value though the publication hid them, and how
    many pins were wrong (none should be: every interval the attacker uses holds the truth)."""
    found, wrong = [], 0
    smallest = 0 if attack.rule.suppress_zero else 1
    for var, value in attack.pinned().items():
        if var not in truth:
            continue
        if value != truth[var]:
            wrong += 1
        elif hidden(attack.shown.get(var), truth[var], attack.rule):
            small = smallest <= value <= attack.rule.max_suppressed
            found.append(Recovery(name, var, value, truth[var], small))
    return found, wrong


def feed(attack: Attack, pins: Mapping[Var, int]) -> int:
    """Take the counts the row attacks pinned into the tables, where they say more than the count
    cell: a pin on the rounded count itself says only that the figure was computed from it, and a
    careful attacker who sees that on every row learns that the values carry nothing more."""
    fed = 0
    for var, value in pins.items():
        cell = attack.shown.get(var)
        if isinstance(cell, float) and int(cell) == value:
            continue
        attack.bounds[var] = [value, value]
        fed += 1
    return fed


def nested(attack: Attack, truth: Mapping[Var, int]) -> list[Recovery]:
    """Group subtraction: where one count lies within another (suicide within unnatural causes,
    reviews within deaths in scope), their difference is a count too (natural causes, deaths not
    reviewed), published nowhere; pinned to its true value, it is recovered."""
    found = []
    smallest = 0 if attack.rule.suppress_zero else 1
    for parts, total in attack.within:
        if len(parts) != 1 or parts[0] not in truth or total not in truth:
            continue
        (part,) = parts
        a, b = attack.bounds[part], attack.bounds[total]
        low, high = b[0] - a[1], b[1] - a[0]
        true_difference = truth[total] - truth[part]
        if true_difference == 0 and not attack.rule.suppress_zero:
            continue
        if low == high == true_difference:
            small = smallest <= true_difference <= attack.rule.max_suppressed
            found.append(Recovery("group subtraction", (*total, "minus", *part), low, low, small))
    return found


def differences(
    attack: Attack, before: str, after: str, truth: Mapping[Var, int]
) -> list[Recovery]:
    """Consecutive publications: the net change of each count between them, when pinned."""
    found = []
    smallest = 0 if attack.rule.suppress_zero else 1
    for var, b in list(attack.bounds.items()):
        if var[0] != after:
            continue
        earlier = (before, *var[1:])
        if earlier not in attack.bounds or var not in truth or earlier not in truth:
            continue
        a = attack.bounds[earlier]
        low, high = b[0] - a[1], b[1] - a[0]
        true_change = truth[var] - truth[earlier]
        shown_exactly = not hidden(attack.shown.get(var), truth[var], attack.rule) and not hidden(
            attack.shown.get(earlier), truth[earlier], attack.rule
        )
        if low == high == true_change and not shown_exactly:
            small = smallest <= abs(true_change) <= attack.rule.max_suppressed
            found.append(Recovery("consecutive", var, low, true_change, small))
    return found


def _places(value: Shown) -> int:
    if not isinstance(value, float):
        return 0
    text = repr(value)
    return len(text.split(".")[1]) if "." in text and not text.endswith(".0") else 0


def row_attacks(
    period: str,
    cells: Mapping[Place, Shown],
    indicators: Mapping[str, Indicator],
    rule: DisclosureRule,
    truth: Mapping[Var, int],
    decimals: Mapping[str, int],
    pins: dict[Var, int] | None = None,
) -> list[Recovery]:
    """Rate x denominator, ratio x expected and interval inversion, on every published row, as if
    the figures had been computed from the true counts with the denominator anywhere in its
    released interval. Every count an attack pins goes into ``pins`` (right or wrong)."""
    found = []
    smallest = 0 if rule.suppress_zero else 1
    rows = {place[:3] for place in cells if place[0] == "row"}
    for _, key, provider in sorted(rows):
        indicator = indicators[key]
        if indicator.listed:
            continue
        get = lambda c, k=key, p=provider: cells.get(("row", k, p, c))  # noqa: E731
        o, n, v = get("observed"), get("denominator"), get("value")
        var = (period, "row", key, provider, "observed")
        if var not in truth or not isinstance(n, float) or not isinstance(v, float):
            continue
        t = truth[var]
        if not hidden(o, t, rule):
            continue
        n_interval = count_interval(n, rule, primary=False)
        assert n_interval is not None
        dp = decimals[key]
        half = 0.5 * 10.0**-dp
        m = indicator.multiplier
        candidates = set()
        # Rate (or share) x denominator.
        low = (v - half) * n_interval[0] / m
        high = (v + half) * n_interval[1] / m
        xs = np.arange(max(0, math.ceil(low - 1e-9)), math.floor(high + 1e-9) + 1, dtype=float)
        if len(xs) == 1:
            candidates.add(("rate x denominator", int(xs[0])))
        # Inverting the interval too: every count and denominator that reproduces value and limits.
        lo_c, up_c = get("lower"), get("upper")
        if len(xs) and isinstance(lo_c, float) and isinstance(up_c, float) and len(xs) < 400:
            ns = np.arange(n_interval[0], n_interval[1] + 1, dtype=float)
            grid_x, grid_n = np.meshgrid(xs, ns)
            gx, gn = grid_x.ravel(), grid_n.ravel()
            value, lower, upper = crude(indicator, gx, gn)
            fits = (
                (np.abs(value - v) <= half + 1e-9)
                & (np.abs(lower - lo_c) <= half + 1e-9)
                & (np.abs(upper - up_c) <= half + 1e-9)
            )
            left = set(gx[fits].astype(int).tolist())
            if len(left) == 1:
                candidates.add(("interval inversion", left.pop()))
        # Ratio x expected, and the ratio's interval.
        r, e = get("ratio"), get("expected")
        if isinstance(r, float) and isinstance(e, float):
            low = (r - 0.005) * (e - 0.05)
            high = (r + 0.005) * (e + 0.05)
            xs = np.arange(max(0, math.ceil(low - 1e-9)), math.floor(high + 1e-9) + 1, dtype=float)
            if len(xs) == 1:
                candidates.add(("ratio x expected", int(xs[0])))
            rl, ru = get("ratio_lower"), get("ratio_upper")
            if len(xs) and isinstance(rl, float) and isinstance(ru, float):
                es = np.linspace(e - 0.05, e + 0.05, 11)
                grid_x, grid_e = np.meshgrid(xs, es)
                gx, ge = grid_x.ravel(), grid_e.ravel()
                lower, upper = ratio_limits(gx, ge)
                fits = (np.abs(lower - rl) <= 0.005 + 1e-9) & (np.abs(upper - ru) <= 0.005 + 1e-9)
                left = set(gx[fits].astype(int).tolist())
                if len(left) == 1:
                    candidates.add(("ratio interval inversion", left.pop()))
        for attack, value_found in candidates:
            if pins is not None:
                pins[var] = value_found
            if value_found == t:
                found.append(Recovery(attack, var, t, t, smallest <= t <= rule.max_suppressed))
    return found


def build_tables(attack: Attack, period: str, cells: Mapping[Place, Shown]) -> None:
    """Add one publication's inequalities section and themes table to the attack: every count
    cell, and how the tables add up. Each ethnic table's total is the sum of its groups (deaths
    and bed days); the detained deaths of a group are among its inpatient deaths; the known
    deciles add up to their total, which is also every decile row's denominator; and each theme's
    national count of a year is the sum of the providers'."""
    totals: dict[Var, list[Var]] = {}
    for place, cell in cells.items():
        if place[0] == "inequality" and place[-1] in ("observed", "denominator"):
            attack.know((period, *place), cell)
            _, measure, group, column = place
            if group != "all" and group != "not_known":
                if measure == "deprivation" and column == "denominator":
                    # The decile row's denominator is the total row's count itself.
                    attack.sums.append(
                        ((period, "inequality", measure, "all", "observed"), ((period, *place),))
                    )
                    continue
                totals.setdefault((period, "inequality", measure, "all", column), []).append(
                    (period, *place)
                )
        elif place[0] == "theme":
            attack.know((period, *place), cell)
            _, theme, provider, year, column = place
            if provider != NATIONAL:
                totals.setdefault((period, "theme", theme, NATIONAL, year, column), []).append(
                    (period, *place)
                )
    for total, parts in totals.items():
        attack.sums.append((total, tuple(parts)))
    for place in cells:
        if place[:2] == ("inequality", "detained_deaths") and place[-1] == "observed":
            wider = (period, "inequality", "inpatient_deaths", place[2], "observed")
            if wider in attack.shown:
                attack.within.append((((period, *place),), wider))


def table_row_attacks(
    period: str,
    cells: Mapping[Place, Shown],
    rule: DisclosureRule,
    truth: Mapping[Var, int],
    units: Mapping[str, tuple[float, int]],
    pins: dict[Var, int] | None = None,
) -> list[Recovery]:
    """Rate (or share) x denominator on every row of the inequalities section, as if the figure
    had been computed from the true count with the denominator anywhere in its released interval
    (``units``: each measure's multiplier, 100 for a share in %, and its published places)."""
    found = []
    smallest = 0 if rule.suppress_zero else 1
    rows = {place[:3] for place in cells if place[0] == "inequality"}
    for _, measure, group in sorted(rows):
        get = lambda c, m=measure, g=group: cells.get(("inequality", m, g, c))  # noqa: E731
        o, n, v = get("observed"), get("denominator"), get("value")
        var = (period, "inequality", measure, group, "observed")
        if var not in truth or not isinstance(n, float) or not isinstance(v, float):
            continue
        if not hidden(o, truth[var], rule):
            continue
        n_interval = count_interval(n, rule, primary=False)
        assert n_interval is not None
        m, places = units[measure]
        half = 0.5 * 10.0**-places
        low = (v - half) * n_interval[0] / m
        high = (v + half) * n_interval[1] / m
        xs = range(max(0, math.ceil(low - 1e-9)), math.floor(high + 1e-9) + 1)
        if len(xs) == 1:
            if pins is not None:
                pins[var] = xs[0]
            if xs[0] == truth[var]:
                t = truth[var]
                found.append(
                    Recovery("rate x denominator", var, t, t, smallest <= t <= rule.max_suppressed)
                )
    return found


# Monthly monitoring (``mhdeaths.benchmark.monitoring``): the charts' alerts, across publications.


def month_var(key: str, provider: str, month: str) -> Var:
    """A provider's deaths in one month: never published, the same in every publication."""
    return ("month", key, provider, month)


def span_var(key: str, provider: str, first: str, last: str) -> Var:
    """A provider's deaths from ``first`` to ``last``, both included."""
    return ("span", key, provider, first, last)


@dataclass
class Monthly:
    """What the attacker puts together across publications from the monthly counts behind them.

    ``drift`` holds each (indicator, provider, month)'s chart drift, the ``(R - 1)E`` of a Poisson
    month or ``n ln(1 + (R - 1)E / n)`` of a Bernoulli one, from the true expected counts: the
    attacker is told what no reader is (the report publishes the window's expected count to one
    place, never a month's), so that the bounds below are as tight as an attack can make them.
    ``spans`` records each latent sum's months, for the oracle."""

    attack: Attack
    drift: Mapping[tuple[str, str, str], float]
    spans: dict[Var, tuple[Var, ...]] = field(default_factory=dict)

    def span(self, key: str, provider: str, months: list[str]) -> Var:
        """The var of a run of months. Each span is also its first month plus the rest and the
        rest plus its last month, spans made in turn: so that what is known of overlapping spans
        (two windows a month apart, a run and a silent stretch inside it) combines."""
        if len(months) == 1:
            return month_var(key, provider, months[0])
        var = span_var(key, provider, months[0], months[-1])
        if var not in self.spans:
            self.spans[var] = tuple(month_var(key, provider, m) for m in months)
            first, last = months[:1], months[-1:]
            self.attack.sums.append(
                (var, (self.span(key, provider, first), self.span(key, provider, months[1:])))
            )
            self.attack.sums.append(
                (var, (self.span(key, provider, months[:-1]), self.span(key, provider, last)))
            )
        return var

    def at_least(self, var: Var, low: int) -> None:
        self.attack._tighten(var, low, INF)

    def at_most(self, var: Var, high: int) -> None:
        self.attack._tighten(var, 0, high)

    def truth(self, monthly: Mapping[Var, int]) -> dict[Var, int]:
        """The true value of every latent sum, from the true monthly counts."""
        return {var: sum(monthly.get(p, 0) for p in parts) for var, parts in self.spans.items()}


def build_monitoring(
    monthly: Monthly,
    period: str,
    charts: list[Mapping[str, object]],
    windows: Mapping[str, list[str]],
    quarter: list[str],
    quarter_lines: Mapping[str, str],
    chart_months: Mapping[str, list[str]] | None = None,
) -> None:
    """Add one publication's monitoring to the attack.

    Every provider's pooled count of a monitored indicator is the sum of its months in the
    window, and the page's quarter count (``quarter_lines``: the page's line counting the same
    deaths) the sum of its months in the quarter: across publications whose windows slide by a
    month, these overlap. Each released chart adds what its alerts and its silences say, for the
    chart starts at 0 at its own window's start: with the statistic S = max(0, S + O ln R - D),

    - an alert at A, the run since the previous alert (or the window's start) beginning at s, says
      that some suffix of s..A has O ln R - D >= h: the run holds at least (h + D_A) / ln R deaths,
      and S rose in month A, so O_A > D_A / ln R;
    - a stretch a..b of a run with no alert up to b says O ln R - D < h over it: at most
      (h + D_(a..b)) / ln R deaths, for every such stretch.

    After the last released alert the chart is known to be silent only where the release rule
    would have released a further alert: fewer alerts than its cap (published counts fix the
    cap) and a next run starting before the page's quarter."""
    attack = monthly.attack
    for chart in charts:
        key = str(chart["indicator"])
        pooled_months = windows[key]
        months = chart_months[key] if chart_months else pooled_months
        log_r = math.log(float(chart["rate_ratio"]))  # type: ignore[arg-type]
        rows = chart["rows"]
        assert isinstance(rows, list)
        for row in rows:
            provider = str(row["provider"])
            pooled = (period, "row", key, provider, "observed")
            attack.sums.append((pooled, (monthly.span(key, provider, pooled_months),)))
            line = quarter_lines.get(key)
            if line is not None and (period, "quarter", provider, line) in attack.shown:
                attack.sums.append(
                    (
                        (period, "quarter", provider, line),
                        (monthly.span(key, provider, quarter),),
                    )
                )
            if row["status"] != "monitored":
                continue
            h = float(row["threshold"])
            drift = [monthly.drift.get((key, provider, m), 0.0) for m in months]
            m_least = math.ceil(h / log_r - 1e-9)
            cap = _cap(attack.shown.get(pooled), m_least)
            position = {m: i for i, m in enumerate(months)}
            start, silent = 0, []
            for alert in row["alerts"]:
                a = position[alert]
                run = monthly.span(key, provider, months[start : a + 1])
                monthly.at_least(run, math.ceil((h + drift[a]) / log_r - 1e-9))
                monthly.at_least(
                    month_var(key, provider, alert), math.floor(drift[a] / log_r + 1e-9) + 1
                )
                silent.append((start, a - 1))
                start = a + 1
            if len(row["alerts"]) < cap and start < len(months) and months[start] < quarter[0]:
                silent.append((start, len(months) - 1))
            for first, last in silent:
                for i in range(first, last + 1):
                    total = 0.0
                    for j in range(i, last + 1):
                        total += drift[j]
                        var = monthly.span(key, provider, months[i : j + 1])
                        monthly.at_most(var, math.ceil((h + total) / log_r + 1e-9) - 1)


def _cap(cell: Shown | None, least: int) -> int:
    """The most alerts the release rule lets a chart release beside a pooled count ``cell``."""
    return (int(cell) + 1) // least if isinstance(cell, float) else 0


def window_months(first: str, last: str) -> list[str]:
    """The months ``CCYY-MM`` from ``first`` to ``last``."""
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out

"""Indicator definitions: read and checked from ``warehouse/indicators/*.yaml``.

An indicator is data, not code, so that a standards team can read exactly what is counted, over
what, and how providers are compared, and add one without touching Python. Conditions are SQL over
the warehouse's documented views; the test suite computes every one on a real warehouse, so a
misspelt column fails a test rather than a publication.

An indicator whose meaning changes gets a new id, never a new meaning under the old one: a
published figure stays comparable with every earlier figure of its id. The old file moves to
``retired/`` with ``status: retired``, the definitions version that retired it and the ids that
replace it; it is never computed, but it is kept so that asking for it says what to use instead.
A variant is retired the same way, on its entry.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from mhdeaths.errors import UserError
from mhdeaths.paths import warehouse_root


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Numerator(_Model):
    label: str
    where: str
    """A condition over the ``deaths`` view; only deaths counted once (``counted``) are seen."""
    date: str = "death_date"
    """The date that places a death in a window or a year: the date of death, or for deaths
    after discharge the date of the discharge, so that the deaths counted are those of the
    discharges counted."""


class Denominator(_Model):
    label: str
    activity: str | None = None
    """A column of the ``activity`` view, summed over the provider's reporting periods."""
    deaths: str | None = None
    """Or a condition over the ``deaths`` view: the numerator is then those deaths that also meet
    the numerator's condition (a share of deaths)."""
    expected: str | None = None
    """Or a condition over the ``expected_deaths`` view (registered deaths linked to a
    provider's spells, issue 16): the numerator is those that also meet its condition (the share
    of the deaths the national feeds expected of a provider that it reported)."""

    @model_validator(mode="after")
    def _one_source(self) -> Denominator:
        if sum(x is not None for x in (self.activity, self.deaths, self.expected)) != 1:
            raise ValueError(
                "a denominator names exactly one of 'activity', 'deaths' or 'expected'"
            )
        return self

    @property
    def share_of(self) -> tuple[str, str] | None:
        """For a share of deaths: the staged table the deaths are in and the condition on them
        (None for a rate over activity)."""
        if self.deaths is not None:
            return "bm_deaths", self.deaths
        if self.expected is not None:
            return "bm_expected", self.expected
        return None


Status = Literal["active", "retired"]


class Variant(_Model):
    id: str
    title: str
    where: str
    """A further condition on the numerator's deaths (a cause group, say)."""
    status: Status = "active"
    retired_in: str | None = None
    superseded_by: tuple[str, ...] = ()
    """For a retired variant: the indicators (``id``) or variants (``id.variant``) to use instead."""

    @model_validator(mode="after")
    def _retired_consistently(self) -> Variant:
        retired = self.status == "retired"
        if retired != (self.retired_in is not None) or retired != bool(self.superseded_by):
            raise ValueError(
                "a retired variant names retired_in and superseded_by, and only a retired one"
            )
        return self


ALL_DEATHS = Variant(id="all", title="All causes", where="TRUE")


class Method(_Model):
    """How providers are compared: on what, and with which over-dispersion adjustment."""

    compare: Literal["standardised_ratio", "crude", "none"]
    """``standardised_ratio``: observed over expected (from ``standardise_by``), banded on a
    funnel of ratios; ``crude``: the rate or proportion itself on its funnel; ``none``: not
    banded (a median)."""
    overdispersion: Literal["auto", "log", "sqrt", "arcsine", "none"] = "auto"
    """``mhdeaths.stats.funnel``'s method: ``log`` is the SHMI's, ``sqrt`` the CQC's, ``arcsine``
    for proportions; ``auto`` picks by kind."""
    trim: float = 0.1
    """The share of units set aside at each end when over-dispersion is estimated."""


class Monitor(_Model):
    """A monthly risk-adjusted CUSUM chart per provider (``mhdeaths.stats.cusum``), upward only.

    The model follows the indicator's kind: a rate over person-time is charted as Poisson counts,
    a proportion of discharges as Bernoulli outcomes (the month's people at risk given). Each
    provider's threshold is set for ``false_alarms_per_year`` at its published expected count
    (``mhdeaths.benchmark.monitoring``)."""

    rate_ratio: float = 2.0
    """R, the step the chart is tuned to detect (an odds ratio for a proportion)."""
    false_alarms_per_year: float = 0.01
    """The in-control alerts per provider-year the thresholds allow."""
    variant: str = "all"
    """The one variant charted: each further chart on a subset of the same deaths would bound
    the parent's count from below (docs/privacy.md)."""


class Indicator(_Model):
    id: str
    order: int = 100
    """Where the indicator comes in the report (then by id)."""
    title: str
    description: str
    kind: Literal["rate", "proportion", "median", "count"]
    """``count``: a sentinel count of deaths per provider, listed and never rated or banded (a
    count has no denominator to compare providers on); suppressed like every count."""
    numerator: Numerator
    denominator: Denominator | None = None
    measure: str | None = None
    """For a median: the SQL value summarised for each numerator death."""
    unit: str
    multiplier: float = 1.0
    method: Method
    standardise_by: tuple[str, ...] = ()
    """Strata for indirect standardisation; they must be columns of both views."""
    min_expected: float = 5.0
    """No band for a provider whose expected count is below this floor."""
    caution_below: int = 20
    """Flag a figure built on fewer events than this as one to interpret with caution."""
    pooling_months: int = 36
    mature_months: int = 0
    """Deaths less than this many calendar months before the run's as-at are left out of both
    counts, so that a review still open on a recent death is not yet counted as late."""
    variants: tuple[Variant, ...] = (ALL_DEATHS,)
    monitor: Monitor | None = None
    """A monthly CUSUM chart per provider, for a standardised ratio only: its expected counts
    are what a month's deaths are compared with."""
    status: Status = "active"
    retired_in: str | None = None
    """The definitions version that retired the indicator (``2.0.0``)."""
    superseded_by: tuple[str, ...] = ()
    """The indicators (``id``) or variants (``id.variant``) that replace a retired one."""

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if self.kind == "median":
            if self.measure is None or self.denominator is not None:
                raise ValueError("a median has a measure and no denominator")
        elif self.kind == "count":
            if self.measure is not None or self.denominator is not None:
                raise ValueError("a count has no measure and no denominator")
        elif self.denominator is None or self.measure is not None:
            raise ValueError(f"a {self.kind} has a denominator and no measure")
        if self.standardise_by and (self.denominator is None or self.denominator.activity is None):
            raise ValueError("only an indicator over activity can be standardised")
        if (self.method.compare == "standardised_ratio") != bool(self.standardise_by):
            raise ValueError("a standardised ratio needs standardise_by, and only it uses them")
        if (self.method.compare == "none") != self.listed:
            raise ValueError("a median or a count is compared by 'none', and only they are")
        if not 0 <= self.method.trim < 0.5:
            raise ValueError("method.trim must be at least 0 and below 0.5")
        if self.pooling_months < 1:
            raise ValueError("pooling_months must be at least 1")
        if self.mature_months < 0:
            raise ValueError("mature_months must be at least 0")
        if (
            self.mature_months
            and self.denominator is not None
            and self.denominator.share_of is None
        ):
            # Activity cannot be left out by the age of a death: the rate would lose deaths only.
            raise ValueError("mature_months applies to a share of deaths or a median only")
        ids = [v.id for v in self.variants]
        if self.monitor is not None:
            if not self.standardise_by:
                raise ValueError(
                    "only a standardised ratio can be monitored: it has expected counts"
                )
            if not (self.monitor.rate_ratio > 1 and 0 < self.monitor.false_alarms_per_year < 12):
                raise ValueError(
                    "monitor.rate_ratio must be more than 1 and monitor.false_alarms_per_year "
                    "between 0 and 12"
                )
            if self.monitor.variant not in [v.id for v in self.live_variants]:
                raise ValueError("monitor.variant must name a variant in use")
        if len(set(ids)) != len(ids):
            raise ValueError("variant ids must differ")
        retired = self.status == "retired"
        if retired != (self.retired_in is not None) or retired != bool(self.superseded_by):
            raise ValueError(
                "a retired indicator names retired_in and superseded_by, and only a retired one"
            )
        if not retired and not self.live_variants:
            raise ValueError("an indicator in use has at least one variant in use")
        return self

    @property
    def banded(self) -> bool:
        return not self.listed

    @property
    def listed(self) -> bool:
        """A median or a count: described per provider, with no denominator and no band."""
        return self.kind in ("median", "count")

    @property
    def live_variants(self) -> tuple[Variant, ...]:
        """The variants computed: every one not retired."""
        return tuple(v for v in self.variants if v.status == "active")

    def retired_message(self, variant: Variant | None = None) -> str:
        """The one sentence that answers a request for a retired indicator (or variant)."""
        what = f"Indicator {self.id}" if variant is None else f"Variant {self.id}.{variant.id}"
        retired = variant or self
        since = f" with definitions {retired.retired_in}" if retired.retired_in else ""
        instead = retired.superseded_by
        use = ", ".join(instead[:-1]) + (" or " if len(instead) > 1 else "") + instead[-1]
        return f"{what} was retired{since}; use {use}."


class UnknownIndicator(UserError):
    """An indicator asked for by id that the warehouse does not define, or that was retired."""


def indicators_root() -> Path:
    return warehouse_root() / "indicators"


def load_indicators(root: Path | None = None) -> tuple[Indicator, ...]:
    """Every indicator in use (the folder's files, not ``retired/``), in report order. Raises
    UserError on a malformed file or a ``superseded_by`` naming nothing in use."""
    return tuple(i for i in load_catalogue(root) if i.status == "active")


def load_catalogue(root: Path | None = None) -> tuple[Indicator, ...]:
    """Every indicator, in use and retired, in report order (retired ones last)."""
    folder = root or indicators_root()
    active = [_read(path, "active") for path in sorted(folder.glob("*.yaml"))]
    if not active:
        raise UserError(f"There are no indicator files in {folder}.")
    retired = [_read(path, "retired") for path in sorted((folder / "retired").glob("*.yaml"))]
    everything = active + retired
    ids = [i.id for i in everything]
    if twice := sorted({i for i in ids if ids.count(i) > 1}):
        raise UserError(f"The indicator {twice[0]} is defined both in use and retired.")
    in_use = {i.id for i in active} | {f"{i.id}.{v.id}" for i in active for v in i.live_variants}
    for indicator in everything:
        named = [(indicator.id, indicator.superseded_by)] + [
            (f"{indicator.id}.{v.id}", v.superseded_by) for v in indicator.variants
        ]
        for what, instead in named:
            if missing := [i for i in instead if i not in in_use]:
                raise UserError(
                    f"The indicator file {indicator.id}.yaml says {what} is superseded by "
                    f"{missing[0]}, which is not an indicator (or variant) in use."
                )
    return tuple(sorted(everything, key=lambda i: (i.status == "retired", i.order, i.id)))


def select_indicators(ids: list[str], root: Path | None = None) -> tuple[Indicator, ...]:
    """The indicators in use named by ``ids`` (in report order); a variant (``id.variant``)
    selects its indicator. A retired id (or retired variant) raises with the ids that replace
    it; an unknown one, with the ids in use (never the text asked for)."""
    catalogue = {i.id: i for i in load_catalogue(root)}
    chosen: set[str] = set()
    for wanted in ids:
        indicator = catalogue.get(wanted)
        if indicator is not None:
            if indicator.status == "retired":
                raise UnknownIndicator(indicator.retired_message())
            chosen.add(indicator.id)
            continue
        base, _, variant_id = wanted.partition(".")
        parent = catalogue.get(base)
        variant = next((v for v in parent.variants if v.id == variant_id), None) if parent else None
        if parent is not None and variant is not None:
            if variant.status == "retired":
                raise UnknownIndicator(parent.retired_message(variant))
            if parent.status == "retired":
                raise UnknownIndicator(parent.retired_message())
            chosen.add(parent.id)  # a variant is computed with its indicator
            continue
        in_use = ", ".join(i.id for i in catalogue.values() if i.status == "active")
        raise UnknownIndicator(
            f"There is no indicator with that id; the indicators in use are {in_use}."
        )
    return tuple(i for i in load_indicators(root) if i.id in chosen)


def _read(path: Path, status: Status) -> Indicator:
    """The indicator of one file, parsed once while the file is unchanged: one publication reads
    the catalogue half a dozen times (the computation, disclosure control, each output), and
    parsing its twenty YAML files was a quarter of publishing a small warehouse's benchmarks."""
    st = path.stat()
    return _read_cached(path, status, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _read_cached(path: Path, status: Status, mtime_ns: int, size: int) -> Indicator:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        indicator = Indicator.model_validate(data)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise UserError(f"The indicator file {path.name} is not YAML: {detail}.") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        detail = str(error["msg"]).removeprefix("Value error, ")
        raise UserError(
            f"The indicator file {path.name} is not valid: {where + ': ' if where else ''}{detail}."
        ) from None
    if indicator.id != path.stem:
        raise UserError(f"The indicator file {path.name} declares the id {indicator.id!r}.")
    if indicator.status != status:
        place = "retired/" if status == "retired" else "the indicators folder, not retired/"
        raise UserError(
            f"The indicator file {path.name} is in {place} but says status: {indicator.status}."
        )
    return indicator

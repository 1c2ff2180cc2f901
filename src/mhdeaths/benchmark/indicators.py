"""Indicator definitions: read and checked from ``warehouse/indicators/*.yaml``.

An indicator is data, not code, so that a standards team can read exactly what is counted, over
what, and how providers are compared, and add one without touching Python. Conditions are SQL over
the warehouse's documented views; the test suite computes every one on a real warehouse, so a
misspelt column fails a test rather than a publication.
"""

from __future__ import annotations

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

    @model_validator(mode="after")
    def _one_source(self) -> Denominator:
        if (self.activity is None) == (self.deaths is None):
            raise ValueError("a denominator names exactly one of 'activity' or 'deaths'")
        return self


class Variant(_Model):
    id: str
    title: str
    where: str
    """A further condition on the numerator's deaths (a cause group, say)."""


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


class Indicator(_Model):
    id: str
    order: int = 100
    """Where the indicator comes in the report (then by id)."""
    title: str
    description: str
    kind: Literal["rate", "proportion", "median"]
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
    variants: tuple[Variant, ...] = (ALL_DEATHS,)

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        if self.kind == "median":
            if self.measure is None or self.denominator is not None:
                raise ValueError("a median has a measure and no denominator")
        elif self.denominator is None or self.measure is not None:
            raise ValueError(f"a {self.kind} has a denominator and no measure")
        if self.standardise_by and (self.denominator is None or self.denominator.activity is None):
            raise ValueError("only an indicator over activity can be standardised")
        if (self.method.compare == "standardised_ratio") != bool(self.standardise_by):
            raise ValueError("a standardised ratio needs standardise_by, and only it uses them")
        if (self.method.compare == "none") != (self.kind == "median"):
            raise ValueError("a median is compared by 'none', and only a median")
        if not 0 <= self.method.trim < 0.5:
            raise ValueError("method.trim must be at least 0 and below 0.5")
        if self.pooling_months < 1:
            raise ValueError("pooling_months must be at least 1")
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variant ids must differ")
        return self

    @property
    def banded(self) -> bool:
        return self.kind != "median"


def indicators_root() -> Path:
    return warehouse_root() / "indicators"


def load_indicators(root: Path | None = None) -> tuple[Indicator, ...]:
    """Every indicator in the folder, in file-name order. Raises UserError on a malformed file."""
    folder = root or indicators_root()
    found = []
    for path in sorted(folder.glob("*.yaml")):
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
                f"The indicator file {path.name} is not valid: {where + ': ' if where else ''}"
                f"{detail}."
            ) from None
        if indicator.id != path.stem:
            raise UserError(f"The indicator file {path.name} declares the id {indicator.id!r}.")
        found.append(indicator)
    if not found:
        raise UserError(f"There are no indicator files in {folder}.")
    return tuple(sorted(found, key=lambda i: (i.order, i.id)))

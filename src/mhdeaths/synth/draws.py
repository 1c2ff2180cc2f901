"""The draws every part of the generator shares, made from the spec rather than from lists in code.

A ``Codebook`` holds the codes of each coded field valid in one reporting period, so a later spec
version that retires a code never gets it written; ``fill_unknown`` gives a plausible value to a
field this generator does not know (a later version's addition) from its definition alone. The
small random and date helpers live here so that every module draws the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import re

import numpy as np

from mhdeaths.spec import FieldType, Mandation, Spec, SpecField, Table
from mhdeaths.synth.options import Row, Weights


class Codebook:
    """The codes of each coded field valid in one reporting period (codes carry validity dates)."""

    def __init__(self, spec: Spec, table: Table, day: dt.date) -> None:
        self.valid: dict[str, frozenset[str]] = {}
        self.fallback: dict[str, tuple[str, ...]] = {}
        for f in table.submitted_fields:
            if f.code_list is None:
                continue
            codes = spec.code_list(f.code_list)
            self.valid[f.name] = frozenset(codes.valid_codes(day))
            defaults = set(codes.default_codes())
            self.fallback[f.name] = tuple(c for c in codes.valid_codes(day) if c not in defaults)

    def pick(self, rng: random.Random, name: str, weights: Weights) -> str:
        """A weighted choice among the codes still valid; any valid code if none of them is."""
        valid = self.valid.get(name)
        options = (
            dict(weights) if valid is None else {c: w for c, w in weights.items() if c in valid}
        )
        if not options:
            # A later spec version retired every code we would choose: take any valid one.
            fallback = self.fallback.get(name) or tuple(sorted(valid or ())) or tuple(weights)
            return rng.choice(fallback)
        return rng.choices(list(options), weights=list(options.values()))[0]


def numpy_stream(key: str) -> np.random.Generator:
    """A numpy generator seeded from a key such as ``"<seed>:feeds:spells:<ODS>"``: a stream of its
    own, as ``random.Random(key)`` is for the death and activity files."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big"))


def weighted(rng: random.Random, weights: Weights) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; deaths per provider-month have small means, where Knuth's method is exact."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def split(total: int, weights: list[float]) -> list[int]:
    """Share a count between strata in proportion to weights, whole numbers adding up to total."""
    scale = sum(weights)
    raw = [total * w / scale for w in weights]
    parts = [int(x) for x in raw]
    # Largest remainders first; sorted() is stable, so ties go to the earlier stratum.
    order = sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def years_between(start: dt.date, end: dt.date) -> int:
    """Completed years, as the spec's years_between (a birthday counts on the day itself)."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def n_days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def fill_unknown(
    rng: random.Random, table: Table, row: Row, month: dt.date, codes: Codebook
) -> None:
    """Fill the submitted fields this generator does not know (a later spec version's additions).

    Unknown fields are always filled, never left empty: a later version's rules more often ask for
    a new field to be present than absent. Known fields left empty that the spec now makes
    mandatory or required are filled the same way.
    """
    for f in table.submitted_fields:
        known = f.name in row
        if known and (row[f.name] is not None or f.mandation is Mandation.OPTIONAL):
            continue
        row[f.name] = _any_value(rng, f, month, codes)


def _any_value(rng: random.Random, f: SpecField, month: dt.date, codes: Codebook) -> str | None:
    """A plausible value of a field from its definition alone."""
    if f.code_list is not None:
        return codes.pick(rng, f.name, {})
    match f.type:
        case FieldType.DATE:
            return (month + n_days(rng.randrange(28))).isoformat()
        case FieldType.TIME:
            return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
        case FieldType.INTEGER | FieldType.DECIMAL:
            low = f.minimum if f.minimum is not None else 0
            high = f.maximum if f.maximum is not None else low + 100
            return str(rng.randint(low, min(high, low + 100)))
    example = f.example
    fits = example is not None and (f.pattern is None or re.fullmatch(f.pattern, example))
    if example is not None and fits and (f.max_length is None or len(example) <= f.max_length):
        return example
    return None

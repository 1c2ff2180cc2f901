"""Reporting periods, written CCYY-MM: the month a submission covers and the arithmetic on months.

Submissions, the warehouse's history and the benchmarks' pooling windows all count in whole
months; one definition of a period keeps them agreeing.
"""

from __future__ import annotations

import datetime as dt
import re

from mhdeaths.errors import SpecError

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def is_period(text: str) -> bool:
    """Whether a text is a reporting period written CCYY-MM."""
    return bool(_PERIOD.match(text))


def period_start(period: str) -> dt.date:
    """The first day of a reporting period written CCYY-MM."""
    if not _PERIOD.match(period):
        raise SpecError(f"{period!r} is not a reporting period written CCYY-MM.")
    year, month = period.split("-")
    return dt.date(int(year), int(month), 1)


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month ``n`` months after ``month``'s (before it, for negative ``n``)."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)

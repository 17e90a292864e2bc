"""Billing periods as half-open date ranges `[start, end)` named by month (YYYY-MM)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from gridcare.core.errors import ValidationFailed

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def code(self) -> str:
        return f"{self.start:%Y-%m}"

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def previous(self) -> Period:
        return month_period((self.start - timedelta(days=1)).strftime("%Y-%m"))

    def same_month_last_year(self) -> Period:
        return month_period(f"{self.start.year - 1}-{self.start.month:02d}")


def month_period(code: str, *, field: str = "period") -> Period:
    """Parse 'YYYY-MM' into the calendar month `[1st, 1st of next month)`."""
    match = _PERIOD_RE.match(code or "")
    if not match:
        raise ValidationFailed(f"{code!r} is not a period; expected YYYY-MM", field=field)
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValidationFailed(f"{code!r}: month must be 01-12", field=field)
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return Period(start, end)

"""The vectorised rating kernel (implementation in progress; the signature is stable)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from gridcare.rating.frames import RatingResult
from gridcare.rating.model import ScheduleSet


def rate(
    accounts: pl.DataFrame,
    usage: pl.DataFrame | None,
    schedules: ScheduleSet,
    period_start: date,
    period_end: date,
    *,
    intervals: pl.DataFrame | None = None,
    segments: pl.DataFrame | None = None,
    hot_days: Iterable[date] = (),
    interval_points: int = 24,
) -> RatingResult:
    """Rate every account for the billing period ``[period_start, period_end)``."""
    raise NotImplementedError

"""Pure tariff kernel: Polars in, Polars out. No Django, no database, no clock.

Public API (stable; see docs/rating.md for the frame schemas)::

    from gridcare.rating import rate, settle_daily, load_schedules, load_library, ScheduleSet

    result = rate(accounts, usage, schedules, period_start, period_end,
                  intervals=None, segments=None, hot_days=(), interval_points=24)
    result.lines     # one row per bill line (LINES_SCHEMA)
    result.totals    # one row per rated account (TOTALS_SCHEMA); amount_fen == sum of its lines
    result.rejected  # accounts not rated, with field and reason (REJECTED_SCHEMA)
"""

from gridcare.rating.daily import DAILY_SCHEMA, RECONCILIATION_SCHEMA, DailySettlement, settle_daily
from gridcare.rating.errors import TariffFileInvalid, UnableToRate, UsageFileInvalid
from gridcare.rating.frames import (
    ACCOUNTS_SCHEMA,
    INTERVALS_SCHEMA,
    LINES_SCHEMA,
    REJECTED_SCHEMA,
    SEGMENTS_SCHEMA,
    TOTALS_SCHEMA,
    USAGE_SCHEMA,
    RatingResult,
    kwh_to_wh,
)
from gridcare.rating.kernel import rate
from gridcare.rating.loader import load_library, load_schedule_file, load_schedules, parse_yaml
from gridcare.rating.model import Schedule, ScheduleSet

__all__ = [
    "ACCOUNTS_SCHEMA",
    "DAILY_SCHEMA",
    "RECONCILIATION_SCHEMA",
    "DailySettlement",
    "INTERVALS_SCHEMA",
    "LINES_SCHEMA",
    "REJECTED_SCHEMA",
    "SEGMENTS_SCHEMA",
    "TOTALS_SCHEMA",
    "USAGE_SCHEMA",
    "RatingResult",
    "Schedule",
    "ScheduleSet",
    "TariffFileInvalid",
    "UnableToRate",
    "UsageFileInvalid",
    "kwh_to_wh",
    "load_library",
    "load_schedule_file",
    "load_schedules",
    "parse_yaml",
    "rate",
    "settle_daily",
]

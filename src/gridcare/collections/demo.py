"""Demo data: the nightly collections job run for each of the last days, so the console shows
dunning history, call tasks, late fees and suspension proposals (idempotent: every step is)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from gridcare.collections.services import collections_run
from gridcare.core.calendars import BUSINESS_TZ

DAYS = 1


def load_demo(*, seed: int, as_of: datetime) -> str:
    today = as_of.astimezone(BUSINESS_TZ).date()
    messages = calls = fees = proposals = 0
    for offset in range(DAYS, -1, -1):
        day = today - timedelta(days=offset)
        result = collections_run(as_of=datetime.combine(day, time(9, 0), tzinfo=BUSINESS_TZ))
        messages += result.dunning.queued
        calls += result.dunning.calls
        fees += result.late_fees.posted
        proposals += result.proposals.proposed
    return (f"{DAYS + 1} nightly runs: {messages} dunning messages, {calls} call tasks, {fees} late fees posted, "
            f"{proposals} suspensions proposed")

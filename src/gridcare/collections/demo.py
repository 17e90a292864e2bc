"""Demo data: dunning on each day of the last month on which one of its stages fell due (and on the
stage days of the oldest open bills), late fees as the nightly job posts them, and suspension
proposals, so the console shows reminders, call tasks, late fees and cases (idempotent: every step
is).

Running the job for every day of the month would cost a full pass over the open items per day; the
stages only fire on due date + offset (plus the catch-up window), so those days are enough.

Late fees: every account in arrears is assessed as the counter would before a payment (fee through
today on each overdue bill), set-based (`late_fees_assess_accounts`): on the 10,000-customer demo
about 15,000 bills in a few tens of seconds, where one account at a time limited the demo to the 100
largest arrears. The nightly job's payment-time assessment is left out on purpose: the payments demo
dates every payment in the last week, also for bills a year old, so it would charge almost every
bill of the year as paid months late.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from gridcare.collections.policy import collections_policy
from gridcare.collections.selectors import arrears_by_account, open_items
from gridcare.collections.services.dunning import dunning_run
from gridcare.collections.services.latefees import late_fees_assess_accounts
from gridcare.collections.services.suspension import suspension_reminders_send, suspensions_propose
from gridcare.core.calendars import BUSINESS_TZ

LOOK_BACK_DAYS = 30


def _stage_days(today: date) -> list[date]:
    """The days within the look-back on which some open bill reached a dunning stage, and the stage
    days of the oldest open bills (the long-standing arrears, whose calls and final notices lead to
    suspension proposals)."""
    offsets = [stage.offset_days for stage in collections_policy().dunning.stages]
    horizon = today + timedelta(days=max(0, -min(offsets)))
    dues = {item.due_date for item in open_items(kinds=("bill",), due_on_or_before=horizon)}
    if not dues:
        return []
    first = today - timedelta(days=LOOK_BACK_DAYS)
    recent = {due + timedelta(days=offset) for due in dues for offset in offsets} & {
        first + timedelta(days=n) for n in range(LOOK_BACK_DAYS + 1)}
    oldest = {min(dues) + timedelta(days=offset) for offset in offsets}
    return sorted(day for day in recent | oldest if day <= today)


def load_demo(*, seed: int, as_of: datetime) -> str:
    today = as_of.astimezone(BUSINESS_TZ).date()
    messages = calls = 0
    days = _stage_days(today)
    for day in days:
        result = dunning_run(as_of=datetime.combine(day, time(9, 0), tzinfo=BUSINESS_TZ))
        messages += result.queued
        calls += result.calls
    morning = datetime.combine(today, time(9, 0), tzinfo=BUSINESS_TZ)
    arrears = sorted(arrears_by_account(as_of_date=today))
    fees = late_fees_assess_accounts(account_ids=arrears, as_of=morning)
    proposals = suspensions_propose(as_of=morning).proposed
    suspension_reminders_send(as_of=morning)
    return (f"dunning on {len(days)} stage days: {messages} messages, {calls} call tasks; {fees.posted} late fees "
            f"({fees.posted_fen / 100:.2f} 元) on the {len(arrears)} accounts in arrears; "
            f"{proposals} suspensions proposed")

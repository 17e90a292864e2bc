"""Demo data: two days of dunning, late fees on the largest arrears and suspension proposals, so the
console shows reminders, call tasks, late fees and cases (idempotent: every step is).

The full nightly job (`gridcare collections run`) also assesses payment-time late fees on every bill
paid late in the look-back window; on the 10,000-customer demo that is thousands of ledger entries,
so the demo assesses a sample of accounts instead and leaves the rest to the nightly job.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from gridcare.collections.selectors import arrears_by_account
from gridcare.collections.services.dunning import dunning_run
from gridcare.collections.services.latefees import late_fees_assess_account
from gridcare.collections.services.suspension import suspension_reminders_send, suspensions_propose
from gridcare.core.calendars import BUSINESS_TZ

DAYS = 1
LATE_FEE_SAMPLE = 100


def load_demo(*, seed: int, as_of: datetime) -> str:
    today = as_of.astimezone(BUSINESS_TZ).date()
    messages = calls = 0
    for offset in range(DAYS, -1, -1):
        result = dunning_run(as_of=datetime.combine(today - timedelta(days=offset), time(9, 0), tzinfo=BUSINESS_TZ))
        messages += result.queued
        calls += result.calls
    morning = datetime.combine(today, time(9, 0), tzinfo=BUSINESS_TZ)
    arrears = arrears_by_account(as_of_date=today)
    sample = sorted(arrears, key=lambda account_id: (-arrears[account_id], account_id))[:LATE_FEE_SAMPLE]
    fees = sum(late_fees_assess_account(actor=None, account_id=account_id, as_of=morning).posted
               for account_id in sample)
    proposals = suspensions_propose(as_of=morning).proposed
    suspension_reminders_send(as_of=morning)
    return (f"{DAYS + 1} days of dunning: {messages} messages, {calls} call tasks; {fees} late fees on the "
            f"{len(sample)} largest arrears; {proposals} suspensions proposed")

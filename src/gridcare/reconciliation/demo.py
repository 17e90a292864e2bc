"""Demo data: a generated statement per configured source for each of the last business days that
have payments, imported and matched, and those days closed (idempotent: a statement already
imported is recognised by its bytes, a closed day is recomputed)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from gridcare.core.calendars import BUSINESS_TZ
from gridcare.payments.models import Payment
from gridcare.reconciliation.generate import statement_generate
from gridcare.reconciliation.policy import reconciliation_policy
from gridcare.reconciliation.selectors import auto_reconciliation_rate
from gridcare.reconciliation.services import reconciliation_day_close, statement_import

DAYS = 7


def load_demo(*, seed: int, as_of: datetime) -> str:
    today = as_of.astimezone(BUSINESS_TZ).date()
    policy = reconciliation_policy()
    imported = lines = 0
    days: set[date] = set()
    for offset in range(DAYS, 0, -1):
        day = today - timedelta(days=offset)
        for code, source in sorted(policy.sources.items()):
            if not Payment.objects.filter(source__in=source.covers, business_date=day).exists():
                continue
            generated = statement_generate(source=code, business_date=day, seed=seed)
            result = statement_import(source=code, content=generated.content, file_name=generated.file_name,
                                      actor=None, as_of=as_of)
            imported += int(result.created)
            lines += result.lines if result.created else 0
            days.add(day)
    for day in sorted(days):
        reconciliation_day_close(business_date=day, actor=None, as_of=as_of)
    if not days:
        return "no payments through a statement source in the last week; nothing to reconcile"
    rate = auto_reconciliation_rate(start=min(days), end=max(days) + timedelta(days=1))
    share = f"{rate.rate:.2%}" if rate.rate is not None else "-"
    return f"{imported} statements ({lines} lines) over {len(days)} days; 自动对账率 {share}"

"""Demo KPI snapshots so the dashboard has a trend on first start: the last complete month for every
org unit, the other 11 of the last 12 months for the provinces (the history a nightly job would
have built up; computing every unit for every month costs minutes on SQLite).
All as of `as_of`: a month's bills are issued after it ends, so its figures are taken as known now.
Idempotent: re-running replaces the same snapshots. Months with no bills, charges or work orders
are skipped."""

from __future__ import annotations

from datetime import datetime, time

from gridcare.billing.models import Bill
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.periods import month_period
from gridcare.customers.models import OrgUnit
from gridcare.kpi.models import KpiAlert
from gridcare.kpi.selectors import trend_periods
from gridcare.kpi.services import kpi_compute
from gridcare.payments.models import Charge
from gridcare.service.models import WorkOrder


def _has_data(code: str) -> bool:
    p = month_period(code)
    start = datetime.combine(p.start, time(), tzinfo=BUSINESS_TZ)
    end = datetime.combine(p.end, time(), tzinfo=BUSINESS_TZ)
    return (Bill.objects.filter(period_code=code).exists()
            or Charge.objects.filter(due_date__gte=p.start, due_date__lt=p.end).exists()
            or WorkOrder.objects.filter(created_at__gte=start, created_at__lt=end).exists())


def load_demo(*, seed: int, as_of: datetime) -> str:
    del seed  # deterministic from the data already loaded
    current = f"{as_of.astimezone(BUSINESS_TZ):%Y-%m}"
    full = month_period(current).previous().code
    done = snapshots = 0
    for code in trend_periods(current):
        if not _has_data(code):
            continue
        levels = None if code == full else [OrgUnit.Level.PROVINCE]
        result = kpi_compute(period_code=code, as_of=as_of, levels=levels)
        done += 1
        snapshots += result.snapshots
    open_alerts = KpiAlert.objects.filter(status=KpiAlert.Status.OPEN).count()
    return f"{snapshots} KPI snapshots over {done} periods, {open_alerts} alerts open"

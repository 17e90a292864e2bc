"""How each KPI in the catalogue is measured for one org-unit subtree and one month.

Ledger, reconciliation and service-desk figures come from the owning apps' selectors (one
definition for every caller); billing, work-order and assistant counts the apps expose only per
user are counted here over the same models, scoped by org-unit path instead of by a login.
Nothing reads the clock: `as_of` is the instant the figures are taken at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q

from gridcare.assistant.models import Conversation
from gridcare.billing.models import Bill, BillException
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.periods import Period
from gridcare.customers.models import Account, OrgUnit
from gridcare.payments.selectors import collection_inputs, debit_ratio
from gridcare.reconciliation.selectors import auto_reconciliation_rate
from gridcare.service.models import ReturnVisit, WorkOrder
from gridcare.service.selectors import breach_report

TWO = Decimal("0.01")


@dataclass(frozen=True)
class Scope:
    unit: OrgUnit
    unit_ids: list[int]
    period: Period
    as_of: datetime

    @property
    def as_of_date(self) -> date:
        return self.as_of.astimezone(BUSINESS_TZ).date()

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.period.start, time(), tzinfo=BUSINESS_TZ)

    @property
    def end_at(self) -> datetime:
        """End of the window: the period end, or `as_of` when the period is still running."""
        return min(datetime.combine(self.period.end, time(), tzinfo=BUSINESS_TZ), self.as_of)


@dataclass(frozen=True)
class Measure:
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> Measure:
    """numerator / denominator × 100 to 0.01 (ROUND_HALF_UP); None when there is nothing to measure."""
    n, d = Decimal(numerator), Decimal(denominator)
    value = (n * 100 / d).quantize(TWO, rounding=ROUND_HALF_UP) if d else None
    return Measure(value=value, numerator=n, denominator=d)


def collection(s: Scope) -> Measure:
    """Bills due in the month up to `as_of` (a bill not yet due is not yet receivable), through
    payments' `collection_inputs` — the ledger arithmetic behind collections' `collection_rate`."""
    end = min(s.period.end, s.as_of_date + timedelta(days=1))
    r = collection_inputs(start=s.period.start, end=end, as_of_date=s.as_of_date, org_unit_ids=s.unit_ids)
    return ratio(r.collected_fen, r.receivable_fen)


def debit(s: Scope) -> Measure:
    day = min(s.as_of_date, s.period.end - timedelta(days=1))
    r = debit_ratio(as_of_date=day, org_unit_ids=s.unit_ids)
    return ratio(r.mandated_accounts, r.total_accounts)


def reconciliation(s: Scope) -> Measure:
    r = auto_reconciliation_rate(start=s.period.start, end=min(s.period.end, s.as_of_date + timedelta(days=1)))
    return ratio(r.auto, r.total)


def _month_over(s: Scope) -> bool:
    """Bills of a month are issued after it ends; before that the billing KPIs have nothing to say."""
    return s.as_of_date >= s.period.end


NOT_YET = Measure(None, None, None)


def _first_bills(s: Scope):
    """Version-1 bills of the period in the subtree that were issued by `as_of` (应发行 / 已发行)."""
    return Bill.objects.filter(period_code=s.period.code, kind=Bill.Kind.INVOICE, version=1,
                               org_unit_id__in=s.unit_ids, status=Bill.Status.ISSUED, issued_at__lte=s.as_of)


def bill_issue(s: Scope) -> Measure:
    if not _month_over(s):
        return NOT_YET
    last_day = s.period.end - timedelta(days=1)
    accounts = Account.objects.filter(org_unit_id__in=s.unit_ids, opened_on__lte=last_day).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gt=last_day))
    issued = _first_bills(s).values("account_id").distinct().count()
    return ratio(issued, accounts.count())


def bill_error(s: Scope) -> Measure:
    if not _month_over(s):
        return NOT_YET
    bills = _first_bills(s)
    corrected = (Bill.objects.filter(corrects__in=bills.values("pk"), kind=Bill.Kind.CREDIT,
                                     created_at__lte=s.as_of).values("corrects_id").distinct().count())
    return ratio(corrected, bills.count())


def review(s: Scope) -> Measure:
    if not _month_over(s):
        return NOT_YET
    bills = Bill.objects.filter(period_code=s.period.code, kind=Bill.Kind.INVOICE, version=1,
                                org_unit_id__in=s.unit_ids, created_at__lte=s.as_of)
    flagged = (BillException.objects.filter(bill__in=bills.values("pk"), created_at__lte=s.as_of)
               .values("bill_id").distinct().count())
    return ratio(flagged, bills.count())


def estimated(s: Scope) -> Measure:
    if not _month_over(s):
        return NOT_YET
    bills = _first_bills(s)
    return ratio(bills.filter(estimated=True).count(), bills.count())


def sla_on_time(s: Scope) -> Measure:
    rows = breach_report(user=None, start=s.start_at, end=s.end_at, as_of=s.as_of, org_unit_code=s.unit.code)
    return ratio(sum(r.on_time for r in rows), sum(r.total for r in rows))


def _resolved(s: Scope):
    return WorkOrder.objects.filter(org_unit_id__in=s.unit_ids, resolved_at__gte=s.start_at,
                                    resolved_at__lt=s.end_at)


def handling_hours(s: Scope) -> Measure:
    rows = list(_resolved(s).values_list("created_at", "resolved_at"))
    if not rows:
        return Measure(None, Decimal(0), Decimal(0))
    seconds = sum(int((done - created).total_seconds()) for created, done in rows)
    hours = Decimal(seconds) / Decimal(3600)
    return Measure((hours / len(rows)).quantize(TWO, rounding=ROUND_HALF_UP), hours.quantize(Decimal("0.0001")),
                   Decimal(len(rows)))


def first_contact(s: Scope) -> Measure:
    resolved = _resolved(s)
    return ratio(resolved.filter(reopen_count=0, transfer_count=0).count(), resolved.count())


def satisfaction(s: Scope) -> Measure:
    done = ReturnVisit.objects.filter(work_order__org_unit_id__in=s.unit_ids, status=ReturnVisit.Status.COMPLETED,
                                      completed_at__gte=s.start_at, completed_at__lt=s.end_at)
    return ratio(done.filter(satisfied=True).count(), done.count())


def self_service(s: Scope) -> Measure:
    talks = Conversation.objects.filter(started_at__gte=s.start_at, started_at__lt=s.end_at).filter(
        Q(customer__org_unit_id__in=s.unit_ids) | Q(account__org_unit_id__in=s.unit_ids)
        | (Q(customer__isnull=True, account__isnull=True) if s.unit.parent_id is None else Q(pk__in=[])))
    return ratio(talks.exclude(status=Conversation.Status.HANDED_OVER).count(), talks.count())


MEASURES: dict[str, Callable[[Scope], Measure]] = {
    "collection_rate": collection,
    "debit_ratio": debit,
    "auto_reconciliation_rate": reconciliation,
    "bill_issue_rate": bill_issue,
    "bill_error_rate": bill_error,
    "review_rate": review,
    "estimated_read_share": estimated,
    "sla_on_time_rate": sla_on_time,
    "avg_handling_hours": handling_hours,
    "first_contact_resolution": first_contact,
    "satisfaction_rate": satisfaction,
    "self_service_rate": self_service,
}

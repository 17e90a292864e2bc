"""Per-account signals the tag, risk and recommendation rules read, measured set-based: one
grouped query per signal over all accounts in scope, never a query per account.

Every window ends at `as_of` (no clock reads). Work orders count for the account they were filed
against; orders with only a customer and no account are not attributed to an account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from gridcare.billing.models import Bill, BillDelivery
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.customers.models import Account, Contact
from gridcare.payments.models import AccountLedger, Charge, DebitMandate
from gridcare.payments.selectors import open_items_for
from gridcare.service.models import SlaClock, WorkOrder
from gridcare.tariffs.selectors import tou_tariff_codes

SIGNALS = (
    "billed_fen_12m", "billed_yuan_12m", "overdue_fen", "overdue_flag", "late_fees_12m", "contacts_90d",
    "complaints_365d", "open_complaints", "sla_breaches_90d", "prepaid", "e_bill", "tou_tariff", "has_mandate",
    "estimated_bills_6m", "bill_jump", "outage_orders_90d",
)
COMPLAINT = "complaint"
REPAIR = "repair"


def months_back(day: date, months: int) -> date:
    """First day of the month `months` before `day`'s month: a 12-month window is whole months plus this one."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _grouped(qs: QuerySet, field: str = "account_id", agg=None) -> dict[int, int]:
    rows = qs.values(field).annotate(n=agg if agg is not None else Count("id")).values_list(field, "n")
    return {k: int(v or 0) for k, v in rows if k is not None}


def measure_signals(*, accounts: QuerySet[Account], as_of: datetime, windows: dict[str, int],
                    e_bill_channels: Iterable[str], bill_jump_ratio: Decimal) -> dict[int, dict[str, int]]:
    today = as_of.astimezone(BUSINESS_TZ).date()
    ids = accounts.values("pk")
    rows = list(accounts.values_list("pk", "customer_id", "tariff_code"))
    out: dict[int, dict[str, int]] = {pk: dict.fromkeys(SIGNALS, 0) for pk, _, _ in rows}

    def put(signal: str, values: dict[int, int]) -> None:
        for pk, v in values.items():
            if pk in out:
                out[pk][signal] = v

    def since_days(key: str, default: int) -> datetime:
        return as_of - timedelta(days=windows.get(key, default))

    billing_from = months_back(today, windows.get("billing_months", 12) - 1)
    charges = Charge.objects.filter(account_id__in=ids)
    put("billed_fen_12m", _grouped(charges.filter(kind=Charge.Kind.BILL, due_date__gte=billing_from,
                                                  due_date__lte=today), agg=Sum("amount_fen")))
    put("late_fees_12m", _grouped(charges.filter(kind=Charge.Kind.LATE_FEE, created_at__gte=datetime.combine(
        billing_from, datetime.min.time(), tzinfo=BUSINESS_TZ), created_at__lte=as_of)))
    overdue = {pk: sum(i.outstanding_fen for i in items if i.due_date < today)
               for pk, items in open_items_for(out.keys()).items()}
    put("overdue_fen", overdue)
    put("overdue_flag", {pk: 1 for pk, v in overdue.items() if v > 0})

    orders = WorkOrder.objects.filter(account_id__in=ids, created_at__lte=as_of).exclude(
        status=WorkOrder.Status.CANCELLED)
    put("contacts_90d", _grouped(orders.filter(created_at__gte=since_days("contacts_days", 90))))
    complaints = orders.filter(type=COMPLAINT)
    put("complaints_365d", _grouped(complaints.filter(created_at__gte=since_days("complaints_days", 365))))
    put("open_complaints", _grouped(complaints.filter(status__in=WorkOrder.OPEN_STATUSES)))
    put("outage_orders_90d", _grouped(orders.filter(created_at__gte=since_days("outage_days", 90)).filter(
        type=REPAIR)))
    breaches = SlaClock.objects.filter(work_order__account_id__in=ids, breached_at__gte=since_days("breaches_days", 90),
                                       breached_at__lte=as_of)
    put("sla_breaches_90d", _grouped(breaches, "work_order__account_id", Count("work_order_id", distinct=True)))

    put("prepaid", {pk: 1 for pk in AccountLedger.objects.filter(account_id__in=ids, prepaid=True)
                    .values_list("account_id", flat=True)})
    put("has_mandate", {pk: 1 for pk in DebitMandate.objects.filter(
        account_id__in=ids, status=DebitMandate.Status.ACTIVE, signed_on__lte=today).values_list("account_id", flat=True)})
    channels = list(e_bill_channels)
    by_customer: dict[int, list[int]] = defaultdict(list)
    for pk, customer_id, _ in rows:
        by_customer[customer_id].append(pk)
    e_bill = {pk: 1 for cid in Contact.objects.filter(customer_id__in=accounts.values("customer_id"),
                                                      preferred_channel__in=channels)
              .values_list("customer_id", flat=True) for pk in by_customer.get(cid, [])}
    e_bill.update({pk: 1 for pk in BillDelivery.objects.filter(
        bill__account_id__in=ids, channel__in=channels, created_at__gte=as_of - timedelta(days=366),
        created_at__lte=as_of).values_list("bill__account_id", flat=True)})
    put("e_bill", e_bill)
    tou = tou_tariff_codes()
    put("tou_tariff", {pk: 1 for pk, _, code in rows if code in tou})

    issued = Bill.objects.filter(account_id__in=ids, kind=Bill.Kind.INVOICE, status=Bill.Status.ISSUED,
                                 issued_at__lte=as_of)
    estimated_from = datetime.combine(months_back(today, windows.get("estimated_months", 6) - 1),
                                      datetime.min.time(), tzinfo=BUSINESS_TZ)
    put("estimated_bills_6m", _grouped(issued.filter(estimated=True, issued_at__gte=estimated_from)))
    put("bill_jump", _bill_jumps(issued.filter(period_code__gte=f"{months_back(today, 5):%Y-%m}"), bill_jump_ratio))
    for values in out.values():
        values["billed_yuan_12m"] = values["billed_fen_12m"] // 100
    return out


def _bill_jumps(bills: QuerySet[Bill], ratio: Decimal) -> dict[int, int]:
    """1 where the latest period's bill is at least `ratio` × the average of the (up to) 3 before it."""
    latest: dict[tuple[int, str], int] = {}
    for account_id, period, total in bills.order_by("account_id", "period_code", "version").values_list(
            "account_id", "period_code", "total_fen"):
        latest[(account_id, period)] = total  # the highest version of each period wins
    per_account: dict[int, list[int]] = defaultdict(list)
    for (account_id, _), total in sorted(latest.items()):
        per_account[account_id].append(total)
    out = {}
    for account_id, totals in per_account.items():
        if len(totals) < 2:
            continue
        before = totals[-4:-1]
        average = Decimal(sum(before)) / len(before)
        if average > 0 and Decimal(totals[-1]) >= average * ratio:
            out[account_id] = 1
    return out

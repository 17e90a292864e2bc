"""The counter (营业厅坐收): a cashier's till, payments taken in cash, card or transfer, and the
till close (日结) that freezes the daily report with counted cash against expected cash.

A cashier has at most one open till (database constraint). A payment at the counter carries a
form token as its idempotency key, so a double click or a re-submitted form posts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum

from gridcare.access.models import User
from gridcare.access.roles import can
from gridcare.core.errors import Conflict, NotFound, ValidationFailed
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.payments.models import Channel, Payment, TillSession
from gridcare.payments.policy import payments_policy
from gridcare.payments.services._core import local_date, positive_fen, require
from gridcare.payments.services.payments import PaymentPosted, payment_post

CAPABILITY = "payments.collect"


class UnableToUseTill(Conflict):
    code = "till_state"


def _staff_unit(actor: User):
    if actor.org_unit_id is None:
        raise ValidationFailed("a cashier needs an org unit to open a till", field="org_unit")
    return actor.org_unit


@transaction.atomic
def till_open(*, actor: User, as_of: datetime) -> TillSession:
    """Open today's till (a second one the same day after closing the first gets seq 2)."""
    require(actor, CAPABILITY)
    unit = _staff_unit(actor)
    if TillSession.objects.filter(cashier=actor, closed_at__isnull=True).exists():
        raise UnableToUseTill("you already have an open till; close it first", field="till")
    day = local_date(as_of)
    seq = (TillSession.objects.filter(cashier=actor, business_date=day).aggregate(m=Max("seq"))["m"] or 0) + 1
    try:
        with transaction.atomic():
            return TillSession.objects.create(cashier=actor, org_unit=unit, business_date=day, seq=seq,
                                              opened_at=as_of)
    except IntegrityError:
        raise UnableToUseTill("a till was opened concurrently", field="till") from None


@dataclass(frozen=True)
class CounterPayment:
    posted: PaymentPosted
    change_fen: int


def counter_payment_take(*, actor: User, account_id: int, amount_fen: int, method: str, as_of: datetime,
                         form_token: str, tendered_fen: int | None = None, payer_name: str = "",
                         first_charge_id: int | None = None, external_ref: str = "") -> CounterPayment:
    """Take a payment at the counter into the cashier's open till. Raises ValidationFailed (amount_fen,
    method, tendered_fen, form_token), NotFound (account), UnableToUseTill."""
    require(actor, CAPABILITY)
    positive_fen(amount_fen)
    policy = payments_policy()
    if method not in policy.counter_methods:
        raise ValidationFailed(f"the counter accepts {', '.join(policy.counter_methods)}", field="method")
    if not form_token or len(form_token) > 64:
        raise ValidationFailed("the form token is missing; reload the page", field="form_token")
    if not Account.objects.filter(account_scope_q(user=actor), pk=account_id).exists():
        raise NotFound(f"account {account_id} not found", field="account_id")
    till = TillSession.objects.filter(cashier=actor, closed_at__isnull=True).select_related("org_unit").first()
    if till is None:
        raise UnableToUseTill("open your till before taking payments", field="till")
    if method == Payment.Method.CASH:
        if tendered_fen is None:
            tendered_fen = amount_fen
        if tendered_fen < amount_fen:
            raise ValidationFailed("the cash tendered is less than the amount", field="tendered_fen")
    else:
        tendered_fen = None
        if method == Payment.Method.TRANSFER and not external_ref.strip():
            raise ValidationFailed("a transfer needs the bank's transaction reference", field="external_ref")
    posted = payment_post(account_id=account_id, amount_fen=amount_fen, channel=Channel.COUNTER, method=method,
                          source=till.org_unit.code[:32], received_at=as_of, as_of=as_of,
                          external_ref=external_ref.strip()[:64], idempotency_key=f"counter:{actor.pk}:{form_token}",
                          business_date=till.business_date, first_charge_id=first_charge_id, till_id=till.pk,
                          tendered_fen=tendered_fen, payer_name=payer_name.strip(), actor=actor,
                          description=f"营业厅缴费 {Payment.Method(method).label}")
    change = (posted.payment.tendered_fen or posted.payment.amount_fen) - posted.payment.amount_fen
    return CounterPayment(posted=posted, change_fen=change)


def till_report(*, till: TillSession) -> dict:
    """What the till took, by method, with reversals shown apart; expected cash is the cash taken."""
    payments = Payment.objects.filter(till=till)
    by_method = {m: {"count": c, "amount_fen": int(s or 0)}
                 for m, c, s in payments.values("method").annotate(c=Count("id"), s=Sum("amount_fen"))
                 .values_list("method", "c", "s")}
    reversed_ = payments.filter(status=Payment.Status.REVERSED).aggregate(c=Count("id"), s=Sum("amount_fen"))
    cash = by_method.get(Payment.Method.CASH, {}).get("amount_fen", 0)
    return {
        "business_date": till.business_date.isoformat(), "seq": till.seq, "cashier": till.cashier.username,
        "org_unit": till.org_unit.code, "count": sum(v["count"] for v in by_method.values()),
        "total_fen": sum(v["amount_fen"] for v in by_method.values()), "by_method": by_method,
        "reversed": {"count": reversed_["c"] or 0, "amount_fen": int(reversed_["s"] or 0)},
        "expected_cash_fen": cash,
        "first_receipt": payments.order_by("id").values_list("receipt_number", flat=True).first() or "",
        "last_receipt": payments.order_by("-id").values_list("receipt_number", flat=True).first() or "",
    }


@transaction.atomic
def till_close(*, actor: User, counted_cash_fen: int, as_of: datetime) -> TillSession:
    """日结: freeze the report with the counted cash and the difference (长短款). No payment can be
    taken into a closed till."""
    require(actor, CAPABILITY)
    if isinstance(counted_cash_fen, bool) or not isinstance(counted_cash_fen, int) or counted_cash_fen < 0:
        raise ValidationFailed("counted cash must be ≥ 0 fen", field="counted_cash_fen")
    till = TillSession.objects.select_for_update().filter(cashier=actor, closed_at__isnull=True).first()
    if till is None:
        raise UnableToUseTill("you have no open till", field="till")
    report = till_report(till=till)
    report["counted_cash_fen"] = counted_cash_fen
    report["difference_fen"] = counted_cash_fen - report["expected_cash_fen"]
    report["closed_at"] = as_of.isoformat()
    till.report = report
    till.counted_cash_fen = counted_cash_fen
    till.closed_at = as_of
    till.save(update_fields=["report", "counted_cash_fen", "closed_at"])
    return till


def till_get(*, actor: User, till_id: int) -> TillSession:
    till = TillSession.objects.select_related("cashier", "org_unit").filter(pk=till_id).first()
    if till is None or (till.cashier_id != actor.pk and not can(actor.role, "payments.approve")):
        raise NotFound(f"till {till_id} not found", field="till_id")
    return till


def counter_day_summary(*, org_unit_code: str, business_date: date) -> dict:
    """All tills of one counter on one day (the supervisor's daily report)."""
    tills = TillSession.objects.filter(org_unit__code=org_unit_code, business_date=business_date)
    return {"tills": tills.count(), "open": tills.filter(closed_at__isnull=True).count(),
            "total_fen": int(Payment.objects.filter(till__in=tills).aggregate(s=Sum("amount_fen"))["s"] or 0)}

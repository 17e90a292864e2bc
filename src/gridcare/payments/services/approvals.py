"""Money actions that need a second person (四眼原则): refunds, payment reversals, late-fee waivers.

`approval_request` records what is asked and posts nothing; `approval_decide` by someone other
than the requester (checked here and by a database constraint) posts it. A request is checked
again at decision time against the ledger as it then is (the credit may have been used since).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from gridcare.access.models import User
from gridcare.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.payments.models import ApprovalRequest, Charge, JournalEntry, Ledger, Payment, Posting
from gridcare.payments.policy import payments_policy
from gridcare.payments.selectors import charge_outstanding, credits_of
from gridcare.payments.services._core import (
    NEW_CHARGE,
    EntryPlan,
    Line,
    UnableToPost,
    header_for_update,
    local_date,
    positive_fen,
    post_entry,
    require,
)

REQUEST_CAPABILITY = "payments.collect"
APPROVE_CAPABILITY = "payments.approve"


class UnableToDecide(Conflict):
    code = "invalid_state"


def _visible_account(actor: User | None, account_id: int) -> Account:
    qs = Account.objects.filter(pk=account_id)
    if actor is not None:
        qs = qs.filter(account_scope_q(user=actor))
    account = qs.first()
    if account is None:
        raise NotFound(f"account {account_id} not found", field="account_id")
    return account


def _check(kind: str, *, account_id: int, amount_fen: int, payment: Payment | None, charge: Charge | None) -> None:
    """The request still makes sense against the ledger now."""
    if kind == ApprovalRequest.Kind.REFUND:
        credit = credits_of([account_id])[account_id]
        if amount_fen > credit:
            raise UnableToPost(f"the refund exceeds the customer's credit ({credit} fen)", field="amount_fen")
        if amount_fen > payments_policy().refund_max_fen:
            raise ValidationFailed("the refund exceeds the per-request limit", field="amount_fen")
    elif kind == ApprovalRequest.Kind.PAYMENT_REVERSAL:
        if payment is None:
            raise ValidationFailed("a reversal names the payment", field="payment_id")
        if payment.status != Payment.Status.POSTED:
            raise UnableToPost(f"payment {payment.pk} is already {payment.status}", field="payment_id")
        if amount_fen != payment.amount_fen:
            raise ValidationFailed("a payment is reversed in full", field="amount_fen")
    elif kind == ApprovalRequest.Kind.LATE_FEE_WAIVER:
        if charge is None or charge.kind != Charge.Kind.LATE_FEE:
            raise ValidationFailed("a waiver names a late-fee item", field="charge_id")
        owed = charge_outstanding(charge_id=charge.pk)
        if amount_fen > owed:
            raise UnableToPost(f"the waiver exceeds what is owed on the late fee ({owed} fen)", field="amount_fen")
    else:
        raise ValidationFailed(f"{kind!r} is not an approval kind", field="kind")


@transaction.atomic
def approval_request(*, kind: str, account_id: int, amount_fen: int, reason: str, actor: User, as_of: datetime,
                     payment_id: int | None = None, charge_id: int | None = None) -> ApprovalRequest:
    """Ask for a refund of credit, the reversal of a payment or a late-fee waiver. Posts nothing."""
    require(actor, REQUEST_CAPABILITY)
    positive_fen(amount_fen)
    if not reason.strip():
        raise ValidationFailed("a reason is required", field="reason")
    _visible_account(actor, account_id)
    payment = Payment.objects.filter(pk=payment_id, account_id=account_id).first() if payment_id else None
    if payment_id and payment is None:
        raise NotFound(f"payment {payment_id} not found on this account", field="payment_id")
    charge = Charge.objects.filter(pk=charge_id, account_id=account_id).first() if charge_id else None
    if charge_id and charge is None:
        raise NotFound(f"charge {charge_id} not found on this account", field="charge_id")
    _check(kind, account_id=account_id, amount_fen=amount_fen, payment=payment, charge=charge)
    if kind == ApprovalRequest.Kind.PAYMENT_REVERSAL and ApprovalRequest.objects.filter(
            payment=payment, status=ApprovalRequest.Status.PENDING).exists():
        raise UnableToDecide("a reversal of this payment is already waiting for approval", field="payment_id")
    return ApprovalRequest.objects.create(kind=kind, account_id=account_id, payment=payment, charge=charge,
                                          amount_fen=amount_fen, reason=reason.strip()[:255], requested_by=actor,
                                          requested_at=as_of)


def _refund_plan(req: ApprovalRequest, business_date) -> EntryPlan:
    return EntryPlan(account_id=req.account_id, kind=JournalEntry.Kind.REFUND, business_date=business_date,
                     source=f"approval:{req.pk}", description=f"退款：{req.reason}",
                     lines=[Line(Ledger.CREDIT, req.amount_fen), Line(Ledger.REFUND, -req.amount_fen)])


def _waiver_plan(req: ApprovalRequest, business_date) -> EntryPlan:
    return EntryPlan(account_id=req.account_id, kind=JournalEntry.Kind.WAIVER, business_date=business_date,
                     source=f"approval:{req.pk}", description=f"违约金减免 {req.charge.reference}：{req.reason}",
                     lines=[Line(Ledger.LATE_FEE_WAIVED, req.amount_fen),
                            Line(Ledger.AR, -req.amount_fen, charge_id=req.charge_id)])


def reversal_plan(payment: Payment, *, source: str, business_date, description: str) -> EntryPlan:
    """The mirror of the payment's entry. Receivable lines reopen the items it paid; the part that
    became credit is taken back from the credit still there, and whatever of it was already used
    (applied to later bills, refunded) becomes a `payment_return` item the customer owes."""
    lines: list[Line] = []
    credit_taken = 0
    for ledger, channel, charge_id, amount in Posting.objects.filter(entry_id=payment.entry_id).values_list(
            "ledger", "channel", "charge_id", "amount_fen"):
        if ledger == Ledger.CREDIT:
            credit_taken += -amount
            continue
        lines.append(Line(ledger, -amount, charge_id=charge_id, channel=channel))
    new_charge = None
    if credit_taken:
        available = credits_of([payment.account_id])[payment.account_id]
        from_credit = min(credit_taken, available)
        if from_credit:
            lines.append(Line(Ledger.CREDIT, from_credit))
        if credit_taken - from_credit:
            lines.append(Line(Ledger.AR, credit_taken - from_credit, charge_id=NEW_CHARGE))
            new_charge = Charge(kind=Charge.Kind.PAYMENT_RETURN, reference=f"RET{payment.pk}"[:64],
                                amount_fen=credit_taken - from_credit, due_date=business_date)
    return EntryPlan(account_id=payment.account_id, kind=JournalEntry.Kind.REVERSAL, business_date=business_date,
                     source=source, description=description, reverses_id=payment.entry_id, lines=lines,
                     new_charge=new_charge)


@transaction.atomic
def approval_decide(*, request_id: int, approve: bool, actor: User, as_of: datetime, note: str = "") -> ApprovalRequest:
    """Approve (and post) or reject a pending request. The approver may not be the requester."""
    require(actor, APPROVE_CAPABILITY)
    req = ApprovalRequest.objects.select_for_update(of=("self",)).select_related("charge", "payment").filter(pk=request_id).first()
    if req is None or not Account.objects.filter(account_scope_q(user=actor), pk=req.account_id).exists():
        raise NotFound(f"approval request {request_id} not found", field="request_id")
    if req.status != ApprovalRequest.Status.PENDING:
        raise UnableToDecide(f"request {req.pk} is already {req.status}", field="request_id")
    if req.requested_by_id == actor.pk:
        raise PermissionDenied("two-person rule: the requester cannot decide their own request", field="actor")
    req.decided_by = actor
    req.decided_at = as_of
    req.decision_note = note.strip()[:255]
    if not approve:
        req.status = ApprovalRequest.Status.REJECTED
        req.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        return req
    header = header_for_update(req.account_id)
    payment = Payment.objects.select_for_update().filter(pk=req.payment_id).first() if req.payment_id else None
    _check(req.kind, account_id=req.account_id, amount_fen=req.amount_fen, payment=payment, charge=req.charge)
    day = local_date(as_of)
    if req.kind == ApprovalRequest.Kind.REFUND:
        plan = _refund_plan(req, day)
    elif req.kind == ApprovalRequest.Kind.LATE_FEE_WAIVER:
        plan = _waiver_plan(req, day)
    else:
        assert payment is not None
        plan = reversal_plan(payment, source=f"approval:{req.pk}", business_date=day,
                             description=f"冲正 {payment.receipt_number or payment.pk}：{req.reason}"[:255])
        payment.status = Payment.Status.REVERSED
        payment.save(update_fields=["status"])
    plan.created_by_id = actor.pk
    req.entry = post_entry(plan, header=header, as_of=as_of)
    req.status = ApprovalRequest.Status.APPROVED
    req.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "entry"])
    return req

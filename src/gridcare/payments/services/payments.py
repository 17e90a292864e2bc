"""Posting payments: allocation to open items, credit for the rest, exactly once.

Every channel (counter, gateway callback, debit result, agency file, top-up) ends in
`payments_post_many`. A payment is known by its idempotency key and by (source, external
reference); both are unique in the database. Under concurrency the same payment either finds the
first one after taking the account lock, or loses the insert race on the unique index and returns
the winner: it is posted once (tests/payments/test_concurrency.py, PostgreSQL).

Journal entry of a payment: clearing (money in transit, by channel) debit; receivable credit on
each open item paid, in policy order; customer credit for what is left over (overpayment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import Q

from gridcare.access.models import User
from gridcare.core.errors import Conflict, NotFound, ValidationFailed
from gridcare.customers.models import Account
from gridcare.payments.allocation import OpenItem, allocate
from gridcare.payments.models import Channel, JournalEntry, Ledger, Payment
from gridcare.payments.policy import payments_policy
from gridcare.payments.services._core import (
    EntryPlan,
    Line,
    headers_for_update,
    local_date,
    open_items_for,
    positive_fen,
    post_entries,
)
from gridcare.payments.services.prepay import low_balance_check


class DuplicatePaymentMismatch(Conflict):
    """The idempotency key or reference was used before for a different payment."""

    code = "idempotency_mismatch"


@dataclass(frozen=True)
class PaymentIn:
    account_id: int
    amount_fen: int
    channel: str
    method: str
    source: str
    received_at: datetime
    external_ref: str = ""
    idempotency_key: str | None = None
    business_date: date | None = None
    first_charge_id: int | None = None
    till_id: int | None = None
    tendered_fen: int | None = None
    payer_name: str = ""
    description: str = ""


@dataclass(frozen=True)
class PaymentPosted:
    payment: Payment
    created: bool


def validate_payment(p: PaymentIn) -> None:
    positive_fen(p.amount_fen)
    if p.channel not in Channel.values:
        raise ValidationFailed(f"{p.channel!r} is not a channel ({', '.join(Channel.values)})", field="channel")
    if p.method not in Payment.Method.values:
        raise ValidationFailed(f"{p.method!r} is not a payment method", field="method")
    if not p.source or len(p.source) > 32:
        raise ValidationFailed("source must be 1–32 characters", field="source")
    if len(p.external_ref) > 64:
        raise ValidationFailed("external reference longer than 64 characters", field="external_ref")
    if p.idempotency_key is not None and not (1 <= len(p.idempotency_key) <= 96):
        raise ValidationFailed("idempotency key must be 1–96 characters", field="idempotency_key")
    if p.received_at.tzinfo is None:
        raise ValidationFailed("received_at needs a time zone", field="received_at")
    if p.tendered_fen is not None and p.tendered_fen < p.amount_fen:
        raise ValidationFailed("the cash tendered is less than the amount", field="tendered_fen")


def _same(existing: Payment, p: PaymentIn) -> bool:
    return existing.account_id == p.account_id and existing.amount_fen == p.amount_fen


def _find_existing(items: Sequence[PaymentIn]) -> dict[int, Payment]:
    """Index in `items` → the payment already booked under its key or reference."""
    keys = [p.idempotency_key for p in items if p.idempotency_key]
    refs = [(p.source, p.external_ref) for p in items if p.external_ref]
    found: dict[int, Payment] = {}
    if not keys and not refs:
        return found
    by_key: dict[str, Payment] = {}
    by_ref: dict[tuple[str, str], Payment] = {}
    for start in range(0, max(len(keys), len(refs)), 500):
        q = Q(idempotency_key__in=keys[start:start + 500])
        chunk = refs[start:start + 500]
        if chunk:
            q |= Q(source__in={s for s, _ in chunk}, external_ref__in={r for _, r in chunk})
        for pay in Payment.objects.filter(q):
            if pay.idempotency_key:
                by_key[pay.idempotency_key] = pay
            if pay.external_ref:
                by_ref[(pay.source, pay.external_ref)] = pay
    for i, p in enumerate(items):
        hit = (by_key.get(p.idempotency_key) if p.idempotency_key else None) or \
              (by_ref.get((p.source, p.external_ref)) if p.external_ref else None)
        if hit is not None:
            found[i] = hit
    return found


def _plan(p: PaymentIn, items: list[OpenItem], *, actor: User | None) -> EntryPlan:
    policy = payments_policy()
    alloc = allocate(p.amount_fen, items, order=policy.allocation_order, late_fees=policy.late_fees,
                     first=p.first_charge_id)
    lines = [Line(Ledger.CLEARING, p.amount_fen, channel=p.channel)]
    lines += [Line(Ledger.AR, -fen, charge_id=cid) for cid, fen in alloc.parts]
    if alloc.remainder_fen:
        lines.append(Line(Ledger.CREDIT, -alloc.remainder_fen))
    # Keep the in-memory open items current for the next payment of the same account in this batch.
    paid = dict(alloc.parts)
    items[:] = [replace(i, outstanding_fen=i.outstanding_fen - paid.get(i.charge_id, 0)) for i in items]
    items[:] = [i for i in items if i.outstanding_fen > 0]
    return EntryPlan(account_id=p.account_id, kind=JournalEntry.Kind.PAYMENT,
                     business_date=p.business_date or local_date(p.received_at),
                     description=p.description or f"缴费 {Channel(p.channel).label}",
                     created_by_id=actor.pk if actor else None, lines=lines)


def _receipt_number(business_date: date, entry_id: int) -> str:
    """Unique because the entry id is; known before the insert, so no second write."""
    return f"{payments_policy().receipt_prefix}{business_date:%Y%m%d}{entry_id:010d}"


def _post_new(items: list[PaymentIn], *, as_of: datetime, actor: User | None) -> list[PaymentPosted]:
    headers = headers_for_update(p.account_id for p in items)
    existing = _find_existing(items)  # again, under the locks: a concurrent twin has committed by now
    open_items = open_items_for(p.account_id for p in items)
    out: list[PaymentPosted | None] = [None] * len(items)
    plans, fresh = [], []
    seen_keys: dict[str, int] = {}
    seen_refs: dict[tuple[str, str], int] = {}
    for i, p in enumerate(items):
        twin = existing.get(i)
        if twin is None:
            first = (seen_keys.get(p.idempotency_key) if p.idempotency_key else None)
            if first is None and p.external_ref:
                first = seen_refs.get((p.source, p.external_ref))
            if first is not None:  # repeated within the batch itself
                out[i] = ("dup", first)  # type: ignore[assignment]
                continue
        if twin is not None:
            if not _same(twin, p):
                raise DuplicatePaymentMismatch(
                    f"{'key ' + p.idempotency_key if p.idempotency_key else 'reference ' + p.external_ref} "
                    f"was used for payment {twin.pk} of a different account or amount", field="idempotency_key")
            out[i] = PaymentPosted(payment=twin, created=False)
            continue
        if p.idempotency_key:
            seen_keys[p.idempotency_key] = i
        if p.external_ref:
            seen_refs[(p.source, p.external_ref)] = i
        plans.append(_plan(p, open_items[p.account_id], actor=actor))
        fresh.append(i)
    post_entries(plans, headers=headers, as_of=as_of)
    payments = [
        Payment(account_id=items[i].account_id, channel=items[i].channel, method=items[i].method,
                source=items[i].source, external_ref=items[i].external_ref, idempotency_key=items[i].idempotency_key,
                amount_fen=items[i].amount_fen, received_at=items[i].received_at,
                business_date=plan.business_date, entry=plan.entry, till_id=items[i].till_id,
                tendered_fen=items[i].tendered_fen, payer_name=items[i].payer_name[:64],
                receipt_number=_receipt_number(plan.business_date, plan.entry.pk), created_by=actor, created_at=as_of)
        for i, plan in zip(fresh, plans, strict=True)
    ]
    Payment.objects.bulk_create(payments, batch_size=1000)
    for i, pay in zip(fresh, payments, strict=True):
        out[i] = PaymentPosted(payment=pay, created=True)
    for i, slot in enumerate(out):
        if isinstance(slot, tuple):
            first = out[slot[1]]
            assert isinstance(first, PaymentPosted)
            if not _same(first.payment, items[i]):
                raise DuplicatePaymentMismatch(f"line {i + 1} repeats the reference of line {slot[1] + 1} "
                                               "with a different account or amount", field="external_ref")
            out[i] = PaymentPosted(payment=first.payment, created=False)
    for account_id in {p.account_id for p in (items[i] for i in fresh)}:
        if headers[account_id].prepaid:
            low_balance_check(header=headers[account_id], as_of=as_of)
    return out  # type: ignore[return-value]


def payments_post_many(*, items: Sequence[PaymentIn], as_of: datetime, actor: User | None = None) -> list[PaymentPosted]:
    """Post many payments in one transaction (file imports); each item once. Raises
    ValidationFailed / NotFound (nothing posted) or DuplicatePaymentMismatch."""
    items = list(items)
    for p in items:
        validate_payment(p)
    known = set(Account.objects.filter(pk__in={p.account_id for p in items}).values_list("pk", flat=True))
    for p in items:
        if p.account_id not in known:
            raise NotFound(f"account {p.account_id} not found", field="account_id")
    if not items:
        return []
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _post_new(items, as_of=as_of, actor=actor)
        except IntegrityError:
            # A concurrent twin won the unique index between our check and our insert; its row is
            # committed now, so the next attempt finds it. Anything else fails the same way again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def payment_post(*, account_id: int, amount_fen: int, channel: str, method: str, source: str,
                 received_at: datetime, as_of: datetime, external_ref: str = "", idempotency_key: str | None = None,
                 business_date: date | None = None, first_charge_id: int | None = None, till_id: int | None = None,
                 tendered_fen: int | None = None, payer_name: str = "", description: str = "",
                 actor: User | None = None) -> PaymentPosted:
    """Post one payment (see module doc). Idempotent by key and by (source, external_ref)."""
    return payments_post_many(items=[PaymentIn(
        account_id=account_id, amount_fen=amount_fen, channel=channel, method=method, source=source,
        received_at=received_at, external_ref=external_ref, idempotency_key=idempotency_key,
        business_date=business_date, first_charge_id=first_charge_id, till_id=till_id, tendered_fen=tendered_fen,
        payer_name=payer_name, description=description)], as_of=as_of, actor=actor)[0]

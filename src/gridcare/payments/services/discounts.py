"""Discounts (电费红包, 积分抵扣) as explicit postings (T/CI 1281 §7.6).

A discount is the company paying part of the bill: `discount` debit, receivable credit on the
open items in policy order. It can pay only what is owed (never turn into refundable credit), and
a voucher or redemption reference is used once (unique per kind).
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from gridcare.access.models import User
from gridcare.core.errors import ValidationFailed
from gridcare.customers.models import Account
from gridcare.payments.allocation import allocate
from gridcare.payments.models import Discount, JournalEntry, Ledger
from gridcare.payments.policy import payments_policy
from gridcare.payments.selectors import open_items_for
from gridcare.payments.services._core import (
    EntryPlan,
    Line,
    UnableToPost,
    header_for_update,
    local_date,
    positive_fen,
    post_entry,
)


@transaction.atomic
def discount_post(*, account_id: int, kind: str, reference: str, amount_fen: int, as_of: datetime,
                  points: int | None = None, campaign: str = "", actor: User | None = None) -> Discount:
    """Redeem a red packet or points against the account's open items. Idempotent by (kind,
    reference): the same voucher again returns the first redemption. Raises ValidationFailed,
    UnableToPost (nothing owed / more than owed)."""
    positive_fen(amount_fen)
    if kind not in Discount.Kind.values:
        raise ValidationFailed(f"{kind!r} is not a discount kind", field="kind")
    reference = reference.strip()
    if not reference or len(reference) > 64:
        raise ValidationFailed("a voucher reference of 1–64 characters is required", field="reference")
    if kind == Discount.Kind.POINTS and (points is None or points <= 0):
        raise ValidationFailed("points redeemed must be > 0", field="points")
    existing = Discount.objects.filter(kind=kind, reference=reference).first()
    if existing is not None:
        if existing.account_id != account_id or existing.amount_fen != amount_fen:
            raise UnableToPost(f"voucher {reference} was already redeemed on another account or amount",
                               field="reference")
        return existing
    if not Account.objects.filter(pk=account_id).exists():
        raise ValidationFailed(f"account {account_id} not found", field="account_id")
    header = header_for_update(account_id)
    items = open_items_for([account_id])[account_id]
    owed = sum(i.outstanding_fen for i in items)
    if amount_fen > owed:
        raise UnableToPost(f"a discount pays only what is owed ({owed} fen)", field="amount_fen")
    policy = payments_policy()
    alloc = allocate(amount_fen, items, order=policy.allocation_order, late_fees=policy.late_fees)
    label = Discount.Kind(kind).label
    plan = EntryPlan(account_id=account_id, kind=JournalEntry.Kind.DISCOUNT, business_date=local_date(as_of),
                     source=f"discount:{kind}:{reference}", description=f"{label} {reference}"[:255],
                     created_by_id=actor.pk if actor else None,
                     lines=[Line(Ledger.DISCOUNT, amount_fen)] + [Line(Ledger.AR, -fen, charge_id=cid)
                                                                  for cid, fen in alloc.parts])
    try:
        with transaction.atomic():
            entry = post_entry(plan, header=header, as_of=as_of)
            return Discount.objects.create(account_id=account_id, kind=kind, reference=reference,
                                           campaign=campaign[:64], points=points, amount_fen=amount_fen, entry=entry,
                                           created_by=actor, created_at=as_of)
    except IntegrityError:
        raise UnableToPost(f"voucher {reference} is being redeemed concurrently", field="reference") from None

"""Open items on the receivable: bills (and their credit notes), late fees, credit application.

How billing reaches the ledger (billing may not import payments): `receivables_post_issued_bills`
reads issued bills that have no receivable yet and posts them, idempotently (the entry's unique
`source` is `bill:<bill id>`). Billing's issue step, the CLI `gridcare payments post-bills` and the
demo loader call it; `bill_charge_post` posts one amount for callers that are not billing bills
(tests, migrations of opening balances).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

from gridcare.access.models import User
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.payments.allocation import OpenItem, allocate
from gridcare.payments.models import AccountLedger, Charge, JournalEntry, Ledger
from gridcare.payments.policy import payments_policy
from gridcare.payments.services._core import (
    NEW_CHARGE,
    EntryPlan,
    Line,
    credits_of,
    header_for_update,
    headers_for_update,
    local_date,
    open_items_for,
    positive_fen,
    post_entries,
    post_entry,
)
from gridcare.payments.services.prepay import low_balance_check


@dataclass(frozen=True)
class ChargePosted:
    charge: Charge
    created: bool
    credit_applied_fen: int = 0


def _existing_charge(source: str) -> Charge | None:
    return Charge.objects.filter(entry__source=source).first()


def credit_apply_plans(*, headers: dict[int, AccountLedger], credits: dict[int, int],
                       items: dict[int, list[OpenItem]], business_date: date) -> list[EntryPlan]:
    """Plans that apply each account's credit to its open items in policy order (balance-neutral:
    credit debit, receivable credit)."""
    policy = payments_policy()
    plans = []
    for account_id, credit in credits.items():
        if credit <= 0 or not items.get(account_id):
            continue
        alloc = allocate(credit, items[account_id], order=policy.allocation_order, late_fees=policy.late_fees)
        if not alloc.parts:
            continue
        lines = [Line(Ledger.AR, -fen, charge_id=cid) for cid, fen in alloc.parts]
        lines.append(Line(Ledger.CREDIT, alloc.applied_fen))
        plans.append(EntryPlan(account_id=account_id, kind=JournalEntry.Kind.CREDIT_APPLY, lines=lines,
                               business_date=business_date, description="预存/溢缴余额抵扣"))
    return plans


def _after_charges(account_ids: list[int], headers: dict[int, AccountLedger], *, as_of: datetime) -> dict[int, int]:
    """Apply credit to the new open items (预付费 automatic deduction) and alert low prepaid balances."""
    applied: dict[int, int] = {}
    if payments_policy().apply_credit_on_charge:
        credits = {a: c for a, c in credits_of(account_ids).items() if c > 0}
        if credits:
            plans = credit_apply_plans(headers=headers, credits=credits, items=open_items_for(list(credits)),
                                       business_date=local_date(as_of))
            post_entries(plans, headers=headers, as_of=as_of)
            applied = {p.account_id: sum(ln.amount_fen for ln in p.lines if ln.ledger == Ledger.CREDIT)
                       for p in plans}
    for account_id in account_ids:
        header = headers[account_id]
        if header.prepaid:
            low_balance_check(header=header, as_of=as_of)
    return applied


@transaction.atomic
def bill_charge_post(*, account_id: int, amount_fen: int, reference: str, due_date: date, as_of: datetime,
                     source: str, bill_id: int | None = None, payment_reference: str = "", period_code: str = "",
                     business_date: date | None = None, description: str = "") -> ChargePosted:
    """Post one bill as an open item: receivable debit, revenue credit; then apply any credit.

    Idempotent by `source` (billing uses `bill:<id>`): a second call returns the first charge.
    Raises ValidationFailed (amount_fen, reference, source).
    """
    positive_fen(amount_fen)
    if not reference.strip():
        raise ValidationFailed("a bill reference is required", field="reference")
    if not source.strip():
        raise ValidationFailed("an idempotency source is required", field="source")
    existing = _existing_charge(source)
    if existing is not None:
        return ChargePosted(charge=existing, created=False)
    header = header_for_update(account_id)
    existing = _existing_charge(source)  # a concurrent call may have posted it while we waited
    if existing is not None:
        return ChargePosted(charge=existing, created=False)
    charge = Charge(kind=Charge.Kind.BILL, reference=reference[:64], payment_reference=payment_reference[:32],
                    period_code=period_code[:7], amount_fen=amount_fen, due_date=due_date, bill_id=bill_id)
    plan = EntryPlan(account_id=account_id, kind=JournalEntry.Kind.CHARGE, source=source,
                     business_date=business_date or local_date(as_of), description=description or f"电费 {reference}",
                     lines=[Line(Ledger.AR, amount_fen, charge_id=NEW_CHARGE), Line(Ledger.REVENUE, -amount_fen)],
                     new_charge=charge)
    post_entry(plan, header=header, as_of=as_of)
    applied = _after_charges([account_id], {account_id: header}, as_of=as_of)
    return ChargePosted(charge=charge, created=True, credit_applied_fen=applied.get(account_id, 0))


def _credit_note_plan(*, original: Charge, amount_fen: int, source: str, business_date: date,
                      description: str, outstanding: int) -> EntryPlan:
    """Revenue debit and a receivable credit of the full amount on the corrected bill. If the bill
    was already (partly) paid, the part it no longer owes moves to customer credit in the same
    entry (receivable debit, credit credit), so the item is never overpaid and the full credit
    note stays visible on the item it corrects."""
    excess = amount_fen - min(amount_fen, max(outstanding, 0))
    lines = [Line(Ledger.REVENUE, amount_fen), Line(Ledger.AR, -amount_fen, charge_id=original.pk)]
    if excess:
        lines += [Line(Ledger.AR, excess, charge_id=original.pk), Line(Ledger.CREDIT, -excess)]
    return EntryPlan(account_id=original.account_id, kind=JournalEntry.Kind.CREDIT_NOTE, source=source,
                     business_date=business_date, description=description, lines=lines)


@transaction.atomic
def bill_credit_note_post(*, charge_id: int, amount_fen: int, source: str, as_of: datetime,
                          description: str = "") -> JournalEntry:
    """Post a bill correction's credit note against the bill it reverses (idempotent by `source`)."""
    positive_fen(amount_fen)
    existing = JournalEntry.objects.filter(source=source).first()
    if existing is not None:
        return existing
    original = Charge.objects.filter(pk=charge_id).first()
    if original is None:
        raise NotFound(f"charge {charge_id} not found", field="charge_id")
    header = header_for_update(original.account_id)
    existing = JournalEntry.objects.filter(source=source).first()
    if existing is not None:
        return existing
    outstanding = {i.charge_id: i.outstanding_fen for i in open_items_for([original.account_id])[original.account_id]}
    plan = _credit_note_plan(original=original, amount_fen=amount_fen, source=source, business_date=local_date(as_of),
                             description=description or f"冲红 {original.reference}",
                             outstanding=outstanding.get(original.pk, 0))
    entry = post_entry(plan, header=header, as_of=as_of)
    _after_charges([original.account_id], {original.account_id: header}, as_of=as_of)
    return entry


@transaction.atomic
def late_fee_charge_post(*, charge_id: int, amount_fen: int, through: date, as_of: datetime,
                         description: str = "") -> ChargePosted:
    """A late fee (违约金) as its own open item on the bill's account: receivable debit on the new
    item, late-fee income credit. Idempotent by (bill, through): source `latefee:<charge>:<date>`.
    Credit the customer holds is applied to it like to any charge."""
    positive_fen(amount_fen)
    bill = Charge.objects.filter(pk=charge_id).first()
    if bill is None:
        raise NotFound(f"charge {charge_id} not found", field="charge_id")
    source = f"latefee:{bill.pk}:{through.isoformat()}"
    existing = _existing_charge(source)
    if existing is not None:
        return ChargePosted(charge=existing, created=False)
    header = header_for_update(bill.account_id)
    existing = _existing_charge(source)
    if existing is not None:
        return ChargePosted(charge=existing, created=False)
    charge = Charge(kind=Charge.Kind.LATE_FEE, reference=f"{bill.reference}-LF{through:%Y%m%d}"[:64],
                    payment_reference=bill.payment_reference, period_code=bill.period_code, amount_fen=amount_fen,
                    due_date=through, parent=bill)
    plan = EntryPlan(account_id=bill.account_id, kind=JournalEntry.Kind.LATE_FEE, source=source, business_date=through,
                     description=description or f"违约金 {bill.reference}（截至 {through}）",
                     lines=[Line(Ledger.AR, amount_fen, charge_id=NEW_CHARGE),
                            Line(Ledger.LATE_FEE_INCOME, -amount_fen)],
                     new_charge=charge)
    post_entry(plan, header=header, as_of=as_of)
    applied = _after_charges([bill.account_id], {bill.account_id: header}, as_of=as_of)
    return ChargePosted(charge=charge, created=True, credit_applied_fen=applied.get(bill.account_id, 0))


@transaction.atomic
def credit_apply(*, account_id: int, as_of: datetime, actor: User | None = None) -> int:
    """Apply the account's credit to its open items now (e.g. after a reversal reopened a bill).
    Returns the fen applied."""
    header = header_for_update(account_id)
    credits = credits_of([account_id])
    plans = credit_apply_plans(headers={account_id: header}, credits=credits, items=open_items_for([account_id]),
                               business_date=local_date(as_of))
    for plan in plans:
        plan.created_by_id = actor.pk if actor else None
    post_entries(plans, headers={account_id: header}, as_of=as_of)
    return sum(-ln.amount_fen for p in plans for ln in p.lines if ln.ledger == Ledger.AR)


# -- bills from billing ----------------------------------------------------------------------------
@dataclass
class BillSyncResult:
    charges: int = 0
    credit_notes: int = 0
    charged_fen: int = 0
    credited_fen: int = 0
    credit_applied_fen: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (bill id, reason)


def _unposted_bills(account_ids: list[int] | None, limit: int):
    from gridcare.billing.models import Bill

    posted = JournalEntry.objects.filter(source=Concat(Value("bill:"), Cast(OuterRef("pk"), output_field=_text())))
    qs = (Bill.objects.filter(status=Bill.Status.ISSUED).exclude(total_fen=0)
          .annotate(posted=Exists(posted)).filter(posted=False))
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    # Credit notes after the bill they reverse; a rebill after its credit note (same period, by version).
    return list(qs.select_related("corrects").order_by("issued_at", "id")[:limit])


def _text():
    from django.db.models import CharField

    return CharField()


def receivables_post_issued_bills(*, as_of: datetime, account_ids: list[int] | None = None,
                                  chunk_size: int = 2000) -> BillSyncResult:
    """Post a receivable for every issued bill that has none yet (billing → ledger). Idempotent and
    resumable: each chunk commits on its own, and a posted bill is never found again."""
    result = BillSyncResult()
    seen_failed: set[int] = set()
    while True:
        bills = [b for b in _unposted_bills(account_ids, chunk_size + len(seen_failed)) if b.pk not in seen_failed]
        if not bills:
            return result
        bills = bills[:chunk_size]
        with transaction.atomic():
            _post_bills_chunk(bills, as_of=as_of, result=result, failed=seen_failed)


def _post_bills_chunk(bills, *, as_of: datetime, result: BillSyncResult, failed: set[int]) -> None:
    from gridcare.billing.models import Bill

    headers = headers_for_update(b.account_id for b in bills)
    business_date = local_date(as_of)
    plans: list[EntryPlan] = []
    for bill in bills:
        source = f"bill:{bill.pk}"
        if bill.kind in (Bill.Kind.INVOICE, Bill.Kind.ADJUSTMENT) and bill.total_fen > 0:
            charge = Charge(kind=Charge.Kind.BILL, reference=bill.number[:64], payment_reference=bill.payment_reference,
                            period_code=bill.period_code, amount_fen=bill.total_fen,
                            due_date=bill.due_date or business_date, bill_id=bill.pk)
            plans.append(EntryPlan(account_id=bill.account_id, kind=JournalEntry.Kind.CHARGE, source=source,
                                   business_date=business_date, description=f"电费 {bill.period_code} {bill.number}",
                                   lines=[Line(Ledger.AR, bill.total_fen, charge_id=NEW_CHARGE),
                                          Line(Ledger.REVENUE, -bill.total_fen)], new_charge=charge))
            result.charges += 1
            result.charged_fen += bill.total_fen
        elif bill.kind in (Bill.Kind.CREDIT, Bill.Kind.ADJUSTMENT) and bill.total_fen < 0:  # 退还: a credit
            # Credit notes are rare: post what is pending so this one sees the current open items.
            post_entries(plans, headers=headers, as_of=as_of)
            plans = []
            original = Charge.objects.filter(kind=Charge.Kind.BILL, bill_id=bill.corrects_id).first()
            if original is None:
                result.skipped.append((bill.pk, "the corrected bill has no receivable yet"))
                failed.add(bill.pk)
                continue
            owed = {i.charge_id: i.outstanding_fen for i in open_items_for([bill.account_id])[bill.account_id]}
            plans.append(_credit_note_plan(original=original, amount_fen=-bill.total_fen, source=source,
                                           business_date=business_date,
                                           description=f"冲红 {bill.number}: {bill.reason}"[:255],
                                           outstanding=owed.get(original.pk, 0)))
            result.credit_notes += 1
            result.credited_fen += -bill.total_fen
        else:
            result.skipped.append((bill.pk, f"{bill.kind} with amount {bill.total_fen}"))
            failed.add(bill.pk)
    post_entries(plans, headers=headers, as_of=as_of)
    applied = _after_charges(list(headers), headers, as_of=as_of)
    result.credit_applied_fen += sum(applied.values())

"""The ledger writes collections needs, behind one seam: post a late fee (and, through payments'
approval flow, waive one).

Collections never edits postings; it appends balanced entries exactly as payments does. This is
the only module that writes payments records, so when payments publishes a service for the same
thing the body here becomes one call and nothing else in collections changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction

from gridcare.payments.models import AccountLedger, Charge, JournalEntry, Ledger, Posting


@dataclass(frozen=True)
class PostedFee:
    charge: Charge
    created: bool


def _ledger_for_update(account_id: int) -> AccountLedger:
    AccountLedger.objects.get_or_create(account_id=account_id)
    return AccountLedger.objects.select_for_update().get(account_id=account_id)


@transaction.atomic
def late_fee_post(*, bill_id: int, amount_fen: int, through: date, as_of: datetime, description: str) -> PostedFee:
    """A late-fee open item on the bill's account: AR debit (on the new item), late-fee income
    credit. Idempotent by (bill, through): the entry's unique `source` refuses a second one."""
    if amount_fen <= 0:
        raise ValueError("a late fee is a positive amount")
    bill = Charge.objects.get(pk=bill_id)
    source = f"latefee:{bill.pk}:{through.isoformat()}"
    existing = JournalEntry.objects.filter(source=source).first()
    if existing is not None:
        return PostedFee(charge=Charge.objects.get(entry=existing), created=False)
    header = _ledger_for_update(bill.account_id)
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(account_id=bill.account_id, kind=JournalEntry.Kind.LATE_FEE,
                                                source=source, description=description[:255], business_date=through,
                                                created_at=as_of)
    except IntegrityError:
        return PostedFee(charge=Charge.objects.get(entry__source=source), created=False)
    charge = Charge.objects.create(account_id=bill.account_id, kind=Charge.Kind.LATE_FEE,
                                   reference=f"{bill.reference}-LF{through:%Y%m%d}"[:64],
                                   payment_reference=bill.payment_reference, period_code=bill.period_code,
                                   amount_fen=amount_fen, due_date=through, parent=bill, entry=entry, created_at=as_of)
    Posting.objects.bulk_create([
        Posting(entry=entry, account_id=bill.account_id, ledger=Ledger.AR, charge=charge, amount_fen=amount_fen),
        Posting(entry=entry, account_id=bill.account_id, ledger=Ledger.LATE_FEE_INCOME, amount_fen=-amount_fen),
    ])
    header.balance_fen += amount_fen
    header.entries += 1
    header.updated_at = as_of
    header.save(update_fields=["balance_fen", "entries", "updated_at"])
    return PostedFee(charge=charge, created=True)

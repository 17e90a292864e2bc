"""Bills and payments on the receivables ledger for collections and reconciliation tests.

Balanced double entry written the way the payments app books them (charge: AR debit / revenue
credit; payment: clearing debit / AR credit per open item, oldest first, remainder to credit).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time

from gridcare.core.calendars import BUSINESS_TZ
from gridcare.customers.models import Account
from gridcare.payments.models import AccountLedger, Channel, Charge, JournalEntry, Ledger, Payment, Posting

_seq = itertools.count(1)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BUSINESS_TZ)


def _header(account: Account, delta: int, at: datetime) -> None:
    header, _ = AccountLedger.objects.get_or_create(account=account)
    header.balance_fen += delta
    header.entries += 1
    header.updated_at = at
    header.save()


def bill(account: Account, amount_fen: int, *, due: date, issued: date | None = None, period: str = "") -> Charge:
    n = next(_seq)
    issued = issued or due.replace(day=1)
    at = _at(issued)
    entry = JournalEntry.objects.create(account=account, kind=JournalEntry.Kind.CHARGE, source=f"bill:test:{n}",
                                        business_date=issued, created_at=at)
    charge = Charge.objects.create(account=account, kind=Charge.Kind.BILL, reference=f"B{n:08d}",
                                   payment_reference=f"PR{n:08d}", period_code=period or f"{issued:%Y-%m}",
                                   amount_fen=amount_fen, due_date=due, bill_id=n, entry=entry, created_at=at)
    Posting.objects.create(entry=entry, account=account, ledger=Ledger.AR, charge=charge, amount_fen=amount_fen)
    Posting.objects.create(entry=entry, account=account, ledger=Ledger.REVENUE, amount_fen=-amount_fen)
    _header(account, amount_fen, at)
    return charge


def pay(account: Account, amount_fen: int, *, on: date, source: str = "ICBC", channel: str = Channel.BANK_DEBIT,
        external_ref: str = "", hour: int = 10) -> Payment:
    n = next(_seq)
    at = _at(on, hour)
    entry = JournalEntry.objects.create(account=account, kind=JournalEntry.Kind.PAYMENT, source=f"pay:test:{n}",
                                        business_date=on, created_at=at)
    Posting.objects.create(entry=entry, account=account, ledger=Ledger.CLEARING, channel=channel,
                           amount_fen=amount_fen)
    left = amount_fen
    for charge in Charge.objects.filter(account=account).order_by("due_date", "id"):
        owed = sum(charge.postings.filter(ledger=Ledger.AR).values_list("amount_fen", flat=True))
        part = min(owed, left)
        if part > 0:
            Posting.objects.create(entry=entry, account=account, ledger=Ledger.AR, charge=charge, amount_fen=-part)
            left -= part
    if left:
        Posting.objects.create(entry=entry, account=account, ledger=Ledger.CREDIT, amount_fen=-left)
    _header(account, -amount_fen, at)
    return Payment.objects.create(account=account, channel=channel, method=Payment.Method.DEBIT, source=source,
                                  external_ref=external_ref or f"EXT{n:08d}", amount_fen=amount_fen, received_at=at,
                                  business_date=on, entry=entry, created_at=at)


def outstanding(charge: Charge) -> int:
    return sum(charge.postings.filter(ledger=Ledger.AR).values_list("amount_fen", flat=True))


def balance_matches_postings(account: Account) -> bool:
    header = AccountLedger.objects.get(account=account)
    total = sum(Posting.objects.filter(account=account, ledger__in=(Ledger.AR, Ledger.CREDIT))
                .values_list("amount_fen", flat=True))
    return header.balance_fen == total


def entries_balance() -> bool:
    from django.db.models import Sum

    return not JournalEntry.objects.annotate(s=Sum("postings__amount_fen")).exclude(s=0).exists()

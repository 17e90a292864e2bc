"""Bills and payments on the receivables ledger for collections and reconciliation tests, through
payments' public services (the same paths billing and the payment channels use)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time

from gridcare.core.calendars import BUSINESS_TZ
from gridcare.customers.models import Account
from gridcare.payments.models import AccountLedger, Channel, Charge, JournalEntry, Ledger, Payment, Posting
from gridcare.payments.services import bill_charge_post, payment_post

_seq = itertools.count(1)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BUSINESS_TZ)


def bill(account: Account, amount_fen: int, *, due: date, issued: date | None = None, period: str = "") -> Charge:
    n = next(_seq)
    issued = issued or due.replace(day=1)
    return bill_charge_post(account_id=account.pk, amount_fen=amount_fen, reference=f"B{n:08d}", due_date=due,
                            as_of=_at(issued), source=f"bill:test:{n}", bill_id=n, payment_reference=f"PR{n:08d}",
                            period_code=period or f"{issued:%Y-%m}", business_date=issued).charge


def pay(account: Account, amount_fen: int, *, on: date, source: str = "ICBC", channel: str = Channel.BANK_DEBIT,
        external_ref: str = "", hour: int = 10) -> Payment:
    n = next(_seq)
    at = _at(on, hour)
    method = Payment.Method.DEBIT if channel == Channel.BANK_DEBIT else Payment.Method.TRANSFER
    return payment_post(account_id=account.pk, amount_fen=amount_fen, channel=channel, method=method, source=source,
                        received_at=at, as_of=at, external_ref=external_ref or f"EXT{n:08d}", business_date=on).payment


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

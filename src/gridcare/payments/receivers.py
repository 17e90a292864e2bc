"""Receivables follow bill issue without billing knowing about payments.

The posting runs after the issuing transaction commits: an issue never waits on (or fails because
of) the ledger, and the ledger never sees a bill that was rolled back. Should the process die in
between, nothing is lost: `receivables_post_issued_bills` finds every issued bill without a
receivable, so the next call (`gridcare payments post-bills`, the counter, the portal or the next
issue) posts it.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from gridcare.billing.models import Bill
from gridcare.billing.signals import bills_issued
from gridcare.payments.services import receivables_post_issued_bills

# Above this many accounts, a scan of all unposted bills is cheaper than a long IN list.
ACCOUNT_LIST_LIMIT = 500


def post_receivables_for_issued_bills(sender, *, bill_ids: list[int], as_of: datetime, **kwargs) -> None:
    account_ids: set[int] = set()
    for lo in range(0, len(bill_ids), ACCOUNT_LIST_LIMIT):
        account_ids.update(Bill.objects.filter(pk__in=bill_ids[lo:lo + ACCOUNT_LIST_LIMIT])
                           .values_list("account_id", flat=True))
    scope = sorted(account_ids) if len(account_ids) <= ACCOUNT_LIST_LIMIT else None
    transaction.on_commit(lambda: receivables_post_issued_bills(as_of=as_of, account_ids=scope))


def connect() -> None:
    bills_issued.connect(post_receivables_for_issued_bills, dispatch_uid="payments.post_receivables")

"""Receivables follow bill issue without billing knowing about payments.

The posting runs after the issuing transaction commits: an issue never waits on (or fails because
of) the ledger, and the ledger never sees a bill that was rolled back. Should the process die in
between, nothing is lost: `receivables_post_issued_bills` finds every issued bill without a
receivable, so the next call (`gridcare payments post-bills`, the counter or the portal for the
account) posts it.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from gridcare.billing.signals import bills_issued
from gridcare.payments.services import receivables_post_issued_bills


def post_receivables_for_issued_bills(sender, *, bill_ids: list[int], as_of: datetime, **kwargs) -> None:
    """Post exactly the announced bills (set-based, a chunk per transaction) once the issue commits."""
    ids = sorted(set(bill_ids))
    transaction.on_commit(lambda: receivables_post_issued_bills(as_of=as_of, bill_ids=ids))


def connect() -> None:
    bills_issued.connect(post_receivables_for_issued_bills, dispatch_uid="payments.post_receivables")

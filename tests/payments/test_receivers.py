"""Issuing bills posts their receivables once the issuing transaction commits (billing → payments signal)."""

from __future__ import annotations

import pytest
from django.db import transaction

from gridcare.billing.models import Bill
from gridcare.billing.signals import bills_issued
from gridcare.payments.models import Charge
from gridcare.payments.selectors import account_balance
from tests.payments.conftest import at
from tests.payments.test_prepay_and_bills import _bill

pytestmark = pytest.mark.django_db


def test_receivable_posted_after_commit_of_issue(co, django_capture_on_commit_callbacks):
    bill = _bill(co.home, 11, 12_345)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        bills_issued.send(sender=Bill, bill_ids=[bill.pk], as_of=at(2026, 11, 1, 12))
        assert not Charge.objects.filter(bill_id=bill.pk).exists()  # nothing before the commit
    assert len(callbacks) == 1
    assert Charge.objects.get(bill_id=bill.pk).amount_fen == 12_345
    assert account_balance(account_id=co.home.pk).balance_fen == 12_345
    # A second announcement of the same bill posts nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        bills_issued.send(sender=Bill, bill_ids=[bill.pk], as_of=at(2026, 11, 2))
    assert Charge.objects.filter(bill_id=bill.pk).count() == 1


def test_rolled_back_issue_posts_nothing(co, django_capture_on_commit_callbacks):
    bill = _bill(co.home, 12, 5_000)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            bills_issued.send(sender=Bill, bill_ids=[bill.pk], as_of=at(2026, 11, 1, 12))
            raise RuntimeError("issue failed after the signal")
    assert callbacks == []
    assert not Charge.objects.filter(bill_id=bill.pk).exists()


def test_announced_batch_is_posted_set_based_once_with_prepaid_deduction(co, django_capture_on_commit_callbacks):
    from gridcare.payments.models import JournalEntry, Posting
    from gridcare.payments.selectors import charge_outstanding
    from gridcare.payments.services import payment_post, prepay_configure, receivables_post_issued_bills
    from tests.payments.conftest import assert_ledger_invariants

    prepay_configure(account_id=co.home.pk, prepaid=True, low_balance_fen=None, actor=None, as_of=at(2026, 11, 1))
    payment_post(account_id=co.home.pk, amount_fen=10_000, channel="prepay", method="qr", source="portal",
                 received_at=at(2026, 11, 1), as_of=at(2026, 11, 1), idempotency_key="top-up")
    bills = [_bill(co.home, 21, 7_000), _bill(co.shop, 22, 50_000), _bill(co.flat, 23, 3_000)]
    ids = [b.pk for b in bills]
    with django_capture_on_commit_callbacks(execute=True):
        bills_issued.send(sender=Bill, bill_ids=ids, as_of=at(2026, 11, 1, 12))
    charges = {c.bill_id: c for c in Charge.objects.filter(bill_id__in=ids)}
    assert sorted((c.reference, c.amount_fen, c.payment_reference) for c in charges.values()) == [
        ("N21", 7_000, "PR21"), ("N22", 50_000, "PR22"), ("N23", 3_000, "PR23")]
    # Each charge entry: receivable debit on the open item, revenue credit of the same amount.
    for bill in bills:
        entry = JournalEntry.objects.get(source=f"bill:{bill.pk}")
        assert (entry.kind, entry.description) == ("charge", f"电费 2026-10 {bill.number}")
        assert list(Posting.objects.filter(entry=entry).order_by("id").values_list("ledger", "charge_id", "amount_fen")) \
            == [("ar", charges[bill.pk].pk, bill.total_fen), ("revenue", None, -bill.total_fen)]
    # The prepaid account's credit paid its bill at once (70 of its 100 元).
    assert charge_outstanding(charge_id=charges[bills[0].pk].pk) == 0
    assert account_balance(account_id=co.home.pk).balance_fen == -3_000
    assert account_balance(account_id=co.shop.pk).balance_fen == 50_000
    # Announced again, or swept without a scope: nothing is posted twice.
    with django_capture_on_commit_callbacks(execute=True):
        bills_issued.send(sender=Bill, bill_ids=ids, as_of=at(2026, 11, 2))
    assert receivables_post_issued_bills(as_of=at(2026, 11, 2)).charges == 0
    assert Charge.objects.filter(bill_id__in=ids).count() == 3
    assert JournalEntry.objects.filter(source__startswith="bill:").count() == 3
    assert_ledger_invariants()

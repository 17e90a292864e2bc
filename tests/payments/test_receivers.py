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

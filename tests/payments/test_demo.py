"""The demo loader: payments for most issued bills through every channel, some arrears, some
prepaid accounts; deterministic and idempotent."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.billing.models import Bill
from gridcare.payments.demo import load_demo
from gridcare.payments.models import AccountLedger, Charge, DebitMandate, ImportedFile, JournalEntry, Payment
from gridcare.payments.selectors import collection_inputs, ledger_check
from tests import factories as f
from tests.payments.conftest import at

pytestmark = pytest.mark.django_db


def _bills(org, n: int) -> None:
    owner = f.customer(org["PY1"])
    for i in range(n):
        account = f.account(owner, number=f"30{i:08d}")
        Bill.objects.create(number=f"D{i}", account=account, org_unit=account.org_unit, period_code="2026-10",
                            kind="invoice", status="issued", start_date=date(2026, 10, 1), end_date=date(2026, 11, 1),
                            tariff_code="x", total_fen=5000 + 37 * i, issued_at=at(2026, 11, 3),
                            due_date=date(2026, 11, 17), payment_reference=f"PR{i}", created_at=at(2026, 11, 3))


def test_demo_pays_most_bills_through_every_channel_and_is_idempotent(org):
    _bills(org, 120)
    summary = load_demo(seed=7, as_of=at(2026, 11, 20, 9))
    assert "120 bills posted" in summary
    channels = set(Payment.objects.values_list("channel", flat=True))
    assert channels == {"counter", "online", "agency", "bank_debit"}
    assert DebitMandate.objects.count() > 10 and AccountLedger.objects.filter(prepaid=True).exists()
    inputs = collection_inputs(start=date(2026, 11, 1), end=date(2026, 12, 1), as_of_date=date(2026, 11, 20))
    assert 0.6 < inputs.collected_fen / inputs.receivable_fen < 0.98
    assert ledger_check().ok
    counts = (Payment.objects.count(), JournalEntry.objects.count(), ImportedFile.objects.count(), Charge.objects.count())
    again = load_demo(seed=7, as_of=at(2026, 11, 20, 9))
    assert "0 bills posted" in again and "0 payments" in again
    assert (Payment.objects.count(), JournalEntry.objects.count(), ImportedFile.objects.count(),
            Charge.objects.count()) == counts

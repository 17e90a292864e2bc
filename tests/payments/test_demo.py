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


def test_demo_defaulters_owe_their_last_months_not_a_whole_year(org):
    """Accounts left in arrears keep at most their last three bills unpaid: a bill due four months
    ago is paid (at least in part) by everyone without a debit agreement (a failed debit may still
    leave one open)."""
    owner = f.customer(org["PY1"])
    for i in range(60):
        account = f.account(owner, number=f"31{i:08d}")
        for n, (period, start, end, due) in enumerate([
                ("2026-06", date(2026, 6, 1), date(2026, 7, 1), date(2026, 7, 17)),
                ("2026-10", date(2026, 10, 1), date(2026, 11, 1), date(2026, 11, 17))]):
            Bill.objects.create(number=f"E{i}-{n}", account=account, org_unit=account.org_unit, period_code=period,
                                kind="invoice", status="issued", start_date=start, end_date=end, tariff_code="x",
                                total_fen=8000 + i, issued_at=at(2026, 11, 3), due_date=due,
                                payment_reference=f"PE{i}-{n}", created_at=at(2026, 11, 3))
    load_demo(seed=7, as_of=at(2026, 11, 20, 9))
    from gridcare.payments.selectors import open_items_for

    debtors = set(DebitMandate.objects.values_list("account_id", flat=True))
    owing = open_items_for(list(Bill.objects.values_list("account_id", flat=True).distinct()))
    totals = dict(Bill.objects.values_list("pk", "total_fen"))
    charges = dict(Charge.objects.values_list("pk", "bill_id"))
    unpaid = [(item.due_date, a) for a, items in owing.items() if a not in debtors for item in items
              if item.outstanding_fen == totals[charges[item.charge_id]]]
    assert any(due == date(2026, 11, 17) for due, _ in unpaid), "some accounts are left in arrears"
    assert [a for due, a in unpaid if due == date(2026, 7, 17)] == []

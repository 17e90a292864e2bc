"""Prepayment accounts (top-up, deduction at bill issue, low-balance alert) and bills from billing."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.billing.models import Bill
from gridcare.notifications.models import Message
from gridcare.payments.models import AccountLedger, Charge, JournalEntry
from gridcare.payments.selectors import account_balance, charge_outstanding, collection_inputs
from gridcare.payments.services import (
    bill_charge_post,
    payment_post,
    prepay_configure,
    receivables_post_issued_bills,
)
from tests.payments.conftest import assert_ledger_invariants, at

pytestmark = pytest.mark.django_db


def topup(account, fen, key, when):
    return payment_post(account_id=account.pk, amount_fen=fen, channel="prepay", method="qr", source="portal",
                        received_at=when, as_of=when, idempotency_key=key)


def charge(account, fen, n, when):
    return bill_charge_post(account_id=account.pk, amount_fen=fen, reference=f"B{n}", due_date=date(2026, 12, 15),
                            as_of=when, source=f"bill:t:{n}")


def test_prepaid_account_is_deducted_at_issue_and_alerted_once_below_threshold(co):
    prepay_configure(account_id=co.home.pk, prepaid=True, low_balance_fen=None, actor=co.cashier,
                     as_of=at(2026, 11, 1))
    topup(co.home, 10000, "t1", at(2026, 11, 1))
    first = charge(co.home, 7000, 1, at(2026, 11, 2))  # 30 元 left: above the residential 20 元 default
    assert first.credit_applied_fen == 7000 and charge_outstanding(charge_id=first.charge.pk) == 0
    assert Message.objects.filter(template="prepay_low_balance").count() == 0
    charge(co.home, 1500, 2, at(2026, 11, 3, 9))  # 15 元 left
    msg = Message.objects.get(template="prepay_low_balance")
    assert (msg.channel, msg.recipient) == ("sms", "13812345678")
    assert "1000000001" in msg.body and "15.00" in msg.body and "20.00" in msg.body
    assert AccountLedger.objects.get(account=co.home).low_balance_alerted_on == date(2026, 11, 3)
    charge(co.home, 500, 3, at(2026, 11, 4))  # still low: no second alert
    assert Message.objects.filter(template="prepay_low_balance").count() == 1
    topup(co.home, 5000, "t2", at(2026, 11, 5))  # back above: re-armed
    assert AccountLedger.objects.get(account=co.home).low_balance_alerted_on is None
    charge(co.home, 5000, 4, at(2026, 11, 6))  # 10 元 left
    assert Message.objects.filter(template="prepay_low_balance").count() == 2
    bal = account_balance(account_id=co.home.pk)
    assert (bal.owed_fen, bal.credit_fen, bal.prepaid) == (0, 1000, True)
    assert_ledger_invariants()


def test_prepaid_account_short_of_credit_owes_the_rest(co):
    prepay_configure(account_id=co.home.pk, prepaid=True, low_balance_fen=500, actor=None, as_of=at(2026, 11, 1))
    topup(co.home, 3000, "t1", at(2026, 11, 1))
    posted = charge(co.home, 5000, 1, at(2026, 11, 2))
    assert posted.credit_applied_fen == 3000 and charge_outstanding(charge_id=posted.charge.pk) == 2000
    assert Message.objects.filter(template="prepay_low_balance").count() == 1


def _bill(account, n, total, *, kind="invoice", corrects=None, status="issued", version=1):
    return Bill.objects.create(number=f"N{n}", account=account, org_unit=account.org_unit, period_code="2026-10",
                               version=version, kind=kind, status=status, start_date=date(2026, 10, 1),
                               end_date=date(2026, 11, 1), tariff_code="x", total_fen=total, corrects=corrects,
                               issued_at=at(2026, 11, 1) if status == "issued" else None,
                               due_date=date(2026, 11, 15), payment_reference=f"PR{n}", created_at=at(2026, 11, 1))


def test_issued_bills_are_posted_once_with_corrections(co):
    b1 = _bill(co.home, 1, 10000)
    _bill(co.shop, 2, 50000)
    _bill(co.flat, 3, 7000, status="draft")
    _bill(co.flat, 4, 0, version=2)
    result = receivables_post_issued_bills(as_of=at(2026, 11, 1, 12))
    assert (result.charges, result.charged_fen, result.skipped) == (2, 60000, [])
    assert receivables_post_issued_bills(as_of=at(2026, 11, 2)).charges == 0
    c1 = Charge.objects.get(bill_id=b1.pk)
    assert (c1.reference, c1.payment_reference, c1.due_date, c1.period_code) == ("N1", "PR1", date(2026, 11, 15),
                                                                                 "2026-10")
    payment_post(account_id=co.home.pk, amount_fen=4000, channel="counter", method="cash", source="PY",
                 received_at=at(2026, 11, 5), as_of=at(2026, 11, 5))
    _bill(co.home, 5, -10000, kind="credit", corrects=b1, version=2)
    _bill(co.home, 6, 8000, corrects=b1, version=2)
    result = receivables_post_issued_bills(as_of=at(2026, 11, 6))
    assert (result.charges, result.credit_notes, result.credited_fen) == (1, 1, 10000)
    assert charge_outstanding(charge_id=c1.pk) == 0
    rebill = Charge.objects.get(reference="N6")
    # The 40 元 already paid on the corrected bill became credit and paid the rebill at once.
    assert charge_outstanding(charge_id=rebill.pk) == 4000
    assert account_balance(account_id=co.home.pk).balance_fen == 4000
    assert JournalEntry.objects.filter(source__startswith="bill:").count() == 4
    inputs = collection_inputs(start=date(2026, 11, 1), end=date(2026, 12, 1), as_of_date=date(2026, 11, 30))
    assert (inputs.billed_fen, inputs.credited_fen, inputs.collected_fen) == (68000, 10000, 4000)
    assert (inputs.receivable_fen, inputs.outstanding_fen, str(inputs.percent)) == (58000, 54000, "6.90")
    assert_ledger_invariants()

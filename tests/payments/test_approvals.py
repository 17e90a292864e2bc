"""Refunds, reversals and late-fee waivers need a second person; discounts are explicit postings."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from gridcare.core.errors import PermissionDenied, ValidationFailed
from gridcare.payments.models import ApprovalRequest, Charge, Discount, JournalEntry, Ledger, Payment
from gridcare.payments.selectors import account_balance, charge_outstanding
from gridcare.payments.services import (
    UnableToDecide,
    UnableToPost,
    approval_decide,
    approval_request,
    bill_charge_post,
    discount_post,
    late_fee_charge_post,
    payment_post,
)
from tests.payments.conftest import assert_ledger_invariants, at, bill

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 20)


def pay(account, fen, key):
    return payment_post(account_id=account.pk, amount_fen=fen, channel="counter", method="cash", source="PY",
                        received_at=NOW, as_of=NOW, idempotency_key=key).payment


def test_refund_of_credit_needs_another_person_and_posts_only_on_approval(co):
    pay(co.home, 5000, "k1")
    req = approval_request(kind="refund", account_id=co.home.pk, amount_fen=3000, reason="客户销户退款",
                           actor=co.cashier, as_of=NOW)
    assert JournalEntry.objects.filter(kind="refund").count() == 0
    with pytest.raises(PermissionDenied):
        approval_decide(request_id=req.pk, approve=True, actor=co.cashier, as_of=NOW)  # cashier lacks approve
    approval_decide(request_id=req.pk, approve=True, actor=co.approver, as_of=NOW, note="ok")
    req.refresh_from_db()
    assert req.status == "approved" and req.entry.kind == "refund"
    assert sorted(req.entry.postings.values_list("ledger", "amount_fen")) == [(Ledger.CREDIT, 3000),
                                                                              (Ledger.REFUND, -3000)]
    assert account_balance(account_id=co.home.pk).credit_fen == 2000
    with pytest.raises(UnableToDecide):
        approval_decide(request_id=req.pk, approve=True, actor=co.approver2, as_of=NOW)
    assert_ledger_invariants()


def test_requester_cannot_approve_their_own_request(co):
    pay(co.home, 5000, "k1")
    req = approval_request(kind="refund", account_id=co.home.pk, amount_fen=1000, reason="r", actor=co.admin,
                           as_of=NOW)
    with pytest.raises(PermissionDenied):
        approval_decide(request_id=req.pk, approve=True, actor=co.admin, as_of=NOW)
    # The database refuses it too, whatever the code path.
    req.decided_by = co.admin
    with pytest.raises(IntegrityError), transaction.atomic():
        req.save()
    assert JournalEntry.objects.filter(kind="refund").count() == 0


def test_refund_cannot_exceed_credit(co):
    pay(co.home, 500, "k1")
    with pytest.raises(UnableToPost) as err:
        approval_request(kind="refund", account_id=co.home.pk, amount_fen=501, reason="r", actor=co.cashier, as_of=NOW)
    assert err.value.field == "amount_fen"
    assert ApprovalRequest.objects.count() == 0


def test_refund_checked_again_at_decision_time(co):
    pay(co.home, 5000, "k1")
    req = approval_request(kind="refund", account_id=co.home.pk, amount_fen=5000, reason="r", actor=co.cashier,
                           as_of=NOW)
    bill_charge_post(account_id=co.home.pk, amount_fen=4000, reference="B1", due_date=date(2026, 12, 15), as_of=NOW,
                     source="bill:1")  # the credit pays the new bill
    with pytest.raises(UnableToPost):
        approval_decide(request_id=req.pk, approve=True, actor=co.approver, as_of=NOW)
    assert ApprovalRequest.objects.get(pk=req.pk).status == "pending"


def test_reversal_reopens_the_bills_and_takes_back_the_credit(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    p = pay(co.home, 12000, "k1")
    req = approval_request(kind="payment_reversal", account_id=co.home.pk, payment_id=p.pk, amount_fen=12000,
                           reason="假币", actor=co.cashier, as_of=NOW)
    approval_decide(request_id=req.pk, approve=True, actor=co.approver, as_of=NOW)
    p.refresh_from_db()
    assert p.status == Payment.Status.REVERSED
    assert charge_outstanding(charge_id=b.pk) == 10000
    bal = account_balance(account_id=co.home.pk)
    assert (bal.owed_fen, bal.credit_fen) == (10000, 0)
    rev = JournalEntry.objects.get(kind="reversal")
    assert rev.reverses_id == p.entry_id
    assert_ledger_invariants()


def test_reversal_of_credit_already_used_becomes_a_returned_payment_item(co):
    p = pay(co.home, 8000, "k1")  # all credit
    bill_charge_post(account_id=co.home.pk, amount_fen=6000, reference="B1", due_date=date(2026, 12, 15), as_of=NOW,
                     source="bill:1")  # 6000 of it used
    req = approval_request(kind="payment_reversal", account_id=co.home.pk, payment_id=p.pk, amount_fen=8000,
                           reason="退票", actor=co.cashier, as_of=NOW)
    approval_decide(request_id=req.pk, approve=True, actor=co.approver, as_of=NOW)
    ret = Charge.objects.get(kind=Charge.Kind.PAYMENT_RETURN)
    assert ret.amount_fen == 6000 and charge_outstanding(charge_id=ret.pk) == 6000
    bal = account_balance(account_id=co.home.pk)
    assert (bal.owed_fen, bal.credit_fen, bal.balance_fen) == (6000, 0, 6000)
    assert_ledger_invariants()


def test_rejected_request_posts_nothing(co):
    p = pay(co.home, 1000, "k1")
    req = approval_request(kind="payment_reversal", account_id=co.home.pk, payment_id=p.pk, amount_fen=1000,
                           reason="r", actor=co.cashier, as_of=NOW)
    approval_decide(request_id=req.pk, approve=False, actor=co.approver, as_of=NOW, note="no")
    assert Payment.objects.get(pk=p.pk).status == "posted"
    assert JournalEntry.objects.filter(kind="reversal").count() == 0


def test_late_fee_waiver(co):
    b = bill(co.home, 10000, due=date(2026, 10, 15), n=1)
    fee = late_fee_charge_post(charge_id=b.pk, amount_fen=450, through=date(2026, 10, 31), as_of=NOW).charge
    with pytest.raises(ValidationFailed):
        approval_request(kind="late_fee_waiver", account_id=co.home.pk, charge_id=b.pk, amount_fen=450, reason="r",
                         actor=co.cashier, as_of=NOW)
    req = approval_request(kind="late_fee_waiver", account_id=co.home.pk, charge_id=fee.pk, amount_fen=450,
                           reason="系统故障导致逾期", actor=co.cashier, as_of=NOW)
    req = approval_decide(request_id=req.pk, approve=True, actor=co.approver, as_of=NOW)
    assert charge_outstanding(charge_id=fee.pk) == 0
    assert sorted(req.entry.postings.values_list("ledger", "amount_fen")) == [(Ledger.AR, -450),
                                                                              (Ledger.LATE_FEE_WAIVED, 450)]
    assert_ledger_invariants()


def test_discounts_pay_open_items_once_and_never_exceed_what_is_owed(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    d = discount_post(account_id=co.home.pk, kind="red_packet", reference="RP-001", amount_fen=500, as_of=NOW,
                      campaign="双十一")
    again = discount_post(account_id=co.home.pk, kind="red_packet", reference="RP-001", amount_fen=500, as_of=NOW)
    assert again.pk == d.pk and Discount.objects.count() == 1
    assert sorted(d.entry.postings.values_list("ledger", "amount_fen")) == [(Ledger.AR, -500), (Ledger.DISCOUNT, 500)]
    discount_post(account_id=co.home.pk, kind="points", reference="PT-9", amount_fen=300, points=3000, as_of=NOW)
    assert charge_outstanding(charge_id=b.pk) == 9200
    with pytest.raises(UnableToPost):
        discount_post(account_id=co.home.pk, kind="red_packet", reference="RP-002", amount_fen=9201, as_of=NOW)
    with pytest.raises(UnableToPost):
        discount_post(account_id=co.shop.pk, kind="red_packet", reference="RP-001", amount_fen=500, as_of=NOW)
    assert_ledger_invariants()

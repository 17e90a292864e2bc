"""Counter payments into a till, receipts, till close with the daily report."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.payments.models import Payment, TillSession
from gridcare.payments.receipts import receipt_pdf, till_report_pdf
from gridcare.payments.selectors import charge_outstanding
from gridcare.payments.services import UnableToUseTill, counter_payment_take, till_close, till_open
from tests.payments.conftest import assert_ledger_invariants, at, bill

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 20, 9)


def take(co, fen, method="cash", token="t1", **kw):
    return counter_payment_take(actor=co.cashier, account_id=co.home.pk, amount_fen=fen, method=method, as_of=NOW,
                                form_token=token, **kw)


def test_payment_needs_an_open_till(co):
    with pytest.raises(UnableToUseTill):
        take(co, 100)
    assert Payment.objects.count() == 0


def test_cash_payment_gives_change_and_a_double_submit_posts_once(co):
    b = bill(co.home, 8850, due=date(2026, 11, 15), n=1)
    till = till_open(actor=co.cashier, as_of=NOW)
    first = take(co, 8850, tendered_fen=10000)
    again = take(co, 8850, tendered_fen=10000)
    assert first.change_fen == 1150 and first.posted.created and not again.posted.created
    assert Payment.objects.count() == 1
    p = first.posted.payment
    assert (p.channel, p.method, p.source, p.till_id, p.business_date) == ("counter", "cash", "PY", till.pk,
                                                                           date(2026, 11, 20))
    assert charge_outstanding(charge_id=b.pk) == 0
    assert_ledger_invariants()


@pytest.mark.parametrize("kwargs,field", [
    ({"method": "cheque"}, "method"),
    ({"tendered_fen": 50}, "tendered_fen"),
    ({"method": "transfer"}, "external_ref"),
    ({"token": ""}, "form_token"),
])
def test_bad_counter_input_is_refused_naming_the_field(co, kwargs, field):
    till_open(actor=co.cashier, as_of=NOW)
    token = kwargs.pop("token", "t1")
    with pytest.raises(ValidationFailed) as err:
        take(co, 100, token=token, **kwargs)
    assert err.value.field == field
    assert Payment.objects.count() == 0


def test_cashier_sees_only_accounts_in_scope(co):
    till_open(actor=co.cashier, as_of=NOW)
    with pytest.raises(NotFound):
        counter_payment_take(actor=co.cashier, account_id=co.flat.pk, amount_fen=100, method="cash", as_of=NOW,
                             form_token="x")


def test_till_close_freezes_the_report_with_the_cash_difference(co):
    till = till_open(actor=co.cashier, as_of=NOW)
    with pytest.raises(UnableToUseTill):
        till_open(actor=co.cashier, as_of=NOW)
    take(co, 5000, token="a")
    take(co, 2500, token="b")
    take(co, 10000, method="card", token="c")
    take(co, 3000, method="transfer", token="d", external_ref="TRX-1")
    closed = till_close(actor=co.cashier, counted_cash_fen=7400, as_of=at(2026, 11, 20, 17))
    r = closed.report
    assert r["count"] == 4 and r["total_fen"] == 20500
    assert r["by_method"] == {"cash": {"count": 2, "amount_fen": 7500}, "card": {"count": 1, "amount_fen": 10000},
                              "transfer": {"count": 1, "amount_fen": 3000}}
    assert (r["expected_cash_fen"], r["counted_cash_fen"], r["difference_fen"]) == (7500, 7400, -100)
    with pytest.raises(UnableToUseTill):
        take(co, 100, token="e")
    second = till_open(actor=co.cashier, as_of=at(2026, 11, 20, 18))
    assert (second.seq, TillSession.objects.count()) == (2, 2) and till.pk != second.pk
    pdf = till_report_pdf(company="测试供电公司", report=r, method_labels={"cash": "现金"})
    assert pdf.startswith(b"%PDF")


def test_receipt_pdf_renders_chinese(co):
    pdf = receipt_pdf(company="测试供电公司", receipt_number="R1", account_number="1000000001", customer_name="张小三",
                      amount_fen=8850, method_label="现金", received_at="2026-11-20 09:00", cashier="cash1",
                      counter="PY", allocations=[("B000001", 8850)], credit_fen=0, tendered_fen=10000, change_fen=1150)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000

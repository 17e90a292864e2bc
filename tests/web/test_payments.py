"""Console cashier pages (till, payment, receipt, close, statement, approvals, files) and the portal
payments page with the built-in test gateway; zh-Hans by default."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gridcare.payments.models import ApprovalRequest, CheckoutIntent, Payment, TillSession
from gridcare.payments.selectors import account_balance
from tests import factories as f
from tests.payments import conftest as fixtures
from tests.payments.conftest import assert_ledger_invariants, bill

pytestmark = pytest.mark.django_db
co = fixtures.co
_fresh_policies = fixtures._fresh_policies


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _token(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


def test_cashier_opens_a_till_takes_cash_prints_a_receipt_and_closes(co):
    b = bill(co.home, 8850, due=timezone.localdate() + timedelta(days=5), n=1)
    c = _client(co.cashier)
    home = c.get("/console/payments/")
    html = home.content.decode()
    assert home.status_code == 200 and "收费" in html and "Cashier" not in html
    assert c.post("/console/payments/till/open/").status_code == 302
    r = c.get("/console/payments/", {"account": "1000000001"})
    assert r["Location"] == f"/console/payments/accounts/{co.home.pk}/"
    page = c.get(r["Location"]).content.decode()
    assert "B000001" in page and "88.50" in page
    token = _token(page)
    form = {"amount": "88.50", "method": "cash", "tendered": "100", "form_token": token, "charge_id": str(b.pk)}
    r = c.post(f"/console/payments/accounts/{co.home.pk}/", form)
    assert r.status_code == 302
    assert c.post(f"/console/payments/accounts/{co.home.pk}/", form).status_code == 302  # double submit
    p = Payment.objects.get()
    assert (p.amount_fen, p.tendered_fen, p.method) == (8850, 10000, "cash")
    pdf = c.get(f"/console/payments/receipts/{p.pk}.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    r = c.post("/console/payments/till/close/", {"counted": "88.50"})
    till = TillSession.objects.get()
    assert r["Location"] == f"/console/payments/tills/{till.pk}/"
    report = c.get(r["Location"]).content.decode()
    assert "88.50" in report and 'data-testid="difference">0.00' in report
    assert c.get(f"/console/payments/tills/{till.pk}/", {"format": "pdf"}).content.startswith(b"%PDF")
    assert_ledger_invariants()


def test_bad_payment_form_shows_field_errors_and_posts_nothing(co):
    c = _client(co.cashier)
    c.post("/console/payments/till/open/")
    page = c.get(f"/console/payments/accounts/{co.home.pk}/").content.decode()
    r = c.post(f"/console/payments/accounts/{co.home.pk}/",
               {"amount": "-1", "method": "cash", "form_token": _token(page)})
    assert r.status_code == 200 and 'data-testid="field-error"' in r.content.decode()
    r = c.post(f"/console/payments/accounts/{co.home.pk}/",
               {"amount": "10", "method": "transfer", "form_token": _token(page)})
    assert 'data-testid="field-error"' in r.content.decode()
    assert Payment.objects.count() == 0


def test_pages_need_capabilities_and_scope(co):
    assert _client(co.agent).get("/console/payments/").status_code == 403
    assert _client(co.cashier).get("/console/payments/approvals/").status_code == 403
    assert _client(co.cashier).get(f"/console/payments/accounts/{co.flat.pk}/").status_code == 404


def test_statement_page(co):
    today = timezone.localdate()
    bill(co.home, 10000, due=today, n=1)
    c = _client(co.agent)
    r = c.get(f"/console/payments/accounts/{co.home.pk}/statement/",
              {"start": (today - timedelta(days=60)).isoformat(), "end": (today + timedelta(days=1)).isoformat()})
    html = r.content.decode()
    assert r.status_code == 200 and "对账单" in html and 'data-testid="closing">100.00' in html
    r = c.get(f"/console/payments/accounts/{co.home.pk}/statement/", {"start": "2026-02-01", "end": "2026-01-01"})
    assert r.status_code == 200 and "text-danger" in r.content.decode()


def test_reversal_request_and_approval_through_the_pages(co):
    c = _client(co.cashier)
    c.post("/console/payments/till/open/")
    page = c.get(f"/console/payments/accounts/{co.home.pk}/").content.decode()
    c.post(f"/console/payments/accounts/{co.home.pk}/", {"amount": "50", "method": "card", "form_token": _token(page)})
    p = Payment.objects.get()
    c.post(f"/console/payments/accounts/{co.home.pk}/request/",
           {"kind": "payment_reversal", "payment_id": p.pk, "amount": "50.00", "reason": "刷错卡"})
    req = ApprovalRequest.objects.get()
    a = _client(co.approver)
    assert "刷错卡" in a.get("/console/payments/approvals/").content.decode()
    a.post("/console/payments/approvals/", {"request_id": req.pk, "decision": "approve"})
    assert Payment.objects.get().status == "reversed"
    assert account_balance(account_id=co.home.pk).balance_fen == 0


def test_files_page_reports_row_errors(co):
    c = _client(co.cashier)
    content = "txn_ref,account_number,amount_yuan,paid_at,payment_reference\nP1,1000000001,abc,2026-11-17 10:00:00,\n"
    r = c.post("/console/payments/files/", {"kind": "agency", "code": "PSBC",
                                            "file": SimpleUploadedFile("a.csv", content.encode())})
    html = r.content.decode()
    assert r.status_code == 200 and 'data-testid="import-report"' in html and "amount_yuan" in html
    assert Payment.objects.count() == 0


def test_portal_customer_pays_a_bill_through_the_test_gateway(co):
    customer = f.user("customer", customer=co.home.customer, username="zhang")
    b = bill(co.home, 7300, due=timezone.localdate() + timedelta(days=3), n=1)
    c = _client(customer)
    page = c.get("/portal/payments/").content.decode()
    assert "73.00" in page and "缴" in page
    r = c.post("/portal/payments/pay/", {"account_id": co.home.pk, "charge_id": b.pk, "amount": "73.00"})
    intent = CheckoutIntent.objects.get()
    assert r["Location"] == f"/portal/payments/testpay/{intent.number}/"
    assert c.get(r["Location"]).status_code == 200
    r = c.post(r["Location"], {"decision": "pay"})
    assert r["Location"] == "/portal/payments/"
    intent.refresh_from_db()
    assert intent.status == "paid" and account_balance(account_id=co.home.pk).balance_fen == 0
    assert "73.00" in c.get("/portal/payments/").content.decode()
    # Someone else's account or checkout is invisible.
    r = c.post("/portal/payments/pay/", {"account_id": co.shop.pk, "amount": "1"})
    assert CheckoutIntent.objects.count() == 1
    other = f.user("customer", customer=co.shop.customer, username="shop")
    assert _client(other).get(f"/portal/payments/testpay/{intent.number}/").status_code == 404
    assert_ledger_invariants()


def test_counter_page_posts_bills_issued_a_moment_ago(co):
    from datetime import date

    from gridcare.billing.models import Bill

    Bill.objects.create(number="N1", account=co.home, org_unit=co.home.org_unit, period_code="2026-10",
                        kind="invoice", status="issued", start_date=date(2026, 10, 1), end_date=date(2026, 11, 1),
                        tariff_code="x", total_fen=4321, issued_at=timezone.now(), due_date=date(2026, 11, 15),
                        created_at=timezone.now())
    page = _client(co.cashier).get(f"/console/payments/accounts/{co.home.pk}/").content.decode()
    assert "N1" in page and 'data-testid="owed">43.21' in page
    assert account_balance(account_id=co.home.pk).balance_fen == 4321

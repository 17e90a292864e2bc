"""Console and portal for back-billing adjustment bills: the case page's 开具退补账单 button (billing
issuers only), the bill page linking back to the case and the bills it corrects, the customer's
bill list, page and PDF."""

from __future__ import annotations

import pytest
from django.test import Client

from gridcare.billing.models import Bill
from gridcare.parameters.models import BackBillingCase
from tests.billing.backbilling_world import adjust_world, approved_case
from tests.factories import user
from tests.parameters import fixtures

pytestmark = pytest.mark.django_db
pworld, fast_passwords = fixtures.pworld, fixtures.fast_passwords


def _client(u) -> Client:
    client = Client()
    client.force_login(u)
    return client


def test_issue_from_the_case_page_and_follow_the_trail(pworld):
    w = adjust_world(pworld)
    case = approved_case(w)
    url = f"/console/parameters/cases/{case.pk}/"
    assert 'data-testid="case-issue"' not in _client(pworld.clerk).get(url).content.decode()
    approver = _client(pworld.approver)
    html = approver.get(url).content.decode()
    assert 'data-testid="case-issue"' in html and "开具退补账单" in html and "补收：与普通账单一样按期缴纳。" in html

    r = approver.post(url, {"action": "issue_bill"})
    bill = Bill.objects.get(kind="adjust")
    assert r.status_code == 302 and r["Location"] == f"/console/billing/bills/{bill.pk}/"
    page = approver.get(r["Location"]).content.decode()
    assert f"退补账单 {bill.number} 已开具。" in page
    assert "退补账单 2026-01" in page and 'data-testid="adjustment-note"' in page
    assert f'href="/console/parameters/cases/{case.pk}/" data-testid="bill-case">{case.number}</a>' in page
    assert f'href="/console/billing/bills/{w.dec.pk}/" data-testid="adjusted-bill">{w.dec.number}</a> (2025-12)' in page
    issued = f"{bill.issued_at.astimezone(fixtures.TZ):%Y-%m-%d %H:%M}"
    assert f'data-testid="bill-issued-by">发行人: {pworld.approver} · {issued}</div>' in page
    assert f'href="/console/billing/bills/{w.jan.pk}/" data-testid="adjusted-bill">{w.jan.number}</a> (2026-01)' in page
    assert f"2026-01 原账单 {w.jan.number} 电度电费：原 310 kWh 171.00 元 → 更正 465 kWh 256.50 元，退补 +85.50 元" in page
    assert "140.60" in page

    # The case page now links to its bill and offers no second issue; a stale form is refused.
    html = approver.get(url).content.decode()
    assert f'data-testid="case-bill">{bill.number}</a>' in html and 'data-testid="case-issue"' not in html
    r = approver.post(url, {"action": "issue_bill"}, follow=True)
    assert f"已开具账单 {bill.number}，不能重复开具" in r.content.decode()
    assert Bill.objects.filter(kind="adjust").count() == 1
    assert BackBillingCase.objects.get(pk=case.pk).status == "billed"


def test_the_customer_sees_the_adjustment_with_its_explanation_and_pdf(pworld):
    w = adjust_world(pworld)
    case = approved_case(w, multiplier="10")
    _client(pworld.approver).post(f"/console/parameters/cases/{case.pk}/", {"action": "issue_bill"})
    bill = Bill.objects.get(kind="adjust")
    me = _client(user("customer", customer=w.acc.customer))
    html = me.get("/portal/bills/").content.decode()
    assert f'data-number="{bill.number}"' in html and f"退补账单 {bill.number}" in html
    assert f'data-testid="adjustment-reason">{case.number}: 现场核查：CT 实为 150/5</div>' in html
    page = me.get(f"/portal/bills/{bill.pk}/").content.decode()
    assert "退还金额" in page and "-140.60" in page
    assert f'href="/portal/bills/{w.jan.pk}/" data-testid="adjusted-bill">{w.jan.number}</a>' in page
    pdf = me.get(f"/portal/bills/{bill.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) > 2000

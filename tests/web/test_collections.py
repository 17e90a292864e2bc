"""Console collections pages: dashboard, account page with the late-fee working, promise form,
counter assessment, suspension case actions by two people; zh-Hans by default."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.collections.models import LateFeeAssessment, Promise, SuspensionCase
from gridcare.collections.services import dunning_run
from tests.collections import conftest as fixtures
from tests.collections.conftest import at
from tests.collections.ledger_helpers import bill

pytestmark = pytest.mark.django_db
co = fixtures.co
_fresh_policies = fixtures._fresh_policies


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _days_ago(n: int) -> date:
    return timezone.localdate() - timedelta(days=n)


def test_dashboard_lists_arrears_in_chinese(co):
    bill(co.shop, 80_000, due=_days_ago(3))
    r = _client(co.agent).get("/console/collections/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "电费回收率" in html and "欠费户" in html and "1000000002" in html and "800.00" in html
    assert "Accounts in arrears" not in html
    assert _client(co.clerk).get("/console/collections/").status_code == 200


def test_account_page_shows_the_working_and_records_a_promise(co):
    bill(co.shop, 300_000, due=_days_ago(5))
    client = _client(co.agent)
    html = client.get(f"/console/collections/accounts/{co.shop.pk}/").content.decode()
    assert "3000.00 元 × 5 天 × 2‰ = 30.0000 元 ≈ 30.00 元" in html
    assert 'data-testid="assess"' not in html  # agents do not collect money
    bad = client.post(f"/console/collections/accounts/{co.shop.pk}/",
                      {"promised_date": "2000-01-01", "amount_fen": "100"})
    assert bad.status_code == 422 and not Promise.objects.exists()
    ok = client.post(f"/console/collections/accounts/{co.shop.pk}/",
                     {"promised_date": timezone.localdate().isoformat(), "amount_fen": "300000", "note": "下午转账"})
    assert ok.status_code == 302 and Promise.objects.get().note == "下午转账"
    assert client.get("/console/collections/accounts/99999/").status_code == 404


def test_cashier_posts_the_late_fee_at_the_counter(co):
    bill(co.shop, 300_000, due=_days_ago(5))
    client = _client(co.cashier)
    assert 'data-testid="assess"' in client.get(f"/console/collections/accounts/{co.shop.pk}/").content.decode()
    r = client.post(f"/console/collections/accounts/{co.shop.pk}/assess/")
    assert r.status_code == 302
    assert LateFeeAssessment.objects.get().posted_fen == 3_000


def test_suspension_case_page_two_people(co):
    due = _days_ago(40)
    bill(co.shop, 80_000, due=due)
    dunned = due + timedelta(days=3)
    dunning_run(as_of=at(dunned.year, dunned.month, dunned.day, 9))
    first = _client(co.approver)
    r = first.post(f"/console/collections/accounts/{co.shop.pk}/propose/")
    case = SuspensionCase.objects.get()
    assert r["Location"] == f"/console/collections/suspensions/{case.pk}/"
    first.post(f"/console/collections/suspensions/{case.pk}/", {"action": "approve"})
    case.refresh_from_db()
    assert case.status == "proposed"  # the proposer cannot approve
    page = first.get(f"/console/collections/suspensions/{case.pk}/").content.decode()
    assert "提请人不能审批自己的提请" in page
    _client(co.approver2).post(f"/console/collections/suspensions/{case.pk}/", {"action": "approve", "note": "同意"})
    case.refresh_from_db()
    assert (case.status, case.approved_by) == ("notified", co.approver2)
    html = _client(co.agent).get(f"/console/collections/suspensions/{case.pk}/").content.decode()
    assert "已审批，已送达停电通知" in html and 'data-testid="case-actions"' not in html


def test_waiver_requested_on_the_account_page_and_approved_on_the_dashboard(co):
    from gridcare.payments.models import ApprovalRequest, Charge

    bill(co.shop, 300_000, due=_days_ago(5))
    cashier = _client(co.cashier)
    cashier.post(f"/console/collections/accounts/{co.shop.pk}/assess/")
    fee = Charge.objects.get(kind="late_fee")
    assert 'data-testid="waiver-form"' in cashier.get(f"/console/collections/accounts/{co.shop.pk}/").content.decode()
    cashier.post(f"/console/collections/late-fees/{fee.pk}/waive/",
                 {"account_id": co.shop.pk, "amount_fen": "1000", "reason": "客户首次逾期"})
    waiver = ApprovalRequest.objects.get()
    dashboard = _client(co.approver).get("/console/collections/").content.decode()
    assert "待审批的违约金减免" in dashboard and "客户首次逾期" in dashboard
    _client(co.approver).post(f"/console/collections/waivers/{waiver.pk}/decide/", {"decision": "approve"})
    waiver.refresh_from_db()
    assert waiver.status == "approved"


def test_customer_360_shows_the_collections_panel(co):
    bill(co.shop, 80_000, due=_days_ago(3))
    html = _client(co.agent).get(f"/console/customers/{co.shop_owner.pk}/").content.decode()
    assert 'data-panel="collections"' in html and "欠费与催费" in html and "800.00" in html
    assert "4.80" in html  # 800 元 × 3 天 × 2‰ not yet posted

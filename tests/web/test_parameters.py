"""Console parameter pages: the 360 panel, an account's parameters with propose/approve by two
people, the approval queue, back-billing case page; zh-Hans by default, bad input shown on the form."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from gridcare.parameters import services
from gridcare.parameters.models import BackBillingCase, BillingParameter
from tests.parameters import fixtures
from tests.parameters.fixtures import AS_OF, issue_bill

pytestmark = pytest.mark.django_db
pworld = fixtures.pworld
fast_passwords = fixtures.fast_passwords


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def approved(pw, **kw):
    p = services.parameter_propose(actor=pw.clerk, as_of=AS_OF, reason="合同", **kw)
    return services.parameter_approve(parameter_id=p.pk, actor=pw.approver, as_of=AS_OF)


def test_customer_360_shows_the_parameters_panel(pworld):
    pw = pworld
    approved(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"},
             effective_from=date(2026, 1, 1))
    html = _client(pw.clerk).get(f"/console/customers/{pw.flat.customer_id}/").content.decode()
    assert 'data-panel="parameters"' in html and 'data-testid="parameters-panel"' in html
    assert "计费参数" in html and "免费电 subsistence" in html
    assert "计费参数审批与退补工单" in html and "Billing parameters" not in html


def test_propose_on_the_account_page_then_approve_from_the_queue(pworld):
    pw = pworld
    url = f"/console/parameters/accounts/{pw.park.pk}/"
    page = _client(pw.clerk).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "申请新版本" in html and "发起退补" in html and "当前无执行中的计费参数。" in html
    bad = _client(pw.clerk).post(url, {"propose": "1", "kind": "split", "effective_from": "2026-01-01",
                                       "reason": "合同", "spec": '{"ratios": [{"percent": "80"}]}'})
    assert bad.status_code == 400
    assert "fixed ratios must add up to 100%; these add up to 80%" in bad.content.decode()
    bad_json = _client(pw.clerk).post(url, {"propose": "1", "kind": "split", "effective_from": "2026-01-01",
                                            "reason": "合同", "spec": "{ratios"})
    assert "不是有效的 JSON" in bad_json.content.decode()
    assert BillingParameter.objects.count() == 0
    ok = _client(pw.clerk).post(url, {"propose": "1", "kind": "split", "effective_from": "2026-01-01",
                                      "reason": "合同约定 20% 一般工商业",
                                      "spec": '{"ratios": [{"percent": "80"}, {"percent": "20", "tariff": '
                                              '"gz-residential", "category": "residential"}]}'})
    assert ok.status_code == 302
    param = BillingParameter.objects.get()
    queue = _client(pw.approver).get("/console/parameters/").content.decode()
    assert "待审批的参数申请" in queue and f'data-testid="decide-{param.pk}"' in queue
    assert "定比 80% 本户电价 / 20% gz-residential" in queue
    own = _client(pw.clerk).post(f"/console/parameters/versions/{param.pk}/decide/",
                                 {"action": "approve", "next": url})
    assert own.status_code == 302  # a clerk may not approve: the message says so, nothing changes
    param.refresh_from_db()
    assert param.status == "pending"
    r = _client(pw.approver).post(f"/console/parameters/versions/{param.pk}/decide/",
                                  {"action": "approve", "next": url})
    assert (r.status_code, r["Location"]) == (302, url)
    param.refresh_from_db()
    assert param.status == "approved"
    html = _client(pw.clerk).get(url).content.decode()
    assert 'data-kind="split"' in html


def test_agents_see_but_cannot_propose(pworld):
    pw = pworld
    url = f"/console/parameters/accounts/{pw.flat.pk}/"
    html = _client(pw.agent).get(url).content.decode()
    assert 'data-testid="propose-form"' not in html
    assert _client(pw.agent).post(url, {"propose": "1"}).status_code == 403
    assert _client(pw.sz_clerk).get(url).status_code == 404


def test_backbilling_case_page(pworld):
    pw = pworld
    bill = issue_bill(pw.flat, pw.meters[pw.flat.pk], "2026-01", date(2026, 1, 1), date(2026, 2, 1),
                      [("total", "1", 100_000)])
    url = f"/console/parameters/accounts/{pw.flat.pk}/"
    r = _client(pw.clerk).post(url, {"prepare": "1", "kind": "wiring_correction", "period_codes": "2026-01",
                                     "correction": '{"correction_rate": "2.00"}', "reason": "A 相电流反接"})
    assert r.status_code == 302
    case = BackBillingCase.objects.get()
    html = _client(pw.approver).get(r["Location"]).content.decode()
    assert "退补工单" in html and bill.number in html and "122.77" in html
    assert 'data-testid="case-decide"' in html and 'data-testid="not-reproduced"' not in html
    _client(pw.approver).post(r["Location"], {"action": "approve"})
    case.refresh_from_db()
    assert case.status == "approved"
    missing = _client(pw.clerk).post(url, {"prepare": "1", "kind": "wiring_correction", "period_codes": "2025-01",
                                           "correction": '{"correction_rate": "2.00"}', "reason": "x"})
    assert "no issued bill for period(s) 2025-01" in missing.content.decode()

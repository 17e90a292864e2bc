"""Console visit programme: capability, planning from the form with field errors, the §7.1 steps
through the detail page, risk candidates planned in one click; zh-Hans."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.service.models import WorkOrder
from gridcare.service.services import WorkOrderInput, work_order_create
from gridcare.visits.models import Visit
from tests import factories as f
from tests.service import conftest as service_fixtures

pytestmark = pytest.mark.django_db
desk = service_fixtures.desk
_fresh_policy = service_fixtures._fresh_policy


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_plan_and_work_a_visit_through_the_pages(desk):
    manager = f.user("account_manager", desk.org["PY"], username="am1")
    assert _client(desk.hotline).get("/console/visits/").status_code == 403
    client = _client(manager)
    page = client.get("/console/visits/").content.decode()
    assert "客户走访" in page and "计划走访" in page and "Customer visits" not in page
    r = client.post("/console/visits/", {"target_kind": "key_customer", "channel": "phone", "purpose": "了解需求",
                                         "planned_for": "2026-01-05", "account_number": "404"})
    assert r.status_code == 200 and 'data-testid="error-account_number"' in r.content.decode()
    r = client.post("/console/visits/", {"target_kind": "key_customer", "channel": "phone", "purpose": "了解需求",
                                         "planned_for": "2026-01-05", "account_number": "0000000001",
                                         "topics": ["needs"]})
    visit = Visit.objects.get()
    assert r["Location"] == f"/console/visits/{visit.pk}/"
    base = f"/console/visits/{visit.pk}/"
    client.post(base + "prepare/", {"checklist": ["意见收集记录本"]})
    when = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    client.post(base + "record/", {"when": when, "topics": ["needs", "requests"], "needs": "希望延长营业时间",
                                   "kind_0": "suggestion", "text_0": "营业厅周末延长营业时间",
                                   "customer_requested_time": "1"})
    visit.refresh_from_db()
    assert visit.stage == "visited"
    order = WorkOrder.objects.get(channel="visit")
    assert order.category == "suggestion"
    detail = client.get(base).content.decode()
    assert order.number in detail and "已走访" in detail


def test_risk_candidates_are_listed_and_planned(desk):
    manager = f.user("account_manager", desk.org["PY"], username="am1")
    work_order_create(actor=desk.hotline, as_of=timezone.now(), data=WorkOrderInput(
        channel="hotline", description="态度差", account_number="0000000001", category="complaint.service.attitude"))
    client = _client(manager)
    page = client.get("/console/visits/").content.decode()
    assert "张小三" in page and "投诉 1 次" in page
    client.post("/console/visits/plan-risk/")
    assert Visit.objects.get().source == "risk"

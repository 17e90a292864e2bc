"""Console service desk: workbench queue with countdowns, creating an order (with a bad attachment
writing nothing), working and closing it, the return visit, the supervisor board, outages, the
public survey page, the customer 360 panel and the portal's own requests; zh-Hans by default."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gridcare.service.models import Outage, ReturnVisit, WorkOrder
from gridcare.service.services import OutageInput, outage_create
from tests import factories as f
from tests.service import conftest as service_fixtures

pytestmark = pytest.mark.django_db
desk = service_fixtures.desk
_fresh_policy = service_fixtures._fresh_policy
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _order(desk, **extra) -> WorkOrder:
    extra.setdefault("account_number", "0000000001")
    extra.setdefault("category", "complaint.business.billing")
    extra.setdefault("description", "电费多收了")
    return desk.create(as_of=timezone.now(), **extra)


def test_workbench_is_chinese_and_lists_the_queue_with_countdowns(desk):
    order = _order(desk)
    assert _client(f.user("cashier", desk.org["GD"])).get("/console/service/").status_code == 403
    r = _client(desk.complaint_agent).get("/console/service/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "客服工单" in html and "新建工单" in html and "剩余时间" in html
    assert "Service desk" not in html and "Time left" not in html
    assert f'data-number="{order.number}"' in html and "首次响应" in html
    assert "投诉 / 营业投诉 / 电费电价" in html
    partial = _client(desk.complaint_agent).get("/console/service/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and order.number in partial


def test_create_from_the_form_then_work_and_close(desk):
    client = _client(desk.hotline)
    r = client.post("/console/service/new/", {"channel": "hotline", "account_number": "0000000001",
                                              "description": "营业员态度差", "category": ""})
    order = WorkOrder.objects.get()
    assert (r.status_code, r["Location"]) == (302, f"/console/service/orders/{order.number}/")
    assert order.category == "complaint.service.attitude" and order.first_contact_user == desk.hotline
    handler = _client(desk.complaint_agent)
    page = handler.get(r["Location"]).content.decode()
    assert "138****5678" in page and f"/console/customers/{desk.customer.pk}/" in page
    assert "受理确认" in page  # reply template
    base = f"/console/service/orders/{order.number}/"
    assert handler.post(base + "accept/").status_code == 302
    assert handler.post(base + "contact/", {"text": "已电话联系客户"}).status_code == 302
    r = handler.post(base + "close/", {"text": ""})
    order.refresh_from_db()
    assert order.status == "in_progress"  # refused: nothing resolved it and no resolution was given
    page = handler.get(r["Location"]).content.decode()
    assert "当前为“处理中”，不能执行此操作" in page
    handler.post(base + "close/", {"text": "已致歉"})
    order.refresh_from_db()
    assert order.status == "closed"
    visit = order.return_visits.get()
    assert visit.method == "phone"


def test_bad_attachment_on_create_writes_nothing(desk):
    client = _client(desk.hotline)
    r = client.post("/console/service/new/", {"channel": "hotline", "description": "停电了",
                                              "file": SimpleUploadedFile("x.exe", b"MZ")})
    assert r.status_code == 200
    assert "x.exe" in r.content.decode()
    assert WorkOrder.objects.count() == 0
    r = client.post("/console/service/new/", {"channel": "hotline", "description": "停电了",
                                              "file": SimpleUploadedFile("p.png", PNG)})
    assert r.status_code == 302 and WorkOrder.objects.get().attachments.count() == 1


def test_field_error_is_shown_on_the_field(desk):
    r = _client(desk.hotline).post("/console/service/new/", {"channel": "hotline", "description": "x",
                                                             "account_number": "404"})
    assert r.status_code == 200 and 'data-testid="error-account_number"' in r.content.decode()


def test_phone_return_visit_from_the_visits_page(desk):
    order = _order(desk)
    _client(desk.complaint_agent).post(f"/console/service/orders/{order.number}/close/", {"text": "已退费"})
    visit = ReturnVisit.objects.get()
    client = _client(desk.hotline)
    page = client.get("/console/service/visits/?all=1").content.decode()
    assert "您反映的问题是否已经解决" in page
    client.post(f"/console/service/visits/{visit.pk}/", {
        "q_resolved": "no", "q_satisfaction": "2", "q_timely": "yes", "q_attitude": "3",
        "customer_requested_time": "1"})
    visit.refresh_from_db()
    order.refresh_from_db()
    assert visit.status == "completed" and visit.satisfied is False
    assert order.status == "in_progress" and order.reopen_count == 1


def test_supervisor_board_breach_report_and_negative_list(desk):
    _order(desk)
    assert _client(desk.hotline).get("/console/service/board/").status_code == 403
    html = _client(desk.sup_gd).get("/console/service/board/").content.decode()
    assert 'data-testid="open-total">1<' in html and "市桥供电所" in html
    assert _client(desk.sup_gd).get("/console/service/reports/breaches/").status_code == 200
    r = _client(desk.sup_py).post("/console/service/negative/", {
        "description": "暗访：营业厅未公示电价", "occurred_at": "2026-01-05T10:00", "org_unit_code": "PY1"})
    assert r.status_code == 302
    assert "暗访：营业厅未公示电价" in _client(desk.sup_py).get("/console/service/negative/").content.decode()


def test_outage_form_enforces_notice(desk):
    client = _client(desk.sup_py)
    soon = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    later = (timezone.localtime() + timedelta(days=2, hours=4)).strftime("%Y-%m-%dT%H:%M")
    r = client.post("/console/service/outages/", {"kind": "planned", "title": "检修", "org_unit_code": "PY",
                                                  "grid_cells": "PY-01", "start_at": soon, "end_at": later})
    assert r.status_code == 200 and Outage.objects.count() == 0
    r = client.post("/console/service/outages/", {"kind": "planned", "title": "检修", "org_unit_code": "PY",
                                                  "grid_cells": "PY-01", "start_at": soon, "end_at": later,
                                                  "notice_override_reason": "抢险"})
    assert r.status_code == 302 and Outage.objects.count() == 1


def test_public_survey_page(desk):
    now = timezone.now()
    outage_create(actor=desk.sup_py, data=OutageInput(kind="fault", title="故障", org_unit_code="PY",
                                                      grid_cells=["PY-01"], start_at=now, end_at=now + timedelta(hours=2)),
                  as_of=now)
    order = _order(desk, category="repair.lv_outage.single", description="没电")
    _client(desk.repair_agent).post(f"/console/service/orders/{order.number}/close/", {"text": "已修复"})
    visit = ReturnVisit.objects.get()
    assert visit.method == "sms"
    anonymous = Client()
    page = anonymous.get(f"/s/{visit.token}/")
    assert page.status_code == 200 and "您对本次处理结果的满意程度" in page.content.decode()
    r = anonymous.post(f"/s/{visit.token}/", {"q_resolved": "yes"})
    assert 'data-testid="survey-error"' in r.content.decode()
    r = anonymous.post(f"/s/{visit.token}/", {"q_resolved": "yes", "q_satisfaction": "5", "q_timely": "yes",
                                              "q_attitude": "5", "q_arrival": "yes"})
    assert 'data-testid="survey-thanks"' in r.content.decode()
    assert 'data-testid="survey-closed"' in anonymous.get(f"/s/{visit.token}/").content.decode()
    assert anonymous.get("/s/nonsense/").status_code == 404


def test_customer_360_shows_tickets_panel(desk):
    order = _order(desk)
    html = _client(desk.sup_py).get(f"/console/customers/{desk.customer.pk}/").content.decode()
    assert 'data-testid="customer-tickets"' in html and order.number in html


def test_portal_customer_files_and_follows_a_request(desk):
    me = f.user("customer", customer=desk.customer)
    client = _client(me)
    r = client.post("/portal/tickets/", {"account_number": "0000000001", "description": "电表走得快，要求校验",
                                         "category": ""})
    order = WorkOrder.objects.get()
    assert (r.status_code, r["Location"]) == (302, f"/portal/tickets/{order.number}/")
    assert order.channel == "portal" and order.category == "business.meter_abnormal"
    page = client.get(r["Location"]).content.decode()
    assert "电表走得快" in page and "已受理" in page
    listing = client.get("/portal/tickets/").content.decode()
    assert order.number in listing
    other = _order(desk, account_number="0000000002")
    assert client.get(f"/portal/tickets/{other.number}/").status_code == 404
    assert client.get("/console/service/").status_code == 302  # customers are sent to the portal

"""/api/v1/service: create and work orders over the API, field-level 4xx errors, scope, signed
webhooks, .eml upload, attachments, queue, board, reports, outages, visits, public survey."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation

from gridcare.access.services import api_token_create
from gridcare.service.models import WorkOrder
from gridcare.service.services import webhook_signature
from tests import factories as f
from tests.service import conftest as service_fixtures

pytestmark = pytest.mark.django_db
desk = service_fixtures.desk
_fresh_policy = service_fixtures._fresh_policy
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def create(client, **body):
    body.setdefault("channel", "hotline")
    body.setdefault("description", "营业员态度差")
    return post(client, "/api/v1/service/work-orders", body)


def test_create_work_and_close_an_order(desk):
    agent = bearer(desk.hotline)
    r = create(agent, account_number="0000000001", category="complaint.service.attitude")
    assert r.status_code == 201, r.content
    order = r.json()
    number = order["number"]
    assert order["category_label"] == "投诉 / 服务投诉 / 服务态度"
    assert order["org_unit"] == "PY1" and order["assignee"] == "cmp1" and order["first_contact_user"] == "hotline"
    assert order["contact_phone"] == "138****5678"  # agents see phones masked
    assert [c["key"] for c in order["clocks"]] == ["first_response", "handler", "plan", "contact", "reply"]
    assert all(c["state"] == "ok" for c in order["clocks"])
    handler = bearer(desk.complaint_agent)
    assert post(handler, f"/api/v1/service/work-orders/{number}/accept", {}).status_code == 200
    assert post(handler, f"/api/v1/service/work-orders/{number}/contact", {"text": "已致电客户"}).status_code == 200
    r = post(handler, f"/api/v1/service/work-orders/{number}/close", {"resolution": "已致歉并批评教育"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "closed"
    assert [e["kind"] for e in body["events"]] == ["created", "started", "accepted", "contacted", "resolved", "closed",
                                                  "return_visit_created"]
    assert body["return_visits"][0]["method"] == "phone"
    sup = bearer(desk.sup_py)
    assert sup.get(f"/api/v1/service/work-orders/{number}").json()["contact_phone"] == "13812345678"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"description": ""}, 422, "description"),
    ({"category": "complaint.nope"}, 422, "category"),
    ({"channel": "portal"}, 422, "channel"),
    ({"contact_phone": "123"}, 422, "contact_phone"),
    ({"account_number": "0000000404"}, 422, "account_number"),
])
def test_bad_input_is_a_field_error(desk, body, status, field):
    r = create(bearer(desk.hotline), **body)
    assert r.status_code == status, r.content
    assert r.json()["field"] == field
    assert WorkOrder.objects.count() == 0


def test_missing_field_and_wrong_type_are_422_naming_it(desk):
    r = post(bearer(desk.hotline), "/api/v1/service/work-orders", {"channel": "hotline"})
    assert r.status_code == 422 and r.json()["field"] == "description"
    r = post(bearer(desk.hotline), "/api/v1/service/work-orders", {"channel": "hotline", "description": "x",
                                                                    "customer_id": "abc"})
    assert r.status_code == 422 and r.json()["field"] == "customer_id"


def test_scope_and_state_errors(desk):
    number = create(bearer(desk.hotline), account_number="0000000001").json()["number"]
    sz = bearer(f.user("agent", desk.org["SZ"]))
    assert sz.get(f"/api/v1/service/work-orders/{number}").status_code == 404
    assert post(sz, f"/api/v1/service/work-orders/{number}/notes", {"text": "x"}).status_code == 404
    r = post(bearer(desk.complaint_agent), f"/api/v1/service/work-orders/{number}/close", {})
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    r = post(bearer(desk.complaint_agent), f"/api/v1/service/work-orders/{number}/reopen", {"reason": "x"})
    assert r.status_code == 403
    r = post(bearer(desk.complaint_agent), f"/api/v1/service/work-orders/{number}/transfer",
             {"org_unit_code": "NOPE", "reason": "x"})
    assert r.status_code == 422 and r.json()["field"] == "org_unit_code"
    assert bearer(f.user("cashier", desk.org["GD"])).get("/api/v1/service/queue").status_code == 403


def test_portal_customer_files_and_sees_only_public_history(desk):
    me = bearer(f.user("customer", customer=desk.customer))
    r = create(me, channel="app", description="电费太高了，电费异常")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["customer_id"] == desk.customer.pk and body["contact_phone"] == "13812345678"
    assert body["clocks"] == [] and body["classification"] == {}
    assert [e["kind"] for e in body["events"]] == ["created"]
    assert me.get("/api/v1/service/work-orders").json()["total"] == 1
    assert post(me, f"/api/v1/service/work-orders/{body['number']}/notes", {"text": "x"}).status_code == 403
    assert me.get("/api/v1/service/queue").status_code == 403
    other = create(bearer(desk.hotline), account_number="0000000002").json()["number"]
    assert me.get(f"/api/v1/service/work-orders/{other}").status_code == 404


def test_attachment_upload_limits(desk):
    agent = bearer(desk.hotline)
    number = create(agent, account_number="0000000001").json()["number"]
    url = f"/api/v1/service/work-orders/{number}/attachments"
    r = agent.post(url, {"file": SimpleUploadedFile("photo.png", PNG, content_type="image/png")})
    assert r.status_code == 201 and r.json()["size"] == len(PNG)
    r = agent.post(url, {"file": SimpleUploadedFile("run.exe", b"MZ")})
    assert r.status_code == 422 and r.json()["field"] == "file" and "不接受" in r.json()["message"]


def test_signed_webhook(desk, settings):
    settings.GRIDCARE_WEBHOOK_SECRETS = {"wechat": "k"}
    body = json.dumps({"message_id": "w1", "text": "家里停电了", "sender": {"phone": "13812345678"}}).encode()
    stamp = str(int(time.time()))
    client = Client()
    headers = {"HTTP_X_GRIDCARE_TIMESTAMP": stamp,
               "HTTP_X_GRIDCARE_SIGNATURE": webhook_signature(secret="k", timestamp=stamp, body=body)}
    r = client.post("/api/v1/service/inbound/webhook/wechat", body, content_type="application/json", **headers)
    assert r.status_code == 201 and r.json()["created"] is True
    r = client.post("/api/v1/service/inbound/webhook/wechat", body, content_type="application/json", **headers)
    assert r.status_code == 200 and r.json()["created"] is False
    headers["HTTP_X_GRIDCARE_SIGNATURE"] = "0" * 64
    r = client.post("/api/v1/service/inbound/webhook/wechat", body, content_type="application/json", **headers)
    assert r.status_code == 401 and r.json()["field"] == "X-Gridcare-Signature"
    old = str(int(time.time()) - 3600)
    r = client.post("/api/v1/service/inbound/webhook/wechat", body, content_type="application/json",
                    HTTP_X_GRIDCARE_TIMESTAMP=old,
                    HTTP_X_GRIDCARE_SIGNATURE=webhook_signature(secret="k", timestamp=old, body=body))
    assert r.status_code == 401 and r.json()["code"] == "stale_request"
    assert WorkOrder.objects.count() == 1


def test_email_upload(desk):
    msg = EmailMessage()
    msg["From"] = "a@example.cn"
    msg["Subject"] = "户号 0000000001 抄表读数不对"
    msg["Message-ID"] = "<x1@example.cn>"
    msg.set_content("示数不对，请核实")
    agent = bearer(desk.hotline)
    r = agent.post("/api/v1/service/inbound/email", {"file": SimpleUploadedFile("m.eml", bytes(msg))})
    assert r.status_code == 201, r.content
    assert WorkOrder.objects.get(number=r.json()["number"]).category == "business.reading_abnormal"
    r = agent.post("/api/v1/service/inbound/email", {"file": SimpleUploadedFile("m.eml", bytes(msg))})
    assert r.status_code == 200 and r.json()["created"] is False
    r = agent.post("/api/v1/service/inbound/email", {"file": SimpleUploadedFile("m.eml", b"hello")})
    assert r.status_code == 422 and r.json()["field"] == "file"


def test_queue_board_and_reports(desk):
    agent = bearer(desk.hotline)
    create(agent, account_number="0000000001", category="complaint.business.billing")
    rows = bearer(desk.complaint_agent).get("/api/v1/service/queue").json()
    assert len(rows) == 1 and rows[0]["worst"] == "ok" and rows[0]["next_clock"]["key"] == "first_response"
    assert 0 < rows[0]["next_clock"]["remaining_seconds"] <= 1800
    assert agent.get("/api/v1/service/dashboard").status_code == 403
    board = bearer(desk.sup_gd).get("/api/v1/service/dashboard").json()
    assert board["open_total"] == 1 and board["live"]["ok"] == 5
    assert board["rapid_response"][0]["risk"] == "low"
    now = timezone.now()
    r = bearer(desk.sup_gd).get("/api/v1/service/reports/breaches",
                                {"start": (now - timedelta(days=1)).isoformat(), "end": now.isoformat()})
    assert r.status_code == 200 and r.json() == []
    r = bearer(desk.sup_gd).get("/api/v1/service/reports/breaches", {"start": now.isoformat(), "end": now.isoformat()})
    assert r.status_code == 422 and r.json()["field"] == "end"
    assert post(bearer(desk.sup_gd), "/api/v1/service/tick", {}).json() == {
        "warnings": 0, "breaches": 0, "escalations": 0, "expired_surveys": 0}


def test_outage_and_survey_endpoints(desk):
    sup = bearer(desk.sup_py)
    now = timezone.now()
    r = post(sup, "/api/v1/service/outages", {"kind": "planned", "title": "检修", "org_unit_code": "PY",
                                              "grid_cells": ["PY-01"], "start_at": (now + timedelta(days=1)).isoformat(),
                                              "end_at": (now + timedelta(days=1, hours=4)).isoformat()})
    assert r.status_code == 422 and r.json()["field"] == "start_at"
    r = post(sup, "/api/v1/service/outages", {"kind": "fault", "title": "故障", "org_unit_code": "PY",
                                              "grid_cells": ["PY-01"], "start_at": now.isoformat(),
                                              "end_at": (now + timedelta(hours=2)).isoformat()})
    assert r.status_code == 201 and r.json()["notices"] == 2
    outage_id = r.json()["outage"]["id"]
    repair = create(bearer(desk.hotline), account_number="0000000001", description="家里没电了").json()
    assert repair["outage_id"] == outage_id
    r = post(sup, f"/api/v1/service/outages/{outage_id}/restore", {"note": "已恢复"})
    assert r.json()["resolved_orders"] == 1
    closed = post(bearer(desk.repair_agent), f"/api/v1/service/work-orders/{repair['number']}/close", {}).json()
    assert closed["status"] == "closed"
    token = WorkOrder.objects.get(number=repair["number"]).return_visits.get().token
    public = Client()
    survey = public.get(f"/api/v1/service/surveys/{token}")
    assert survey.status_code == 200 and survey.json()["status"] == "sent"
    r = post(public, f"/api/v1/service/surveys/{token}", {"answers": {"resolved": "yes"}})
    assert r.status_code == 422 and r.json()["field"] == "answers.satisfaction"
    r = post(public, f"/api/v1/service/surveys/{token}", {"answers": {
        "resolved": "yes", "satisfaction": 5, "timely": "yes", "attitude": 5, "arrival": "yes"}})
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert public.get("/api/v1/service/surveys/nope").status_code == 404


def test_negative_list_and_cases(desk):
    sup = bearer(desk.sup_py)
    r = post(sup, "/api/v1/service/negative-list", {"description": "暗访：未亮证上岗",
                                                    "occurred_at": timezone.now().isoformat(), "org_unit_code": "PY1"})
    assert r.status_code == 201
    entry = r.json()["id"]
    assert sup.get("/api/v1/service/negative-list").json()["total"] == 1
    r = post(sup, f"/api/v1/service/negative-list/{entry}/rectify", {"rectification": "已整改"})
    assert r.json()["status"] == "rectified"
    r = post(sup, "/api/v1/service/typical-cases", {"title": "", "summary": "s", "org_unit_code": "PY1"})
    assert r.status_code == 422 and r.json()["field"] == "title"
    r = post(sup, "/api/v1/service/typical-cases", {"title": "案例", "summary": "经过", "org_unit_code": "PY1"})
    assert r.status_code == 201
    assert [c["title"] for c in bearer(desk.hotline).get("/api/v1/service/typical-cases").json()] == ["案例"]
    tax = bearer(desk.hotline).get("/api/v1/service/taxonomy").json()
    assert {c["code"] for c in tax["categories"] if c["level"] == 1} == {
        "repair", "inquiry", "business", "complaint", "report", "opinion", "suggestion", "praise", "other"}

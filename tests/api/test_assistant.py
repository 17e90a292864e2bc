"""/api/v1/assistant: chat with answers from the article and the customer's own data, hand-over as
a work order, knowledge-base search, classification and quality-inspection import."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.access.services import api_token_create
from gridcare.assistant.demo import transcripts
from gridcare.assistant.models import Conversation
from gridcare.service.models import WorkOrder
from tests.assistant.fixtures import AS_OF, Town, build_town, ensure_kb, isolated


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    with isolated(settings, tmp_path):
        yield


@pytest.fixture
def town(db) -> Town:
    ensure_kb()
    return build_town()


def bearer(user) -> Client:
    raw = api_token_create(user=user, name="test", as_of=timezone.now())
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_customer_chats_and_hands_over(town: Town):
    api = bearer(town.portal)
    started = post(api, "/api/v1/assistant/conversations", {})
    assert started.status_code == 201
    body = started.json()
    assert (body["channel"], body["account_number"], body["status"]) == ("app", "0500000010", "open")
    token = body["token"]

    reply = post(api, f"/api/v1/assistant/conversations/{token}/messages", {"text": "怎么办理银行代扣"})
    assert reply.status_code == 200
    data = reply.json()
    assert (data["kind"], data["intent"], data["article"]["key"]) == ("answer", "auto_debit", "payment-003")
    assert data["article"]["title"] in data["text"]

    handed = post(api, f"/api/v1/assistant/conversations/{token}/handover", {"reason": "asked"})
    assert handed.status_code == 200
    order = WorkOrder.objects.get()
    assert (handed.json()["work_order"], order.channel, order.customer) == (order.number, "app", town.customer)
    messages = api.get(f"/api/v1/assistant/conversations/{token}").json()
    assert [m["role"] for m in messages] == ["customer", "assistant", "customer", "assistant"]


@pytest.mark.parametrize("text", ["", "🔥🔥🔥", "x" * 20000, "电费bill太high了why"])
def test_any_message_text_gets_a_reply(town: Town, text):
    api = bearer(town.portal)
    token = post(api, "/api/v1/assistant/conversations", {}).json()["token"]
    reply = post(api, f"/api/v1/assistant/conversations/{token}/messages", {"text": text})
    assert reply.status_code == 200, reply.content
    assert reply.json()["text"]


def test_too_long_body_is_a_422_naming_the_field(town: Town):
    api = bearer(town.portal)
    token = post(api, "/api/v1/assistant/conversations", {}).json()["token"]
    reply = post(api, f"/api/v1/assistant/conversations/{token}/messages", {"text": "x" * 20001})
    assert reply.status_code == 422
    assert reply.json()["field"] == "text"


def test_someone_elses_conversation_is_404(town: Town):
    token = post(bearer(town.portal), "/api/v1/assistant/conversations", {}).json()["token"]
    other = bearer(town.writer)  # an agent (service.work) may read the conversation
    from tests import factories as f

    stranger = f.user("customer", customer=town.neighbour, username="neighbour")
    r = post(bearer(stranger), f"/api/v1/assistant/conversations/{token}/messages", {"text": "你好"})
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert Conversation.objects.get(token=token).messages.count() == 0
    assert other.get(f"/api/v1/assistant/conversations/{token}").status_code == 200


def test_unknown_account_is_422(town: Town):
    r = post(bearer(town.portal), "/api/v1/assistant/conversations", {"account_number": "0500000020"})
    assert (r.status_code, r.json()["field"]) == (422, "account_number")


def test_article_search_and_detail(town: Town):
    api = bearer(town.portal)
    hits = api.get("/api/v1/assistant/articles", {"q": "峰谷电价怎么取消"}).json()
    assert hits[0]["key"] == "change-006"
    article = api.get("/api/v1/assistant/articles/change-006").json()
    assert (article["version"], article["category"]) == (1, "change")
    assert api.get("/api/v1/assistant/articles/change-999").status_code == 404


def test_classify_is_for_staff(town: Town):
    r = post(bearer(town.writer), "/api/v1/assistant/classify", {"text": "我家停电了"})
    assert r.status_code == 200
    assert (r.json()["intent"], r.json()["level1"]) == ("outage_report", "故障报修")
    assert post(bearer(town.portal), "/api/v1/assistant/classify", {"text": "x"}).status_code == 403


def test_transcript_import_and_scores(town: Town):
    api = bearer(town.supervisor_gd)
    rows = transcripts(seed=5, as_of=AS_OF, n=6)
    r = post(api, "/api/v1/assistant/qa/transcripts", {"transcripts": rows})
    assert (r.status_code, r.json()["created"]) == (201, 6)
    scores = api.get("/api/v1/assistant/qa/agents").json()
    assert sum(s["inspected"] for s in scores) == 6
    bad = post(api, "/api/v1/assistant/qa/transcripts", {"transcripts": [{"id": "x", "channel": "chat"}]})
    assert (bad.status_code, bad.json()["field"]) == (422, "agent")
    assert post(bearer(town.writer), "/api/v1/assistant/qa/transcripts", {"transcripts": rows}).status_code == 403
    assert bearer(town.portal).get("/api/v1/assistant/qa/agents").status_code == 403

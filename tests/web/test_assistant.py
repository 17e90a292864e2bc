"""Console knowledge-base pages (search, two-person publishing), IVR viewer, QA pages, and the
portal chat and help centre through Django's test client."""

from __future__ import annotations

import pytest

from gridcare.assistant import services
from gridcare.assistant.demo import transcripts
from gridcare.assistant.models import Article, Conversation, Inspection
from gridcare.service.models import WorkOrder
from tests import factories as f
from tests.assistant.fixtures import AS_OF, Town, build_town, ensure_kb, isolated


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    with isolated(settings, tmp_path):
        yield


@pytest.fixture
def town(db) -> Town:
    ensure_kb()
    return build_town()


@pytest.fixture
def kb_changes():
    from gridcare.assistant import selectors

    selectors.reset_cache()
    yield
    selectors.reset_cache()


def login(client, user):
    client.force_login(user)
    return client


def test_kb_search_finds_the_article(client, town: Town):
    login(client, town.writer)
    page = client.get("/console/kb/", {"q": "峰谷电价怎么取消"})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("change-006") < html.index("</table>")
    first_row = html[html.index("<tbody>"):].split("</tr>")[0]
    assert "change-006" in first_row
    assert "发布版本" in html and "Published version" not in html  # zh-Hans by default


def test_kb_htmx_search_returns_only_the_results(client, town: Town):
    login(client, town.writer)
    page = client.get("/console/kb/", {"q": "银行代扣"}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert "<html" not in page.content.decode()
    assert 'data-testid="kb-results"' in page.content.decode()


def test_writer_drafts_reviewer_publishes_in_the_console(client, town: Town, kb_changes):
    login(client, town.writer)
    form = {"category": "payment", "title": "自助终端怎么交电费？", "body": "在营业厅自助终端插入银行卡即可交费。",
            "questions": "自助机交费\n自助终端交电费", "tags": "自助终端", "source": "本地营业厅规程", "change_note": ""}
    bad = client.post("/console/kb/new/", {**form, "source": ""})
    assert bad.status_code == 422
    assert Article.objects.filter(versions__title="自助终端怎么交电费？").count() == 0
    created = client.post("/console/kb/new/", form)
    assert created.status_code == 302
    key = created["Location"].rstrip("/").rsplit("/", 1)[-1]
    client.post(f"/console/kb/{key}/submit/")
    # the author cannot approve (agents lack kb.review)
    assert client.post(f"/console/kb/{key}/approve/").status_code == 403
    login(client, town.reviewer)
    queue = client.get("/console/kb/review/").content.decode()
    assert key in queue
    client.post(f"/console/kb/{key}/approve/", {"note": "ok"})
    article = Article.objects.get(key=key)
    assert article.published_version.title == "自助终端怎么交电费？"
    assert article.published_version.reviewer == town.reviewer
    detail = client.get(f"/console/kb/{key}/").content.decode()
    assert "v1" in detail and "writer" in detail and "reviewer" in detail


def test_customer_is_sent_away_from_console_kb(client, town: Town):
    login(client, town.portal)
    assert client.get("/console/kb/").status_code == 302


def test_ivr_viewer_and_simulator(client, town: Town):
    login(client, town.writer)
    page = client.get("/console/assistant/ivr/95598/", {"keys": "2,4,2"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="ivr-tree"' in html
    assert "什么是峰谷分时电价" in html  # the simulator read the published article


def test_qa_pages_for_supervisors(client, town: Town):
    services.transcripts_import(actor=None, rows=transcripts(seed=3, as_of=AS_OF, n=12), as_of=AS_OF)
    login(client, town.writer)
    assert client.get("/console/assistant/qa/").status_code == 403
    login(client, town.supervisor_gd)
    page = client.get("/console/assistant/qa/")
    assert page.status_code == 200
    assert 'data-testid="qa-scores"' in page.content.decode()
    target = Inspection.objects.filter(status="review").first() or Inspection.objects.first()
    target.status = "review"
    target.save(update_fields=["status"])
    bad = client.post(f"/console/assistant/qa/{target.pk}/", {"final_score": 101, "note": "x"})
    assert bad.status_code == 422
    ok = client.post(f"/console/assistant/qa/{target.pk}/", {"final_score": 85, "note": "复核通过"})
    assert ok.status_code == 302
    target.refresh_from_db()
    assert (target.status, target.final_score) == ("reviewed", 85)


def test_portal_chat_answers_and_hands_over(client, town: Town):
    login(client, town.portal)
    page = client.get("/portal/assistant/")
    assert page.status_code == 200
    assert "在线智能客服" in page.content.decode() and "转人工" in page.content.decode()
    reply = client.post("/portal/assistant/", {"text": "峰谷电价怎么取消"}, HTTP_HX_REQUEST="true")
    html = reply.content.decode()
    assert 'data-article="change-006"' in html
    assert "<html" not in html
    conv = Conversation.objects.get(user=town.portal)
    assert conv.messages.count() == 2
    again = client.get("/portal/assistant/").content.decode()
    assert "峰谷电价怎么取消" in again  # the session keeps the conversation
    handed = client.post("/portal/assistant/handover/", HTTP_HX_REQUEST="true").content.decode()
    order = WorkOrder.objects.get()
    assert order.number in handed


@pytest.mark.parametrize("text", ["", "😀😀", "电" * 30000])
def test_portal_chat_bad_input_never_errors(client, town: Town, text):
    login(client, town.portal)
    response = client.post("/portal/assistant/", {"text": text}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'data-testid="chat-reply"' in response.content.decode()


def test_portal_chat_without_htmx_redirects_back(client, town: Town):
    login(client, town.portal)
    response = client.post("/portal/assistant/", {"text": "你好"})
    assert response.status_code == 302
    assert "您好，我是供电智能客服" in client.get("/portal/assistant/").content.decode()


def test_portal_help_centre_lists_only_published(client, town: Town, kb_changes):
    services.article_archive(actor=town.reviewer, key="payment-003", as_of=AS_OF)
    login(client, town.portal)
    html = client.get("/portal/help/", {"q": "银行代扣怎么签约"}).content.decode()
    assert 'data-article="payment-003"' not in html
    assert client.get("/portal/help/payment-003/").status_code == 404
    assert client.get("/portal/help/payment-001/").status_code == 200


def test_staff_is_sent_away_from_portal_chat(client, town: Town):
    login(client, town.writer)
    assert client.get("/portal/assistant/").status_code == 302
    other = f.user("billing_clerk", town.org["GZ"], username="clerk9")
    login(client, other)
    assert client.get("/console/kb/").status_code == 200

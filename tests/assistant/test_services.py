"""Knowledge-base sync and the two-person publishing workflow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridcare.assistant import selectors, services
from gridcare.assistant.kb import shipped_articles
from gridcare.assistant.models import Article, ArticleVersion
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from tests import factories as f
from tests.assistant.fixtures import AS_OF

LATER = AS_OF + timedelta(hours=1)


@pytest.fixture(autouse=True)
def _kb_changes(kb_changes):
    yield


def _input(**overrides):
    data = {"category": "payment", "title": "怎样在自助终端交电费？", "body": "在营业厅自助终端插入银行卡，输入户号即可交费。",
            "source": "本地营业厅操作规程", "tags": "自助终端, 交费", "questions": ["自助机怎么交电费"]}
    data.update(overrides)
    return services.ArticleInput(**data)


def test_sync_loads_every_shipped_article_published_and_is_idempotent(synced_kb):
    assert Article.objects.count() == len(shipped_articles())
    assert Article.objects.filter(published_version__isnull=True).count() == 0
    versions = ArticleVersion.objects.count()
    again = services.kb_sync(as_of=LATER)
    assert (again.created, again.updated, again.queued) == (0, 0, 0)
    assert again.unchanged == len(shipped_articles())
    assert ArticleVersion.objects.count() == versions


def test_two_person_workflow_draft_review_publish(town):
    draft = services.article_create(actor=town.writer, data=_input(), as_of=AS_OF)
    assert (draft.status, draft.number, draft.tags) == ("draft", 1, ["自助终端", "交费"])
    key = draft.article.key
    assert selectors.article_search(q="自助终端交费", published_only=True) == [] or key not in [
        a.key for a in selectors.article_search(q="自助终端交费", published_only=True)]

    services.article_submit(actor=town.writer, key=key, as_of=AS_OF)
    with pytest.raises(PermissionDenied):
        services.article_approve(actor=town.writer, key=key, as_of=LATER)  # agents may not review
    published = services.article_approve(actor=town.reviewer, key=key, as_of=LATER, note="已核对")
    assert (published.status, published.reviewer, published.published_at) == ("published", town.reviewer, LATER)
    hits = selectors.article_search(q="自助终端怎么交电费", published_only=True)
    assert hits[0].key == key


def test_reviewer_cannot_publish_own_version(town):
    admin = f.user("administrator", username="kbadmin")  # may both edit and review
    version = services.article_create(actor=admin, data=_input(), as_of=AS_OF)
    services.article_submit(actor=admin, key=version.article.key, as_of=AS_OF)
    with pytest.raises(PermissionDenied):
        services.article_approve(actor=admin, key=version.article.key, as_of=LATER)
    version.refresh_from_db()
    assert version.status == "review"


def test_edit_of_published_article_is_a_new_version_and_old_one_is_superseded(town):
    article = Article.objects.get(key="payment-001")
    before = article.published_version
    draft = services.article_edit(actor=town.writer, key="payment-001",
                                  data=_input(title=before.title, body=before.body + "\n（本地补充：支持云闪付。）",
                                              source=before.source), as_of=AS_OF)
    assert draft.number == before.number + 1
    article.refresh_from_db()
    assert article.published_version == before  # customers still see the old text
    services.article_submit(actor=town.writer, key="payment-001", as_of=AS_OF)
    with pytest.raises(services.UnableToChangeArticle):
        services.article_edit(actor=town.writer, key="payment-001", data=_input(), as_of=AS_OF)
    services.article_approve(actor=town.reviewer, key="payment-001", as_of=LATER)
    article.refresh_from_db()
    before.refresh_from_db()
    assert (article.published_version_id, before.status) == (draft.pk, "superseded")


def test_reject_returns_to_draft_with_reason(town):
    version = services.article_create(actor=town.writer, data=_input(), as_of=AS_OF)
    services.article_submit(actor=town.writer, key=version.article.key, as_of=AS_OF)
    with pytest.raises(ValidationFailed) as err:
        services.article_reject(actor=town.reviewer, key=version.article.key, note=" ", as_of=LATER)
    assert err.value.field == "note"
    services.article_reject(actor=town.reviewer, key=version.article.key, note="来源不够具体", as_of=LATER)
    version.refresh_from_db()
    assert (version.status, version.review_note) == ("draft", "来源不够具体")


def test_sync_does_not_overwrite_a_local_edit(town, tmp_path):
    import shutil

    from gridcare.assistant.kb import kb_dir

    services.article_edit(actor=town.writer, key="payment-002", data=_input(title="本地改过的标题"), as_of=AS_OF)
    services.article_submit(actor=town.writer, key="payment-002", as_of=AS_OF)
    services.article_approve(actor=town.reviewer, key="payment-002", as_of=AS_OF)
    corpus = tmp_path / "kb"
    shutil.copytree(kb_dir(), corpus)
    text = (corpus / "payment.yaml").read_text(encoding="utf-8")
    (corpus / "payment.yaml").write_text(text.replace("怎样在网上国网 App 交电费？", "怎样在网上国网交电费？"), encoding="utf-8")
    result = services.kb_sync(as_of=LATER, directory=corpus)
    assert (result.updated, result.queued) == (0, 1)
    article = Article.objects.get(key="payment-002")
    assert article.published_version.title == "本地改过的标题"
    queued = selectors.open_version(article=article)
    assert (queued.status, queued.title, queued.author) == ("review", "怎样在网上国网交电费？", None)


def test_invalid_article_input_names_the_field_and_writes_nothing(town):
    count = Article.objects.count()
    with pytest.raises(ValidationFailed) as err:
        services.article_create(actor=town.writer, data=_input(category="nope"), as_of=AS_OF)
    assert err.value.field == "category"
    with pytest.raises(ValidationFailed) as err:
        services.article_create(actor=town.writer, data=_input(body=""), as_of=AS_OF)
    assert err.value.field == "body"
    with pytest.raises(NotFound):
        services.article_submit(actor=town.writer, key="payment-999", as_of=AS_OF)
    assert Article.objects.count() == count


def test_portal_customer_cannot_edit(town):
    with pytest.raises(PermissionDenied):
        services.article_create(actor=town.portal, data=_input(), as_of=AS_OF)

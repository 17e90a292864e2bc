"""Writes of the assistant app. One transaction per public function; every function takes `as_of`.

Knowledge base: the shipped corpus is synchronised idempotently (`kb_sync`); articles written or
edited here go draft → review → published, and the person who publishes a version must not be the
person who wrote it (two-person rule). Conversations: each customer message is answered by the
engine and stored with the reply's reasons; a hand-over opens a service work order through the
service desk's own intake with the conversation attached. Quality inspection: transcripts are
imported all-or-nothing and inspected against the configured rules.

Errors raised: ValidationFailed (field named), NotFound, PermissionDenied, UnableToChangeArticle and
UnableToReviewInspection (409).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role, can
from gridcare.access.services import audit_record
from gridcare.assistant import kb, qa
from gridcare.assistant import selectors as sel
from gridcare.assistant.engine import Reply
from gridcare.assistant.facts import AccountFacts
from gridcare.assistant.models import (
    Article,
    ArticleCategory,
    ArticleVersion,
    Conversation,
    Inspection,
    Message,
    Transcript,
)
from gridcare.assistant.policy import assistant_policy
from gridcare.core.errors import GridcareError, NotFound, PermissionDenied, ValidationFailed
from gridcare.customers import selectors as customer_selectors
from gridcare.customers.models import OrgUnit

MAX_STORED_CHARS = 4000
KEY_RE = re.compile(r"^[a-z_]+-\d{3}$")
CHANNELS = ("portal", "app", "api", "console")


class UnableToChangeArticle(GridcareError):
    """The article's state does not allow the action (e.g. approving a version that is not in review)."""

    code = "invalid_state"
    status = 409


class UnableToReviewInspection(GridcareError):
    """The inspection is not waiting for review."""

    code = "invalid_state"
    status = 409


def _require(actor: User | None, capability: str) -> None:
    if actor is None or not actor.is_active or not can(actor.role, capability):
        raise PermissionDenied(f"your role may not do this ({capability})")


def _digest(*, category: str, title: str, body: str, tags: Sequence[str], questions: Sequence[str], source: str) -> str:
    blob = json.dumps([category, title, body, list(tags), list(questions), source], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _clean_list(value: Sequence[str] | str | None, *, field: str, limit: int = 30) -> list[str]:
    if value is None:
        return []
    items = re.split(r"[,，;；\n]", value) if isinstance(value, str) else [str(v) for v in value]
    items = [i.strip() for i in items if i and i.strip()]
    if len(items) > limit:
        raise ValidationFailed(f"at most {limit} entries", field=field)
    if any(len(i) > 100 for i in items):
        raise ValidationFailed("each entry must be at most 100 characters", field=field)
    return items


def _text(value: str | None, *, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"{field} is required", field=field)
    if len(value) > max_length:
        raise ValidationFailed(f"{field} is longer than {max_length} characters", field=field)
    return value


# -- knowledge base: sync ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncResult:
    categories: int
    created: int
    updated: int
    unchanged: int
    queued: int  # shipped changes to locally edited articles, put up for review instead of applied

    def summary(self) -> str:
        return (f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.queued} queued for review ({self.categories} categories)")


@transaction.atomic
def kb_sync(*, as_of: datetime, directory=None) -> SyncResult:
    """Bring the shipped corpus into the database. Idempotent: running it twice changes nothing.

    A shipped article not yet here is created and published (its review happened in the repository,
    with the source cited). A changed shipped article is published as a new version, unless someone
    edited it here: then the shipped text waits in review, so a local correction is never overwritten.
    """
    cats = kb.load_categories(directory)
    articles = kb.load_articles(directory)
    by_code: dict[str, ArticleCategory] = {}
    for pos, cat in enumerate(cats):
        obj, _ = ArticleCategory.objects.update_or_create(
            code=cat.code, defaults={"name": cat.name, "name_en": cat.name_en, "position": pos})
        by_code[cat.code] = obj
    existing = {a.key: a for a in Article.objects.select_related("published_version")}
    digests: dict[int, set[str]] = {}
    for art_id, digest in ArticleVersion.objects.values_list("article_id", "digest"):
        digests.setdefault(art_id, set()).add(digest)
    open_ids = set(ArticleVersion.objects.filter(status__in=["draft", "review"]).values_list("article_id", flat=True))
    created = updated = unchanged = queued = 0
    for item in articles:
        digest = _digest(category=item.category, title=item.title, body=item.body, tags=item.tags,
                         questions=item.questions, source=item.source)
        article = existing.get(item.id)
        fields = {"title": item.title, "body": item.body, "tags": list(item.tags), "questions": list(item.questions),
                  "source": item.source, "digest": digest, "created_at": as_of}
        if article is None:
            article = Article.objects.create(key=item.id, category=by_code[item.category], origin=Article.Origin.SHIPPED,
                                             created_at=as_of, updated_at=as_of)
            version = ArticleVersion.objects.create(article=article, number=1, status=ArticleVersion.Status.PUBLISHED,
                                                    published_at=as_of, change_note="shipped corpus", **fields)
            article.published_version = version
            article.save(update_fields=["published_version"])
            created += 1
            continue
        if digest in digests.get(article.pk, set()):
            unchanged += 1
            continue
        number = (article.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        published = article.published_version
        locally_edited = published is not None and published.author_id is not None
        if locally_edited or article.pk in open_ids:
            if article.pk in open_ids:
                unchanged += 1  # an edit is already in progress; the next sync will try again
                continue
            ArticleVersion.objects.create(article=article, number=number, status=ArticleVersion.Status.REVIEW,
                                          submitted_at=as_of, change_note="shipped corpus update", **fields)
            queued += 1
            continue
        if published is not None:
            published.status = ArticleVersion.Status.SUPERSEDED
            published.save(update_fields=["status"])
        version = ArticleVersion.objects.create(article=article, number=number, status=ArticleVersion.Status.PUBLISHED,
                                                published_at=as_of, change_note="shipped corpus update", **fields)
        article.published_version = version
        article.category = by_code[item.category]
        article.updated_at = as_of
        article.save(update_fields=["published_version", "category", "updated_at"])
        updated += 1
    if created or updated or queued:
        audit_record(actor=None, action=AuditEvent.Action.ACTION, object_type="kb", object_id="sync", at=as_of,
                     summary=f"knowledge base sync: {created} new, {updated} updated, {queued} queued")
    return SyncResult(len(cats), created, updated, unchanged, queued)


# -- knowledge base: editing workflow ------------------------------------------------------------------
def _article_for_update(key: str) -> Article:
    article = Article.objects.select_for_update().filter(key=key).first()
    if article is None:
        raise NotFound(f"article {key!r} not found", field="key")
    return article


def _next_key(category: ArticleCategory) -> str:
    taken = set(Article.objects.filter(key__startswith=f"{category.code}-").values_list("key", flat=True))
    for n in range(1, 1000):
        key = f"{category.code}-{n:03d}"
        if key not in taken:
            return key
    raise ValidationFailed(f"category {category.code} has no free article number", field="key")  # pragma: no cover


@dataclass(frozen=True)
class ArticleInput:
    category: str
    title: str
    body: str
    source: str
    tags: Sequence[str] | str = ()
    questions: Sequence[str] | str = ()
    change_note: str = ""


def _validated(data: ArticleInput) -> dict:
    category = ArticleCategory.objects.filter(code=data.category).first()
    if category is None:
        raise ValidationFailed(f"unknown category {data.category!r}", field="category")
    return {
        "category": category,
        "title": _text(data.title, field="title", max_length=200),
        "body": _text(data.body, field="body", max_length=20000),
        "source": _text(data.source, field="source", max_length=500),
        "tags": _clean_list(data.tags, field="tags"),
        "questions": _clean_list(data.questions, field="questions"),
        "change_note": (data.change_note or "").strip()[:255],
    }


@transaction.atomic
def article_create(*, actor: User, data: ArticleInput, as_of: datetime, key: str = "") -> ArticleVersion:
    """A new article as a draft (version 1). Needs kb.edit."""
    _require(actor, "kb.edit")
    clean = _validated(data)
    category = clean.pop("category")
    key = (key or "").strip() or _next_key(category)
    if not KEY_RE.match(key):
        raise ValidationFailed("key must look like 'tariff-021'", field="key")
    try:
        with transaction.atomic():
            article = Article.objects.create(key=key, category=category, created_at=as_of, updated_at=as_of)
    except IntegrityError:
        raise ValidationFailed(f"article {key!r} already exists", field="key") from None
    version = ArticleVersion.objects.create(
        article=article, number=1, author=actor, created_at=as_of,
        digest=_digest(category=category.code, title=clean["title"], body=clean["body"], tags=clean["tags"],
                       questions=clean["questions"], source=clean["source"]), **clean)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="kb_article", object_id=key, at=as_of,
                 summary=f"article {key} drafted: {clean['title']}"[:255])
    return version


@transaction.atomic
def article_edit(*, actor: User, key: str, data: ArticleInput, as_of: datetime) -> ArticleVersion:
    """Edit an article: updates the open draft, or starts a new draft from the current text.
    An article in review cannot be edited until the review is done (409)."""
    _require(actor, "kb.edit")
    article = _article_for_update(key)
    clean = _validated(data)
    category = clean.pop("category")
    digest = _digest(category=category.code, title=clean["title"], body=clean["body"], tags=clean["tags"],
                     questions=clean["questions"], source=clean["source"])
    current = sel.open_version(article=article)
    if current is not None and current.status == ArticleVersion.Status.REVIEW:
        raise UnableToChangeArticle(f"{key} v{current.number} is in review; it can be edited after the review",
                                    field="status")
    if article.category_id != category.pk:
        article.category = category
    article.updated_at = as_of
    article.save(update_fields=["category", "updated_at"])
    if current is not None:
        for name, value in clean.items():
            setattr(current, name, value)
        current.digest = digest
        current.author = actor
        current.save()
        return current
    number = (article.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return ArticleVersion.objects.create(article=article, number=number, author=actor, created_at=as_of, digest=digest,
                                         **clean)


@transaction.atomic
def article_submit(*, actor: User, key: str, as_of: datetime) -> ArticleVersion:
    """Draft → review."""
    _require(actor, "kb.edit")
    article = _article_for_update(key)
    version = sel.open_version(article=article)
    if version is None or version.status != ArticleVersion.Status.DRAFT:
        raise UnableToChangeArticle(f"{key} has no draft to submit", field="status")
    version.status = ArticleVersion.Status.REVIEW
    version.submitted_at = as_of
    version.save(update_fields=["status", "submitted_at"])
    return version


def _in_review(article: Article) -> ArticleVersion:
    version = sel.open_version(article=article)
    if version is None or version.status != ArticleVersion.Status.REVIEW:
        raise UnableToChangeArticle(f"{article.key} has no version in review", field="status")
    return version


@transaction.atomic
def article_approve(*, actor: User, key: str, as_of: datetime, note: str = "") -> ArticleVersion:
    """Review → published. Needs kb.review, and the reviewer must not be the version's author."""
    _require(actor, "kb.review")
    article = _article_for_update(key)
    version = _in_review(article)
    if version.author_id is not None and version.author_id == actor.pk:
        raise PermissionDenied("the author of a version cannot publish it; another reviewer must approve it")
    previous = article.published_version
    if previous is not None:
        previous.status = ArticleVersion.Status.SUPERSEDED
        previous.save(update_fields=["status"])
    version.status = ArticleVersion.Status.PUBLISHED
    version.reviewer = actor
    version.reviewed_at = as_of
    version.published_at = as_of
    version.review_note = (note or "").strip()[:500]
    version.save(update_fields=["status", "reviewer", "reviewed_at", "published_at", "review_note"])
    article.published_version = version
    article.archived = False
    article.updated_at = as_of
    article.save(update_fields=["published_version", "archived", "updated_at"])
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="kb_article", object_id=key, at=as_of,
                 summary=f"article {key} v{version.number} published",
                 before={"version": previous.number if previous else None}, after={"version": version.number})
    return version


@transaction.atomic
def article_reject(*, actor: User, key: str, note: str, as_of: datetime) -> ArticleVersion:
    """Review → back to draft, with the reviewer's reason (required)."""
    _require(actor, "kb.review")
    note = _text(note, field="note", max_length=500)
    article = _article_for_update(key)
    version = _in_review(article)
    if version.author_id is not None and version.author_id == actor.pk:
        raise PermissionDenied("the author of a version cannot review it")
    version.status = ArticleVersion.Status.DRAFT
    version.reviewer = actor
    version.reviewed_at = as_of
    version.review_note = note
    version.save(update_fields=["status", "reviewer", "reviewed_at", "review_note"])
    return version


@transaction.atomic
def article_archive(*, actor: User, key: str, as_of: datetime, archived: bool = True) -> Article:
    """Hide an article from customers (or show it again); its versions are kept."""
    _require(actor, "kb.review")
    article = _article_for_update(key)
    article.archived = archived
    article.updated_at = as_of
    article.save(update_fields=["archived", "updated_at"])
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="kb_article", object_id=key, at=as_of,
                 summary=f"article {key} {'archived' if archived else 'restored'}")
    return article


# -- conversations -----------------------------------------------------------------------------------
def _default_account(user: User, as_of: datetime):
    if user.role != Role.CUSTOMER:
        return None
    accounts = customer_selectors.account_list(user=user, as_of=as_of.date())
    own = accounts.filter(customer_id=user.customer_id).first()
    return own or accounts.first()


@transaction.atomic
def conversation_start(*, user: User, channel: str, as_of: datetime, account_number: str = "") -> Conversation:
    if not user.is_active:
        raise PermissionDenied("inactive user")
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    account = None
    if account_number:
        account = customer_selectors.account_get(user=user, number=account_number.strip(), as_of=as_of.date())
        if account is None:
            raise ValidationFailed(f"account {account_number!r} not found", field="account_number")
    else:
        account = _default_account(user, as_of)
    customer = user.customer if user.role == Role.CUSTOMER else (account.customer if account else None)
    return Conversation.objects.create(token=uuid.uuid4().hex, channel=channel, user=user, customer=customer,
                                       account=account, started_at=as_of, last_message_at=as_of)


def _conversation_for_update(user: User, token: str) -> Conversation:
    visible = Conversation.objects.filter(sel.conversation_scope_q(user), token=token).values("pk")
    conv = Conversation.objects.select_for_update().filter(pk__in=visible).first()
    if conv is None:
        raise NotFound("conversation not found", field="token")
    return conv


def _message(conv: Conversation, *, role: str, text: str, at: datetime, reply: Reply | None = None,
             article_pk: int | None = None) -> Message:
    seq = (conv.messages.aggregate(n=Max("seq"))["n"] or 0) + 1
    fields: dict = {}
    if reply is not None:
        ref = reply.answered_article
        fields = {
            "kind": reply.kind, "intent": reply.intent, "intent_confidence": reply.intent_confidence,
            "retrieval_confidence": reply.retrieval_confidence, "low_confidence": reply.low_confidence,
            "offer": reply.offer, "article_id": article_pk, "article_version": ref.version if ref else None,
            "data": {"level1": reply.level1, "complaint_category": reply.complaint_category,
                     "suggestions": [s.id for s in reply.suggestions], "handover": reply.handover,
                     "facts": reply.facts, "notes": list(reply.notes), "article": ref.id if ref else None},
        }
    return Message.objects.create(conversation=conv, seq=seq, role=role, text=text[:MAX_STORED_CHARS], at=at, **fields)


def transcript_text(conv: Conversation) -> str:
    lines = [f"会话 {conv.token}（{conv.channel}），开始于 {conv.started_at:%Y-%m-%d %H:%M:%S}"]
    if conv.account_id:
        lines.append(f"户号 {conv.account.number}")
    for m in conv.messages.order_by("seq"):
        who = "客户" if m.role == Message.Role.CUSTOMER else "智能客服"
        extra = f" [意图 {m.intent} {m.intent_confidence:.2f}]" if m.intent and m.intent_confidence is not None else ""
        lines.append(f"{m.at:%H:%M:%S} {who}{extra}：{m.text}")
    return "\n".join(lines) + "\n"


def _handover(conv: Conversation, *, user: User, reason: str, intent: str, complaint_category: str,
              as_of: datetime) -> str:
    """Open the work order (or return the one already opened). Returns the reply text."""
    from gridcare.service import services as service_services

    policy = assistant_policy()
    if conv.work_order_id is not None:
        return policy.reply("handover_existing", number=conv.work_order.number)
    if user.role != Role.CUSTOMER or conv.customer_id is None:
        return policy.reply("handover_needs_customer")
    # The order belongs to the account holder. An authorised person filing on someone else's account
    # cannot see (so cannot attach to) that order afterwards; then the description carries the whole
    # conversation instead of the last turns plus an attachment.
    attach = conv.account_id is None or conv.account.customer_id == user.customer_id
    if attach:
        recent = list(conv.messages.order_by("-seq")[: policy.handover.description_turns])[::-1]
        convo = "最近对话：\n" + "\n".join(
            f"{'客户' if m.role == Message.Role.CUSTOMER else '智能客服'}：{m.text[:300]}" for m in recent)
        head = f"智能客服转人工（{policy.handover_reason(reason)}）。完整对话见附件。"
    else:
        convo = transcript_text(conv)
        head = f"智能客服转人工（{policy.handover_reason(reason)}）。"
    last_question = conv.messages.filter(role=Message.Role.CUSTOMER).order_by("-seq").values_list(
        "text", flat=True).first() or ""
    data = service_services.WorkOrderInput(
        channel="portal" if conv.channel in ("portal", "console") else "app",
        description=f"{head}\n{convo}"[:3900],
        subject=f"智能客服转人工：{last_question[:40] or policy.handover_reason(reason)}"[:200],
        category=policy.work_order_category(intent, complaint_category),
        account_number=conv.account.number if conv.account_id else "",
        external_ref=f"assistant:{conv.token}",
    )
    order = service_services.work_order_create(actor=user, data=data, as_of=as_of)
    if attach:
        service_services.attachment_add(actor=user, number=order.number, name=f"assistant-{conv.token[:12]}.txt",
                                        content=transcript_text(conv).encode("utf-8"), as_of=as_of)
    conv.work_order = order
    conv.status = Conversation.Status.HANDED_OVER
    conv.handover_reason = reason
    conv.save(update_fields=["work_order", "status", "handover_reason"])
    template = "handover_done" if reason in ("asked", "ticket", "repair") else "handover_auto"
    return policy.reply(template, number=order.number, reason=policy.handover_reason(reason))


@dataclass(frozen=True)
class PostResult:
    conversation: Conversation
    question: Message
    answer: Message
    reply: Reply


@transaction.atomic
def conversation_post(*, user: User, token: str, text: str, as_of: datetime, account_number: str = "") -> PostResult:
    """Answer one customer message. Never fails on the message's content: empty, very long,
    mixed-language or emoji-only text gets a reply like any other."""
    conv = _conversation_for_update(user, token)
    if account_number and (conv.account is None or conv.account.number != account_number.strip()):
        account = customer_selectors.account_get(user=user, number=account_number.strip(), as_of=as_of.date())
        if account is None:
            raise ValidationFailed(f"account {account_number!r} not found", field="account_number")
        conv.account = account
    policy = assistant_policy()
    history = sel.history(conversation=conv)
    recent = 0
    if not history and conv.customer_id is not None:
        recent = sel.recent_conversations(customer_id=conv.customer_id, exclude_id=conv.pk, as_of=as_of,
                                          hours=policy.handover.repeat_window_hours)
    facts = None
    if conv.account_id is not None:
        others = 0
        if user.role == Role.CUSTOMER:
            others = max(0, customer_selectors.account_list(user=user, as_of=as_of.date()).count() - 1)
        facts = AccountFacts(user=user, account=conv.account, as_of=as_of, other_accounts=others)
    assistant = sel.published_assistant()
    reply = assistant.reply(text, account=facts, history=history, recent_conversations=recent)
    question = _message(conv, role=Message.Role.CUSTOMER, text=text or "", at=as_of)
    answer_text = reply.text
    if reply.handover:
        answer_text = _handover(conv, user=user, reason=reply.handover, intent=reply.intent,
                                complaint_category=reply.complaint_category, as_of=as_of)
        if reply.notes:
            answer_text = "\n".join([*reply.notes, answer_text])
    elif reply.notes:
        answer_text = "\n".join([*reply.notes, answer_text])
    ref = reply.answered_article
    article_pk = Article.objects.filter(key=ref.id).values_list("pk", flat=True).first() if ref else None
    answer = _message(conv, role=Message.Role.ASSISTANT, text=answer_text, at=as_of, reply=reply, article_pk=article_pk)
    conv.last_message_at = as_of
    conv.save(update_fields=["account", "last_message_at"])
    return PostResult(conversation=conv, question=question, answer=answer, reply=reply)


@transaction.atomic
def conversation_handover(*, user: User, token: str, as_of: datetime, reason: str = "asked") -> PostResult:
    """The customer pressed "转人工": open the work order now, whatever the assistant thought."""
    if reason not in ("asked", "ticket", "repair"):
        raise ValidationFailed("reason must be asked, ticket or repair", field="reason")
    conv = _conversation_for_update(user, token)
    last = conv.messages.filter(role=Message.Role.ASSISTANT, intent__gt="").order_by("-seq").first()
    intent = last.intent if last else ""
    category = (last.data or {}).get("complaint_category", "") if last else ""
    question = _message(conv, role=Message.Role.CUSTOMER, text="转人工", at=as_of)
    text = _handover(conv, user=user, reason=reason, intent=intent, complaint_category=category, as_of=as_of)
    reply = Reply(text=text, kind="handover", intent=intent, handover=reason)
    answer = _message(conv, role=Message.Role.ASSISTANT, text=text, at=as_of, reply=reply)
    conv.last_message_at = as_of
    conv.save(update_fields=["last_message_at"])
    return PostResult(conversation=conv, question=question, answer=answer, reply=reply)


# -- quality inspection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TranscriptImport:
    created: int
    skipped: int  # external ids already imported
    review: int  # of the created, how many went to the review queue


def _parse_transcript(row: dict, pos: int) -> dict:
    if not isinstance(row, dict):
        raise ValidationFailed(f"item {pos}: not an object", field="transcripts")
    ext = str(row.get("id") or row.get("external_id") or "").strip()
    if not ext or len(ext) > 64:
        raise ValidationFailed(f"item {pos}: id is required (at most 64 characters)", field="id")
    channel = str(row.get("channel") or "")
    if channel not in qa.CHANNELS:
        raise ValidationFailed(f"item {pos} ({ext}): channel must be chat or call", field="channel")
    agent = str(row.get("agent") or "").strip()
    if not agent or len(agent) > 64:
        raise ValidationFailed(f"item {pos} ({ext}): agent is required", field="agent")
    try:
        started = datetime.fromisoformat(str(row.get("started_at") or ""))
    except ValueError:
        raise ValidationFailed(f"item {pos} ({ext}): started_at must be an ISO date-time with zone",
                               field="started_at") from None
    if started.tzinfo is None:
        raise ValidationFailed(f"item {pos} ({ext}): started_at needs a time zone", field="started_at")
    try:
        turns = qa.parse_turns(row.get("turns"))
    except ValidationFailed as exc:
        raise ValidationFailed(f"item {pos} ({ext}): {exc.message}", field="turns") from None
    return {"external_id": ext, "channel": channel, "agent_name": agent, "started_at": started, "turns": turns,
            "org_unit": str(row.get("org_unit") or ""), "work_order": str(row.get("work_order") or "")[:24]}


@transaction.atomic
def transcripts_import(*, actor: User | None, rows: Sequence[dict], as_of: datetime) -> TranscriptImport:
    """Import and inspect transcripts, all or nothing. An id seen before is skipped, so re-importing a
    file is harmless. `agent` matching a username links the transcript to that user."""
    if actor is not None:
        _require(actor, "service.supervise")
    if not rows:
        raise ValidationFailed("no transcripts in the file", field="transcripts")
    rules = qa.load_rules()
    parsed = [_parse_transcript(row, pos) for pos, row in enumerate(rows, start=1)]
    seen_ids = [p["external_id"] for p in parsed]
    dupes = sorted({x for x in seen_ids if seen_ids.count(x) > 1})
    if dupes:
        raise ValidationFailed(f"duplicate ids in the file: {', '.join(dupes[:10])}", field="id")
    existing = set(Transcript.objects.filter(external_id__in=seen_ids).values_list("external_id", flat=True))
    users = {u.username: u for u in User.objects.filter(username__in={p["agent_name"] for p in parsed})}
    units = {u.code: u for u in OrgUnit.objects.filter(code__in={p["org_unit"] for p in parsed if p["org_unit"]})}
    created = review = 0
    for p in parsed:
        if p["external_id"] in existing:
            continue
        agent = users.get(p["agent_name"])
        unit = units.get(p["org_unit"]) or (agent.org_unit if agent is not None else None)
        if p["org_unit"] and p["org_unit"] not in units:
            raise ValidationFailed(f"{p['external_id']}: unknown org unit {p['org_unit']!r}", field="org_unit")
        transcript = Transcript.objects.create(
            external_id=p["external_id"], channel=p["channel"], agent=agent,
            agent_name=(agent.display_name or agent.username) if agent else p["agent_name"], org_unit=unit,
            started_at=p["started_at"], turns=[{"speaker": t.speaker, "text": t.text, "t": t.t} for t in p["turns"]],
            work_order_number=p["work_order"], imported_at=as_of)
        result = qa.inspect(p["turns"], channel=p["channel"], rules=rules)
        Inspection.objects.create(
            transcript=transcript, rules_digest=rules.digest, score=result.score, findings=result.findings_data(),
            status=Inspection.Status.REVIEW if result.needs_review else Inspection.Status.PASSED, inspected_at=as_of)
        created += 1
        review += result.needs_review
    return TranscriptImport(created=created, skipped=len(parsed) - created, review=review)


@transaction.atomic
def inspection_review(*, actor: User, inspection_id: int, final_score: int, note: str, as_of: datetime) -> Inspection:
    """A supervisor confirms or corrects an inspection from the review queue."""
    _require(actor, "service.supervise")
    visible = Inspection.objects.filter(sel.inspection_scope_q(actor), pk=inspection_id).values("pk")
    inspection = Inspection.objects.select_for_update().filter(pk__in=visible).first()
    if inspection is None:
        raise NotFound("inspection not found", field="inspection_id")
    if inspection.status != Inspection.Status.REVIEW:
        raise UnableToReviewInspection("this inspection is not waiting for review", field="status")
    if not isinstance(final_score, int) or not 0 <= final_score <= 100:
        raise ValidationFailed("final score must be a whole number from 0 to 100", field="final_score")
    if inspection.transcript.agent_id is not None and inspection.transcript.agent_id == actor.pk:
        raise PermissionDenied("an agent cannot review their own inspection")
    inspection.final_score = final_score
    inspection.review_note = _text(note, field="note", max_length=500)
    inspection.reviewer = actor
    inspection.reviewed_at = as_of
    inspection.status = Inspection.Status.REVIEWED
    inspection.save(update_fields=["final_score", "review_note", "reviewer", "reviewed_at", "status"])
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="qa_inspection", object_id=inspection.pk,
                 at=as_of, summary=f"inspection of {inspection.transcript.external_id} reviewed",
                 before={"score": inspection.score}, after={"final_score": final_score})
    return inspection


@transaction.atomic
def inspections_rerun(*, actor: User | None, as_of: datetime) -> int:
    """Re-inspect transcripts whose inspection used other rules (after the rules file changed).
    Reviewed inspections keep the reviewer's verdict."""
    if actor is not None:
        _require(actor, "service.supervise")
    rules = qa.load_rules()
    n = 0
    for inspection in (Inspection.objects.select_for_update().exclude(rules_digest=rules.digest)
                       .exclude(status=Inspection.Status.REVIEWED).select_related("transcript")):
        t = inspection.transcript
        result = qa.inspect(qa.parse_turns(t.turns), channel=t.channel, rules=rules)
        inspection.score = result.score
        inspection.findings = result.findings_data()
        inspection.status = Inspection.Status.REVIEW if result.needs_review else Inspection.Status.PASSED
        inspection.rules_digest = rules.digest
        inspection.inspected_at = as_of
        inspection.save(update_fields=["score", "findings", "status", "rules_digest", "inspected_at"])
        n += 1
    return n

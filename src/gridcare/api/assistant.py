"""Assistant API at /api/v1/assistant: chat conversations (answers with the article used and the
customer's own data, hand-over to a person as a work order), knowledge-base search, intent
classification and quality-inspection import and scores.

A portal customer's token chats about their own accounts (channel "app"); a staff token can chat to
test answers (channel "api") but cannot hand over, since a work order needs a customer. Message text
of any content gets a reply (empty, emoji only, mixed language, very long up to 20,000 characters).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from gridcare.access.roles import Role, can
from gridcare.api.schemas.common import ERRORS
from gridcare.assistant import selectors, services
from gridcare.assistant.models import Message
from gridcare.core.errors import NotFound, PermissionDenied

router = Router()


class ConversationIn(Schema):
    account_number: str = Field("", max_length=32, description="account to talk about (default: the customer's own)")


class ConversationOut(Schema):
    token: str
    channel: str
    account_number: str | None
    status: str
    work_order: str | None


class MessageIn(Schema):
    text: str = Field("", max_length=20000, description="the customer's message (any content)")
    account_number: str = Field("", max_length=32, description="switch the conversation to this account")


class ArticleRefOut(Schema):
    key: str
    title: str
    version: int | None = None


class ReplyOut(Schema):
    text: str
    kind: str = Field(description="invalid | fixed | out_of_domain | answer | suggest | not_found | account | "
                                  "ticket | handover")
    intent: str
    intent_confidence: float | None
    retrieval_confidence: float | None
    article: ArticleRefOut | None
    suggestions: list[str]
    offer: str = Field(description="what a reply of 好的 would accept: handover | ticket | repair | ''")
    handover: str = Field(description="reason when this reply handed over to a person, else ''")
    work_order: str | None
    facts: dict


class MessageOut(Schema):
    seq: int
    role: str
    text: str
    at: datetime
    kind: str
    intent: str
    article: str | None


class HandoverIn(Schema):
    reason: str = Field("asked", description="asked | ticket | repair")


class ArticleOut(Schema):
    key: str
    category: str
    title: str
    body: str
    source: str
    tags: list[str]
    version: int
    published_at: datetime | None


class ArticleHit(Schema):
    key: str
    category: str
    title: str
    version: int


class ArticleQuery(Schema):
    q: str = Field("", max_length=200)
    category: str = Field("", max_length=32)
    limit: int = Field(20, ge=1, le=200)


class ClassifyIn(Schema):
    text: str = Field(..., max_length=20000)


class ClassifyOut(Schema):
    intent: str
    level1: str
    confidence: float
    complaint_category: str
    alternatives: list[tuple[str, float]]


class TranscriptsIn(Schema):
    transcripts: list[dict] = Field(..., min_length=1, max_length=5000)


class TranscriptsOut(Schema):
    created: int
    skipped: int
    review: int


class AgentScoreOut(Schema):
    agent: str
    inspected: int
    average: float
    passed: int
    in_review: int
    findings: dict[str, int]


def _conversation(conv) -> dict:
    return {"token": conv.token, "channel": conv.channel, "account_number": conv.account.number if conv.account_id else None,
            "status": conv.status, "work_order": conv.work_order.number if conv.work_order_id else None}


def _reply(result) -> dict:
    m: Message = result.answer
    conv = result.conversation
    article = None
    if m.article_id is not None:
        published = m.article.published_version
        article = {"key": m.article.key, "title": published.title if published else m.article.key,
                   "version": m.article_version}
    return {
        "text": m.text, "kind": m.kind, "intent": m.intent, "intent_confidence": m.intent_confidence,
        "retrieval_confidence": m.retrieval_confidence, "article": article,
        "suggestions": list((m.data or {}).get("suggestions") or ()), "offer": m.offer,
        "handover": result.reply.handover, "work_order": conv.work_order.number if conv.work_order_id else None,
        "facts": (m.data or {}).get("facts") or {},
    }


def _channel(request) -> str:
    return "app" if request.user.role == Role.CUSTOMER else "api"


@router.post("/conversations", response={201: ConversationOut, **ERRORS}, summary="Start a conversation")
def conversation_start(request, body: ConversationIn):
    conv = services.conversation_start(user=request.user, channel=_channel(request), as_of=timezone.now(),
                                       account_number=body.account_number)
    return Status(201, _conversation(conv))


@router.get("/conversations/{token}", response={200: list[MessageOut], **ERRORS}, summary="A conversation's messages")
def conversation_messages(request, token: str):
    conv = selectors.conversation_get(user=request.user, token=token)
    if conv is None:
        raise NotFound("conversation not found", field="token")
    return [{"seq": m.seq, "role": m.role, "text": m.text, "at": m.at, "kind": m.kind, "intent": m.intent,
             "article": m.article.key if m.article_id else None} for m in selectors.messages(conversation=conv)]


@router.post("/conversations/{token}/messages", response={200: ReplyOut, **ERRORS}, summary="Ask the assistant")
def conversation_message(request, token: str, body: MessageIn):
    result = services.conversation_post(user=request.user, token=token, text=body.text, as_of=timezone.now(),
                                        account_number=body.account_number)
    return _reply(result)


@router.post("/conversations/{token}/handover", response={200: ReplyOut, **ERRORS},
             summary="Hand the conversation to a person (opens a work order)")
def conversation_handover(request, token: str, body: HandoverIn):
    result = services.conversation_handover(user=request.user, token=token, as_of=timezone.now(), reason=body.reason)
    return _reply(result)


@router.get("/articles", response={200: list[ArticleHit], **ERRORS}, summary="Search published articles")
def article_search(request, query: Query[ArticleQuery]):
    articles = selectors.article_search(q=query.q, category=query.category, published_only=True, limit=query.limit)
    return [{"key": a.key, "category": a.category.code, "title": a.published_version.title,
             "version": a.published_version.number} for a in articles]


@router.get("/articles/{key}", response={200: ArticleOut, **ERRORS}, summary="One published article")
def article_get(request, key: str):
    article = selectors.article_get(key=key, published_only=True)
    if article is None:
        raise NotFound(f"article {key!r} not found", field="key")
    v = article.published_version
    return {"key": article.key, "category": article.category.code, "title": v.title, "body": v.body,
            "source": v.source, "tags": list(v.tags or ()), "version": v.number, "published_at": v.published_at}


@router.post("/classify", response={200: ClassifyOut, **ERRORS}, summary="Intent and complaint category of a text")
def classify(request, body: ClassifyIn):
    if request.user.role == Role.CUSTOMER:
        raise PermissionDenied("staff only")
    from gridcare.assistant import classifier

    p = classifier.shipped().predict(body.text)
    return {"intent": p.intent, "level1": p.level1, "confidence": p.confidence,
            "complaint_category": p.complaint_category, "alternatives": list(p.alternatives)}


@router.post("/qa/transcripts", response={201: TranscriptsOut, **ERRORS},
             summary="Import chat/call transcripts for quality inspection (all or nothing)")
def transcripts_import(request, body: TranscriptsIn):
    result = services.transcripts_import(actor=request.user, rows=body.transcripts, as_of=timezone.now())
    return Status(201, {"created": result.created, "skipped": result.skipped, "review": result.review})


@router.get("/qa/agents", response={200: list[AgentScoreOut], **ERRORS}, summary="Quality scores per agent")
def agent_scores(request):
    if not can(request.user.role, "service.supervise"):
        raise PermissionDenied("your role may not do this (service.supervise)")
    return [s.__dict__ for s in selectors.agent_scores(user=request.user)]

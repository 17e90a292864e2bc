"""Reads of the assistant app: knowledge-base search and review queue, the published index the chat
answers from, conversations, and quality-inspection queues and scores.

The published index is rebuilt only when the knowledge base changes (one cheap aggregate per call
decides), so every web process answers from what is published now without paying the ~0.4 s build on
each message.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, Max, Q, QuerySet

from gridcare.access.models import User
from gridcare.access.roles import Role, can
from gridcare.assistant import kb
from gridcare.assistant.engine import Assistant, PastTurn
from gridcare.assistant.models import (
    Article,
    ArticleCategory,
    ArticleVersion,
    Conversation,
    Inspection,
    Message,
)
from gridcare.assistant.qa import load_rules
from gridcare.assistant.retrieval import KnowledgeIndex, shipped_index

log = logging.getLogger("gridcare.assistant")
_lock = threading.Lock()
_cache: dict[str, object] = {}


# -- knowledge base -----------------------------------------------------------------------------------
def categories() -> QuerySet[ArticleCategory]:
    return ArticleCategory.objects.annotate(
        published=Count("articles", filter=Q(articles__published_version__isnull=False, articles__archived=False))
    ).order_by("position", "code")


def kb_revision() -> tuple:
    """Changes whenever an article is published, archived or re-categorised."""
    agg = Article.objects.aggregate(n=Count("id"), last=Max("updated_at"), version=Max("published_version_id"))
    return agg["n"], agg["last"], agg["version"]


def reset_cache() -> None:
    """Forget the cached index (tests; a process that changed the corpus files)."""
    with _lock:
        _cache.clear()


def published_articles() -> list[kb.Article]:
    rows = (Article.objects.filter(archived=False, published_version__isnull=False)
            .select_related("category", "published_version").order_by("category__position", "key"))
    return [
        kb.Article(id=a.key, category=a.category.code, title=v.title, body=v.body, source=v.source,
                   tags=tuple(v.tags or ()), questions=tuple(v.questions or ()), extra={"version": v.number})
        for a in rows for v in [a.published_version]
    ]


def published_index() -> KnowledgeIndex:
    """Index over the published articles. Before the first `kb_sync` (no articles at all) it is the
    shipped corpus, so a fresh install still answers; from then on the database is authoritative."""
    stamp = kb_revision()
    with _lock:
        if _cache.get("stamp") == stamp and "index" in _cache:
            return _cache["index"]  # type: ignore[return-value]
    index = KnowledgeIndex(published_articles()) if stamp[0] else shipped_index()
    with _lock:
        _cache.update(stamp=stamp, index=index, assistant=None)
    return index


def published_assistant() -> Assistant:
    from gridcare.assistant import classifier
    from gridcare.assistant.policy import assistant_policy

    index = published_index()
    with _lock:
        cached = _cache.get("assistant")
        if isinstance(cached, Assistant) and cached.index is index and cached.policy is assistant_policy():
            return cached
    made = Assistant(index=index, classifier=classifier.shipped(), policy=assistant_policy())
    with _lock:
        if _cache.get("index") is index:
            _cache["assistant"] = made
    return made


def assistant_warm_up() -> None:
    """Build the published index and load the classifier (about 5 s on 2 cores) before the first
    customer asks, so the first question of a fresh web process is answered as fast as the rest.
    Called in a background thread by the web entry point; a failure only costs that head start."""
    try:
        published_assistant().reply("电费")
    except Exception:  # the assistant builds itself again on the first question
        log.exception("assistant warm-up failed; it will be built on the first question")


def article_search(*, q: str = "", category: str = "", published_only: bool = True, status: str = "",
                   limit: int = 50) -> list[Article]:
    """Articles for the console (any state) or the portal (published only), best match first.

    Published text is ranked by the same BM25 index the chat uses; drafts and articles in review
    (console only) are matched by title/body substring and listed after the ranked ones."""
    qs = Article.objects.select_related("category", "published_version")
    if published_only:
        qs = qs.filter(archived=False, published_version__isnull=False)
    if category:
        qs = qs.filter(category__code=category)
    if status == "archived":
        qs = qs.filter(archived=True)
    elif status:
        qs = qs.filter(versions__status=status, archived=False).distinct()
    q = (q or "").strip()[:200]
    if not q:
        return list(qs.order_by("category__position", "key")[:limit])
    ranked = [h.article.id for h in published_index().search(q, k=limit)]
    found = {a.key: a for a in qs.filter(key__in=ranked)}
    out = [found[k] for k in ranked if k in found]
    if not published_only and len(out) < limit:
        seen = {a.pk for a in out}
        extra = qs.filter(Q(key__iexact=q) | Q(versions__title__icontains=q) | Q(versions__body__icontains=q)).exclude(
            pk__in=seen).distinct().order_by("key")
        out += list(extra[: limit - len(out)])
    return out


def article_get(*, key: str, published_only: bool = False) -> Article | None:
    qs = Article.objects.select_related("category", "published_version", "published_version__reviewer")
    if published_only:
        qs = qs.filter(archived=False, published_version__isnull=False)
    return qs.filter(key=key).first()


def article_versions(*, article: Article) -> QuerySet[ArticleVersion]:
    return article.versions.select_related("author", "reviewer").order_by("-number")


def open_version(*, article: Article) -> ArticleVersion | None:
    return article.versions.filter(status__in=[ArticleVersion.Status.DRAFT, ArticleVersion.Status.REVIEW]).first()


def review_queue() -> QuerySet[ArticleVersion]:
    return (ArticleVersion.objects.filter(status=ArticleVersion.Status.REVIEW)
            .select_related("article", "article__category", "author").order_by("submitted_at", "id"))


def kb_counts() -> dict[str, int]:
    agg = Article.objects.aggregate(
        total=Count("id"), published=Count("id", filter=Q(published_version__isnull=False, archived=False)),
        archived=Count("id", filter=Q(archived=True)),
    )
    agg["review"] = ArticleVersion.objects.filter(status=ArticleVersion.Status.REVIEW).count()
    agg["draft"] = ArticleVersion.objects.filter(status=ArticleVersion.Status.DRAFT).count()
    return agg


# -- conversations ------------------------------------------------------------------------------------
def conversation_scope_q(user: User) -> Q:
    if user.role == Role.CUSTOMER:
        return Q(user=user)
    if can(user.role, "service.work"):
        return Q()
    return Q(user=user)


def conversation_get(*, user: User, token: str) -> Conversation | None:
    return (Conversation.objects.filter(conversation_scope_q(user), token=token)
            .select_related("account", "customer", "work_order").first())


def conversation_list(*, user: User, status: str = "", limit: int = 100) -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(conversation_scope_q(user)).select_related("customer", "account", "work_order")
    if status:
        qs = qs.filter(status=status)
    return qs.annotate(n=Count("messages")).filter(n__gt=0).order_by("-last_message_at", "-id")[:limit]


def messages(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.select_related("article").order_by("seq")


def history(*, conversation: Conversation) -> list[PastTurn]:
    rows = conversation.messages.filter(role=Message.Role.ASSISTANT).order_by("seq").values(
        "intent", "kind", "low_confidence", "offer")
    return [PastTurn(intent=r["intent"], kind=r["kind"], low_confidence=r["low_confidence"], offer=r["offer"])
            for r in rows]


def recent_conversations(*, customer_id: int | None, exclude_id: int, as_of: datetime, hours: float) -> int:
    """Other conversations of the customer with at least one message in the repeated-contact window."""
    if customer_id is None:
        return 0
    since = as_of - timedelta(hours=hours)
    return (Conversation.objects.filter(customer_id=customer_id, last_message_at__gt=since, started_at__lte=as_of)
            .exclude(pk=exclude_id).filter(messages__isnull=False).distinct().count())


# -- quality inspection -------------------------------------------------------------------------------
def inspection_scope_q(user: User) -> Q:
    if user.role == Role.ADMINISTRATOR and user.org_unit_id is None:
        return Q()
    if user.org_unit_id is None:
        return Q(transcript__agent=user)
    # Transcripts of agents unknown here (imported from another system) have no unit: every
    # supervisor may pick them up.
    return (Q(transcript__org_unit__path__startswith=user.org_unit.path) | Q(transcript__agent=user)
            | Q(transcript__org_unit__isnull=True))


def inspection_list(*, user: User, status: str = "", agent: str = "", limit: int = 200) -> QuerySet[Inspection]:
    qs = Inspection.objects.filter(inspection_scope_q(user)).select_related("transcript", "reviewer")
    if status:
        qs = qs.filter(status=status)
    if agent:
        qs = qs.filter(transcript__agent_name=agent)
    return qs.order_by("-transcript__started_at", "-id")[:limit]


def review_queue_inspections(*, user: User) -> QuerySet[Inspection]:
    return (Inspection.objects.filter(inspection_scope_q(user), status=Inspection.Status.REVIEW)
            .select_related("transcript").order_by("score", "transcript__started_at", "id"))


def inspection_get(*, user: User, inspection_id: int) -> Inspection | None:
    return (Inspection.objects.filter(inspection_scope_q(user), pk=inspection_id)
            .select_related("transcript", "reviewer").first())


@dataclass(frozen=True)
class AgentScore:
    agent: str
    inspected: int
    average: float
    passed: int
    in_review: int
    findings: dict[str, int]


def agent_scores(*, user: User, start: datetime | None = None, end: datetime | None = None) -> list[AgentScore]:
    """Per agent: how many contacts were inspected, the average effective score (after review),
    how many passed, how many wait for review, and which rules they fail most."""
    qs = Inspection.objects.filter(inspection_scope_q(user))
    if start is not None:
        qs = qs.filter(transcript__started_at__gte=start)
    if end is not None:
        qs = qs.filter(transcript__started_at__lt=end)
    pass_score = load_rules().pass_score
    rows: dict[str, dict] = {}
    for agent, score, final, status, findings in qs.values_list(
            "transcript__agent_name", "score", "final_score", "status", "findings"):
        row = rows.setdefault(agent, {"n": 0, "sum": 0, "passed": 0, "review": 0, "findings": {}})
        effective = final if final is not None else score
        row["n"] += 1
        row["sum"] += effective
        row["passed"] += status == Inspection.Status.PASSED or (status == Inspection.Status.REVIEWED and effective >= pass_score)
        row["review"] += status == Inspection.Status.REVIEW
        for f in findings or ():
            row["findings"][f.get("rule", "?")] = row["findings"].get(f.get("rule", "?"), 0) + 1
    out = [AgentScore(agent=a, inspected=r["n"], average=round(r["sum"] / r["n"], 1), passed=r["passed"],
                      in_review=r["review"], findings=dict(sorted(r["findings"].items(), key=lambda kv: -kv[1])))
           for a, r in rows.items()]
    return sorted(out, key=lambda s: (s.average, s.agent))


def inspection_summary(*, user: User) -> dict:
    return Inspection.objects.filter(inspection_scope_q(user)).aggregate(
        n=Count("id"), average=Avg("score"), review=Count("id", filter=Q(status=Inspection.Status.REVIEW)))

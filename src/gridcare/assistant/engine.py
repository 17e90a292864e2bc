"""The reply composer: one customer message in, one decided reply out.

Pure Python (no Django): the portal, the API, the CLI and the bench all call `Assistant.reply`, so
they behave identically. The composer never touches the database; account data arrives through an
`AccountContext` the caller supplies, and a hand-over is *decided* here (`Reply.handover`) and
*carried out* by the Django service that owns work orders.

Order of decisions, each one explainable to a supervisor reading the conversation:
1. unusable input (empty, emoji only) gets a kind fixed reply and never counts against the customer;
2. accepting an offer the previous reply made ("好的" after "需要登记投诉吗") carries it out;
3. the classifier's intent, when it is sure enough: asking for a person, greetings, complaints,
   questions about the customer's own account;
4. otherwise the knowledge base: an article as *the* answer above one threshold, the closest articles
   as suggestions above a lower one, an honest "not found" with a person on offer below it;
5. repeated failure (low confidence twice running, the same question three times, many
   conversations in a short window) hands over on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from gridcare.assistant import intents as intent_catalogue
from gridcare.assistant.kb import Article
from gridcare.assistant.policy import AssistantPolicy
from gridcare.assistant.retrieval import Hit, KnowledgeIndex
from gridcare.assistant.text import MAX_MESSAGE_CHARS, analyse, normalize

_LATIN_WORD_RE = re.compile(r"[a-z]+")
NO_REPEAT_INTENTS = frozenset({"greeting", "thanks_bye", "out_of_domain", "human_agent"})


@dataclass(frozen=True)
class ArticleRef:
    id: str
    title: str
    category: str
    version: int = 0

    @classmethod
    def of(cls, article: Article) -> ArticleRef:
        return cls(id=article.id, title=article.title, category=article.category,
                   version=int(article.extra.get("version", 0) or 0))


@dataclass(frozen=True)
class AccountAnswer:
    """What the customer's own data says, already worded for them. `offer` proposes a follow-up
    the customer can accept ("repair": open a repair order)."""

    text: str
    data: dict = field(default_factory=dict)
    offer: str = ""
    with_article: bool = False  # append the intent's article (e.g. the payment channels after the amount due)


class AccountContext(Protocol):
    def answer(self, intent: str, text: str) -> AccountAnswer | None:
        """The answer from the customer's data, or None when the data is not there."""


@dataclass(frozen=True)
class PastTurn:
    """What the composer needs to remember of an earlier assistant reply in the conversation."""

    intent: str
    kind: str
    low_confidence: bool = False
    offer: str = ""


@dataclass(frozen=True)
class Reply:
    text: str
    kind: str  # invalid | fixed | out_of_domain | answer | suggest | not_found | account | ticket | handover
    intent: str = ""
    intent_name: str = ""
    level1: str = ""
    intent_confidence: float = 0.0
    complaint_category: str = ""
    article: ArticleRef | None = None
    retrieval_confidence: float = 0.0
    suggestions: tuple[ArticleRef, ...] = ()
    low_confidence: bool = False
    offer: str = ""  # "" | handover | ticket | repair: what a "好的" next would accept
    handover: str = ""  # reason code when this reply hands the conversation to a person
    facts: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def answered_article(self) -> ArticleRef | None:
        """The article the reply is built on: the answer, else the first suggestion."""
        return self.article or (self.suggestions[0] if self.suggestions else None)

    def as_turn(self) -> PastTurn:
        return PastTurn(intent=self.intent, kind=self.kind, low_confidence=self.low_confidence, offer=self.offer)


class Classifier(Protocol):
    def predict(self, text: str, *, top: int = 3): ...


class Assistant:
    def __init__(self, *, index: KnowledgeIndex, classifier: Classifier, policy: AssistantPolicy) -> None:
        self.index = index
        self.classifier = classifier
        self.policy = policy
        self._by_id = {a.id: a for a in index.articles}

    # -- helpers ------------------------------------------------------------------------------------
    def expand(self, text: str) -> tuple[str, int]:
        """Replace the glossary's English words by their Chinese terms ("我的bill太high" → "我的电费 账单太高").

        Returns the new text and how many glossary words carried meaning (non-empty terms)."""
        glossary = self.policy.glossary
        known = 0

        def swap(match: re.Match) -> str:
            nonlocal known
            word = match.group(0)
            if word not in glossary:
                return word
            known += bool(glossary[word])
            return f" {glossary[word]} " if glossary[word] else " "

        return " ".join(_LATIN_WORD_RE.sub(swap, text).split()), known

    def _article_text(self, article: Article) -> str:
        return article.body

    def _suggestion_text(self, hits: Sequence[Hit]) -> str:
        best = hits[0].article
        lines = [self.policy.reply("suggest_intro"), f"【{best.title}】", best.summary(220)]
        if len(hits) > 1:
            lines.append(self.policy.reply("also_see"))
            lines.extend(f"· {h.article.title}" for h in hits[1:])
        return "\n".join(lines)

    def _kb(self, query: str, *, prefer: Sequence[str] = (), base: dict, notes: list[str],
            intro: str = "") -> Reply:
        th = self.policy.thresholds
        hits = self.index.search(query, k=3, prefer=prefer)
        top = hits[0] if hits else None
        lead = f"{intro}\n" if intro else ""
        if top is not None and top.confidence >= th.answer:
            return Reply(text=lead + f"【{top.article.title}】\n" + self._article_text(top.article), kind="answer",
                         article=ArticleRef.of(top.article), retrieval_confidence=top.confidence,
                         suggestions=tuple(ArticleRef.of(h.article) for h in hits[1:]), notes=tuple(notes), **base)
        if top is not None and top.confidence >= th.suggest:
            return Reply(text=lead + self._suggestion_text(hits), kind="suggest", retrieval_confidence=top.confidence,
                         suggestions=tuple(ArticleRef.of(h.article) for h in hits), notes=tuple(notes),
                         offer="handover", **base)
        # Nothing good enough: say so, offer a person. The preferred article of a trusted intent is
        # still shown, because the customer's words told us the topic even if not the question.
        preferred = [self._by_id[p] for p in prefer if p in self._by_id]
        text = self.policy.reply("not_found")
        if preferred:
            text = f"{text}\n{self.policy.reply('also_see')}\n" + "\n".join(f"· {a.title}" for a in preferred[:3])
        return Reply(text=lead + text, kind="not_found", retrieval_confidence=top.confidence if top else 0.0,
                     suggestions=tuple(ArticleRef.of(a) for a in preferred[:3]), low_confidence=True,
                     offer="handover", notes=tuple(notes), **base)

    @staticmethod
    def _trailing_low(history: Sequence[PastTurn]) -> int:
        n = 0
        for turn in reversed(history):
            if turn.kind == "invalid":
                continue
            if not turn.low_confidence:
                break
            n += 1
        return n

    def _handover(self, reason: str, *, base: dict, notes: list[str], text: str = "") -> Reply:
        return Reply(text=text or self.policy.handover_reason(reason), kind="handover", handover=reason,
                     notes=tuple(notes), **base)

    # -- the decision ---------------------------------------------------------------------------------
    def reply(self, message: str | None, *, account: AccountContext | None = None,
              history: Sequence[PastTurn] = (), recent_conversations: int = 0) -> Reply:
        policy = self.policy
        th = policy.thresholds
        rules = policy.handover
        shape = analyse(message)
        if shape.kind == "empty":
            return Reply(text=policy.reply("empty"), kind="invalid")
        if shape.kind == "symbols_only":
            return Reply(text=policy.reply("symbols_only"), kind="invalid")
        notes: list[str] = []
        if shape.truncated:
            notes.append(policy.reply("truncated", limit=MAX_MESSAGE_CHARS))
        text, known = self.expand(shape.text)
        if shape.has_latin and not shape.has_cjk:
            if not known:
                return Reply(text=policy.reply("foreign"), kind="invalid", notes=tuple(notes))
            notes.append(policy.reply("latin_only"))

        previous = next((t for t in reversed(history) if t.kind != "invalid"), None)
        if previous is not None and previous.offer and normalize(message).replace(" ", "") in policy.confirm:
            reason = {"ticket": "ticket", "repair": "repair"}.get(previous.offer, "asked")
            return self._handover(reason, base={"intent": previous.intent}, notes=notes)

        pred = self.classifier.predict(text)
        intent = intent_catalogue.intents().get(pred.intent)
        trusted = intent is not None and pred.confidence >= th.intent
        base = {
            "intent": pred.intent, "intent_name": intent.name if intent else pred.intent,
            "level1": pred.level1, "intent_confidence": round(float(pred.confidence), 4),
            "complaint_category": pred.complaint_category if pred.intent == "complaint" else "",
        }

        if not history and rules.repeat_conversations and recent_conversations + 1 >= rules.repeat_conversations:
            return self._handover("repeat_contact", base=base, notes=notes)
        if trusted and intent.handler == "handover":
            return self._handover("asked", base=base, notes=notes)
        if trusted and rules.same_intent_limit and pred.intent not in NO_REPEAT_INTENTS:
            same = sum(1 for t in history if t.intent == pred.intent and t.kind != "invalid") + 1
            if same >= rules.same_intent_limit:
                return self._handover("repeated", base=base, notes=notes)

        reply = self._decide(text, pred=pred, intent=intent, trusted=trusted, base=base, notes=notes,
                             account=account)
        if reply.low_confidence and rules.low_confidence_limit and \
                self._trailing_low(history) + 1 >= rules.low_confidence_limit:
            return self._handover("low_confidence", base=base, notes=notes)
        return reply

    def _decide(self, text: str, *, pred, intent, trusted: bool, base: dict, notes: list[str],
                account: AccountContext | None) -> Reply:
        policy = self.policy
        th = policy.thresholds
        if trusted and intent.handler == "fixed":
            if intent.code == "out_of_domain":
                hits = self.index.search(text, k=1)
                if hits and hits[0].confidence >= th.out_of_domain_override:
                    return self._kb(text, base=base, notes=notes)
                return Reply(text=intent.reply, kind="out_of_domain", notes=tuple(notes), **base)
            return Reply(text=intent.reply, kind="fixed", notes=tuple(notes), **base)
        if trusted and intent.handler == "ticket":
            # A question *about* complaints ("投诉后几天给答复") reads like a complaint to the classifier;
            # when the knowledge base answers it confidently with a specific article (not the intent's
            # generic one), answer it and still offer the ticket.
            hits = self.index.search(text, k=3) if policy.is_question(text) else []
            top = hits[0] if hits else None
            offer_text = policy.ticket_offer(intent.level1) or policy.reply("handover_offer")
            if top is not None and top.confidence >= th.answer and top.article.id not in intent.articles:
                return Reply(text=f"【{top.article.title}】\n{self._article_text(top.article)}\n{offer_text}",
                             kind="answer", article=ArticleRef.of(top.article), retrieval_confidence=top.confidence,
                             suggestions=tuple(ArticleRef.of(h.article) for h in hits[1:]), offer="ticket",
                             notes=tuple(notes), **base)
            article = next((self._by_id[a] for a in intent.articles if a in self._by_id), None)
            return Reply(text=offer_text, kind="ticket",
                         article=ArticleRef.of(article) if article else None, offer="ticket", notes=tuple(notes),
                         **base)
        if trusted and intent.handler == "account":
            if account is None:
                return self._kb(text, prefer=intent.articles, base=base, notes=notes,
                                intro=policy.reply("login_for_account"))
            found = account.answer(intent.code, text)
            if found is None:
                return self._kb(text, prefer=intent.articles, base=base, notes=notes,
                                intro=policy.reply("account_unavailable"))
            article = next((self._by_id[a] for a in intent.articles if a in self._by_id), None)
            body = found.text
            if found.with_article and article is not None:
                body = f"{body}\n【{article.title}】\n{self._article_text(article)}"
            return Reply(text=body, kind="account", article=ArticleRef.of(article) if article else None,
                         facts=dict(found.data), offer=found.offer, notes=tuple(notes), **base)
        prefer = intent.articles if trusted and intent is not None else ()
        return self._kb(text, prefer=prefer, base=base, notes=notes)


def shipped_assistant() -> Assistant:
    """The assistant over the packaged corpus and model (CLI, bench); cached per process."""
    return _shipped()


@lru_cache(maxsize=1)
def _shipped() -> Assistant:
    from gridcare.assistant import classifier
    from gridcare.assistant.policy import assistant_policy
    from gridcare.assistant.retrieval import shipped_index

    return Assistant(index=shipped_index(), classifier=classifier.shipped(), policy=assistant_policy())

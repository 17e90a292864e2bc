"""The assistant's configurable policy (`data/assistant.yaml`): thresholds, hand-over rules, glossary
and the wording of fixed replies.

Pure Python. A company replaces the file through `GRIDCARE_ASSISTANT_POLICY` (setting or environment
variable); a malformed file is refused with every problem listed, never half-applied.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from gridcare.core.errors import ValidationFailed

REQUIRED_REPLIES = (
    "empty", "symbols_only", "truncated", "latin_only", "foreign", "not_found", "suggest_intro", "also_see",
    "login_for_account", "account_unavailable", "handover_offer", "handover_done", "handover_existing",
    "handover_auto", "handover_needs_customer",
)


@dataclass(frozen=True)
class Thresholds:
    answer: float
    suggest: float
    intent: float
    out_of_domain_override: float


@dataclass(frozen=True)
class HandoverRules:
    low_confidence_limit: int
    same_intent_limit: int
    repeat_conversations: int
    repeat_window_hours: float
    description_turns: int


@dataclass(frozen=True)
class AssistantPolicy:
    thresholds: Thresholds
    handover: HandoverRules
    glossary: dict[str, str]
    replies: dict
    confirm: frozenset[str] = field(default_factory=frozenset)
    question_markers: tuple[str, ...] = ()
    work_order_categories: dict[str, str] = field(default_factory=dict)
    complaint_categories: dict[str, str] = field(default_factory=dict)
    origin: str = ""

    def work_order_category(self, intent: str, complaint_category: str = "") -> str:
        """Service taxonomy code for a hand-over; "" lets the service desk classify the text itself."""
        if intent == "complaint":
            return self.complaint_categories.get(complaint_category, "complaint")
        return self.work_order_categories.get(intent, "")

    def reply(self, key: str, **values) -> str:
        text = self.replies[key]
        return text.format(**values) if values else text

    def is_question(self, text: str) -> bool:
        return any(m in text for m in self.question_markers)

    def handover_reason(self, code: str) -> str:
        return (self.replies.get("handover_reasons") or {}).get(code, code)

    def ticket_offer(self, level1: str) -> str:
        return (self.replies.get("ticket") or {}).get(level1, "")


def default_path() -> Path:
    return Path(str(resources.files("gridcare.assistant") / "data" / "assistant.yaml"))


def parse_policy(doc: dict, *, origin: str = "") -> AssistantPolicy:
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise ValidationFailed(f"{origin}: not a mapping", field="policy")
    th = doc.get("thresholds") or {}
    ho = doc.get("handover") or {}
    values: dict[str, float] = {}
    for key in ("answer", "suggest", "intent", "out_of_domain_override"):
        try:
            values[key] = float(th[key])
        except (KeyError, TypeError, ValueError):
            problems.append(f"thresholds.{key}: a number between 0 and 1 is required")
            continue
        if not 0 <= values[key] <= 1:
            problems.append(f"thresholds.{key}: {values[key]} is not between 0 and 1")
    if not problems and values["suggest"] > values["answer"]:
        problems.append("thresholds.suggest must not be above thresholds.answer")
    counts: dict[str, float] = {}
    for key in ("low_confidence_limit", "same_intent_limit", "repeat_conversations", "repeat_window_hours",
                "description_turns"):
        try:
            counts[key] = float(ho[key])
        except (KeyError, TypeError, ValueError):
            problems.append(f"handover.{key}: a number is required")
            continue
        if counts[key] < 0:
            problems.append(f"handover.{key}: must not be negative")
    replies = doc.get("replies") or {}
    missing = [k for k in REQUIRED_REPLIES if not str(replies.get(k) or "").strip()]
    if missing:
        problems.append(f"replies: missing {', '.join(missing)}")
    glossary = doc.get("glossary") or {}
    if not isinstance(glossary, dict):
        problems.append("glossary: must map words to Chinese terms")
        glossary = {}
    if problems:
        raise ValidationFailed(f"{origin}: " + "; ".join(problems), field="policy")
    return AssistantPolicy(
        thresholds=Thresholds(**values),
        handover=HandoverRules(
            low_confidence_limit=int(counts["low_confidence_limit"]), same_intent_limit=int(counts["same_intent_limit"]),
            repeat_conversations=int(counts["repeat_conversations"]), repeat_window_hours=counts["repeat_window_hours"],
            description_turns=int(counts["description_turns"]),
        ),
        glossary={str(k).lower(): str(v) for k, v in glossary.items()},
        replies=replies,
        confirm=frozenset(str(w).lower() for w in doc.get("confirm") or ()),
        question_markers=tuple(str(w) for w in doc.get("question_markers") or ()),
        work_order_categories={str(k): str(v) for k, v in (doc.get("work_order_categories") or {}).items()},
        complaint_categories={str(k): str(v) for k, v in (doc.get("complaint_categories") or {}).items()},
        origin=origin,
    )


def load_policy(path: Path | str | None = None) -> AssistantPolicy:
    path = Path(path) if path else default_path()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"{path}: cannot read the assistant policy ({exc})", field="policy") from None
    return parse_policy(doc, origin=path.name)


def _override() -> str | None:
    try:
        from django.conf import settings

        configured = getattr(settings, "GRIDCARE_ASSISTANT_POLICY", None) if settings.configured else None
    except ImportError:  # pragma: no cover - Django is always installed with gridcare
        configured = None
    return configured or os.environ.get("GRIDCARE_ASSISTANT_POLICY") or None


@lru_cache(maxsize=4)
def _cached(path: str | None) -> AssistantPolicy:
    return load_policy(path)


def assistant_policy() -> AssistantPolicy:
    return _cached(_override())

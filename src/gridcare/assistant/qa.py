"""Smart quality inspection (智能质检) of chat and call transcripts against configurable rules.

Pure Python. Rules live in `data/qa_rules.yaml` (or the file named by GRIDCARE_QA_RULES); the rule kinds
are fixed here, their phrases, limits and points are data. `inspect` returns the score and one finding
per failed rule (with the turn it refers to), so an agent can see exactly why points were lost.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from gridcare.core.errors import ValidationFailed

KINDS = ("greeting", "forbidden", "response_time", "resolution_confirmation", "closing", "customer_phrases")
SPEAKERS = ("agent", "customer")
CHANNELS = ("chat", "call")


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    label: str
    points: int
    max_deduction: int
    review: bool
    phrases: tuple[str, ...] = ()
    first_agent_turns: int = 1
    last_agent_turns: int = 3
    max_seconds: Mapping[str, float] = field(default_factory=dict)
    first_reply_seconds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSet:
    pass_score: int
    review_below: int
    rules: tuple[Rule, ...]
    digest: str


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    t: float  # seconds from the start of the contact


@dataclass(frozen=True)
class Finding:
    rule: str
    label: str
    deduction: int
    detail: str
    turn: int | None = None  # index into the transcript's turns
    review: bool = False


@dataclass(frozen=True)
class Result:
    score: int
    findings: tuple[Finding, ...]
    needs_review: bool

    def findings_data(self) -> list[dict]:
        return [asdict(f) for f in self.findings]


def parse_rules(doc: dict, *, origin: str = "qa_rules.yaml") -> RuleSet:
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise ValidationFailed(f"{origin}: not a mapping", field="rules")
    rules: list[Rule] = []
    codes: set[str] = set()
    for pos, row in enumerate(doc.get("rules") or [], start=1):
        where = f"{origin} rule {pos}"
        if not isinstance(row, dict):
            problems.append(f"{where}: not a mapping")
            continue
        code, kind = str(row.get("code") or ""), str(row.get("kind") or "")
        if not code:
            problems.append(f"{where}: code is required")
        elif code in codes:
            problems.append(f"{where}: duplicate code {code}")
        codes.add(code)
        if kind not in KINDS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        phrases = tuple(str(p) for p in row.get("phrases") or ())
        if kind in ("greeting", "forbidden", "resolution_confirmation", "closing", "customer_phrases") and not phrases:
            problems.append(f"{where}: {kind} needs phrases")
        try:
            points = int(row.get("points", 0))
            max_deduction = int(row.get("max_deduction", points))
        except (TypeError, ValueError):
            problems.append(f"{where}: points must be whole numbers")
            continue
        if points < 0 or max_deduction < 0:
            problems.append(f"{where}: points must not be negative")
        limits = {k: row.get(k) or {} for k in ("max_seconds", "first_reply_seconds")}
        if kind == "response_time" and not limits["max_seconds"]:
            problems.append(f"{where}: response_time needs max_seconds per channel")
        rules.append(Rule(
            code=code, kind=kind, label=str(row.get("label") or code), points=points, max_deduction=max_deduction,
            review=bool(row.get("review")), phrases=phrases, first_agent_turns=int(row.get("first_agent_turns", 1)),
            last_agent_turns=int(row.get("last_agent_turns", 3)),
            max_seconds={k: float(v) for k, v in limits["max_seconds"].items()},
            first_reply_seconds={k: float(v) for k, v in limits["first_reply_seconds"].items()},
        ))
    try:
        pass_score, review_below = int(doc.get("pass_score", 80)), int(doc.get("review_below", 80))
    except (TypeError, ValueError):
        problems.append(f"{origin}: pass_score and review_below must be whole numbers")
        pass_score = review_below = 0
    if problems:
        raise ValidationFailed("; ".join(problems), field="rules")
    digest = hashlib.sha256(yaml.safe_dump(doc, allow_unicode=True, sort_keys=True).encode()).hexdigest()[:16]
    return RuleSet(pass_score=pass_score, review_below=review_below, rules=tuple(rules), digest=digest)


def default_rules_path() -> Path:
    return Path(str(resources.files("gridcare.assistant") / "data" / "qa_rules.yaml"))


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> RuleSet:
    path = Path(path or os.environ.get("GRIDCARE_QA_RULES") or default_rules_path())
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"{path}: cannot read the inspection rules ({exc})", field="rules") from None
    return parse_rules(doc, origin=path.name)


def parse_turns(rows: Sequence) -> list[Turn]:
    """Validate raw turns ({speaker, text, t}); every problem is reported with the turn number."""
    if not isinstance(rows, list | tuple) or not rows:
        raise ValidationFailed("turns: at least one turn is required", field="turns")
    out, problems = [], []
    last_t = 0.0
    for pos, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.append(f"turn {pos}: not an object")
            continue
        speaker = str(row.get("speaker") or "")
        text = str(row.get("text") or "").strip()
        if speaker not in SPEAKERS:
            problems.append(f"turn {pos}: speaker must be agent or customer")
        if not text:
            problems.append(f"turn {pos}: text is empty")
        try:
            t = float(row.get("t", last_t))
        except (TypeError, ValueError):
            problems.append(f"turn {pos}: t must be seconds from the start")
            continue
        if t < last_t:
            problems.append(f"turn {pos}: t goes backwards ({t} < {last_t})")
        last_t = max(t, last_t)
        out.append(Turn(speaker=speaker, text=text[:2000], t=t))
    if problems:
        raise ValidationFailed("; ".join(problems[:20]), field="turns")
    return out


def _has(text: str, phrases: Sequence[str]) -> str | None:
    return next((p for p in phrases if p in text), None)


def _check(rule: Rule, turns: Sequence[Turn], channel: str) -> list[Finding]:
    agent_idx = [i for i, t in enumerate(turns) if t.speaker == "agent"]
    if rule.kind == "greeting":
        first = agent_idx[: max(1, rule.first_agent_turns)]
        if not any(_has(turns[i].text, rule.phrases) for i in first):
            return [Finding(rule.code, rule.label, rule.points, "开头未使用问候语", first[0] if first else None,
                            rule.review)]
        return []
    if rule.kind in ("resolution_confirmation", "closing"):
        last = agent_idx[-max(1, rule.last_agent_turns):]
        if not any(_has(turns[i].text, rule.phrases) for i in last):
            detail = "结束前未确认问题是否解决" if rule.kind == "resolution_confirmation" else "未使用结束语"
            return [Finding(rule.code, rule.label, rule.points, detail, last[-1] if last else None, rule.review)]
        return []
    if rule.kind in ("forbidden", "customer_phrases"):
        speaker = "agent" if rule.kind == "forbidden" else "customer"
        out = []
        for i, turn in enumerate(turns):
            if turn.speaker != speaker:
                continue
            for phrase in rule.phrases:
                if phrase in turn.text:
                    out.append(Finding(rule.code, rule.label, rule.points, f"“{phrase}”", i, rule.review))
        return out
    if rule.kind == "response_time":
        limit = rule.max_seconds.get(channel)
        first_limit = rule.first_reply_seconds.get(channel, limit)
        if limit is None:
            return []
        out = []
        waiting_since: float | None = None
        answered_once = False
        for i, turn in enumerate(turns):
            if turn.speaker == "customer":
                if waiting_since is None:
                    waiting_since = turn.t
            elif waiting_since is not None:
                wait = turn.t - waiting_since
                allowed = limit if answered_once else first_limit
                if allowed is not None and wait > allowed:
                    out.append(Finding(rule.code, rule.label, rule.points,
                                       f"客户等待 {wait:.0f} 秒（上限 {allowed:.0f} 秒）", i, rule.review))
                waiting_since = None
                answered_once = True
            else:
                answered_once = True
        return out
    return []  # pragma: no cover - kinds are validated when the rules are parsed


def inspect(turns: Sequence[Turn], *, channel: str, rules: RuleSet) -> Result:
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    findings: list[Finding] = []
    total = 0
    for rule in rules.rules:
        found = _check(rule, turns, channel)
        budget = rule.max_deduction
        for f in found:
            take = min(f.deduction, budget)
            budget -= take
            total += take
            findings.append(Finding(f.rule, f.label, take, f.detail, f.turn, f.review))
    score = max(0, 100 - total)
    needs_review = score < rules.review_below or any(f.review for f in findings)
    return Result(score=score, findings=tuple(findings), needs_review=needs_review)

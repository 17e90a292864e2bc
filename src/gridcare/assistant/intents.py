"""Intent taxonomy of the assistant, loaded from `data/intents.yaml`.

Pure Python. Fine intents map to the service desk's level-1 work-order types so a hand-over can
open a work order of the right type without a second classification.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from gridcare.core.errors import ValidationFailed

LEVEL1 = ("故障报修", "咨询查询", "业务办理", "投诉", "举报", "意见", "建议", "表扬", "其他")
COMPLAINT_CATEGORIES = ("服务", "营业", "停送电", "供电质量", "电网建设")
HANDLERS = ("account", "kb", "ticket", "handover", "fixed")


@dataclass(frozen=True)
class Intent:
    code: str
    level1: str
    level2: str
    name: str
    handler: str
    articles: tuple[str, ...] = ()
    reply: str = ""

    @property
    def account_aware(self) -> bool:
        return self.handler == "account"


def parse_intents(rows: list[dict]) -> dict[str, Intent]:
    problems = []
    out: dict[str, Intent] = {}
    for pos, row in enumerate(rows, start=1):
        code = row.get("code")
        if not code:
            problems.append(f"item {pos}: missing code")
            continue
        if code in out:
            problems.append(f"item {pos}: duplicate code {code}")
        if row.get("level1") not in LEVEL1:
            problems.append(f"{code}: level1 {row.get('level1')!r} not in {LEVEL1}")
        if row.get("handler") not in HANDLERS:
            problems.append(f"{code}: handler {row.get('handler')!r} not in {HANDLERS}")
        if row.get("handler") == "fixed" and not row.get("reply"):
            problems.append(f"{code}: fixed handler needs a reply")
        out[code] = Intent(
            code=code,
            level1=row.get("level1", ""),
            level2=row.get("level2") or "",
            name=row.get("name") or code,
            handler=row.get("handler", ""),
            articles=tuple(row.get("articles") or ()),
            reply=(row.get("reply") or "").strip(),
        )
    if problems:
        raise ValidationFailed("; ".join(problems), field="intents")
    return out


@lru_cache(maxsize=1)
def intents() -> dict[str, Intent]:
    path = resources.files("gridcare.assistant") / "data" / "intents.yaml"
    return parse_intents(yaml.safe_load(path.read_text(encoding="utf-8")))


def get(code: str) -> Intent:
    try:
        return intents()[code]
    except KeyError:
        raise ValidationFailed(f"unknown intent {code!r}", field="intent") from None


def level1_of(code: str) -> str:
    return get(code).level1

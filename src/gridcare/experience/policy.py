"""Customer-experience rules (tags, risk factors, recommendations) loaded from rules.yaml.

The code measures signals; which signal values make a tag, how much a factor weighs and what is
recommended are data a company changes without a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

import yaml
from django.conf import settings
from django.utils.translation import get_language

from gridcare.core.errors import ValidationFailed

DEFAULT_PATH = Path(__file__).with_name("rules.yaml")


def _en() -> bool:
    return (get_language() or "zh-hans").startswith("en")


@dataclass(frozen=True)
class Condition:
    signal: str = ""
    tag: str = ""
    min: int = 1

    def holds(self, signals: dict[str, int], tags: set[str]) -> bool:
        if self.tag:
            return self.tag in tags
        return signals.get(self.signal, 0) >= self.min


@dataclass(frozen=True)
class TagRule:
    code: str
    name_zh: str
    name_en: str
    any: tuple[Condition, ...]

    @property
    def name(self) -> str:
        return self.name_en if _en() else self.name_zh


@dataclass(frozen=True)
class Factor:
    code: str
    name_zh: str
    name_en: str
    signal: str
    weight: int
    cap: int

    @property
    def name(self) -> str:
        return self.name_en if _en() else self.name_zh


@dataclass(frozen=True)
class RecommendationRule:
    code: str
    name_zh: str
    name_en: str
    when: tuple[Condition, ...]
    unless: tuple[Condition, ...]
    reason_zh: str
    reason_en: str

    @property
    def name(self) -> str:
        return self.name_en if _en() else self.name_zh


@dataclass(frozen=True)
class Rules:
    windows: dict[str, int]
    e_bill_channels: tuple[str, ...]
    tags: tuple[TagRule, ...]
    factors: tuple[Factor, ...]
    bill_jump_ratio: Decimal
    high: int
    medium: int
    recommendations: tuple[RecommendationRule, ...]

    def tag(self, code: str) -> TagRule | None:
        return next((t for t in self.tags if t.code == code), None)

    def band(self, score: int) -> str:
        return "high" if score >= self.high else "medium" if score >= self.medium else "low"


def _conditions(rows, *, where: str, signals: frozenset[str]) -> tuple[Condition, ...]:
    out = []
    for row in rows or []:
        cond = Condition(signal=str(row.get("signal", "")), tag=str(row.get("tag", "")), min=int(row.get("min", 1)))
        if not cond.tag and cond.signal not in signals:
            raise ValidationFailed(f"{where}: unknown signal {cond.signal!r}", field="signal")
        out.append(cond)
    return tuple(out)


def parse_rules(data: dict, *, signals: frozenset[str]) -> Rules:
    """Validate the rules; a typo in a signal name fails loudly here, not as an empty tag later."""
    tags = tuple(TagRule(code=t["code"], name_zh=t.get("name_zh", t["code"]), name_en=t.get("name_en", t["code"]),
                         any=_conditions(t.get("any"), where=f"tag {t['code']}", signals=signals))
                 for t in data.get("tags") or [])
    risk = data.get("risk") or {}
    factors = []
    for f in risk.get("factors") or []:
        if f.get("signal") not in signals:
            raise ValidationFailed(f"risk factor {f.get('code')}: unknown signal {f.get('signal')!r}", field="signal")
        factors.append(Factor(code=f["code"], name_zh=f.get("name_zh", f["code"]), name_en=f.get("name_en", f["code"]),
                              signal=f["signal"], weight=int(f["weight"]), cap=int(f.get("cap", 1))))
    try:
        jump = Decimal(str(risk.get("bill_jump_ratio", "1.5")))
    except InvalidOperation as exc:
        raise ValidationFailed("risk.bill_jump_ratio is not a number", field="bill_jump_ratio") from exc
    bands = risk.get("bands") or {}
    recs = tuple(RecommendationRule(
        code=r["code"], name_zh=r.get("name_zh", r["code"]), name_en=r.get("name_en", r["code"]),
        when=_conditions(r.get("if"), where=f"recommendation {r['code']}", signals=signals),
        unless=_conditions(r.get("unless"), where=f"recommendation {r['code']}", signals=signals),
        reason_zh=r.get("reason_zh", ""), reason_en=r.get("reason_en", "")) for r in data.get("recommendations") or [])
    return Rules(windows={k: int(v) for k, v in (data.get("windows") or {}).items()},
                 e_bill_channels=tuple(data.get("e_bill_channels") or ()), tags=tags, factors=tuple(factors),
                 bill_jump_ratio=jump, high=int(bands.get("high", 50)), medium=int(bands.get("medium", 25)),
                 recommendations=recs)


@lru_cache(maxsize=4)
def _load(path: str) -> Rules:
    from gridcare.experience.signals import SIGNALS  # noqa: PLC0415 - signals import the models

    with open(path, encoding="utf-8") as fh:
        return parse_rules(yaml.safe_load(fh), signals=frozenset(SIGNALS))


def experience_rules() -> Rules:
    return _load(str(getattr(settings, "GRIDCARE_EXPERIENCE_RULES", None) or DEFAULT_PATH))


def reset_rules() -> None:
    _load.cache_clear()

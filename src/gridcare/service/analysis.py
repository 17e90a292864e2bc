"""Complaint rapid response analysis (seed 002 §二(二)): classify, predict impact, rate escalation risk.

Reads only. The default classifier is the keyword rule set in policy/classifier.yaml. A better
model plugs in through the GRIDCARE_SERVICE_CLASSIFIER setting: a dotted path to a callable
`(text: str) -> dict | None` returning {"category": ..., "confidence": float, "grade": optional};
None (or an unknown category) falls back to the rules. The service layer cannot import
`gridcare.assistant` (it sits above us), so the assistant's scikit-learn model is wired in through
this setting rather than an import — see docs/decisions/0701-service-classifier-hook.md.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from gridcare.core.calendars import Duration
from gridcare.customers.models import Customer, ServicePoint
from gridcare.service.models import WorkOrder
from gridcare.service.policy import service_policy

logger = logging.getLogger("gridcare.service")


@dataclass(frozen=True)
class Classification:
    category: str
    grade: str
    confidence: float
    engine: str
    matched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _grade_hint(text: str) -> str:
    hints = service_policy().classifier.get("grade_keywords") or {}
    for grade in service_policy().taxonomy.grades:  # most severe first, as listed in the taxonomy
        if any(k in text for k in hints.get(grade, ())):
            return grade
    return "general"


def classify_rules(text: str) -> Classification:
    rules_cfg = service_policy().classifier
    best: tuple[int, dict[str, Any], list[str]] | None = None
    for rule in rules_cfg.get("rules") or ():
        hits = [k for k in rule.get("keywords") or () if k in text]
        if hits and (best is None or len(hits) > best[0]):
            best = (len(hits), rule, hits)
    if best is None:
        category, matched, confidence = str(rules_cfg.get("fallback", "other")), [], 0.0
    else:
        category, matched = str(best[1]["category"]), best[2]
        confidence = min(1.0, 0.5 + 0.25 * best[0])
    markers = [m for m in rules_cfg.get("complaint_markers") or () if m in text]
    if markers and category.split(".")[0] in ("repair", "inquiry", "business", "opinion", "other"):
        category = str(rules_cfg.get("complaint_marker_category", "complaint"))
        matched = matched + markers
    return Classification(category=category, grade=_grade_hint(text), confidence=confidence, engine="rules",
                          matched=matched)


def _plugin():
    path = getattr(settings, "GRIDCARE_SERVICE_CLASSIFIER", None) or os.environ.get("GRIDCARE_SERVICE_CLASSIFIER")
    return import_string(path) if path else None


def classify_text(text: str) -> Classification:
    """Category and grade hint for free text; a plugged-in model first, the keyword rules otherwise."""
    text = text or ""
    plugin = _plugin()
    if plugin is not None:
        try:
            result = plugin(text)
        except Exception:  # noqa: BLE001 - a broken model must not stop intake
            logger.exception("service classifier plugin failed; using keyword rules")
            result = None
        if result and result.get("category") in service_policy().taxonomy.categories:
            grade = result.get("grade") or _grade_hint(text)
            return Classification(category=result["category"], grade=grade,
                                  confidence=float(result.get("confidence", 0.0)), engine="plugin")
    return classify_rules(text)


def affected_customers(*, grid_cell: str, outage_cells: list[str] | None = None) -> int:
    """Distinct customers supplied in the grid cell(s): who else is likely hit by the same problem."""
    cells = set(outage_cells or ()) | ({grid_cell} if grid_cell else set())
    if not cells:
        return 0
    return (Customer.objects.filter(accounts__service_points__grid_cell__in=cells).distinct().count())


def escalation_risk(*, text: str, grade: str, repeat_contact: bool, customer: Customer | None, affected: int,
                    as_of: datetime) -> dict[str, Any]:
    """Points per risk signal (policy/classifier.yaml escalation_risk), with the reasons, so an agent
    can see why an order is flagged rather than trust an opaque number."""
    cfg = service_policy().classifier.get("escalation_risk") or {}
    points = cfg.get("points") or {}
    reasons: list[str] = []
    score = 0
    words = [k for k in cfg.get("keywords") or () if k in (text or "")]
    if words:
        score += int(points.get("keyword", 2))
        reasons.append("关键词: " + "、".join(words))
    if repeat_contact:
        score += int(points.get("repeat_contact", 2))
        reasons.append("重复来电")
    if customer is not None:
        window = cfg.get("prior_complaint_window") or {"amount": 90, "unit": "days"}
        since = service_policy().calendar.subtract(as_of, Duration.parse(window))
        prior = WorkOrder.objects.filter(customer=customer, type="complaint", created_at__gte=since,
                                         created_at__lt=as_of).count()
        if prior:
            score += int(points.get("prior_complaint_90d", 1))
            reasons.append(f"近期投诉 {prior} 次")
        if customer.protected_class:
            score += int(points.get("protected_class", 1))
            reasons.append(f"特殊客户: {customer.protected_class}")
    if grade in ("special", "major"):
        score += int(points.get("grade_special_or_major", 3))
        reasons.append(f"等级: {service_policy().taxonomy.grade_label(grade)}")
    if affected > 50:
        score += int(points.get("affected_over_50", 1))
        reasons.append(f"影响客户 {affected} 户")
    level = "high" if score >= int(cfg.get("high", 4)) else "medium" if score >= int(cfg.get("medium", 2)) else "low"
    return {"level": level, "score": score, "reasons": reasons}


def predict_impact(*, text: str, grade: str, repeat_contact: bool, customer: Customer | None,
                   service_point: ServicePoint | None, grid_cell: str, outage_cells: list[str] | None,
                   as_of: datetime) -> dict[str, Any]:
    affected = affected_customers(grid_cell=grid_cell, outage_cells=outage_cells)
    return {
        "affected_customers": affected,
        "grid_cell": grid_cell,
        "outage_cells": list(outage_cells or ()),
        "escalation_risk": escalation_risk(text=text, grade=grade, repeat_contact=repeat_contact, customer=customer,
                                           affected=affected, as_of=as_of),
    }


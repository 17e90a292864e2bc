"""Recompute customer tags, negative-experience risk and recommendations (seed 000; T/CI 1281
§5.2 b, §6.2 c) for every open account in scope, set-based, in one transaction.

Idempotent: the derived rows of the accounts in scope are replaced, so a nightly job and a manual
re-run give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from gridcare.core.errors import NotFound
from gridcare.customers.models import Account, OrgUnit
from gridcare.experience.models import CustomerTag, Recommendation, RiskScore
from gridcare.experience.policy import Rules, experience_rules
from gridcare.experience.signals import measure_signals

BATCH = 2000


@dataclass(frozen=True)
class RefreshResult:
    accounts: int
    tags: int
    high_risk: int
    recommendations: int


def tags_for(signals: dict[str, int], rules: Rules) -> list[str]:
    return [t.code for t in rules.tags if any(c.holds(signals, set()) for c in t.any)]


def risk_for(signals: dict[str, int], rules: Rules) -> tuple[int, list[dict]]:
    """Score and the factors behind it: each factor adds min(signal, cap) × weight; at most 100."""
    factors, total = [], 0
    for f in rules.factors:
        value = signals.get(f.signal, 0)
        points = min(value, f.cap) * f.weight
        if points:
            factors.append({"code": f.code, "signal": f.signal, "value": value, "weight": f.weight, "cap": f.cap,
                            "points": points})
        total += points
    factors.sort(key=lambda x: (-x["points"], x["code"]))
    return min(total, 100), factors


def recommendations_for(signals: dict[str, int], tags: set[str], rules: Rules) -> list[str]:
    return [r.code for r in rules.recommendations
            if all(c.holds(signals, tags) for c in r.when) and not any(c.holds(signals, tags) for c in r.unless)]


@transaction.atomic
def experience_refresh(*, as_of: datetime, org_unit_code: str | None = None) -> RefreshResult:
    """Raises NotFound for an unknown org unit."""
    rules = experience_rules()
    accounts = Account.objects.exclude(status=Account.Status.CLOSED)
    if org_unit_code:
        unit = OrgUnit.objects.filter(code=org_unit_code).first()
        if unit is None:
            raise NotFound(f"org unit {org_unit_code!r} does not exist", field="org_unit")
        accounts = accounts.filter(org_unit__path__startswith=unit.path)
    meta = {pk: (customer_id, unit_id) for pk, customer_id, unit_id in
            accounts.values_list("pk", "customer_id", "org_unit_id")}
    signals = measure_signals(accounts=accounts, as_of=as_of, windows=rules.windows,
                              e_bill_channels=rules.e_bill_channels, bill_jump_ratio=rules.bill_jump_ratio)
    for model in (CustomerTag, RiskScore, Recommendation):
        model.objects.filter(account_id__in=accounts.values("pk")).delete()
    tags, risks, recs = [], [], []
    high = 0
    for pk, values in signals.items():
        customer_id, unit_id = meta[pk]
        codes = tags_for(values, rules)
        rule_by_code = {t.code: t for t in rules.tags}
        for code in codes:
            evidence = {c.signal: values[c.signal] for c in rule_by_code[code].any if c.signal}
            tags.append(CustomerTag(account_id=pk, customer_id=customer_id, code=code, evidence=evidence, as_of=as_of))
        score, factors = risk_for(values, rules)
        band = rules.band(score)
        high += band == "high"
        risks.append(RiskScore(account_id=pk, customer_id=customer_id, org_unit_id=unit_id, score=score, band=band,
                               factors=factors, as_of=as_of))
        for code in recommendations_for(values, set(codes), rules):
            recs.append(Recommendation(account_id=pk, code=code, values=values, as_of=as_of))
    CustomerTag.objects.bulk_create(tags, batch_size=BATCH)
    RiskScore.objects.bulk_create(risks, batch_size=BATCH)
    Recommendation.objects.bulk_create(recs, batch_size=BATCH)
    return RefreshResult(accounts=len(signals), tags=len(tags), high_risk=high, recommendations=len(recs))

"""Reads for the customer portrait (360 page), the ranked risk list and the API, limited to the
user's org subtree through customers' scoping rule."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from gridcare.access.models import User
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q, org_unit_scope_q
from gridcare.experience.models import CustomerTag, Recommendation, RiskScore
from gridcare.experience.policy import experience_rules


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class TagView:
    code: str
    name: str
    evidence: dict


@dataclass(frozen=True)
class FactorView:
    code: str
    name: str
    value: int
    points: int


@dataclass(frozen=True)
class RecommendationView:
    code: str
    name: str
    reason: str


@dataclass(frozen=True)
class Portrait:
    account: Account
    tags: list[TagView]
    score: int | None
    band: str
    factors: list[FactorView]
    recommendations: list[RecommendationView]
    as_of: object


def _en() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "zh-hans").startswith("en")


def tag_views(tags) -> list[TagView]:
    rules = experience_rules()
    out = []
    for t in tags:
        rule = rules.tag(t.code)
        out.append(TagView(t.code, rule.name if rule else t.code, t.evidence))
    return out


def factor_views(factors: list[dict]) -> list[FactorView]:
    names = {f.code: f.name for f in experience_rules().factors}
    return [FactorView(f["code"], names.get(f["code"], f["code"]), f["value"], f["points"]) for f in factors]


def recommendation_view(rec: Recommendation) -> RecommendationView:
    rule = next((r for r in experience_rules().recommendations if r.code == rec.code), None)
    if rule is None:
        return RecommendationView(rec.code, rec.code, "")
    template = rule.reason_en if _en() else rule.reason_zh
    try:
        reason = template.format_map(_Keep(rec.values))
    except (ValueError, IndexError):
        reason = template
    return RecommendationView(rec.code, rule.name, reason)


def portraits(*, user: User, account_ids: list[int]) -> list[Portrait]:
    accounts = list(Account.objects.filter(account_scope_q(user=user), pk__in=account_ids).order_by("number"))
    ids = [a.pk for a in accounts]
    tags: dict[int, list] = {}
    for t in CustomerTag.objects.filter(account_id__in=ids):
        tags.setdefault(t.account_id, []).append(t)
    risks = {r.account_id: r for r in RiskScore.objects.filter(account_id__in=ids)}
    recs: dict[int, list] = {}
    for r in Recommendation.objects.filter(account_id__in=ids):
        recs.setdefault(r.account_id, []).append(r)
    out = []
    for a in accounts:
        risk = risks.get(a.pk)
        out.append(Portrait(account=a, tags=tag_views(tags.get(a.pk, [])), score=risk.score if risk else None,
                            band=risk.band if risk else "", factors=factor_views(risk.factors) if risk else [],
                            recommendations=[recommendation_view(r) for r in recs.get(a.pk, [])],
                            as_of=risk.as_of if risk else None))
    return out


def risk_list(*, user: User, band: str = "", tag: str = "", min_score: int = 0) -> QuerySet[RiskScore]:
    qs = (RiskScore.objects.filter(org_unit_scope_q(user=user), score__gte=min_score)
          .select_related("account", "customer", "org_unit").order_by("-score", "account__number"))
    if band:
        qs = qs.filter(band=band)
    if tag:
        qs = qs.filter(account__experience_tags__code=tag)
    return qs


def tag_counts(*, user: User) -> list[tuple[str, str, int]]:
    rules = experience_rules()
    counts = dict(CustomerTag.objects.filter(account_scope_q(user=user, prefix="account__"))
                  .values("code").annotate(n=Count("id")).values_list("code", "n"))
    return [(t.code, t.name, counts.get(t.code, 0)) for t in rules.tags]


def band_counts(*, user: User) -> dict[str, int]:
    rows = (RiskScore.objects.filter(org_unit_scope_q(user=user)).values("band").annotate(n=Count("id"))
            .values_list("band", "n"))
    return {b: 0 for b in ("high", "medium", "low")} | dict(rows)

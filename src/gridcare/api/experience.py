"""Customer experience: /api/v1/experience/... — the ranked negative-experience risk list, tag
counts and one account's portrait (tags, risk factors, recommendations with reasons). Staff with
customers.view, limited to their org subtree."""

from __future__ import annotations

from ninja import Query, Router, Schema
from pydantic import Field

from gridcare.access.roles import can
from gridcare.api.schemas.common import ERRORS, page
from gridcare.core.errors import NotFound, PermissionDenied
from gridcare.customers.selectors import account_get
from gridcare.experience import selectors
from gridcare.experience.models import RiskScore

router = Router()
CAPABILITY = "customers.view"


def _allowed(request) -> None:
    if not can(request.user.role, CAPABILITY):
        raise PermissionDenied(f"your role may not see customer experience data ({CAPABILITY})")


class FactorOut(Schema):
    code: str
    name: str
    value: int
    points: int


class RiskOut(Schema):
    account: str
    org_unit: str
    score: int
    band: str
    factors: list[FactorOut]
    as_of: str


class RiskPage(Schema):
    items: list[RiskOut]
    total: int
    limit: int
    offset: int


class TagOut(Schema):
    code: str
    name: str
    evidence: dict = {}


class TagCountOut(Schema):
    code: str
    name: str
    accounts: int


class RecommendationOut(Schema):
    code: str
    name: str
    reason: str


class PortraitOut(Schema):
    account: str
    tags: list[TagOut]
    score: int | None
    band: str
    factors: list[FactorOut]
    recommendations: list[RecommendationOut]


class RiskQuery(Schema):
    band: str = Field("", pattern="^(|high|medium|low)$")
    tag: str = ""
    min_score: int = Field(0, ge=0, le=100)
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def _risk(r: RiskScore) -> dict:
    return {"account": r.account.number, "org_unit": r.org_unit.code, "score": r.score, "band": r.band,
            "factors": [f.__dict__ for f in selectors.factor_views(r.factors)], "as_of": r.as_of.isoformat()}


@router.get("/risk", response={200: RiskPage, **ERRORS}, summary="Accounts ranked by negative-experience risk")
def risk(request, q: Query[RiskQuery]):
    _allowed(request)
    qs = selectors.risk_list(user=request.user, band=q.band, tag=q.tag, min_score=q.min_score)
    return page(qs, limit=q.limit, offset=q.offset, render=_risk)


@router.get("/tags", response={200: list[TagCountOut], **ERRORS}, summary="Accounts per customer tag")
def tags(request):
    _allowed(request)
    return [{"code": c, "name": n, "accounts": k} for c, n, k in selectors.tag_counts(user=request.user)]


@router.get("/accounts/{number}", response={200: PortraitOut, **ERRORS}, summary="One account's portrait")
def portrait(request, number: str):
    _allowed(request)
    account = account_get(user=request.user, number=number)
    if account is None:
        raise NotFound(f"account {number} not found", field="number")
    [p] = selectors.portraits(user=request.user, account_ids=[account.pk])
    return {"account": p.account.number, "tags": [t.__dict__ for t in p.tags], "score": p.score, "band": p.band,
            "factors": [f.__dict__ for f in p.factors], "recommendations": [r.__dict__ for r in p.recommendations]}

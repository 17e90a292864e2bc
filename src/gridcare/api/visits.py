"""Customer visits (seed 003): /api/v1/visits/... — plan, each §7.1 step, risk candidates, coverage.
Thin handlers over gridcare.visits; errors are {code, message, field} with a 4xx."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from gridcare.access.roles import can
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.visits import selectors, services
from gridcare.visits.models import Visit

router = Router()
RESPONSES = {**ERRORS, 409: ErrorOut}


def _allowed(request) -> None:
    if not can(request.user.role, services.CAPABILITY):
        raise PermissionDenied(f"your role may not do this ({services.CAPABILITY})")


class VisitIn(Schema):
    target_kind: str = Field(..., description="government | key_project | partner | key_customer | risk_customer | "
                                              "special_group")
    channel: str = Field(..., description="onsite | phone | online")
    purpose: str = Field(..., max_length=255)
    planned_for: date
    topics: list[str] = Field([], description="needs | policy | promotion | consultation | requests")
    customer_id: int | None = None
    account_number: str = ""
    organisation: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    visitor_id: int | None = None


class RequestIn(Schema):
    kind: str = Field(..., description="consultation | complaint | opinion | suggestion | business")
    text: str


class RecordIn(Schema):
    visited_at: datetime
    topics: list[str]
    policy_notes: str = ""
    needs: str = ""
    requests: list[RequestIn] = []
    customer_requested_time: bool = False


class AppointIn(Schema):
    appointment_at: datetime
    customer_requested_time: bool = False


class PrepareIn(Schema):
    checklist: list[str]


class StrategyIn(Schema):
    strategy: str


class FollowUpIn(Schema):
    satisfaction: int | None = Field(None, ge=1, le=5)
    note: str = ""
    unreachable_reason: str = ""
    customer_requested_time: bool = False


class ReasonIn(Schema):
    reason: str


class VisitOut(Schema):
    id: int
    number: str
    target_kind: str
    source: str
    customer_id: int | None
    account_number: str | None
    organisation: str
    org_unit: str
    visitor: str | None
    channel: str
    topics: list[str]
    purpose: str
    reasons: list[str]
    stage: str
    planned_for: date
    checklist: list[str]
    appointment_at: datetime | None
    visited_at: datetime | None
    needs: str
    policy_notes: str
    strategy: str
    satisfaction: int | None
    unreachable_reason: str
    archived_at: datetime | None
    requests: list[dict]


class VisitPage(Schema):
    items: list[VisitOut]
    total: int
    limit: int
    offset: int


class VisitFilter(Schema):
    stage: str = ""
    target_kind: str = ""
    mine: bool = False
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def _visit(v: Visit) -> dict:
    return {
        **{f: getattr(v, f) for f in ("id", "number", "target_kind", "source", "customer_id", "organisation", "channel",
                                      "topics", "purpose", "reasons", "stage", "planned_for", "checklist",
                                      "appointment_at", "visited_at", "needs", "policy_notes", "strategy",
                                      "satisfaction", "unreachable_reason", "archived_at")},
        "account_number": v.account.number if v.account_id else None, "org_unit": v.org_unit.code,
        "visitor": v.visitor.username if v.visitor_id else None,
        "requests": [{"kind": r.kind, "text": r.text, "work_order": r.work_order.number,
                      "status": r.work_order.status} for r in v.requests.all()],
    }


def _get(request, visit_id: int) -> dict:
    visit = selectors.visit_get(user=request.user, visit_id=visit_id)
    if visit is None:
        raise NotFound(f"visit {visit_id} not found", field="visit_id")
    return _visit(visit)


@router.get("", response={200: VisitPage, **ERRORS}, summary="Visits in scope")
def visit_list(request, filters: Query[VisitFilter]):
    _allowed(request)
    qs = selectors.visit_list(user=request.user, stage=filters.stage, target_kind=filters.target_kind,
                              mine=filters.mine).prefetch_related("requests__work_order")
    return page(qs, limit=filters.limit, offset=filters.offset, render=_visit)


@router.post("", response={201: VisitOut, **RESPONSES}, summary="Plan a visit")
def visit_create(request, body: VisitIn):
    visit = services.visit_create(actor=request.user, data=services.VisitInput(**body.dict()), as_of=timezone.now())
    return Status(201, _get(request, visit.pk))


@router.get("/risk-candidates", response={200: list[dict], **ERRORS},
            summary="Service-risk customers (§4.4.2) not visited recently, with the reasons")
def candidates(request, limit: int = 50):
    _allowed(request)
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    return [{"customer_id": c.customer.pk, "name": c.customer.name, "reasons": c.reasons}
            for c in selectors.risk_candidates(user=request.user, as_of=timezone.now(), limit=limit)]


@router.post("/plan-risk", response={201: list[VisitOut], **RESPONSES}, summary="Plan a visit for each risk customer")
def plan_risk(request, planned_for: date, channel: str = "onsite"):
    created = services.risk_visits_plan(actor=request.user, as_of=timezone.now(), planned_for=planned_for,
                                        channel=channel)
    return Status(201, [_get(request, v.pk) for v in created])


@router.get("/coverage", response={200: list[dict], **ERRORS}, summary="Visits planned, made, archived per target")
def coverage(request, start: date, end: date):
    _allowed(request)
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    tz = timezone.get_current_timezone()
    return selectors.coverage(user=request.user, start=datetime.combine(start, datetime.min.time(), tzinfo=tz),
                              end=datetime.combine(end, datetime.min.time(), tzinfo=tz))


@router.get("/{visit_id}", response={200: VisitOut, **ERRORS}, summary="One visit")
def visit_detail(request, visit_id: int):
    _allowed(request)
    return _get(request, visit_id)


@router.post("/{visit_id}/prepare", response={200: VisitOut, **RESPONSES}, summary="§7.2.1 preparation checklist")
def prepare(request, visit_id: int, body: PrepareIn):
    services.visit_prepare(actor=request.user, visit_id=visit_id, checklist=body.checklist, as_of=timezone.now())
    return _get(request, visit_id)


@router.post("/{visit_id}/appoint", response={200: VisitOut, **RESPONSES}, summary="Appointment (quiet hours apply)")
def appoint(request, visit_id: int, body: AppointIn):
    services.visit_appoint(actor=request.user, visit_id=visit_id, appointment_at=body.appointment_at,
                           as_of=timezone.now(), customer_requested_time=body.customer_requested_time)
    return _get(request, visit_id)


@router.post("/{visit_id}/record", response={200: VisitOut, **RESPONSES},
             summary="Record the visit; each request becomes a service-desk work order")
def record(request, visit_id: int, body: RecordIn):
    services.visit_record(actor=request.user, visit_id=visit_id, visited_at=body.visited_at, as_of=timezone.now(),
                          topics=body.topics, policy_notes=body.policy_notes, needs=body.needs,
                          requests=[(r.kind, r.text) for r in body.requests],
                          customer_requested_time=body.customer_requested_time)
    return _get(request, visit_id)


@router.post("/{visit_id}/strategy", response={200: VisitOut, **RESPONSES}, summary="§7.2.4 service strategy")
def strategy(request, visit_id: int, body: StrategyIn):
    services.visit_set_strategy(actor=request.user, visit_id=visit_id, strategy=body.strategy, as_of=timezone.now())
    return _get(request, visit_id)


@router.post("/{visit_id}/follow-up", response={200: VisitOut, **RESPONSES},
             summary="§7.2.5 follow-up with satisfaction (after every request is resolved)")
def follow_up(request, visit_id: int, body: FollowUpIn):
    services.visit_follow_up(actor=request.user, visit_id=visit_id, as_of=timezone.now(),
                             satisfaction=body.satisfaction, note=body.note,
                             unreachable_reason=body.unreachable_reason,
                             customer_requested_time=body.customer_requested_time)
    return _get(request, visit_id)


@router.post("/{visit_id}/archive", response={200: VisitOut, **RESPONSES}, summary="§7.2.6 archive")
def archive(request, visit_id: int):
    services.visit_archive(actor=request.user, visit_id=visit_id, as_of=timezone.now())
    return _get(request, visit_id)


@router.post("/{visit_id}/cancel", response={200: VisitOut, **RESPONSES}, summary="Cancel a visit not yet made")
def cancel(request, visit_id: int, body: ReasonIn):
    services.visit_cancel(actor=request.user, visit_id=visit_id, reason=body.reason, as_of=timezone.now())
    return _get(request, visit_id)

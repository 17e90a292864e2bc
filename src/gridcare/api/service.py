"""Service desk: /api/v1/service/...

Work orders from apps, mini-programs and agent tools (create, list, detail, every workflow action,
attachments), signed webhooks from messaging platforms, .eml intake, the agent queue, the
supervisor board and breach report, outages, return visits and the public survey, the negative
list and typical cases, the taxonomy. Thin handlers: parse, one service or selector call, render.

Scope: staff see their org subtree plus the orders they hold or took first (首问负责); a portal
customer sees and files their own. Anything outside scope is a 404. Errors are {code, message,
field} with a 4xx; field names the input at fault.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from gridcare.access.roles import Role, can
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.service import selectors, services
from gridcare.service.models import NegativeListEntry, Outage, ReturnVisit, TypicalCase, WorkOrder
from gridcare.service.policy import service_policy

router = Router()
RESPONSES = {**ERRORS, 409: ErrorOut}
MAX_UPLOAD_BYTES = 30 * 1024 * 1024


def _need(request, capability: str) -> None:
    if not can(request.user.role, capability):
        raise PermissionDenied(f"your role may not do this ({capability})")


def _staff(request) -> None:
    if request.user.role == Role.CUSTOMER:
        raise PermissionDenied("staff only")
    _need(request, "service.work")


def _now():
    return timezone.now()


# -- schemas --------------------------------------------------------------------------------------
class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class OrderFilter(Paging):
    status: str = Field("", description="new | assigned | in_progress | waiting_customer | resolved | closed | ...")
    type: str = Field("", description="level-1 taxonomy code, e.g. complaint")
    q: str = Field("", max_length=64, description="order number, subject (contains), phone or account number")
    mine: bool = Field(False, description="only orders I hold or took first")
    org_unit: str = Field("", description="org unit code; its subtree matches")
    open: bool = Field(False, description="only open orders")


class ClockOut(Schema):
    key: str
    label: str
    limit: str
    source: str
    due_at: datetime
    state: str = Field(description="ok | warning | breached | paused | met | missed | cancelled")
    remaining_seconds: int
    round: int


class OrderOut(Schema):
    number: str
    channel: str
    type: str
    category: str
    category_label: str
    grade: str
    priority: str
    status: str
    subject: str
    description: str
    customer_id: int | None
    account_number: str | None
    service_point_code: str | None
    contact_name: str
    contact_phone: str
    contact_email: str
    area_type: str
    grid_cell: str
    org_unit: str
    assignee: str | None
    first_contact_user: str | None
    outage_id: int | None
    merged_into: str | None
    repeat_contact: bool
    resolution: str
    plan: str
    reopen_count: int
    transfer_count: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    next_due_at: datetime | None = None
    sla_state: str | None = None


class OrderPage(Schema):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int


class EventOut(Schema):
    at: datetime
    kind: str
    actor: str | None
    from_status: str
    to_status: str
    note: str
    data: dict


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class VisitOut(Schema):
    id: int
    work_order: str
    method: str
    status: str
    scheduled_at: datetime
    due_at: datetime
    questions: list[dict]
    answers: dict
    score: int | None
    satisfied: bool | None
    attempts: int


class OrderDetailOut(OrderOut):
    classification: dict
    impact: dict
    clocks: list[ClockOut]
    events: list[EventOut]
    attachments: list[AttachmentOut]
    return_visits: list[VisitOut]
    merged: list[str]


class OrderIn(Schema):
    channel: str = Field(..., description="hotline | walk_in | email | letter | government (staff); portal | app "
                                          "(customers)")
    description: str = Field(..., max_length=4000)
    subject: str = Field("", max_length=200)
    category: str = Field("", description="taxonomy code; empty lets the classifier decide")
    grade: str = Field("", description="special | major | important | general (complaints and reports)")
    customer_id: int | None = None
    account_number: str = ""
    service_point_code: str = ""
    contact_name: str = Field("", max_length=64)
    contact_phone: str = ""
    contact_email: str = ""
    area_type: str = Field("", description="urban | rural | remote (repair arrival limits)")
    external_ref: str = Field("", max_length=128, description="the app's own id for this request")


class TextIn(Schema):
    text: str = Field(..., max_length=4000)


class NoteIn(Schema):
    note: str = Field("", max_length=4000)


class ReasonIn(Schema):
    reason: str = Field(..., max_length=1000)


class ResolutionIn(Schema):
    resolution: str = Field("", max_length=4000, description="required unless the order is already resolved")


class AssignIn(Schema):
    assignee_id: int
    note: str = ""


class TransferIn(Schema):
    org_unit_code: str
    reason: str = Field(..., max_length=1000)
    assignee_id: int | None = None


class MergeIn(Schema):
    into_number: str
    reason: str = Field(..., max_length=1000)


class ContactAgainIn(Schema):
    channel: str = "hotline"
    note: str = ""


class TaskForceIn(Schema):
    lead_id: int
    member_ids: list[int] = []
    note: str = Field("", max_length=255)


class QueueRowOut(Schema):
    order: OrderOut
    worst: str
    next_clock: ClockOut | None


class InboundOut(Schema):
    number: str
    created: bool
    rejected_attachments: list[str] = []


class OutageIn(Schema):
    kind: str = Field(..., description="planned | temporary | fault")
    title: str
    org_unit_code: str
    grid_cells: list[str]
    start_at: datetime
    end_at: datetime
    reason: str = ""
    notice_override_reason: str = ""


class OutageOut(Schema):
    id: int
    kind: str
    status: str
    title: str
    reason: str
    org_unit: str
    grid_cells: list[str]
    start_at: datetime
    end_at: datetime
    restored_at: datetime | None
    notified_at: datetime | None
    calls: int = 0


class OutageCreatedOut(Schema):
    outage: OutageOut
    notices: int


class RestoreOut(Schema):
    outage: OutageOut
    resolved_orders: int


class VisitAnswerIn(Schema):
    answers: dict[str, Any]
    customer_requested_time: bool = False


class SurveyOut(Schema):
    work_order: str
    status: str
    questions: list[dict]


class SurveyIn(Schema):
    answers: dict[str, Any]


class NegativeOut(Schema):
    id: int
    kind: str
    status: str
    work_order: str | None
    org_unit: str
    grid_cell: str
    accountable_user: str | None
    description: str
    occurred_at: datetime
    recorded_at: datetime
    rectification: str
    rectified_at: datetime | None


class NegativePage(Schema):
    items: list[NegativeOut]
    total: int
    limit: int
    offset: int


class NegativeIn(Schema):
    description: str = Field(..., max_length=255)
    occurred_at: datetime
    number: str = ""
    org_unit_code: str = ""
    grid_cell: str = ""
    accountable_user_id: int | None = None


class RectifyIn(Schema):
    rectification: str


class CaseIn(Schema):
    title: str = Field(..., max_length=128)
    summary: str
    kind: str = "negative"
    lessons: str = ""
    accountability: str = ""
    number: str = ""
    org_unit_code: str = ""


class CaseOut(Schema):
    id: int
    kind: str
    title: str
    summary: str
    lessons: str
    accountability: str
    work_order: str | None
    org_unit: str
    grid_cell: str
    published_at: datetime


class BreachRowOut(Schema):
    org_unit: str
    type: str
    clock: str
    total: int
    on_time: int
    breached: int
    open_breached: int
    on_time_rate: float | None


class TickOut(Schema):
    warnings: int
    breaches: int
    escalations: int
    expired_surveys: int


# -- rendering ------------------------------------------------------------------------------------
def _order(request, o: WorkOrder, *, next_clock: selectors.ClockView | None = None) -> dict:
    contact = selectors.contact_shown(user=request.user, order=o)
    return {
        "number": o.number, "channel": o.channel, "type": o.type, "category": o.category,
        "category_label": service_policy().taxonomy.path_label(o.category), "grade": o.grade,
        "priority": o.priority, "status": o.status, "subject": o.subject, "description": o.description,
        "customer_id": o.customer_id, "account_number": o.account.number if o.account_id else None,
        "service_point_code": o.service_point.code if o.service_point_id else None, **contact,
        "area_type": o.area_type, "grid_cell": o.grid_cell, "org_unit": o.org_unit.code,
        "assignee": o.assignee.username if o.assignee_id else None,
        "first_contact_user": o.first_contact_user.username if o.first_contact_user_id else None,
        "outage_id": o.outage_id, "merged_into": o.merged_into.number if o.merged_into_id else None,
        "repeat_contact": o.repeat_contact, "resolution": o.resolution, "plan": o.plan,
        "reopen_count": o.reopen_count, "transfer_count": o.transfer_count, "created_at": o.created_at,
        "updated_at": o.updated_at, "resolved_at": o.resolved_at, "closed_at": o.closed_at,
        "next_due_at": next_clock.due_at if next_clock else None,
        "sla_state": next_clock.state if next_clock else None,
    }


def _visit(v: ReturnVisit) -> dict:
    return {"id": v.pk, "work_order": v.work_order.number, "method": v.method, "status": v.status,
            "scheduled_at": v.scheduled_at, "due_at": v.due_at, "questions": v.questions, "answers": v.answers,
            "score": v.score, "satisfied": v.satisfied, "attempts": v.attempts}


def _detail(request, number: str) -> dict:
    order = selectors.work_order_get(user=request.user, number=number)
    if order is None:
        raise NotFound(f"work order {number!r} not found", field="number")
    customer = request.user.role == Role.CUSTOMER
    as_of = _now()
    events = selectors.public_events(order) if customer else list(order.events.all())
    return {
        **_order(request, order), "classification": {} if customer else order.classification,
        "impact": {} if customer else order.impact,
        "clocks": [] if customer else [c.__dict__ for c in selectors.clock_views(order, as_of=as_of)],
        "events": [{"at": e.at, "kind": e.kind, "actor": None if customer or not e.actor_id else e.actor.username,
                    "from_status": e.from_status, "to_status": e.to_status, "note": e.note,
                    "data": {} if customer else e.data} for e in events],
        "attachments": [{"id": a.pk, "name": a.name, "content_type": a.content_type, "size": a.size,
                         "sha256": a.sha256, "uploaded_at": a.uploaded_at} for a in order.attachments.all()],
        "return_visits": [] if customer else [_visit(v) for v in order.return_visits.all()],
        "merged": [m.number for m in order.merged.all()],
    }


def _outage(o: Outage) -> dict:
    return {"id": o.pk, "kind": o.kind, "status": o.status, "title": o.title, "reason": o.reason,
            "org_unit": o.org_unit.code, "grid_cells": list(o.grid_cells), "start_at": o.start_at,
            "end_at": o.end_at, "restored_at": o.restored_at, "notified_at": o.notified_at,
            "calls": getattr(o, "calls", 0)}


def _negative(e: NegativeListEntry) -> dict:
    return {"id": e.pk, "kind": e.kind, "status": e.status, "work_order": e.work_order.number if e.work_order_id else None,
            "org_unit": e.org_unit.code, "grid_cell": e.grid_cell,
            "accountable_user": e.accountable_user.username if e.accountable_user_id else None,
            "description": e.description, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at,
            "rectification": e.rectification, "rectified_at": e.rectified_at}


def _case(c: TypicalCase) -> dict:
    return {"id": c.pk, "kind": c.kind, "title": c.title, "summary": c.summary, "lessons": c.lessons,
            "accountability": c.accountability, "work_order": c.work_order.number if c.work_order_id else None,
            "org_unit": c.org_unit.code, "grid_cell": c.grid_cell, "published_at": c.published_at}


# -- taxonomy -------------------------------------------------------------------------------------
@router.get("/taxonomy", summary="Work-order types, categories (levels 1–3), grades, channels, priorities")
def taxonomy(request) -> dict:
    policy = service_policy()
    tax = policy.taxonomy
    return {
        "categories": [{"code": c.code, "label": c.label, "level": c.level, "parent": c.parent_code}
                       for c in tax.categories.values()],
        "grades": [{"code": k, "label": v[0], "priority": v[1]} for k, v in tax.grades.items()],
        "graded_types": sorted(tax.graded_types), "priorities": tax.priorities, "area_types": tax.area_types,
        "channels": policy.intake.channels,
    }


# -- work orders ----------------------------------------------------------------------------------
@router.get("/work-orders", response={200: OrderPage, **ERRORS}, summary="Work orders in scope")
def order_list(request, filters: Query[OrderFilter]):
    qs = selectors.work_order_list(user=request.user, status=filters.status, type=filters.type, q=filters.q,
                                   mine=filters.mine, org_unit_code=filters.org_unit, open_only=filters.open)
    return page(qs, limit=filters.limit, offset=filters.offset, render=lambda o: _order(request, o))


@router.post("/work-orders", response={201: OrderDetailOut, **RESPONSES}, summary="File a work order (any channel)")
def order_create(request, body: OrderIn):
    order = services.work_order_create(actor=request.user, data=services.WorkOrderInput(**body.dict()), as_of=_now())
    return Status(201, _detail(request, order.number))


@router.get("/work-orders/{number}", response={200: OrderDetailOut, **ERRORS},
            summary="One order: clocks with countdowns, full history, attachments, return visits")
def order_detail(request, number: str):
    return _detail(request, number)


def _act(request, number: str, fn, **kwargs) -> dict:
    fn(actor=request.user, number=number, as_of=_now(), **kwargs)
    return _detail(request, number)


@router.post("/work-orders/{number}/assign", response={200: OrderDetailOut, **RESPONSES}, summary="Assign to an agent")
def order_assign(request, number: str, body: AssignIn):
    return _act(request, number, services.work_order_assign, assignee_id=body.assignee_id, note=body.note)


@router.post("/work-orders/{number}/accept", response={200: OrderDetailOut, **RESPONSES},
             summary="Take the order (专人处理)")
def order_accept(request, number: str):
    return _act(request, number, services.work_order_accept)


@router.post("/work-orders/{number}/contact", response={200: OrderDetailOut, **RESPONSES},
             summary="We reached the customer (首次响应 / 联系客户)")
def order_contact(request, number: str, body: TextIn):
    return _act(request, number, services.work_order_contact, note=body.text)


@router.post("/work-orders/{number}/arrive", response={200: OrderDetailOut, **RESPONSES},
             summary="Repair crew on site (到达现场)")
def order_arrive(request, number: str, body: NoteIn):
    return _act(request, number, services.work_order_arrive, note=body.note)


@router.post("/work-orders/{number}/plan", response={200: OrderDetailOut, **RESPONSES},
             summary="Handling plan (处理方案)")
def order_plan(request, number: str, body: TextIn):
    return _act(request, number, services.work_order_plan, plan=body.text)


@router.post("/work-orders/{number}/reply", response={200: OrderDetailOut, **RESPONSES},
             summary="Reply to the customer (答复)")
def order_reply(request, number: str, body: TextIn):
    return _act(request, number, services.work_order_reply, text=body.text)


@router.post("/work-orders/{number}/notes", response={200: OrderDetailOut, **RESPONSES}, summary="Internal note")
def order_note(request, number: str, body: TextIn):
    return _act(request, number, services.work_order_note, text=body.text)


@router.post("/work-orders/{number}/wait", response={200: OrderDetailOut, **RESPONSES},
             summary="Wait for the customer: pausable clocks stop")
def order_wait(request, number: str, body: ReasonIn):
    return _act(request, number, services.work_order_wait_for_customer, reason=body.reason)


@router.post("/work-orders/{number}/resume", response={200: OrderDetailOut, **RESPONSES},
             summary="The customer is back: clocks resume with the time they had left")
def order_resume(request, number: str, body: NoteIn):
    return _act(request, number, services.work_order_resume, note=body.note)


@router.post("/work-orders/{number}/resolve", response={200: OrderDetailOut, **RESPONSES}, summary="Resolve (办结)")
def order_resolve(request, number: str, body: ResolutionIn):
    return _act(request, number, services.work_order_resolve, resolution=body.resolution)


@router.post("/work-orders/{number}/close", response={200: OrderDetailOut, **RESPONSES},
             summary="Close (and resolve in one step with a resolution); creates the return visit")
def order_close(request, number: str, body: ResolutionIn):
    return _act(request, number, services.work_order_close, resolution=body.resolution)


@router.post("/work-orders/{number}/reopen", response={200: OrderDetailOut, **RESPONSES},
             summary="Reopen (supervisors)")
def order_reopen(request, number: str, body: ReasonIn):
    return _act(request, number, services.work_order_reopen, reason=body.reason)


@router.post("/work-orders/{number}/cancel", response={200: OrderDetailOut, **RESPONSES},
             summary="Cancel an order filed in error (supervisors)")
def order_cancel(request, number: str, body: ReasonIn):
    return _act(request, number, services.work_order_cancel, reason=body.reason)


@router.post("/work-orders/{number}/transfer", response={200: OrderDetailOut, **RESPONSES},
             summary="Transfer to another org unit (转派); the first-contact agent keeps following it")
def order_transfer(request, number: str, body: TransferIn):
    return _act(request, number, services.work_order_transfer, org_unit_code=body.org_unit_code, reason=body.reason,
                assignee_id=body.assignee_id)


@router.post("/work-orders/{number}/merge", response={200: OrderDetailOut, **RESPONSES},
             summary="Merge this duplicate into another open order; returns the survivor")
def order_merge(request, number: str, body: MergeIn):
    survivor = services.work_order_merge(actor=request.user, number=number, into_number=body.into_number,
                                         reason=body.reason, as_of=_now())
    return _detail(request, survivor.number)


@router.post("/work-orders/{number}/contacts", response={200: OrderDetailOut, **RESPONSES},
             summary="The customer contacted us again (催办); repeated-contact rule applies")
def order_contact_again(request, number: str, body: ContactAgainIn):
    return _act(request, number, services.work_order_record_contact, channel=body.channel, note=body.note)


@router.post("/work-orders/{number}/task-force", response={200: OrderDetailOut, **RESPONSES},
             summary="Form a task force (专项攻关, supervisors)")
def order_task_force(request, number: str, body: TaskForceIn):
    return _act(request, number, services.task_force_form, lead_id=body.lead_id, member_ids=body.member_ids,
                note=body.note)


@router.post("/work-orders/{number}/attachments", response={201: AttachmentOut, **RESPONSES},
             summary="Attach a file (size and type limits from policy/intake.yaml)")
def order_attach(request, number: str, file: File[UploadedFile]):
    limit = service_policy().intake.attachment_max_bytes
    if file.size is not None and file.size > limit:
        raise ValidationFailed(f"{file.name}: {file.size} bytes is over the limit of {limit}", field="file")
    a = services.attachment_add(actor=request.user, number=number, name=file.name or "", content=file.read(),
                                as_of=_now())
    return Status(201, {"id": a.pk, "name": a.name, "content_type": a.content_type, "size": a.size,
                        "sha256": a.sha256, "uploaded_at": a.uploaded_at})


@router.get("/work-orders/{number}/duplicates", response={200: list[OrderOut], **ERRORS},
            summary="Open orders of the same type from the same customer recently (merge candidates)")
def order_duplicates(request, number: str):
    _staff(request)
    order = selectors.work_order_get(user=request.user, number=number)
    if order is None:
        raise NotFound(f"work order {number!r} not found", field="number")
    return [_order(request, o) for o in selectors.duplicate_candidates(user=request.user, order=order, as_of=_now())]


@router.get("/work-orders/{number}/reply-templates", response={200: list[dict], **ERRORS},
            summary="Reply templates filled in for this order")
def order_reply_templates(request, number: str):
    _staff(request)
    order = selectors.work_order_get(user=request.user, number=number)
    if order is None:
        raise NotFound(f"work order {number!r} not found", field="number")
    return selectors.render_reply_templates(order, as_of=_now())


# -- queue and board ------------------------------------------------------------------------------
@router.get("/queue", response={200: list[QueueRowOut], **ERRORS},
            summary="Agent workbench queue: open orders, most urgent SLA first")
def queue(request, mine: bool = False, type: str = "", limit: int = 100):
    _staff(request)
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    rows = selectors.agent_queue(user=request.user, as_of=_now(), mine=mine, type=type, limit=limit)
    return [{"order": _order(request, r.order, next_clock=r.next_clock), "worst": r.worst,
             "next_clock": r.next_clock.__dict__ if r.next_clock else None} for r in rows]


@router.get("/dashboard", response={200: dict, **ERRORS},
            summary="Supervisor board: live SLA status, backlog by type and org unit, breaches, rapid response")
def dashboard(request):
    _need(request, "service.supervise")
    board = selectors.dashboard(user=request.user, as_of=_now())
    return {
        "as_of": board["as_of"], "open_total": board["open_total"], "by_status": board["by_status"],
        "live": board["live"], "backlog": board["backlog"], "visits_due": board["visits_due"],
        "negative_open": board["negative_open"], "satisfaction_7d": board["satisfaction_7d"],
        "breaches": [{"number": c.work_order.number, "clock": c.label, "due_at": c.due_at,
                      "org_unit": c.work_order.org_unit.code} for c in board["breaches"]],
        "escalations": [{"number": e.work_order.number, "level": e.level, "label": e.label, "at": e.at,
                         "org_unit": e.org_unit.code} for e in board["escalations"]],
        "rapid_response": [{"number": o.number, "grade": o.grade, "priority": o.priority,
                            "risk": (o.impact or {}).get("escalation_risk", {}).get("level"),
                            "affected_customers": (o.impact or {}).get("affected_customers"),
                            "assignee": o.assignee.username if o.assignee_id else None}
                           for o in board["rapid_response"]],
    }


@router.get("/reports/breaches", response={200: list[BreachRowOut], **ERRORS},
            summary="Time limits due in [start, end): met on time vs breached, per org unit, type and clock")
def breaches(request, start: datetime, end: datetime, org_unit: str = ""):
    _need(request, "service.supervise")
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    rows = selectors.breach_report(user=request.user, start=start, end=end, as_of=_now(), org_unit_code=org_unit)
    return [{**r.__dict__, "on_time_rate": r.on_time_rate} for r in rows]


@router.get("/reports/satisfaction", response={200: dict, **ERRORS},
            summary="Return-visit satisfaction in [start, end) (回访满意率)")
def satisfaction(request, start: datetime, end: datetime):
    _need(request, "service.supervise")
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    return selectors.satisfaction_summary(user=request.user, start=start, end=end)


@router.post("/tick", response={200: TickOut, **ERRORS},
             summary="Run the SLA tick now (warnings, breaches, escalations); normally cron or `gridcare service tick`")
def tick(request):
    _need(request, "service.supervise")
    return services.sla_tick(as_of=_now()).__dict__


# -- inbound --------------------------------------------------------------------------------------
@router.post("/inbound/webhook/{platform}", auth=None, response={200: InboundOut, 201: InboundOut, **RESPONSES},
             summary="Signed message from a messaging platform (HMAC-SHA256 over '<timestamp>.<body>')")
def inbound_webhook(request, platform: str):
    result = services.work_order_from_webhook(
        platform=platform, body=request.body, timestamp=request.headers.get("X-Gridcare-Timestamp", ""),
        signature=request.headers.get("X-Gridcare-Signature", ""), as_of=_now())
    return Status(201 if result.created else 200, {"number": result.work_order.number, "created": result.created})


@router.post("/inbound/email", response={200: InboundOut, 201: InboundOut, **RESPONSES},
             summary="Import one .eml message as a work order (idempotent on Message-ID)")
def inbound_email(request, file: File[UploadedFile]):
    _staff(request)
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", field="file")
    result = services.work_order_from_email(raw=file.read(), as_of=_now(), actor=request.user)
    return Status(201 if result.created else 200, {"number": result.work_order.number, "created": result.created,
                                                   "rejected_attachments": list(result.rejected_attachments)})


# -- outages --------------------------------------------------------------------------------------
@router.get("/outages", response={200: list[OutageOut], **ERRORS}, summary="Outages in scope")
def outage_list(request, include_closed: bool = False):
    _staff(request)
    return [_outage(o) for o in selectors.outage_list(user=request.user, include_closed=include_closed)[:200]]


@router.post("/outages", response={201: OutageCreatedOut, **RESPONSES},
             summary="Record an outage and queue the customer notices (planned: notice period applies)")
def outage_create(request, body: OutageIn):
    outage, sent = services.outage_create(actor=request.user, data=services.OutageInput(**body.dict()), as_of=_now())
    return Status(201, {"outage": _outage(outage), "notices": sent})


@router.post("/outages/{outage_id}/restore", response={200: RestoreOut, **RESPONSES},
             summary="Supply restored: notify customers, resolve linked repair orders")
def outage_restore(request, outage_id: int, body: NoteIn):
    outage, resolved = services.outage_restore(actor=request.user, outage_id=outage_id, as_of=_now(), note=body.note)
    return {"outage": _outage(outage), "resolved_orders": resolved}


@router.post("/outages/{outage_id}/cancel", response={200: OutageOut, **RESPONSES},
             summary="Call off a scheduled outage; pending notices are withdrawn")
def outage_cancel(request, outage_id: int, body: ReasonIn):
    return _outage(services.outage_cancel(actor=request.user, outage_id=outage_id, reason=body.reason, as_of=_now()))


# -- return visits and survey ---------------------------------------------------------------------
@router.get("/return-visits", response={200: list[VisitOut], **ERRORS},
            summary="Phone return visits due now (quiet hours respected)")
def visit_queue(request, include_later: bool = False):
    _staff(request)
    qs = selectors.return_visit_queue(user=request.user, as_of=_now(), due_only=not include_later)
    return [_visit(v) for v in qs[:200]]


@router.post("/return-visits/{visit_id}/complete", response={200: VisitOut, **RESPONSES},
             summary="Record a phone visit's answers; dissatisfaction reopens the order")
def visit_complete(request, visit_id: int, body: VisitAnswerIn):
    return _visit(services.return_visit_complete(actor=request.user, visit_id=visit_id, answers=body.answers,
                                                 as_of=_now(), customer_requested_time=body.customer_requested_time))


@router.post("/return-visits/{visit_id}/unreachable", response={200: VisitOut, **RESPONSES},
             summary="Call not answered: retry later or record unreachable after the attempt limit")
def visit_unreachable(request, visit_id: int, body: NoteIn):
    return _visit(services.return_visit_unreachable(actor=request.user, visit_id=visit_id, note=body.note,
                                                    as_of=_now()))


@router.get("/surveys/{token}", auth=None, response={200: SurveyOut, **ERRORS},
            summary="The SMS survey behind a link (no login; the token is the key)")
def survey_get(request, token: str):
    visit = selectors.return_visit_by_token(token=token)
    if visit is None or visit.method != ReturnVisit.Method.SMS:
        raise NotFound("survey not found", field="token")
    return {"work_order": visit.work_order.number, "status": visit.status, "questions": visit.questions}


@router.post("/surveys/{token}", auth=None, response={200: SurveyOut, **RESPONSES}, summary="Answer the SMS survey")
def survey_answer(request, token: str, body: SurveyIn):
    visit = services.return_visit_answer_survey(token=token, answers=body.answers, as_of=_now())
    return {"work_order": visit.work_order.number, "status": visit.status, "questions": visit.questions}


# -- negative list and typical cases --------------------------------------------------------------
@router.get("/negative-list", response={200: NegativePage, **ERRORS}, summary="负面清单 (one record per event)")
def negative_list(request, paging: Query[Paging], status: str = "", kind: str = ""):
    _need(request, "service.supervise")
    return page(selectors.negative_list(user=request.user, status=status, kind=kind), limit=paging.limit,
                offset=paging.offset, render=_negative)


@router.post("/negative-list", response={201: NegativeOut, **RESPONSES}, summary="Record a negative event by hand")
def negative_create(request, body: NegativeIn):
    entry = services.negative_entry_create(actor=request.user, as_of=_now(), **body.dict())
    return Status(201, _negative(entry))


@router.post("/negative-list/{entry_id}/rectify", response={200: NegativeOut, **RESPONSES}, summary="Rectified")
def negative_rectify(request, entry_id: int, body: RectifyIn):
    return _negative(services.negative_entry_rectify(actor=request.user, entry_id=entry_id,
                                                     rectification=body.rectification, as_of=_now()))


@router.get("/typical-cases", response={200: list[CaseOut], **ERRORS}, summary="典型案例 library")
def case_list(request):
    _staff(request)
    return [_case(c) for c in selectors.typical_cases(user=request.user)[:200]]


@router.post("/typical-cases", response={201: CaseOut, **RESPONSES}, summary="Publish a typical case")
def case_create(request, body: CaseIn):
    return Status(201, _case(services.typical_case_create(actor=request.user, as_of=_now(), **body.dict())))

"""Visit programme writes, one transaction each, following seed 003 §7.1:
走访前准备 (prepare) → 预约 (appoint) → 走访 (record: policy, needs, requests) → 制定服务策略 (strategy)
→ 解决诉求并回访 (follow up) → 走访信息归档 (archive). Requests become service-desk work orders, so
their time limits, routing and history are the service desk's. Every function takes `as_of`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction

from gridcare.access.models import User
from gridcare.access.roles import Role, can
from gridcare.core.errors import GridcareError, NotFound, PermissionDenied, ValidationFailed
from gridcare.customers.models import Account, Customer
from gridcare.customers.selectors import account_get, customer_get
from gridcare.service.i18n import _
from gridcare.service.models import WorkOrder
from gridcare.service.services import WorkOrderInput, work_order_create
from gridcare.visits.models import Visit, VisitEvent, VisitRequest
from gridcare.visits.policy import REQUEST_KINDS, visits_policy
from gridcare.visits.selectors import risk_candidates, visit_scope_q

CAPABILITY = "visits.work"
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
DONE_ORDER = ("resolved", "closed", "merged", "cancelled")


class UnableToChangeVisit(GridcareError):
    """The visit's stage does not allow the step (e.g. archiving with requests still open)."""

    code = "invalid_state"
    status = 409


class UnableToCallNow(GridcareError):
    """A call or appointment inside quiet hours without the customer asking for that time (§7.2.5.2)."""

    code = "quiet_hours"
    status = 409


def _require(actor: User) -> None:
    if actor.role == Role.CUSTOMER or not actor.is_active or not can(actor.role, CAPABILITY):
        raise PermissionDenied(_("your role may not do this (%(capability)s)") % {"capability": CAPABILITY})


def _text(value: str, *, name: str, required: bool = True, limit: int = 4000) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("%(field)s is required") % {"field": name}, field=name)
    if len(value) > limit:
        raise ValidationFailed(_("%(field)s is longer than %(n)s characters") % {"field": name, "n": limit},
                               field=name)
    return value


def _event(visit: Visit, *, kind: str, at: datetime, actor: User | None, note: str = "") -> None:
    VisitEvent.objects.create(visit=visit, kind=kind, at=at, actor=actor, note=note)


def _for_update(*, actor: User, visit_id: int) -> Visit:
    visit = (Visit.objects.select_for_update().filter(pk=visit_id)
             .filter(pk__in=Visit.objects.filter(visit_scope_q(actor)).values("pk")).first())
    if visit is None:
        raise NotFound(_("visit %(id)s not found") % {"id": visit_id}, field="visit_id")
    return visit


def _stage(visit: Visit, allowed: tuple[str, ...]) -> None:
    if visit.stage not in allowed:
        raise UnableToChangeVisit(_("visit %(number)s is %(stage)s: this step is not possible now")
                                  % {"number": visit.number, "stage": visit.get_stage_display()}, field="stage")


def _move(visit: Visit, stage: str, *, at: datetime, actor: User, note: str = "") -> None:
    visit.stage = stage
    visit.updated_at = at
    visit.save()
    _event(visit, kind=stage, at=at, actor=actor, note=note)


def _quiet_check(at: datetime, *, customer_requested_time: bool, field: str) -> None:
    quiet = visits_policy().quiet_hours
    if quiet.contains(at) and not customer_requested_time:
        raise UnableToCallNow(_("not between %(quiet)s unless the customer asked for that time")
                              % {"quiet": quiet}, field=field)


@dataclass(frozen=True)
class VisitInput:
    target_kind: str
    channel: str
    purpose: str
    planned_for: date
    topics: list[str] = field(default_factory=list)
    customer_id: int | None = None
    account_number: str = ""
    organisation: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    visitor_id: int | None = None


def _create(*, actor: User, data: VisitInput, as_of: datetime, source: str = "manual",
            reasons: list[str] | None = None) -> Visit:
    policy = visits_policy()
    if data.target_kind not in policy.target_kinds:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                               % {"value": data.target_kind, "allowed": ", ".join(policy.target_kinds)},
                               field="target_kind")
    if data.channel not in policy.channels:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                               % {"value": data.channel, "allowed": ", ".join(policy.channels)}, field="channel")
    unknown = [t for t in data.topics if t not in policy.topics]
    if unknown:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                               % {"value": unknown[0], "allowed": ", ".join(policy.topics)}, field="topics")
    purpose = _text(data.purpose, name="purpose", limit=255)
    if data.contact_phone and not PHONE_RE.match(data.contact_phone):
        raise ValidationFailed(_("not a valid mobile (11 digits) or landline number"), field="contact_phone")
    account: Account | None = None
    customer: Customer | None = None
    if data.account_number:
        account = account_get(user=actor, number=data.account_number)
        if account is None:
            raise ValidationFailed(_("account %(n)s not found") % {"n": data.account_number}, field="account_number")
        customer = account.customer
    if data.customer_id is not None:
        found = customer_get(user=actor, customer_id=data.customer_id)
        if found is None or (customer is not None and found.pk != customer.pk):
            raise ValidationFailed(_("customer %(id)s not found") % {"id": data.customer_id}, field="customer_id")
        customer = found
    is_customer_kind = policy.target_kinds[data.target_kind][1]
    organisation = _text(data.organisation, name="organisation", required=False, limit=128)
    if is_customer_kind and customer is None:
        raise ValidationFailed(_("this kind of visit is to one of our customers: give the account or customer"),
                               field="account_number")
    if not is_customer_kind and not organisation and customer is None:
        raise ValidationFailed(_("name the organisation visited"), field="organisation")
    visitor = actor
    if data.visitor_id is not None:
        visitor = User.objects.filter(pk=data.visitor_id, is_active=True).first()
        if visitor is None or not can(visitor.role, CAPABILITY):
            raise ValidationFailed(_("user %(id)s cannot make visits") % {"id": data.visitor_id}, field="visitor_id")
    unit = (account.org_unit if account else customer.org_unit if customer else actor.org_unit)
    if unit is None:
        raise ValidationFailed(_("no org unit exists to take the order"), field="org_unit")
    visit = Visit.objects.create(
        number=f"TMP{as_of.timestamp()}", target_kind=data.target_kind, source=source, customer=customer,
        account=account, organisation=organisation or (customer.name if customer else ""),
        contact_name=data.contact_name or (customer.name if customer else ""),
        contact_phone=data.contact_phone or (customer.phone if customer else ""), org_unit=unit, visitor=visitor,
        channel=data.channel, topics=list(dict.fromkeys(data.topics)), purpose=purpose, reasons=reasons or [],
        planned_for=data.planned_for, created_by=actor, created_at=as_of, updated_at=as_of,
    )
    visit.number = f"V{as_of.astimezone(policy.quiet_hours.tz):%Y%m%d}{visit.pk:05d}"
    visit.save(update_fields=["number"])
    _event(visit, kind="planned", at=as_of, actor=actor, note=purpose)
    return visit


@transaction.atomic
def visit_create(*, actor: User, data: VisitInput, as_of: datetime) -> Visit:
    """Plan a visit (§4 target, §5 topics, §6 channel). Raises ValidationFailed naming the field."""
    _require(actor)
    return _create(actor=actor, data=data, as_of=as_of)


@transaction.atomic
def visit_prepare(*, actor: User, visit_id: int, checklist: list[str], as_of: datetime) -> Visit:
    """§7.2.1 走访前准备: tick what is ready; the visit is prepared when its channel's list is complete."""
    _require(actor)
    visit = _for_update(actor=actor, visit_id=visit_id)
    _stage(visit, ("planned", "prepared"))
    required = visits_policy().checklist.get(visit.channel, ())
    unknown = [i for i in checklist if i not in required]
    if unknown:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                               % {"value": unknown[0], "allowed": ", ".join(required)}, field="checklist")
    visit.checklist = [i for i in required if i in checklist]
    if set(visit.checklist) == set(required):
        _move(visit, Visit.Stage.PREPARED, at=as_of, actor=actor, note="、".join(visit.checklist))
    else:
        visit.updated_at = as_of
        visit.save()
    return visit


@transaction.atomic
def visit_appoint(*, actor: User, visit_id: int, appointment_at: datetime, as_of: datetime,
                  customer_requested_time: bool = False) -> Visit:
    """§6.1.3.1 预约: an agreed time, not in quiet hours unless the visited party asked for it."""
    _require(actor)
    visit = _for_update(actor=actor, visit_id=visit_id)
    _stage(visit, ("prepared", "appointed"))
    if appointment_at.tzinfo is None:
        raise ValidationFailed(_("times need a time zone"), field="appointment_at")
    if appointment_at < as_of:
        raise ValidationFailed(_("the appointment must be in the future"), field="appointment_at")
    _quiet_check(appointment_at, customer_requested_time=customer_requested_time, field="appointment_at")
    if visit.channel == "phone":
        _quiet_check(as_of, customer_requested_time=customer_requested_time, field="as_of")
    visit.appointment_at = appointment_at
    _move(visit, Visit.Stage.APPOINTED, at=as_of, actor=actor,
          note=appointment_at.astimezone(visits_policy().quiet_hours.tz).strftime("%Y-%m-%d %H:%M"))
    return visit


@transaction.atomic
def visit_record(*, actor: User, visit_id: int, visited_at: datetime, as_of: datetime, topics: list[str],
                 policy_notes: str = "", needs: str = "", requests: list[tuple[str, str]] | None = None,
                 customer_requested_time: bool = False) -> Visit:
    """§7.2.2–7.2.3: what was covered, the needs heard, and each request raised — opened at once as a
    service-desk work order (channel `visit`) so the 7-working-day / 24-hour limits run from now."""
    _require(actor)
    visit = _for_update(actor=actor, visit_id=visit_id)
    _stage(visit, ("prepared", "appointed"))
    policy = visits_policy()
    if visited_at > as_of:
        raise ValidationFailed(_("a visit cannot be recorded before it happens"), field="visited_at")
    if visit.channel == "phone":
        _quiet_check(visited_at, customer_requested_time=customer_requested_time, field="visited_at")
    unknown = [t for t in topics if t not in policy.topics]
    if unknown or not topics:
        raise ValidationFailed(_("choose the topics covered"), field="topics")
    visit.topics = list(dict.fromkeys(topics))
    visit.policy_notes = _text(policy_notes, name="policy_notes", required="policy" in topics)
    visit.needs = _text(needs, name="needs", required="needs" in topics)
    visit.visited_at = visited_at
    for i, (kind, text) in enumerate(requests or ()):
        if kind not in REQUEST_KINDS:
            raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                                   % {"value": kind, "allowed": ", ".join(REQUEST_KINDS)}, field=f"requests.{i}.kind")
        text = _text(text, name=f"requests.{i}.text")
        order = work_order_create(actor=actor, as_of=as_of, data=WorkOrderInput(
            channel="visit", description=text, subject=f"走访诉求（{visit.number}）：{text[:40]}",
            category=policy.request_categories[kind], customer_id=visit.customer_id,
            account_number=visit.account.number if visit.account_id else "", contact_name=visit.contact_name,
            contact_phone=visit.contact_phone, external_ref=f"visit:{visit.number}:{i}"))
        VisitRequest.objects.create(visit=visit, kind=kind, text=text, work_order=order, created_at=as_of)
    _move(visit, Visit.Stage.VISITED, at=as_of, actor=actor, note=visit.needs[:500])
    return visit


@transaction.atomic
def visit_set_strategy(*, actor: User, visit_id: int, strategy: str, as_of: datetime) -> Visit:
    """§7.2.4 制定服务策略: a workable plan for the needs heard."""
    _require(actor)
    visit = _for_update(actor=actor, visit_id=visit_id)
    _stage(visit, ("visited", "strategy"))
    visit.strategy = _text(strategy, name="strategy")
    _move(visit, Visit.Stage.STRATEGY, at=as_of, actor=actor, note=visit.strategy[:500])
    return visit


def _open_requests(visit: Visit) -> list[str]:
    return list(WorkOrder.objects.filter(pk__in=visit.requests.values("work_order_id"))
                .exclude(status__in=DONE_ORDER).values_list("number", flat=True))


@transaction.atomic
def visit_follow_up(*, actor: User, visit_id: int, as_of: datetime, satisfaction: int | None = None, note: str = "",
                    unreachable_reason: str = "", customer_requested_time: bool = False) -> Visit:
    """§7.2.5 解决诉求并回访 and §9.4 满意调查: after every request is resolved; never in quiet hours unless
    asked; an unreachable party is recorded with the reason (§7.2.5.1)."""
    _require(actor)
    visit = _for_update(actor=actor, visit_id=visit_id)
    _stage(visit, ("strategy",))
    pending = _open_requests(visit)
    if pending:
        raise UnableToChangeVisit(_("requests still open: %(numbers)s") % {"numbers": ", ".join(pending)},
                                  field="requests")
    _quiet_check(as_of, customer_requested_time=customer_requested_time, field="as_of")
    reason = _text(unreachable_reason, name="unreachable_reason", required=False, limit=255)
    if not reason:
        if satisfaction is None or not 1 <= int(satisfaction) <= 5:
            raise ValidationFailed(_("a score must be between 1 and 5"), field="satisfaction")
        visit.satisfaction = int(satisfaction)
    visit.unreachable_reason = reason
    visit.follow_up_note = _text(note, name="note", required=False)
    _move(visit, Visit.Stage.FOLLOWED_UP, at=as_of, actor=actor, note=reason or f"{visit.satisfaction}")
    return visit


@transaction.atomic
def visit_archive(*, actor: User, visit_id: int, as_of: datetime) -> Visit:
    """§7.2.6 走访信息归档: once every request is done (a visit without requests may skip the follow-up)."""
    _require(actor)
    visit = _for_update(actor=actor, visit_id=visit_id)
    has_requests = visit.requests.exists()
    _stage(visit, ("followed_up",) if has_requests else ("strategy", "followed_up"))
    pending = _open_requests(visit)
    if pending:
        raise UnableToChangeVisit(_("requests still open: %(numbers)s") % {"numbers": ", ".join(pending)},
                                  field="requests")
    visit.archived_at = as_of
    _move(visit, Visit.Stage.ARCHIVED, at=as_of, actor=actor)
    return visit


@transaction.atomic
def visit_cancel(*, actor: User, visit_id: int, reason: str, as_of: datetime) -> Visit:
    _require(actor)
    visit = _for_update(actor=actor, visit_id=visit_id)
    _stage(visit, ("planned", "prepared", "appointed"))
    _move(visit, Visit.Stage.CANCELLED, at=as_of, actor=actor, note=_text(reason, name="reason", limit=255))
    return visit


@transaction.atomic
def risk_visits_plan(*, actor: User, as_of: datetime, planned_for: date, channel: str = "onsite",
                     limit: int = 50) -> list[Visit]:
    """§4.4.2 服务风险用户: plan a visit for each candidate in the actor's scope (complaints, dissatisfied
    return visits, frequent repairs, requests left open), with the reasons recorded on the visit."""
    _require(actor)
    created = []
    for candidate in risk_candidates(user=actor, as_of=as_of, limit=limit):
        created.append(_create(actor=actor, as_of=as_of, source="risk", reasons=candidate.reasons,
                               data=VisitInput(target_kind="risk_customer", channel=channel, planned_for=planned_for,
                                               purpose="服务风险用户走访：" + "；".join(candidate.reasons)[:200],
                                               topics=["needs", "requests"], customer_id=candidate.customer.pk)))
    return created

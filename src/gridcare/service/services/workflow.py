"""Working an order: assign, accept, contact, arrive, plan, reply, wait, resolve, close, reopen,
transfer, merge, cancel, notes and task forces. Each function is one transaction and writes the
history event; the SLA clocks react to the milestone events (services/sla.py).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role, can
from gridcare.access.services import audit_record
from gridcare.core.errors import ValidationFailed
from gridcare.customers.models import OrgUnit
from gridcare.service.i18n import _
from gridcare.service.models import ContactLog, TaskForce, WorkOrder
from gridcare.service.policy import service_policy
from gridcare.service.services._common import (
    UnableToChangeWorkOrder,
    event,
    notify_users,
    order_for_update,
    raise_priority,
    require,
    require_status,
    set_status,
    text_field,
)
from gridcare.service.services.intake import pick_assignee
from gridcare.service.services.sla import (
    clocks_cancel,
    clocks_on_event,
    clocks_pause,
    clocks_resume,
    clocks_start,
)

S = WorkOrder.Status
OPEN = (S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING_CUSTOMER)
WORKING = (S.NEW, S.ASSIGNED, S.IN_PROGRESS)


def _staff(user_id: int | None, *, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.role == Role.CUSTOMER or not can(user.role, "service.work"):
        raise ValidationFailed(_("user %(id)s cannot work service orders") % {"id": user_id}, field=field)
    return user


def _milestone(order: WorkOrder, *, name: str, actor: User, note: str, as_of: datetime, kind: str) -> WorkOrder:
    stopped = clocks_on_event(order, event_name=name, as_of=as_of)
    if order.status in (S.NEW, S.ASSIGNED):
        set_status(order, S.IN_PROGRESS, at=as_of, actor=actor, kind="started")
        if order.assignee_id is None:
            order.assignee = actor
    event(order, kind=kind, at=as_of, actor=actor, note=note,
          data={"clocks": [f"{c.key}:{c.status}" for c in stopped]})
    order.updated_at = as_of
    order.save()
    return order


@transaction.atomic
def work_order_assign(*, actor: User, number: str, assignee_id: int, as_of: datetime, note: str = "") -> WorkOrder:
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, WORKING, "assign")
    assignee = _staff(assignee_id, field="assignee_id")
    previous = order.assignee
    order.assignee = assignee
    if order.status == S.NEW:
        set_status(order, S.ASSIGNED, at=as_of, actor=actor, kind="assigned", note=note,
                   data={"assignee": assignee.username})
    else:
        event(order, kind="assigned", at=as_of, actor=actor, note=note,
              data={"from": previous.username if previous else None, "assignee": assignee.username})
    order.updated_at = as_of
    order.save()
    notify_users(order, [assignee], template="service_assigned", as_of=as_of, purpose="assignment",
                 dedupe=f"assigned:{order.pk}:{as_of.timestamp()}")
    return order


@transaction.atomic
def work_order_accept(*, actor: User, number: str, as_of: datetime) -> WorkOrder:
    """The handler takes the order (专人处理): meets the rapid-response 'handler' clock."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, WORKING, "accept")
    order.assignee = actor
    return _milestone(order, name="accept", actor=actor, note="", as_of=as_of, kind="accepted")


@transaction.atomic
def work_order_contact(*, actor: User, number: str, note: str, as_of: datetime) -> WorkOrder:
    """We reached the customer (首次响应 / 联系客户)."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, OPEN, "record contact on")
    return _milestone(order, name="contact", actor=actor, note=text_field(note, field="note"), as_of=as_of,
                      kind="contacted")


@transaction.atomic
def work_order_arrive(*, actor: User, number: str, as_of: datetime, note: str = "") -> WorkOrder:
    """Repair crew on site (到达现场)."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, WORKING, "record arrival on")
    return _milestone(order, name="arrive", actor=actor, note=text_field(note, field="note", required=False),
                      as_of=as_of, kind="arrived")


@transaction.atomic
def work_order_plan(*, actor: User, number: str, plan: str, as_of: datetime) -> WorkOrder:
    """Handling plan (处理方案) for a complaint: meets the rapid-response 'plan' clock."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, OPEN, "record a plan on")
    order.plan = text_field(plan, field="plan")
    return _milestone(order, name="plan", actor=actor, note=order.plan, as_of=as_of, kind="planned")


@transaction.atomic
def work_order_reply(*, actor: User, number: str, text: str, as_of: datetime) -> WorkOrder:
    """The handling opinion given to the customer (答复): meets the 'reply' clock."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, OPEN, "reply on")
    return _milestone(order, name="reply", actor=actor, note=text_field(text, field="text"), as_of=as_of,
                      kind="replied")


@transaction.atomic
def work_order_note(*, actor: User, number: str, text: str, as_of: datetime) -> WorkOrder:
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    event(order, kind="note", at=as_of, actor=actor, note=text_field(text, field="text"))
    return order


@transaction.atomic
def work_order_wait_for_customer(*, actor: User, number: str, reason: str, as_of: datetime) -> WorkOrder:
    """Waiting for the customer (资料待补/约定时间): pausable clocks stop counting."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, WORKING, "pause")
    reason = text_field(reason, field="reason")
    paused = clocks_pause(order, as_of=as_of)
    set_status(order, S.WAITING_CUSTOMER, at=as_of, actor=actor, kind="waiting_customer", note=reason,
               data={"paused": [c.key for c in paused]})
    order.save()
    return order


@transaction.atomic
def work_order_resume(*, actor: User | None, number: str, as_of: datetime, note: str = "") -> WorkOrder:
    """The customer is back: clocks resume with exactly the working time they had left."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, (S.WAITING_CUSTOMER,), "resume")
    resumed = clocks_resume(order, as_of=as_of)
    set_status(order, S.IN_PROGRESS, at=as_of, actor=actor, kind="resumed", note=note,
               data={"resumed": {c.key: c.due_at.isoformat() for c in resumed}})
    order.save()
    return order


def _resolve(order: WorkOrder, *, actor: User | None, resolution: str, as_of: datetime) -> None:
    order.resolution = text_field(resolution, field="resolution")
    if order.status == S.WAITING_CUSTOMER:
        clocks_resume(order, as_of=as_of)
    clocks_on_event(order, event_name="resolve", as_of=as_of)
    order.resolved_at = as_of
    set_status(order, S.RESOLVED, at=as_of, actor=actor, kind="resolved", note=order.resolution)
    order.save()


@transaction.atomic
def work_order_resolve(*, actor: User | None, number: str, resolution: str, as_of: datetime) -> WorkOrder:
    """Handling finished (办结): every clock still running stops (late ones record their breach)."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, OPEN, "resolve")
    _resolve(order, actor=actor, resolution=resolution, as_of=as_of)
    return order


@transaction.atomic
def work_order_close(*, actor: User, number: str, as_of: datetime, resolution: str = "") -> WorkOrder:
    """Close a resolved order (or resolve and close in one step with `resolution`) and create the
    return visit the policy asks for."""
    from gridcare.service.services.visits import return_visit_create_for  # noqa: PLC0415 - visits imports us

    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    if order.status in OPEN and resolution:
        _resolve(order, actor=actor, resolution=resolution, as_of=as_of)
    require_status(order, (S.RESOLVED,), "close")
    order.closed_at = as_of
    set_status(order, S.CLOSED, at=as_of, actor=actor, kind="closed")
    order.save()
    return_visit_create_for(order, as_of=as_of)
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="work_order", object_id=order.number,
                 summary=f"work order {order.number} closed", at=as_of)
    return order


def reopen(order: WorkOrder, *, actor: User | None, reason: str, as_of: datetime, kind: str = "reopened") -> None:
    """Back to work; the closing clocks (policy reopen_restarts) start again for a new round."""
    order.reopen_count += 1
    order.resolved_at = None
    order.closed_at = None
    set_status(order, S.IN_PROGRESS, at=as_of, actor=actor, kind=kind, note=reason,
               data={"round": order.reopen_count})
    order.save()
    clocks_start(order, as_of=as_of, only=service_policy().sla.reopen_restarts, round_=order.reopen_count)


@transaction.atomic
def work_order_reopen(*, actor: User, number: str, reason: str, as_of: datetime) -> WorkOrder:
    require(actor, "service.supervise")
    order = order_for_update(actor=actor, number=number)
    require_status(order, (S.RESOLVED, S.CLOSED), "reopen")
    reopen(order, actor=actor, reason=text_field(reason, field="reason"), as_of=as_of)
    return order


@transaction.atomic
def work_order_transfer(*, actor: User, number: str, org_unit_code: str, reason: str, as_of: datetime,
                        assignee_id: int | None = None) -> WorkOrder:
    """Hand the order to another unit (转派). The first-contact agent stays responsible for follow-up
    (首问负责) and keeps seeing the order; clocks keep running — a transfer does not buy time."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    require_status(order, OPEN, "transfer")
    reason = text_field(reason, field="reason")
    unit = OrgUnit.objects.filter(code=org_unit_code).first()
    if unit is None:
        raise ValidationFailed(_("unknown org unit %(code)s") % {"code": org_unit_code}, field="org_unit_code")
    if unit.pk == order.org_unit_id and assignee_id is None:
        raise ValidationFailed(_("the order is already with this unit"), field="org_unit_code")
    assignee = _staff(assignee_id, field="assignee_id")
    if assignee is None:
        rule = service_policy().routing.rule_for({"type": order.type, "category": order.category,
                                                  "grade": order.grade, "channel": order.channel,
                                                  "area_type": order.area_type})
        assignee = pick_assignee(unit=unit, skills=rule.skills)
    previous_unit, previous_assignee = order.org_unit, order.assignee
    order.org_unit = unit
    order.assignee = assignee
    order.transfer_count += 1
    new_status = S.ASSIGNED if assignee else S.NEW
    if order.status == S.WAITING_CUSTOMER:
        new_status = S.WAITING_CUSTOMER
    set_status(order, new_status, at=as_of, actor=actor, kind="transferred", note=reason,
               data={"from_unit": previous_unit.code, "to_unit": unit.code,
                     "from_assignee": previous_assignee.username if previous_assignee else None,
                     "assignee": assignee.username if assignee else None})
    order.save()
    if assignee is not None:
        notify_users(order, [assignee], template="service_assigned", as_of=as_of, purpose="assignment",
                     dedupe=f"assigned:{order.pk}:{as_of.timestamp()}")
    return order


@transaction.atomic
def work_order_merge(*, actor: User, number: str, into_number: str, reason: str, as_of: datetime) -> WorkOrder:
    """Merge a duplicate into the surviving order: its clocks are cancelled, its contacts and
    attachments count for the survivor, and both histories say so. Returns the survivor."""
    require(actor, "service.work")
    if number == into_number:
        raise ValidationFailed(_("an order cannot be merged into itself"), field="into_number")
    duplicate = order_for_update(actor=actor, number=number)
    survivor = order_for_update(actor=actor, number=into_number)
    require_status(duplicate, OPEN, "merge")
    if survivor.status not in OPEN:
        raise UnableToChangeWorkOrder(_("%(number)s is not open") % {"number": survivor.number}, field="into_number")
    reason = text_field(reason, field="reason")
    clocks_cancel(duplicate, as_of=as_of)
    duplicate.merged_into = survivor
    set_status(duplicate, S.MERGED, at=as_of, actor=actor, kind="merged", note=reason,
               data={"into": survivor.number})
    duplicate.save()
    ContactLog.objects.filter(work_order=duplicate).update(work_order=survivor)
    duplicate.attachments.update(work_order=survivor)
    event(survivor, kind="merged_in", at=as_of, actor=actor, note=reason, data={"from": duplicate.number})
    if duplicate.repeat_contact and not survivor.repeat_contact:
        survivor.repeat_contact = True
    raise_priority(survivor, duplicate.priority)
    survivor.updated_at = as_of
    survivor.save()
    return survivor


@transaction.atomic
def work_order_cancel(*, actor: User, number: str, reason: str, as_of: datetime) -> WorkOrder:
    """Withdraw an order filed in error (test call, wrong customer); supervisors only."""
    require(actor, "service.supervise")
    order = order_for_update(actor=actor, number=number)
    require_status(order, OPEN, "cancel")
    reason = text_field(reason, field="reason")
    clocks_cancel(order, as_of=as_of)
    set_status(order, S.CANCELLED, at=as_of, actor=actor, kind="cancelled", note=reason)
    order.save()
    return order


@transaction.atomic
def task_force_form(*, actor: User, number: str, lead_id: int, member_ids: list[int], note: str,
                    as_of: datetime) -> TaskForce:
    """专项攻关: a supervisor puts a lead and members on a complex complaint. The lead becomes the
    assignee and the 'handler' rapid-response clock is met."""
    require(actor, "service.supervise")
    order = order_for_update(actor=actor, number=number)
    require_status(order, OPEN, "form a task force on")
    lead = _staff(lead_id, field="lead_id")
    members = [_staff(m, field="member_ids") for m in dict.fromkeys(member_ids) if m != lead_id]
    task_force, _created = TaskForce.objects.update_or_create(
        work_order=order, defaults={"lead": lead, "formed_at": as_of, "formed_by": actor, "note": note[:255]},
    )
    task_force.members.set([lead, *members])
    order.assignee = lead
    _milestone(order, name="accept", actor=actor, note=note, as_of=as_of, kind="task_force")
    notify_users(order, [lead, *members], template="service_assigned", as_of=as_of, purpose="assignment",
                 dedupe=f"taskforce:{order.pk}:{as_of.timestamp()}")
    return task_force

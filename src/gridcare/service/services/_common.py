"""Shared helpers of the service-desk services: permission checks, history events, lookups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridcare.access.models import User
from gridcare.access.roles import CAPABILITIES, can
from gridcare.core.errors import GridcareError, NotFound, PermissionDenied, ValidationFailed
from gridcare.customers.models import OrgUnit
from gridcare.notifications import services as outbox
from gridcare.notifications.models import Message
from gridcare.notifications.policy import outbox_policy, render
from gridcare.service.i18n import _
from gridcare.service.models import Priority, WorkOrder, WorkOrderEvent
from gridcare.service.policy import PRIORITY_ORDER, service_policy
from gridcare.service.selectors import staff_scope_q
from gridcare.service.services._bulk import insert_rows

SUPERVISOR_ROLES = tuple(role for role, caps in CAPABILITIES.items() if "service.supervise" in caps)
WORKER_ROLES = tuple(role for role, caps in CAPABILITIES.items() if "service.work" in caps)


class UnableToChangeWorkOrder(GridcareError):
    """The order's state does not allow the action (e.g. closing an order that is not resolved)."""

    code = "invalid_state"
    status = 409


class UnableToVisitNow(GridcareError):
    """A return visit attempted inside quiet hours without the customer's request."""

    code = "quiet_hours"
    status = 409


def require(actor: User | None, capability: str) -> None:
    if actor is None:
        return  # system intake (webhook, e-mail) and scheduled jobs
    if not actor.is_active or not can(actor.role, capability):
        raise PermissionDenied(_("your role may not do this (%(capability)s)") % {"capability": capability})


def order_for_update(*, actor: User | None, number: str) -> WorkOrder:
    """Lock one order the actor may see; NotFound (never a hint that it exists) otherwise."""
    qs = WorkOrder.objects.select_for_update().filter(number=number)
    if actor is not None:
        visible = WorkOrder.objects.filter(staff_scope_q(actor), number=number).values("pk")
        qs = qs.filter(pk__in=visible)
    order = qs.first()
    if order is None:
        raise NotFound(_("work order %(number)s not found") % {"number": number}, field="number")
    return order


def event(order: WorkOrder, *, kind: str, at: datetime, actor: User | None = None, note: str = "",
          from_status: str = "", to_status: str = "", data: dict[str, Any] | None = None) -> WorkOrderEvent:
    return WorkOrderEvent.objects.create(
        work_order=order, at=at, actor=actor if actor is not None and actor.pk else None, kind=kind,
        from_status=from_status, to_status=to_status, note=note, data=data or {},
    )


def set_status(order: WorkOrder, status: str, *, at: datetime, actor: User | None, kind: str,
               note: str = "", data: dict[str, Any] | None = None) -> None:
    previous = order.status
    order.status = status
    order.updated_at = at
    event(order, kind=kind, at=at, actor=actor, note=note, from_status=previous, to_status=status, data=data)


def raise_priority(order: WorkOrder, to: str) -> bool:
    """Raise (never lower) the priority; True when it changed."""
    if PRIORITY_ORDER.index(to) > PRIORITY_ORDER.index(order.priority):
        order.priority = to
        return True
    return False


def priority_for_grade(grade: str) -> str:
    return service_policy().taxonomy.grades.get(grade, ("", Priority.NORMAL))[1] or Priority.NORMAL


def text_field(value: str, *, field: str, required: bool = True, max_length: int = 4000) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("%(field)s is required") % {"field": field}, field=field)
    if len(value) > max_length:
        raise ValidationFailed(_("%(field)s is longer than %(n)s characters") % {"field": field, "n": max_length},
                               field=field)
    return value


def require_status(order: WorkOrder, allowed: tuple[str, ...], action: str) -> None:
    if order.status not in allowed:
        raise UnableToChangeWorkOrder(
            _("cannot %(action)s work order %(number)s: it is %(status)s")
            % {"action": action, "number": order.number, "status": order.get_status_display()}, field="status")


def ancestors(unit: OrgUnit) -> list[OrgUnit]:
    """The unit and every unit above it, nearest first."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    by_id = OrgUnit.objects.in_bulk(ids)
    return [by_id[i] for i in reversed(ids) if i in by_id]


def supervisors_of(unit: OrgUnit) -> list[User]:
    """Active supervisors of the unit, or of the nearest unit above it that has any."""
    for candidate in ancestors(unit):
        found = list(User.objects.filter(org_unit=candidate, is_active=True, role__in=SUPERVISOR_ROLES)
                     .order_by("id"))
        if found:
            return found
    return []


def notify_targets(order: WorkOrder, targets: tuple[str, ...]) -> list[User]:
    """Resolve escalation targets (assignee / responsible / parent / root) to users, without repeats."""
    users: list[User] = []
    chain = ancestors(order.org_unit)
    for target in targets:
        if target == "assignee":
            found = [order.assignee] if order.assignee_id else []
        elif target == "responsible":
            found = supervisors_of(order.org_unit)
        elif target == "parent":
            found = supervisors_of(chain[1] if len(chain) > 1 else chain[0])
        else:  # root
            found = supervisors_of(chain[-1])
        for user in found:
            if user not in users:
                users.append(user)
    return users


def order_context(order: WorkOrder, **extra: Any) -> dict[str, Any]:
    taxonomy = service_policy().taxonomy
    return {"number": order.number, "category": taxonomy.path_label(order.category),
            "grade": taxonomy.grade_label(order.grade), **extra}


def notify_users(order: WorkOrder, users: list[User], *, template: str, as_of: datetime, purpose: str,
                 dedupe: str, context: dict[str, Any] | None = None) -> list[str]:
    """In-app messages to staff through the outbox; returns the usernames told."""
    told = []
    for user in users:
        outbox.message_enqueue(
            channel="in_app", template=template, context=order_context(order, **(context or {})), as_of=as_of,
            recipient_user=user, purpose=purpose, dedupe_key=f"{dedupe}:{user.pk}",
            object_type="work_order", object_id=order.pk,
        )
        told.append(user.username)
    return told


def in_app_bulk(items: list[tuple[User, str, str, str, dict[str, Any], int]], *, as_of: datetime) -> int:
    """Queue many in-app staff messages at once: (user, template, purpose, dedupe key, context, order id).

    The same rows `outbox.message_enqueue` writes for the in-app channel (no quiet hours, no recipient
    format to check), inserted in bulk; a dedupe key already used is skipped, as it is there."""
    policy = outbox_policy()
    rows = []
    rendered: dict[tuple[str, int], tuple[str, str]] = {}
    for user, template, purpose, dedupe, context, order_id in items:
        key = (template, id(context))  # the same context object is shared by everyone told about one event
        if key not in rendered:
            rendered[key] = render(template=template, channel=Message.Channel.IN_APP, context=context)
        subject, body = rendered[key]
        rows.append({
            "channel": Message.Channel.IN_APP.value, "template": template, "context": context, "purpose": purpose,
            "recipient": user.username, "recipient_user_id": user.pk, "subject": subject[: policy.subject_max_chars],
            "body": body, "urgent": False, "requested_at": as_of, "scheduled_at": as_of,
            "status": Message.Status.PENDING.value, "attempts": 0, "max_attempts": policy.max_attempts,
            "created_at": as_of, "dedupe_key": dedupe, "object_type": "work_order", "object_id": str(order_id),
        })
    return insert_rows(Message, rows, ignore_conflicts=True)


def local(at: datetime) -> str:
    return at.astimezone(service_policy().calendar.tz).strftime("%Y-%m-%d %H:%M")

"""Outage notices: planned/temporary notices ahead of time, fault broadcasts, restoration.

SGCC 十项承诺 第二条: planned outages notified 7 days ahead, temporary ones 24 hours ahead to key
customers, fault outages published promptly (policy/outage.yaml). Customers are found through the
grid cells of their service points; every notice goes through the outbox (one per customer per
outage and kind, so re-sending never doubles up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from gridcare.access.models import AuditEvent, User
from gridcare.access.services import audit_record
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.customers.models import Account, OrgUnit
from gridcare.notifications import services as outbox
from gridcare.service.i18n import _
from gridcare.service.models import Outage, WorkOrder
from gridcare.service.policy import service_policy
from gridcare.service.services._common import local, require
from gridcare.service.services.workflow import _resolve

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
CELL_RE = re.compile(r"^[\w.\-]{1,64}$")


@dataclass(frozen=True)
class OutageInput:
    kind: str
    title: str
    org_unit_code: str
    grid_cells: list[str]
    start_at: datetime
    end_at: datetime
    reason: str = ""
    notice_override_reason: str = ""


def affected_accounts(outage: Outage):
    return (Account.objects.filter(service_points__grid_cell__in=outage.grid_cells,
                                   org_unit__path__startswith=outage.org_unit.path)
            .select_related("customer").distinct().order_by("number"))


def _notify(outage: Outage, *, template: str, urgent: bool, as_of: datetime, tag: str) -> int:
    cal = service_policy().calendar
    count = 0
    for account in affected_accounts(outage):
        phone = account.customer.phone
        if not MOBILE_RE.match(phone or ""):
            continue
        outbox.message_enqueue(
            channel="sms", template=template, recipient=phone, as_of=as_of, urgent=urgent, purpose=f"outage_{tag}",
            context={"reason": outage.reason or outage.title, "account": account.number,
                     "start": outage.start_at.astimezone(cal.tz).strftime("%m-%d %H:%M"),
                     "end": outage.end_at.astimezone(cal.tz).strftime("%m-%d %H:%M")},
            dedupe_key=f"outage:{outage.pk}:{tag}:{account.pk}", object_type="outage", object_id=outage.pk,
        )
        count += 1
    return count


@transaction.atomic
def outage_create(*, actor: User, data: OutageInput, as_of: datetime) -> tuple[Outage, int]:
    """Record an outage and queue the customer notices; returns (outage, notices queued).

    A planned outage must start at least the configured notice period ahead (7 days) unless an
    override reason is recorded; a fault outage is active at once and broadcast immediately.
    """
    require(actor, "service.supervise")
    policy = service_policy()
    if data.kind not in Outage.Kind.values:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                               % {"value": data.kind, "allowed": ", ".join(Outage.Kind.values)}, field="kind")
    title = (data.title or "").strip()
    if not title or len(title) > 128:
        raise ValidationFailed(_("title is required (at most 128 characters)"), field="title")
    unit = OrgUnit.objects.filter(code=data.org_unit_code).first()
    if unit is None:
        raise ValidationFailed(_("unknown org unit %(code)s") % {"code": data.org_unit_code}, field="org_unit_code")
    cells = [c.strip() for c in data.grid_cells if c and c.strip()]
    if not cells:
        raise ValidationFailed(_("at least one grid cell is required"), field="grid_cells")
    bad = [c for c in cells if not CELL_RE.match(c)]
    if bad:
        raise ValidationFailed(_("not a grid cell code: %(code)s") % {"code": bad[0]}, field="grid_cells")
    if data.start_at.tzinfo is None or data.end_at.tzinfo is None:
        raise ValidationFailed(_("times need a time zone"), field="start_at")
    if data.end_at <= data.start_at:
        raise ValidationFailed(_("the outage must end after it starts"), field="end_at")
    notice = policy.outage.notice.get(data.kind)
    override = (data.notice_override_reason or "").strip()
    if notice is not None and data.start_at < policy.calendar.add(as_of, notice) and not override:
        raise ValidationFailed(
            _("a %(kind)s outage needs %(notice)s notice: start at %(earliest)s or later, or give a reason for "
              "short notice (notice_override_reason)")
            % {"kind": data.kind, "notice": notice, "earliest": local(policy.calendar.add(as_of, notice))},
            field="start_at")
    if data.kind == Outage.Kind.FAULT and data.start_at > as_of:
        raise ValidationFailed(_("a fault outage cannot start in the future"), field="start_at")
    outage = Outage.objects.create(
        kind=data.kind, title=title, reason=(data.reason or "")[:255], org_unit=unit, grid_cells=cells,
        start_at=data.start_at, end_at=data.end_at, notice_override_reason=override[:255],
        status=Outage.Status.ACTIVE if data.kind == Outage.Kind.FAULT else Outage.Status.SCHEDULED,
        created_by=actor, created_at=as_of,
    )
    if data.kind == Outage.Kind.FAULT:
        sent = _notify(outage, template="service_outage_fault", urgent=policy.outage.fault_broadcast_urgent,
                       as_of=as_of, tag="fault")
    else:
        sent = _notify(outage, template="service_outage_planned", urgent=False, as_of=as_of, tag="notice")
    outage.notified_at = as_of
    outage.save(update_fields=["notified_at"])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="outage", object_id=outage.pk,
                 summary=f"{data.kind} outage {title}: {sent} notices", at=as_of)
    return outage, sent


@transaction.atomic
def outage_restore(*, actor: User, outage_id: int, as_of: datetime, note: str = "") -> tuple[Outage, int]:
    """Supply is back: tell the customers (policy) and resolve the open repair orders linked to the
    outage, since they reported this very outage. Returns (outage, orders resolved)."""
    require(actor, "service.supervise")
    outage = Outage.objects.select_for_update().filter(pk=outage_id).first()
    if outage is None:
        raise NotFound(_("outage %(id)s not found") % {"id": outage_id}, field="outage_id")
    if outage.status in (Outage.Status.RESTORED, Outage.Status.CANCELLED):
        raise ValidationFailed(_("the outage is already %(status)s") % {"status": outage.get_status_display()},
                               field="status")
    outage.status = Outage.Status.RESTORED
    outage.restored_at = as_of
    outage.save(update_fields=["status", "restored_at"])
    if service_policy().outage.notify_restoration:
        _notify(outage, template="service_outage_restored", urgent=False, as_of=as_of, tag="restored")
    resolved = 0
    for order in WorkOrder.objects.select_for_update().filter(outage=outage, type="repair",
                                                              status__in=WorkOrder.OPEN_STATUSES):
        _resolve(order, actor=actor, resolution=note or f"停电已恢复（{outage.title}）", as_of=as_of)
        resolved += 1
    return outage, resolved


@transaction.atomic
def outage_cancel(*, actor: User, outage_id: int, reason: str, as_of: datetime) -> Outage:
    """Call off a scheduled outage: pending notices are withdrawn from the outbox."""
    require(actor, "service.supervise")
    outage = Outage.objects.select_for_update().filter(pk=outage_id).first()
    if outage is None:
        raise NotFound(_("outage %(id)s not found") % {"id": outage_id}, field="outage_id")
    if outage.status != Outage.Status.SCHEDULED:
        raise ValidationFailed(_("only a scheduled outage can be cancelled"), field="status")
    if not (reason or "").strip():
        raise ValidationFailed(_("reason is required"), field="reason")
    outage.status = Outage.Status.CANCELLED
    outage.notice_override_reason = outage.notice_override_reason or reason[:255]
    outage.save(update_fields=["status", "notice_override_reason"])
    outbox.message_cancel_for(object_type="outage", object_id=outage.pk)
    return outage

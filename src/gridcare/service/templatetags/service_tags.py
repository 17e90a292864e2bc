"""Template filters for the service desk: SLA countdowns, state badges, taxonomy labels."""

from __future__ import annotations

from django import template

from gridcare.service.i18n import _, _lazy
from gridcare.service.policy import service_policy

register = template.Library()

_BADGE = {"ok": "text-bg-success", "warning": "text-bg-warning", "breached": "text-bg-danger",
          "paused": "text-bg-secondary", "met": "text-bg-light", "missed": "text-bg-danger",
          "cancelled": "text-bg-light", "none": "text-bg-light"}


@register.filter
def countdown(seconds) -> str:
    """Clock time left as '2d 3h', '1h 05m', '12m'; overdue as '-1h 05m'."""
    if seconds is None or seconds == "":
        return "—"
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m"


@register.filter
def sla_badge(state) -> str:
    return _BADGE.get(str(state or "none"), "text-bg-light")


@register.filter
def sla_label(state) -> str:
    labels = {"ok": _("On time"), "warning": _("Due soon"), "breached": _("Overdue"), "paused": _("Paused"),
              "met": _("Met"), "missed": _("Missed"), "cancelled": _("Cancelled"), "none": _("No limit")}
    return labels.get(str(state or "none"), str(state))


@register.filter
def category_label(code) -> str:
    return service_policy().taxonomy.path_label(str(code or "")) or str(code or "")


@register.filter
def grade_label(code) -> str:
    return service_policy().taxonomy.grade_label(str(code or ""))


@register.filter
def priority_label(code) -> str:
    return service_policy().taxonomy.priorities.get(str(code or ""), str(code or ""))


@register.filter
def channel_label(code) -> str:
    return service_policy().intake.channels.get(str(code or ""), str(code or ""))


@register.filter
def priority_badge(code) -> str:
    return {"critical": "text-bg-danger", "urgent": "text-bg-warning"}.get(str(code or ""), "text-bg-light")


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def person(user) -> str:
    """A staff user's display name (username if none); '—' for nobody."""
    if user is None or user == "":
        return "—"
    return getattr(user, "display_name", "") or getattr(user, "username", "") or "—"


EVENT_LABELS = {
    "created": _lazy("Received"), "outage_linked": _lazy("Linked to a known outage"), "assigned": _lazy("Assigned"),
    "started": _lazy("Work started"), "accepted": _lazy("Accepted by handler"), "contacted": _lazy("Customer contacted"),
    "arrived": _lazy("On site"), "planned": _lazy("Handling plan"), "replied": _lazy("Reply to customer"),
    "note": _lazy("Internal note"), "waiting_customer": _lazy("Waiting for customer"), "resumed": _lazy("Resumed"),
    "resolved": _lazy("Resolved"), "closed": _lazy("Closed"), "reopened": _lazy("Reopened"),
    "reopened_by_visit": _lazy("Reopened after a dissatisfied return visit"), "transferred": _lazy("Transferred"),
    "merged": _lazy("Merged"), "merged_in": _lazy("Duplicate merged in"), "cancelled": _lazy("Cancelled"),
    "task_force": _lazy("Task force formed"), "attachment": _lazy("Attachment"),
    "attachments_rejected": _lazy("Attachments rejected"), "sla_warning": _lazy("Time limit warning"),
    "sla_breach": _lazy("Time limit missed"), "escalated": _lazy("Escalated"), "repeat_contact": _lazy("Repeated contact"),
    "customer_contacted_again": _lazy("Customer called again"), "return_visit_created": _lazy("Return visit scheduled"),
    "return_visit_completed": _lazy("Return visit done"), "return_visit_attempt": _lazy("Return visit not reached"),
    "handover": _lazy("Handed over"), "ingested_by": _lazy("Imported"),
}
UNIT_LABELS = {"minutes": _lazy("%(n)s minutes"), "hours": _lazy("%(n)s hours"), "days": _lazy("%(n)s days"),
               "working_days": _lazy("%(n)s working days"), "working_hours": _lazy("%(n)s working hours")}


@register.filter
def event_label(kind) -> str:
    return str(EVENT_LABELS.get(str(kind), kind))


@register.filter
def limit_label(limit) -> str:
    """'4 working_days' (a Duration as text) → '4 个工作日'."""
    amount, _sep, unit = str(limit or "").partition(" ")
    label = UNIT_LABELS.get(unit)
    return str(label) % {"n": amount} if label else str(limit or "")


@register.filter
def engine_label(engine) -> str:
    return {"rules": _("keyword rules"), "plugin": _("classifier model")}.get(str(engine), str(engine))


@register.filter
def status_label(code) -> str:
    from gridcare.service.models import WorkOrder  # noqa: PLC0415 - templatetags load before apps are ready

    try:
        return str(WorkOrder.Status(str(code)).label)
    except ValueError:
        return str(code or "")


@register.filter
def risk_label(level) -> str:
    return {"low": _("low"), "medium": _("medium"), "high": _("high")}.get(str(level or ""), "—")

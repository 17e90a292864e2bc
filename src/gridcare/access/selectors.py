"""Reads for the audit log, users and API tokens."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from gridcare.access.models import ApiToken, AuditEvent, User

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def audit_event_list(
    *, object_type: str | None = None, object_id: str | None = None, action: str | None = None,
    actor_id: int | None = None, actor: str | None = None, q: str | None = None,
    date_from: date | None = None, date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """Newest first. `actor` matches a username or display label; dates are business-zone days, inclusive."""
    qs = AuditEvent.objects.select_related("actor")
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=str(object_id))
    if action:
        qs = qs.filter(action=action)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if actor:
        qs = qs.filter(Q(actor__username=actor.strip()) | Q(actor_label=actor.strip()))
    if q:
        qs = qs.filter(summary__icontains=q.strip())
    if date_from:
        qs = qs.filter(at__gte=datetime.combine(date_from, time.min, tzinfo=BUSINESS_TZ))
    if date_to:
        qs = qs.filter(at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=BUSINESS_TZ))
    return qs.order_by("-at", "-id")


def audit_object_types() -> list[str]:
    return list(AuditEvent.objects.order_by("object_type").values_list("object_type", flat=True).distinct())


def api_token_list(*, user: User | None = None) -> QuerySet[ApiToken]:
    qs = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    return qs.filter(user=user) if user is not None else qs

"""Reads for the audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from gridcare.access.models import AuditEvent


def audit_event_list(
    *, object_type: str | None = None, object_id: str | None = None, action: str | None = None,
    actor_id: int | None = None,
) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.select_related("actor")
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if action:
        qs = qs.filter(action=action)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    return qs

"""Reads of the outbox: a user's in-app inbox and outbox health for operators."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet

from gridcare.access.models import User
from gridcare.notifications.models import Message


def inbox_for_user(*, user: User, unread_only: bool = False) -> QuerySet[Message]:
    qs = Message.objects.filter(recipient_user=user, channel=Message.Channel.IN_APP).exclude(
        status=Message.Status.CANCELLED
    )
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def messages_about(*, object_type: str, object_id: object) -> QuerySet[Message]:
    return Message.objects.filter(object_type=object_type, object_id=str(object_id)).order_by("created_at", "id")


def outbox_status_counts() -> dict[str, int]:
    rows = Message.objects.values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def outbox_due_count(*, as_of: datetime) -> int:
    return Message.objects.filter(status=Message.Status.PENDING, scheduled_at__lte=as_of).count()

"""Writes for users, tokens and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from gridcare.access.models import ApiToken, AuditEvent, User


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def audit_record(
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: object,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one audit event. Called inside the caller's transaction so both commit or neither."""
    return AuditEvent.objects.create(
        at=at or timezone.now(),
        actor=actor if actor is not None and actor.pk else None,
        actor_label=str(actor) if actor is not None else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary[:255],
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
    )


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, so the audit log stays readable."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, as_of: datetime) -> str:
    """Create a token and return the raw value once; only its digest is kept."""
    raw = "gc_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, digest=_digest(raw), prefix=raw[:8], created_at=as_of)
    audit_record(actor=user, action=AuditEvent.Action.CREATE, object_type="api_token", object_id=raw[:8],
                 summary=f"API token {name!r} created", at=as_of)
    return raw


def api_token_user(*, raw: str, as_of: datetime) -> User | None:
    """The active user behind a raw token, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=as_of)
    return token.user

"""Writes for users, tokens and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from gridcare.access.models import ApiToken, AuditEvent, User
from gridcare.access.roles import Role
from gridcare.core.errors import NotFound, ValidationFailed


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


@transaction.atomic
def api_token_revoke(*, prefix: str, actor: User | None, as_of: datetime) -> int:
    """Revoke every active token with this prefix; returns how many were revoked."""
    tokens = list(ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True))
    if not tokens:
        raise NotFound(f"no active token with prefix {prefix!r}", field="prefix")
    ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=as_of)
    for token in tokens:
        audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="api_token", object_id=prefix,
                     summary=f"API token {token.name!r} of {token.user.username} revoked", at=as_of)
    return len(tokens)


@transaction.atomic
def user_create(*, username: str, password: str, role: str, display_name: str = "", org_unit_id: int | None = None,
                customer_id: int | None = None, actor: User | None, as_of: datetime,
                password_is_hash: bool = False) -> User:
    """Create a login. A customer login needs a customer; a staff login an org unit (or be an administrator)."""
    if role not in Role.values:
        raise ValidationFailed(f"{role!r} is not a role", field="role")
    if not username.strip():
        raise ValidationFailed("username is required", field="username")
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(f"user {username!r} already exists", field="username")
    if role == Role.CUSTOMER and customer_id is None:
        raise ValidationFailed("a portal login needs a customer", field="customer")
    if role not in (Role.CUSTOMER, Role.ADMINISTRATOR) and org_unit_id is None:
        raise ValidationFailed("a staff login needs an org unit", field="org_unit")
    user = User.objects.create_user(
        username=username, password=None if password_is_hash else password, role=role,
        display_name=display_name or username, org_unit_id=org_unit_id,
        customer_id=customer_id if role == Role.CUSTOMER else None,
    )
    if password_is_hash:
        user.password = password
        user.save(update_fields=["password"])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="user", object_id=user.pk,
                 summary=f"user {username} ({role})", at=as_of,
                 after={"username": username, "role": role, "org_unit": org_unit_id, "customer": customer_id})
    return user


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

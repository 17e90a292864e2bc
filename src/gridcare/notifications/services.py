"""Writes to the outbox: enqueue, dispatch, cancel, mark read.

Any app calls `message_enqueue` inside its own transaction; `outbox_dispatch` (CLI
`gridcare notify dispatch`, cron or Huey) delivers what is due. Neither reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from gridcare.access.models import User
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.notifications.attachments import AttachmentUnavailable, attachment_refs, attachments_resolve
from gridcare.notifications.backends import Backend, DeliveryFailed, configured_backends
from gridcare.notifications.models import Message
from gridcare.notifications.policy import CHANNELS, outbox_policy, render

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _validate_recipient(channel: str, recipient: str, recipient_user: User | None) -> str:
    if channel == Message.Channel.SMS:
        if not MOBILE_RE.match(recipient or ""):
            raise ValidationFailed(f"{recipient!r} is not an 11-digit mobile number", field="recipient")
    elif channel == Message.Channel.EMAIL:
        if not EMAIL_RE.match(recipient or "") or len(recipient) > 254:
            raise ValidationFailed(f"{recipient!r} is not an e-mail address", field="recipient")
    elif channel == Message.Channel.IN_APP:
        if recipient_user is None:
            raise ValidationFailed("an in-app message needs a recipient user", field="recipient_user")
        recipient = recipient_user.username
    return recipient


def schedule_for(*, channel: str, urgent: bool, requested_at: datetime) -> datetime:
    """When a message may go out: held to the end of quiet hours unless urgent or the channel is silent."""
    policy = outbox_policy()
    if urgent or channel not in policy.quiet_channels:
        return requested_at
    return policy.quiet_hours.next_allowed(requested_at)


def message_enqueue(
    *,
    channel: str,
    template: str,
    context: dict[str, Any],
    as_of: datetime,
    recipient: str = "",
    recipient_user: User | None = None,
    purpose: str = "",
    urgent: bool = False,
    not_before: datetime | None = None,
    dedupe_key: str | None = None,
    object_type: str = "",
    object_id: object = "",
    attachments: Iterable[Mapping[str, Any]] = (),
) -> Message:
    """Render and queue one message; returns the existing row when `dedupe_key` was used before.

    `attachments` are references ({"kind", "ref"}) to files a registered provider makes at delivery
    (see attachments.py); only the e-mail channel carries them.

    Raises ValidationFailed (channel, recipient, template, context.<name>, body, attachments).
    """
    if channel not in CHANNELS:
        raise ValidationFailed(f"{channel!r} is not one of {', '.join(CHANNELS)}", field="channel")
    recipient = _validate_recipient(channel, recipient, recipient_user)
    refs = attachment_refs(attachments)
    if refs and channel != Message.Channel.EMAIL:
        raise ValidationFailed(f"only e-mail carries attachments, not {channel}", field="attachments")
    if dedupe_key:
        existing = Message.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    subject, body = render(template=template, channel=channel, context=context)
    policy = outbox_policy()
    if channel == Message.Channel.SMS and len(body) > policy.sms_max_chars:
        raise ValidationFailed(f"SMS body is {len(body)} characters; the limit is {policy.sms_max_chars}",
                               field="body")
    requested = max(as_of, not_before) if not_before else as_of
    message = Message(
        channel=channel, template=template, context=context, purpose=purpose, recipient=recipient,
        recipient_user=recipient_user, subject=subject[: policy.subject_max_chars], body=body, urgent=urgent,
        requested_at=requested, scheduled_at=schedule_for(channel=channel, urgent=urgent, requested_at=requested),
        max_attempts=policy.max_attempts, created_at=as_of, dedupe_key=dedupe_key or None,
        object_type=object_type, object_id=str(object_id or ""), attachments=refs,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        # A concurrent enqueue with the same dedupe key won; return its row.
        existing = Message.objects.filter(dedupe_key=dedupe_key).first() if dedupe_key else None
        if existing is None:
            raise
        return existing
    return message


@dataclass(frozen=True)
class DispatchResult:
    sent: int
    retrying: int
    failed: int
    deferred: int  # due, but now inside quiet hours (the dispatcher was late): moved to the morning


def outbox_dispatch(*, as_of: datetime, limit: int = 500, backends: dict[str, Backend] | None = None) -> DispatchResult:
    """Deliver due messages. Each message is claimed by a conditional UPDATE, so two dispatchers never
    send the same message twice; each outcome commits on its own, so a crash loses at most one send.
    """
    backends = backends or configured_backends()
    policy = outbox_policy()
    due = list(
        Message.objects.filter(status=Message.Status.PENDING, scheduled_at__lte=as_of)
        .exclude(next_attempt_at__gt=as_of)
        .order_by("scheduled_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    sent = retrying = failed = deferred = 0
    for pk in due:
        claimed = Message.objects.filter(pk=pk, status=Message.Status.PENDING).update(status=Message.Status.SENDING)
        if not claimed:
            continue
        message = Message.objects.get(pk=pk)
        if (not message.urgent and message.channel in policy.quiet_channels
                and policy.quiet_hours.contains(as_of)):
            message.status = Message.Status.PENDING
            message.scheduled_at = policy.quiet_hours.next_allowed(as_of)
            message.save(update_fields=["status", "scheduled_at"])
            deferred += 1
            continue
        message.attempts += 1
        try:
            backend = backends[message.channel]
            if message.attachments and getattr(backend, "accepts_attachments", False):
                files = attachments_resolve(message.attachments, max_bytes=policy.attachment_max_bytes)
                ref = backend.send(message, attachments=files)
            else:
                ref = backend.send(message)
            message.provider_ref = str(ref or "")[:128]
        except AttachmentUnavailable as exc:
            # Made from our own records: trying again later makes the same failure, so no retry.
            message.last_error = str(exc)[:255]
            message.status = Message.Status.FAILED
            failed += 1
        except (DeliveryFailed, KeyError) as exc:
            message.last_error = (str(exc) or exc.__class__.__name__)[:255]
            if message.attempts >= message.max_attempts:
                message.status = Message.Status.FAILED
                failed += 1
            else:
                message.status = Message.Status.PENDING
                message.next_attempt_at = as_of + policy.backoff_after(message.attempts)
                retrying += 1
        else:
            message.status = Message.Status.SENT
            message.sent_at = as_of
            message.last_error = ""
            sent += 1
        message.save(update_fields=["status", "attempts", "provider_ref", "last_error", "sent_at", "next_attempt_at"])
    return DispatchResult(sent=sent, retrying=retrying, failed=failed, deferred=deferred)


@transaction.atomic
def message_cancel(*, message_id: int, reason: str = "") -> Message:
    """Withdraw a message that has not gone out yet (e.g. the outage it announced was cancelled)."""
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        raise NotFound(f"message {message_id} not found", field="message_id")
    if message.status != Message.Status.PENDING:
        raise ValidationFailed(f"message is {message.status}; only pending messages can be cancelled", field="status")
    message.status = Message.Status.CANCELLED
    message.last_error = reason[:255]
    message.save(update_fields=["status", "last_error"])
    return message


def message_cancel_for(*, object_type: str, object_id: object, purpose: str = "") -> int:
    """Cancel every pending message about one record; returns how many were cancelled."""
    qs = Message.objects.filter(object_type=object_type, object_id=str(object_id), status=Message.Status.PENDING)
    if purpose:
        qs = qs.filter(purpose=purpose)
    return qs.update(status=Message.Status.CANCELLED)


def message_mark_read(*, user: User, message_id: int, as_of: datetime) -> Message:
    message = Message.objects.filter(pk=message_id, recipient_user=user, channel=Message.Channel.IN_APP).first()
    if message is None:
        raise NotFound(f"message {message_id} not found", field="message_id")
    if message.read_at is None:
        message.read_at = as_of
        message.save(update_fields=["read_at"])
    return message

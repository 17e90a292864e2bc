"""Delivery backends: one small interface so an SMS gateway or a WeChat push is a plug-in.

A backend's `send` returns a provider reference or raises `DeliveryFailed`; the outbox handles
retries and status. A backend with `accepts_attachments = True` is called as
`send(message, attachments=[Attachment, ...])` when the message references files; the others get
the message alone (its body keeps the link). Configure with GRIDCARE_NOTIFICATION_BACKENDS = {"sms": "dotted.path", ...}.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from gridcare.notifications.attachments import Attachment
    from gridcare.notifications.models import Message

logger = logging.getLogger("gridcare.notifications")


class DeliveryFailed(Exception):
    """The provider refused or could not be reached; the outbox retries per policy."""


class Backend(Protocol):
    def send(self, message: Message) -> str: ...


class LogBackend:
    """Default for SMS when no gateway is configured: logs the message and reports success."""

    def send(self, message: Message) -> str:
        logger.info("%s to %s: %s", message.channel, message.recipient, message.body)
        return f"log-{message.pk}"


class InAppBackend:
    """In-app messages are already in the recipient's inbox (this table); nothing to transmit."""

    def send(self, message: Message) -> str:
        return f"inbox-{message.pk}"


class DjangoEmailBackend:
    """E-mail through Django's EMAIL_BACKEND (SMTP in production, console/locmem in development)."""

    accepts_attachments = True

    def send(self, message: Message, attachments: Sequence[Attachment] = ()) -> str:
        email = EmailMessage(message.subject, message.body, None, [message.recipient])
        for file in attachments:
            email.attach(file.filename, file.content, file.mimetype)
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any transport error is a failed delivery
            raise DeliveryFailed(str(exc)[:200]) from exc
        return f"email-{message.pk}"


class RecordingBackend:
    """Keeps what it was asked to send (tests and demos); `fail_next` simulates provider failures."""

    sent: ClassVar[list[Message]] = []
    attachments: ClassVar[dict[int, list[Attachment]]] = {}
    fail_next: ClassVar[int] = 0
    accepts_attachments = True

    def send(self, message: Message, attachments: Sequence[Attachment] = ()) -> str:
        if RecordingBackend.fail_next > 0:
            RecordingBackend.fail_next -= 1
            raise DeliveryFailed("simulated provider failure")
        RecordingBackend.sent.append(message)
        if attachments:
            RecordingBackend.attachments[message.pk] = list(attachments)
        return f"rec-{len(RecordingBackend.sent)}"

    @classmethod
    def reset(cls) -> None:
        cls.sent = []
        cls.attachments = {}
        cls.fail_next = 0


DEFAULT_BACKENDS = {
    "sms": "gridcare.notifications.backends.LogBackend",
    "email": "gridcare.notifications.backends.DjangoEmailBackend",
    "in_app": "gridcare.notifications.backends.InAppBackend",
}


def configured_backends() -> dict[str, Backend]:
    paths = {**DEFAULT_BACKENDS, **getattr(settings, "GRIDCARE_NOTIFICATION_BACKENDS", {})}
    return {channel: import_string(path)() for channel, path in paths.items()}

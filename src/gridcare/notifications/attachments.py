"""Attachments of outbox messages: a reference on the message, the file made at delivery time.

Why a reference and not the bytes: the outbox sits below the apps whose documents it carries
(a bill PDF is made by `billing`, which notifications must not import), and a month's bill run
would otherwise store a PDF per e-mail in the outbox table. The owning app registers a provider
for a kind (`register_attachment_provider("bill_pdf", ...)` in its AppConfig.ready); the message
keeps `[{"kind": "bill_pdf", "ref": "123"}]`; the dispatcher asks the provider for the file when it
sends. See docs/decisions/0502-outbox-attachments-by-reference.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gridcare.core.errors import ValidationFailed

logger = logging.getLogger("gridcare.notifications")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


class AttachmentUnavailable(Exception):
    """The provider cannot make the file (record gone, render failed, too large). Permanent: the
    dispatcher marks the message failed with this reason instead of retrying."""


Provider = Callable[[str], Attachment]
_PROVIDERS: dict[str, Provider] = {}


def register_attachment_provider(kind: str, provider: Provider) -> None:
    """Called from an app's ready(); registering the same kind again replaces it (autoreload, tests)."""
    _PROVIDERS[kind] = provider


def attachment_kinds() -> tuple[str, ...]:
    return tuple(sorted(_PROVIDERS))


def attachment_refs(items: Iterable[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """Normalise and check references at enqueue time, so a typo fails the business write's caller,
    not the delivery hours later. Raises ValidationFailed(field="attachments")."""
    refs = []
    for item in items or ():
        kind, ref = str(item.get("kind", "")), str(item.get("ref", "") or "")
        if kind not in _PROVIDERS:
            raise ValidationFailed(f"unknown attachment kind {kind!r} (known: {', '.join(attachment_kinds()) or '-'})",
                                   field="attachments")
        if not ref:
            raise ValidationFailed(f"attachment {kind!r} needs a ref", field="attachments")
        refs.append({"kind": kind, "ref": ref})
    return refs


def attachments_resolve(refs: Iterable[Mapping[str, Any]], *, max_bytes: int) -> list[Attachment]:
    """The files of a message's references. Any failure (unknown kind, provider error, a file over
    `max_bytes`) becomes AttachmentUnavailable naming the reference; nothing propagates as a 500."""
    files = []
    for item in refs:
        kind, ref = str(item.get("kind", "")), str(item.get("ref", ""))
        label = f"attachment {kind}:{ref}"
        provider = _PROVIDERS.get(kind)
        if provider is None:
            raise AttachmentUnavailable(f"{label}: no provider registered")
        try:
            file = provider(ref)
        except AttachmentUnavailable as exc:
            raise AttachmentUnavailable(f"{label}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - a renderer's bug must fail the message, not the dispatcher
            logger.exception("%s could not be made", label)
            raise AttachmentUnavailable(f"{label}: {exc.__class__.__name__}: {exc}") from exc
        if len(file.content) > max_bytes:
            raise AttachmentUnavailable(f"{label}: {file.filename} is {len(file.content)} bytes; "
                                        f"the limit is {max_bytes}")
        files.append(file)
    return files

"""The door other gridcare apps use to open work orders: `work_order_open`.

Reconciliation and collections raise supervision orders (督办工单, T/CI 1281 §7.8); the assistant
hands a conversation over to a person (转人工). They all need the same things: an order that goes
through the normal intake path (classification, routing, SLA clocks, history), opened exactly once
per thing in their own system however often they retry, and a signature that does not change when
the service desk's internals do. This module is that contract; docs/service-desk.md documents it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from gridcare.access.models import User
from gridcare.core.errors import ValidationFailed
from gridcare.service.models import InboundEvent, WorkOrder
from gridcare.service.policy import service_policy
from gridcare.service.services._common import event
from gridcare.service.services.intake import WorkOrderInput, _create

ORIGIN_RE = re.compile(r"^[a-z][a-z0-9_]{1,23}$")
TRANSCRIPT_MAX = 20000


@dataclass(frozen=True)
class OpenedWorkOrder:
    """`created` is False when the same (origin, external_ref) was opened before: nothing new was written."""

    work_order: WorkOrder
    created: bool

    @property
    def number(self) -> str:
        return self.work_order.number


def _existing(source: str, external_ref: str) -> WorkOrder | None:
    hit = InboundEvent.objects.select_related("work_order").filter(source=source, external_id=external_ref).first()
    return hit.work_order if hit is not None else None


def work_order_open(
    *,
    origin: str,
    external_ref: str,
    description: str,
    as_of: datetime,
    category: str = "",
    subject: str = "",
    channel: str = "system",
    grade: str = "",
    account_number: str = "",
    customer_id: int | None = None,
    service_point_code: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    transcript: str = "",
    actor: User | None = None,
) -> OpenedWorkOrder:
    """Open one work order on behalf of another gridcare app, idempotently.

    - `origin`: the calling app ("reconciliation", "collections", "assistant"); lower-case code.
    - `external_ref`: the caller's own key for the thing (a discrepancy key, a conversation id). The
      pair (origin, external_ref) opens at most one order, also under concurrent retries; a repeat
      returns the first order with `created=False`.
    - `channel`: one of the policy's internal channels (`system` for 督办 supervision orders,
      `assistant` for a conversation handed over). Orders on `uncounted_channels` do not count as
      customer contacts for the repeated-contact rule.
    - `category`: a taxonomy code; empty lets the classifier decide from subject and description.
    - `transcript`: the conversation so far (assistant hand-over); kept in the order's history so the
      agent does not ask the customer to repeat themselves.
    - `actor`: the staff user who asked for it, if any; None for automatic jobs.

    Runs in its own transaction (joins the caller's if there is one, so the caller's record and the
    order commit together). Raises ValidationFailed naming the field (origin, external_ref, channel,
    category, description, account_number, ...).
    """
    if not ORIGIN_RE.match(origin or ""):
        raise ValidationFailed("origin must be a lower-case code such as 'reconciliation'", field="origin")
    external_ref = (external_ref or "").strip()
    if not external_ref or len(external_ref) > 200:
        raise ValidationFailed("external_ref is required (at most 200 characters)", field="external_ref")
    intake = service_policy().intake
    if channel not in intake.internal_channels:
        raise ValidationFailed(f"channel must be one of {', '.join(sorted(intake.internal_channels))}",
                               field="channel")
    if len(transcript or "") > TRANSCRIPT_MAX:
        raise ValidationFailed(f"transcript is longer than {TRANSCRIPT_MAX} characters", field="transcript")
    source = f"internal:{origin}"
    existing = _existing(source, external_ref)
    if existing is not None:
        return OpenedWorkOrder(existing, created=False)
    data = WorkOrderInput(
        channel=channel, description=description, subject=subject, category=category, grade=grade,
        customer_id=customer_id, account_number=account_number, service_point_code=service_point_code,
        contact_name=contact_name, contact_phone=contact_phone, contact_email=contact_email,
        external_ref=f"{origin}:{external_ref}"[:128],
    )
    try:
        with transaction.atomic():
            order = _create(actor=None, data=data, as_of=as_of)
            if actor is not None or transcript:
                event(order, kind="handover", at=as_of, actor=actor, note=(transcript or "").strip(),
                      data={"origin": origin, "external_ref": external_ref})
            InboundEvent.objects.create(
                source=source, external_id=external_ref, received_at=as_of, handled_at=as_of, work_order=order,
                payload_digest=hashlib.sha256(f"{subject}\n{description}".encode()).hexdigest(),
            )
    except IntegrityError:
        existing = _existing(source, external_ref)
        if existing is None:
            raise
        return OpenedWorkOrder(existing, created=False)
    return OpenedWorkOrder(order, created=True)


__all__ = ["OpenedWorkOrder", "work_order_open"]

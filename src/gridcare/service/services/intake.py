"""Intake (受理) from every channel: agent entry, portal/app, signed webhooks, inbound e-mail.

One path for all of them (`work_order_create`) so classification, routing, first-contact
responsibility, outage linking, repeated-contact detection and SLA clocks apply the same way
whichever door the customer used.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import hmac
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from gridcare.access.models import AuditEvent, User
from gridcare.access.roles import Role
from gridcare.access.services import audit_record
from gridcare.core.errors import GridcareError, NotFound, PermissionDenied, ValidationFailed
from gridcare.customers.models import Account, Customer, OrgUnit, ServicePoint
from gridcare.customers.selectors import account_get, customer_get
from gridcare.notifications import services as outbox
from gridcare.service.analysis import classify_text, predict_impact
from gridcare.service.i18n import _
from gridcare.service.models import (
    AreaType,
    Attachment,
    ContactLog,
    InboundEvent,
    NegativeListEntry,
    WorkOrder,
)
from gridcare.service.policy import RoutingRule, service_policy
from gridcare.service.selectors import active_outage_for
from gridcare.service.services._common import (
    ancestors,
    event,
    notify_users,
    order_for_update,
    priority_for_grade,
    raise_priority,
    require,
    text_field,
)
from gridcare.service.services.sla import alert_on_create, clocks_start

PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
SYSTEM_CHANNELS = ("messaging", "email")
CUSTOMER_CHANNELS = ("portal", "app")


class WebhookRejected(GridcareError):
    """Bad or missing signature, or a timestamp outside the window (a replay)."""

    code = "unauthenticated"
    status = 401


@dataclass(frozen=True)
class WorkOrderInput:
    """What any channel provides. Empty `category` lets the classifier decide."""

    channel: str
    description: str
    subject: str = ""
    category: str = ""
    grade: str = ""
    customer_id: int | None = None
    account_number: str = ""
    service_point_code: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    area_type: str = ""
    external_ref: str = ""


# -- routing --------------------------------------------------------------------------------------
def _org_unit_from(rule: RoutingRule, *, point: ServicePoint | None, account: Account | None,
                   customer: Customer | None, creator: User | None) -> OrgUnit:
    grid_map = service_policy().routing.grid_cells
    for source in rule.target:
        if source == "grid_cell" and point is not None and point.grid_cell in grid_map:
            unit = OrgUnit.objects.filter(code=grid_map[point.grid_cell]).first()
            if unit is not None:
                return unit
        elif source == "service_point" and point is not None:
            return point.org_unit
        elif source == "account" and account is not None:
            return account.org_unit
        elif source == "customer" and customer is not None:
            return customer.org_unit
        elif source == "creator" and creator is not None and creator.org_unit_id:
            return creator.org_unit
    root = OrgUnit.objects.filter(parent__isnull=True).order_by("id").first()
    if root is None:
        raise ValidationFailed(_("no org unit exists to take the order"), field="org_unit")
    return root


def pick_assignee(*, unit: OrgUnit, skills: tuple[str, ...], exclude: User | None = None) -> User | None:
    """Least-loaded active agent with every skill, in the unit or the nearest unit above it."""
    roles = service_policy().routing.assignable_roles
    for candidate_unit in ancestors(unit):
        users = (User.objects.filter(org_unit=candidate_unit, is_active=True, role__in=roles)
                 .annotate(load=Count("assigned_orders", filter=Q(assigned_orders__status__in=WorkOrder.OPEN_STATUSES)))
                 .order_by("load", "id"))
        for user in users:
            if exclude is not None and user.pk == exclude.pk:
                continue
            have = {s.strip() for s in (user.skills or "").split(",") if s.strip()}
            if set(skills) <= have:
                return user
    return None


def route(*, facts: dict[str, str], point: ServicePoint | None, account: Account | None,
          customer: Customer | None, creator: User | None) -> tuple[OrgUnit, User | None, RoutingRule]:
    rule = service_policy().routing.rule_for(facts)
    unit = _org_unit_from(rule, point=point, account=account, customer=customer, creator=creator)
    return unit, pick_assignee(unit=unit, skills=rule.skills), rule


def area_type_for(point: ServicePoint | None) -> str:
    """城区/农村/边远 for a service point from the policy: its grid cell, else its org unit or the
    nearest listed unit above it, else the default."""
    routing = service_policy().routing
    if point is None:
        return routing.default_area_type
    if point.grid_cell and point.grid_cell in routing.area_by_cell:
        return routing.area_by_cell[point.grid_cell]
    if routing.area_by_unit:
        for unit in ancestors(point.org_unit):
            if unit.code in routing.area_by_unit:
                return routing.area_by_unit[unit.code]
    return routing.default_area_type


# -- parties --------------------------------------------------------------------------------------
def _resolve_parties(actor: User | None, data: WorkOrderInput) -> tuple[Customer | None, Account | None,
                                                                         ServicePoint | None]:
    account = point = customer = None
    if data.account_number:
        if actor is None:
            account = Account.objects.select_related("customer", "org_unit").filter(number=data.account_number).first()
        else:
            account = account_get(user=actor, number=data.account_number)
        if account is None:
            raise ValidationFailed(_("account %(n)s not found") % {"n": data.account_number}, field="account_number")
        customer = account.customer
    if data.service_point_code:
        point = ServicePoint.objects.select_related("account", "org_unit").filter(code=data.service_point_code).first()
        if point is None or (account is not None and point.account_id != account.pk):
            raise ValidationFailed(_("service point %(code)s not found on the account")
                                   % {"code": data.service_point_code}, field="service_point_code")
        if account is None:
            account = account_get(user=actor, account_id=point.account_id) if actor else point.account
            if account is None:
                raise ValidationFailed(_("service point %(code)s not found") % {"code": data.service_point_code},
                                       field="service_point_code")
            customer = account.customer
    if data.customer_id is not None:
        found = customer_get(user=actor, customer_id=data.customer_id) if actor else (
            Customer.objects.filter(pk=data.customer_id).first())
        if found is None:
            raise ValidationFailed(_("customer %(id)s not found") % {"id": data.customer_id}, field="customer_id")
        if customer is not None and customer.pk != found.pk:
            raise ValidationFailed(_("the account does not belong to this customer"), field="customer_id")
        customer = found
    if actor is not None and actor.role == Role.CUSTOMER:
        if actor.customer_id is None:
            raise PermissionDenied(_("this login is not linked to a customer"))
        if customer is None:
            customer = actor.customer
        elif customer.pk != actor.customer_id and account is None:
            raise ValidationFailed(_("you can only file requests for your own accounts"), field="customer_id")
    if point is None and account is not None:
        points = list(account.service_points.all()[:2])
        point = points[0] if len(points) == 1 else None
    return customer, account, point


def _check_channel(actor: User | None, channel: str) -> None:
    channels = service_policy().intake.channels
    if channel not in channels:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s") % {"value": channel, "allowed": ", ".join(channels)},
                               field="channel")
    if actor is None:
        allowed = (*SYSTEM_CHANNELS, *sorted(service_policy().intake.internal_channels))
    elif actor.role == Role.CUSTOMER:
        allowed = CUSTOMER_CHANNELS
    else:
        allowed = tuple(service_policy().intake.staff_channels)
    if channel not in allowed:
        raise ValidationFailed(_("channel %(value)s cannot be entered here; use one of %(allowed)s")
                               % {"value": channel, "allowed": ", ".join(allowed)}, field="channel")


# -- repeated contact -----------------------------------------------------------------------------
def contact_log(order: WorkOrder, *, channel: str, as_of: datetime) -> int:
    """Record a contact and apply the repeated-contact rule; returns contacts in the window."""
    intake = service_policy().intake
    ContactLog.objects.create(at=as_of, channel=channel, phone=order.contact_phone, customer=order.customer,
                              work_order=order)
    since = service_policy().calendar.subtract(as_of, intake.repeat_window)
    who = Q(pk__in=[])
    if order.contact_phone:
        who |= Q(phone=order.contact_phone)
    if order.customer_id:
        who |= Q(customer_id=order.customer_id)
    count = ContactLog.objects.filter(who, at__gt=since, at__lte=as_of).count()
    if count >= intake.repeat_threshold:
        raised = raise_priority(order, intake.repeat_priority)
        if not order.repeat_contact or raised:
            order.repeat_contact = True
            order.save(update_fields=["repeat_contact", "priority"])
            event(order, kind="repeat_contact", at=as_of,
                  note=f"{count} 次来电/联系 within {intake.repeat_window}", data={"count": count})
            NegativeListEntry.objects.get_or_create(
                event_key=f"repeat:{order.pk}",
                defaults={"kind": NegativeListEntry.Kind.REPEAT_CONTACT, "work_order": order,
                          "org_unit": order.org_unit, "grid_cell": order.grid_cell,
                          "accountable_user": order.assignee,
                          "description": f"{order.number} 客户 {intake.repeat_window} 内联系 {count} 次"[:255],
                          "occurred_at": as_of, "recorded_at": as_of},
            )
    return count


# -- create ---------------------------------------------------------------------------------------
def _create(*, actor: User | None, data: WorkOrderInput, as_of: datetime) -> WorkOrder:
    policy = service_policy()
    taxonomy = policy.taxonomy
    if actor is not None:
        require(actor, "portal.use" if actor.role == Role.CUSTOMER else "service.work")
    _check_channel(actor, data.channel)
    description = text_field(data.description, field="description")
    subject = text_field(data.subject, field="subject", required=False, max_length=200)
    if data.contact_phone and not PHONE_RE.match(data.contact_phone):
        raise ValidationFailed(_("not a valid mobile (11 digits) or landline number"), field="contact_phone")
    if data.contact_email and ("@" not in data.contact_email or len(data.contact_email) > 254):
        raise ValidationFailed(_("not a valid e-mail address"), field="contact_email")
    if data.area_type and data.area_type not in AreaType.values:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                               % {"value": data.area_type, "allowed": ", ".join(AreaType.values)}, field="area_type")
    customer, account, point = _resolve_parties(actor, data)

    classification = classify_text(f"{subject} {description}")
    if data.category:
        category = taxonomy.category(data.category).code
    else:
        category = classification.category
    order_type = category.split(".", 1)[0]
    if data.grade:
        if data.grade not in taxonomy.grades:
            raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                                   % {"value": data.grade, "allowed": ", ".join(taxonomy.grades)}, field="grade")
        grade = data.grade
    else:
        grade = classification.grade
    if order_type not in taxonomy.graded_types:
        grade = "general"

    grid_cell = point.grid_cell if point is not None else ""
    outage = active_outage_for(grid_cell=grid_cell, as_of=as_of)
    area_type = data.area_type or area_type_for(point)
    facts = {"type": order_type, "category": category, "grade": grade, "channel": data.channel,
             "area_type": area_type}
    creator = actor if actor is not None and actor.role != Role.CUSTOMER else None
    unit, assignee, rule = route(facts=facts, point=point, account=account, customer=customer, creator=creator)

    order = WorkOrder.objects.create(
        number=f"TMP{uuid.uuid4().hex[:20]}", channel=data.channel, type=order_type, category=category, grade=grade,
        priority=priority_for_grade(grade), status=WorkOrder.Status.ASSIGNED if assignee else WorkOrder.Status.NEW,
        subject=subject or description[:60], description=description, customer=customer, account=account,
        service_point=point, contact_name=data.contact_name or (customer.name if customer else ""),
        contact_phone=data.contact_phone or (customer.phone if customer else ""),
        contact_email=data.contact_email or (customer.email if customer else ""),
        area_type=area_type, grid_cell=grid_cell, org_unit=unit, assignee=assignee,
        first_contact_user=creator, created_by=actor if actor is not None else None, outage=outage,
        external_ref=data.external_ref[:128], classification=classification.as_dict(),
        created_at=as_of, updated_at=as_of,
    )
    local_date = as_of.astimezone(policy.calendar.tz)
    order.number = f"{local_date:%Y%m%d}{order.pk:06d}"
    order.save(update_fields=["number"])
    event(order, kind="created", at=as_of, actor=actor, to_status=order.status,
          note=f"{policy.intake.channels.get(data.channel, data.channel)} 受理：{taxonomy.path_label(category)}",
          data={"classification": classification.as_dict(), "routing": {"org_unit": unit.code, "skills": list(rule.skills),
                                                                          "assignee": assignee.username if assignee else None}})
    if outage is not None:
        event(order, kind="outage_linked", at=as_of, note=f"已知停电：{outage.title}", data={"outage": outage.pk})
    clocks_start(order, as_of=as_of)
    if data.channel not in policy.intake.uncounted_channels:
        contact_log(order, channel=data.channel, as_of=as_of)
    if order_type in ("complaint", "report") or outage is not None:
        order.impact = predict_impact(text=f"{subject} {description}", grade=grade, repeat_contact=order.repeat_contact,
                                      customer=customer, service_point=point, grid_cell=grid_cell,
                                      outage_cells=list(outage.grid_cells) if outage else None, as_of=as_of)
        order.save(update_fields=["impact"])
    if assignee is not None:
        notify_users(order, [assignee], template="service_assigned", as_of=as_of, purpose="assignment",
                     dedupe=f"assigned:{order.pk}:0")
    alert_on_create(order, as_of=as_of)
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="work_order", object_id=order.number,
                 summary=f"work order {order.number} ({category}) via {data.channel}", at=as_of,
                 after={"category": category, "grade": grade, "org_unit": unit.code})
    return order


@transaction.atomic
def work_order_create(*, actor: User | None, data: WorkOrderInput, as_of: datetime,
                      attachments: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]] = ()) -> WorkOrder:
    """Create one work order from any channel, with its (name, content) attachments. Raises
    ValidationFailed naming the field (a bad attachment: field "file", and no order is written),
    PermissionDenied for a role that may not file orders."""
    order = _create(actor=actor, data=data, as_of=as_of)
    for name, content in attachments:
        _attach(order, name=name, content=content, actor=actor, as_of=as_of)
    return order


@transaction.atomic
def work_order_record_contact(*, actor: User, number: str, channel: str, note: str, as_of: datetime) -> WorkOrder:
    """The customer contacted us again about an open order (催办): logged, repeated-contact rule applied."""
    require(actor, "service.work")
    order = order_for_update(actor=actor, number=number)
    if channel not in service_policy().intake.channels:
        raise ValidationFailed(_("%(value)s is not a channel") % {"value": channel}, field="channel")
    event(order, kind="customer_contacted_again", at=as_of, actor=actor, note=text_field(note, field="note", required=False))
    contact_log(order, channel=channel, as_of=as_of)
    return order


# -- attachments ----------------------------------------------------------------------------------
_MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "audio/amr": (b"#!AMR",),
}


def _sniff_ok(content_type: str, content: bytes) -> bool:
    if content_type == "audio/wav":
        return content[:4] == b"RIFF" and content[8:12] == b"WAVE"
    if content_type == "text/plain":
        if b"\x00" in content:
            return False
        for encoding in ("utf-8", "gb18030"):
            try:
                content.decode(encoding)
                return True
            except UnicodeDecodeError:
                continue
        return False
    prefixes = _MAGIC.get(content_type)
    return prefixes is None or content.startswith(prefixes)


def attachment_validate(*, name: str, content: bytes, existing: int) -> tuple[str, str]:
    """(clean name, content type) or ValidationFailed(field="file") with the reason."""
    intake = service_policy().intake
    clean = PurePath((name or "").replace("\\", "/")).name.strip()[:200]
    if not clean:
        raise ValidationFailed(_("the file has no name"), field="file")
    if existing >= intake.attachments_per_order:
        raise ValidationFailed(_("at most %(n)s attachments per order") % {"n": intake.attachments_per_order},
                               field="file")
    suffix = PurePath(clean).suffix.lower()
    content_type = intake.attachment_types.get(suffix)
    if content_type is None:
        allowed = ", ".join(sorted(intake.attachment_types))
        raise ValidationFailed(_("%(name)s: file type %(type)s is not accepted; allowed: %(allowed)s")
                               % {"name": clean, "type": suffix or "-", "allowed": allowed}, field="file")
    if len(content) == 0:
        raise ValidationFailed(_("%(name)s: the file is empty") % {"name": clean}, field="file")
    if len(content) > intake.attachment_max_bytes:
        raise ValidationFailed(_("%(name)s: %(size)s bytes is over the limit of %(limit)s")
                               % {"name": clean, "size": len(content), "limit": intake.attachment_max_bytes}, field="file")
    if not _sniff_ok(content_type, content):
        raise ValidationFailed(_("%(name)s: the content is not a %(type)s file") % {"name": clean, "type": content_type},
                               field="file")
    return clean, content_type


def _attach(order: WorkOrder, *, name: str, content: bytes, actor: User | None, as_of: datetime) -> Attachment:
    clean, content_type = attachment_validate(name=name, content=content, existing=order.attachments.count())
    attachment = Attachment(work_order=order, name=clean, content_type=content_type, size=len(content),
                            sha256=hashlib.sha256(content).hexdigest(), uploaded_by=actor, uploaded_at=as_of)
    attachment.file.save(f"{order.number}-{uuid.uuid4().hex[:8]}{PurePath(clean).suffix.lower()}",
                         ContentFile(content), save=False)
    attachment.save()
    event(order, kind="attachment", at=as_of, actor=actor, note=clean, data={"size": len(content), "type": content_type})
    return attachment


@transaction.atomic
def attachment_add(*, actor: User, number: str, name: str, content: bytes, as_of: datetime) -> Attachment:
    """Attach a file within the size/type limits of policy/intake.yaml. Raises ValidationFailed(file)."""
    require(actor, "portal.use" if actor.role == Role.CUSTOMER else "service.work")
    order = order_for_update(actor=actor, number=number)
    return _attach(order, name=name, content=content, actor=actor, as_of=as_of)


# -- signed webhooks ------------------------------------------------------------------------------
def webhook_secret(platform: str) -> str | None:
    configured = getattr(settings, "GRIDCARE_WEBHOOK_SECRETS", {}) or {}
    return configured.get(platform) or os.environ.get(f"GRIDCARE_WEBHOOK_SECRET_{platform.upper()}")


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_verify(*, platform: str, timestamp: str, signature: str, body: bytes, as_of: datetime) -> None:
    intake = service_policy().intake
    if platform not in intake.webhook_platforms:
        raise NotFound(f"unknown platform {platform!r}", field="platform")
    secret = webhook_secret(platform)
    if not secret:
        raise WebhookRejected(f"webhook for {platform!r} is not configured", field="platform")
    try:
        sent_at = int((timestamp or "").strip())
    except ValueError:
        raise WebhookRejected("missing or malformed X-Gridcare-Timestamp", field="X-Gridcare-Timestamp") from None
    if abs(as_of.timestamp() - sent_at) > intake.webhook_window_seconds:
        raise WebhookRejected(f"timestamp is outside the {intake.webhook_window_seconds}s window (replay?)",
                              field="X-Gridcare-Timestamp", code="stale_request")
    expected = webhook_signature(secret=secret, timestamp=str(sent_at), body=body)
    if not hmac.compare_digest(expected, (signature or "").strip().lower()):
        raise WebhookRejected("signature does not match", field="X-Gridcare-Signature")


def _match_customer(*, phone: str = "", email_address: str = "") -> Customer | None:
    qs = Customer.objects.none()
    if phone:
        qs = Customer.objects.filter(phone=phone)
    elif email_address:
        qs = Customer.objects.filter(email__iexact=email_address)
    found = list(qs[:2])
    return found[0] if len(found) == 1 else None


def _inbox_hit(source: str, external_id: str) -> WorkOrder | None:
    hit = InboundEvent.objects.select_related("work_order").filter(source=source, external_id=external_id).first()
    return hit.work_order if hit is not None else None


def _acknowledge(order: WorkOrder, *, as_of: datetime) -> None:
    if MOBILE_RE.match(order.contact_phone or ""):
        outbox.message_enqueue(channel="sms", template="service_order_received", context={"number": order.number},
                               recipient=order.contact_phone, as_of=as_of, purpose="acknowledgement",
                               dedupe_key=f"ack:{order.pk}", object_type="work_order", object_id=order.pk)
    elif order.contact_email:
        outbox.message_enqueue(channel="email", template="service_order_received", context={"number": order.number},
                               recipient=order.contact_email, as_of=as_of, purpose="acknowledgement",
                               dedupe_key=f"ack:{order.pk}", object_type="work_order", object_id=order.pk)


@dataclass(frozen=True)
class InboundResult:
    work_order: WorkOrder
    created: bool
    rejected_attachments: tuple[str, ...] = ()


def _record_inbound(source: str, external_id: str, digest: str, order: WorkOrder, as_of: datetime) -> None:
    InboundEvent.objects.create(source=source, external_id=external_id[:200], received_at=as_of, handled_at=as_of,
                                work_order=order, payload_digest=digest)


def work_order_from_webhook(*, platform: str, body: bytes, timestamp: str, signature: str,
                            as_of: datetime) -> InboundResult:
    """A message from a messaging platform. Verified (HMAC + timestamp window) before anything is
    read; a message id seen before returns the order it created and creates nothing."""
    webhook_verify(platform=platform, timestamp=timestamp, signature=signature, body=body, as_of=as_of)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationFailed("body is not JSON", field="body") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("body must be a JSON object", field="body")
    message_id = str(payload.get("message_id") or "").strip()
    if not message_id:
        raise ValidationFailed("message_id is required", field="message_id")
    source = f"webhook:{platform}"
    existing = _inbox_hit(source, message_id)
    if existing is not None:
        return InboundResult(existing, created=False)
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
    phone = str(sender.get("phone") or "").strip()
    if phone and not PHONE_RE.match(phone):
        raise ValidationFailed("not a valid phone number", field="sender.phone")
    customer = None if payload.get("account_number") else _match_customer(phone=phone)
    data = WorkOrderInput(
        channel="messaging", description=str(payload.get("text") or ""), subject=str(payload.get("subject") or ""),
        category=str(payload.get("category") or ""), account_number=str(payload.get("account_number") or ""),
        customer_id=customer.pk if customer else None, contact_name=str(sender.get("name") or "")[:64],
        contact_phone=phone, external_ref=f"{platform}:{message_id}",
    )
    try:
        with transaction.atomic():
            order = _create(actor=None, data=data, as_of=as_of)
            _record_inbound(source, message_id, hashlib.sha256(body).hexdigest(), order, as_of)
            _acknowledge(order, as_of=as_of)
    except IntegrityError:
        existing = _inbox_hit(source, message_id)
        if existing is None:
            raise
        return InboundResult(existing, created=False)
    return InboundResult(order, created=True)


# -- inbound e-mail -------------------------------------------------------------------------------
_TAG_RE = re.compile(r"<[^>]+>")
_ACCOUNT_RE = re.compile(r"(?<!\d)\d{8,20}(?!\d)")


def _email_text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, UnicodeDecodeError):
        text = part.get_payload(decode=True).decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        text = unescape(_TAG_RE.sub(" ", text))
    return re.sub(r"[ \t\u00a0\u3000]+", " ", text).strip()


def work_order_from_email(*, raw: bytes, as_of: datetime, actor: User | None = None) -> InboundResult:
    """An .eml file (from a mailbox poller, the CLI or the API). The Message-ID makes it idempotent;
    attachments outside the limits are listed in the history instead of failing the whole message."""
    if actor is not None:
        require(actor, "service.work")
    intake = service_policy().intake
    if not raw:
        raise ValidationFailed(_("the e-mail file is empty"), field="file")
    if len(raw) > intake.email_max_bytes:
        raise ValidationFailed(f"the e-mail is {len(raw)} bytes; the limit is {intake.email_max_bytes}", field="file")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not message.get("From"):
        raise ValidationFailed(_("not an e-mail message: no From header"), field="file")
    message_id = str(message.get("Message-ID") or "").strip() or hashlib.sha256(raw).hexdigest()
    existing = _inbox_hit("email", message_id)
    if existing is not None:
        return InboundResult(existing, created=False)
    sender = email.utils.parseaddr(str(message.get("From")))[1]
    subject = str(message.get("Subject") or "").strip()
    text = _email_text(message)
    if not text and not subject:
        raise ValidationFailed(_("the e-mail has no subject and no text"), field="file")
    account_number = ""
    for candidate in _ACCOUNT_RE.findall(f"{subject} {text}"):
        if Account.objects.filter(number=candidate).exists():
            account_number = candidate
            break
    customer = None if account_number else _match_customer(email_address=sender)
    data = WorkOrderInput(channel="email", description=text or subject, subject=subject[:200],
                          account_number=account_number, customer_id=customer.pk if customer else None,
                          contact_email=sender if "@" in sender else "", external_ref=f"email:{message_id}"[:128])
    rejected: list[str] = []
    try:
        with transaction.atomic():
            order = _create(actor=None, data=data, as_of=as_of)
            if actor is not None:
                event(order, kind="ingested_by", at=as_of, actor=actor, note="e-mail imported")
            for part in message.iter_attachments():
                name = part.get_filename() or "attachment"
                content = part.get_payload(decode=True) or b""
                try:
                    with transaction.atomic():
                        _attach(order, name=name, content=content, actor=actor, as_of=as_of)
                except ValidationFailed as exc:
                    rejected.append(exc.message)
            if rejected:
                event(order, kind="attachments_rejected", at=as_of, note="; ".join(rejected)[:2000])
            _record_inbound("email", message_id, hashlib.sha256(raw).hexdigest(), order, as_of)
            _acknowledge(order, as_of=as_of)
    except IntegrityError:
        existing = _inbox_hit("email", message_id)
        if existing is None:
            raise
        return InboundResult(existing, created=False)
    return InboundResult(order, created=True, rejected_attachments=tuple(rejected))


__all__ = ["InboundResult", "WebhookRejected", "WorkOrderInput", "attachment_add", "pick_assignee",
           "work_order_create", "work_order_from_email", "work_order_from_webhook", "work_order_record_contact"]

"""Negative list (负面清单, one record per event) and the typical-case library (典型案例), with
accountability to org unit and grid (seed 002 §四(三))."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from gridcare.access.models import User
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.customers.models import OrgUnit
from gridcare.service.i18n import _
from gridcare.service.models import NegativeListEntry, TypicalCase
from gridcare.service.services._common import order_for_update, require, text_field


@transaction.atomic
def negative_entry_create(*, actor: User, description: str, occurred_at: datetime, as_of: datetime,
                          number: str = "", org_unit_code: str = "", grid_cell: str = "",
                          accountable_user_id: int | None = None) -> NegativeListEntry:
    """A supervisor records a negative event found outside the system (暗访, 第三方测评)."""
    require(actor, "service.supervise")
    order = order_for_update(actor=actor, number=number) if number else None
    unit = order.org_unit if order else OrgUnit.objects.filter(code=org_unit_code).first()
    if unit is None:
        raise ValidationFailed(_("give a work order or an org unit to hold accountable"), field="org_unit_code")
    accountable = User.objects.filter(pk=accountable_user_id).first() if accountable_user_id else None
    if accountable_user_id and accountable is None:
        raise ValidationFailed(_("user %(id)s not found") % {"id": accountable_user_id}, field="accountable_user_id")
    entry = NegativeListEntry.objects.create(
        kind=NegativeListEntry.Kind.MANUAL, work_order=order, org_unit=unit,
        grid_cell=grid_cell or (order.grid_cell if order else ""), accountable_user=accountable,
        description=text_field(description, field="description", max_length=255), occurred_at=occurred_at,
        recorded_at=as_of, event_key=f"manual:{actor.pk}:{as_of.timestamp()}:{unit.pk}",
    )
    return entry


@transaction.atomic
def negative_entry_rectify(*, actor: User, entry_id: int, rectification: str, as_of: datetime) -> NegativeListEntry:
    require(actor, "service.supervise")
    entry = NegativeListEntry.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(_("entry %(id)s not found") % {"id": entry_id}, field="entry_id")
    if entry.status == NegativeListEntry.Status.RECTIFIED:
        raise ValidationFailed(_("already rectified"), field="status")
    entry.rectification = text_field(rectification, field="rectification")
    entry.status = NegativeListEntry.Status.RECTIFIED
    entry.rectified_at = as_of
    entry.save()
    return entry


@transaction.atomic
def typical_case_create(*, actor: User, title: str, summary: str, as_of: datetime, kind: str = "negative",
                        lessons: str = "", accountability: str = "", number: str = "",
                        org_unit_code: str = "") -> TypicalCase:
    """Publish a case for the library, usually from a work order; accountability names who answered for it."""
    require(actor, "service.supervise")
    if kind not in TypicalCase.Kind.values:
        raise ValidationFailed(_("%(value)s is not one of %(allowed)s")
                               % {"value": kind, "allowed": ", ".join(TypicalCase.Kind.values)}, field="kind")
    order = order_for_update(actor=actor, number=number) if number else None
    unit = order.org_unit if order else OrgUnit.objects.filter(code=org_unit_code).first()
    if unit is None:
        raise ValidationFailed(_("give a work order or an org unit"), field="org_unit_code")
    return TypicalCase.objects.create(
        kind=kind, title=text_field(title, field="title", max_length=128), summary=text_field(summary, field="summary"),
        lessons=text_field(lessons, field="lessons", required=False),
        accountability=text_field(accountability, field="accountability", required=False), work_order=order,
        org_unit=unit, grid_cell=order.grid_cell if order else "", created_by=actor, published_at=as_of,
    )

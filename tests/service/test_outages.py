"""Outage notices: planned notice period, fault broadcast through the outbox, restoration resolving
the linked repair orders, cancellation withdrawing notices."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridcare.core.errors import PermissionDenied, ValidationFailed
from gridcare.notifications.models import Message
from gridcare.service.models import Outage
from gridcare.service.services import OutageInput, outage_cancel, outage_create, outage_restore
from tests.service.conftest import at

pytestmark = pytest.mark.django_db

T0 = at(2025, 11, 3, 10)


def data(**kw):
    base = {"kind": "planned", "title": "10kV 线路检修", "org_unit_code": "PY", "grid_cells": ["PY-01"],
            "start_at": T0 + timedelta(days=7), "end_at": T0 + timedelta(days=7, hours=6), "reason": "线路检修"}
    return OutageInput(**(base | kw))


def test_planned_outage_needs_seven_days_notice(desk):
    with pytest.raises(ValidationFailed) as exc:
        outage_create(actor=desk.sup_py, data=data(start_at=T0 + timedelta(days=6, hours=23)), as_of=T0)
    assert exc.value.field == "start_at" and "7 days" in exc.value.message
    assert Outage.objects.count() == 0 and Message.objects.count() == 0
    outage, sent = outage_create(actor=desk.sup_py, data=data(), as_of=T0)
    assert (outage.status, sent) == ("scheduled", 2)
    sms = Message.objects.filter(purpose="outage_notice").order_by("recipient")
    assert list(sms.values_list("recipient", flat=True)) == ["13812345678", "13900000002"]
    assert "11-10 10:00至11-10 16:00停电" in sms[0].body


def test_short_notice_with_a_recorded_reason_is_allowed(desk):
    outage, _ = outage_create(actor=desk.sup_py, data=data(start_at=T0 + timedelta(days=1), end_at=T0 + timedelta(days=2),
                                                            notice_override_reason="抢险需要"), as_of=T0)
    assert outage.notice_override_reason == "抢险需要"


def test_temporary_outage_needs_24_hours(desk):
    with pytest.raises(ValidationFailed):
        outage_create(actor=desk.sup_py, data=data(kind="temporary", start_at=T0 + timedelta(hours=23)), as_of=T0)
    outage, _ = outage_create(actor=desk.sup_py, data=data(kind="temporary", start_at=T0 + timedelta(hours=24)),
                              as_of=T0)
    assert outage.kind == "temporary"


def test_fault_broadcast_goes_out_at_night_and_restore_resolves_linked_repairs(desk):
    night = at(2025, 11, 3, 23)
    outage, sent = outage_create(actor=desk.sup_py, data=data(kind="fault", start_at=night, end_at=night + timedelta(hours=3)),
                                 as_of=night)
    assert outage.status == "active" and sent == 2
    assert set(Message.objects.filter(purpose="outage_fault").values_list("scheduled_at", flat=True)) == {night}
    call = desk.create(as_of=night + timedelta(minutes=5), account_number="0000000001", description="没电了")
    other = desk.create(as_of=night + timedelta(minutes=6), account_number="0000000001",
                        category="complaint.outage.repair", description="抢修太慢")
    assert call.outage == outage and other.outage == outage
    outage, resolved = outage_restore(actor=desk.sup_py, outage_id=outage.pk, as_of=night + timedelta(hours=2))
    assert resolved == 1
    call.refresh_from_db()
    other.refresh_from_db()
    assert call.status == "resolved" and other.status == "assigned"  # complaints still need a person
    assert Message.objects.filter(purpose="outage_restored").count() == 2
    with pytest.raises(ValidationFailed):
        outage_restore(actor=desk.sup_py, outage_id=outage.pk, as_of=night + timedelta(hours=3))


@pytest.mark.parametrize(("kw", "field"), [
    ({"kind": "meteor"}, "kind"),
    ({"title": ""}, "title"),
    ({"org_unit_code": "XX"}, "org_unit_code"),
    ({"grid_cells": []}, "grid_cells"),
    ({"grid_cells": ["bad cell!"]}, "grid_cells"),
    ({"end_at": T0}, "end_at"),
    ({"kind": "fault", "start_at": T0 + timedelta(hours=1)}, "start_at"),
])
def test_outage_input_errors(desk, kw, field):
    with pytest.raises(ValidationFailed) as exc:
        outage_create(actor=desk.sup_py, data=data(**kw), as_of=T0)
    assert exc.value.field == field


def test_agents_cannot_create_outages_and_cancel_withdraws_notices(desk):
    with pytest.raises(PermissionDenied):
        outage_create(actor=desk.hotline, data=data(), as_of=T0)
    outage, _ = outage_create(actor=desk.sup_py, data=data(), as_of=T0)
    outage_cancel(actor=desk.sup_py, outage_id=outage.pk, reason="计划调整", as_of=T0 + timedelta(hours=1))
    assert set(Message.objects.filter(object_type="outage").values_list("status", flat=True)) == {"cancelled"}

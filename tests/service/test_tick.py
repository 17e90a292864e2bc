"""The set-based tick gives exactly what the per-clock reference gives: same warnings, breaches,
negative-list entries, escalations, messages, history events and priorities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from gridcare.notifications.models import Message
from gridcare.service.models import Escalation, NegativeListEntry, SlaClock, WorkOrder, WorkOrderEvent
from gridcare.service.services import (
    sla_tick,
    sla_tick_per_clock,
    work_order_close,
    work_order_contact,
    work_order_wait_for_customer,
)
from tests import factories as f
from tests.service.conftest import at

pytestmark = pytest.mark.django_db

T0 = at(2025, 9, 26, 15)  # Friday before the make-up Sunday and National Day
TICKS = [T0 + timedelta(minutes=25), T0 + timedelta(minutes=40), at(2025, 9, 29, 15), at(2025, 10, 9, 15),
         at(2025, 10, 9, 17, 30), at(2025, 10, 10, 15), at(2025, 10, 10, 15)]


def _scenario(desk) -> None:
    sz = f.user("supervisor", desk.org["SZ"], username="sup_sz")
    assert sz
    acct = f.account(f.customer(desk.org["SZ"], phone="13600000009"), number="0000000009")
    f.service_point(acct, grid_cell="SZ-01")
    desk.create(as_of=T0, account_number="0000000001", category="complaint.business.billing", description="多收")
    desk.create(as_of=T0 + timedelta(minutes=3), account_number="0000000009", category="complaint.service.attitude",
                description="态度差")
    desk.create(as_of=T0 + timedelta(minutes=5), account_number="0000000002", category="repair.lv_outage.single",
                area_type="rural")
    met = desk.create(as_of=T0, account_number="0000000003", category="complaint.outage.notice", description="没通知")
    work_order_contact(actor=desk.complaint_agent, number=met.number, note="已联系", as_of=T0 + timedelta(minutes=10))
    paused = desk.create(as_of=T0, account_number="0000000003", category="business.meter_abnormal", description="电表")
    work_order_wait_for_customer(actor=desk.sup_py, number=paused.number, reason="约定", as_of=T0 + timedelta(hours=1))
    desk.create(as_of=T0, category="inquiry.tariff.tiered", description="阶梯电价")
    visit_order = desk.create(as_of=T0, account_number="0000000001", category="repair.lv_outage.single")
    work_order_close(actor=desk.repair_agent, number=visit_order.number, resolution="修好", as_of=T0 + timedelta(minutes=20))


def _snapshot() -> dict:
    return {
        "clocks": sorted(SlaClock.objects.values_list("pk", "status", "warned_at", "breached_at", "escalation_level")),
        "priorities": sorted(WorkOrder.objects.values_list("pk", "priority")),
        "events": sorted((e.work_order_id, e.kind, e.at, e.note, repr(sorted(e.data.items())))
                         for e in WorkOrderEvent.objects.all()),
        "messages": sorted(Message.objects.values_list("dedupe_key", "recipient", "subject", "body", "purpose",
                                                       "scheduled_at")),
        "negative": sorted(NegativeListEntry.objects.values_list("event_key", "kind", "description", "occurred_at",
                                                                 "recorded_at", "org_unit_id", "accountable_user_id",
                                                                 "grid_cell")),
        "escalations": sorted((e.clock_id, e.level, e.label, e.org_unit_id, tuple(sorted(e.notified)), e.at)
                              for e in Escalation.objects.all()),
    }


def test_set_based_tick_equals_the_per_clock_reference(desk):
    _scenario(desk)
    sid = transaction.savepoint()
    reference_results = [sla_tick_per_clock(as_of=t) for t in TICKS]
    reference = _snapshot()
    transaction.savepoint_rollback(sid)
    assert Escalation.objects.count() == 0
    results = [sla_tick(as_of=t) for t in TICKS]
    assert results == reference_results
    assert _snapshot() == reference
    # The scenario really exercises every branch.
    assert sum(r.warnings for r in results) >= 3 and sum(r.breaches for r in results) >= 8
    assert {e.level for e in Escalation.objects.all()} == {1, 2, 3}
    assert results[-1] == type(results[-1])(0, 0, 0, 0)  # the repeated tick changes nothing
    assert reference["messages"] and reference["negative"]

"""Negative list (one record per event), typical cases, and the supervisor board's figures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridcare.core.errors import PermissionDenied, ValidationFailed
from gridcare.service.models import NegativeListEntry
from gridcare.service.selectors import agent_queue, dashboard, negative_list, render_reply_templates
from gridcare.service.services import (
    negative_entry_create,
    negative_entry_rectify,
    sla_tick,
    typical_case_create,
    work_order_wait_for_customer,
)
from tests import factories as f
from tests.service.conftest import at

pytestmark = pytest.mark.django_db

T0 = at(2025, 11, 3, 10)


def test_breaches_are_one_entry_each_however_often_the_tick_runs(desk):
    order = desk.create(as_of=T0, account_number="0000000001", category="complaint.business.billing", description="多收")
    for minutes in (31, 45, 200, 500):
        sla_tick(as_of=T0 + timedelta(minutes=minutes))
    entries = NegativeListEntry.objects.filter(work_order=order, kind="sla_breach")
    assert entries.count() == 3  # first_response, handler, plan
    assert {e.org_unit.code for e in entries} == {"PY1"}
    assert {e.accountable_user for e in entries} == {desk.complaint_agent}


def test_manual_entry_and_rectification(desk):
    entry = negative_entry_create(actor=desk.sup_py, description="暗访发现营业厅未公示电价", org_unit_code="PY1",
                                  grid_cell="PY-01", occurred_at=T0 - timedelta(days=1), as_of=T0)
    assert (entry.kind, entry.status) == ("manual", "open")
    with pytest.raises(ValidationFailed) as exc:
        negative_entry_create(actor=desk.sup_py, description="x", occurred_at=T0, as_of=T0)
    assert exc.value.field == "org_unit_code"
    with pytest.raises(PermissionDenied):
        negative_entry_create(actor=desk.hotline, description="x", org_unit_code="PY1", occurred_at=T0, as_of=T0)
    negative_entry_rectify(actor=desk.sup_py, entry_id=entry.pk, rectification="已公示", as_of=T0 + timedelta(days=1))
    entry.refresh_from_db()
    assert entry.status == "rectified" and entry.rectified_at == T0 + timedelta(days=1)
    with pytest.raises(ValidationFailed):
        negative_entry_rectify(actor=desk.sup_py, entry_id=entry.pk, rectification="again", as_of=T0)
    # Scope: a Shenzhen supervisor does not see Panyu's list.
    assert negative_list(user=f.user("supervisor", desk.org["SZ"])).count() == 0
    assert negative_list(user=desk.sup_gz).count() == 1


def test_typical_case_from_an_order_carries_its_unit_and_grid(desk):
    order = desk.create(as_of=T0, account_number="0000000001", category="complaint.service.attitude", description="态度差")
    case = typical_case_create(actor=desk.sup_py, title="窗口服务态度投诉", summary="营业员推诿", lessons="首问负责",
                               accountability="当事人通报批评", number=order.number, as_of=T0)
    assert (case.org_unit.code, case.grid_cell, case.work_order) == ("PY1", "PY-01", order)
    with pytest.raises(ValidationFailed) as exc:
        typical_case_create(actor=desk.sup_py, title="", summary="s", org_unit_code="PY1", as_of=T0)
    assert exc.value.field == "title"


def test_dashboard_and_queue_show_live_sla_state(desk):
    late = desk.create(as_of=T0, account_number="0000000001", category="complaint.business.billing", description="多收")
    desk.create(as_of=T0 + timedelta(minutes=50), account_number="0000000003", category="inquiry.tariff.bill",
                description="查电费")
    waiting = desk.create(as_of=T0, account_number="0000000002", category="business.meter_abnormal", description="电表")
    work_order_wait_for_customer(actor=desk.sup_py, number=waiting.number, reason="约定上门", as_of=T0 + timedelta(minutes=5))
    now = T0 + timedelta(hours=1)
    board = dashboard(user=desk.sup_gd, as_of=now)
    assert board["open_total"] == 3
    # late complaint: first_response (30 min) breached; handler, plan, contact, reply ok. Inquiry: reply ok.
    # Waiting order: its resolve clock is paused.
    assert board["live"] == {"ok": 5, "warning": 0, "breached": 1, "paused": 1}
    assert board["backlog"] == {"业务办理": {"市桥供电所": 1}, "咨询查询": {"市桥供电所": 1},
                                "投诉": {"市桥供电所": 1}}
    rows = agent_queue(user=desk.sup_gd, as_of=now)
    assert rows[0].order == late and rows[0].worst == "breached"
    assert rows[-1].order == waiting and rows[-1].worst == "paused"
    templates = {t["code"]: t["text"] for t in render_reply_templates(late, as_of=now)}
    assert late.number in templates["ack"]

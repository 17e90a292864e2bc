"""Working an order: first-contact responsibility, transfer, merge, resolve/close/reopen, cancel,
task forces; and that a refused action changed nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.notifications.models import Message
from gridcare.service.models import ContactLog, SlaClock, TaskForce
from gridcare.service.selectors import duplicate_candidates, work_order_get, work_order_list
from gridcare.service.services import (
    UnableToChangeWorkOrder,
    task_force_form,
    work_order_assign,
    work_order_cancel,
    work_order_close,
    work_order_merge,
    work_order_note,
    work_order_reopen,
    work_order_resolve,
    work_order_transfer,
)
from tests import factories as f
from tests.service.conftest import at

pytestmark = pytest.mark.django_db

T0 = at(2025, 11, 3, 10)


def complaint(desk, as_of=T0, **extra):
    extra.setdefault("category", "complaint.business.billing")
    extra.setdefault("description", "电费多收了")
    return desk.create(as_of=as_of, account_number="0000000001", **extra)


def test_transfer_moves_the_order_but_the_first_contact_agent_keeps_it(desk):
    order = complaint(desk)
    sz_agent = f.user("agent", desk.org["SZ"], username="sz1")
    sz_agent.skills = "complaint"
    sz_agent.save(update_fields=["skills"])
    due_before = {c.key: c.due_at for c in order.clocks.all()}
    work_order_transfer(actor=desk.complaint_agent, number=order.number, org_unit_code="SZ", reason="属深圳辖区",
                        as_of=T0 + timedelta(minutes=5))
    order.refresh_from_db()
    assert (order.org_unit.code, order.assignee, order.transfer_count, order.status) == ("SZ", sz_agent, 1, "assigned")
    assert {c.key: c.due_at for c in order.clocks.all()} == due_before  # a transfer buys no time
    transferred = order.events.get(kind="transferred")
    assert transferred.data == {"from_unit": "PY1", "to_unit": "SZ", "from_assignee": "cmp1", "assignee": "sz1"}
    # 首问负责: the hotline agent (GD, sees everything anyway) and — more tellingly — a station agent
    # who took the call still see it after it left their unit.
    station_agent = f.user("agent", desk.org["PY1"], username="py1agent")
    taken = desk.create(as_of=T0, actor=station_agent, account_number="0000000001", category="inquiry.tariff.bill",
                        description="查电费")
    work_order_transfer(actor=station_agent, number=taken.number, org_unit_code="SZ", reason="转深圳",
                        as_of=T0 + timedelta(minutes=1))
    assert work_order_get(user=station_agent, number=taken.number) is not None
    assert work_order_get(user=desk.complaint_agent, number=taken.number) is None  # PY agent: not theirs now
    assert Message.objects.filter(purpose="assignment", recipient="sz1").count() == 2


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"org_unit_code": "NOPE"}, "org_unit_code"),
    ({"org_unit_code": "PY1"}, "org_unit_code"),  # already there
    ({"org_unit_code": "SZ", "reason": " "}, "reason"),
    ({"org_unit_code": "SZ", "assignee_id": 999999}, "assignee_id"),
])
def test_bad_transfer_changes_nothing(desk, kwargs, field):
    order = complaint(desk)
    args = {"actor": desk.complaint_agent, "number": order.number, "reason": "r", "as_of": T0} | kwargs
    with pytest.raises(ValidationFailed) as exc:
        work_order_transfer(**args)
    assert exc.value.field == field
    order.refresh_from_db()
    assert (order.org_unit.code, order.transfer_count) == ("PY1", 0)


def test_assign_to_a_customer_or_cashier_is_refused(desk):
    order = complaint(desk)
    cashier = f.user("cashier", desk.org["PY"])
    with pytest.raises(ValidationFailed) as exc:
        work_order_assign(actor=desk.sup_py, number=order.number, assignee_id=cashier.pk, as_of=T0)
    assert exc.value.field == "assignee_id"


def test_merge_duplicate_into_survivor(desk):
    first = complaint(desk)
    dup = complaint(desk, as_of=T0 + timedelta(minutes=30), grade="important")
    candidates = duplicate_candidates(user=desk.sup_py, order=dup, as_of=T0 + timedelta(minutes=31))
    assert list(candidates) == [first]
    survivor = work_order_merge(actor=desk.complaint_agent, number=dup.number, into_number=first.number,
                                reason="同一诉求", as_of=T0 + timedelta(minutes=40))
    dup.refresh_from_db()
    assert dup.status == "merged" and dup.merged_into == first
    assert set(SlaClock.objects.filter(work_order=dup).values_list("status", flat=True)) == {"cancelled"}
    assert survivor.priority == "urgent"  # took the duplicate's higher priority
    assert ContactLog.objects.filter(work_order=first).count() == 2
    assert survivor.events.get(kind="merged_in").data == {"from": dup.number}


def test_merge_refusals(desk):
    a = complaint(desk)
    with pytest.raises(ValidationFailed) as exc:
        work_order_merge(actor=desk.complaint_agent, number=a.number, into_number=a.number, reason="x", as_of=T0)
    assert exc.value.field == "into_number"
    b = complaint(desk)
    work_order_resolve(actor=desk.complaint_agent, number=b.number, resolution="done", as_of=T0)
    with pytest.raises(UnableToChangeWorkOrder) as exc:
        work_order_merge(actor=desk.complaint_agent, number=a.number, into_number=b.number, reason="x", as_of=T0)
    assert exc.value.field == "into_number"
    a.refresh_from_db()
    assert a.status == "assigned"


def test_close_needs_resolution_and_only_supervisors_reopen(desk):
    order = complaint(desk)
    with pytest.raises(UnableToChangeWorkOrder) as exc:
        work_order_close(actor=desk.complaint_agent, number=order.number, as_of=T0)
    assert exc.value.code == "invalid_state" and exc.value.status == 409
    with pytest.raises(ValidationFailed) as exc:
        work_order_resolve(actor=desk.complaint_agent, number=order.number, resolution="", as_of=T0)
    assert exc.value.field == "resolution"
    work_order_close(actor=desk.complaint_agent, number=order.number, resolution="已退多收电费", as_of=T0 + timedelta(minutes=20))
    order.refresh_from_db()
    assert order.status == "closed" and order.resolved_at == order.closed_at == T0 + timedelta(minutes=20)
    assert set(order.clocks.values_list("status", flat=True)) == {"met"}
    assert order.return_visits.count() == 1
    with pytest.raises(PermissionDenied):
        work_order_reopen(actor=desk.complaint_agent, number=order.number, reason="x", as_of=T0 + timedelta(hours=2))
    work_order_reopen(actor=desk.sup_py, number=order.number, reason="客户再次反映", as_of=T0 + timedelta(hours=2))
    order.refresh_from_db()
    assert (order.status, order.reopen_count, order.closed_at) == ("in_progress", 1, None)
    restarted = order.clocks.filter(round=1)
    assert sorted(restarted.values_list("key", flat=True)) == ["reply"]
    assert restarted.get().started_at == T0 + timedelta(hours=2)


def test_cancel_is_for_supervisors_and_stops_the_clocks(desk):
    order = complaint(desk)
    with pytest.raises(PermissionDenied):
        work_order_cancel(actor=desk.complaint_agent, number=order.number, reason="测试", as_of=T0)
    work_order_cancel(actor=desk.sup_py, number=order.number, reason="误受理", as_of=T0)
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert set(order.clocks.values_list("status", flat=True)) == {"cancelled"}


def test_orders_outside_scope_are_not_found(desk):
    order = complaint(desk)
    sz_agent = f.user("agent", desk.org["SZ"])
    with pytest.raises(NotFound):
        work_order_note(actor=sz_agent, number=order.number, text="hi", as_of=T0)
    assert work_order_list(user=sz_agent).count() == 0
    assert work_order_list(user=desk.sup_gd).count() == 1


def test_task_force_assigns_lead_meets_handler_clock_and_members_see_the_order(desk):
    order = complaint(desk, grade="major", description="媒体曝光：电费多收")
    sz_expert = f.user("agent", desk.org["SZ"], username="expert")
    tf = task_force_form(actor=desk.sup_py, number=order.number, lead_id=desk.complaint_agent.pk,
                         member_ids=[sz_expert.pk, desk.complaint_agent.pk], note="专项攻关",
                         as_of=T0 + timedelta(minutes=20))
    assert set(tf.members.values_list("username", flat=True)) == {"cmp1", "expert"}
    order.refresh_from_db()
    assert order.assignee == desk.complaint_agent and order.status == "in_progress"
    assert order.clocks.get(key="handler").status == "met"
    assert work_order_get(user=sz_expert, number=order.number) is not None
    assert TaskForce.objects.count() == 1
    with pytest.raises(PermissionDenied):
        task_force_form(actor=desk.complaint_agent, number=order.number, lead_id=desk.complaint_agent.pk,
                        member_ids=[], note="", as_of=T0)

"""SLA clocks on the real 2025 calendar: weekends, National Day, make-up working days, pauses,
warnings, breaches and the escalation chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gridcare.notifications.models import Message
from gridcare.service.models import Escalation, NegativeListEntry, SlaClock, WorkOrder
from gridcare.service.selectors import clock_views
from gridcare.service.services import (
    sla_tick,
    work_order_accept,
    work_order_contact,
    work_order_plan,
    work_order_reply,
    work_order_resolve,
    work_order_resume,
    work_order_wait_for_customer,
)
from tests.service.conftest import at

pytestmark = pytest.mark.django_db

FRI = at(2025, 9, 26, 15)  # Friday before the 09-28 make-up Sunday and the National Day holiday


def clocks(order: WorkOrder) -> dict[str, SlaClock]:
    return {c.key: c for c in SlaClock.objects.filter(work_order=order, round=0)}


def complaint(desk, as_of=FRI, **extra):
    extra.setdefault("category", "complaint.service.attitude")
    extra.setdefault("description", "营业员态度差")
    return desk.create(as_of=as_of, account_number="0000000001", **extra)


def test_complaint_clocks_follow_policy_and_the_working_day_calendar(desk):
    order = complaint(desk)
    c = clocks(order)
    assert sorted(c) == ["contact", "first_response", "handler", "plan", "reply"]
    assert c["first_response"].due_at == at(2025, 9, 26, 15, 30)
    assert c["handler"].due_at == at(2025, 9, 26, 17)
    assert c["plan"].due_at == at(2025, 9, 26, 23)
    assert c["contact"].due_at == at(2025, 9, 27, 15)  # 24 h: calendar hours, Saturday counts
    # 4 working days: Fri 9 h, Sat off, Sun 09-28 works, Mon, Tue, 10-01..08 off, Thu 10-09 15 h.
    assert c["reply"].due_at == at(2025, 10, 9, 15)
    assert c["reply"].source.startswith("国网江苏淮安")
    # Warn 2 working days before the reply limit: back over the holiday to Mon 09-29 15:00.
    assert c["reply"].warn_at == at(2025, 9, 29, 15)
    # Short clocks warn at 80 % of the limit.
    assert c["first_response"].warn_at == at(2025, 9, 26, 15, 24)


def test_company_can_set_reply_to_seven_working_days(desk, settings, tmp_path):
    (tmp_path / "sla.yaml").write_text(
        "rules:\n"
        "  - name: complaint\n"
        "    match: {type: complaint}\n"
        "    milestones:\n"
        "      contact: {amount: 1, unit: working_days, source: SGCC 2011}\n"
        "      reply: {amount: 7, unit: working_days, source: SGCC 2011}\n",
        encoding="utf-8",
    )
    from gridcare.service.policy import reset_policy_cache

    settings.GRIDCARE_SERVICE_POLICY_DIR = str(tmp_path)
    reset_policy_cache()
    c = clocks(complaint(desk))
    # The company file replaces the rule list, so only its two clocks remain.
    assert sorted(c) == ["contact", "reply"]
    assert c["contact"].due_at == at(2025, 9, 28, 15)  # Sat is off, the make-up Sunday counts
    # 7 working days: 09-26(9h) 28 29 30 | 10-09 10 11(Sat, works) 13 → Mon 10-13 15:00
    assert c["reply"].due_at == at(2025, 10, 13, 15)


@pytest.mark.parametrize(("area", "minutes"), [("urban", 45), ("rural", 90), ("remote", 120)])
def test_repair_arrival_by_area_type(desk, area, minutes):
    order = desk.create(as_of=at(2025, 10, 1, 23, 50), account_number="0000000001", category="repair.lv_outage.single",
                        area_type=area)
    c = clocks(order)
    assert c["arrival"].due_at == at(2025, 10, 1, 23, 50) + timedelta(minutes=minutes)  # 7×24, holiday or not
    assert order.assignee == desk.repair_agent


def test_pause_keeps_exactly_the_working_time_left(desk):
    order = complaint(desk)
    work_order_contact(actor=desk.complaint_agent, number=order.number, note="已联系客户", as_of=at(2025, 9, 26, 15, 20))
    work_order_wait_for_customer(actor=desk.complaint_agent, number=order.number, reason="等客户提供录音",
                                 as_of=at(2025, 9, 29, 10))
    c = clocks(order)
    assert c["reply"].status == "paused"
    assert c["handler"].status == "running"  # rapid-response clocks are not pausable
    # Left at pause: Mon 14 h + Tue 24 h + Thu 10-09 15 h = 53 h of working time.
    work_order_resume(actor=desk.complaint_agent, number=order.number, as_of=at(2025, 10, 9, 9))
    c = clocks(order)
    # From Thu 10-09 09:00: 15 h Thu + 24 h Fri + 14 h on the make-up Saturday 10-11.
    assert c["reply"].status == "running"
    assert c["reply"].due_at == at(2025, 10, 11, 14)
    assert c["reply"].paused_total_seconds == int((at(2025, 10, 9, 9) - at(2025, 9, 29, 10)).total_seconds())
    # The warning moves with it: it was due 5 working hours after the pause (Mon 15:00), so it is now
    # due 5 working hours after resuming.
    assert c["reply"].warn_at == at(2025, 10, 9, 14)


def test_paused_clock_never_breaches_and_resumed_clock_does(desk):
    order = complaint(desk)
    work_order_wait_for_customer(actor=desk.complaint_agent, number=order.number, reason="等资料",
                                 as_of=at(2025, 9, 26, 16))
    result = sla_tick(as_of=at(2025, 10, 20, 9))
    c = clocks(order)
    assert c["reply"].status == "paused" and c["reply"].breached_at is None
    assert c["contact"].status == "paused"
    assert result.breaches == 3  # first_response, handler, plan are not pausable
    assert sorted(NegativeListEntry.objects.filter(work_order=order).values_list("kind", flat=True)) == ["sla_breach"] * 3


def test_met_clocks_and_late_resolution(desk):
    order = complaint(desk)
    work_order_contact(actor=desk.complaint_agent, number=order.number, note="电话联系", as_of=at(2025, 9, 26, 15, 10))
    work_order_accept(actor=desk.complaint_agent, number=order.number, as_of=at(2025, 9, 26, 16))
    work_order_plan(actor=desk.complaint_agent, number=order.number, plan="核实录音，约谈营业员", as_of=at(2025, 9, 27, 8))
    work_order_reply(actor=desk.complaint_agent, number=order.number, text="已处理", as_of=at(2025, 10, 9, 14, 59))
    c = clocks(order)
    assert {k: v.status for k, v in c.items()} == {
        "first_response": "met", "contact": "met", "handler": "met", "plan": "missed", "reply": "met"}
    assert c["plan"].breached_at == at(2025, 9, 26, 23)
    assert NegativeListEntry.objects.filter(work_order=order, kind="sla_breach").count() == 1
    work_order_resolve(actor=desk.complaint_agent, number=order.number, resolution="完成", as_of=at(2025, 10, 9, 16))
    order.refresh_from_db()
    assert order.status == "resolved"


def test_tick_warns_then_breaches_then_escalates_once_per_level(desk):
    order = complaint(desk, category="complaint.business.billing")
    key = clocks(order)["reply"]

    r1 = sla_tick(as_of=at(2025, 9, 29, 15))  # reply warn time; rapid clocks long overdue
    assert r1.warnings == 1 and r1.breaches == 4  # first_response, handler, plan (Fri) and contact (Sat 15:00)
    key.refresh_from_db()
    assert key.warned_at == at(2025, 9, 29, 15)
    warning_to = set(Message.objects.filter(purpose="sla_warning").values_list("recipient", flat=True))
    # The assignee (complaint handler) and the supervisors of the responsible unit (station PY1 has
    # none, so the nearest above: county PY).
    assert warning_to == {"cmp1", "sup_py"}

    assert sla_tick(as_of=at(2025, 9, 29, 15)) == type(r1)(0, 0, 0, 0)  # idempotent

    r2 = sla_tick(as_of=at(2025, 10, 9, 15))  # reply due now: breach + level 1 at once
    assert (r2.breaches, r2.warnings) == (1, 0)
    key.refresh_from_db()
    assert key.breached_at == at(2025, 10, 9, 15) and key.escalation_level == 1
    r3 = sla_tick(as_of=at(2025, 10, 9, 17))  # +2 h: level 2 (parent of PY1 is PY)
    key.refresh_from_db()
    assert key.escalation_level == 2
    assert sla_tick(as_of=at(2025, 10, 10, 14)).escalations == 0  # level 3 needs 1 working day
    r4 = sla_tick(as_of=at(2025, 10, 10, 15))
    key.refresh_from_db()
    assert key.escalation_level == 3
    levels = list(Escalation.objects.filter(clock=key).order_by("level").values_list("level", "org_unit__code"))
    assert levels == [(1, "PY1"), (2, "PY"), (3, "GD")]
    level3 = Message.objects.get(purpose="escalation", dedupe_key__startswith=f"esc:{key.pk}:3")
    assert level3.recipient == "sup_gd"
    order.refresh_from_db()
    assert order.priority == "urgent"
    assert r3.escalations >= 1 and r4.escalations == 1
    assert NegativeListEntry.objects.filter(work_order=order, kind="sla_breach").count() == 5


def test_special_grade_alerts_supervisors_on_creation(desk):
    order = complaint(desk, grade="special", description="线路施工导致触电受伤")
    assert order.priority == "critical"
    told = set(Message.objects.filter(purpose="alert").values_list("recipient", flat=True))
    assert told == {"sup_py"}  # responsible (PY1 → PY) and parent (PY) resolve to the same supervisor


def test_clock_views_show_countdown(desk):
    order = complaint(desk)
    views = {v.key: v for v in clock_views(order, as_of=at(2025, 9, 26, 15, 25))}
    assert views["first_response"].state == "warning"
    assert views["first_response"].remaining_seconds == 5 * 60
    assert views["reply"].state == "ok"
    assert views["reply"].limit == "4 working_days"
    later = {v.key: v for v in clock_views(order, as_of=at(2025, 9, 26, 16))}
    assert later["first_response"].state == "breached"
    assert later["first_response"].remaining_seconds == -30 * 60

"""Visit programme (seed 003): the §7.1 process, requests as service work orders with their time
limits, quiet hours, archive only when requests are done, risk-customer candidates, coverage."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.service.services import (
    WorkOrderInput,
    work_order_close,
    work_order_create,
)
from gridcare.visits.models import Visit, VisitRequest
from gridcare.visits.selectors import coverage, risk_candidates, visit_list
from gridcare.visits.services import (
    UnableToCallNow,
    UnableToChangeVisit,
    VisitInput,
    risk_visits_plan,
    visit_appoint,
    visit_archive,
    visit_cancel,
    visit_create,
    visit_follow_up,
    visit_prepare,
    visit_record,
    visit_set_strategy,
)
from tests import factories as f
from tests.service import conftest as service_fixtures
from tests.service.conftest import at

pytestmark = pytest.mark.django_db
desk = service_fixtures.desk
_fresh_policy = service_fixtures._fresh_policy
T0 = at(2025, 11, 3, 9)
ONSITE = ["手持终端", "多媒体记录设备", "服务联系卡", "政策及业务宣传资料", "意见收集记录本"]


@pytest.fixture
def manager(desk):
    return f.user("account_manager", desk.org["PY"], username="am1")


def _visit(manager, **kw):
    data = {"target_kind": "key_customer", "channel": "onsite", "purpose": "了解企业用能需求",
            "planned_for": date(2025, 11, 5), "topics": ["needs", "policy"], "account_number": "0000000001"} | kw
    return visit_create(actor=manager, data=VisitInput(**data), as_of=T0)


def test_full_process_with_a_request_that_becomes_a_work_order(desk, manager):
    visit = _visit(manager)
    assert (visit.stage, visit.customer, visit.org_unit.code) == ("planned", desk.customer, "PY1")
    assert visit.number.startswith("V20251103")
    visit = visit_prepare(actor=manager, visit_id=visit.pk, checklist=ONSITE[:3], as_of=T0)
    assert visit.stage == "planned"  # not everything is ready yet
    visit = visit_prepare(actor=manager, visit_id=visit.pk, checklist=ONSITE, as_of=T0)
    assert visit.stage == "prepared"
    visit_appoint(actor=manager, visit_id=visit.pk, appointment_at=at(2025, 11, 5, 10), as_of=T0)
    visit = visit_record(actor=manager, visit_id=visit.pk, visited_at=at(2025, 11, 5, 11), as_of=at(2025, 11, 5, 12),
                         topics=["needs", "policy", "requests"], policy_notes="宣传代理购电政策", needs="计划增容 500kVA",
                         requests=[("complaint", "上月抄表员态度差"), ("consultation", "增容需要什么材料")])
    assert visit.stage == "visited"
    requests = {r.kind: r.work_order for r in VisitRequest.objects.filter(visit=visit)}
    complaint = requests["complaint"]
    assert (complaint.channel, complaint.category, complaint.customer) == ("visit", "complaint.service.conduct",
                                                                          desk.customer)
    # §7.2.3: the complaint's time limits are the service desk's, from the moment of the visit record.
    assert complaint.clocks.get(key="contact").due_at == at(2025, 11, 6, 12)
    assert requests["consultation"].clocks.get(key="reply").due_at == at(2025, 11, 14, 12)  # 7 working days
    visit_set_strategy(actor=manager, visit_id=visit.pk, strategy="安排客户经理对接增容方案", as_of=at(2025, 11, 5, 15))
    with pytest.raises(UnableToChangeVisit) as exc:
        visit_follow_up(actor=manager, visit_id=visit.pk, satisfaction=5, as_of=at(2025, 11, 6, 10))
    assert exc.value.field == "requests" and complaint.number in exc.value.message
    for order in requests.values():
        work_order_close(actor=desk.sup_py, number=order.number, resolution="已处理", as_of=at(2025, 11, 6, 9))
    with pytest.raises(UnableToCallNow):
        visit_follow_up(actor=manager, visit_id=visit.pk, satisfaction=5, as_of=at(2025, 11, 6, 21, 30))
    visit = visit_follow_up(actor=manager, visit_id=visit.pk, satisfaction=4, note="客户认可", as_of=at(2025, 11, 7, 10))
    assert (visit.stage, visit.satisfaction) == ("followed_up", 4)
    visit = visit_archive(actor=manager, visit_id=visit.pk, as_of=at(2025, 11, 7, 11))
    assert visit.stage == "archived" and visit.archived_at == at(2025, 11, 7, 11)
    assert [e.kind for e in visit.events.all()] == ["planned", "prepared", "appointed", "visited", "strategy",
                                                    "followed_up", "archived"]


def test_appointments_respect_quiet_hours_unless_asked(manager):
    visit = _visit(manager)
    visit_prepare(actor=manager, visit_id=visit.pk, checklist=ONSITE, as_of=T0)
    with pytest.raises(UnableToCallNow) as exc:
        visit_appoint(actor=manager, visit_id=visit.pk, appointment_at=at(2025, 11, 5, 21), as_of=T0)
    assert exc.value.field == "appointment_at"
    visit = visit_appoint(actor=manager, visit_id=visit.pk, appointment_at=at(2025, 11, 5, 21), as_of=T0,
                          customer_requested_time=True)
    assert visit.stage == "appointed"


def test_visit_without_requests_archives_after_the_strategy(manager):
    visit = _visit(manager, channel="phone", target_kind="special_group")
    visit_prepare(actor=manager, visit_id=visit.pk, checklist=["意见收集记录本"], as_of=T0)
    visit_record(actor=manager, visit_id=visit.pk, visited_at=at(2025, 11, 3, 10), as_of=at(2025, 11, 3, 10, 30),
                 topics=["needs"], needs="独居老人，需要上门抄表提醒")
    visit_set_strategy(actor=manager, visit_id=visit.pk, strategy="纳入特殊群体关爱名单", as_of=at(2025, 11, 3, 11))
    assert visit_archive(actor=manager, visit_id=visit.pk, as_of=at(2025, 11, 3, 12)).stage == "archived"


@pytest.mark.parametrize(("kw", "field"), [
    ({"target_kind": "alien"}, "target_kind"),
    ({"channel": "pigeon"}, "channel"),
    ({"topics": ["gossip"]}, "topics"),
    ({"purpose": ""}, "purpose"),
    ({"account_number": ""}, "account_number"),  # a key customer must be one of ours
    ({"target_kind": "government", "account_number": "", "organisation": ""}, "organisation"),
    ({"account_number": "0000000404"}, "account_number"),
    ({"contact_phone": "12"}, "contact_phone"),
])
def test_create_errors_name_the_field(manager, kw, field):
    with pytest.raises(ValidationFailed) as exc:
        _visit(manager, **kw)
    assert exc.value.field == field
    assert Visit.objects.count() == 0


def test_government_visit_names_the_organisation(manager):
    visit = _visit(manager, target_kind="government", account_number="", organisation="番禺区发改局")
    assert visit.customer is None and visit.organisation == "番禺区发改局" and visit.org_unit.code == "PY"


def test_role_scope_and_stage_rules(desk, manager):
    with pytest.raises(PermissionDenied):
        _visit(desk.hotline)
    visit = _visit(manager)
    other = f.user("account_manager", desk.org["SZ"], username="am_sz")
    with pytest.raises(NotFound):
        visit_prepare(actor=other, visit_id=visit.pk, checklist=[], as_of=T0)
    assert visit_list(user=other).count() == 0
    with pytest.raises(UnableToChangeVisit):
        visit_record(actor=manager, visit_id=visit.pk, visited_at=T0, as_of=T0, topics=["needs"], needs="x")
    with pytest.raises(ValidationFailed) as exc:
        visit_prepare(actor=manager, visit_id=visit.pk, checklist=["望远镜"], as_of=T0)
    assert exc.value.field == "checklist"
    assert visit_cancel(actor=manager, visit_id=visit.pk, reason="客户改期", as_of=T0).stage == "cancelled"


def test_risk_candidates_come_from_service_records_and_are_planned_once(desk, manager):
    for hours in (1, 2, 3):
        work_order_create(actor=desk.hotline, as_of=T0 - timedelta(days=hours), data=WorkOrderInput(
            channel="hotline", description="家里停电", account_number="0000000002", category="repair.lv_outage.single"))
    work_order_create(actor=desk.hotline, as_of=T0 - timedelta(days=10), data=WorkOrderInput(
        channel="hotline", description="态度差", account_number="0000000001", category="complaint.service.attitude"))
    found = {c.customer.name: c.reasons for c in risk_candidates(user=manager, as_of=T0)}
    assert found == {"张小三": ["投诉 1 次", "诉求未解决 1 件"], "李四": ["报修 3 次（故障频发）"]}
    planned = risk_visits_plan(actor=manager, as_of=T0, planned_for=date(2025, 11, 10))
    assert sorted(v.customer.name for v in planned) == ["张小三", "李四"]
    assert all(v.source == "risk" and v.target_kind == "risk_customer" for v in planned)
    assert risk_candidates(user=manager, as_of=T0) == []  # a visit is planned: not offered again
    rows = coverage(user=manager, start=at(2025, 11, 1), end=at(2025, 12, 1))
    assert rows == [{"target_kind": "risk_customer", "label": "服务风险用户", "planned": 2, "made": 0, "archived": 0,
                     "cancelled": 0, "satisfaction": None}]


def test_demo_visits_load_once():
    from gridcare.customers.demo import demo_load
    from gridcare.service.demo import load_demo as service_demo
    from gridcare.visits.demo import load_demo

    as_of = at(2026, 11, 10, 15)
    demo_load(customers=300, seed=7, as_of=as_of)
    service_demo(seed=7, as_of=as_of, orders=40)
    summary = load_demo(seed=7, as_of=as_of)
    assert "visits" in summary, summary
    stages = set(Visit.objects.values_list("stage", flat=True))
    assert {"planned", "prepared", "appointed", "visited", "archived"} <= stages
    before = Visit.objects.count()
    assert load_demo(seed=7, as_of=as_of).startswith("already loaded") and Visit.objects.count() == before

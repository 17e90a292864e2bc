"""Demo visits: risk-customer visits planned from the service demo's complaints and repairs, and a
few visits in every stage of the §7.1 process for the account manager ('manager' login).
Run after the service demo; deterministic and idempotent (a marker visit is looked up first)."""

from __future__ import annotations

from datetime import datetime, timedelta

from gridcare.access.models import User
from gridcare.core.errors import GridcareError
from gridcare.customers.models import Account
from gridcare.visits.models import Visit
from gridcare.visits.services import (
    VisitInput,
    risk_visits_plan,
    visit_appoint,
    visit_archive,
    visit_create,
    visit_follow_up,
    visit_prepare,
    visit_record,
    visit_set_strategy,
)

MARKER = "演示：迎峰度夏保供电汇报"
ONSITE = ["手持终端", "多媒体记录设备", "服务联系卡", "政策及业务宣传资料", "意见收集记录本"]


def load_demo(*, seed: int, as_of: datetime) -> str:
    if Visit.objects.filter(purpose=MARKER).exists():
        return f"already loaded ({Visit.objects.count()} visits)"
    manager = User.objects.filter(username="manager").first()
    if manager is None or manager.org_unit_id is None:
        return "skipped: load the customers demo first (needs the 'manager' login)"
    accounts = list(Account.objects.filter(org_unit__path__startswith=manager.org_unit.path,
                                           customer__external_id__startswith="DEMO").order_by("number")[:6])
    day = as_of.date()
    created = 0

    def plan(**kw) -> Visit | None:
        nonlocal created
        try:
            visit = visit_create(actor=manager, as_of=as_of - timedelta(days=5), data=VisitInput(**kw))
        except GridcareError:
            return None
        created += 1
        return visit

    gov = plan(target_kind="government", channel="onsite", purpose=MARKER, planned_for=day + timedelta(days=2),
               organisation="区发展和改革局", topics=["policy", "needs"])
    if gov is not None:
        visit_prepare(actor=manager, visit_id=gov.pk, checklist=ONSITE, as_of=as_of - timedelta(days=4))
    for i, account in enumerate(accounts):
        visit = plan(target_kind="key_customer" if i % 2 == 0 else "special_group", channel="onsite" if i % 2 == 0
                     else "phone", purpose="了解用电需求，宣传代理购电与峰谷电价政策", planned_for=day - timedelta(days=3),
                     account_number=account.number, topics=["needs", "policy"])
        if visit is None or i == 5:
            continue
        try:
            checklist = ONSITE if visit.channel == "onsite" else ["意见收集记录本"]
            visit_prepare(actor=manager, visit_id=visit.pk, checklist=checklist, as_of=as_of - timedelta(days=4))
            if i == 4:
                continue
            visit_appoint(actor=manager, visit_id=visit.pk, appointment_at=as_of - timedelta(days=3, hours=-1),
                          as_of=as_of - timedelta(days=4), customer_requested_time=True)
            if i == 3:
                continue
            visit_record(actor=manager, visit_id=visit.pk, visited_at=as_of - timedelta(days=3),
                         as_of=as_of - timedelta(days=3), topics=["needs", "policy"], policy_notes="代理购电、峰谷电价",
                         needs="计划明年新增生产线，需增容" if i == 0 else "希望提前告知停电", customer_requested_time=True)
            if i == 2:
                continue
            visit_set_strategy(actor=manager, visit_id=visit.pk, strategy="客户经理对接，提供增容和用能方案",
                               as_of=as_of - timedelta(days=2))
            if i == 1:
                visit_follow_up(actor=manager, visit_id=visit.pk, satisfaction=5, note="客户满意",
                                as_of=as_of - timedelta(days=1), customer_requested_time=True)
            visit_archive(actor=manager, visit_id=visit.pk, as_of=as_of - timedelta(hours=20))
        except GridcareError:
            continue
    risk = risk_visits_plan(actor=manager, as_of=as_of, planned_for=day + timedelta(days=3), limit=10)
    return f"{created + len(risk)} visits ({len(risk)} for service-risk customers)"

"""Visit programme reads: scoped lists, risk-customer candidates from the service desk's records,
and coverage figures (visits planned, made, archived, satisfaction) per target kind."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet

from gridcare.access.models import User
from gridcare.access.roles import Role
from gridcare.customers.models import Customer
from gridcare.service.models import ReturnVisit, WorkOrder
from gridcare.service.policy import service_policy
from gridcare.visits.models import Visit
from gridcare.visits.policy import visits_policy


def visit_scope_q(user: User) -> Q:
    """Visits in the user's org subtree, plus the ones they make wherever they are."""
    if user.role == Role.CUSTOMER or not user.is_active:
        return Q(pk__in=[])
    if user.org_unit_id is None:
        return Q() if user.role == Role.ADMINISTRATOR else Q(visitor=user)
    return Q(org_unit__path__startswith=user.org_unit.path) | Q(visitor=user)


def visit_list(*, user: User, stage: str = "", target_kind: str = "", mine: bool = False,
               open_only: bool = False) -> QuerySet[Visit]:
    qs = Visit.objects.filter(visit_scope_q(user)).select_related("org_unit", "visitor", "customer", "account")
    if stage:
        qs = qs.filter(stage=stage)
    if open_only:
        qs = qs.filter(stage__in=Visit.OPEN_STAGES)
    if target_kind:
        qs = qs.filter(target_kind=target_kind)
    if mine:
        qs = qs.filter(visitor=user)
    return qs.order_by("planned_for", "id")


def visit_get(*, user: User, visit_id: int) -> Visit | None:
    return (Visit.objects.filter(visit_scope_q(user), pk=visit_id)
            .select_related("org_unit", "visitor", "customer", "account")
            .prefetch_related("events__actor", "requests__work_order").first())


@dataclass(frozen=True)
class RiskCandidate:
    customer: Customer
    reasons: list[str]


def risk_candidates(*, user: User, as_of: datetime, limit: int = 50) -> list[RiskCandidate]:
    """§4.4.2 服务风险用户 in the user's scope: complaints, dissatisfied return visits, frequent repair
    calls (故障频发/频繁停电) or requests left open, within the policy window — unless visited (or a
    visit planned) within `revisit_after`."""
    policy = visits_policy()
    cal = service_policy().calendar
    since = cal.subtract(as_of, policy.risk_window)
    recent = cal.subtract(as_of, policy.revisit_after)
    stale = cal.subtract(as_of, policy.open_older_than)
    if user.org_unit_id is not None:
        customers = Customer.objects.filter(org_unit__path__startswith=user.org_unit.path)
    elif user.role == Role.ADMINISTRATOR:
        customers = Customer.objects.all()
    else:
        customers = Customer.objects.none()
    orders = WorkOrder.objects.filter(customer__in=customers.values("pk"), created_at__gte=since, created_at__lte=as_of)
    reasons: dict[int, list[str]] = defaultdict(list)
    for cid, n in orders.filter(type="complaint").values_list("customer_id").annotate(n=Count("id")):
        reasons[cid].append(f"投诉 {n} 次")
    for cid, n in (orders.filter(type="repair").values_list("customer_id").annotate(n=Count("id"))
                   .filter(n__gte=policy.repair_orders_at_least)):
        reasons[cid].append(f"报修 {n} 次（故障频发）")
    for cid, n in (ReturnVisit.objects.filter(work_order__customer__in=customers.values("pk"), satisfied=False,
                                              completed_at__gte=since, completed_at__lte=as_of)
                   .values_list("work_order__customer_id").annotate(n=Count("id"))):
        reasons[cid].append(f"回访不满意 {n} 次")
    for cid, n in (WorkOrder.objects.filter(customer__in=customers.values("pk"), status__in=WorkOrder.OPEN_STATUSES,
                                            created_at__lt=stale)
                   .values_list("customer_id").annotate(n=Count("id"))):
        reasons[cid].append(f"诉求未解决 {n} 件")
    visited = set(Visit.objects.filter(customer_id__in=list(reasons)).filter(
        Q(stage__in=Visit.OPEN_STAGES) | Q(visited_at__gte=recent)).values_list("customer_id", flat=True))
    ids = [cid for cid in reasons if cid not in visited]
    ids.sort(key=lambda cid: (-len(reasons[cid]), cid))
    by_id = Customer.objects.in_bulk(ids[:limit])
    return [RiskCandidate(by_id[cid], reasons[cid]) for cid in ids[:limit] if cid in by_id]


def coverage(*, user: User, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per target kind, visits planned for [start, end): how many were made, archived, cancelled, and
    the average satisfaction of the follow-ups (§9.2 记录与分析)."""
    labels = visits_policy().target_kinds
    rows = (Visit.objects.filter(visit_scope_q(user), planned_for__gte=start.date(), planned_for__lt=end.date())
            .values("target_kind")
            .annotate(planned=Count("id"), made=Count("id", filter=Q(visited_at__isnull=False)),
                      archived=Count("id", filter=Q(stage=Visit.Stage.ARCHIVED)),
                      cancelled=Count("id", filter=Q(stage=Visit.Stage.CANCELLED)), satisfaction=Avg("satisfaction"))
            .order_by("target_kind"))
    return [{**r, "label": labels.get(r["target_kind"], (r["target_kind"], False))[0],
             "satisfaction": round(r["satisfaction"], 2) if r["satisfaction"] is not None else None} for r in rows]

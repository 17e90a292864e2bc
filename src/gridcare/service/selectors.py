"""Reads for the service desk: queues with SLA countdowns, order detail, dashboards, libraries.

Everything is scoped through `staff_scope_q` (org subtree + orders the user holds or took first),
so the rule is written once. Functions take `as_of` where a countdown or a "live" figure depends
on the time, and never read the clock themselves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Prefetch, Q, QuerySet

from gridcare.access.models import User
from gridcare.access.roles import Role, may_unmask
from gridcare.core.calendars import Duration, TimeUnit
from gridcare.core.masking import MASKERS
from gridcare.customers.models import Customer, OrgUnit
from gridcare.service.models import (
    Escalation,
    NegativeListEntry,
    Outage,
    ReturnVisit,
    SlaClock,
    TaskForce,
    TypicalCase,
    WorkOrder,
)
from gridcare.service.policy import service_policy

OPEN = WorkOrder.OPEN_STATUSES


def staff_scope_q(user: User) -> Q:
    """Work orders a user may see. Staff: their org subtree, plus orders they hold, took first (首问)
    or work on in a task force, wherever those were transferred. A portal customer: their own."""
    if user.role == Role.CUSTOMER:
        return Q(customer_id=user.customer_id) if user.customer_id else Q(pk__in=[])
    if not user.is_active:
        return Q(pk__in=[])
    task_forces = TaskForce.objects.filter(members=user).values("work_order_id")
    mine = Q(assignee=user) | Q(first_contact_user=user) | Q(pk__in=task_forces)
    if user.org_unit_id is None:
        return Q() if user.role == Role.ADMINISTRATOR else mine
    return Q(org_unit__path__startswith=user.org_unit.path) | mine


def remaining(clock: SlaClock, *, as_of: datetime) -> timedelta:
    """Clock time left (negative when overdue); a paused clock shows what it had left when paused."""
    cal = service_policy().calendar
    unit = TimeUnit(clock.unit)
    reference = clock.paused_at if clock.status == SlaClock.Status.PAUSED else as_of
    if clock.due_at >= reference:
        return cal.elapsed(reference, clock.due_at, unit)
    return -(reference - clock.due_at)


def work_order_queryset(*, user: User) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(staff_scope_q(user)).select_related(
        "org_unit", "assignee", "customer", "account", "service_point", "first_contact_user", "outage"
    )


def work_order_get(*, user: User, number: str) -> WorkOrder | None:
    return (
        work_order_queryset(user=user).filter(number=number)
        .prefetch_related("events__actor", "attachments", "clocks", "return_visits", "escalations",
                          Prefetch("merged", queryset=WorkOrder.objects.only("number", "merged_into_id")))
        .first()
    )


def work_orders_for_customer(user: User, customer: Customer) -> QuerySet[WorkOrder]:
    """Customer 360: the customer's work orders that this user may see, newest first."""
    return work_order_queryset(user=user).filter(customer=customer).order_by("-created_at", "-id")


def clock_state(clock: SlaClock, *, as_of: datetime) -> str:
    """ok | warning | breached | paused | met | missed | cancelled — one word for a badge."""
    if clock.status == SlaClock.Status.RUNNING:
        if clock.due_at <= as_of:
            return "breached"
        return "warning" if clock.warn_at <= as_of else "ok"
    return clock.status


@dataclass(frozen=True)
class ClockView:
    key: str
    label: str
    limit: str
    source: str
    due_at: datetime
    state: str
    remaining_seconds: int
    round: int


def clock_views(order: WorkOrder, *, as_of: datetime) -> list[ClockView]:
    out = []
    for clock in sorted(order.clocks.all(), key=lambda c: (c.round, c.due_at, c.pk)):
        left = remaining(clock, as_of=as_of) if clock.status in ("running", "paused") else timedelta(0)
        out.append(ClockView(key=clock.key, label=clock.label, limit=str(Duration(clock.amount, TimeUnit(clock.unit))),
                             source=clock.source, due_at=clock.due_at, state=clock_state(clock, as_of=as_of),
                             remaining_seconds=int(left.total_seconds()), round=clock.round))
    return out


@dataclass
class QueueRow:
    order: WorkOrder
    next_clock: ClockView | None
    states: list[str] = field(default_factory=list)

    @property
    def worst(self) -> str:
        for state in ("breached", "warning", "paused", "ok"):
            if state in self.states:
                return state
        return "none"


def work_order_list(*, user: User, status: str = "", type: str = "", q: str = "", mine: bool = False,
                    org_unit_code: str = "", open_only: bool = False) -> QuerySet[WorkOrder]:
    qs = work_order_queryset(user=user)
    if status:
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.filter(status__in=OPEN)
    if type:
        qs = qs.filter(type=type)
    if mine:
        qs = qs.filter(Q(assignee=user) | Q(first_contact_user=user))
    if org_unit_code:
        unit = OrgUnit.objects.filter(code=org_unit_code).first()
        qs = qs.filter(org_unit__path__startswith=unit.path) if unit else qs.none()
    if q:
        q = q.strip()
        qs = qs.filter(Q(number=q) | Q(subject__icontains=q) | Q(contact_phone=q) | Q(account__number=q))
    return qs.order_by("-created_at", "-id")


_PRIORITY_RANK = {"critical": 0, "urgent": 1, "normal": 2}
_STATE_RANK = {"breached": 0, "warning": 1, "ok": 2, "paused": 3, "none": 4}


def agent_queue(*, user: User, as_of: datetime, mine: bool = False, type: str = "", limit: int = 200) -> list[QueueRow]:
    """Open orders with their next running clock, most urgent first: breached, warning, then by due time."""
    qs = work_order_list(user=user, open_only=True, mine=mine, type=type).prefetch_related(
        Prefetch("clocks", queryset=SlaClock.objects.filter(status__in=["running", "paused"]))
    )[:limit]
    rows = []
    for order in qs:
        views = clock_views(order, as_of=as_of)
        running = [v for v in views if v.state in ("ok", "warning", "breached")]
        paused = [v for v in views if v.state == "paused"]
        nxt = min(running, key=lambda v: v.due_at) if running else (paused[0] if paused else None)
        rows.append(QueueRow(order=order, next_clock=nxt, states=[v.state for v in views]))
    rows.sort(key=lambda r: (_STATE_RANK[r.worst], _PRIORITY_RANK.get(r.order.priority, 3),
                             r.next_clock.due_at if r.next_clock else datetime.max.replace(tzinfo=as_of.tzinfo),
                             r.order.pk))
    return rows


def duplicate_candidates(*, user: User, order: WorkOrder, as_of: datetime) -> QuerySet[WorkOrder]:
    """Open orders of the same type from the same customer (or phone) recently: merge candidates."""
    window = service_policy().intake.duplicate_window
    since = service_policy().calendar.subtract(as_of, window)
    same = Q(customer=order.customer) if order.customer_id else Q(contact_phone=order.contact_phone)
    if not order.customer_id and not order.contact_phone:
        return WorkOrder.objects.none()
    return (work_order_queryset(user=user).filter(same, type=order.type, status__in=OPEN, created_at__gte=since)
            .exclude(pk=order.pk).order_by("created_at"))


def active_outage_for(*, grid_cell: str, as_of: datetime) -> Outage | None:
    """The outage covering a grid cell now: started, not restored or cancelled, and (unless it is a
    fault, whose end is only an estimate) not past its planned end."""
    if not grid_cell:
        return None
    candidates = Outage.objects.filter(start_at__lte=as_of, restored_at__isnull=True).exclude(
        status=Outage.Status.CANCELLED).order_by("-start_at")
    for outage in candidates:
        if grid_cell in (outage.grid_cells or []) and (outage.kind == Outage.Kind.FAULT or as_of < outage.end_at):
            return outage
    return None


def upcoming_outages_for(*, grid_cell: str, as_of: datetime) -> list[Outage]:
    """Planned and temporary outages of a grid cell that start after `as_of` and within the planned
    notice period (outage.yaml notice.planned, 7 days by default), soonest first: what a customer
    asking "会停电吗" should be told, since those are already announced."""
    if not grid_cell:
        return []
    policy = service_policy()
    notice = policy.outage.notice.get(Outage.Kind.PLANNED)
    until = policy.calendar.add(as_of, notice) if notice is not None else as_of
    candidates = Outage.objects.filter(
        kind__in=(Outage.Kind.PLANNED, Outage.Kind.TEMPORARY), start_at__gt=as_of, start_at__lte=until,
        restored_at__isnull=True).exclude(status=Outage.Status.CANCELLED).order_by("start_at", "pk")
    return [outage for outage in candidates if grid_cell in (outage.grid_cells or [])]


def outage_list(*, user: User, include_closed: bool = False) -> QuerySet[Outage]:
    qs = Outage.objects.select_related("org_unit").annotate(calls=Count("work_orders"))
    if user.role != Role.ADMINISTRATOR or user.org_unit_id:
        if user.org_unit_id is None:
            return qs.none()
        qs = qs.filter(org_unit__path__startswith=user.org_unit.path)
    if not include_closed:
        qs = qs.exclude(status__in=[Outage.Status.RESTORED, Outage.Status.CANCELLED])
    return qs.order_by("-start_at", "-id")


def return_visit_queue(*, user: User, as_of: datetime, due_only: bool = True) -> QuerySet[ReturnVisit]:
    """Phone return visits waiting for an agent; those scheduled for later (quiet hours) are hidden."""
    orders = WorkOrder.objects.filter(staff_scope_q(user)).values("pk")
    qs = ReturnVisit.objects.filter(work_order__in=orders, method=ReturnVisit.Method.PHONE,
                                    status=ReturnVisit.Status.PENDING).select_related("work_order")
    if due_only:
        qs = qs.filter(scheduled_at__lte=as_of)
    return qs.order_by("scheduled_at", "id")


def return_visit_by_token(*, token: str) -> ReturnVisit | None:
    return ReturnVisit.objects.select_related("work_order").filter(token=token).first()


def satisfaction_summary(*, user: User, start: datetime, end: datetime) -> dict[str, Any]:
    """Return-visit results in [start, end): feeds the KPI app (回访满意率, average score)."""
    orders = WorkOrder.objects.filter(staff_scope_q(user)).values("pk")
    done = ReturnVisit.objects.filter(work_order__in=orders, status=ReturnVisit.Status.COMPLETED,
                                      completed_at__gte=start, completed_at__lt=end)
    agg = done.aggregate(n=Count("id"), satisfied=Count("id", filter=Q(satisfied=True)), avg=Avg("score"))
    n = agg["n"] or 0
    return {"completed": n, "satisfied": agg["satisfied"] or 0,
            "satisfaction_rate": round((agg["satisfied"] or 0) / n, 4) if n else None,
            "average_score": round(agg["avg"], 2) if agg["avg"] is not None else None}


def negative_list(*, user: User, status: str = "", kind: str = "") -> QuerySet[NegativeListEntry]:
    qs = NegativeListEntry.objects.select_related("work_order", "org_unit", "accountable_user")
    if not (user.role == Role.ADMINISTRATOR and user.org_unit_id is None):
        if user.org_unit_id is None:
            return qs.none()
        qs = qs.filter(org_unit__path__startswith=user.org_unit.path)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def typical_cases(*, user: User) -> QuerySet[TypicalCase]:
    return TypicalCase.objects.select_related("org_unit", "work_order").order_by("-published_at", "-id")


def dashboard(*, user: User, as_of: datetime) -> dict[str, Any]:
    """Supervisor board: live SLA status, breaches, backlog by type and org unit, rapid response."""
    taxonomy = service_policy().taxonomy
    orders = WorkOrder.objects.filter(staff_scope_q(user))
    open_orders = orders.filter(status__in=OPEN)
    clocks = SlaClock.objects.filter(work_order__in=open_orders.values("pk"), status__in=["running", "paused"])
    live = Counter()
    for clock in clocks.only("status", "due_at", "warn_at"):
        live[clock_state(clock, as_of=as_of)] += 1
    backlog_rows = open_orders.values("type", "org_unit__name").annotate(n=Count("id")).order_by("type", "org_unit__name")
    backlog: dict[str, dict[str, int]] = {}
    units: set[str] = set()
    for row in backlog_rows:
        label = taxonomy.categories[row["type"]].label if row["type"] in taxonomy.categories else row["type"]
        backlog.setdefault(label, {})[row["org_unit__name"]] = row["n"]
        units.add(row["org_unit__name"])
    since = as_of - timedelta(days=7)
    breaches = (SlaClock.objects.filter(work_order__in=orders.values("pk"), breached_at__isnull=False,
                                        breached_at__gte=since, breached_at__lte=as_of)
                .select_related("work_order", "work_order__org_unit").order_by("-breached_at")[:50])
    rapid = (open_orders.filter(type="complaint").select_related("org_unit", "assignee")
             .prefetch_related("clocks", "task_force__members").order_by("-priority", "created_at")[:50])
    escalations = (Escalation.objects.filter(work_order__in=orders.values("pk"), at__gte=since, at__lte=as_of)
                   .select_related("work_order", "org_unit").order_by("-at")[:50])
    return {
        "as_of": as_of,
        "open_total": open_orders.count(),
        "by_status": dict(Counter(open_orders.values_list("status", flat=True))),
        "live": {k: live.get(k, 0) for k in ("ok", "warning", "breached", "paused")},
        "backlog": backlog,
        "backlog_units": sorted(units),
        "breaches": list(breaches),
        "escalations": list(escalations),
        "rapid_response": list(rapid),
        "visits_due": return_visit_queue(user=user, as_of=as_of).count(),
        "negative_open": negative_list(user=user, status=NegativeListEntry.Status.OPEN).count(),
        "satisfaction_7d": satisfaction_summary(user=user, start=since, end=as_of),
    }


def render_reply_templates(order: WorkOrder, *, as_of: datetime) -> list[dict[str, str]]:
    """Reply templates with the order's values filled in; unknown placeholders stay for the agent."""
    cal = service_policy().calendar
    due = min((c.due_at for c in order.clocks.all() if c.status == "running"), default=None)
    values = {"number": order.number, "customer": order.contact_name or "",
              "due": due.astimezone(cal.tz).strftime("%Y-%m-%d %H:%M") if due else "",
              "outage_end": order.outage.end_at.astimezone(cal.tz).strftime("%Y-%m-%d %H:%M") if order.outage else "",
              "outage_reason": order.outage.reason if order.outage else ""}

    class _Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    out = []
    for template in service_policy().reply_templates:
        text = str(template.get("text", ""))
        try:
            text = text.format_map(_Keep(values))
        except (ValueError, AttributeError, IndexError, KeyError):
            pass  # a malformed template is shown as written rather than breaking the workbench
        out.append({"code": str(template.get("code", "")), "label": str(template.get("label", "")), "text": text})
    return out


def contact_shown(*, user: User, order: WorkOrder) -> dict[str, str]:
    """The order's contact details as this user may see them: the customer themselves in clear,
    staff masked unless their role may see that field (access.roles.UNMASK_FIELDS)."""
    own = user.role == Role.CUSTOMER and order.customer_id is not None and order.customer_id == user.customer_id
    out = {}
    for attr, kind in (("contact_name", "name"), ("contact_phone", "phone"), ("contact_email", "email")):
        value = getattr(order, attr) or ""
        out[attr] = value if own or may_unmask(user.role, kind) else MASKERS[kind](value)
    return out


# History events a customer sees about their own order (the rest is internal working).
PUBLIC_EVENT_KINDS = ("created", "replied", "resolved", "closed", "reopened", "reopened_by_visit", "merged",
                      "cancelled", "outage_linked", "return_visit_completed")


def public_events(order: WorkOrder) -> list:
    return [e for e in order.events.all() if e.kind in PUBLIC_EVENT_KINDS]


@dataclass(frozen=True)
class BreachRow:
    org_unit: str
    type: str
    clock: str
    total: int
    on_time: int
    breached: int
    open_breached: int

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.total, 4) if self.total else None


def breach_report(*, user: User | None, start: datetime, end: datetime, as_of: datetime,
                  org_unit_code: str = "") -> list[BreachRow]:
    """Time limits that fell due in [start, end), per org unit, order type and clock: how many were
    met on time and how many breached (工单及时率). Paused and cancelled clocks, and running clocks
    not yet due at `as_of`, are left out; a clock still running past its due time counts as breached.
    `user=None` is the whole company (the CLI report, KPI jobs)."""
    taxonomy = service_policy().taxonomy
    orders = WorkOrder.objects.all() if user is None else WorkOrder.objects.filter(staff_scope_q(user))
    if org_unit_code:
        unit = OrgUnit.objects.filter(code=org_unit_code).first()
        orders = orders.filter(org_unit__path__startswith=unit.path) if unit else orders.none()
    running = SlaClock.Status.RUNNING
    clocks = (SlaClock.objects.filter(work_order__in=orders.values("pk"), due_at__gte=start, due_at__lt=end)
              .exclude(status__in=[SlaClock.Status.CANCELLED, SlaClock.Status.PAUSED])
              .exclude(status=running, due_at__gt=as_of))
    late = Q(breached_at__isnull=False) | Q(status=SlaClock.Status.MISSED) | Q(status=running)
    rows = (clocks.values("work_order__org_unit__name", "work_order__type", "label")
            .annotate(total=Count("id"), breached=Count("id", filter=late),
                      open_breached=Count("id", filter=Q(status=running)))
            .order_by("work_order__org_unit__name", "work_order__type", "label"))
    out = []
    for r in rows:
        code = r["work_order__type"]
        label = taxonomy.categories[code].label if code in taxonomy.categories else code
        out.append(BreachRow(org_unit=r["work_order__org_unit__name"], type=label, clock=r["label"], total=r["total"],
                             on_time=r["total"] - r["breached"], breached=r["breached"],
                             open_breached=r["open_breached"]))
    return out


def assignable_staff(*, order: WorkOrder) -> QuerySet[User]:
    """People an order can be assigned to from its page: active agents and supervisors in the order's
    unit, its siblings and everything under its parent (a transfer covers anyone further away)."""
    path = order.org_unit.path
    parent_path = path.rsplit("/", 2)[0] + "/" if path.count("/") > 2 else path
    roles = (*service_policy().routing.assignable_roles, Role.SUPERVISOR)
    return User.objects.filter(is_active=True, role__in=roles, org_unit__path__startswith=parent_path).order_by(
        "username")

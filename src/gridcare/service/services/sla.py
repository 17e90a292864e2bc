"""SLA clocks: start, stop, pause, resume, and the periodic tick (warnings, breaches, escalations).

The clock model is in docs/service-desk.md: limits are copied from the policy onto each clock when
it starts; working-day limits count only working-day time (gridcare.core.calendars); a pause
preserves exactly the working time that was left. Nothing here reads the clock: `as_of` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F

from gridcare.access.models import User
from gridcare.core.calendars import Duration, TimeUnit
from gridcare.customers.models import OrgUnit
from gridcare.service.models import (
    Escalation,
    NegativeListEntry,
    ReturnVisit,
    SlaClock,
    WorkOrder,
    WorkOrderEvent,
)
from gridcare.service.policy import PRIORITY_ORDER, ClockSpec, clock_specs, service_policy
from gridcare.service.services._bulk import insert_rows
from gridcare.service.services._common import (
    ancestors,
    event,
    in_app_bulk,
    local,
    notify_targets,
    notify_users,
    raise_priority,
    supervisors_of,
)


def order_facts(order: WorkOrder) -> dict[str, str]:
    return {"type": order.type, "category": order.category, "grade": order.grade, "channel": order.channel,
            "area_type": order.area_type}


def _warn_at(spec_unit: TimeUnit, started: datetime, due: datetime) -> datetime:
    sla = service_policy().sla
    cal = service_policy().calendar
    before = sla.warn_before.get(spec_unit.value)
    if before is not None:
        candidate = cal.subtract(due, before)
        if candidate > started:
            return candidate
    total = cal.elapsed(started, due, spec_unit)
    return cal.add_elapsed(started, total * sla.warn_at_fraction, spec_unit)


def clocks_start(order: WorkOrder, *, as_of: datetime, only: frozenset[str] | None = None, round_: int = 0) -> list[SlaClock]:
    """Create the order's clocks from the policy (all of them, or only the keys in `only`)."""
    cal = service_policy().calendar
    specs: list[ClockSpec] = clock_specs(service_policy().sla, order_facts(order))
    clocks = []
    for spec in specs:
        if only is not None and spec.key not in only:
            continue
        due = cal.add(as_of, spec.duration)
        clocks.append(SlaClock(
            work_order=order, key=spec.key, label=spec.label, amount=spec.duration.amount,
            unit=spec.duration.unit.value, source=spec.source[:255], rule=spec.rule, pausable=spec.pausable,
            met_on=sorted(spec.met_on), started_at=as_of, due_at=due,
            warn_at=_warn_at(spec.duration.unit, as_of, due), round=round_,
        ))
    SlaClock.objects.bulk_create(clocks)
    return clocks


def _open_clocks(order: WorkOrder):
    return order.clocks.select_for_update().filter(status__in=[SlaClock.Status.RUNNING, SlaClock.Status.PAUSED])


def _record_breach(clock: SlaClock, order: WorkOrder, *, at: datetime, as_of: datetime) -> None:
    """A clock passed its due time: history event and one negative-list entry (一事一档)."""
    clock.breached_at = at
    event(order, kind="sla_breach", at=as_of, note=f"{clock.label} 超时（时限 {local(clock.due_at)}）",
          data={"clock": clock.key, "due_at": clock.due_at.isoformat(), "round": clock.round})
    NegativeListEntry.objects.get_or_create(
        event_key=f"breach:{clock.pk}",
        defaults={
            "kind": NegativeListEntry.Kind.SLA_BREACH, "work_order": order, "org_unit": order.org_unit,
            "grid_cell": order.grid_cell, "accountable_user": order.assignee,
            "description": f"{order.number} {clock.label}超时 (限 {Duration(clock.amount, TimeUnit(clock.unit))})"[:255],
            "occurred_at": at, "recorded_at": as_of,
        },
    )


def clocks_on_event(order: WorkOrder, *, event_name: str, as_of: datetime) -> list[SlaClock]:
    """Stop every open clock this event meets ("resolve" stops all). Late stops record the breach."""
    stopped = []
    for clock in _open_clocks(order):
        if event_name != "resolve" and event_name not in clock.met_on:
            continue
        late = clock.status == SlaClock.Status.RUNNING and as_of > clock.due_at
        clock.status = SlaClock.Status.MISSED if late else SlaClock.Status.MET
        clock.stopped_at = as_of
        if late and clock.breached_at is None:
            _record_breach(clock, order, at=clock.due_at, as_of=as_of)
        if clock.paused_at is not None:
            clock.paused_total_seconds += int((as_of - clock.paused_at).total_seconds())
            clock.paused_at = None
        clock.save()
        stopped.append(clock)
    return stopped


def clocks_cancel(order: WorkOrder, *, as_of: datetime) -> int:
    return _open_clocks(order).update(status=SlaClock.Status.CANCELLED, stopped_at=as_of)


def clocks_pause(order: WorkOrder, *, as_of: datetime) -> list[SlaClock]:
    """Pause the pausable running clocks that have not run out (an overdue clock stays overdue)."""
    paused = []
    for clock in _open_clocks(order).filter(status=SlaClock.Status.RUNNING, pausable=True, due_at__gt=as_of):
        clock.status = SlaClock.Status.PAUSED
        clock.paused_at = as_of
        clock.save(update_fields=["status", "paused_at"])
        paused.append(clock)
    return paused


def clocks_resume(order: WorkOrder, *, as_of: datetime) -> list[SlaClock]:
    """Resume paused clocks keeping exactly the working time that was left when they paused."""
    cal = service_policy().calendar
    resumed = []
    for clock in _open_clocks(order).filter(status=SlaClock.Status.PAUSED):
        unit = TimeUnit(clock.unit)
        left = cal.elapsed(clock.paused_at, clock.due_at, unit)
        to_warn = cal.elapsed(clock.paused_at, clock.warn_at, unit)
        clock.due_at = cal.add_elapsed(as_of, left, unit)
        if clock.warned_at is None:
            clock.warn_at = cal.add_elapsed(as_of, to_warn, unit)
        clock.paused_total_seconds += int((as_of - clock.paused_at).total_seconds())
        clock.paused_at = None
        clock.status = SlaClock.Status.RUNNING
        clock.save()
        resumed.append(clock)
    return resumed


# -- tick -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TickResult:
    warnings: int
    breaches: int
    escalations: int
    expired_surveys: int


def _escalate(clock: SlaClock, order: WorkOrder, *, as_of: datetime) -> int:
    policy = service_policy()
    cal = policy.calendar
    created = 0
    chain_units = ancestors(order.org_unit)
    for level in policy.escalation.chain:
        if level.level <= clock.escalation_level:
            continue
        if cal.add(clock.breached_at, level.after_breach) > as_of:
            break
        users = notify_targets(order, level.notify)
        target_unit = {"parent": chain_units[1] if len(chain_units) > 1 else chain_units[0],
                       "root": chain_units[-1]}.get(level.notify[0] if level.notify else "responsible", order.org_unit)
        told = notify_users(order, users, template="service_escalation", as_of=as_of, purpose="escalation",
                            dedupe=f"esc:{clock.pk}:{level.level}",
                            context={"clock": clock.label, "due": local(clock.due_at), "level": level.level,
                                     "level_label": level.label})
        Escalation.objects.create(work_order=order, clock=clock, level=level.level, label=level.label,
                                  org_unit=target_unit, notified=told, at=as_of)
        clock.escalation_level = level.level
        if raise_priority(order, policy.escalation.raise_priority_to):
            order.save(update_fields=["priority"])
        event(order, kind="escalated", at=as_of, note=f"{clock.label} 升级至 L{level.level} {level.label}",
              data={"clock": clock.key, "level": level.level, "notified": told})
        created += 1
    return created


def sla_tick_per_clock(*, as_of: datetime) -> TickResult:
    """The reference tick: one clock at a time, each in its own transaction. Kept as the baseline the
    set-based `sla_tick` is checked against (tests) and measured against (bench/bench_service.py)."""
    policy = service_policy()
    warnings = breaches = escalations = 0
    running = SlaClock.objects.filter(status=SlaClock.Status.RUNNING)
    candidates = running.filter(warned_at__isnull=True, warn_at__lte=as_of).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            clock = SlaClock.objects.select_for_update().select_related("work_order").get(pk=pk)
            if clock.status != SlaClock.Status.RUNNING or clock.warned_at is not None:
                continue
            clock.warned_at = as_of
            clock.save(update_fields=["warned_at"])
            if clock.due_at <= as_of:
                continue  # already overdue: the breach below says more than a warning would
            order = clock.work_order
            told = notify_users(order, notify_targets(order, policy.escalation.warning_notify),
                                template="service_sla_warning", as_of=as_of, purpose="sla_warning",
                                dedupe=f"warn:{clock.pk}", context={"clock": clock.label, "due": local(clock.due_at)})
            event(order, kind="sla_warning", at=as_of, note=f"{clock.label} 即将超时（{local(clock.due_at)}）",
                  data={"clock": clock.key, "notified": told})
            warnings += 1
    overdue = running.filter(due_at__lte=as_of).values_list("pk", flat=True)
    for pk in list(overdue):
        with transaction.atomic():
            clock = SlaClock.objects.select_for_update().select_related("work_order", "work_order__org_unit").get(pk=pk)
            if clock.status != SlaClock.Status.RUNNING:
                continue
            order = clock.work_order
            if clock.breached_at is None:
                _record_breach(clock, order, at=clock.due_at, as_of=as_of)
                breaches += 1
            escalations += _escalate(clock, order, as_of=as_of)
            clock.save()
    expired = 0
    valid_for = policy.return_visit.survey_valid_for
    for visit in ReturnVisit.objects.filter(method=ReturnVisit.Method.SMS, status=ReturnVisit.Status.SENT):
        if policy.calendar.add(visit.scheduled_at, valid_for) <= as_of:
            visit.status = ReturnVisit.Status.EXPIRED
            visit.save(update_fields=["status"])
            expired += 1
    return TickResult(warnings=warnings, breaches=breaches, escalations=escalations, expired_surveys=expired)


def alert_on_create(order: WorkOrder, *, as_of: datetime) -> list[str]:
    """特殊/重大 complaints: supervisors are told at once so they review within 15 minutes."""
    policy = service_policy().escalation
    if order.grade not in policy.alert_grades:
        return []
    return notify_users(order, notify_targets(order, policy.alert_notify), template="service_alert_on_create",
                        as_of=as_of, purpose="alert", dedupe=f"alert:{order.pk}")


# -- the set-based tick ---------------------------------------------------------------------------
CHUNK = 500


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i: i + size]


def _tick_lock() -> None:
    """Serialise concurrent ticks: they read a set of clocks and then write what they found, so two
    at once would both warn the same clock. PostgreSQL: a transaction-scoped advisory lock. SQLite:
    a write as the first statement takes the database's write lock until commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TICK_LOCK_KEY])
    else:
        SlaClock.objects.filter(pk=-1).update(escalation_level=0)


TICK_LOCK_KEY = 7_007_001  # any constant unique to this lock in the database


class _Units:
    """Org-unit lookups the tick repeats for thousands of clocks, done once per unit."""

    def __init__(self) -> None:
        self._chain: dict[int, list] = {}
        self._sups: dict[int, list[User]] = {}
        self._users: dict[int, User | None] = {}

    def chain(self, unit_id: int) -> list:
        if unit_id not in self._chain:
            self._chain[unit_id] = ancestors(OrgUnit.objects.get(pk=unit_id))
        return self._chain[unit_id]

    def supervisors(self, unit) -> list[User]:
        if unit.pk not in self._sups:
            self._sups[unit.pk] = supervisors_of(unit)
        return self._sups[unit.pk]

    def user(self, user_id: int | None) -> User | None:
        if user_id is None:
            return None
        if user_id not in self._users:
            self._users[user_id] = User.objects.filter(pk=user_id).first()
        return self._users[user_id]

    def targets(self, *, unit_id: int, assignee_id: int | None, targets: tuple[str, ...]) -> list[User]:
        """Same answer as `notify_targets`, from ids."""
        chain = self.chain(unit_id)
        users: list[User] = []
        for target in targets:
            if target == "assignee":
                found = [u for u in [self.user(assignee_id)] if u is not None]
            elif target == "responsible":
                found = self.supervisors(chain[0])
            elif target == "parent":
                found = self.supervisors(chain[1] if len(chain) > 1 else chain[0])
            else:
                found = self.supervisors(chain[-1])
            for user in found:
                if user not in users:
                    users.append(user)
        return users


_ROW = ("pk", "key", "label", "amount", "unit", "round", "due_at", "breached_at", "escalation_level",
        "work_order_id", "work_order__number", "work_order__category", "work_order__grade",
        "work_order__org_unit_id", "work_order__assignee_id", "work_order__grid_cell", "work_order__priority")


class _Labels:
    """Per-tick caches of the text that goes into thousands of messages: category paths, grades and
    local times (the policy is read once, not once per row)."""

    def __init__(self) -> None:
        policy = service_policy()
        self.taxonomy = policy.taxonomy
        self.tz = policy.calendar.tz
        self._paths: dict[str, str] = {}
        self._times: dict[datetime, str] = {}

    def local(self, at: datetime) -> str:
        if at not in self._times:
            self._times[at] = at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
        return self._times[at]

    def context(self, row: dict, **extra) -> dict:
        code = row["work_order__category"]
        if code not in self._paths:
            self._paths[code] = self.taxonomy.path_label(code)
        return {"number": row["work_order__number"], "category": self._paths[code],
                "grade": self.taxonomy.grade_label(row["work_order__grade"]), **extra}


def _tick_warnings(*, as_of: datetime, units: _Units, labels: _Labels, messages: list, events: list) -> int:
    policy = service_policy()
    due = SlaClock.objects.filter(status=SlaClock.Status.RUNNING, warned_at__isnull=True, warn_at__lte=as_of)
    rows = list(due.filter(due_at__gt=as_of).values(*_ROW))
    due.update(warned_at=as_of)  # overdue ones too: the breach below says more than a warning would
    for row in rows:
        users = units.targets(unit_id=row["work_order__org_unit_id"], assignee_id=row["work_order__assignee_id"],
                              targets=policy.escalation.warning_notify)
        due = labels.local(row["due_at"])
        context = labels.context(row, clock=row["label"], due=due)
        for user in users:
            messages.append((user, "service_sla_warning", "sla_warning", f"warn:{row['pk']}:{user.pk}", context,
                             row["work_order_id"]))
        events.append({"work_order_id": row["work_order_id"], "at": as_of, "kind": "sla_warning",
                       "note": f"{row['label']} 即将超时（{due}）",
                       "data": {"clock": row["key"], "notified": [u.username for u in users]}})
    return len(rows)


def _tick_breaches(*, as_of: datetime, labels: _Labels, events: list) -> int:
    found = SlaClock.objects.filter(status=SlaClock.Status.RUNNING, due_at__lte=as_of, breached_at__isnull=True)
    rows = list(found.values(*_ROW))
    found.update(breached_at=F("due_at"))
    entries = []
    for row in rows:
        events.append({"work_order_id": row["work_order_id"], "at": as_of, "kind": "sla_breach",
                       "note": f"{row['label']} 超时（时限 {labels.local(row['due_at'])}）",
                       "data": {"clock": row["key"], "due_at": row["due_at"].isoformat(), "round": row["round"]}})
        limit = Duration(row["amount"], TimeUnit(row["unit"]))
        entries.append({
            "event_key": f"breach:{row['pk']}", "kind": NegativeListEntry.Kind.SLA_BREACH.value,
            "status": NegativeListEntry.Status.OPEN.value, "work_order_id": row["work_order_id"],
            "org_unit_id": row["work_order__org_unit_id"], "grid_cell": row["work_order__grid_cell"],
            "accountable_user_id": row["work_order__assignee_id"],
            "description": f"{row['work_order__number']} {row['label']}超时 (限 {limit})"[:255],
            "occurred_at": row["due_at"], "recorded_at": as_of})
    insert_rows(NegativeListEntry, entries, ignore_conflicts=True)
    return len(rows)


def _tick_escalations(*, as_of: datetime, units: _Units, labels: _Labels, messages: list, events: list) -> int:
    policy = service_policy()
    chain = policy.escalation.chain
    if not chain:
        return 0
    cal = policy.calendar
    reached_at: dict[tuple[datetime, int], datetime] = {}
    rows = (SlaClock.objects.filter(status=SlaClock.Status.RUNNING, breached_at__isnull=False,
                                    escalation_level__lt=chain[-1].level).values(*_ROW))
    escalations, new_level, raise_orders = [], {}, set()
    for row in rows:
        for level in chain:
            if level.level <= row["escalation_level"]:
                continue
            key = (row["breached_at"], level.level)
            if key not in reached_at:
                reached_at[key] = cal.add(row["breached_at"], level.after_breach)
            if reached_at[key] > as_of:
                break
            unit_chain = units.chain(row["work_order__org_unit_id"])
            users = units.targets(unit_id=row["work_order__org_unit_id"], assignee_id=row["work_order__assignee_id"],
                                  targets=level.notify)
            first = level.notify[0] if level.notify else "responsible"
            target_unit = {"parent": unit_chain[1] if len(unit_chain) > 1 else unit_chain[0],
                           "root": unit_chain[-1]}.get(first, unit_chain[0])
            context = labels.context(row, clock=row["label"], due=labels.local(row["due_at"]), level=level.level,
                                     level_label=level.label)
            told = []
            for user in users:
                messages.append((user, "service_escalation", "escalation", f"esc:{row['pk']}:{level.level}:{user.pk}",
                                 context, row["work_order_id"]))
                told.append(user.username)
            escalations.append({"work_order_id": row["work_order_id"], "clock_id": row["pk"], "level": level.level,
                                "label": level.label, "org_unit_id": target_unit.pk, "notified": told, "at": as_of})
            events.append({"work_order_id": row["work_order_id"], "at": as_of, "kind": "escalated",
                           "note": f"{row['label']} 升级至 L{level.level} {level.label}",
                           "data": {"clock": row["key"], "level": level.level, "notified": told}})
            new_level[row["pk"]] = level.level
            raise_orders.add(row["work_order_id"])
    insert_rows(Escalation, escalations, ignore_conflicts=True)
    by_level: dict[int, list[int]] = {}
    for pk, level in new_level.items():
        by_level.setdefault(level, []).append(pk)
    for level, pks in by_level.items():
        for chunk in _chunks(pks):
            SlaClock.objects.filter(pk__in=chunk).update(escalation_level=level)
    lower = PRIORITY_ORDER[: PRIORITY_ORDER.index(policy.escalation.raise_priority_to)]
    for chunk in _chunks(sorted(raise_orders)):
        WorkOrder.objects.filter(pk__in=chunk, priority__in=lower).update(priority=policy.escalation.raise_priority_to)
    return len(escalations)


def _expire_surveys(*, as_of: datetime) -> int:
    policy = service_policy()
    valid_for = policy.return_visit.survey_valid_for
    sent = ReturnVisit.objects.filter(method=ReturnVisit.Method.SMS, status=ReturnVisit.Status.SENT)
    if valid_for.unit in (TimeUnit.MINUTES, TimeUnit.HOURS, TimeUnit.DAYS):
        return sent.filter(scheduled_at__lte=policy.calendar.subtract(as_of, valid_for)).update(
            status=ReturnVisit.Status.EXPIRED)
    expired = [pk for pk, at in sent.values_list("pk", "scheduled_at") if policy.calendar.add(at, valid_for) <= as_of]
    for chunk in _chunks(expired):
        ReturnVisit.objects.filter(pk__in=chunk).update(status=ReturnVisit.Status.EXPIRED)
    return len(expired)


def sla_tick(*, as_of: datetime) -> TickResult:
    """Evaluate every running clock at `as_of`: warn, record breaches (history + one negative-list
    entry each), climb the escalation chain, raise priorities, expire old surveys.

    Set-based: a handful of queries and bulk writes however many clocks are open, in one
    transaction, serialised against a concurrent tick. Idempotent: a second run at the same instant
    changes nothing. Gives the same result as `sla_tick_per_clock` (tests/service/test_tick.py).
    """
    units = _Units()
    labels = _Labels()
    messages: list = []
    events: list[dict] = []
    with transaction.atomic():
        _tick_lock()
        warnings = _tick_warnings(as_of=as_of, units=units, labels=labels, messages=messages, events=events)
        breaches = _tick_breaches(as_of=as_of, labels=labels, events=events)
        escalations = _tick_escalations(as_of=as_of, units=units, labels=labels, messages=messages, events=events)
        insert_rows(WorkOrderEvent, events)
        in_app_bulk(messages, as_of=as_of)
        expired = _expire_surveys(as_of=as_of)
    return TickResult(warnings=warnings, breaches=breaches, escalations=escalations, expired_surveys=expired)

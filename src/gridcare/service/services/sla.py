"""SLA clocks: start, stop, pause, resume, and the periodic tick (warnings, breaches, escalations).

The clock model is in docs/service-desk.md: limits are copied from the policy onto each clock when
it starts; working-day limits count only working-day time (gridcare.core.calendars); a pause
preserves exactly the working time that was left. Nothing here reads the clock: `as_of` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from gridcare.core.calendars import Duration, TimeUnit
from gridcare.service.models import Escalation, NegativeListEntry, ReturnVisit, SlaClock, WorkOrder
from gridcare.service.policy import ClockSpec, clock_specs, service_policy
from gridcare.service.services._common import (
    ancestors,
    event,
    local,
    notify_targets,
    notify_users,
    raise_priority,
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


def sla_tick(*, as_of: datetime) -> TickResult:
    """Evaluate every running clock at `as_of`: warn, record breaches, escalate. Idempotent: running
    it twice at the same instant changes nothing the second time. Each clock commits on its own."""
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

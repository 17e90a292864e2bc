"""Writes for KPIs: compute snapshots for a month (idempotent) and raise / acknowledge alerts.

T/CI 1281—2025 §9.2 asks for real-time monitoring with dynamic alerts and a feedback loop: a
snapshot that crosses its catalogue threshold opens an alert, a later computation that is back
inside clears it, and a person acknowledges what they have taken up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from gridcare.access.models import User
from gridcare.access.roles import Role, can
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.core.periods import month_period
from gridcare.customers.models import OrgUnit
from gridcare.customers.selectors import org_unit_visible
from gridcare.kpi.catalogue import kpi_catalogue
from gridcare.kpi.measures import MEASURES, Scope
from gridcare.kpi.models import KpiAlert, KpiSnapshot


@dataclass(frozen=True)
class ComputedRow:
    kpi_code: str
    org_unit_code: str
    value: object
    level: str


@dataclass(frozen=True)
class ComputeResult:
    period_code: str
    snapshots: int
    alerts_open: int
    alerts_cleared: int
    rows: list[ComputedRow] = field(default_factory=list)


def may_view_kpis(user: User) -> bool:
    """Supervisors hold `kpi.view`; administrators run the company and see KPIs too."""
    return user.is_active and (can(user.role, "kpi.view") or user.role == Role.ADMINISTRATOR)


def _units(org_unit_code: str | None) -> list[OrgUnit]:
    units = OrgUnit.objects.order_by("path")
    if org_unit_code:
        root = OrgUnit.objects.filter(code=org_unit_code).first()
        if root is None:
            raise NotFound(f"org unit {org_unit_code!r} does not exist", field="org_unit")
        units = units.filter(path__startswith=root.path)
    return list(units)


def _subtree_ids(unit: OrgUnit, units: list[OrgUnit]) -> list[int]:
    return [u.pk for u in units if u.path.startswith(unit.path)]


@transaction.atomic
def kpi_compute(*, period_code: str, as_of: datetime, org_unit_code: str | None = None,
                codes: list[str] | None = None, levels: list[str] | None = None) -> ComputeResult:
    """Measure every catalogue KPI for every org-unit subtree (or one subtree) for `period_code`.

    Re-running replaces the snapshots in place (one row per KPI, unit and period) and updates the
    alerts, so a nightly job and a manual re-run never duplicate anything.
    `levels` limits which org units get snapshots (e.g. province and city for history backfills);
    each snapshot still covers the unit's whole subtree.
    Raises ValidationFailed (bad period, KPI code or level), NotFound (unknown org unit).
    """
    period = month_period(period_code)
    if period.start > as_of.astimezone(BUSINESS_TZ).date():
        raise ValidationFailed(f"period {period_code} has not started at {as_of:%Y-%m-%d}", field="period")
    catalogue = kpi_catalogue()
    unknown = sorted(set(codes or []) - set(catalogue))
    if unknown:
        raise ValidationFailed(f"unknown KPI: {', '.join(unknown)}", field="kpi")
    bad_levels = sorted(set(levels or []) - set(OrgUnit.Level.values))
    if bad_levels:
        raise ValidationFailed(f"unknown org-unit level: {', '.join(bad_levels)}", field="level")
    everyone = list(OrgUnit.objects.order_by("path"))
    units = _units(org_unit_code)
    if levels:
        units = [u for u in units if u.level in levels]
    existing_alerts = {(a.kpi_code, a.org_unit_id): a for a in KpiAlert.objects.select_for_update().filter(
        period_code=period.code, org_unit__in=units)}
    rows: list[ComputedRow] = []
    opened = cleared = written = 0
    for kpi in catalogue.values():
        if codes and kpi.code not in codes:
            continue
        for unit in units:
            if kpi.scope == "company" and unit.parent_id is not None:
                continue
            ids = _subtree_ids(unit, everyone)
            measure = MEASURES[kpi.code](Scope(unit=unit, unit_ids=ids, period=period, as_of=as_of))
            KpiSnapshot.objects.update_or_create(
                kpi_code=kpi.code, org_unit=unit, period_code=period.code,
                defaults={"value": measure.value, "numerator": measure.numerator,
                          "denominator": measure.denominator, "as_of": as_of, "computed_at": as_of})
            written += 1
            level = kpi.level(measure.value)
            alert = existing_alerts.get((kpi.code, unit.pk))
            if level:
                opened += _raise(alert, kpi_code=kpi.code, unit=unit, period_code=period.code, level=level,
                                 value=measure.value, threshold=kpi.threshold_for(level), as_of=as_of)
            elif alert is not None and alert.status != KpiAlert.Status.CLEARED:
                alert.status, alert.updated_at = KpiAlert.Status.CLEARED, as_of
                alert.value = measure.value if measure.value is not None else alert.value
                alert.save(update_fields=["status", "updated_at", "value"])
                cleared += 1
            rows.append(ComputedRow(kpi.code, unit.code, measure.value, level))
    return ComputeResult(period_code=period.code, snapshots=written, alerts_open=opened, alerts_cleared=cleared,
                         rows=rows)


def _raise(alert: KpiAlert | None, *, kpi_code: str, unit: OrgUnit, period_code: str, level: str, value,
           threshold, as_of: datetime) -> int:
    """Open (or keep open) the alert; an acknowledged alert stays acknowledged unless it got worse."""
    if alert is None:
        KpiAlert.objects.create(kpi_code=kpi_code, org_unit=unit, period_code=period_code, level=level,
                                value=value, threshold=threshold, raised_at=as_of, updated_at=as_of)
        return 1
    worse = alert.level == KpiAlert.Level.WARNING and level == KpiAlert.Level.CRITICAL
    if alert.status == KpiAlert.Status.CLEARED or worse:
        alert.status, alert.raised_at = KpiAlert.Status.OPEN, as_of
        alert.acknowledged_at, alert.acknowledged_by = None, None
    alert.level, alert.value, alert.threshold, alert.updated_at = level, value, threshold, as_of
    alert.save()
    return 1 if alert.status == KpiAlert.Status.OPEN else 0


@transaction.atomic
def kpi_alert_acknowledge(*, alert_id: int, actor: User, as_of: datetime, note: str = "") -> KpiAlert:
    """Raises NotFound (no such alert, or outside the actor's org subtree), PermissionDenied,
    ValidationFailed (already cleared)."""
    if not may_view_kpis(actor):
        raise PermissionDenied("you may not acknowledge KPI alerts")
    alert = (KpiAlert.objects.select_for_update(of=("self",)).select_related("org_unit")
             .filter(pk=alert_id).first())
    if alert is None or not org_unit_visible(user=actor, org_unit=alert.org_unit):
        raise NotFound(f"alert {alert_id} not found", field="alert_id")
    if alert.status == KpiAlert.Status.CLEARED:
        raise ValidationFailed("this alert has cleared; there is nothing to acknowledge", field="alert_id")
    if alert.status == KpiAlert.Status.ACKNOWLEDGED:
        return alert
    alert.status, alert.acknowledged_at, alert.acknowledged_by = KpiAlert.Status.ACKNOWLEDGED, as_of, actor
    alert.note, alert.updated_at = note.strip()[:255], as_of
    alert.save()
    return alert

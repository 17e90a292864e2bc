"""KPIs: /api/v1/kpi/... — the catalogue, snapshots (by code, org unit, period), alerts and their
acknowledgement. Supervisors and administrators, limited to their org subtree."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from gridcare.api.schemas.common import ERRORS, page
from gridcare.core.errors import NotFound, PermissionDenied
from gridcare.core.periods import month_period
from gridcare.kpi import selectors
from gridcare.kpi.catalogue import KpiDef, kpi_catalogue
from gridcare.kpi.models import KpiAlert, KpiSnapshot
from gridcare.kpi.services import kpi_alert_acknowledge, may_view_kpis

router = Router()


def _allowed(request) -> None:
    if not may_view_kpis(request.user):
        raise PermissionDenied("your role may not see KPIs (kpi.view)")


class KpiOut(Schema):
    code: str
    name_zh: str
    name_en: str
    formula: str
    source: str
    unit: str
    direction: str
    target: Decimal
    warn: Decimal
    alert: Decimal
    scope: str


class SnapshotOut(Schema):
    kpi: str
    org_unit: str
    period: str
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    level: str
    as_of: str


class SnapshotPage(Schema):
    items: list[SnapshotOut]
    total: int
    limit: int
    offset: int


class AlertOut(Schema):
    id: int
    kpi: str
    org_unit: str
    period: str
    level: str
    status: str
    value: Decimal
    threshold: Decimal
    raised_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    note: str


class AlertPage(Schema):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int


class SnapshotQuery(Schema):
    period: str = ""
    org_unit: str = ""
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class AlertQuery(Schema):
    status: str = Field("", pattern="^(|open|acknowledged|cleared)$")
    period: str = ""
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class AckIn(Schema):
    note: str = Field("", max_length=255)


def _kpi(d: KpiDef) -> dict:
    return {k: getattr(d, k) for k in KpiOut.model_fields}


def _snapshot(s: KpiSnapshot) -> dict:
    d = kpi_catalogue().get(s.kpi_code)
    return {"kpi": s.kpi_code, "org_unit": s.org_unit.code, "period": s.period_code, "value": s.value,
            "numerator": s.numerator, "denominator": s.denominator, "level": d.level(s.value) if d else "",
            "as_of": s.as_of.isoformat()}


def _alert(a: KpiAlert) -> dict:
    return {"id": a.pk, "kpi": a.kpi_code, "org_unit": a.org_unit.code, "period": a.period_code, "level": a.level,
            "status": a.status, "value": a.value, "threshold": a.threshold, "raised_at": a.raised_at.isoformat(),
            "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
            "acknowledged_by": a.acknowledged_by.username if a.acknowledged_by else None, "note": a.note}


def _filters(request, q: SnapshotQuery) -> dict:
    out: dict = {}
    if q.period:
        out["period_code"] = month_period(q.period).code
    if q.org_unit:
        unit = selectors.unit_for(user=request.user, code=q.org_unit)
        if unit is None:
            raise NotFound(f"org unit {q.org_unit!r} not found", field="org_unit")
        out["org_unit"] = unit
    return out


@router.get("/definitions", response={200: list[KpiOut], **ERRORS}, summary="The KPI catalogue with targets and thresholds")
def definitions(request):
    _allowed(request)
    return [_kpi(d) for d in kpi_catalogue().values()]


@router.get("/snapshots", response={200: SnapshotPage, **ERRORS}, summary="KPI values in your org subtree")
def snapshots(request, q: Query[SnapshotQuery]):
    _allowed(request)
    qs = selectors.kpi_snapshots(user=request.user, **_filters(request, q))
    return page(qs, limit=q.limit, offset=q.offset, render=_snapshot)


@router.get("/alerts", response={200: AlertPage, **ERRORS}, summary="KPI alerts in your org subtree")
def alerts(request, q: Query[AlertQuery]):
    _allowed(request)
    period = month_period(q.period).code if q.period else ""
    qs = selectors.kpi_alerts(user=request.user, status=q.status, period_code=period)
    return page(qs, limit=q.limit, offset=q.offset, render=_alert)


@router.post("/alerts/{alert_id}/acknowledge", response={200: AlertOut, **ERRORS}, summary="Acknowledge an alert")
def acknowledge(request, alert_id: int, body: AckIn):
    _allowed(request)
    return _alert(kpi_alert_acknowledge(alert_id=alert_id, actor=request.user, as_of=timezone.now(), note=body.note))


@router.get("/{code}", response={200: SnapshotPage, **ERRORS}, summary="One KPI: values by org unit and period")
def by_code(request, code: str, q: Query[SnapshotQuery]):
    _allowed(request)
    if code not in kpi_catalogue():
        raise NotFound(f"KPI {code!r} is not in the catalogue", field="code")
    qs = selectors.kpi_snapshots(user=request.user, code=code, **_filters(request, q))
    return page(qs, limit=q.limit, offset=q.offset, render=_snapshot)

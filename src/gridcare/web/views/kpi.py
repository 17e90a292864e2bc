"""Console KPI dashboard (T/CI 1281 §9): cards with value, target and a 12-month sparkline, drill
down through the org tree, alerts with acknowledge. Supervisors and administrators."""

from __future__ import annotations

from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridcare.access.roles import Role
from gridcare.core.errors import GridcareError
from gridcare.core.periods import month_period
from gridcare.kpi import selectors
from gridcare.kpi.catalogue import kpi_catalogue
from gridcare.kpi.models import KpiAlert
from gridcare.kpi.services import kpi_alert_acknowledge, may_view_kpis

SPARK_W, SPARK_H = 120, 32


def kpi_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.role == Role.CUSTOMER:
            return redirect("web:portal_home")
        if not may_view_kpis(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def sparkline(values: list[Decimal | None], *, width: int = SPARK_W, height: int = SPARK_H) -> dict:
    """SVG polyline points for the trend (gaps where a month has no value); drawn inline, no script."""
    known = [v for v in values if v is not None]
    if not known:
        return {"segments": [], "width": width, "height": height}
    lo, hi = min(known), max(known)
    span = (hi - lo) or Decimal(1)
    step = Decimal(width - 4) / max(len(values) - 1, 1)
    segments, current = [], []
    for i, v in enumerate(values):
        if v is None:
            if current:
                segments.append(current)
            current = []
            continue
        x = Decimal(2) + step * i
        y = Decimal(height - 3) - (v - lo) / span * Decimal(height - 6)
        current.append(f"{x:.1f},{y:.1f}")
    if current:
        segments.append(current)
    last = segments[-1][-1].split(",")
    return {"segments": [" ".join(s) for s in segments], "width": width, "height": height,
            "last_x": last[0], "last_y": last[1]}


def _period(request, user, unit) -> str:
    """The asked-for month; by default the last complete month when it has figures (what managers
    review), else the latest month with any."""
    this_month = f"{timezone.localdate():%Y-%m}"
    code = request.GET.get("period")
    if not code:
        previous = month_period(this_month).previous().code
        code = previous if selectors.has_snapshots(org_unit=unit, period_code=previous) else (
            selectors.latest_period(user=user) or this_month)
    try:
        return month_period(code).code
    except GridcareError:
        return this_month


@kpi_required
def kpi_home(request):
    unit = selectors.unit_for(user=request.user, code=request.GET.get("org", ""))
    if unit is None:
        raise Http404
    period = _period(request, request.user, unit)
    cards = selectors.kpi_cards(user=request.user, org_unit=unit, period_code=period)
    catalogue = kpi_catalogue()
    drill = [{"unit": child, "cells": [snaps.get(code) for code in catalogue]}
             for child, snaps in selectors.kpi_drilldown(user=request.user, org_unit=unit, period_code=period)]
    ancestors = []
    parent = unit.parent
    while parent is not None and selectors.unit_for(user=request.user, code=parent.code):
        ancestors.insert(0, parent)
        parent = parent.parent
    ctx = {
        "unit": unit, "period": period, "ancestors": ancestors,
        "cards": [{"card": c, "spark": sparkline([v for _, v in c.trend])} for c in cards],
        "catalogue": list(catalogue.values()), "drill": drill,
        "alerts": [(a, catalogue[a.kpi_code].name if a.kpi_code in catalogue else a.kpi_code)
                   for a in selectors.kpi_alerts(user=request.user, status=KpiAlert.Status.OPEN)[:50]],
        "acknowledged": selectors.kpi_alerts(user=request.user, status=KpiAlert.Status.ACKNOWLEDGED)[:20],
        "periods": selectors.trend_periods(period),
    }
    return render(request, "web/kpi/home.html", ctx)


@kpi_required
@require_POST
def kpi_alert_ack(request, alert_id: int):
    try:
        alert = kpi_alert_acknowledge(alert_id=alert_id, actor=request.user, as_of=timezone.now(),
                                      note=request.POST.get("note", ""))
    except GridcareError as exc:
        messages.error(request, exc.message)
        return redirect("web:kpi_home")
    messages.success(request, _("Alert acknowledged."))
    return redirect(f"{redirect('web:kpi_home').url}?{urlencode({'org': alert.org_unit.code, 'period': alert.period_code})}")


urlpatterns = [
    path("console/kpi/", kpi_home, name="kpi_home"),
    path("console/kpi/alerts/<int:alert_id>/acknowledge/", kpi_alert_ack, name="kpi_alert_ack"),
]

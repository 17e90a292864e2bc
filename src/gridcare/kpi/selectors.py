"""Reads for the KPI dashboard and API: cards with target and 12-period trend, drill-down by org
unit, alerts. Everything is limited to the user's org subtree (an administrator without a unit
sees the whole company)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max, QuerySet

from gridcare.access.models import User
from gridcare.core.periods import month_period
from gridcare.customers.models import OrgUnit
from gridcare.customers.selectors import org_unit_choices, org_unit_scope_q, org_unit_visible
from gridcare.kpi.catalogue import KpiDef, kpi_catalogue
from gridcare.kpi.models import KpiAlert, KpiSnapshot

TREND_PERIODS = 12


@dataclass(frozen=True)
class Card:
    kpi: KpiDef
    org_unit: OrgUnit
    period_code: str
    snapshot: KpiSnapshot | None
    trend: list[tuple[str, Decimal | None]]
    alert: KpiAlert | None

    @property
    def value(self) -> Decimal | None:
        return self.snapshot.value if self.snapshot else None

    @property
    def level(self) -> str:
        return self.kpi.level(self.value)

    @property
    def meets_target(self) -> bool | None:
        return self.kpi.meets_target(self.value)


def trend_periods(period_code: str, n: int = TREND_PERIODS) -> list[str]:
    """The `n` months ending with `period_code`, oldest first."""
    period = month_period(period_code)
    out = [period.code]
    for _ in range(n - 1):
        period = period.previous()
        out.append(period.code)
    return out[::-1]


def kpi_units(*, user: User) -> QuerySet[OrgUnit]:
    return org_unit_choices(user=user)


def default_unit(*, user: User) -> OrgUnit | None:
    """The user's own unit, or the top of what they can see (an administrator: the first root)."""
    if user.org_unit_id is not None:
        return user.org_unit
    return kpi_units(user=user).filter(parent__isnull=True).first()


def unit_for(*, user: User, code: str) -> OrgUnit | None:
    unit = OrgUnit.objects.filter(code=code).first() if code else default_unit(user=user)
    if unit is None or not org_unit_visible(user=user, org_unit=unit):
        return None
    return unit


def latest_period(*, user: User) -> str | None:
    return (KpiSnapshot.objects.filter(org_unit_scope_q(user=user))
            .aggregate(m=Max("period_code"))["m"])


def has_snapshots(*, org_unit: OrgUnit, period_code: str) -> bool:
    return KpiSnapshot.objects.filter(org_unit=org_unit, period_code=period_code).exists()


def kpi_cards(*, user: User, org_unit: OrgUnit, period_code: str, code: str = "") -> list[Card]:
    if not org_unit_visible(user=user, org_unit=org_unit):
        return []
    periods = trend_periods(period_code)
    snaps = {(s.kpi_code, s.period_code): s for s in KpiSnapshot.objects.filter(
        org_unit=org_unit, period_code__in=periods)}
    alerts = {a.kpi_code: a for a in KpiAlert.objects.filter(org_unit=org_unit, period_code=period_code)}
    cards = []
    for kpi in kpi_catalogue().values():
        if code and kpi.code != code:
            continue
        trend = [(p, snaps[(kpi.code, p)].value if (kpi.code, p) in snaps else None) for p in periods]
        snap = snaps.get((kpi.code, period_code))
        if snap is None and kpi.scope == "company" and org_unit.parent_id is not None:
            continue  # a company-wide figure is shown on the root unit only
        cards.append(Card(kpi, org_unit, period_code, snap, trend, alerts.get(kpi.code)))
    return cards


def kpi_drilldown(*, user: User, org_unit: OrgUnit, period_code: str) -> list[tuple[OrgUnit, dict[str, KpiSnapshot]]]:
    """The unit's direct children with their snapshots for the period, for the drill-down table."""
    children = [c for c in OrgUnit.objects.filter(parent=org_unit).order_by("code")
                if org_unit_visible(user=user, org_unit=c)]
    snaps: dict[int, dict[str, KpiSnapshot]] = {}
    for s in KpiSnapshot.objects.filter(org_unit__in=children, period_code=period_code):
        snaps.setdefault(s.org_unit_id, {})[s.kpi_code] = s
    return [(c, snaps.get(c.pk, {})) for c in children]


def kpi_snapshots(*, user: User, period_code: str = "", code: str = "", org_unit: OrgUnit | None = None
                  ) -> QuerySet[KpiSnapshot]:
    qs = KpiSnapshot.objects.filter(org_unit_scope_q(user=user)).select_related("org_unit")
    if period_code:
        qs = qs.filter(period_code=period_code)
    if code:
        qs = qs.filter(kpi_code=code)
    if org_unit is not None:
        qs = qs.filter(org_unit=org_unit)
    return qs.order_by("kpi_code", "org_unit__path", "period_code")


def kpi_alerts(*, user: User, status: str = "", period_code: str = "") -> QuerySet[KpiAlert]:
    qs = KpiAlert.objects.filter(org_unit_scope_q(user=user)).select_related("org_unit", "acknowledged_by")
    if status:
        qs = qs.filter(status=status)
    if period_code:
        qs = qs.filter(period_code=period_code)
    return qs.order_by("status", "-raised_at", "-id")

"""Console navigation: one list, filtered by role capability and by which pages exist."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridcare.access.roles import Role, can


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: str | None = None


CONSOLE_NAV = [
    NavItem(_("Customers"), "web:customer_list", "customers.view"),
    NavItem(_("Reads"), "web:metering_home", "metering.edit"),
    NavItem(_("Billing"), "web:billing_home", "customers.view"),
    NavItem(_("Audit queue"), "web:billing_exceptions", "billing.audit"),
    NavItem(_("Billing parameters"), "web:parameters_home", "customers.view"),
    NavItem(pgettext_lazy("till", "Cashier"), "web:payments_home", "payments.collect"),
    NavItem(_("Reconciliation"), "web:reconciliation_home", "payments.approve"),
    NavItem(_("Dunning"), "web:collections_home", "customers.view"),
    NavItem(_("Service desk"), "web:service_home", "service.work"),
    NavItem(_("Knowledge base"), "web:kb_list", "customers.view"),
    NavItem(_("Visits"), "web:visits_home", "visits.work"),
    NavItem(_("Experience"), "web:experience_home", "customers.view"),
    NavItem(_("KPIs"), "web:kpi_home", "kpi.view"),
    NavItem(_("Audit log"), "web:audit_log", "audit.view"),
]

PORTAL_NAV = [
    NavItem(_("My accounts"), "web:portal_home"),
    NavItem(_("Bills"), "web:portal_bills"),
    NavItem(_("Payments"), "web:portal_payments"),
    NavItem(_("Service requests"), "web:portal_tickets"),
    NavItem(_("Assistant"), "web:portal_assistant"),
]


def _resolved(items: list[NavItem], role: str) -> list[dict]:
    out = []
    for item in items:
        if item.capability and not can(role, item.capability):
            continue
        try:
            out.append({"label": item.label, "url": reverse(item.url_name), "name": item.url_name})
        except NoReverseMatch:
            continue
    return out


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "is_portal": False}
    if user.role == Role.CUSTOMER:
        return {"nav_items": _resolved(PORTAL_NAV, user.role), "is_portal": True}
    return {"nav_items": _resolved(CONSOLE_NAV, user.role), "is_portal": False}

"""Roles and what each may do: one table, so scoping and masking rules live in one place.

Pure data and functions (no models) so services, selectors, views and the API share one answer.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    BILLING_CLERK = "billing_clerk", _("Billing clerk")
    AUDITOR = "auditor", _("Auditor")
    APPROVER = "approver", _("Approver")
    CASHIER = "cashier", _("Cashier")
    AGENT = "agent", _("Customer-service agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    ACCOUNT_MANAGER = "account_manager", _("Account manager")
    CUSTOMER = "customer", _("Customer (portal)")


STAFF_ROLES = frozenset(r for r in Role if r != Role.CUSTOMER)

# Which personal-data fields each role may see unmasked (PIPL minimum necessary).
# Anything not listed is masked. Every unmasked view is written to the audit log.
UNMASK_FIELDS: dict[str, frozenset[str]] = {
    Role.ADMINISTRATOR: frozenset({"name", "phone", "id_number", "address", "email"}),
    Role.ACCOUNT_MANAGER: frozenset({"name", "phone", "address", "email"}),
    Role.SUPERVISOR: frozenset({"name", "phone", "address"}),
    Role.AGENT: frozenset({"name"}),
    Role.BILLING_CLERK: frozenset({"name", "address"}),
    Role.CASHIER: frozenset({"name"}),
    Role.AUDITOR: frozenset({"name", "address"}),
    Role.APPROVER: frozenset({"name"}),
    # A portal customer sees their own data in clear; scoping keeps them to their own records.
    Role.CUSTOMER: frozenset({"name", "phone", "id_number", "address", "email"}),
}

# Coarse capabilities checked by services and views; object scope is checked separately.
CAPABILITIES: dict[str, frozenset[str]] = {
    Role.ADMINISTRATOR: frozenset({
        "customers.view", "customers.edit", "customers.import", "audit.view", "users.manage",
        "billing.run", "billing.audit", "billing.approve", "billing.issue", "payments.collect",
        "payments.approve", "service.work", "service.supervise", "tariffs.edit", "kb.edit", "kb.review",
        "kpi.view", "metering.edit", "visits.work",
    }),
    Role.BILLING_CLERK: frozenset({"customers.view", "customers.edit", "customers.import", "billing.run", "metering.edit"}),
    Role.AUDITOR: frozenset({"customers.view", "billing.audit"}),
    Role.APPROVER: frozenset({"customers.view", "billing.approve", "billing.issue", "payments.approve", "kb.review"}),
    Role.CASHIER: frozenset({"customers.view", "payments.collect"}),
    Role.AGENT: frozenset({"customers.view", "service.work", "kb.edit"}),
    Role.SUPERVISOR: frozenset({"customers.view", "service.work", "service.supervise", "kb.review", "kpi.view"}),
    Role.ACCOUNT_MANAGER: frozenset({"customers.view", "customers.edit", "service.work", "visits.work"}),
    Role.CUSTOMER: frozenset({"portal.use"}),
}


def can(role: str, capability: str) -> bool:
    return capability in CAPABILITIES.get(role, frozenset())


def may_unmask(role: str, field: str) -> bool:
    return field in UNMASK_FIELDS.get(role, frozenset())

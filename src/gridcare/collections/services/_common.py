"""Shared helpers of the collections services: permissions, local dates, contacts."""

from __future__ import annotations

import re
from datetime import date, datetime

from django.utils.translation import gettext as _

from gridcare.access.models import User
from gridcare.access.roles import can
from gridcare.core.calendars import BUSINESS_TZ, WorkingCalendar
from gridcare.core.errors import GridcareError, PermissionDenied
from gridcare.core.money import format_yuan
from gridcare.customers.models import Customer
from gridcare.service.policy import service_policy

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UnableToChangeCase(GridcareError):
    """The case's state does not allow the action (e.g. executing a suspension nobody approved)."""

    code = "invalid_state"
    status = 409


def require(actor: User | None, capability: str) -> None:
    """System jobs pass `actor=None`; a person needs the capability."""
    if actor is None:
        return
    if not actor.is_active or not can(actor.role, capability):
        raise PermissionDenied(_("your role may not do this (%(capability)s)") % {"capability": capability})


def local_date(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()


def calendar() -> WorkingCalendar:
    """The working-day calendar the service desk uses (company overrides included)."""
    return service_policy().calendar


def yuan(fen: int) -> str:
    return format_yuan(fen)


def mobile_of(customer: Customer) -> str:
    return customer.phone if MOBILE_RE.match(customer.phone or "") else ""


def email_of(customer: Customer) -> str:
    return customer.email if EMAIL_RE.match(customer.email or "") else ""

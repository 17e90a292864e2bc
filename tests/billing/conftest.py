"""Shared arrangements for billing tests: org tree, tariff library, metered accounts with reads."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.tariffs.services import tariff_library_sync
from tests.factories import user
from tests.metering.helpers import at, metered_account, seed_read

AS_OF = at(2026, 11, 3)
OCT1, NOV1 = date(2026, 10, 1), date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Staff logins are made per test; the production hasher would cost ~0.4 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tariffs(db):
    tariff_library_sync(as_of=AS_OF)


@pytest.fixture
def staff(org):
    return {
        "clerk": user("billing_clerk", org["GD"], username="clerk"),
        "clerk2": user("billing_clerk", org["GD"], username="clerk2"),
        "auditor": user("auditor", org["GD"], username="auditor"),
        "approver": user("approver", org["GD"], username="approver"),
        "admin": user("administrator", None, username="admin"),
    }


def residential(org_unit, start: str, end: str, *, tariff: str = "gz-residential", start_on: date = OCT1,
                end_on: date = NOV1, name: str = "张小三", **kw):
    """A residential account with a total register read `start` on start_on and `end` on end_on."""
    acct, m = metered_account(org_unit, tariff_code=tariff, name=name, **kw)
    seed_read(m, "total", start_on, start)
    if end is not None:
        seed_read(m, "total", end_on, end)
    return acct, m

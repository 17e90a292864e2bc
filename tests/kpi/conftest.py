"""A small company for KPI tests: two cities, bills and payments on the ledger, a debit agreement,
service orders resolved, transferred and surveyed — all through the owning apps' services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from gridcare.access.models import User
from gridcare.customers.models import Account, OrgUnit
from gridcare.kpi.catalogue import reset_catalogue
from gridcare.notifications.policy import reset_caches as reset_outbox
from gridcare.payments.policy import reset_caches as reset_payments
from gridcare.service.policy import reset_policy_cache
from tests import factories as f

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@dataclass
class Company:
    org: dict[str, OrgUnit]
    admin: User
    sup_gz: User
    sup_sz: User
    agent: User
    home: Account
    shop: Account
    flat: Account


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {
        "sms": "gridcare.notifications.backends.RecordingBackend",
        "email": "gridcare.notifications.backends.RecordingBackend",
    }
    for reset in (reset_catalogue, reset_payments, reset_outbox, reset_policy_cache):
        reset()
    with translation.override("en"):
        yield
    for reset in (reset_catalogue, reset_payments, reset_outbox, reset_policy_cache):
        reset()


@pytest.fixture
def co(org) -> Company:
    resident = f.customer(org["PY1"], name="张小三", phone="13812345678")
    home = f.account(resident, number="1000000001")
    f.service_point(home, grid_cell="PY-01")
    owner = f.customer(org["PY1"], name="市桥五金店", phone="13900000002", kind="organisation")
    shop = f.account(owner, number="1000000002", category="general_ci", tariff_code="")
    other = f.customer(org["SZ"], name="李四", phone="13700000003")
    flat = f.account(other, number="2000000001")
    agent = f.user("agent", org["PY1"], username="agent_py1")
    agent.skills = "complaint,repair"
    agent.save(update_fields=["skills"])
    return Company(org=org, admin=f.user("administrator", None, username="root"),
                   sup_gz=f.user("supervisor", org["GZ"], username="sup_gz"),
                   sup_sz=f.user("supervisor", org["SZ"], username="sup_sz"),
                   agent=agent, home=home, shop=shop, flat=flat)


def sign_mandate(account: Account, signed_on: date, actor: User) -> None:
    from gridcare.payments.services import mandate_sign

    mandate_sign(account_id=account.pk, bank_code="ICBC", bank_account="6222020000000001", holder_name="张小三",
                 signed_on=signed_on, actor=actor)

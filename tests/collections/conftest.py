"""A supply company with residential and commercial customers, a cashier, two approvers and an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gridcare.access.models import User
from gridcare.collections.policy import reset_caches as reset_collections
from gridcare.customers.models import Account, Customer, OrgUnit
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.policy import reset_caches as reset_outbox
from gridcare.service.policy import reset_policy_cache
from tests import factories as f

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@dataclass
class Company:
    org: dict[str, OrgUnit]
    cashier: User
    approver: User
    approver2: User
    agent: User
    clerk: User
    resident: Customer
    home: Account
    shop_owner: Customer
    shop: Account
    hospital: Customer
    ward: Account


@pytest.fixture(autouse=True)
def _fresh_policies(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {
        "sms": "gridcare.notifications.backends.RecordingBackend",
        "email": "gridcare.notifications.backends.RecordingBackend",
    }
    for reset in (reset_collections, reset_outbox, reset_policy_cache):
        reset()
    RecordingBackend.reset()
    yield
    for reset in (reset_collections, reset_outbox, reset_policy_cache):
        reset()


@pytest.fixture
def co(org) -> Company:
    resident = f.customer(org["PY1"], name="张小三", phone="13812345678", email="zhang@example.com")
    home = f.account(resident, number="1000000001", category="residential")
    shop_owner = f.customer(org["PY1"], name="市桥五金店", phone="13900000002", kind="organisation")
    shop = f.account(shop_owner, number="1000000002", category="general_ci", tariff_code="")
    hospital = f.customer(org["PY1"], name="番禺区人民医院", phone="13700000003", kind="organisation",
                          protected_class="hospital")
    ward = f.account(hospital, number="1000000003", category="general_ci", tariff_code="")
    return Company(
        org=org, cashier=f.user("cashier", org["PY"], username="cash1"),
        approver=f.user("approver", org["GZ"], username="appr1"),
        approver2=f.user("approver", org["GZ"], username="appr2"),
        agent=f.user("agent", org["PY"], username="agent1"), clerk=f.user("billing_clerk", org["PY"], username="clerk1"),
        resident=resident, home=home, shop_owner=shop_owner, shop=shop, hospital=hospital, ward=ward,
    )

"""A small service desk: a provincial 95598 desk, a county with complaint handlers, a station with
repair crews, supervisors at each level, and customers in two grid cells."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from gridcare.access.models import User
from gridcare.customers.models import Account, Customer, OrgUnit, ServicePoint
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.policy import reset_caches
from gridcare.service.policy import reset_policy_cache
from gridcare.service.services import WorkOrderInput, work_order_create
from tests import factories as f

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@dataclass
class Desk:
    org: dict[str, OrgUnit]
    sup_gd: User
    sup_gz: User
    sup_py: User
    hotline: User
    complaint_agent: User
    repair_agent: User
    customer: Customer
    account: Account
    point: ServicePoint
    neighbour: Customer
    far_customer: Customer

    def create(self, *, as_of: datetime, actor: User | None = None, **fields) -> object:
        fields.setdefault("channel", "hotline")
        fields.setdefault("description", "家里停电了")
        return work_order_create(actor=actor or self.hotline, data=WorkOrderInput(**fields), as_of=as_of)


def _with_skills(u: User, skills: str) -> User:
    u.skills = skills
    u.save(update_fields=["skills"])
    return u


@pytest.fixture(autouse=True)
def _fresh_policy(settings, tmp_path):
    # PBKDF2 at production strength costs ~0.5 s per user; these tests create several users each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {
        "sms": "gridcare.notifications.backends.RecordingBackend",
        "email": "gridcare.notifications.backends.RecordingBackend",
    }
    reset_policy_cache()
    reset_caches()
    RecordingBackend.reset()
    # Service messages are translated (zh-Hans by default); these tests read them in English.
    with translation.override("en"):
        yield
    reset_policy_cache()
    reset_caches()


@pytest.fixture
def desk(org) -> Desk:
    customer = f.customer(org["PY1"], name="张小三", phone="13812345678")
    account = f.account(customer, number="0000000001")
    point = f.service_point(account, grid_cell="PY-01")
    neighbour = f.customer(org["PY1"], name="李四", phone="13900000002")
    f.service_point(f.account(neighbour, number="0000000002"), grid_cell="PY-01")
    far = f.customer(org["PY1"], name="王五", phone="13700000003")
    f.service_point(f.account(far, number="0000000003"), grid_cell="PY-02")
    return Desk(
        org=org,
        sup_gd=f.user("supervisor", org["GD"], username="sup_gd"),
        sup_gz=f.user("supervisor", org["GZ"], username="sup_gz"),
        sup_py=f.user("supervisor", org["PY"], username="sup_py"),
        hotline=f.user("agent", org["GD"], username="hotline"),
        complaint_agent=_with_skills(f.user("agent", org["PY"], username="cmp1"), "complaint"),
        repair_agent=_with_skills(f.user("agent", org["PY1"], username="rep1"), "repair"),
        customer=customer, account=account, point=point, neighbour=neighbour, far_customer=far,
    )

"""Builders shared by the assistant, web, API and browser tests. A small world: the shipped knowledge
base, a portal customer with one account in grid cell PY-01, a neighbour, a KB writer (agent), a
reviewer (supervisor GZ) and a provincial supervisor. Test modules wrap these in fixtures."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from gridcare.access.models import User
from gridcare.customers.models import Account, Customer, OrgUnit, ServicePoint
from tests import factories as f

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 11, 10, 10, 0, tzinfo=TZ)


@contextmanager
def isolated(settings, tmp_path):
    """Fast password hashing, media in a temporary folder, notifications recorded, fresh policy caches."""
    from gridcare.notifications.backends import RecordingBackend
    from gridcare.notifications.policy import reset_caches
    from gridcare.service.policy import reset_policy_cache

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {
        "sms": "gridcare.notifications.backends.RecordingBackend",
        "email": "gridcare.notifications.backends.RecordingBackend",
    }
    reset_policy_cache()
    reset_caches()
    RecordingBackend.reset()
    try:
        yield
    finally:
        reset_policy_cache()
        reset_caches()


def ensure_kb() -> None:
    """The shipped corpus in the database. Kept across tests that roll back; re-synced when a
    transactional test elsewhere flushed the database."""
    from gridcare.assistant.models import Article
    from gridcare.assistant.services import kb_sync

    if not Article.objects.exists():
        kb_sync(as_of=AS_OF)


@dataclass
class Town:
    org: dict[str, OrgUnit]
    customer: Customer
    account: Account
    point: ServicePoint
    portal: User
    neighbour: Customer
    writer: User  # agent: kb.edit
    reviewer: User  # supervisor: kb.review
    supervisor_gd: User


def build_town(password: str = "pass-1234") -> Town:
    org = f.org_tree()
    customer = f.customer(org["PY1"], name="张小三", phone="13812345678")
    account = f.account(customer, number="0500000010")
    point = f.service_point(account, grid_cell="PY-01")
    neighbour = f.customer(org["PY1"], name="李四", phone="13900000002")
    f.service_point(f.account(neighbour, number="0500000020"), grid_cell="PY-01")
    return Town(
        org=org, customer=customer, account=account, point=point,
        portal=f.user("customer", customer=customer, username="zhang", password=password),
        neighbour=neighbour,
        writer=f.user("agent", org["GZ"], username="writer", password=password),
        reviewer=f.user("supervisor", org["GZ"], username="reviewer", password=password),
        supervisor_gd=f.user("supervisor", org["GD"], username="sup_gd", password=password),
    )

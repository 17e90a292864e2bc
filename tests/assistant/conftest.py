"""A small world for the assistant: the shipped knowledge base synced once per test database, a
portal customer with one account in a grid cell, a neighbour, KB editors and reviewers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gridcare.access.models import User
from gridcare.customers.models import Account, Customer, OrgUnit, ServicePoint
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.policy import reset_caches
from gridcare.service.policy import reset_policy_cache
from tests import factories as f

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 11, 10, 10, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {
        "sms": "gridcare.notifications.backends.RecordingBackend",
        "email": "gridcare.notifications.backends.RecordingBackend",
    }
    reset_policy_cache()
    reset_caches()
    RecordingBackend.reset()
    yield
    reset_policy_cache()
    reset_caches()


@pytest.fixture(scope="session")
def _session_kb(django_db_setup, django_db_blocker):
    from gridcare.assistant.services import kb_sync

    with django_db_blocker.unblock():
        kb_sync(as_of=AS_OF)


@pytest.fixture
def synced_kb(_session_kb, db):
    """The shipped corpus, synced once per session and kept across tests (each test rolls back its
    own changes). A transactional test elsewhere flushes the database, so it is re-synced if gone.
    Tests that publish or archive articles use `kb_changes` so the cached index is dropped after them."""
    from gridcare.assistant.models import Article
    from gridcare.assistant.services import kb_sync

    if not Article.objects.exists():
        kb_sync(as_of=AS_OF)
    yield


@pytest.fixture
def kb_changes(synced_kb):
    from gridcare.assistant import selectors

    selectors.reset_cache()
    yield
    selectors.reset_cache()


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


@pytest.fixture
def town(db, synced_kb) -> Town:
    org = f.org_tree()
    customer = f.customer(org["PY1"], name="张小三", phone="13812345678")
    account = f.account(customer, number="0500000010")
    point = f.service_point(account, grid_cell="PY-01")
    neighbour = f.customer(org["PY1"], name="李四", phone="13900000002")
    f.service_point(f.account(neighbour, number="0500000020"), grid_cell="PY-01")
    return Town(
        org=org, customer=customer, account=account, point=point,
        portal=f.user("customer", customer=customer, username="zhang"),
        neighbour=neighbour,
        writer=f.user("agent", org["GZ"], username="writer"),
        reviewer=f.user("supervisor", org["GZ"], username="reviewer"),
        supervisor_gd=f.user("supervisor", org["GD"], username="sup_gd"),
    )

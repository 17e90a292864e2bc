"""The demo loader: orders in every state on top of the customers demo, fast and idempotent."""

from __future__ import annotations

import time

import pytest

from gridcare.customers.demo import demo_load
from gridcare.service.demo import load_demo
from gridcare.service.models import NegativeListEntry, Outage, ReturnVisit, SlaClock, WorkOrder
from tests.service.conftest import at

pytestmark = pytest.mark.django_db


def test_demo_loads_every_state_once():
    as_of = at(2026, 11, 10, 15)
    demo_load(customers=300, seed=7, as_of=as_of)
    started = time.perf_counter()
    summary = load_demo(seed=7, as_of=as_of, orders=80)
    elapsed = time.perf_counter() - started
    assert "work orders" in summary, summary
    statuses = set(WorkOrder.objects.values_list("status", flat=True))
    assert {"assigned", "in_progress", "waiting_customer", "resolved", "closed", "merged"} <= statuses
    assert WorkOrder.objects.count() >= 80
    assert WorkOrder.objects.filter(outage__isnull=False).count() >= 1
    assert Outage.objects.count() == 2
    assert ReturnVisit.objects.filter(status="completed", satisfied=False).exists()
    assert ReturnVisit.objects.filter(status="completed", satisfied=True).exists()
    assert SlaClock.objects.filter(breached_at__isnull=False).exists()
    assert NegativeListEntry.objects.exists()
    assert elapsed < 30
    before = WorkOrder.objects.count()
    assert load_demo(seed=7, as_of=as_of).startswith("already loaded")
    assert WorkOrder.objects.count() == before

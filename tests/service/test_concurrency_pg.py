"""PostgreSQL only: concurrent retries and ticks. A webhook delivered twice at once opens one order;
`work_order_open` retried at once opens one; two ticks at once warn and breach each clock once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection

from gridcare.service.models import NegativeListEntry, WorkOrder, WorkOrderEvent
from gridcare.service.services import sla_tick, webhook_signature, work_order_from_webhook, work_order_open
from tests.service.conftest import at

pytestmark = [pytest.mark.pg, pytest.mark.django_db(transaction=True)]
T0 = at(2025, 11, 3, 10)


def _together(fn, n=2):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_same_webhook_twice_at_once_opens_one_order(desk, settings):
    settings.GRIDCARE_WEBHOOK_SECRETS = {"wechat": "k"}
    body = json.dumps({"message_id": "dup-1", "text": "家里停电了"}).encode()
    stamp = str(int(T0.timestamp()))
    sig = webhook_signature(secret="k", timestamp=stamp, body=body)
    results, errors = _together(lambda: work_order_from_webhook(platform="wechat", body=body, timestamp=stamp,
                                                                 signature=sig, as_of=T0))
    assert errors == []
    assert sorted(r.created for r in results) == [False, True]
    assert WorkOrder.objects.count() == 1


def test_work_order_open_retried_at_once_opens_one(desk):
    results, errors = _together(lambda: work_order_open(origin="reconciliation", external_ref="K-1",
                                                        category="business.other", description="督办", as_of=T0))
    assert errors == []
    assert sorted(r.created for r in results) == [False, True]
    assert WorkOrder.objects.count() == 1


def test_two_ticks_at_once_record_each_breach_once(desk):
    desk.create(as_of=T0, account_number="0000000001", category="complaint.business.billing", description="多收")
    results, errors = _together(lambda: sla_tick(as_of=T0 + timedelta(hours=3)))
    assert errors == []
    assert sorted(r.breaches for r in results) == [0, 2]  # first response and handler; the second tick waited
    assert WorkOrderEvent.objects.filter(kind="sla_breach").count() == 2
    assert NegativeListEntry.objects.count() == 2

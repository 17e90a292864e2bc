"""Eight issuers pressing 开具退补账单 on the same approved case at once: one adjustment bill, the
others refused (PostgreSQL, real concurrent connections; the case row is locked first)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from gridcare.billing import services
from gridcare.billing.models import Bill
from gridcare.parameters.models import BackBillingCase
from tests.billing.backbilling_world import adjust_world, approved_case
from tests.parameters import fixtures
from tests.parameters.fixtures import AS_OF

pytestmark = [pytest.mark.pg, pytest.mark.django_db(transaction=True)]
pworld, fast_passwords = fixtures.pworld, fixtures.fast_passwords
WORKERS = 8


def test_concurrent_issues_bill_the_case_once(pworld):
    case = approved_case(adjust_world(pworld))
    barrier = threading.Barrier(WORKERS)
    results: list[object] = [None] * WORKERS

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = services.bill_backbilling_issue(case_id=case.pk, actor=pworld.approver,
                                                         as_of=AS_OF + timedelta(minutes=i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bills = [r for r in results if isinstance(r, Bill)]
    refused = [r for r in results if isinstance(r, services.UnableToIssueAdjustment)]
    assert (len(bills), len(refused)) == (1, WORKERS - 1), results
    assert list(Bill.objects.filter(kind="adjust").values_list("number", "total_fen")) == [(bills[0].number, 14060)]
    assert BackBillingCase.objects.get(pk=case.pk).bill_number == bills[0].number

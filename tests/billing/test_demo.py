"""The billing demo loader on a small demo population: reads for 13 months, every period billed by
the real run and issued, an audit queue left open, the portal customer's correction; idempotent."""

from __future__ import annotations

from datetime import datetime

import pytest

from gridcare.billing.demo import load_demo
from gridcare.billing.models import Bill, BillException, BillingRun
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.customers.demo import demo_load
from gridcare.metering.models import MeterRead, ReadImport
from gridcare.notifications.models import Message

pytestmark = pytest.mark.django_db
AS_OF = datetime(2026, 11, 23, 10, 0, tzinfo=BUSINESS_TZ)


def test_demo_bills_thirteen_months_and_is_idempotent(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo_load(customers=40, seed=7, as_of=AS_OF)
    summary = load_demo(seed=7, as_of=AS_OF)
    runs = list(BillingRun.objects.order_by("period_code").values_list("period_code", "status"))
    assert [p for p, _ in runs] == [f"2025-{m:02d}" for m in (10, 11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]
    assert {s for _, s in runs} == {"completed"}
    reads = MeterRead.objects.count()
    assert reads > 40 * 13
    imp = ReadImport.objects.get()
    assert imp.quarantined >= 3  # unknown meters and spikes for the quarantine queue
    issued = Bill.objects.filter(status="issued", kind="invoice")
    assert issued.count() > 13 * 25
    # Every issued bill's lines add up; approval respected the two-person rule.
    for bill in issued.filter(period_code="2026-09")[:10]:
        assert bill.total_fen == sum(bill.lines.values_list("amount_fen", flat=True))
        assert bill.approved_by_id is not None and bill.approved_by_id != bill.prepared_by_id
    assert BillException.objects.filter(status="open").exists()
    assert not BillException.objects.filter(status="open").exclude(bill__period_code="2026-10").exists()
    portal = Bill.objects.filter(account__customer__external_id="DEMO0000001")
    assert portal.filter(kind="credit", status="issued").count() == 1
    assert Message.objects.filter(object_type="bill", recipient_user__username="customer").exists()
    assert "bills computed" in summary

    again = load_demo(seed=7, as_of=AS_OF)
    assert MeterRead.objects.count() == reads
    assert Bill.objects.filter(kind="credit").count() == 1
    assert again.startswith("0 reads")

"""The back-billing demo loader on a small demo population (seven months billed): a 补收 and a 退还
case billed as adjustment bills, one case waiting for the approver, one rejected; idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gridcare.access.models import AuditEvent
from gridcare.billing import demo as billing_demo
from gridcare.billing.backbilling_demo import load_demo
from gridcare.billing.models import Bill, BillDelivery
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.customers.demo import demo_load
from gridcare.parameters.models import BackBillingCase
from gridcare.payments.models import Charge, JournalEntry
from gridcare.payments.services import receivables_post_issued_bills

pytestmark = pytest.mark.django_db
AS_OF = datetime(2026, 11, 23, 10, 0, tzinfo=BUSINESS_TZ)


def test_demo_cases_are_prepared_decided_and_billed_once(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setattr(billing_demo, "MONTHS", 7)  # 2026-04 .. 2026-10: six issued periods and the open one
    demo_load(customers=40, seed=7, as_of=AS_OF)
    billing_demo.load_demo(seed=7, as_of=AS_OF)
    with django_capture_on_commit_callbacks(execute=True):
        summary = load_demo(seed=7, as_of=AS_OF)
    assert summary == "back-billing: 4 new cases (2 billed as adjustment bills)"

    cases = {(c.kind, c.status): c for c in BackBillingCase.objects.select_related(
        "prepared_by", "decided_by", "account__customer")}
    assert sorted(cases) == [("meter_error", "billed"), ("meter_error", "draft"), ("stopped_meter", "rejected"),
                             ("wrong_multiplier", "billed")]
    assert len({c.account_id for c in cases.values()}) == 4
    assert {c.prepared_by.username for c in cases.values()} == {"clerk"}
    assert {c.decided_by.username for c in cases.values() if c.decided_by} == {"approver"}
    assert cases["meter_error", "draft"].decided_by is None
    assert cases["stopped_meter", "rejected"].decision_note.startswith("现场核查电能表运行正常")
    assert cases["stopped_meter", "rejected"].bill_number == ""
    assert cases["wrong_multiplier", "billed"].period_codes == ["2026-08", "2026-09", "2026-10"]
    assert cases["meter_error", "billed"].period_codes == [f"2026-{m:02d}" for m in range(5, 11)]
    prepared_at = AS_OF - timedelta(days=3)
    assert {c.prepared_at for c in cases.values()} == {prepared_at}

    collect, refund = cases["wrong_multiplier", "billed"], cases["meter_error", "billed"]
    assert collect.total_fen > 0 > refund.total_fen
    # The fast meter is refunded to the portal demo customer, so the portal shows an adjustment.
    assert refund.account.customer.external_id == "DEMO0000001"
    bills = {b.number: b for b in Bill.objects.filter(kind=Bill.Kind.ADJUSTMENT)}
    assert sorted(bills) == sorted([collect.bill_number, refund.bill_number])
    for case in (collect, refund):
        bill = bills[case.bill_number]
        assert (bill.status, bill.account_id, bill.total_fen) == ("issued", case.account_id, case.total_fen)
        assert sum(bill.lines.values_list("amount_fen", flat=True)) == bill.total_fen
        assert set(bill.lines.values_list("corrects_period", flat=True)) == set(case.period_codes)
        assert (bill.prepared_by_id, bill.approved_by_id, bill.issued_at) == (
            case.prepared_by_id, case.decided_by_id, prepared_at + timedelta(days=2))
        issued = AuditEvent.objects.get(object_type="bill", object_id=str(bill.pk), action="create")
        assert issued.actor.username == "approver"
        assert BillDelivery.objects.filter(bill=bill, channel="sms").exists()
    # Payments posted the 补收 as a receivable on issue. The 退还 needs the receivable of the bill it
    # corrects; here the billing demo ran without its on-commit postings, so it waits for the payments
    # step, which posts every issued bill oldest first (in `gridcare demo-data` the originals are
    # already posted and the credit goes through at once).
    assert Charge.objects.get(bill_id=bills[collect.bill_number].pk).amount_fen == collect.total_fen
    assert not JournalEntry.objects.filter(source=f"bill:{bills[refund.bill_number].pk}").exists()
    receivables_post_issued_bills(as_of=AS_OF)
    credit = JournalEntry.objects.get(source=f"bill:{bills[refund.bill_number].pk}")
    assert (credit.kind, sum(p.amount_fen for p in credit.postings.filter(ledger="ar"))) == (
        "credit_note", refund.total_fen)

    counts = (BackBillingCase.objects.count(), Bill.objects.count(), AuditEvent.objects.count())
    assert load_demo(seed=7, as_of=AS_OF + timedelta(days=1)) == "back-billing: 0 new cases (all demo cases are there)"
    assert (BackBillingCase.objects.count(), Bill.objects.count(), AuditEvent.objects.count()) == counts

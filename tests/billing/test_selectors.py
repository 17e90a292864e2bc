"""Bill document pieces: the "why did my bill change" attribution, TOU shares, 12-month history,
and delivery of bill notices through the outbox (channels, quiet hours, idempotency)."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.billing import selectors, services
from gridcare.billing.models import Bill, BillDelivery, BillException
from gridcare.notifications.models import Message
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import AS_OF, NOV1, OCT1
from tests.factories import user
from tests.metering.helpers import at, metered_account, seed_read

pytestmark = pytest.mark.django_db
staff, tariffs = billing_fixtures.staff, billing_fixtures.tariffs


def _bill_period(staff, period: str, when) -> None:
    run = services.billing_run_start(period_code=period, org_unit=None, actor=staff["clerk"], as_of=when)
    services.billing_run_execute(run_id=run.pk, as_of=when)
    for exc in BillException.objects.filter(status="open"):
        services.bill_exception_confirm(exception_id=exc.pk, actor=staff["auditor"], as_of=when)
    services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=when)
    services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=when)


def test_change_explanation_parts_add_up(org, tariffs, staff):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential")
    for d, v in ((date(2026, 9, 1), "1000"), (OCT1, "1200"), (NOV1, "1550")):
        seed_read(m, "total", d, v)
    _bill_period(staff, "2026-09", at(2026, 10, 3))
    _bill_period(staff, "2026-10", at(2026, 11, 3))
    sep, oct_ = Bill.objects.get(period_code="2026-09"), Bill.objects.get(period_code="2026-10")
    # September 200 × 0.5802 + funds 1.73 = 117.77; October 150.85 + 90 × 0.6302 (56.72) + funds 3.03 = 210.60
    assert (sep.total_fen, oct_.total_fen) == (11777, 21060)
    c = selectors.bill_change_explanation(user=staff["clerk"], bill_id=oct_.pk)
    assert (c.previous_bill_id, c.change_fen, c.days, c.previous_days) == (sep.pk, 9283, 31, 30)
    parts = {p.key: p.amount_fen for p in c.parts}
    assert sum(parts.values()) == c.change_fen
    assert parts["other"] == 0
    assert parts["days"] == 393  # one more day at September's daily amount: 11777 × (31/30 − 1)
    assert parts["tier"] == 450  # 90 kWh in tier 2 at +0.05
    # 350 kWh against 200 × 31/30 expected, at September's 58.885 fen/kWh; no price change.
    assert (parts["usage"], parts["price"]) == (8440, 0)


def test_document_tou_shares_and_history(org, tariffs, staff):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential-tou",
                              registers=("total", "peak", "flat", "valley"))
    for reg, v0, v1 in (("total", 1000, 1300), ("peak", 300, 400), ("flat", 500, 650), ("valley", 200, 250)):
        seed_read(m, reg, OCT1, v0)
        seed_read(m, reg, NOV1, v1)
    _bill_period(staff, "2026-10", AS_OF)
    bill = Bill.objects.get()
    doc = selectors.bill_document(user=staff["clerk"], bill_id=bill.pk)
    assert [(s.bucket, str(s.kwh), s.percent) for s in doc.tou] == [
        ("peak", "100.000", 33), ("flat", "150.000", 50), ("valley", "50.000", 17)]
    assert [(h.period_code, h.total_fen) for h in doc.history] == [("2026-10", 20128)]
    assert doc.customer_name == "张*三"  # masked for the clerk
    assert [r.register for r in doc.reads] == ["total", "peak", "flat", "valley"]


def _issued_with_contacts(org, staff, *, email="a@example.com", portal=True):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential")
    cust = acct.customer
    cust.email = email
    cust.save(update_fields=["email"])
    if portal:
        user("customer", customer=cust, username="portal1")
    seed_read(m, "total", OCT1, "1000")
    seed_read(m, "total", NOV1, "1150")
    _bill_period(staff, "2026-10", AS_OF)
    return Bill.objects.get()


def test_delivery_channels_quiet_hours_and_idempotency(org, tariffs, staff):
    bill = _issued_with_contacts(org, staff)
    late = at(2026, 11, 3, 22)
    report = services.bills_deliver(bill_ids=[bill.pk], as_of=late)
    assert (report.queued, report.skipped, report.failed) == (3, 0, 0)
    msgs = {m.channel: m for m in Message.objects.filter(object_type="bill")}
    assert set(msgs) == {"sms", "email", "in_app"}
    assert msgs["sms"].scheduled_at == at(2026, 11, 4, 8)  # held until quiet hours end
    assert msgs["email"].scheduled_at == late
    assert "88.33" in msgs["sms"].body and bill.payment_reference in msgs["sms"].body
    assert msgs["in_app"].recipient_user.username == "portal1"
    again = services.bills_deliver(bill_ids=[bill.pk], as_of=late)
    assert (again.queued, Message.objects.count()) == (0, 3)


def test_delivery_skips_missing_contacts_and_records_refusals(org, tariffs, staff):
    bill = _issued_with_contacts(org, staff, email="", portal=False)
    cust = bill.account.customer
    cust.phone = "12345"
    cust.save(update_fields=["phone"])
    report = services.bills_deliver(bill_ids=[bill.pk], as_of=AS_OF)
    assert (report.queued, report.skipped, report.failed) == (0, 2, 1)
    assert list(BillDelivery.objects.values_list("channel", "error")) == [("sms", "'12345' is not an 11-digit "
                                                                                  "mobile number")]
    assert not Message.objects.exists()


def test_drafts_are_never_delivered(org, tariffs, staff):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential")
    seed_read(m, "total", OCT1, "1000")
    seed_read(m, "total", NOV1, "1150")
    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    report = services.bills_deliver(bill_ids=list(Bill.objects.values_list("pk", flat=True)), as_of=AS_OF)
    assert (report.queued, Message.objects.count()) == (0, 0)


def test_who_issued_a_bill_is_read_from_the_audit_trail(org, tariffs, staff):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential")
    for d, v in ((OCT1, "1000"), (NOV1, "1200")):
        seed_read(m, "total", d, v)
    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    bill = Bill.objects.get()
    assert selectors.bill_issued_by(bill=bill) is None  # a draft is not issued by anyone yet
    for exc in BillException.objects.filter(status="open"):
        services.bill_exception_confirm(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF)
    services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    services.billing_run_issue(run_id=run.pk, actor=staff["admin"], as_of=AS_OF)
    bill.refresh_from_db()
    assert (bill.approved_by_id, selectors.bill_issued_by(bill=bill)) == (staff["approver"].pk, staff["admin"])
    # A correction is issued by whoever approves it: the rebill and its credit note alike.
    corr = services.bill_correct(bill_id=bill.pk, reason="止码抄错", reads={(m.pk, "total"): "1150"},
                                 actor=staff["clerk"], as_of=AS_OF)
    assert selectors.bill_issued_by(bill=corr.rebill) is None
    services.bill_correction_approve(rebill_id=corr.rebill.pk, actor=staff["approver"], as_of=AS_OF)
    corr.rebill.refresh_from_db()
    corr.credit.refresh_from_db()
    assert selectors.bill_issued_by(bill=corr.rebill) == staff["approver"]
    assert selectors.bill_issued_by(bill=corr.credit) == staff["approver"]
    assert selectors.bill_issued_by(bill=bill) == staff["admin"]  # the original's issue is unchanged

"""退补 adjustment bills: an approved back-billing case billed once as its own issued bill, every
line traceable to the bill it corrects, the receivable (or credit) posted by payments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import translation

from gridcare.access.models import AuditEvent
from gridcare.billing import selectors, services
from gridcare.billing.models import Bill, BillDelivery
from gridcare.core.errors import NotFound, PermissionDenied
from gridcare.notifications.models import Message
from gridcare.parameters import services as parameters
from gridcare.parameters.models import BackBillingCase
from gridcare.payments.models import Charge, JournalEntry
from gridcare.payments.selectors import account_balance
from tests.billing.backbilling_world import adjust_world, approved_case
from tests.parameters import fixtures
from tests.parameters.fixtures import AS_OF

pworld, fast_passwords = fixtures.pworld, fixtures.fast_passwords

ISSUE_AT = AS_OF + timedelta(hours=2)


def lines(bill):
    return [(ln.corrects_period, ln.corrects_number, ln.line_code, ln.quantity, ln.unit_price, ln.amount_fen)
            for ln in bill.lines.order_by("line_no")]


def test_wrong_multiplier_across_a_tariff_change_billed_as_one_adjustment(pworld, django_capture_on_commit_callbacks):
    w = adjust_world(pworld)
    from gridcare.payments.services import receivables_post_issued_bills

    receivables_post_issued_bills(as_of=AS_OF, account_ids=[w.acc.pk])  # the original bills' receivables
    case = approved_case(w)
    # CT recorded ×20, really ×30 (150/5). test-adjust-flat: 0.50 元/kWh until 2026-01-16, 0.60 from
    # then; funds 0.02 元/kWh. January (31 days) straddles the change: the kernel splits its energy
    # by days, 15 days at 0.50 and 16 at 0.60.
    # 2025-12: advance 10 kWh. Billed 200 kWh: 100.00 + 4.00 = 104.00. Corrected 300 kWh:
    #          150.00 + 6.00 = 156.00. Energy +100 kWh +50.00, funds +2.00 -> +52.00.
    # 2026-01: advance 15.5 kWh. Billed 310 kWh = 150 (× 0.50 = 75.00) + 160 (× 0.60 = 96.00) = 171.00,
    #          funds 6.20 -> 177.20. Corrected 465 kWh = 225 (112.50) + 240 (144.00) = 256.50,
    #          funds 9.30 -> 265.80. Energy +155 kWh +85.50, funds +3.10 -> +88.60.
    # Adjustment 52.00 + 88.60 = 140.60 yuan to collect (补收).
    with django_capture_on_commit_callbacks(execute=True):
        bill = services.bill_backbilling_issue(case_id=case.pk, actor=pworld.approver, as_of=ISSUE_AT)

    assert (bill.kind, bill.status, bill.total_fen, bill.energy_wh) == ("adjust", "issued", 14060, 255_000)
    assert (bill.number, bill.period_code, bill.version) == ("A202603-0600000009-1", "2026-01", 1)
    assert (bill.start_date, bill.end_date, bill.corrects_id) == (date(2025, 12, 1), date(2026, 2, 1), w.jan.pk)
    assert (bill.issued_at, bill.due_date) == (ISSUE_AT, date(2026, 3, 5) + timedelta(days=15))
    assert (bill.prepared_by_id, bill.approved_by_id) == (pworld.clerk.pk, pworld.approver.pk)
    assert bill.reason == f"{case.number}: 现场核查：CT 实为 150/5"
    assert bill.payment_reference.startswith("0600000009" "202603" "01") and len(bill.payment_reference) == 19
    dec, jan = w.dec.number, w.jan.number
    assert lines(bill) == [
        ("2025-12", dec, "backbilling.energy", Decimal("100.000"), Decimal("0.50000000"), 5000),
        ("2025-12", dec, "backbilling.funds.all", Decimal("100.000"), Decimal("0.02000000"), 200),
        ("2026-01", jan, "backbilling.energy", Decimal("155.000"), Decimal("0.60000000"), 8550),
        ("2026-01", jan, "backbilling.funds.all", Decimal("155.000"), Decimal("0.02000000"), 310),
    ]
    assert sum(ln.amount_fen for ln in bill.lines.all()) == bill.total_fen == case.total_fen
    first = bill.lines.get(line_no=1)
    assert first.explanation_zh == (f"2025-12 原账单 {dec} 电度电费：原 200 kWh 100.00 元 → 更正 300 kWh 150.00 元，"
                                    "退补 +50.00 元")
    assert (first.start_date, first.end_date, first.tariff_version) == (date(2025, 12, 1), date(2026, 1, 1),
                                                                        case.number)
    case.refresh_from_db()
    assert (case.status, case.bill_number, case.billed_at) == ("billed", bill.number, ISSUE_AT)
    assert AuditEvent.objects.filter(object_type="bill", object_id=str(bill.pk), actor=pworld.approver).exists()
    assert selectors.bill_issued_by(bill=bill) == pworld.approver
    # The original bills never changed.
    w.jan.refresh_from_db()
    assert (w.jan.total_fen, w.jan.status, w.jan.lines.count()) == (17720, "issued", 4)

    # Payments posted the adjustment's receivable after commit, beside the two originals'.
    charge = Charge.objects.get(bill_id=bill.pk)
    assert (charge.kind, charge.amount_fen, charge.reference, charge.payment_reference) == (
        "bill", 14060, bill.number, bill.payment_reference)
    assert JournalEntry.objects.get(source=f"bill:{bill.pk}").kind == "charge"
    assert account_balance(account_id=w.acc.pk).owed_fen == 10400 + 17720 + 14060


def test_an_approved_case_is_billed_exactly_once(pworld):
    w = adjust_world(pworld)
    case = approved_case(w)
    bill = services.bill_backbilling_issue(case_id=case.pk, actor=pworld.approver, as_of=ISSUE_AT)
    with pytest.raises(services.UnableToIssueAdjustment) as info, translation.override("en"):
        services.bill_backbilling_issue(case_id=case.pk, actor=pworld.admin, as_of=ISSUE_AT)
    assert (info.value.code, info.value.field) == ("unable_to_issue_adjustment", "case_id")
    assert info.value.message == f"case {case.number} is already billed on {bill.number}"
    assert Bill.objects.filter(kind="adjust").count() == 1


def test_only_an_approved_case_by_an_issuer_in_scope_is_billed(pworld):
    w = adjust_world(pworld)
    draft = parameters.backbilling_case_prepare(
        data=parameters.CaseInput(account_id=w.acc.pk, kind="wrong_multiplier", correction={"multiplier": "30"},
                                  period_codes=["2026-01"], reason="核查"), actor=pworld.clerk, as_of=AS_OF)
    with pytest.raises(services.UnableToIssueAdjustment) as info, translation.override("en"):
        services.bill_backbilling_issue(case_id=draft.pk, actor=pworld.approver, as_of=ISSUE_AT)
    assert info.value.message == f"case {draft.number} is Waiting for approval; only an approved case can be billed"
    rejected = parameters.backbilling_case_reject(case_id=draft.pk, actor=pworld.approver, as_of=AS_OF, note="重核")
    with pytest.raises(services.UnableToIssueAdjustment):
        services.bill_backbilling_issue(case_id=rejected.pk, actor=pworld.approver, as_of=ISSUE_AT)
    case = approved_case(w)
    with pytest.raises(PermissionDenied):  # a billing clerk may not issue
        services.bill_backbilling_issue(case_id=case.pk, actor=pworld.clerk, as_of=ISSUE_AT)
    from tests.factories import user

    sz_approver = user("approver", org_unit=pworld.units["SZ"])
    with pytest.raises(NotFound):  # another city's approver does not see the case
        services.bill_backbilling_issue(case_id=case.pk, actor=sz_approver, as_of=ISSUE_AT)
    with pytest.raises(NotFound):
        services.bill_backbilling_issue(case_id=999_999, actor=pworld.approver, as_of=ISSUE_AT)
    # Nothing was written by the refusals.
    assert not Bill.objects.filter(kind="adjust").exists()
    assert BackBillingCase.objects.get(pk=case.pk).status == "approved"


def test_a_refund_is_credited_against_the_bill_it_corrects(pworld, django_capture_on_commit_callbacks):
    w = adjust_world(pworld)
    from gridcare.payments.services import receivables_post_issued_bills

    receivables_post_issued_bills(as_of=AS_OF, account_ids=[w.acc.pk])
    assert account_balance(account_id=w.acc.pk).owed_fen == 10400 + 17720
    case = approved_case(w, multiplier="10")
    # Recorded ×20, really ×10: half the energy. 2025-12: 100 kWh -> 50.00 + 2.00, −52.00.
    # 2026-01: 155 kWh = 75 (37.50) + 80 (48.00) = 85.50 + funds 3.10 against 171.00 + 6.20: −88.60.
    # Refund (退还) 140.60 yuan.
    with django_capture_on_commit_callbacks(execute=True):
        bill = services.bill_backbilling_issue(case_id=case.pk, actor=pworld.approver, as_of=ISSUE_AT)
    assert (bill.kind, bill.total_fen, bill.payment_reference, bill.corrects_id) == ("adjust", -14060, "", w.jan.pk)
    assert [ln.amount_fen for ln in bill.lines.order_by("line_no")] == [-5000, -200, -8550, -310]
    entry = JournalEntry.objects.get(source=f"bill:{bill.pk}")
    assert entry.kind == "credit_note"
    assert not Charge.objects.filter(bill_id=bill.pk).exists()
    # Credited on January's receivable (still unpaid, so nothing moves to customer credit).
    jan_charge = Charge.objects.get(bill_id=w.jan.pk)
    assert sorted(p.amount_fen for p in entry.postings.filter(ledger="ar")) == [-14060]
    assert entry.postings.get(ledger="ar").charge_id == jan_charge.pk
    balance = account_balance(account_id=w.acc.pk)
    assert (balance.owed_fen, balance.credit_fen) == (10400 + 17720 - 14060, 0)


def test_the_notice_says_what_is_collected_and_what_it_corrects(pworld):
    w = adjust_world(pworld)
    bill = services.bill_backbilling_issue(case_id=approved_case(w).pk, actor=pworld.approver, as_of=ISSUE_AT)
    report = services.bills_deliver(bill_ids=[bill.pk], as_of=ISSUE_AT, channels=("sms",),
                                    pdf_url=lambda b: f"https://95598.example.cn/{b.number}.pdf")
    assert (report.queued, report.skipped, report.failed) == (1, 0, 0)
    sms = Message.objects.get(template="bill_adjustment")
    assert "已开具退补账单A202603-0600000009-1：补收140.60元，请于2026-03-20前缴纳" in sms.body
    assert "2025-12、2026-01电费有误" in sms.body
    assert BillDelivery.objects.filter(bill=bill, channel="sms").count() == 1


def test_an_adjustment_filed_under_an_unbilled_period_does_not_keep_the_account_out_of_its_run(pworld):
    w = adjust_world(pworld)
    # 私增容量 needs no original bill: the case (and its bill) is filed under the month it was found.
    case = parameters.backbilling_case_prepare(
        data=parameters.CaseInput(account_id=w.acc.pk, kind="unauthorised_capacity",
                                  correction={"added_kva": "4", "months": 2}, period_codes=[], reason="用电检查"),
        actor=pworld.clerk, as_of=AS_OF)
    parameters.backbilling_case_approve(case_id=case.pk, actor=pworld.approver, as_of=AS_OF)
    bill = services.bill_backbilling_issue(case_id=case.pk, actor=pworld.approver, as_of=ISSUE_AT)
    assert (bill.period_code, bill.total_fen, bill.corrects_id) == ("2026-03", 20000, None)
    run = services.billing_run_start(period_code="2026-03", org_unit=None, actor=None, as_of=ISSUE_AT)
    assert w.acc.pk in set(services._candidates(run).values_list("pk", flat=True))

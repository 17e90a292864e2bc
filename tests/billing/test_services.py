"""Billing run, audit queue, two-person approval, issue, corrections and period close."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.billing import selectors, services
from gridcare.billing.models import Bill, BillException, BillingRun
from gridcare.core.errors import PermissionDenied, ValidationFailed
from gridcare.metering.models import BillingPeriod, MeterRead
from tests.billing.conftest import AS_OF, NOV1, OCT1, residential
from tests.factories import user
from tests.metering.helpers import at, metered_account, seed_read

pytestmark = pytest.mark.django_db


def _run(staff, period="2026-10", org_unit=None, **kw):
    run = services.billing_run_start(period_code=period, org_unit=org_unit, actor=staff["clerk"], as_of=AS_OF, **kw)
    return services.billing_run_execute(run_id=run.pk, as_of=AS_OF)


def _lines(bill):
    return [(ln.line_code, str(ln.quantity), ln.amount_fen) for ln in bill.lines.order_by("line_no")]


def test_run_rates_every_account_and_lines_add_up(org, tariffs, staff):
    a1, _ = residential(org["PY1"], "1000", "1150")
    a2, _ = residential(org["PY1"], "2000", "2500")
    run = _run(staff)
    assert (run.status, run.total_accounts, run.billed_accounts, run.skipped_accounts) == ("completed", 2, 2, 0)
    b1 = Bill.objects.get(account=a1)
    b2 = Bill.objects.get(account=a2)
    # 150 kWh × 0.5802 = 87.03; funds 150 × 0.00866875 = 1.30
    assert _lines(b1) == [("energy.tier1", "150.000", 8703), ("funds.all", "150.000", 130)]
    # 260 × 0.5802 = 150.852 → 150.85; 240 × 0.6302 = 151.248 → 151.25; funds 500 × 0.00866875 = 4.33
    assert _lines(b2) == [("energy.tier1", "260.000", 15085), ("energy.tier2", "240.000", 15125),
                          ("funds.all", "500.000", 433)]
    assert (b1.total_fen, b2.total_fen) == (8833, 30643)
    for b in (b1, b2):
        assert b.total_fen == sum(ln.amount_fen for ln in b.lines.all())
        assert (b.status, b.version, b.kind, b.period_code) == ("draft", 1, "invoice", "2026-10")
        assert (b.start_date, b.end_date) == (OCT1, NOV1)
    assert b1.number == f"B202610-{a1.number}-1"
    reads = list(b1.reads.values_list("register", "start_value", "end_value", "advance_milli"))
    assert reads == [("total", 1_000_000, 1_150_000, 150_000)]
    # First bill of each account is an audit hit.
    assert sorted(BillException.objects.values_list("bill__account_id", "rule")) == sorted(
        [(a1.pk, "first_bill"), (a2.pk, "first_bill")])


def test_second_run_of_the_same_period_bills_nothing_again(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    first = _run(staff)
    again = _run(staff)
    assert again.pk != first.pk
    assert (again.total_accounts, again.billed_accounts) == (0, 0)
    assert Bill.objects.count() == 1


def test_missing_closing_read_is_estimated_and_flagged(org, tariffs, staff):
    acct, m = residential(org["PY1"], "1000", None)
    for d, v in ((date(2026, 7, 1), "700"), (date(2026, 8, 1), "800"), (date(2026, 9, 1), "900")):
        seed_read(m, "total", d, v)
    run = _run(staff)
    assert run.stats["estimated_reads"] == 1
    est = MeterRead.objects.get(meter=m, read_date=NOV1)
    assert est.status == "estimated"
    bill = Bill.objects.get(account=acct)
    assert bill.estimated is True
    # 300 kWh over the 92 days from 1 Jul to 1 Oct, × 31 days = 101.087 → 101.087 kWh
    assert bill.energy_wh == est.value_milli - 1_000_000
    assert set(bill.exceptions.values_list("rule", flat=True)) == {"first_bill", "estimated_read"}


def test_account_without_any_read_is_skipped_with_reason(org, tariffs, staff):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential")
    run = _run(staff)
    assert (run.billed_accounts, run.skipped_accounts) == (0, 1)
    skip = run.skips.get()
    assert skip.account_id == acct.pk and skip.stage == "reads"
    assert skip.reason == f"meter {m.asset_number}: no read of total on 2026-11-01"
    assert not Bill.objects.exists()


def test_unknown_tariff_is_skipped(org, tariffs, staff):
    acct, _ = residential(org["PY1"], "1000", "1100", tariff="no-such-tariff")
    run = _run(staff)
    assert run.skips.get().reason == "no tariff in force (no-such-tariff)"
    assert not Bill.objects.filter(account=acct).exists()


def test_run_scope_is_the_org_subtree(org, tariffs, staff):
    in_py, _ = residential(org["PY1"], "1000", "1100")
    in_sz, _ = residential(org["SZ"], "1000", "1100")
    run = _run(staff, org_unit=org["PY"])
    assert run.scope_key == "PY"
    assert list(Bill.objects.values_list("account_id", flat=True)) == [in_py.pk]
    assert not Bill.objects.filter(account=in_sz).exists()


def test_closed_period_refuses_a_run(org, tariffs, staff):
    residential(org["PY1"], "1000", "1100")
    BillingPeriod.objects.create(org_unit=org["GD"], code="2026-10", start_date=OCT1, end_date=NOV1,
                                          status="closed", opened_at=AS_OF)
    with pytest.raises(services.UnableToStartRun) as err:
        services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    assert err.value.field == "period"
    assert err.value.message == "账期 2026-10 已对 广东省电力公司 关账"
    assert not BillingRun.objects.exists()


def test_bad_period_code_is_a_validation_error(org, staff):
    with pytest.raises(ValidationFailed) as err:
        services.billing_run_start(period_code="2026-13", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    assert err.value.field == "period"


# --- approval, two-person rule, issue ---------------------------------------------------------------


def _confirm_all(staff):
    for exc in BillException.objects.filter(status="open"):
        services.bill_exception_confirm(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF, note="ok")


def test_two_person_rule_and_issue(org, tariffs, staff):
    a1, _ = residential(org["PY1"], "1000", "1150")
    a2, _ = residential(org["PY1"], "2000", "2500")
    admin = staff["admin"]
    run = services.billing_run_start(period_code="2026-10", org_unit=org["GD"], actor=admin, as_of=AS_OF)
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    with pytest.raises(services.UnableToApproveBills) as err:
        services.billing_run_approve(run_id=run.pk, actor=admin, as_of=AS_OF)
    assert err.value.field == "actor"
    with pytest.raises(PermissionDenied):
        services.billing_run_approve(run_id=run.pk, actor=staff["clerk"], as_of=AS_OF)
    assert set(Bill.objects.values_list("status", flat=True)) == {"draft"}
    # Open exceptions keep bills from approval.
    assert services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF) == 0
    exc = BillException.objects.get(bill__account=a1)
    services.bill_exception_confirm(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF, note="new account")
    assert services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF) == 1
    b1 = Bill.objects.get(account=a1)
    assert (b1.status, b1.approved_by_id) == ("approved", staff["approver"].pk)
    issued = services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=at(2026, 11, 5))
    assert issued == [b1.pk]
    b1.refresh_from_db()
    assert (b1.status, b1.due_date, b1.issued_at) == ("issued", date(2026, 11, 20), at(2026, 11, 5))
    assert Bill.objects.get(account=a2).status == "draft"
    assert b1.payment_reference.startswith("".join(c for c in a1.number if c.isdigit()) + "202610")


def test_staff_act_only_inside_their_org_unit(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    sz_clerk = user("billing_clerk", org["SZ"])
    with pytest.raises(PermissionDenied):
        services.billing_run_start(period_code="2026-10", org_unit=org["PY"], actor=sz_clerk, as_of=AS_OF)
    run = _run(staff)  # the GD clerk's "all" is GD's subtree
    assert run.scope_key == "GD"
    sz_approver = user("approver", org["SZ"])
    with pytest.raises(PermissionDenied):
        services.billing_run_approve(run_id=run.pk, actor=sz_approver, as_of=AS_OF)
    everything = services.billing_run_start(period_code="2026-11", org_unit=None, actor=None, as_of=AS_OF)
    assert everything.scope_key == "*"
    with pytest.raises(PermissionDenied):
        services.billing_run_issue(run_id=everything.pk, actor=staff["approver"], as_of=AS_OF)


def test_issue_without_approved_bills_is_refused(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    run = _run(staff)
    with pytest.raises(services.UnableToIssueBills):
        services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    assert Bill.objects.get().status == "draft"


def _issued_bill(org, staff, start="1000", end="1150"):
    acct, m = residential(org["PY1"], start, end)
    run = _run(staff)
    _confirm_all(staff)
    services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    return acct, m, Bill.objects.get(account=acct)


# --- auditor actions ---------------------------------------------------------------------------------


def test_hold_and_release(org, tariffs, staff):
    acct, _ = residential(org["PY1"], "1000", "1150")
    run = _run(staff)
    exc = BillException.objects.get()
    with pytest.raises(ValidationFailed):
        services.bill_exception_hold(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF, note=" ")
    services.bill_exception_hold(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF, note="check on site")
    bill = Bill.objects.get()
    assert bill.status == "held"
    assert services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF) == 0
    services.bill_release(bill_id=bill.pk, actor=staff["auditor"], as_of=AS_OF, note="checked")
    assert services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF) == 1


def test_correct_read_and_rerate(org, tariffs, staff):
    acct, m = residential(org["PY1"], "1000", "1500")
    _run(staff)
    bill = Bill.objects.get()
    assert bill.total_fen == 30643
    exc = bill.exceptions.get(rule="first_bill")
    new = services.bill_exception_correct_read(
        exception_id=exc.pk, reads={(m.pk, "total"): "1150"}, actor=staff["auditor"], as_of=AS_OF,
        note="typo in the closing read")
    assert (new.number, new.version, new.status, new.total_fen, new.energy_wh) == (
        bill.number, 1, "draft", 8833, 150_000)
    assert Bill.objects.count() == 1
    assert _lines(new) == [("energy.tier1", "150.000", 8703), ("funds.all", "150.000", 130)]
    reads = MeterRead.objects.filter(meter=m, read_date=NOV1).order_by("id")
    assert [(r.status, r.value_milli) for r in reads] == [("void", 1_500_000), ("valid", 1_150_000)]
    statuses = dict(BillException.objects.filter(bill=new).values_list("status", "rule"))
    assert statuses["corrected"] == "first_bill"
    # The re-rated bill is audited again: first_bill is raised anew.
    assert BillException.objects.filter(bill=new, status="open", rule="first_bill").count() == 1


def test_exception_actions_need_the_audit_capability(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    _run(staff)
    exc = BillException.objects.get()
    with pytest.raises(PermissionDenied):
        services.bill_exception_confirm(exception_id=exc.pk, actor=staff["clerk"], as_of=AS_OF)
    exc.refresh_from_db()
    assert exc.status == "open"


# --- issued bills never change; corrections -------------------------------------------------------------


def test_issued_bill_cannot_be_changed_by_audit_actions(org, tariffs, staff):
    acct, m, bill = _issued_bill(org, staff)
    with pytest.raises(services.UnableToModifyIssuedBill):
        services.assert_bill_mutable(bill)
    with pytest.raises(services.UnableToResolveException):
        services.bill_release(bill_id=bill.pk, actor=staff["auditor"], as_of=AS_OF, note="x")


def test_correction_is_credit_note_plus_rebill_approved_by_a_second_person(org, tariffs, staff):
    acct, m, bill = _issued_bill(org, staff, "1000", "1500")
    lines_before = _lines(bill)
    with pytest.raises(ValidationFailed):
        services.bill_correct(bill_id=bill.pk, reason="", actor=staff["clerk"], as_of=AS_OF)
    corr = services.bill_correct(bill_id=bill.pk, reason="closing read misread (1500 → 1150)",
                                 reads={(m.pk, "total"): "1150"}, actor=staff["clerk"], as_of=at(2026, 11, 10))
    credit, rebill = corr.credit, corr.rebill
    assert (credit.kind, credit.version, credit.total_fen, credit.corrects_id) == ("credit", 2, -30643, bill.pk)
    assert (rebill.kind, rebill.version, rebill.total_fen, rebill.corrects_id) == ("invoice", 2, 8833, bill.pk)
    assert credit.number == f"C202610-{acct.number}-2" and rebill.number == f"B202610-{acct.number}-2"
    assert sum(ln.amount_fen for ln in credit.lines.all()) == -30643
    # The original is untouched.
    bill.refresh_from_db()
    assert (bill.status, bill.total_fen, _lines(bill)) == ("issued", 30643, lines_before)
    # A second correction while one waits is refused.
    with pytest.raises(services.UnableToCorrectBill):
        services.bill_correct(bill_id=bill.pk, reason="again", actor=staff["clerk"], as_of=AS_OF)
    # Two-person rule.
    with pytest.raises(PermissionDenied):
        services.bill_correction_approve(rebill_id=rebill.pk, actor=staff["clerk"], as_of=AS_OF)
    done = services.bill_correction_approve(rebill_id=rebill.pk, actor=staff["approver"], as_of=at(2026, 11, 11))
    assert (done.credit.status, done.rebill.status) == ("issued", "issued")
    assert done.rebill.approved_by_id == staff["approver"].pk
    # The customer sees all three documents; the effective bill is the rebill.
    cust_user = user("customer", customer=acct.customer)
    visible = list(selectors.bill_list_for_account(user=cust_user, account_id=acct.pk).values_list("number", flat=True))
    assert sorted(visible) == sorted([bill.number, credit.number, rebill.number])
    assert selectors.latest_bill(user=cust_user, account_id=acct.pk).pk == rebill.pk
    # Only the latest version can be corrected again.
    with pytest.raises(services.UnableToCorrectBill):
        services.bill_correct(bill_id=bill.pk, reason="again", actor=staff["clerk"], as_of=AS_OF)


def test_preparer_cannot_approve_own_correction(org, tariffs, staff):
    acct, m, bill = _issued_bill(org, staff)
    corr = services.bill_correct(bill_id=bill.pk, reason="re-rate", actor=staff["admin"], as_of=AS_OF)
    with pytest.raises(services.UnableToApproveBills):
        services.bill_correction_approve(rebill_id=corr.rebill.pk, actor=staff["admin"], as_of=AS_OF)
    assert Bill.objects.get(pk=corr.rebill.pk).status == "draft"


# --- audit configuration --------------------------------------------------------------------------------


def test_rules_can_be_switched_off_and_sampling_picks_clean_bills(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    services.audit_rule_set(code="first_bill", enabled=False, params={}, actor=staff["auditor"], as_of=AS_OF)
    services.audit_rule_set(code="sampling", enabled=True, params={"rate": "1"}, actor=staff["auditor"], as_of=AS_OF)
    _run(staff)
    bill = Bill.objects.get()
    assert bill.sampled is True
    assert list(bill.exceptions.values_list("rule", flat=True)) == ["sample"]


def test_sampling_rate_is_validated(org, staff):
    with pytest.raises(ValidationFailed) as err:
        services.audit_rule_set(code="sampling", enabled=True, params={"rate": "1.5"}, actor=staff["auditor"],
                                as_of=AS_OF)
    assert err.value.field == "params.rate"
    with pytest.raises(ValidationFailed):
        services.audit_rule_set(code="nope", enabled=True, params={}, actor=staff["auditor"], as_of=AS_OF)


def test_usage_change_against_last_month(org, tariffs, staff):
    acct, m = residential(org["PY1"], "1000", "1100", start_on=date(2026, 9, 1), end_on=OCT1)
    seed_read(m, "total", NOV1, "1400")
    _run(staff, period="2026-09")
    _confirm_all(staff)
    run = BillingRun.objects.get(period_code="2026-09")
    services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    _run(staff)
    bill = Bill.objects.get(period_code="2026-10")
    exc = bill.exceptions.get()
    assert exc.rule == "usage_change_mom"
    assert exc.data == {"kwh": "300", "before_kwh": "100", "change": "+200%"}
    # Opening read of October is September's closing read.
    assert list(bill.reads.values_list("start_value", "end_value")) == [(1_100_000, 1_400_000)]


# --- period close ------------------------------------------------------------------------------------------


def test_period_close_waits_for_issue(org, tariffs, staff):
    acct, _ = residential(org["PY1"], "1000", "1150")
    run = _run(staff)
    period = BillingPeriod.objects.get(code="2026-10")
    with pytest.raises(services.UnableToClosePeriod):
        services.billing_period_close(period_id=period.pk, actor=staff["approver"], as_of=AS_OF)
    _confirm_all(staff)
    services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    closed = services.billing_period_close(period_id=period.pk, actor=staff["approver"], as_of=AS_OF)
    assert closed.status == "closed"
    with pytest.raises(services.UnableToStartRun):
        services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)

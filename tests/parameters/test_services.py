"""Parameter versions with two-person approval, and back-billing cases against issued bills."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from gridcare.access.models import AuditEvent
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.parameters import services
from gridcare.parameters.backbilling import BackBillingInvalid
from gridcare.parameters.models import BackBillingCase, BillingParameter, ParameterLink
from gridcare.parameters.selectors import backbilling_bill_draft
from gridcare.parameters.specs import ParameterSpecInvalid
from tests.factories import user
from tests.parameters.fixtures import AS_OF, issue_bill

D = date


def propose(pw, actor=None, **kw):
    kw.setdefault("effective_from", D(2026, 1, 1))
    kw.setdefault("reason", "供用电合同第 5 条")
    return services.parameter_propose(actor=actor or pw.clerk, as_of=AS_OF, **kw)


def test_propose_then_approve_by_a_second_person(pworld):
    pw = pworld
    p = propose(pw, actor=pw.admin, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"})
    assert (p.status, p.version, p.proposed_by_id) == ("pending", 1, pw.admin.pk)
    with pytest.raises(services.UnableToDecide) as info:
        services.parameter_approve(parameter_id=p.pk, actor=pw.admin, as_of=AS_OF)
    assert info.value.message == "two-person rule: whoever proposed a parameter cannot approve it"
    with pytest.raises(PermissionDenied):  # a clerk may propose but not approve
        services.parameter_approve(parameter_id=p.pk, actor=pw.clerk2, as_of=AS_OF)
    p.refresh_from_db()
    assert p.status == "pending"  # nothing changed by the refused attempts
    done = services.parameter_approve(parameter_id=p.pk, actor=pw.approver, as_of=AS_OF, note="核对低保证")
    assert (done.status, done.decided_by_id, done.decision_note) == ("approved", pw.approver.pk, "核对低保证")
    with pytest.raises(services.UnableToDecide):
        services.parameter_approve(parameter_id=p.pk, actor=pw.approver, as_of=AS_OF)
    actions = list(AuditEvent.objects.filter(object_type="billing_parameter", object_id=str(p.pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["create", "action"]


def test_versions_number_per_series_and_links_are_kept(pworld):
    pw = pworld
    first = propose(pw, account_id=pw.shop.pk, kind="deduction", spec={"parent_account_id": pw.park.pk})
    second = propose(pw, account_id=pw.shop.pk, kind="deduction", spec={"parent_account_id": pw.park.pk,
                                                                        "registers": "proportional"},
                     effective_from=D(2026, 4, 1))
    other = propose(pw, account_id=pw.shop.pk, kind="free_allowance", spec={"scheme": "subsistence"})
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert list(ParameterLink.objects.filter(parameter=first).values_list("account_id", "role")) == [
        (pw.park.pk, "parent")]


def test_bad_input_is_rejected_and_nothing_is_written(pworld):
    pw = pworld
    cases = [
        (dict(account_id=pw.park.pk, kind="split", spec={"ratios": [{"percent": "70"},
                                                                   {"percent": "20", "tariff": "gz-residential"}]}),
         ParameterSpecInvalid, "spec.ratios", "fixed ratios must add up to 100%; these add up to 90%"),
        (dict(account_id=pw.park.pk, kind="deduction", spec={"parent_account_id": pw.shop.pk}),
         ParameterSpecInvalid, "spec.parent_account_id",
         "the child meter's capacity 630 kVA is larger than its parent's 100 kVA: a child meter sits behind its "
         "parent"),
        (dict(account_id=pw.park.pk, kind="deduction", spec={"parent_account_id": pw.park.pk}),
         ParameterSpecInvalid, "spec.parent_account_id", "an account cannot be its own parent"),
        (dict(account_id=pw.park.pk, kind="split", spec={"quantities": [{"kwh": "300", "tariff": "nowhere"}]}),
         ParameterSpecInvalid, "spec.quantities[0].tariff", "spec.quantities[0].tariff: unknown tariff 'nowhere'"),
        (dict(account_id=pw.park.pk, kind="sharing", spec={"members": [{"account_id": pw.sz_account.pk,
                                                                         "percent": "100"}]}),
         ParameterSpecInvalid, "spec.members[0].account_id", f"member account {pw.sz_account.pk} not found"),
        (dict(account_id=pw.park.pk, kind="free_allowance", spec={"scheme": "subsistence"},
              effective_to=D(2025, 12, 1)),
         ValidationFailed, "effective_to", "effective_to must be after effective_from"),
        (dict(account_id=pw.park.pk, kind="free_allowance", spec={"scheme": "subsistence"}, reason=" "),
         ValidationFailed, "reason", "say why the parameter changes"),
        (dict(account_id=pw.sz_account.pk, kind="free_allowance", spec={"scheme": "subsistence"}),
         NotFound, "account_id", f"account {pw.sz_account.pk} not found"),
    ]
    for kwargs, error, field, message in cases:
        with pytest.raises(error) as info:
            propose(pw, **kwargs)
        assert (info.value.field, info.value.message) == (field, message)
    assert BillingParameter.objects.count() == 0
    with pytest.raises(PermissionDenied):
        propose(pw, actor=pw.agent, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"})


def test_a_deduction_cycle_is_refused_at_approval(pworld):
    pw = pworld
    a = propose(pw, account_id=pw.shop.pk, kind="deduction", spec={"parent_account_id": pw.flat.pk})
    b = propose(pw, account_id=pw.flat.pk, kind="deduction", spec={"parent_account_id": pw.shop.pk})
    services.parameter_approve(parameter_id=a.pk, actor=pw.approver, as_of=AS_OF)
    with pytest.raises(ParameterSpecInvalid) as info:
        services.parameter_approve(parameter_id=b.pk, actor=pw.approver, as_of=AS_OF)
    assert info.value.message == f"this parent would make a cycle: {pw.flat.pk} → {pw.shop.pk} → {pw.flat.pk}"
    b.refresh_from_db()
    assert b.status == "pending"


def test_reject_needs_a_note_and_withdraw_is_for_the_proposer(pworld):
    pw = pworld
    p = propose(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"})
    with pytest.raises(ValidationFailed):
        services.parameter_reject(parameter_id=p.pk, actor=pw.approver, as_of=AS_OF, note="")
    rejected = services.parameter_reject(parameter_id=p.pk, actor=pw.approver, as_of=AS_OF, note="证明过期")
    assert (rejected.status, rejected.decision_note) == ("rejected", "证明过期")
    q = propose(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"})
    with pytest.raises(services.UnableToDecide):
        services.parameter_withdraw(parameter_id=q.pk, actor=pw.clerk2, as_of=AS_OF)
    assert services.parameter_withdraw(parameter_id=q.pk, actor=pw.clerk, as_of=AS_OF).status == "withdrawn"


def test_a_cleared_version_carries_no_spec(pworld):
    pw = pworld
    with pytest.raises(ValidationFailed) as info:
        propose(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"}, cleared=True)
    assert info.value.field == "spec"
    p = propose(pw, account_id=pw.flat.pk, kind="free_allowance", spec=None, cleared=True,
                effective_from=D(2026, 6, 1))
    assert (p.cleared, p.spec) == (True, {})


# -- back-billing -----------------------------------------------------------------------------------

def jan_feb_bills(pw):
    m = pw.meters[pw.flat.pk]
    return [issue_bill(pw.flat, m, "2026-01", D(2026, 1, 1), D(2026, 2, 1), [("total", "1", 100_000)]),
            issue_bill(pw.flat, m, "2026-02", D(2026, 2, 1), D(2026, 3, 1), [("total", "1", 120_000)])]


def test_backbilling_case_from_issued_bills_with_two_person_approval(pworld):
    pw = pworld
    jan, feb = jan_feb_bills(pw)
    # Wrong wiring, 更正率 200 %: Jan 100 -> 300 kWh, Feb 120 -> 360 kWh (gz-residential).
    # Jan: 58.89 -> 200 × 0.5802 + 100 × 0.6302 + 300 × 0.00866875 (2.60) = 181.66, +122.77
    # Feb: 120 × 0.5802 = 69.62 + 1.04 = 70.66 -> 116.04 + 160 × 0.6302 (100.83) + 3.12 = 219.99, +149.33
    case = services.backbilling_case_prepare(
        data=services.CaseInput(account_id=pw.flat.pk, kind="wiring_correction", correction={"correction_rate": "2"},
                                period_codes=["2026-02", "2026-01"], reason="现场检查发现 A 相电流反接"),
        actor=pw.admin, as_of=AS_OF)
    assert (case.status, case.period_codes, case.total_fen) == ("draft", ["2026-01", "2026-02"], 12277 + 14933)
    assert case.number == "TB202603-0600000003-1"
    assert [(s["period_code"], s["bill_number"], s["original_fen"], s["corrected_fen"], s["reproduced"])
            for s in case.summary] == [("2026-01", jan.number, 5889, 18166, True),
                                       ("2026-02", feb.number, 7066, 21999, True)]
    assert sum(ln.amount_fen for ln in case.lines.all()) == case.total_fen
    assert {ln.original_bill_number for ln in case.lines.all()} == {jan.number, feb.number}
    with pytest.raises(services.UnableToDecide):
        services.backbilling_case_approve(case_id=case.pk, actor=pw.admin, as_of=AS_OF)
    approved = services.backbilling_case_approve(case_id=case.pk, actor=pw.approver, as_of=AS_OF)
    assert approved.status == "approved"
    draft = backbilling_bill_draft(case_id=case.pk)
    assert (draft.total_fen, draft.start_date, draft.end_date) == (27210, D(2026, 1, 1), D(2026, 3, 1))
    assert sum(ln["amount_fen"] for ln in draft.lines) == 27210
    assert draft.lines[0]["line_code"].startswith("backbilling.")
    billed = services.backbilling_case_mark_billed(case_id=case.pk, bill_number="A202603-0600000003-1",
                                                   as_of=AS_OF + timedelta(hours=1))
    assert (billed.status, billed.bill_number) == ("billed", "A202603-0600000003-1")
    with pytest.raises(services.UnableToDecide):
        services.backbilling_case_mark_billed(case_id=case.pk, bill_number="again", as_of=AS_OF)


def test_backbilling_needs_issued_bills_and_a_change(pworld):
    pw = pworld
    jan_feb_bills(pw)
    with pytest.raises(ValidationFailed) as info:
        services.backbilling_case_prepare(
            data=services.CaseInput(account_id=pw.flat.pk, kind="wrong_tariff", correction={"tariff": "gz-residential"},
                                    period_codes=["2026-01"], reason="核对"), actor=pw.clerk, as_of=AS_OF)
    assert info.value.message == "the correction changes nothing on these bills"
    with pytest.raises(ValidationFailed) as info:
        services.backbilling_case_prepare(
            data=services.CaseInput(account_id=pw.flat.pk, kind="wiring_correction",
                                    correction={"correction_rate": "1"}, period_codes=["2025-11"], reason="核对"),
            actor=pw.clerk, as_of=AS_OF)
    assert (info.value.field, info.value.message) == ("period_codes", "no issued bill for period(s) 2025-11")
    with pytest.raises(BackBillingInvalid):
        services.backbilling_case_prepare(
            data=services.CaseInput(account_id=pw.flat.pk, kind="meter_error", correction={"error_percent": "0"},
                                    period_codes=["2026-01"], reason="核对"), actor=pw.clerk, as_of=AS_OF)
    assert BackBillingCase.objects.count() == 0


def test_unauthorised_capacity_case_needs_no_bills(pworld):
    pw = pworld
    case = services.backbilling_case_prepare(
        data=services.CaseInput(account_id=pw.flat.pk, kind="unauthorised_capacity",
                                correction={"added_kva": "4", "months": 2}, period_codes=[], reason="用电检查"),
        actor=pw.clerk, as_of=AS_OF)
    # Not a two-part tariff: 4 kVA × 50 元 = 200.00
    assert (case.total_fen, case.lines.get().line_code, case.lines.get().unit_price) == (
        20000, "capacity.unauthorised_penalty", Decimal("50.00000000"))
    rejected = services.backbilling_case_reject(case_id=case.pk, actor=pw.approver, as_of=AS_OF, note="证据不足")
    assert rejected.status == "rejected"
    with pytest.raises(services.UnableToDecide):
        services.backbilling_case_mark_billed(case_id=case.pk, bill_number="X", as_of=AS_OF)


def test_demo_loader_is_deterministic_and_idempotent(pworld):
    from gridcare.customers.models import Account
    from gridcare.parameters.demo import load_demo
    from tests.factories import account, customer

    pw = pworld
    person = customer(pw.units["PY1"], name="演示户")
    for i in range(120):
        account(person, number=f"07{i:08d}", tariff_code="gz-residential")
    first = load_demo(seed=1, as_of=AS_OF)
    n = BillingParameter.objects.count()
    assert first.startswith("demo billing parameters:") and n > 0
    assert set(BillingParameter.objects.values_list("status", flat=True)) == {"approved"}
    assert all(p.proposed_by_id != p.decided_by_id for p in BillingParameter.objects.all())
    assert load_demo(seed=1, as_of=AS_OF) == "demo billing parameters: 0 free allowances, 0 splits"
    assert BillingParameter.objects.count() == n
    assert Account.objects.count() >= 120


def test_out_of_scope_users_get_not_found(pworld):
    pw = pworld
    p = propose(pw, account_id=pw.flat.pk, kind="free_allowance", spec={"scheme": "subsistence"})
    sz_approver = user("approver", org_unit=pw.units["SZ"])
    with pytest.raises(NotFound):
        services.parameter_approve(parameter_id=p.pk, actor=sz_approver, as_of=AS_OF)
    p.refresh_from_db()
    assert p.status == "pending"

"""The billing run with billing parameters: the hook in gridcare.billing.pipeline applies them
around rating (free allowance credit line, parent net of its child, a blocked parent skipped)."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.billing import services as billing
from gridcare.billing.models import Bill, BillingRunSkip
from gridcare.parameters import services
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import AS_OF, residential
from tests.factories import user

pytestmark = pytest.mark.django_db
tariffs = billing_fixtures.tariffs


def approve(clerk, approver, **kw):
    p = services.parameter_propose(actor=clerk, as_of=AS_OF, reason="合同", effective_from=date(2026, 1, 1), **kw)
    services.parameter_approve(parameter_id=p.pk, actor=approver, as_of=AS_OF)


def lines(bill):
    return [(ln.line_code, str(ln.quantity), ln.amount_fen) for ln in bill.lines.order_by("line_no")]


def test_billing_run_applies_the_parameters(org, tariffs):
    clerk = user("billing_clerk", org["GD"], username="pclerk")
    approver = user("approver", org["GD"], username="papprover")
    household, _ = residential(org["PY1"], "1000", "1150")
    parent, _ = residential(org["PY1"], "1000", "1500", name="总表")
    child, _ = residential(org["PY1"], "1000", "1120", name="子表")
    small, _ = residential(org["PY1"], "1000", "1100", name="小总表")
    big_child, _ = residential(org["PY1"], "1000", "1130", name="大子表")
    approve(clerk, approver, account_id=household.pk, kind="free_allowance", spec={"scheme": "subsistence"})
    approve(clerk, approver, account_id=child.pk, kind="deduction", spec={"parent_account_id": parent.pk})
    approve(clerk, approver, account_id=big_child.pk, kind="deduction", spec={"parent_account_id": small.pk})

    run = billing.billing_run_start(period_code="2026-10", org_unit=None, actor=clerk, as_of=AS_OF)
    run = billing.billing_run_execute(run_id=run.pk, as_of=AS_OF)

    # 150 kWh: 150 × 0.5802 = 87.03, funds 1.30; 10 kWh free at 0.5802 = −5.80.
    b = Bill.objects.get(account=household)
    assert lines(b) == [("energy.tier1", "150.000", 8703), ("funds.all", "150.000", 130),
                        ("allowance.free_kwh", "10.000", -580)]
    assert b.total_fen == 8253 == sum(ln.amount_fen for ln in b.lines.all())
    # Parent 500 − child 120 = 380 kWh (October, thresholds 260/600): 260 × 0.5802 = 150.85,
    # 120 × 0.6302 = 75.62, funds 380 × 0.00866875 = 3.29. The child is billed its own 120 kWh.
    p = Bill.objects.get(account=parent)
    assert (p.energy_wh, lines(p)) == (380_000, [("energy.tier1", "260.000", 15085),
                                                 ("energy.tier2", "120.000", 7562), ("funds.all", "380.000", 329)])
    assert Bill.objects.get(account=child).energy_wh == 120_000
    # A child larger than its parent: the parent is not billed, the reason says why.
    assert not Bill.objects.filter(account=small).exists()
    skip = BillingRunSkip.objects.get(run=run, account=small)
    assert "parameters.deduction" in skip.reason and "more than parent account" in skip.reason
    assert Bill.objects.filter(account=big_child).exists()

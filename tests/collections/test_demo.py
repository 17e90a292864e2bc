"""The demo loader dunns the days its stages fell due, assesses late fees on every account in arrears and is
idempotent."""

from __future__ import annotations

from datetime import date

from gridcare.collections.demo import load_demo
from gridcare.collections.models import Notice
from tests.collections.conftest import at
from tests.collections.ledger_helpers import bill


def test_demo_runs_the_job_and_twice_changes_nothing(co):
    bill(co.home, 12_345, due=date(2026, 11, 18))
    bill(co.home, 4_321, due=date(2026, 11, 19))
    # Stage days in the look-back: 11-16 (before_due of the 11-18 bill: SMS + e-mail), 11-17
    # (before_due of the 11-19 bill: SMS + e-mail) and 11-18 (due_today of the first bill: SMS);
    # the later stages (+3, +10, +25 days) are still to come.
    summary = load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert "dunning on 3 stage days: 5 messages" in summary
    assert sorted(Notice.objects.values_list("stage", flat=True)) == [
        "before_due", "before_due", "before_due", "before_due", "due_today"]
    count = Notice.objects.count()
    load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert Notice.objects.count() == count


def test_demo_assesses_every_account_in_arrears_once(co):
    from gridcare.collections.models import LateFeeAssessment
    from gridcare.payments.models import Charge
    from tests.collections.ledger_helpers import pay

    overdue = bill(co.shop, 300_000, due=date(2026, 10, 15))
    young = bill(co.home, 5_000, due=date(2026, 11, 17))
    bill(co.ward, 20_000, due=date(2026, 10, 20))
    pay(co.ward, 20_000, on=date(2026, 11, 5))  # paid late, but the demo leaves payment-time fees to the job
    summary = load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    # 3000 元 × 34 days (10-16 … 11-18) × 2‰ = 204.00; 50 元 × 1 day × 1‰ = 0.05 → minimum 1.00
    assert "2 late fees (205.00 元) on the 2 accounts in arrears" in summary
    assert sorted(LateFeeAssessment.objects.values_list("charge_id", "reason", "through", "posted_fen")) == sorted([
        (overdue.pk, "counter", date(2026, 11, 18), 20_400), (young.pk, "counter", date(2026, 11, 18), 100)])
    again = load_demo(seed=1, as_of=at(2026, 11, 18, 9))
    assert "0 late fees (0.00 元) on the" in again
    assert Charge.objects.filter(kind="late_fee").count() == 2

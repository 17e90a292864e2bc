"""Late-fee assessment against the ledger: month end, payment time, counter; idempotency."""

from __future__ import annotations

from datetime import date

from gridcare.collections.models import LateFeeAssessment
from gridcare.collections.services import late_fee_quote, late_fees_assess, late_fees_assess_account
from gridcare.payments.models import Charge, JournalEntry
from tests import factories as f
from tests.collections.conftest import at
from tests.collections.ledger_helpers import (
    balance_matches_postings,
    bill,
    entries_balance,
    outstanding,
    pay,
)


def test_month_end_posts_the_fee_on_every_overdue_bill(co):
    b1 = bill(co.shop, 300_000, due=date(2026, 11, 15))  # 3000 元, general C&I: 2‰
    bill(co.home, 10_000, due=date(2026, 11, 28))  # 100 元 residential: 2 days × 1‰ = 0.20 → minimum 1 元
    bill(co.home, 20_000, due=date(2026, 12, 15))  # not due yet
    result = late_fees_assess(as_of=at(2026, 11, 30, 23, 0))
    assert result.posted == 2
    fee_shop = LateFeeAssessment.objects.get(charge=b1)
    assert (fee_shop.days, fee_shop.cumulative_fen, fee_shop.posted_fen) == (15, 9_000, 9_000)  # 3000×15×2‰=90
    assert fee_shop.reason == "month_end" and fee_shop.through == date(2026, 11, 30)
    fee_home = LateFeeAssessment.objects.get(account=co.home)
    assert (fee_home.minimum_applied, fee_home.posted_fen) == (True, 100)
    item = fee_shop.fee_charge
    assert (item.kind, item.parent_id, item.amount_fen, outstanding(item)) == ("late_fee", b1.pk, 9_000, 9_000)
    assert JournalEntry.objects.get(charge=item).kind == "late_fee"
    assert entries_balance() and balance_matches_postings(co.shop) and balance_matches_postings(co.home)
    # the same night again, or a re-run: nothing more
    again = late_fees_assess(as_of=at(2026, 11, 30, 23, 30))
    assert (again.posted, again.unchanged) == (0, 2)
    assert Charge.objects.filter(kind="late_fee").count() == 2


def test_paid_late_the_fee_runs_to_the_payment_date_and_only_the_difference_is_posted(co):
    b1 = bill(co.shop, 300_000, due=date(2026, 11, 15))
    late_fees_assess(as_of=at(2026, 11, 30, 23))  # 15 days: 90 元
    pay(co.shop, 300_000, on=date(2026, 12, 4))  # 19 days in all: 114 元
    result = late_fees_assess(as_of=at(2026, 12, 4, 23))
    assert result.by_reason == {"payment": 1}
    rows = list(LateFeeAssessment.objects.filter(charge=b1).order_by("through"))
    assert [(r.through, r.cumulative_fen, r.posted_fen) for r in rows] == [
        (date(2026, 11, 30), 9_000, 9_000), (date(2026, 12, 4), 11_400, 2_400)]
    assert sum(c.amount_fen for c in Charge.objects.filter(kind="late_fee", parent=b1)) == 11_400
    # the next nights find nothing new for this bill
    assert late_fees_assess(as_of=at(2026, 12, 5, 23)).posted == 0
    assert late_fees_assess(as_of=at(2026, 12, 31, 23)).posted == 0
    assert entries_balance() and balance_matches_postings(co.shop)


def test_paid_on_time_accrues_nothing(co):
    bill(co.shop, 300_000, due=date(2026, 11, 15))
    pay(co.shop, 300_000, on=date(2026, 11, 15))
    assert late_fees_assess(as_of=at(2026, 11, 30, 23)).posted == 0
    assert not LateFeeAssessment.objects.exists()


def test_partial_payment_keeps_the_bill_accruing_on_the_rest(co):
    b1 = bill(co.shop, 100_000, due=date(2026, 11, 15))
    pay(co.shop, 60_000, on=date(2026, 11, 20))
    late_fees_assess(as_of=at(2026, 11, 30, 23))
    row = LateFeeAssessment.objects.get(charge=b1)
    # 16..20 on 1000 元 (5 days) + 21..30 on 400 元 (10 days), 2‰
    assert row.cumulative_fen == 1_000 + 800
    assert row.bands == [
        {"from": "2026-11-16", "to": "2026-11-20", "days": 5, "principal_fen": 100_000, "rate": "0.002",
         "cross_year": False},
        {"from": "2026-11-21", "to": "2026-11-30", "days": 10, "principal_fen": 40_000, "rate": "0.002",
         "cross_year": False},
    ]


def test_counter_assessment_before_a_payment_and_the_quote(co):
    b1 = bill(co.shop, 300_000, due=date(2026, 11, 15))
    quote = late_fee_quote(account_id=co.shop.pk, as_of_date=date(2026, 11, 20))
    assert [(q.charge_id, q.fee.days, q.fee.fee_fen, q.unassessed_fen) for q in quote] == [(b1.pk, 5, 3_000, 3_000)]
    result = late_fees_assess_account(actor=co.cashier, account_id=co.shop.pk, as_of=at(2026, 11, 20, 9))
    assert (result.posted, result.posted_fen) == (1, 3_000)
    assert late_fee_quote(account_id=co.shop.pk, as_of_date=date(2026, 11, 20))[0].unassessed_fen == 0
    # paid the same day: the payment-time assessment finds nothing to add
    pay(co.shop, 303_000, on=date(2026, 11, 20))
    assert late_fees_assess(as_of=at(2026, 11, 20, 23)).posted == 0
    assert balance_matches_postings(co.shop)


def test_counter_assessment_needs_the_collect_capability(co):
    import pytest

    from gridcare.core.errors import PermissionDenied

    bill(co.shop, 300_000, due=date(2026, 11, 15))
    with pytest.raises(PermissionDenied):
        late_fees_assess_account(actor=co.agent, account_id=co.shop.pk, as_of=at(2026, 11, 20))
    assert not LateFeeAssessment.objects.exists()


def test_waiver_needs_a_second_person_and_credits_the_late_fee(co):
    import pytest

    from gridcare.collections.services import late_fee_waiver_decide, late_fee_waiver_request
    from gridcare.core.errors import NotFound, PermissionDenied

    bill_charge = bill(co.shop, 300_000, due=date(2026, 11, 15))
    late_fees_assess(as_of=at(2026, 11, 30, 23))
    fee = Charge.objects.get(kind="late_fee")
    with pytest.raises(NotFound):
        late_fee_waiver_request(actor=co.cashier, fee_charge_id=bill_charge.pk, amount_fen=100, reason="x",
                                as_of=at(2026, 12, 1))  # a bill is not a late fee
    admin = f.user("administrator", co.org["GD"], username="boss")
    own = late_fee_waiver_request(actor=admin, fee_charge_id=fee.pk, amount_fen=5_000, reason="试算",
                                  as_of=at(2026, 12, 1, 9))
    with pytest.raises(PermissionDenied):  # two-person rule, even for an administrator
        late_fee_waiver_decide(actor=admin, request_id=own.pk, approve=True, as_of=at(2026, 12, 1, 9))
    late_fee_waiver_decide(actor=co.approver, request_id=own.pk, approve=False, note="重复申请", as_of=at(2026, 12, 1, 9))
    request = late_fee_waiver_request(actor=co.cashier, fee_charge_id=fee.pk, amount_fen=5_000,
                                      reason="系统故障导致逾期", as_of=at(2026, 12, 1, 10))
    assert outstanding(fee) == 9_000  # nothing posted yet
    with pytest.raises(PermissionDenied):
        late_fee_waiver_decide(actor=co.cashier, request_id=request.pk, approve=True, as_of=at(2026, 12, 1, 11))
    decided = late_fee_waiver_decide(actor=co.approver2, request_id=request.pk, approve=True, note="同意",
                                     as_of=at(2026, 12, 1, 11))
    assert (decided.status, decided.decided_by, outstanding(fee)) == ("approved", co.approver2, 4_000)
    assert JournalEntry.objects.get(pk=decided.entry_id).kind == "waiver"
    assert entries_balance() and balance_matches_postings(co.shop)
    # the waived part is not assessed again when the bill is finally paid
    pay(co.shop, 300_000, on=date(2026, 12, 4))
    late_fees_assess(as_of=at(2026, 12, 4, 23))
    assert LateFeeAssessment.objects.filter(charge=bill_charge).order_by("through").last().posted_fen == 2_400

"""The set-based month-end assessment and the one-account (counter) assessment give the same fees.

Two identical populations (residential 1‰; other users 2‰ in the due date's year and 3‰ across the
year end; a partial payment; a fee raised to the minimum; a fee partly waived with approval) go
through the same history: one is assessed account by account, the other by the nightly bulk run in
chunks of a few bills. Fees, working and ledger must be identical; a second run posts nothing.
"""

from __future__ import annotations

from datetime import date

from gridcare.collections.models import LateFeeAssessment
from gridcare.collections.services import (
    late_fee_waiver_decide,
    late_fee_waiver_request,
    late_fees_assess,
    late_fees_assess_account,
)
from gridcare.payments.models import AccountLedger, Charge
from tests import factories as f
from tests.collections.conftest import at
from tests.collections.ledger_helpers import balance_matches_postings, bill, entries_balance, outstanding, pay

KINDS = {"r1": "residential", "r2": "residential", "s1": "general_ci", "s2": "general_ci", "s3": "general_ci"}


def _population(co, prefix: str) -> dict[str, tuple]:
    accounts = {}
    for n, (key, category) in enumerate(KINDS.items()):
        owner = f.customer(co.org["PY1"], name=f"{prefix}{key}", phone=f"1390000{n:04d}",
                           kind="person" if category == "residential" else "organisation")
        accounts[key] = f.account(owner, number=f"{prefix}{n:09d}", category=category, tariff_code="")
    bills = {
        "r1": bill(accounts["r1"], 50_000, due=date(2026, 12, 10)),  # 500 元 residential, unpaid
        "r2": bill(accounts["r2"], 10_000, due=date(2027, 1, 29)),  # 2 days × 1‰ × 100 元 → minimum 1 元
        "s1": bill(accounts["s1"], 300_000, due=date(2026, 12, 15)),  # across the year end
        "s2": bill(accounts["s2"], 100_000, due=date(2027, 1, 10)),  # paid in part on 01-20
        "s3": bill(accounts["s3"], 200_000, due=date(2026, 12, 1)),  # its December fee partly waived
    }
    return {key: (accounts[key], bills[key]) for key in KINDS}


def _history(co, population: dict[str, tuple], assess) -> None:
    """The same events for a population; `assess(day)` is the assessment under test."""
    assess(date(2026, 12, 31))
    fee = Charge.objects.get(kind="late_fee", parent=population["s3"][1])
    request = late_fee_waiver_request(actor=co.cashier, fee_charge_id=fee.pk, amount_fen=5_000, reason="系统故障",
                                      as_of=at(2027, 1, 5, 10))
    late_fee_waiver_decide(actor=co.approver2, request_id=request.pk, approve=True, as_of=at(2027, 1, 5, 11))
    pay(population["s2"][0], 60_000, on=date(2027, 1, 20))
    assess(date(2027, 1, 31))


def _rows(bill_charge: Charge) -> list[tuple]:
    return [(r.through, r.days, r.exact_fen, r.cumulative_fen, r.posted_fen, r.minimum_applied, r.bands, r.formula,
             r.fee_charge.amount_fen if r.fee_charge else None)
            for r in LateFeeAssessment.objects.filter(charge=bill_charge).order_by("through")]


def test_bulk_and_per_account_assessment_give_identical_fees_and_a_second_run_posts_nothing(co):
    single = _population(co, "S")

    def per_account(day: date) -> None:
        for account, _bill in single.values():
            late_fees_assess_account(actor=co.cashier, account_id=account.pk, as_of=at(day.year, day.month, day.day, 22))

    _history(co, single, per_account)
    bulk = _population(co, "B")
    seen: list[tuple[int, int]] = []

    def month_end(day: date) -> None:
        # chunks of two bills: several transactions, never splitting an account
        result = late_fees_assess(as_of=at(day.year, day.month, day.day, 23), chunk_size=2,
                                  progress=lambda n, total: seen.append((n, total)))
        assert result.unchanged == {12: 3, 1: 5}[day.month]  # the per-account population, already assessed

    _history(co, bulk, month_end)
    assert seen[-1][0] == seen[-1][1] and len(seen) > 2

    for key in KINDS:
        assert _rows(bulk[key][1]) == _rows(single[key][1]), key
    # The figures themselves (fen):
    by_key = {key: [(r[0], r[3], r[4]) for r in _rows(bulk[key][1])] for key in KINDS}
    assert by_key == {
        # 500 元 × 21 days × 1‰ = 10.50; then × 52 days = 26.00 (1‰ in both years)
        "r1": [(date(2026, 12, 31), 1_050, 1_050), (date(2027, 1, 31), 2_600, 1_550)],
        # 100 元 × 2 days × 1‰ = 0.20 元 → minimum 1 元
        "r2": [(date(2027, 1, 31), 100, 100)],
        # 3000 元 × 16 × 2‰ = 96 元; + 3000 × 31 × 3‰ = 279 元 across the year end
        "s1": [(date(2026, 12, 31), 9_600, 9_600), (date(2027, 1, 31), 37_500, 27_900)],
        # 1000 元 × 10 days (01-11 … 01-20) × 2‰ + 400 元 × 11 days × 2‰ = 20.00 + 8.80
        "s2": [(date(2027, 1, 31), 2_880, 2_880)],
        # 2000 × 30 × 2‰ = 120 元, 50 元 waived; then + 2000 × 31 × 3‰ = 186 元 (the waiver is not charged again)
        "s3": [(date(2026, 12, 31), 12_000, 12_000), (date(2027, 1, 31), 30_600, 18_600)],
    }
    for key in KINDS:
        b_account, s_account = bulk[key][0], single[key][0]
        assert (AccountLedger.objects.get(account=b_account).balance_fen
                == AccountLedger.objects.get(account=s_account).balance_fen)
        assert balance_matches_postings(b_account) and balance_matches_postings(s_account)
        fees = [outstanding(c) for c in Charge.objects.filter(kind="late_fee", parent=bulk[key][1]).order_by("id")]
        twins = [outstanding(c) for c in Charge.objects.filter(kind="late_fee", parent=single[key][1]).order_by("id")]
        assert fees == twins
    assert entries_balance()
    assert [outstanding(c) for c in Charge.objects.filter(kind="late_fee", parent=bulk["s3"][1]).order_by("id")] == [
        7_000, 18_600]

    # A second run, either way, posts nothing.
    count = Charge.objects.filter(kind="late_fee").count()
    again = late_fees_assess(as_of=at(2027, 1, 31, 23, 30), chunk_size=3)
    assert (again.posted, again.posted_fen, again.bills, again.unchanged) == (0, 0, 0, 10)
    for account, _bill in single.values():
        assert late_fees_assess_account(actor=None, account_id=account.pk, as_of=at(2027, 1, 31, 23, 45)).posted == 0
    assert Charge.objects.filter(kind="late_fee").count() == count


def test_an_interrupted_run_keeps_its_committed_chunks_and_the_next_run_finishes(co):
    import pytest

    population = _population(co, "R")

    class Stop(Exception):
        pass

    def stop_after_first_chunk(n: int, total: int) -> None:
        raise Stop(f"{n} of {total}")

    with pytest.raises(Stop, match="^2 of 3$"):  # r1, s1, s3 overdue at 12-31; chunks of two bills
        late_fees_assess(as_of=at(2026, 12, 31, 23), chunk_size=2, progress=stop_after_first_chunk)
    assert LateFeeAssessment.objects.count() == 2 and Charge.objects.filter(kind="late_fee").count() == 2
    rest = late_fees_assess(as_of=at(2026, 12, 31, 23, 10), chunk_size=2)
    assert (rest.posted, rest.unchanged) == (1, 2)
    assert sorted((r.charge_id, r.cumulative_fen) for r in LateFeeAssessment.objects.all()) == sorted([
        (population["r1"][1].pk, 1_050), (population["s1"][1].pk, 9_600), (population["s3"][1].pk, 12_000)])
    assert entries_balance() and all(balance_matches_postings(a) for a, _b in population.values())

"""The late-fee arithmetic (pure): the published exam example, minimum, rounding, partial payments,
year boundaries, and a day-by-day oracle."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.collections.latefees import LateFeeRule, late_fee, principal_by_day

OTHERS = LateFeeRule(current_year_rate=Decimal("0.002"), cross_year_rate=Decimal("0.003"))
RESIDENTIAL = LateFeeRule(current_year_rate=Decimal("0.001"), cross_year_rate=Decimal("0.001"))


def test_exam_example_industrial_user_across_the_year_end():
    # 某工业电力用户 2021年12月电费 2000 元, 2022年1月电费 3000 元, 交费期限每月 15 日, 2022-01-18 交清:
    # 12月: 2000×16×2‰ (12-16..12-31) + 2000×18×3‰ (1-1..1-18) = 64 + 108; 1月: 3000×3×2‰ = 18; 合计 190 元.
    december = late_fee(due_date=date(2021, 12, 15), through=date(2022, 1, 18), opening_fen=200_000,
                        changes=[(date(2022, 1, 18), -200_000)], rule=OTHERS)
    january = late_fee(due_date=date(2022, 1, 15), through=date(2022, 1, 18), opening_fen=300_000,
                       changes=[(date(2022, 1, 18), -300_000)], rule=OTHERS)
    assert [(b.first_day, b.last_day, b.days, b.rate) for b in december.bands] == [
        (date(2021, 12, 16), date(2021, 12, 31), 16, Decimal("0.002")),
        (date(2022, 1, 1), date(2022, 1, 18), 18, Decimal("0.003")),
    ]
    assert december.fee_fen == 17_200
    assert january.fee_fen == 1_800
    assert december.fee_fen + january.fee_fen == 19_000
    assert january.formula() == "3000.00 元 × 3 天 × 2‰ = 18.0000 元 ≈ 18.00 元"


def test_payment_day_counts_and_later_days_do_not():
    fee = late_fee(due_date=date(2026, 3, 15), through=date(2026, 4, 30), opening_fen=100_000,
                   changes=[(date(2026, 3, 20), -100_000)], rule=RESIDENTIAL)
    assert fee.days == 5  # 16, 17, 18, 19, 20
    assert fee.fee_fen == 500


def test_partial_payment_lowers_the_principal_from_the_next_day():
    fee = late_fee(due_date=date(2026, 3, 15), through=date(2026, 3, 25), opening_fen=100_000,
                   changes=[(date(2026, 3, 18), -60_000)], rule=OTHERS)
    # 16..18 on 1000 元 (3 days), 19..25 on 400 元 (7 days) at 2‰
    assert [(b.days, b.principal_fen) for b in fee.bands] == [(3, 100_000), (7, 40_000)]
    assert fee.exact_fen == Decimal(100_000 * 3 * 2 + 40_000 * 7 * 2) / 1000
    assert fee.fee_fen == 600 + 560


def test_minimum_one_yuan_applies_only_when_something_accrued():
    small = late_fee(due_date=date(2026, 3, 15), through=date(2026, 3, 17), opening_fen=5_000, changes=[],
                     rule=RESIDENTIAL)
    assert small.exact_fen == Decimal("10.000")  # 50 元 × 2 × 1‰ = 0.10 元
    assert small.minimum_applied and small.fee_fen == 100
    assert "不足最低额" in small.formula()
    on_time = late_fee(due_date=date(2026, 3, 15), through=date(2026, 3, 15), opening_fen=5_000, changes=[],
                       rule=RESIDENTIAL)
    assert on_time.fee_fen == 0 and not on_time.bands and not on_time.minimum_applied
    paid_on_due = late_fee(due_date=date(2026, 3, 15), through=date(2026, 3, 30), opening_fen=5_000,
                           changes=[(date(2026, 3, 15), -5_000)], rule=RESIDENTIAL)
    assert paid_on_due.fee_fen == 0


@pytest.mark.parametrize(("mode", "expected"), [("half_up", 3), ("half_even", 2), ("down", 2), ("up", 3)])
def test_rounding_is_applied_once_to_the_total_with_the_configured_mode(mode, expected):
    rule = LateFeeRule(current_year_rate=Decimal("0.001"), cross_year_rate=Decimal("0.001"), minimum_fen=0,
                       rounding=mode)
    # 2500 fen × 1 day × 1‰ = 2.5 fen
    fee = late_fee(due_date=date(2026, 1, 1), through=date(2026, 1, 2), opening_fen=2_500, changes=[], rule=rule)
    assert fee.exact_fen == Decimal("2.5")
    assert fee.fee_fen == expected


def test_grace_days_delay_the_first_accrual_day():
    rule = LateFeeRule(current_year_rate=Decimal("0.001"), cross_year_rate=Decimal("0.001"), grace_days=3)
    fee = late_fee(due_date=date(2026, 3, 15), through=date(2026, 3, 20), opening_fen=1_000_000, changes=[],
                   rule=rule)
    assert fee.bands[0].first_day == date(2026, 3, 19)
    assert fee.days == 2


def test_bad_rules_are_refused():
    with pytest.raises(ValueError):
        LateFeeRule(current_year_rate=Decimal("-0.1"), cross_year_rate=Decimal("0"))
    with pytest.raises(ValueError):
        LateFeeRule(current_year_rate=Decimal("0.1"), cross_year_rate=Decimal("0.1"), rounding="banker")
    with pytest.raises(ValueError):
        LateFeeRule(current_year_rate=0.002, cross_year_rate=Decimal("0"))  # type: ignore[arg-type]


def test_principal_runs_cover_the_window_exactly():
    runs = principal_by_day(opening_fen=1000, changes=[(date(2026, 1, 1), -100), (date(2026, 1, 5), -200),
                                                       (date(2026, 1, 5), -100), (date(2026, 2, 1), -600)],
                            start=date(2026, 1, 3), end=date(2026, 1, 10))
    assert runs == [(date(2026, 1, 3), date(2026, 1, 5), 900), (date(2026, 1, 6), date(2026, 1, 10), 600)]


@settings(max_examples=150, deadline=None)
@given(
    due=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    span=st.integers(min_value=0, max_value=500),
    opening=st.integers(min_value=1, max_value=10_000_000),
    payments=st.lists(st.tuples(st.integers(min_value=-5, max_value=500), st.integers(min_value=1, max_value=2_000_000)),
                      max_size=6),
    residential=st.booleans(),
)
def test_matches_a_day_by_day_oracle(due, span, opening, payments, residential):
    rule = RESIDENTIAL if residential else OTHERS
    changes = [(due + timedelta(days=offset), -amount) for offset, amount in payments]
    through = due + timedelta(days=span)
    fee = late_fee(due_date=due, through=through, opening_fen=opening, changes=changes, rule=rule)
    exact = Decimal(0)
    day = due + timedelta(days=1)
    while day <= through:
        principal = opening + sum(d for when, d in changes if when < day)
        if principal > 0:
            rate = rule.current_year_rate if day.year == due.year else rule.cross_year_rate
            exact += Decimal(principal) * rate
        day += timedelta(days=1)
    assert fee.exact_fen == exact
    rounded = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert fee.fee_fen == (100 if exact > 0 and rounded < 100 else rounded)
    assert sum(b.days for b in fee.bands) == fee.days

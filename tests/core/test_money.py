from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridcare.core.money import allocate_fen, fen_to_yuan, format_yuan, to_decimal, yuan_to_fen


def test_yuan_to_fen_rounds_half_up_by_default():
    # 0.125 yuan = 12.5 fen -> 13 fen with ROUND_HALF_UP, 12 with half-even
    assert yuan_to_fen(Decimal("0.125")) == 13
    assert yuan_to_fen(Decimal("0.125"), rounding="half_even") == 12
    assert yuan_to_fen("-0.125") == -13


def test_float_is_refused():
    with pytest.raises(TypeError):
        to_decimal(0.1)


def test_format_and_back():
    assert format_yuan(123456789) == "1,234,567.89"
    assert format_yuan(-5) == "-0.05"
    assert fen_to_yuan(12345) == Decimal("123.45")


def test_allocate_three_ways_keeps_every_fen():
    # 100 fen in thirds: 33.33.. each; the largest remainder (all equal) goes to the first
    assert allocate_fen(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate_fen(-100, [1, 1, 1]) == [-34, -33, -33]


@given(st.integers(-10**9, 10**9), st.lists(st.integers(0, 1000), min_size=1, max_size=20).filter(lambda w: sum(w) > 0))
def test_allocation_sums_exactly(total, weights):
    parts = allocate_fen(total, weights)
    assert sum(parts) == total
    assert all((p == 0) for p, w in zip(parts, weights, strict=True) if w == 0)

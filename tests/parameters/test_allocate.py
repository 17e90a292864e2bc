"""Largest-remainder sharing: the parts always add up to the amount, each within one unit of its
exact share."""

from fractions import Fraction

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.parameters.allocate import largest_remainder


def test_worked_example_ties_go_to_the_smaller_order_value():
    # 10 over weights 1:1:1 -> exact 3⅓ each; floors 3+3+3 = 9, one unit left; all remainders are
    # equal (⅓), so it goes to order 0.  -7 over 3:1 -> 5.25 and 1.75; floors 5+1, one left to the
    # larger remainder (0.75) -> -5, -2.  All-zero weights share equally: 5 -> 3, 2.
    frame = pl.DataFrame({"g": [1, 1, 1, 2, 2, 3, 3], "amt": [10, 10, 10, -7, -7, 5, 5],
                          "w": [1, 1, 1, 3, 1, 0, 0], "o": [2, 0, 1, 0, 1, 0, 1]})
    out = largest_remainder(frame, by=["g"], amount="amt", weight="w", out="x", order="o")
    assert out["x"].to_list() == [3, 4, 3, -5, -2, 3, 2]


def test_empty_frame_gets_the_column():
    frame = pl.DataFrame(schema={"g": pl.Int64, "amt": pl.Int64, "w": pl.Int64})
    assert largest_remainder(frame, by=["g"], amount="amt", weight="w", out="x").columns == ["g", "amt", "w", "x"]


def test_huge_products_do_not_overflow():
    frame = pl.DataFrame({"g": [1, 1], "amt": [10**15, 10**15], "w": [10**15, 2 * 10**15]})
    out = largest_remainder(frame, by=["g"], amount="amt", weight="w", out="x")
    assert out["x"].to_list() == [333333333333333, 666666666666667]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**9)), min_size=1, max_size=12),
       st.integers(-(10**12), 10**12))
def test_parts_sum_exactly_and_stay_within_one_unit(rows, amount):
    frame = pl.DataFrame({"g": [g for g, _ in rows], "w": [w for _, w in rows]}).with_columns(
        pl.lit(amount).alias("amt"))
    out = largest_remainder(frame, by=["g"], amount="amt", weight="w", out="x")
    for g in set(out["g"].to_list()):
        part = out.filter(pl.col("g") == g)
        assert part["x"].sum() == amount
        weights = part["w"].to_list()
        total = sum(weights)
        for w, x in zip(weights, part["x"].to_list(), strict=True):
            exact = Fraction(amount) * (Fraction(w, total) if total else Fraction(1, len(weights)))
            assert abs(Fraction(x) - exact) < 1
            assert x == 0 or (x > 0) == (amount > 0)

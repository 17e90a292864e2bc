"""Matching rules (pure Polars) and their agreement with the row-by-row baseline."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.reconciliation.matching import (
    LINE_KEYS_SCHEMA,
    LINES_SCHEMA,
    PAYMENT_KEYS_SCHEMA,
    PAYMENTS_SCHEMA,
    MatchInput,
    as_tuples,
    frame,
    match,
    match_naive,
)

D = date(2026, 11, 2)


def _input(lines, payments, *, line_keys=None, payment_keys=None, tolerance=1, fallback=True) -> MatchInput:
    return MatchInput(
        lines=frame([{"line_id": i, "account_number": a, "amount_fen": f, "value_date": d} for i, a, f, d in lines],
                     LINES_SCHEMA),
        line_keys=frame([{"line_id": i, "key": k, "priority": p} for i, k, p in line_keys or []], LINE_KEYS_SCHEMA),
        payments=frame([{"payment_id": i, "account_number": a, "amount_fen": f, "business_date": d,
                         "reversed": r, "already_matched": m} for i, a, f, d, r, m in payments], PAYMENTS_SCHEMA),
        payment_keys=frame([{"payment_id": i, "key": k} for i, k in payment_keys or []], PAYMENT_KEYS_SCHEMA),
        tolerance_days=tolerance, fallback=fallback,
    )


def _both(data: MatchInput):
    fast = as_tuples(match(data))
    assert fast == match_naive(data)
    return fast


def test_reference_match_and_every_kind_of_mismatch():
    data = _input(
        lines=[(1, "A1", 10_000, D), (2, "A2", 9_000, D), (3, "A3", 5_000, D + timedelta(days=3)),
               (4, "A4", 7_000, D), (5, "A5", 1_000, D)],
        payments=[(10, "A1", 10_000, D, False, False), (11, "A2", 10_000, D, False, False),
                  (12, "A3", 5_000, D, False, False), (13, "A4", 7_000, D, True, False),
                  (14, "A5", 1_000, D, False, True)],
        line_keys=[(1, "R10", 0), (2, "R11", 0), (3, "R12", 0), (4, "R13", 0), (5, "R14", 0)],
        payment_keys=[(10, "R10"), (11, "R11"), (12, "R12"), (13, "R13"), (14, "R14")],
    )
    assert _both(data) == [
        (1, 10, "matched", "reference", ""),
        (2, 11, "mismatched", "reference", "amount"),
        (3, 12, "mismatched", "reference", "date"),
        (4, 13, "mismatched", "reference", "reversed"),
        (5, 14, "duplicate", "reference", "already_matched"),
    ]


def test_second_line_for_the_same_payment_is_a_duplicate_debit():
    data = _input(lines=[(2, "A1", 10_000, D), (1, "A1", 10_000, D + timedelta(days=1))],
                  payments=[(10, "A1", 10_000, D, False, False)],
                  line_keys=[(1, "R10", 0), (2, "R10", 0)], payment_keys=[(10, "R10")])
    # the earlier value date wins, whatever the line order in the file
    assert _both(data) == [(1, 10, "duplicate", "reference", "duplicate_in_statement"),
                           (2, 10, "matched", "reference", "")]


def test_key_priority_and_ambiguity():
    data = _input(lines=[(1, "", 500, D), (2, "", 600, D)],
                  payments=[(10, "", 500, D, False, False), (11, "", 500, D, False, False),
                            (12, "", 600, D, False, False), (13, "", 600, D, False, False)],
                  # line 1: its first key finds payment 10, the second key is ignored
                  line_keys=[(1, "X", 0), (1, "Y", 1), (2, "Z", 0)],
                  payment_keys=[(10, "X"), (11, "Y"), (12, "Z"), (13, "Z")])
    assert _both(data) == [(1, 10, "matched", "reference", ""), (2, None, "unmatched", "", "ambiguous")]


def test_fallback_pairs_by_account_amount_and_date_in_rank_order():
    data = _input(lines=[(1, "A1", 500, D), (2, "A1", 500, D + timedelta(days=1)), (3, "A1", 500, D),
                         (4, "A2", 800, D + timedelta(days=5)), (5, "", 900, D)],
                  payments=[(10, "A1", 500, D - timedelta(days=1), False, False), (11, "A1", 500, D, False, False),
                            (12, "A2", 800, D, False, False), (13, "", 900, D, False, False),
                            (14, "A1", 500, D, True, False)])
    assert _both(data) == [(1, 10, "matched", "account_amount_date", ""),
                           (2, None, "unmatched", "", ""),
                           (3, 11, "matched", "account_amount_date", ""),
                           (4, None, "unmatched", "", ""),  # 5 days apart
                           (5, None, "unmatched", "", "")]  # no account number: never guessed
    no_fallback = _input(lines=[(1, "A1", 500, D)], payments=[(10, "A1", 500, D, False, False)], fallback=False)
    assert _both(no_fallback) == [(1, None, "unmatched", "", "")]


def test_empty_statement():
    assert as_tuples(match(_input(lines=[], payments=[]))) == []


@settings(max_examples=120, deadline=None)
@given(
    n_lines=st.integers(min_value=0, max_value=40),
    n_payments=st.integers(min_value=0, max_value=40),
    data=st.data(),
)
def test_vector_and_naive_agree(n_lines, n_payments, data):
    accounts = ["", "A1", "A2", "A3"]
    amounts = [100, 200, 300]
    day = st.integers(min_value=0, max_value=4).map(lambda k: D + timedelta(days=k))
    lines = [(i + 1, data.draw(st.sampled_from(accounts)), data.draw(st.sampled_from(amounts)), data.draw(day))
             for i in range(n_lines)]
    payments = [(100 + i, data.draw(st.sampled_from(accounts)), data.draw(st.sampled_from(amounts)), data.draw(day),
                 data.draw(st.booleans()), data.draw(st.booleans()))
                for i in range(n_payments)]
    keys = ["K1", "K2", "K3", "K4", "K5"]
    line_keys = sorted({(i, data.draw(st.sampled_from(keys)), data.draw(st.integers(0, 1)))
                        for i, *_ in lines if data.draw(st.booleans())})
    payment_keys = sorted({(p, data.draw(st.sampled_from(keys))) for p, *_ in payments if data.draw(st.booleans())})
    result = _both(_input(lines, payments, line_keys=line_keys, payment_keys=payment_keys,
                          tolerance=data.draw(st.integers(0, 2))))
    assert [r[0] for r in result] == sorted(i for i, *_ in lines)
    matched = [r[1] for r in result if r[2] in ("matched", "mismatched")]
    assert len(matched) == len(set(matched))  # a payment is reconciled by one line at most

"""Statement-matching benchmark: `python bench/bench_reconciliation.py [--quick] [--lines N]`.

Builds one synthetic statement and the payments it should match (most by reference, some by
account + amount + date, and the usual problems: amount differences, late value dates, duplicate
debits, reversed payments, unknown money), then times, in the same run and on the same data:

- vector: `gridcare.reconciliation.matching.match` (Polars joins and window ranks);
- naive:  `match_naive`, the same rules one line at a time with Python dictionaries.

Both results must be identical (asserted). Prints rows/s for each and the ratio, plus the
auto-reconciliation rate the synthetic statement produced. No database involved: the import's
database work is measured by the tests, this measures the matching engine.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def build(n: int, seed: int = 11):
    import numpy as np
    import polars as pl

    from gridcare.reconciliation.matching import (
        LINE_KEYS_SCHEMA,
        LINES_SCHEMA,
        PAYMENT_KEYS_SCHEMA,
        PAYMENTS_SCHEMA,
        MatchInput,
    )

    rng = np.random.default_rng(seed)
    start = date(2026, 11, 1)
    pay_ids = np.arange(1, n + 1, dtype=np.int64)
    accounts = np.array([f"{a:010d}" for a in rng.integers(1, max(n // 2, 2), n)])
    amounts = rng.integers(1_000, 500_000, n).astype(np.int64)
    days = rng.integers(0, 7, n)
    pay_dates = [start + timedelta(days=int(d)) for d in days]
    reversed_ = rng.random(n) < 0.002
    payments = pl.DataFrame({"payment_id": pay_ids, "account_number": accounts, "amount_fen": amounts,
                             "business_date": pay_dates, "reversed": reversed_,
                             "already_matched": rng.random(n) < 0.002}, schema=PAYMENTS_SCHEMA)
    payment_keys = pl.DataFrame({"payment_id": pay_ids, "key": [f"P{p:012d}" for p in pay_ids]},
                                schema=PAYMENT_KEYS_SCHEMA)
    # Statement: one line per payment, then perturb.
    kind = rng.random(n)
    line_amounts = amounts.copy()
    line_amounts[(kind > 0.990) & (kind <= 0.994)] += 100  # amount differs
    lag = np.where(kind > 0.994, 4, rng.integers(0, 2, n))  # a few far too late
    line_dates = [pay_dates[i] + timedelta(days=int(lag[i])) for i in range(n)]
    with_ref = kind <= 0.95  # 5 % of lines carry no reference: account + amount + date
    line_ids = np.arange(1, n + 1, dtype=np.int64)
    lines = pl.DataFrame({"line_id": line_ids, "account_number": accounts, "amount_fen": line_amounts,
                          "value_date": line_dates}, schema=LINES_SCHEMA)
    line_keys = pl.DataFrame({"line_id": line_ids[with_ref], "key": [f"P{p:012d}" for p in pay_ids[with_ref]],
                              "priority": np.zeros(int(with_ref.sum()), dtype=np.int32)}, schema=LINE_KEYS_SCHEMA)
    # 0.5 % duplicate debits and 0.5 % money nobody recorded
    dup = line_ids[rng.random(n) < 0.005]
    extra = len(dup) + n // 200
    extra_ids = np.arange(n + 1, n + 1 + extra, dtype=np.int64)
    extra_lines = pl.DataFrame({
        "line_id": extra_ids,
        "account_number": np.concatenate([accounts[dup - 1], np.array(["9999999999"] * (n // 200))]),
        "amount_fen": np.concatenate([line_amounts[dup - 1], rng.integers(1_000, 9_000, n // 200)]),
        "value_date": [line_dates[i - 1] for i in dup] + [start] * (n // 200),
    }, schema=LINES_SCHEMA)
    extra_keys = pl.DataFrame({"line_id": extra_ids[: len(dup)], "key": [f"P{p:012d}" for p in dup],
                               "priority": np.zeros(len(dup), dtype=np.int32)}, schema=LINE_KEYS_SCHEMA)
    return MatchInput(lines=pl.concat([lines, extra_lines]), line_keys=pl.concat([line_keys, extra_keys]),
                      payments=payments, payment_keys=payment_keys, tolerance_days=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 lines instead of 200,000")
    parser.add_argument("--lines", type=int, default=0)
    args = parser.parse_args()
    n = args.lines or (20_000 if args.quick else 200_000)

    from gridcare.reconciliation.matching import as_tuples, match, match_naive

    data = build(n)
    rows = data.lines.height
    match(build(1_000))  # warm-up: Polars compiles its plans once
    t0 = time.perf_counter()
    result = match(data)
    vector_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = match_naive(data)
    naive_s = time.perf_counter() - t0
    assert as_tuples(result) == naive, "vector and naive results differ"
    counts = result.group_by("status").len().sort("status")
    matched = int(result.filter(result["status"] == "matched").height)
    print(f"statement lines: {rows:,}; payments: {data.payments.height:,}")
    print(f"vector: {vector_s:.3f} s  ({rows / vector_s:,.0f} lines/s)")
    print(f"naive:  {naive_s:.3f} s  ({rows / naive_s:,.0f} lines/s)")
    print(f"ratio (naive / vector): {naive_s / vector_s:.1f}x")
    print("outcome: " + ", ".join(f"{s} {c:,}" for s, c in counts.iter_rows()))
    print(f"auto-reconciliation rate on this statement: {matched / rows:.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Billing-parameter engine benchmark: `python bench/bench_parameters.py [--quick] [--accounts N]`.

1. apply: apply_billing_parameters on N accounts (TOU registers) where 10 % have a 定量定比 split
   (300 kWh + 80/20 ratios), 10 % are children deducted from a parent (5 % of accounts are
   parents), 5 % are shared meters split over 5 members by consumption and 10 % have a free
   allowance; every Wh is checked to be billed once;
2. naive: a per-account pure-Python Decimal implementation of the same split on a sample,
   extrapolated per account; the vectorised result on the sample must equal it register for
   register (asserted);
3. rate: rate_with_parameters against plain gridcare.rating.rate on the same accounts, to show the
   cost of the parameters on a billing chunk (and that the no-parameter fast path costs nothing).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from decimal import Decimal

BUCKETS = ("peak", "flat", "valley")
JAN = (date(2026, 1, 1), date(2026, 2, 1))


def frames(n: int, seed: int = 11):
    """Accounts in blocks of 20 with disjoint roles: +1,+2 split (10 %); +3 parent of +4,+5 (5 %
    parents, 10 % children; the parent's meter holds its children's usage plus its own); +6 a
    shared meter for +7..+11 by consumption (5 % pools, 25 % members); +12,+13 free allowance."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    n = n - n % 20
    ids = np.arange(1, n + 1, dtype=np.int64)
    regs = {b: rng.integers(0, 400_000, n) for b in BUCKETS}
    rows = []
    split = json.dumps({"quantities": [{"kwh": "300", "tariff": "gz-residential"}],
                        "ratios": [{"percent": "80"}, {"percent": "20", "tariff": "gd-ci-tou-lt1kv"}]})
    pid = 0
    for base in range(0, n, 20):
        for k in (0, 1):
            pid += 1
            rows.append((int(ids[base + k]), pid, "split", split))
        parent = base + 2
        for child in (base + 3, base + 4):
            pid += 1
            rows.append((int(ids[child]), pid, "deduction", json.dumps({"parent_account_id": int(ids[parent])})))
            for b in BUCKETS:
                regs[b][parent] += regs[b][child]
        pid += 1
        members = [{"account_id": int(ids[base + k])} for k in range(6, 11)]
        rows.append((int(ids[base + 5]), pid, "sharing", json.dumps({"basis": "consumption", "members": members})))
        for k in (11, 12):
            pid += 1
            rows.append((int(ids[base + k]), pid, "free_allowance", json.dumps({"scheme": "subsistence"})))
    usage = pl.DataFrame({"account_id": ids, **{f"{b}_wh": regs[b] for b in BUCKETS}})
    params = pl.DataFrame(rows, orient="row", schema={"account_id": pl.Int64, "parameter_id": pl.Int64,
                                                      "kind": pl.String, "spec": pl.String})
    return usage, params


def naive_split(registers: dict[str, int], quantity: int, ratios: list[int]) -> tuple[dict, list[dict]]:
    """Per-account Decimal reference: the fixed quantity in proportion to the registers, then the
    ratio parts per register, both by largest remainder (ties to the earlier register/part)."""

    def lr(amount: int, weights: list[int]) -> list[int]:
        total = sum(weights)
        if total == 0:
            weights, total = [1] * len(weights), len(weights)
        raw = [Decimal(amount) * w / total for w in weights]
        out = [int(r) for r in raw]
        for i in sorted(range(len(raw)), key=lambda k: (-(raw[k] - out[k]), k))[: amount - sum(out)]:
            out[i] += 1
        return out

    regs = sorted(registers)
    take = min(quantity, sum(registers.values()))
    q = dict(zip(regs, lr(take, [registers[r] for r in regs]), strict=True))
    left = {r: registers[r] - q[r] for r in regs}
    main, parts = {}, [q, {}]
    for r in regs:
        own, other = lr(left[r], ratios)
        main[r] = own
        parts[1][r] = other
    return main, parts


def bench_apply(n: int) -> None:
    import polars as pl

    from gridcare.parameters import apply_billing_parameters

    usage, params = frames(n)
    t0 = time.perf_counter()
    out = apply_billing_parameters(usage, params, JAN)
    seconds = time.perf_counter() - t0
    blocked = len(out.blocked)
    n = usage.height
    print(f"apply: {n:,} accounts, {params.height:,} parameters in {seconds:.2f} s "
          f"({n / seconds:,.0f} accounts/s); parts {out.parts.height:,}, allowances {out.allowances.height:,}, "
          f"blocked {blocked:,} (the shared meters themselves)")
    assert blocked == params.filter(pl.col("kind") == "sharing").height
    # Conservation over the whole run: every Wh is billed once (pool meters' Wh moved to members).
    before = int(usage.select(pl.sum_horizontal([pl.col(f"{b}_wh") for b in BUCKETS]).sum()).item())
    children = params.filter(pl.col("kind") == "deduction")["account_id"]
    child_wh = int(usage.filter(pl.col("account_id").is_in(children.implode())).select(
        pl.sum_horizontal([pl.col(f"{b}_wh") for b in BUCKETS]).sum()).item())
    after = int(out.usage.select(pl.sum_horizontal([pl.col(f"{b}_wh").fill_null(0) for b in BUCKETS]).sum()).item())
    parts = int(out.parts.select(pl.sum_horizontal([pl.col(f"{b}_wh").fill_null(0) for b in BUCKETS]).sum()).item())
    assert after + parts == before - child_wh, (after, parts, before, child_wh)
    return seconds


def bench_naive(n: int, apply_seconds: float, sample: int) -> None:
    import polars as pl

    from gridcare.parameters import apply_billing_parameters

    usage, _ = frames(sample, seed=3)
    split = json.dumps({"quantities": [{"kwh": "300", "tariff": "gz-residential"}],
                        "ratios": [{"percent": "80"}, {"percent": "20", "tariff": "gd-ci-tou-lt1kv"}]})
    params = pl.DataFrame({"account_id": usage["account_id"], "parameter_id": usage["account_id"],
                           "kind": ["split"] * sample, "spec": [split] * sample})
    t0 = time.perf_counter()
    vec = apply_billing_parameters(usage, params, JAN)
    vec_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = {}
    for row in usage.iter_rows(named=True):
        ref[row["account_id"]] = naive_split({b: row[f"{b}_wh"] for b in BUCKETS}, 300_000, [800_000, 200_000])
    naive_s = time.perf_counter() - t0
    main = {r["account_id"]: {b: r[f"{b}_wh"] for b in BUCKETS} for r in vec.usage.iter_rows(named=True)}
    parts = {(r["account_id"], r["part_no"]): {b: r[f"{b}_wh"] for b in BUCKETS}
             for r in vec.parts.iter_rows(named=True)}
    for acc, (m, (p1, p2)) in ref.items():
        assert main[acc] == m, (acc, main[acc], m)
        assert parts[(acc, 1)] == p1 and parts[(acc, 2)] == p2, acc
    per_naive = naive_s / sample
    per_vec = vec_s / sample
    print(f"naive: {sample:,} splits in {naive_s:.2f} s (per account {per_naive * 1e6:.1f} µs) vs vectorised "
          f"{vec_s:.2f} s ({per_vec * 1e6:.1f} µs): ×{per_naive / per_vec:.1f}; identical results asserted; "
          f"naive extrapolated to {n:,}: {per_naive * n:.1f} s")


def bench_rate(n: int) -> None:
    import polars as pl

    from gridcare.parameters import rate_with_parameters
    from gridcare.rating import load_library, rate

    usage, params = frames(n)
    schedules = load_library()
    accounts = pl.DataFrame({"account_id": usage["account_id"], "tariff": ["gd-ci-tou-lt1kv"] * n,
                             "category": ["general_ci"] * n})
    rate(accounts.head(100), usage.head(100), schedules, *JAN, explain=False)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    plain = rate(accounts, usage, schedules, *JAN, explain=False)
    plain_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = rate_with_parameters(accounts, usage, None, schedules, *JAN, explain=False)
    fast_s = time.perf_counter() - t0
    assert fast.result.totals.equals(plain.totals)
    t0 = time.perf_counter()
    full = rate_with_parameters(accounts, usage, params, schedules, *JAN, explain=False)
    full_s = time.perf_counter() - t0
    lines = full.result.lines.group_by("account_id").agg(pl.col("amount_fen").sum())
    joined = full.result.totals.join(lines, on="account_id")
    assert joined.filter(pl.col("amount_fen") != pl.col("amount_fen_right")).height == 0
    print(f"rate: {n:,} accounts — kernel {plain_s:.2f} s; with no parameters {fast_s:.2f} s; with parameters "
          f"{full_s:.2f} s (×{full_s / plain_s:.2f} the kernel); totals = Σ lines asserted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    parser.add_argument("--accounts", type=int, default=None)
    args = parser.parse_args()
    n = args.accounts or (20_000 if args.quick else 200_000)
    sample = 2_000 if args.quick else 10_000
    seconds = bench_apply(n)
    bench_naive(n, seconds, sample)
    bench_rate(min(n, 50_000 if not args.quick else n))


if __name__ == "__main__":
    main()

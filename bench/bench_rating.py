"""Rating-engine benchmark: `python bench/bench_rating.py [--quick]`.

Scenarios, each run in a fresh subprocess so its peak RSS is its own:

1. residential: N accounts on Guangzhou residential TOU + tiers + funds (register usage);
2. C&I: M accounts × 744 hourly points (January 2026) on Hubei two-part agency purchase with
   capacity/demand basic charge, power factor, TOU (interval usage);
3. naive: the pure-Python per-account Decimal rater (gridcare.rating.naive) on a 10,000-account
   sample of (1), extrapolated per account; the vectorised result on the same sample must equal it
   line for line (asserted).

Goals on the 2-core machine: (1) ≤ 3 s for 1,000,000 accounts, (2) ≤ 15 s for 100,000 × 744,
≥ 50× the naive baseline, peak RSS < 4 GiB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from datetime import date

from _common import cpu_seconds

GOALS = {"residential": 3.0, "ci": 15.0}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _residential_frames(n: int, seed: int = 7):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    peak = rng.integers(0, 250_000, n)  # Wh, with sub-kWh parts
    flat = rng.integers(0, 300_000, n)
    valley = rng.integers(0, 200_000, n)
    accounts = pl.DataFrame(
        {
            "account_id": np.arange(n, dtype=np.int64),
            "tariff": pl.Series(["gz-residential-tou"], dtype=pl.String).extend_constant("gz-residential-tou", n - 1),
            "household_members": rng.integers(1, 7, n).astype(np.int32),
        }
    )
    usage = pl.DataFrame(
        {
            "account_id": np.arange(n, dtype=np.int64),
            "total_wh": peak + flat + valley,
            "peak_wh": peak,
            "flat_wh": flat,
            "valley_wh": valley,
        }
    )
    return accounts, usage


def run_residential(n: int, explain: bool, queue) -> None:
    from gridcare.rating import load_library, rate

    lib = load_library()
    accounts, usage = _residential_frames(n)
    rate(accounts.head(1000), usage.head(1000), lib, date(2025, 8, 1), date(2025, 9, 1))  # warm-up (imports, caches)
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = rate(accounts, usage, lib, date(2025, 8, 1), date(2025, 9, 1), explain=explain)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert result.rejected.height == 0, result.rejected.head()
    assert result.totals.height == n
    assert result.totals["amount_fen"].sum() == result.lines["amount_fen"].sum()
    queue.put({"name": "residential", "accounts": n, "seconds": elapsed, "cpu": cpu, "rss": _rss_mib(), "lines": result.lines.height})


def run_ci(n: int, queue) -> None:
    import numpy as np
    import polars as pl

    from gridcare.rating import load_library, rate

    lib = load_library()
    days, ppd = 31, 24
    rng = np.random.default_rng(11)
    ids = np.arange(n, dtype=np.int64)
    accounts = pl.DataFrame(
        {
            "account_id": ids,
            "tariff": pl.Series(["hubei-agency-2part-10kv"], dtype=pl.String).extend_constant("hubei-agency-2part-10kv", n - 1),
            "capacity_va": rng.choice([315_000, 630_000, 1_000_000, 2_000_000], n).astype(np.int64),
            "contract_demand_w": rng.integers(200_000, 1_500_000, n).astype(np.int64),
            "basic_basis": np.where(rng.random(n) < 0.5, "capacity", "demand"),
        }
    )
    rows = n * days * ppd
    base = rng.integers(20_000, 400_000, n).astype(np.int64)  # Wh per hour per account
    per = days * ppd
    # filled in place chunk by chunk: the generator's temporaries must not dominate peak memory
    account_col = np.repeat(ids, per)
    day_col = np.tile(np.repeat(np.arange(days, dtype=np.int32) + 20454, ppd), n)  # 20454 = 2026-01-01 in days
    point_col = np.tile(np.arange(ppd, dtype=np.int16), n * days)
    wh_col = np.empty(rows, dtype=np.int64)
    step = 5_000
    for lo in range(0, n, step):
        k = min(step, n - lo)
        wh_col[lo * per:(lo + k) * per] = np.repeat(base[lo:lo + k], per) * rng.integers(50, 150, k * per) // 100
    intervals = pl.DataFrame({
        "account_id": account_col,
        "date": pl.Series(day_col).cast(pl.Date),
        "point": point_col,
        "wh": wh_col,
    })
    del account_col, day_col, point_col, wh_col
    usage = pl.DataFrame({"account_id": ids, "reactive_varh": (base * 744 * rng.integers(20, 90, n) // 100).astype(np.int64)})
    gen_rss = _rss_mib()
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = rate(accounts, usage, lib, date(2026, 1, 1), date(2026, 2, 1), intervals=intervals)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert result.rejected.height == 0, result.rejected.head()
    assert result.totals.height == n
    queue.put(
        {"name": "ci", "accounts": n, "seconds": elapsed, "cpu": cpu, "rss": _rss_mib(), "lines": result.lines.height,
         "points": rows, "gen_rss": gen_rss}
    )


def run_naive(n_full: int, sample: int, queue) -> None:
    import polars as pl

    from gridcare.rating import load_library, rate
    from gridcare.rating.naive import NaiveAccount, naive_rate

    lib = load_library()
    schedule = lib.versions("gz-residential-tou")[0]
    accounts, usage = _residential_frames(n_full)
    accounts, usage = accounts.head(sample), usage.head(sample)
    period = date(2025, 8, 1)
    t0, c0 = time.perf_counter(), cpu_seconds()
    naive_lines = {}
    for acc, use in zip(accounts.iter_rows(named=True), usage.iter_rows(named=True), strict=True):
        na = NaiveAccount(
            account_id=acc["account_id"],
            buckets_wh={"peak": use["peak_wh"], "flat": use["flat_wh"], "valley": use["valley_wh"]},
            household_members=acc["household_members"],
        )
        naive_lines[acc["account_id"]] = naive_rate(schedule, na, period)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    result = rate(accounts, usage, lib, period, date(2025, 9, 1))
    kernel_lines: dict[int, list[tuple[str, int]]] = {}
    for row in result.lines.select("account_id", "line_code", "amount_fen").iter_rows():
        kernel_lines.setdefault(row[0], []).append((row[1], row[2]))
    mismatches = [a for a in naive_lines if sorted(naive_lines[a]) != sorted(kernel_lines.get(a, []))]
    assert not mismatches, f"kernel and naive disagree on {len(mismatches)} accounts, e.g. {mismatches[:3]}"
    assert pl.Series([sum(a for _, a in v) for v in naive_lines.values()]).sum() == result.totals["amount_fen"].sum()
    queue.put({"name": "naive", "accounts": sample, "seconds": elapsed, "cpu": cpu, "rss": _rss_mib(), "checked": sample})


def _in_subprocess(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"{target.__name__} failed with exit code {proc.exitcode}")
    return out


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    args = parser.parse_args(argv)
    n_res, n_ci, sample = (100_000, 5_000, 2_000) if args.quick else (1_000_000, 100_000, 10_000)
    console = Console(width=150)
    console.print(f"rating bench: residential {n_res:,}, C&I {n_ci:,} × 744 points, naive sample {sample:,}; "
                  f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    res = _in_subprocess(run_residential, n_res, True)
    bare = _in_subprocess(run_residential, n_res, False)
    ci = _in_subprocess(run_ci, n_ci)
    naive = _in_subprocess(run_naive, n_res, sample)
    naive_rate = naive["accounts"] / naive["seconds"]
    res_rate = res["accounts"] / res["seconds"]
    naive_cpu_rate = naive["accounts"] / naive["cpu"]
    table = Table(title="gridcare rating kernel (rate() only; each scenario in its own process)")
    for col in ("scenario", "accounts", "lines", "wall s", "CPU s", "accounts/s", "peak RSS MiB", "goal",
                "vs naive (wall)", "vs naive (CPU)"):
        table.add_column(col, justify="right" if col != "scenario" else "left")

    def row(label: str, r: dict, goal: str, compare: bool) -> None:
        rate_ = r["accounts"] / r["seconds"]
        table.add_row(label, f"{r['accounts']:,}", f"{r.get('lines', 0):,}" if "lines" in r else "", f"{r['seconds']:.2f}",
                      f"{r['cpu']:.2f}", f"{rate_:,.0f}", f"{r['rss']:,.0f}", goal,
                      f"{rate_ / naive_rate:,.1f}×" if compare else "",
                      f"{(r['accounts'] / r['cpu']) / naive_cpu_rate:,.1f}×" if compare else "")

    row("(1) residential tiers+TOU", res, f"≤ {GOALS['residential']} s (1M)", True)
    row("(1') same, explain=False", bare, "", True)
    row("(2) C&I 744 h 2-part+PF", ci, f"≤ {GOALS['ci']} s (100k)", False)
    row("(3) naive Decimal", naive, "baseline", False)
    console.print(table)
    console.print(
        f"naive extrapolated to {res['accounts']:,} accounts: {res['accounts'] / naive_rate:,.1f} s. "
        f"Kernel = naive on the {naive['checked']:,} sampled accounts (asserted line by line). "
        f"C&I interval rows: {ci['points']:,}; RSS after generating them: {ci['gen_rss']:,.0f} MiB. "
        f"Ratios: kernel accounts/s on the full run ÷ naive accounts/s on the sample. The naive computes amounts only, "
        f"so (1') compares like with like; (1) also builds two explanation strings (zh, en) per line."
    )
    console.print(f"load average {os.getloadavg()[0]:.1f} at the end; wall times grow with other work on the machine, "
                  "CPU seconds much less (the CPU ratio treats the kernel's two threads as no help to it).")
    if not args.quick:
        ok = res["seconds"] <= GOALS["residential"] and ci["seconds"] <= GOALS["ci"] and res_rate / naive_rate >= 50
        ok = ok and max(res["rss"], ci["rss"]) < 4096
        console.print("goals met" if ok else "[yellow]goals not met on this run[/yellow]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Daily settlement (日清月结): daily clearing from interval reads, the monthly statement, and how
their rounding reconciles."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcare.rating import settle_daily
from tests.rating.helpers import LIBRARY, D

HB = "hubei-agency-2part-10kv"
JAN = (date(2026, 1, 1), date(2026, 2, 1))


def _intervals(rows: list[tuple[int, date, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"account_id": pl.Int64, "date": pl.Date, "point": pl.Int16, "wh": pl.Int64}, orient="row")


def test_daily_lines_by_hand_and_their_reconciliation():
    """January (non-summer bands): 18–20 sharp, 00–06 valley, 06–12 flat.
    2 Jan: 10 kWh at 18:00 (sharp), 20 kWh at 03:00 (valley); 3 Jan: 5 kWh at 09:00 (flat).
    2 Jan: purchase.sharp 10 × 0.768940 = 7.6894 → 7.69; purchase.valley 20 × 0.173012 = 3.46024 → 3.46;
           line_loss.sharp 10 × 0.027286 = 0.27286 → 0.27; line_loss.valley 20 × 0.006139 = 0.12278 → 0.12;
           tnd 30 × 0.1263 = 3.789 → 3.79; system_operation 30 × 0.082273 = 2.46819 → 2.47.
    3 Jan: purchase.flat 5 × 0.38447 = 1.92235 → 1.92; line_loss.flat 5 × 0.013643 = 0.068215 → 0.07;
           tnd 5 × 0.1263 = 0.6315 → 0.63; system_operation 5 × 0.082273 = 0.411365 → 0.41.
    Month: tnd 35 × 0.1263 = 4.4205 → 4.42 = 3.79 + 0.63; system_operation 35 × 0.082273 = 2.879555
    → 2.88 = 2.47 + 0.41."""
    accounts = pl.DataFrame({"account_id": [7], "tariff": [HB], "capacity_va": [630_000]})
    iv = _intervals([(7, date(2026, 1, 2), 18, 10_000), (7, date(2026, 1, 2), 3, 20_000), (7, date(2026, 1, 3), 9, 5_000)])
    s = settle_daily(accounts, iv, LIBRARY, *JAN, usage=pl.DataFrame({"account_id": [7], "reactive_varh": [10_000]}))
    assert s.daily.select("date", "line_code", "quantity", "amount_fen").rows() == [
        (date(2026, 1, 2), "purchase.sharp", D("10"), 769),
        (date(2026, 1, 2), "purchase.valley", D("20"), 346),
        (date(2026, 1, 2), "line_loss.sharp", D("10"), 27),
        (date(2026, 1, 2), "line_loss.valley", D("20"), 12),
        (date(2026, 1, 2), "tnd", D("30"), 379),
        (date(2026, 1, 2), "system_operation", D("30"), 247),
        (date(2026, 1, 3), "purchase.flat", D("5"), 192),
        (date(2026, 1, 3), "line_loss.flat", D("5"), 7),
        (date(2026, 1, 3), "tnd", D("5"), 63),
        (date(2026, 1, 3), "system_operation", D("5"), 41),
    ]
    assert s.daily["explanation_zh"][0] == "2026-01-02 代理购电价格（尖峰）10 kWh × 0.768940 元/kWh"
    assert s.daily["explanation_zh"][4] == "2026-01-02 输配电费（电量电费） 30 kWh × 0.1263 元/kWh"
    recon = {r["line_code"]: (r["days"], r["daily_sum_fen"], r["monthly_fen"], r["diff_fen"]) for r in s.reconciliation.to_dicts()}
    assert recon["tnd"] == (2, 442, 442, 0)
    assert recon["system_operation"] == (2, 288, 288, 0)
    # the statement merges energy with basic, power factor and funds; its energy lines are the
    # monthly amounts of the same kWh (no losses here)
    statement = dict(s.statement.lines.select("line_code", "amount_fen").iter_rows())
    assert all(statement[line] == monthly for line, (_, _, monthly, _) in recon.items())
    assert statement["basic.capacity"] == 1656900
    assert {"pf.adjustment", "funds.renewable"} <= set(statement)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4), points=st.sampled_from([24, 96]))
def test_daily_rounding_stays_within_half_a_fen_per_day(seed, n, points):
    import random

    rnd = random.Random(seed)
    rows = [(a, JAN[0] + timedelta(days=d), p, rnd.randrange(0, 9_999)) for a in range(n) for d in range(31) for p in range(points)
            if rnd.random() < 0.7]
    accounts = pl.DataFrame({"account_id": list(range(n)), "tariff": [HB] * n, "capacity_va": [50_000] * n})
    s = settle_daily(accounts, _intervals(rows), LIBRARY, *JAN, interval_points=points)
    for r in s.reconciliation.iter_rows(named=True):
        assert abs(r["diff_fen"]) * 2 <= r["days"] + 1
    daily = s.daily.group_by("account_id", "line_code").agg(pl.col("amount_fen").sum())
    recon = s.reconciliation.select("account_id", "line_code", "daily_sum_fen")
    assert sorted(daily.rows()) == sorted(recon.rows())
    monthly = s.reconciliation.select("account_id", "line_code", "monthly_fen")
    statement = s.statement.lines.filter(~pl.col("component").is_in(["basic", "pf", "funds"])).select(
        "account_id", "line_code", "amount_fen")
    assert sorted(statement.rows()) == sorted(monthly.rows())


def test_rejected_accounts_get_no_daily_lines():
    accounts = pl.DataFrame({"account_id": [1, 2], "tariff": [HB, HB], "capacity_va": [630_000, 50_000]})
    iv = _intervals([(1, date(2026, 1, 2), 9, 1000), (2, date(2026, 1, 2), 9, 1000)])
    s = settle_daily(accounts, iv, LIBRARY, *JAN)  # account 1 needs reactive energy for its power factor
    assert s.statement.rejected.rows() == [(1, "usage.reactive_varh", "reactive_varh is required: power-factor adjustment applies")]
    assert set(s.daily["account_id"].to_list()) == {2}

"""Hypothesis properties of the kernel: lines add up to the total; a price change or a meter change
splits usage by days without losing a watt-hour; amounts never fall when usage grows; tier
boundaries are continuous; a zero-usage month bills only fixed charges."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcare.rating import rate
from gridcare.rating.model import EnergyComponent
from tests.rating.helpers import LIBRARY, schedules, tariff

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TIERED = ["gz-residential", "sz-residential", "zj-residential", "gz-residential-tou", "sz-residential-tou", "zj-residential-tou"]
VERSIONS = schedules(
    tariff("""
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, tiers: [{upto: 200, price: 0.5}, {upto: 400, price: 0.55}, {price: 0.8}]}
  - {id: funds, kind: funds, label_zh: 基金, label_en: Funds, items: [{code: f, label_zh: f, label_en: f, rate: 0.0123}]}
""", version="a", end="2025-03-11"),
    tariff("""
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, tiers: [{upto: 200, price: 0.52}, {upto: 400, price: 0.57}, {price: 0.82}]}
  - {id: funds, kind: funds, label_zh: 基金, label_en: Funds, items: [{code: f, label_zh: f, label_en: f, rate: 0.0123}]}
""", version="b", start="2025-03-11", end="2025-03-21"),
    tariff("""
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, tiers: [{upto: 200, price: 0.49}, {upto: 400, price: 0.6}, {price: 0.9}]}
  - {id: funds, kind: funds, label_zh: 基金, label_en: Funds, items: [{code: f, label_zh: f, label_en: f, rate: 0.0123}]}
""", version="c", start="2025-03-21"),
).merged(LIBRARY)


def _usage_rows(code: str, ids: list[int], values: list[int]) -> pl.DataFrame:
    sched = LIBRARY.versions(code)[0]
    prices = next(c.tou_prices for c in sched.components if isinstance(c, EnergyComponent))
    if prices:
        buckets = [b for b in ("peak", "flat", "valley") if b in prices]
        cols = {f"{b}_wh": [v // len(buckets) + (v % len(buckets) if i == 0 else 0) for v in values] for i, b in enumerate(buckets)}
    else:
        cols = {"total_wh": values}
    return pl.DataFrame({"account_id": ids, **cols})


def _check_lines_add_up(result) -> None:
    sums = dict(result.lines.group_by("account_id").agg(pl.col("amount_fen").sum()).iter_rows())
    for acc, amount in result.totals.select("account_id", "amount_fen").iter_rows():
        assert sums.get(acc, 0) == amount
    numbered = result.lines.group_by("account_id", maintain_order=True).agg(pl.col("line_no"))
    for _acc, nos in numbered.iter_rows():
        assert nos == list(range(1, len(nos) + 1))


@FAST
@given(
    usage=st.lists(st.integers(0, 5_000_000), min_size=1, max_size=8),
    meter_change=st.integers(1, 30),
    with_segments=st.booleans(),
)
def test_lines_add_up_and_splits_conserve_usage(usage, meter_change, with_segments):
    """March 2025 (31 days), three tariff versions (changes on the 11th and 21st); optionally a
    meter change on a random day with a different multiplier: the energy lines' quantities add up
    to the metered kWh exactly, and lines add up to each account's total."""
    start, end = date(2025, 3, 1), date(2025, 4, 1)
    ids = list(range(len(usage)))
    accounts = pl.DataFrame({"account_id": ids, "tariff": ["t"] * len(ids)})
    if with_segments:
        cut = start + timedelta(days=meter_change)
        use = pl.DataFrame({
            "account_id": ids + ids,
            "segment": pl.Series([1] * len(ids) + [2] * len(ids), dtype=pl.Int32),
            "total_wh": [u // 3 for u in usage] + [u - u // 3 for u in usage],
        })
        segments = pl.DataFrame({
            "account_id": ids + ids,
            "segment": pl.Series([1] * len(ids) + [2] * len(ids), dtype=pl.Int32),
            "start_date": [start] * len(ids) + [cut] * len(ids),
            "end_date": [cut] * len(ids) + [end] * len(ids),
        })
    else:
        use, segments = pl.DataFrame({"account_id": ids, "total_wh": usage}), None
    result = rate(accounts, use, VERSIONS, start, end, segments=segments)
    assert result.rejected.height == 0
    _check_lines_add_up(result)
    energy = result.lines.filter(pl.col("component") == "energy").group_by("account_id").agg(
        (pl.col("quantity").sum() * 1000).cast(pl.Int64).alias("wh"))
    got = dict(energy.iter_rows())
    assert {a: got.get(a, 0) for a in ids} == dict(zip(ids, usage, strict=True))
    funds = result.lines.filter(pl.col("component") == "funds").group_by("account_id").agg(
        (pl.col("quantity").sum() * 1000).cast(pl.Int64).alias("wh"))
    assert all(got[a] == w for a, w in funds.iter_rows())


@FAST
@given(code=st.sampled_from(TIERED), base=st.integers(0, 1_500_000), step=st.integers(1, 400_000),
       members=st.none() | st.integers(1, 7), month=st.integers(2, 12), ytd=st.integers(0, 6_000_000))
def test_amount_never_decreases_when_usage_grows(code, base, step, members, month, ytd):
    start, end = date(2025, month, 1), date(2025 + month // 12, month % 12 + 1, 1)
    accounts = pl.DataFrame({"account_id": [1, 2], "tariff": [code, code], "household_members": pl.Series([members] * 2, dtype=pl.Int32),
                             "ytd_wh": [ytd, ytd]})
    result = rate(accounts, _usage_rows(code, [1, 2], [base, base + step]), LIBRARY, start, end)
    _check_lines_add_up(result)
    low, high = result.totals.sort("account_id")["amount_fen"].to_list()
    assert high >= low


@FAST
@given(code=st.sampled_from(["gz-residential", "sz-residential", "zj-residential"]), month=st.integers(2, 12),
       boundary=st.sampled_from([200, 260, 300, 360, 400, 500, 600, 700, 2760, 4800]), offset=st.integers(-3, 3),
       ytd=st.sampled_from([0, 2_000_000, 4_500_000]))
def test_tier_boundaries_are_continuous(code, month, boundary, offset, ytd):
    """One more Wh across a tier boundary changes the bill by at most one fen per line: the
    kWh below the boundary keep their price, the next one gets the next price."""
    start, end = date(2025, month, 1), date(2025 + month // 12, month % 12 + 1, 1)
    x = max(boundary * 1000 + offset - (ytd if code.startswith("zj") else 0), 0)
    accounts = pl.DataFrame({"account_id": [1, 2], "tariff": [code, code], "ytd_wh": [ytd, ytd]})
    result = rate(accounts, pl.DataFrame({"account_id": [1, 2], "total_wh": [x, x + 1]}), LIBRARY, start, end)
    low, high = result.totals.sort("account_id")["amount_fen"].to_list()
    assert 0 <= high - low <= result.lines.filter(pl.col("account_id") == 2).height


def test_zero_usage_bills_only_fixed_charges_on_every_shipped_tariff():
    rows = []
    for i, code in enumerate(LIBRARY.codes):
        rows.append({"account_id": i, "tariff": code, "capacity_va": 630_000, "pf_standard": None})
    accounts = pl.from_dicts(rows)
    usage = pl.DataFrame({"account_id": list(range(len(rows))), "peak_wh": [0] * len(rows), "reactive_varh": [0] * len(rows)})
    result = rate(accounts, usage, LIBRARY, date(2026, 1, 1), date(2026, 2, 1))
    assert result.rejected.height == 0
    assert result.totals.height == len(rows)
    assert result.lines.select("tariff", "line_code", "amount_fen").rows() == [
        ("hubei-agency-2part-10kv", "basic.capacity", 1656900)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_messy_inputs_never_raise_and_never_half_rate(data):
    """Random accounts (unknown tariffs, duplicates, negative or missing usage, odd segments):
    the kernel never raises for per-account problems; a rejected account has no line and no
    total; every rated account's lines add up to its total."""
    n = data.draw(st.integers(1, 6))
    codes = [*LIBRARY.codes, "nope"]
    ids = data.draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))
    accounts = pl.DataFrame({
        "account_id": ids,
        "tariff": [data.draw(st.sampled_from(codes)) for _ in ids],
        "capacity_va": [data.draw(st.sampled_from([0, 50_000, 630_000, -1])) for _ in ids],
        "basic_basis": pl.Series([data.draw(st.sampled_from([None, "capacity", "demand", "bogus"])) for _ in ids], dtype=pl.String),
        "contract_demand_w": pl.Series([data.draw(st.none() | st.integers(0, 2_000_000)) for _ in ids], dtype=pl.Int64),
        "ytd_wh": [data.draw(st.integers(-1, 5_000_000)) for _ in ids],
    })
    usage_ids = data.draw(st.lists(st.sampled_from(ids), max_size=n + 2))
    maybe = st.none() | st.integers(-5, 3_000_000)
    usage = pl.DataFrame({
        "account_id": pl.Series(usage_ids, dtype=pl.Int64),
        "total_wh": pl.Series([data.draw(maybe) for _ in usage_ids], dtype=pl.Int64),
        "peak_wh": pl.Series([data.draw(maybe) for _ in usage_ids], dtype=pl.Int64),
        "flat_wh": pl.Series([data.draw(maybe) for _ in usage_ids], dtype=pl.Int64),
        "reactive_varh": pl.Series([data.draw(maybe) for _ in usage_ids], dtype=pl.Int64),
        "max_demand_w": pl.Series([data.draw(maybe) for _ in usage_ids], dtype=pl.Int64),
    })
    start = date(2026, 1, 1)
    segments = None
    if data.draw(st.booleans()):
        seg_ids = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3))
        segments = pl.DataFrame({
            "account_id": seg_ids,
            "segment": pl.Series([1] * len(seg_ids), dtype=pl.Int32),
            "start_date": [start + timedelta(days=data.draw(st.integers(-2, 20))) for _ in seg_ids],
            "end_date": [start + timedelta(days=data.draw(st.integers(5, 33))) for _ in seg_ids],
        })
    result = rate(accounts, usage, LIBRARY, start, date(2026, 2, 1), segments=segments)
    bad = set(result.rejected["account_id"].to_list())
    assert not bad & set(result.lines["account_id"].to_list())
    assert not bad & set(result.totals["account_id"].to_list())
    assert set(result.totals["account_id"].to_list()) | bad == set(ids)
    _check_lines_add_up(result)

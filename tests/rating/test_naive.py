"""The vectorised kernel agrees with the naive per-account Decimal rater, line for line, to the fen.

Random accounts (Hypothesis) on every shipped tariff and on synthetic two-part tariffs that switch
on the configurable rules (demand formulas, floors, actual demand, loss allocation, rounding modes,
PF standards), plus one larger batch rated in a single call.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcare.rating import rate
from gridcare.rating.model import BUCKETS, EnergyComponent
from gridcare.rating.naive import NaiveAccount, NaiveLine, naive_bill, naive_rate
from tests.rating.helpers import LIBRARY, schedules, tariff

TWO_PART_A = tariff("""
rounding:
  line_amount: {mode: half_even}
  pf_amount: {mode: down}
  cos_phi: {places: "0.01", mode: down}
  loss_quantity: {places: "0.1", mode: half_up}
tou:
  seasons:
    - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
      bands: {valley: ["00:00-08:00"], flat: ["08:00-10:00", "12:00-18:00"], peak: ["10:00-12:00", "18:00-24:00"]}
components:
  - {id: losses, kind: losses, label_zh: 变损, label_en: Loss, tou_allocation: flat}
  - id: energy
    kind: energy
    label_zh: 电度电费
    label_en: Energy
    tou_prices: {derive: {base: 0.61234567, ratios: {peak: 1.6, flat: 1, valley: 0.4}}}
  - {id: tnd, kind: energy, label_zh: 输配, label_en: T&D, price: 0.0987, includes_losses: false}
  - id: basic
    kind: basic
    label_zh: 基本电费
    label_en: Basic
    capacity_price: 23
    demand_price: 32.5
    default_basis: demand
    demand: {basis: actual, floor_ratio: 0.4}
  - {id: pf, kind: power_factor, label_zh: 力调, label_en: PF, applies_to: [energy, basic], table_file: pf-1983.yaml,
     default_standard: "0.85", min_capacity_kva: 100}
  - id: funds
    kind: funds
    label_zh: 基金
    label_en: Funds
    items:
      - {code: renewable, label_zh: 可再生, label_en: Renewable, rate: 0.019, exempt_categories: [agriculture]}
      - {code: water, label_zh: 水利, label_en: Water, rate: 0.00196875}
""", code="two-part-a")

TWO_PART_B = tariff("""
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: 0.5555, exempt_categories: [station]}
  - id: basic
    kind: basic
    label_zh: 基本电费
    label_en: Basic
    capacity_price: 19.9
    demand_price: 28.45
    demand: {threshold_ratio: 1.1, over_formula: contract_plus_double_over_contract, excess_multiplier: 1.5, floor_ratio: 0.5}
  - {id: pf, kind: power_factor, label_zh: 力调, label_en: PF, applies_to: [energy], table_file: pf-1983.yaml,
     default_standard: "0.80", min_capacity_kva: 315}
""", code="two-part-b")

SETS = LIBRARY.merged(schedules(TWO_PART_A, TWO_PART_B))
RESIDENTIAL = [c for c in LIBRARY.codes if "residential" in c]
CI = ["gd-ci-tou-lt1kv", "hubei-agency-2part-10kv", "two-part-a", "two-part-b"]


def _period(code: str, month: int) -> tuple[date, date]:
    if code.startswith("hubei"):
        return date(2026, 1, 1), date(2026, 2, 1)
    return date(2025, month, 1), date(2025 + month // 12, month % 12 + 1, 1)


def _is_tou(code: str) -> bool:
    return SETS.versions(code)[0].tou is not None


def _priced_buckets(code: str) -> tuple[str, ...]:
    prices = next(c.tou_prices for c in SETS.versions(code)[0].components if isinstance(c, EnergyComponent))
    return tuple(b for b in BUCKETS if prices and b in prices)


def _annual(code: str) -> bool:
    return any(isinstance(c, EnergyComponent) and c.tiers and c.tier_options.cycle == "annual"
               for c in SETS.versions(code)[0].components)


wh = st.integers(0, 2_000_000)


@st.composite
def residential_account(draw, code: str, month: int, i: int) -> NaiveAccount:
    if _is_tou(code):
        buckets = {b: draw(wh) for b in _priced_buckets(code)}
    else:
        buckets = {"flat": draw(wh)}
    annual = _annual(code)
    return NaiveAccount(
        account_id=i,
        buckets_wh=buckets,
        household_members=draw(st.none() | st.integers(1, 8)),
        households=draw(st.sampled_from([1, 1, 1, 2, 5])),
        combined_meter=draw(st.booleans()),
        category=draw(st.sampled_from([None, "residential"])),
        ytd_wh=draw(st.integers(0, 6_000_000)) if annual and month != 1 else 0,
    )


@st.composite
def ci_account(draw, code: str, i: int) -> NaiveAccount:
    tou = _is_tou(code)
    buckets = {b: draw(st.integers(0, 400_000_000)) for b in (_priced_buckets(code) if tou else ("flat",))}
    capacity = draw(st.sampled_from([50_000, 99_000, 100_000, 315_000, 630_000, 2_000_000]))
    has_basic = code != "gd-ci-tou-lt1kv"
    return NaiveAccount(
        account_id=i,
        buckets_wh=buckets,
        category=draw(st.sampled_from([None, "general_ci", "agriculture", "station"])),
        capacity_va=capacity,
        contract_demand_w=draw(st.integers(0, 2_500_000)) if has_basic else None,
        basic_basis=draw(st.sampled_from([None, "capacity", "demand"])) if has_basic else None,
        max_demand_w=draw(st.integers(0, 3_000_000)),
        reactive_varh=draw(st.integers(0, 600_000_000)),
        reverse_reactive_varh=draw(st.sampled_from([0, 0, 1_000_000])),
        pf_standard=draw(st.sampled_from([None, None, "0.90", "0.85", "0.80", "none"])),
        exemptions=tuple(draw(st.sets(st.sampled_from(["pf", "basic", "funds.renewable", "tnd"]), max_size=2))),
        suspended_va=draw(st.sampled_from([0, 0, 315_000])) if has_basic else 0,
        transformer_loss_wh=draw(st.sampled_from([0, 304_000, 1_234_567])),
        transformer_loss_varh=draw(st.sampled_from([0, 5_000_000])),
        loss_ppm=draw(st.sampled_from([0, 0, 12_345, 30_000])),
        reactive_loss_ppm=draw(st.sampled_from([0, 50_000])),
    )


def _frames(code: str, accts: list[NaiveAccount], start: date, end: date, with_segments: bool):
    accounts = pl.DataFrame(
        {
            "account_id": [a.account_id for a in accts],
            "tariff": [code] * len(accts),
            "category": [a.category for a in accts],
            "household_members": pl.Series([a.household_members for a in accts], dtype=pl.Int32),
            "households": pl.Series([a.households for a in accts], dtype=pl.Int32),
            "combined_meter": [a.combined_meter for a in accts],
            "capacity_va": pl.Series([a.capacity_va for a in accts], dtype=pl.Int64),
            "contract_demand_w": pl.Series([a.contract_demand_w for a in accts], dtype=pl.Int64),
            "basic_basis": pl.Series([a.basic_basis for a in accts], dtype=pl.String),
            "pf_standard": pl.Series([a.pf_standard for a in accts], dtype=pl.String),
            "exemptions": pl.Series([list(a.exemptions) for a in accts], dtype=pl.List(pl.String)),
            "ytd_wh": pl.Series([a.ytd_wh for a in accts], dtype=pl.Int64),
        }
    )
    usage = pl.DataFrame(
        {
            "account_id": [a.account_id for a in accts],
            **{f"{b}_wh": pl.Series([a.buckets_wh.get(b) for a in accts], dtype=pl.Int64) for b in BUCKETS},
            "reactive_varh": pl.Series([a.reactive_varh for a in accts], dtype=pl.Int64),
            "reverse_reactive_varh": pl.Series([a.reverse_reactive_varh for a in accts], dtype=pl.Int64),
            "max_demand_w": pl.Series([a.max_demand_w for a in accts], dtype=pl.Int64),
        }
    )
    segments = None
    if with_segments:
        segments = pl.DataFrame(
            {
                "account_id": [a.account_id for a in accts],
                "segment": pl.Series([1] * len(accts), dtype=pl.Int32),
                "start_date": [start] * len(accts),
                "end_date": [end] * len(accts),
                "suspended_va": pl.Series([a.suspended_va for a in accts], dtype=pl.Int64),
                "transformer_loss_wh": pl.Series([a.transformer_loss_wh for a in accts], dtype=pl.Int64),
                "transformer_loss_varh": pl.Series([a.transformer_loss_varh for a in accts], dtype=pl.Int64),
                "loss_ppm": pl.Series([a.loss_ppm for a in accts], dtype=pl.Int64),
                "reactive_loss_ppm": pl.Series([a.reactive_loss_ppm for a in accts], dtype=pl.Int64),
            }
        )
    return accounts, usage, segments


def assert_kernel_equals_naive(code: str, accts: list[NaiveAccount], start: date, end: date, with_segments: bool) -> None:
    if not with_segments:  # without a segments frame there are no losses and no suspension
        accts = [NaiveAccount(**{**a.__dict__, "suspended_va": 0, "transformer_loss_wh": 0, "transformer_loss_varh": 0,
                                 "loss_ppm": 0, "reactive_loss_ppm": 0}) for a in accts]
    accounts, usage, segments = _frames(code, accts, start, end, with_segments)
    result = rate(accounts, usage, SETS, start, end, segments=segments)
    assert result.rejected.height == 0, result.rejected.to_dicts()
    (schedule,) = SETS.in_force(code, start, end)
    kernel: dict[int, list[tuple]] = {a.account_id: [] for a in accts}
    for acc, *line in result.lines.select("account_id", *NaiveLine._fields).iter_rows():
        kernel[acc].append(tuple(line))
    for a in accts:
        # every column of every line: code, component, quantity, unit, price, amount, rule, both explanations
        assert sorted(kernel[a.account_id]) == sorted(naive_bill(schedule, a, start, end)), (code, a)
        assert sorted((ln[0], ln[5]) for ln in kernel[a.account_id]) == sorted(naive_rate(schedule, a, start))
    sums = result.lines.group_by("account_id").agg(pl.col("amount_fen").sum())
    assert dict(sums.iter_rows()) == {
        a: t for a, t in result.totals.select("account_id", "amount_fen").iter_rows() if kernel[a]
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), code=st.sampled_from(RESIDENTIAL), month=st.integers(1, 12), n=st.integers(1, 12))
def test_residential_kernel_equals_naive(data, code, month, n):
    accts = [data.draw(residential_account(code, month, i)) for i in range(n)]
    assert_kernel_equals_naive(code, accts, *_period(code, month), with_segments=False)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), code=st.sampled_from(CI), month=st.integers(1, 12), n=st.integers(1, 12),
       with_segments=st.booleans())
def test_two_part_kernel_equals_naive(data, code, month, n, with_segments):
    accts = [data.draw(ci_account(code, i)) for i in range(n)]
    assert_kernel_equals_naive(code, accts, *_period(code, month), with_segments=with_segments)


def test_large_batch_equivalence():
    """3,000 accounts per tariff family in one kernel call each (fixed seed, fast)."""
    import random

    rnd = random.Random(20260101)
    for code in ("gz-residential-tou", "zj-residential", "hubei-agency-2part-10kv", "two-part-a"):
        accts = []
        for i in range(3000):
            tou = _is_tou(code)
            buckets = ({b: rnd.randrange(0, 300_000_000 if "residential" not in code else 400_000) for b in _priced_buckets(code)}
                       if tou else {"flat": rnd.randrange(0, 6_000_000)})
            accts.append(NaiveAccount(
                account_id=i, buckets_wh=buckets, household_members=rnd.choice([None, 3, 5, 6]),
                ytd_wh=rnd.randrange(0, 6_000_000) if _annual(code) else 0,
                capacity_va=rnd.choice([0, 80_000, 630_000, 1_250_000]),
                contract_demand_w=rnd.randrange(0, 1_500_000), basic_basis=rnd.choice(["capacity", "demand"]),
                max_demand_w=rnd.randrange(0, 2_000_000), reactive_varh=rnd.randrange(0, 200_000_000),
                transformer_loss_wh=rnd.choice([0, 304_000]), loss_ppm=rnd.choice([0, 20_000]),
            ))
        assert_kernel_equals_naive(code, accts, *_period(code, 7), with_segments=True)

"""Worked examples, computed by hand from /work/shared/domain/tariffs.md, rated by the kernel.

Every expected figure is written out as arithmetic in the test: quantity × price = yuan, then the
fen it rounds to (ROUND_HALF_UP unless the test says otherwise). Section numbers (§) are those of
tariffs.md.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from gridcare.rating import UnableToRate, rate
from tests.rating.helpers import (
    LIBRARY,
    D,
    amounts,
    explanations,
    lines,
    rejected,
    run,
    schedules,
    tariff,
    total,
)

SEP = (date(2025, 9, 1), date(2025, 10, 1))  # 30 days, summer tier season in Guangdong
JAN25 = (date(2025, 1, 1), date(2025, 2, 1))  # 31 days, winter tier season
JAN26 = (date(2026, 1, 1), date(2026, 2, 1))  # the Hubei January-2026 table


# ------------------------------------------------------------------------ residential tiers (§1)


def test_guangzhou_summer_two_tiers_and_funds():
    """§1.1/§1.2: Sep thresholds 260/600; prices exclude the 0.00866875 funds.
    tier 1: 260 kWh × 0.5802 = 150.852 → 150.85; tier 2: 190 × 0.6302 = 119.738 → 119.74;
    funds: 450 × 0.00866875 = 3.9009375 → 3.90. Total 274.49 = the inclusive published prices
    260 × 0.58886875 + 190 × 0.63886875 = 274.4909375 → 274.49."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "gz-residential"}], [{"account_id": 1, "total_wh": 450_000}], *SEP)
    assert lines(r) == [
        ("energy.tier1", D("260"), D("0.5802"), 15085),
        ("energy.tier2", D("190"), D("0.6302"), 11974),
        ("funds.all", D("450"), D("0.00866875"), 390),
    ]
    assert total(r, 1) == 27449
    assert explanations(r) == [
        "第一档（0–260 kWh）260 kWh × 0.5802 元/kWh",
        "第二档（260–600 kWh）190 kWh × 0.6302 元/kWh",
        "政府性基金及附加 450 kWh × 0.00866875 元/kWh",
    ]
    assert explanations(r, lang="en")[0] == "Tier 1 (0–260 kWh) 260 kWh × 0.5802 yuan/kWh"
    row = r.lines.row(0, named=True)
    assert (row["component"], row["unit"], row["rule"], row["line_no"]) == ("energy", "kWh", "粤价〔2012〕135号 阶梯电价", 1)


def test_guangzhou_winter_three_tiers():
    """January thresholds 200/400: 200 × 0.5802 = 116.04; 200 × 0.6302 = 126.04;
    250 × 0.8802 = 220.05; funds 650 × 0.00866875 = 5.6346875 → 5.63. Total 467.76."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "gz-residential"}], [{"account_id": 1, "total_wh": 650_000}], *JAN25)
    assert amounts(r) == {"energy.tier1": 11604, "energy.tier2": 12604, "energy.tier3": 22005, "funds.all": 563}
    assert total(r, 1) == 46776


def test_household_allowance_raises_both_thresholds():
    """一户多人口 (§1.1): +100 kWh on both thresholds → 360/700 in September.
    5 members, 700 kWh: 360 × 0.5802 = 208.872 → 208.87; 340 × 0.6302 = 214.268 → 214.27;
    funds 700 × 0.00866875 = 6.068125 → 6.07; total 429.21.
    4 members (no allowance): 260 × 0.5802 = 150.85; 340 × 0.6302 = 214.27; 100 × 0.8802 = 88.02;
    funds 6.07; total 459.21."""
    r = run(
        LIBRARY,
        [{"account_id": 1, "tariff": "gz-residential", "household_members": 5},
         {"account_id": 2, "tariff": "gz-residential", "household_members": 4}],
        [{"account_id": 1, "total_wh": 700_000}, {"account_id": 2, "total_wh": 700_000}],
        *SEP,
    )
    assert amounts(r, 1) == {"energy.tier1": 20887, "energy.tier2": 21427, "funds.all": 607}
    assert total(r, 1) == 42921
    assert amounts(r, 2) == {"energy.tier1": 15085, "energy.tier2": 21427, "energy.tier3": 8802, "funds.all": 607}
    assert total(r, 2) == 45921
    assert explanations(r, 1)[1] == "第二档（360–700 kWh）340 kWh × 0.6302 元/kWh"


def test_per_member_allowance():
    """An allowance of 50 kWh per member above 3 (a configurable variant): 6 members →
    thresholds 100 + 3 × 50 = 250 and 200 + 3 × 50 = 350. 400 kWh at 0.5/0.6/0.9:
    250 × 0.5 = 125.00; 100 × 0.6 = 60.00; 50 × 0.9 = 45.00; total 230.00."""
    text = tariff("""
components:
  - id: energy
    kind: energy
    label_zh: 电度电费
    label_en: Energy
    tiers: [{upto: 100, price: 0.5}, {upto: 200, price: 0.6}, {price: 0.9}]
    tier_options:
      household_allowance: {min_members: 3, extra_kwh: [0, 0], per_extra_member_kwh: [50, 50]}
""")
    r = run(text, [{"account_id": 1, "tariff": "t", "household_members": 6}], [{"account_id": 1, "total_wh": 400_000}], *SEP)
    assert amounts(r) == {"energy.tier1": 12500, "energy.tier2": 6000, "energy.tier3": 4500}


def test_combined_meter_flat_price_guangzhou():
    """合表 users pay 0.62586875 inclusive, no ladder (§1.2) = 0.6172 + funds 0.00866875.
    300 kWh × 0.6172 = 185.16; funds 300 × 0.00866875 = 2.600625 → 2.60; total 187.76
    = 300 × 0.62586875 = 187.760625 → 187.76."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "gz-residential", "combined_meter": True}],
            [{"account_id": 1, "total_wh": 3_000_000 // 10}], *SEP)
    assert lines(r) == [("energy.combined", D("300"), D("0.6172"), 18516), ("funds.all", D("300"), D("0.00866875"), 260)]
    assert explanations(r)[0] == "电度电费（合表）300 kWh × 0.6172 元/kWh"


def test_combined_meter_multiplies_thresholds_by_households():
    """合表 in 'multiply' mode: thresholds × households. 3 households: 200/400 → 600/1200.
    1000 kWh: 600 × 0.5 = 300.00; 400 × 0.55 = 220.00; total 520.00."""
    text = tariff("""
components:
  - id: energy
    kind: energy
    label_zh: 电度电费
    label_en: Energy
    tiers: [{upto: 200, price: 0.5}, {upto: 400, price: 0.55}, {price: 0.8}]
    tier_options:
      combined_meter: {mode: multiply}
""")
    r = run(text, [{"account_id": 1, "tariff": "t", "combined_meter": True, "households": 3}],
            [{"account_id": 1, "total_wh": 1_000_000}], *SEP)
    assert amounts(r) == {"energy.tier1": 30000, "energy.tier2": 22000}


def test_shenzhen_combined_meter_and_ordinary():
    """Shenzhen (§1.2): 合表 0.6912; ordinary 200 kWh in January = 200 × 0.6542 = 130.84."""
    r = run(LIBRARY,
            [{"account_id": 1, "tariff": "sz-residential", "combined_meter": True},
             {"account_id": 2, "tariff": "sz-residential"}],
            [{"account_id": 1, "total_wh": 100_000}, {"account_id": 2, "total_wh": 200_000}], *JAN25)
    assert lines(r, 1) == [("energy.combined", D("100"), D("0.6912"), 6912)]
    assert lines(r, 2) == [("energy.tier1", D("200"), D("0.6542"), 13084)]


def test_zhejiang_annual_tiers_cross_one_boundary():
    """§1.1: annual thresholds 2760/4800, the cumulative total decides. 2500 kWh billed earlier
    this year, 400 kWh now: 260 kWh fill tier 1, 140 kWh fall in tier 2.
    260 × 0.538 = 139.88; 140 × 0.588 = 82.32; total 222.20."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "zj-residential", "ytd_wh": 2_500_000}],
            [{"account_id": 1, "total_wh": 400_000}], date(2025, 7, 1), date(2025, 8, 1))
    assert lines(r) == [("energy.tier1", D("260"), D("0.538"), 13988), ("energy.tier2", D("140"), D("0.588"), 8232)]
    assert explanations(r)[1] == "第二档（年累计2760–4800 kWh）140 kWh × 0.588 元/kWh"


def test_zhejiang_annual_tiers_cross_the_top_boundary():
    """4700 kWh earlier, 300 kWh now: 100 × 0.588 = 58.80; 200 × 0.838 = 167.60; total 226.40."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "zj-residential", "ytd_wh": 4_700_000}],
            [{"account_id": 1, "total_wh": 300_000}], date(2025, 11, 1), date(2025, 12, 1))
    assert amounts(r) == {"energy.tier2": 5880, "energy.tier3": 16760}
    assert total(r, 1) == 22640


def test_annual_cycle_start_is_per_account():
    """An account whose annual cycle starts on 15 July cannot be rated over 1 Jul–1 Aug (the
    cycle restarts inside the period); one starting on 1 July with history is inconsistent; the
    default cycle (1 January) is fine for July. Nothing is half-rated."""
    r = run(
        LIBRARY,
        [
            {"account_id": 1, "tariff": "zj-residential", "annual_cycle_start": date(2019, 7, 15)},
            {"account_id": 2, "tariff": "zj-residential", "annual_cycle_start": date(2019, 7, 1), "ytd_wh": 5},
            {"account_id": 3, "tariff": "zj-residential", "annual_cycle_start": date(2019, 7, 1)},
            {"account_id": 4, "tariff": "zj-residential"},
        ],
        [{"account_id": i, "total_wh": 100_000} for i in (1, 2, 3, 4)],
        date(2025, 7, 1), date(2025, 8, 1),
    )
    assert rejected(r) == [
        (1, "accounts.annual_cycle_start",
         "the annual tier cycle restarts on 07-15 inside the period; split the period at the anniversary"),
        (2, "accounts.ytd_wh", "ytd_wh must be 0: the period starts a new annual tier cycle"),
    ]
    assert r.totals["account_id"].to_list() == [3, 4]
    assert set(r.lines["account_id"].to_list()) == {3, 4}


def test_annual_tiers_default_cycle_is_the_calendar_year():
    """A period from 15 December to 15 January straddles 1 January: rejected for annual tariffs,
    fine for monthly ones."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "zj-residential"}, {"account_id": 2, "tariff": "gz-residential"}],
            [{"account_id": 1, "total_wh": 1}, {"account_id": 2, "total_wh": 1}], date(2024, 12, 15), date(2025, 1, 15))
    assert [(a, f) for a, f, _ in rejected(r)] == [(1, "accounts.annual_cycle_start")]
    assert r.totals["account_id"].to_list() == [2]


# ------------------------------------------------------------- residential TOU then tiers (§1.3)


def test_shenzhen_tou_first_then_tiers_source_example():
    """§1.3 (Shenzhen app test): 300 kWh in September, 100 peak / 100 flat / 100 valley →
    100 × (1.1121 + 0.6542 + 0.2486) + 40 × 0.05 = 201.49 + 2.00 = 203.49 元."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential-tou"}],
            [{"account_id": 1, "peak_wh": 100_000, "flat_wh": 100_000, "valley_wh": 100_000}], *SEP)
    assert lines(r) == [
        ("energy.peak", D("100"), D("1.1121"), 11121),
        ("energy.flat", D("100"), D("0.6542"), 6542),
        ("energy.valley", D("100"), D("0.2486"), 2486),
        ("energy.tier2_adder", D("40"), D("0.05"), 200),
    ]
    assert total(r, 1) == 20349
    assert explanations(r)[0] == "电度电费（高峰）100 kWh × 1.1121 元/kWh"
    assert explanations(r)[3] == "第二档加价（260–600 kWh）40 kWh × 0.05 元/kWh"


def test_guangzhou_tou_prices_are_ratios_of_the_fund_free_base():
    """§1.2: peak = 0.5802 × 1.7 = 0.98634, valley = 0.5802 × 0.38 = 0.220476 (exact; the
    tariff keeps 8 places), funds 0.00866875 do not take part in the ratio.
    January, 150 peak / 200 flat / 100 valley = 450 kWh:
    150 × 0.98634 = 147.951 → 147.95; 200 × 0.5802 = 116.04; 100 × 0.220476 = 22.0476 → 22.05;
    tier 2 adder (200–400) 200 × 0.05 = 10.00; tier 3 adder 50 × 0.30 = 15.00;
    funds 450 × 0.00866875 = 3.9009375 → 3.90. Total 314.94."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "gz-residential-tou"}],
            [{"account_id": 1, "peak_wh": 150_000, "flat_wh": 200_000, "valley_wh": 100_000}], *JAN25)
    assert lines(r) == [
        ("energy.peak", D("150"), D("0.98634"), 14795),
        ("energy.flat", D("200"), D("0.5802"), 11604),
        ("energy.valley", D("100"), D("0.220476"), 2205),
        ("energy.tier2_adder", D("200"), D("0.05"), 1000),
        ("energy.tier3_adder", D("50"), D("0.3"), 1500),
        ("funds.all", D("450"), D("0.00866875"), 390),
    ]
    assert total(r, 1) == 31494
    # inclusive peak price as published: 0.98634 + 0.00866875 = 0.99500875 (§1.2 check)
    sched = LIBRARY.versions("gz-residential-tou")[0]
    assert sched.component("energy").tou_prices["peak"] + D("0.00866875") == D("0.99500875")


def test_zhejiang_tou_with_annual_tier_adders():
    """§1.2: tier 1 peak 0.568 / valley 0.288, +0.05 in tier 2. 2700 kWh earlier this year;
    100 peak + 100 valley now: 56.80 + 28.80; tier 2 adder (2700 + 200 − 2760) = 140 × 0.05 = 7.00.
    Total 92.60 — the same as pricing 140 kWh at the tier-2 peak/valley prices of the table."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "zj-residential-tou", "ytd_wh": 2_700_000}],
            [{"account_id": 1, "peak_wh": 100_000, "valley_wh": 100_000}], date(2025, 6, 1), date(2025, 7, 1))
    assert amounts(r) == {"energy.peak": 5680, "energy.valley": 2880, "energy.tier2_adder": 700}
    assert total(r, 1) == 9260


def test_tou_tariff_without_registers_is_rejected():
    r = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential-tou"}], [{"account_id": 1, "total_wh": 100_000}], *SEP)
    assert rejected(r) == [(1, "usage", "tariff sz-residential-tou is time-of-use: give TOU registers "
                                         "(sharp/peak/flat/valley) or intervals")]
    assert r.lines.height == 0 and r.totals.height == 0


def test_flat_register_is_total_minus_the_others():
    """total 300 kWh with peak 100 and valley 100 given: flat = 100."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential-tou"}],
            [{"account_id": 1, "total_wh": 300_000, "peak_wh": 100_000, "valley_wh": 100_000}], *SEP)
    assert total(r, 1) == 20349


# ------------------------------------------------------ C&I TOU, ratios, sharp months (§2.1)


GD = "gd-ci-tou-lt1kv"


def test_guangdong_ci_prices_derived_with_the_tariffs_rounding():
    """§2.1: 平 67.25 分; 峰 67.25 × 1.7 = 114.325 → 114.33; 谷 × 0.38 = 25.555 → 25.56;
    尖峰 = 114.33 × 1.25 = 142.9125 → 142.91 分 (rounded to 0.01 分 = 0.0001 元, half up)."""
    prices = LIBRARY.versions(GD)[0].component("energy").tou_prices
    assert prices == {"sharp": D("1.4291"), "peak": D("1.1433"), "flat": D("0.6725"), "valley": D("0.2556")}


def test_guangdong_ci_register_bill_in_a_sharp_month():
    """August (a sharp month), 50 kVA (no power-factor adjustment below 100 kVA):
    100 × 1.4291 = 142.91; 200 × 1.1433 = 228.66; 300 × 0.6725 = 201.75; 400 × 0.2556 = 102.24.
    Total 675.56."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": GD, "capacity_va": 50_000}],
            [{"account_id": 1, "sharp_wh": 100_000, "peak_wh": 200_000, "flat_wh": 300_000, "valley_wh": 400_000}],
            date(2025, 8, 1), date(2025, 9, 1))
    assert amounts(r) == {"energy.sharp": 14291, "energy.peak": 22866, "energy.flat": 20175, "energy.valley": 10224}
    assert total(r, 1) == 67556
    assert r.totals["cos_phi"].to_list() == [None]


def _day(day: date, wh_per_hour: int = 1000, points: int = 24) -> list[dict]:
    return [{"account_id": 1, "date": day, "point": p, "wh": wh_per_hour * 24 // points} for p in range(points)]


def test_hourly_intervals_are_bucketed_by_the_summer_calendar():
    """One August day at 1 kWh an hour. Jul–Sep bands: 谷 0–8 (8 h); 平 8–10, 12–14, 19–24 (9 h);
    峰 10–11, 14–15, 17–19 (4 h); 尖峰 11–12, 15–17 (3 h).
    3 × 1.4291 = 4.2873 → 4.29; 4 × 1.1433 = 4.5732 → 4.57; 9 × 0.6725 = 6.0525 → 6.05;
    8 × 0.2556 = 2.0448 → 2.04."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": GD}], None, date(2025, 8, 1), date(2025, 9, 1),
            intervals=_day(date(2025, 8, 5)))
    assert lines(r) == [
        ("energy.sharp", D("3"), D("1.4291"), 429),
        ("energy.peak", D("4"), D("1.1433"), 457),
        ("energy.flat", D("9"), D("0.6725"), 605),
        ("energy.valley", D("8"), D("0.2556"), 204),
    ]


def test_hot_days_turn_their_slots_sharp():
    """June: peak 10–12, 14–19 (7 h). On a hot day (≥35 ℃) 11–12 and 15–17 are sharp:
    a normal day gives 7 peak hours, a hot day 4 peak + 3 sharp. Two days at 1 kWh an hour:
    sharp 3; peak 7 + 4 = 11; flat 18; valley 16."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": GD}], None, date(2025, 6, 1), date(2025, 7, 1),
            intervals=_day(date(2025, 6, 10)) + _day(date(2025, 6, 11)), hot_days=[date(2025, 6, 11)])
    assert [(c, q) for c, q, _, _ in lines(r)] == [
        ("energy.sharp", D("3")), ("energy.peak", D("11")), ("energy.flat", D("18")), ("energy.valley", D("16"))
    ]


def test_96_point_intervals_bucket_like_24_point_ones():
    hourly = run(LIBRARY, [{"account_id": 1, "tariff": GD}], None, date(2025, 8, 1), date(2025, 9, 1),
                 intervals=_day(date(2025, 8, 5)))
    quarter = run(LIBRARY, [{"account_id": 1, "tariff": GD}], None, date(2025, 8, 1), date(2025, 9, 1),
                  intervals=_day(date(2025, 8, 5), points=96), interval_points=96)
    assert lines(quarter) == lines(hourly)


def test_hourly_points_cannot_split_a_half_hour_band():
    text = tariff("""
tou:
  seasons:
    - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
      bands: {flat: ["00:00-08:30"], peak: ["08:30-24:00"]}
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, tou_prices: {flat: 0.5, peak: 0.8}}
""")
    with pytest.raises(UnableToRate, match="changes band inside an hour"):
        run(text, [{"account_id": 1, "tariff": "t"}], None, *SEP, intervals=_day(date(2025, 9, 2)))
    r = run(text, [{"account_id": 1, "tariff": "t"}], None, *SEP, intervals=_day(date(2025, 9, 2), points=96),
            interval_points=96)
    # 34 quarter hours × 0.25 kWh = 8.5 kWh flat; 62 × 0.25 = 15.5 kWh peak
    assert [(c, q) for c, q, _, _ in lines(r)] == [("energy.peak", D("15.5")), ("energy.flat", D("8.5"))]


# ---------------------------------------------- Hubei agency purchase, two-part (§2.2, §3, §7)


HB = "hubei-agency-2part-10kv"


def test_hubei_bucket_prices_add_up_to_the_published_table():
    """§2.2: 代理购电 + 上网线损 + 输配 0.1263 + 系统运行 0.082273 + 基金 0.0452 = table price."""
    s = LIBRARY.versions(HB)[0]
    purchase, loss = s.component("purchase").tou_prices, s.component("line_loss").tou_prices
    fixed = D("0.1263") + D("0.082273") + D("0.0452")
    table = {"sharp": D("1.049999"), "peak": D("0.848961"), "flat": D("0.651886"), "valley": D("0.432924")}
    assert {b: purchase[b] + loss[b] + fixed for b in table} == table


def test_hubei_full_two_part_bill_with_power_factor_reduction():
    """January 2026, 630 kVA capacity basis, standard 0.90.
    Registers: sharp 10,000, peak 30,000, flat 40,000, valley 20,000 kWh; reactive 30,000 kvarh.
    purchase: 10000 × 0.768940 = 7689.40; 30000 × 0.574792 = 17243.76; 40000 × 0.384470 = 15378.80;
              20000 × 0.173012 = 3460.24
    line loss: 10000 × 0.027286 = 272.86; 30000 × 0.020396 = 611.88; 40000 × 0.013643 = 545.72;
               20000 × 0.006139 = 122.78
    T&D: 100000 × 0.1263 = 12630.00; system operation: 100000 × 0.082273 = 8227.30
    basic: 630 kVA × 26.3 = 16569.00
    cos φ = 100000 / √(100000² + 30000²) = 0.9578 → 0.96 → −0.75 % (§4.4);
    base = basic + energy (not funds) = 43772.20 + 1553.24 + 12630.00 + 8227.30 + 16569.00 = 82751.74;
    adjustment = 82751.74 × −0.0075 = −620.63805 → −620.64
    funds: 100000 × 0.02 = 2000.00; × 0.0062 = 620.00; × 0.019 = 1900.00
    total = 82751.74 − 620.64 + 4520.00 = 86651.10."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": HB, "capacity_va": 630_000}],
            [{"account_id": 1, "sharp_wh": 10_000_000, "peak_wh": 30_000_000, "flat_wh": 40_000_000,
              "valley_wh": 20_000_000, "reactive_varh": 30_000_000}], *JAN26)
    assert lines(r) == [
        ("purchase.sharp", D("10000"), D("0.76894"), 768940),
        ("purchase.peak", D("30000"), D("0.574792"), 1724376),
        ("purchase.flat", D("40000"), D("0.38447"), 1537880),
        ("purchase.valley", D("20000"), D("0.173012"), 346024),
        ("line_loss.sharp", D("10000"), D("0.027286"), 27286),
        ("line_loss.peak", D("30000"), D("0.020396"), 61188),
        ("line_loss.flat", D("40000"), D("0.013643"), 54572),
        ("line_loss.valley", D("20000"), D("0.006139"), 12278),
        ("tnd", D("100000"), D("0.1263"), 1263000),
        ("system_operation", D("100000"), D("0.082273"), 822730),
        ("basic.capacity", D("630"), D("26.3"), 1656900),
        ("pf.adjustment", D("82751.74"), D("-0.0075"), -62064),
        ("funds.rural_grid", D("100000"), D("0.02"), 200000),
        ("funds.reservoir", D("100000"), D("0.0062"), 62000),
        ("funds.renewable", D("100000"), D("0.019"), 190000),
    ]
    assert total(r, 1) == 8665110
    t = r.totals.row(0, named=True)
    assert (t["cos_phi"], t["pf_rate"], t["billed_wh"], t["line_count"]) == (D("0.96"), D("-0.0075"), 100_000_000, 15)
    assert explanations(r)[11] == "功率因数调整电费：功率因数 0.96（标准 0.90），调整 -0.75%：82751.74 元 × -0.75%"
    assert explanations(r, lang="en")[10] == "Basic (capacity/demand) charge (capacity) 630 kVA × 26.3 yuan/kVA·month"


def _hubei_demand(contract_kw: int, actual_kw: int, capacity_kva: int = 2000, tariff_set=LIBRARY, code: str = HB):
    return run(tariff_set,
               [{"account_id": 1, "tariff": code, "capacity_va": capacity_kva * 1000, "basic_basis": "demand",
                 "contract_demand_w": contract_kw * 1000, "pf_standard": "none"}],
               [{"account_id": 1, "flat_wh": 0, "max_demand_w": actual_kw * 1000}], *JAN26)


def test_demand_over_105_percent_doubles_the_excess():
    """Example 9 (§10): contract 1000 kW, actual 1300 kW → 1050 allowed + 2 × 250 = 1550 kW;
    1550 × 42.0 = 65100.00 元."""
    r = _hubei_demand(1000, 1300)
    assert lines(r) == [("basic.demand", D("1550"), D("42"), 6510000)]
    assert explanations(r) == ["基本电费（需量）1550 kW × 42.0 元/kW·月（合同 1000 kW，实际 1300 kW，超过 105% 部分加倍）"]


@pytest.mark.parametrize(("formula", "kw"), [
    ("contract_plus_double_excess", 1500),  # (a) C + 2(D − 1.05C) = 1000 + 500
    ("threshold_plus_double_excess", 1550),  # (b) 1.05C + 2(D − 1.05C)
    ("contract_plus_double_over_contract", 1600),  # (c) C + 2(D − C), the pre-2016 rule
])
def test_105_percent_interpretation_is_configurable(formula, kw):
    text = tariff(f"""
components:
  - id: basic
    kind: basic
    label_zh: 基本电费
    label_en: Basic charge
    demand_price: 42.0
    demand: {{threshold_ratio: 1.05, over_formula: {formula}, excess_multiplier: 2}}
""")
    r = _hubei_demand(1000, 1300, tariff_set=schedules(text), code="t")
    assert lines(r) == [("basic.demand", D(str(kw)), D("42"), kw * 4200)]


@pytest.mark.parametrize(("actual", "billable"), [(1040, 1000), (1050, 1000), (1051, 1052), (500, 1000)])
def test_within_105_percent_the_contract_value_is_billed(actual, billable):
    """D ≤ 1.05 C → C (even when D < C). D = 1051 → 1050 + 2 × 1 = 1052."""
    assert lines(_hubei_demand(1000, actual))[0][1] == D(str(billable))


def test_contract_demand_below_40_percent_of_capacity_is_raised():
    """§3.1: contract 600 kW on 2000 kVA is below 40 % (800): billed 800 kW × 42 = 33600.00."""
    r = _hubei_demand(600, 500)
    assert lines(r) == [("basic.demand", D("800"), D("42"), 3360000)]


def test_actual_demand_basis():
    text = tariff("""
components:
  - id: basic
    kind: basic
    label_zh: 基本电费
    label_en: Basic charge
    demand_price: 32
    demand: {basis: actual, floor_ratio: 0.4}
""")
    r = _hubei_demand(1000, 1300, tariff_set=schedules(text), code="t")
    assert lines(r) == [("basic.demand", D("1300"), D("32"), 4160000)]  # 1300 × 32 = 41600.00
    r = _hubei_demand(1000, 700, tariff_set=schedules(text), code="t")
    assert lines(r) == [("basic.demand", D("800"), D("32"), 2560000)]  # floor 0.4 × 2000 = 800 × 32


def test_demand_basis_needs_its_data():
    r = run(LIBRARY, [{"account_id": 1, "tariff": HB, "capacity_va": 630_000, "basic_basis": "demand",
                       "pf_standard": "none"}],
            [{"account_id": 1, "flat_wh": 1000}], *JAN26)
    assert [(f, m) for _, f, m in rejected(r)] == [
        ("usage.max_demand_w", "max_demand_w is required for a demand-based basic charge"),
        ("accounts.contract_demand_w", "contract_demand_w is required for a contract-demand basic charge"),
    ]
    assert r.lines.height == 0


def test_new_connection_basic_charge_is_prorated_by_thirtieths():
    """§3.3 《供电营业规则》: a new connection pays 1/30 of the monthly basic charge per day.
    Connected 11 January (segment 11 Jan – 1 Feb = 21 days): 630 × 26.3 × 21/30 = 11598.30."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": HB, "capacity_va": 630_000, "pf_standard": "none"}],
            [{"account_id": 1, "segment": 1, "flat_wh": 0}], *JAN26,
            segments=[{"account_id": 1, "segment": 1, "start_date": date(2026, 1, 11), "end_date": date(2026, 2, 1)}])
    assert lines(r) == [("basic.capacity", D("630"), D("26.3"), 1159830)]
    assert explanations(r) == ["基本电费（容量）630 kVA × 26.3 元/kVA·月 × 21/30 天"]


def test_actual_days_proration_is_configurable():
    """proration: actual_days → 21/31: 630 × 26.3 × 21/31 = 11224.16129… → 11224.16."""
    text = tariff("""
components:
  - {id: basic, kind: basic, label_zh: 基本电费, label_en: Basic charge, capacity_price: 26.3, proration: actual_days}
""")
    r = run(text, [{"account_id": 1, "tariff": "t", "capacity_va": 630_000}], [{"account_id": 1, "segment": 1, "total_wh": 0}],
            *JAN26, segments=[{"account_id": 1, "segment": 1, "start_date": date(2026, 1, 11), "end_date": date(2026, 2, 1)}])
    assert lines(r) == [("basic.capacity", D("630"), D("26.3"), 1122416)]


def test_capacity_increase_mid_month_bills_each_segment_by_its_days():
    """增容 on 11 January: 315 kVA for 10 days, 630 kVA for 21 days:
    315 × 26.3 × 10/30 = 2761.50; 630 × 26.3 × 21/30 = 11598.30."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": HB, "capacity_va": 630_000, "pf_standard": "none"}],
            [{"account_id": 1, "segment": 1, "flat_wh": 0}, {"account_id": 1, "segment": 2, "flat_wh": 0}], *JAN26,
            segments=[
                {"account_id": 1, "segment": 1, "start_date": date(2026, 1, 1), "end_date": date(2026, 1, 11),
                 "capacity_va": 315_000},
                {"account_id": 1, "segment": 2, "start_date": date(2026, 1, 11), "end_date": date(2026, 2, 1)},
            ])
    assert lines(r) == [("basic.capacity", D("315"), D("26.3"), 276150), ("basic.capacity", D("630"), D("26.3"), 1159830)]
    assert r.lines["start_date"].to_list() == [date(2026, 1, 1), date(2026, 1, 11)]


@pytest.mark.parametrize(("suspension_days", "charged_kva", "fen"), [
    (21, 315, 579915),  # ≥ 15 days: (630 − 315) × 26.3 × 21/30 = 5799.15
    (10, 630, 1159830),  # < 15 days: charged in full, 630 × 26.3 × 21/30 = 11598.30
])
def test_suspended_transformer(suspension_days, charged_kva, fen):
    """§3.3 暂停: a sealed transformer is not charged from the sealing date, unless the suspension
    is shorter than 15 days (suspension_min_days)."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": HB, "capacity_va": 630_000, "pf_standard": "none"}],
            [{"account_id": 1, "segment": s, "flat_wh": 0} for s in (1, 2)], *JAN26,
            segments=[
                {"account_id": 1, "segment": 1, "start_date": date(2026, 1, 1), "end_date": date(2026, 1, 11)},
                {"account_id": 1, "segment": 2, "start_date": date(2026, 1, 11), "end_date": date(2026, 2, 1),
                 "suspended_va": 315_000, "suspension_days": suspension_days},
            ])
    # segment 1: 630 × 26.3 × 10/30 = 5523.00
    assert lines(r) == [("basic.capacity", D("630"), D("26.3"), 552300),
                        ("basic.capacity", D(str(charged_kva)), D("26.3"), fen)]
    if charged_kva == 315:
        assert explanations(r)[1] == "基本电费（容量）315 kVA × 26.3 元/kVA·月 × 21/30 天（暂停 315 kVA 不计）"


# --------------------------------------------------------------------- power factor (§4, §10)


PF_TARIFF = tariff("""
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy charge, price: 0.8}
  - {id: basic, kind: basic, label_zh: 基本电费, label_en: Basic charge, capacity_price: 18.4}
  - id: pf
    kind: power_factor
    label_zh: 功率因数调整电费
    label_en: Power-factor adjustment
    applies_to: [energy, basic]
    table_file: pf-1983.yaml
    default_standard: "0.90"
    min_capacity_kva: 100
  - id: funds
    kind: funds
    label_zh: 政府性基金及附加
    label_en: Funds
    items: [{code: renewable, label_zh: 可再生能源电价附加, label_en: Renewable, rate: 0.019}]
""")


def _pf(active_wh: int, reactive_varh: int, *, capacity_kva: int = 10_000, standard: str | None = None, **acc):
    return run(PF_TARIFF, [{"account_id": 1, "tariff": "t", "capacity_va": capacity_kva * 1000, "pf_standard": standard, **acc}],
               [{"account_id": 1, "total_wh": active_wh, "reactive_varh": reactive_varh}], *SEP)


def test_power_factor_example_from_aiicanw():
    """Example 10 (§10): basic 18.4 万 + energy 8 万, natural PF 0.70 → +10 % = 2.64 万;
    at 0.95 → −0.75 % = −0.198 万; monthly saving 2.64 + 0.198 = 2.838 万.
    Here: 10,000 kVA × 18.4 = 184,000.00; 100,000 kWh × 0.8 = 80,000.00;
    Q = 102,000 kvarh → cos φ = 1/√(1 + 1.02²) = 0.70007 → 0.70 → +10 % of 264,000.00 = 26,400.00;
    Q = 32,000 → cos φ = 0.95242 → 0.95 → −0.75 % = −1,980.00. Funds (1,900.00) are not adjusted."""
    high = _pf(100_000_000, 102_000_000)
    low = _pf(100_000_000, 32_000_000)
    assert amounts(high) == {"energy": 8_000_000, "basic.capacity": 18_400_000, "pf.adjustment": 2_640_000,
                             "funds.renewable": 190_000}
    assert amounts(low)["pf.adjustment"] == -198_000
    assert amounts(high)["pf.adjustment"] - amounts(low)["pf.adjustment"] == 2_838_000


@pytest.mark.parametrize(("standard", "percent"), [("0.90", 25), ("0.85", 15), ("0.80", 10)])
def test_power_factor_060_under_each_standard(standard, percent):
    """Example 10 (Baidu): std 0.90, PF 0.60 → (0.9−0.7)/0.01 × 0.5 % + (0.7−0.65)/0.01 × 1 %
    + (0.65−0.6)/0.01 × 2 % = 25 %; table rows for 0.85 and 0.80: 15 % and 10 %.
    P = 3000 kWh, Q = 4000 kvarh → cos φ = 0.6 exactly. Base 3000 × 0.8 + 184,000 = 186,400.00."""
    r = _pf(3_000_000, 4_000_000, standard=standard)
    assert amounts(r)["pf.adjustment"] == 186_400_00 * percent // 100
    assert r.totals["cos_phi"].to_list() == [D("0.60")]


@pytest.mark.parametrize(("q_per_10000", "cos"), [
    (1003, "1.00"), (1004, "0.99"),  # wgbc.cn: 1.00 ↔ tan φ 0.000–0.1003, 0.99 ↔ 0.1004–0.1751
    (3461, "0.95"), (3462, "0.94"),  # 0.95 ↔ 0.3106–0.3461, 0.94 ↔ 0.3462–0.3793
    (11847, "0.65"), (11848, "0.64"),  # 0.65 ↔ 1.1537–1.1847, 0.64 ↔ 1.1848–1.2165
])
def test_cos_phi_rounding_matches_the_published_tan_phi_ranges(q_per_10000, cos):
    """§4.4: the printed tan φ (= Q/P) ranges are exactly the half-up rounding of cos φ to 2 places."""
    r = _pf(10_000_000, q_per_10000 * 1000)
    assert r.totals["cos_phi"].to_list() == [D(cos)]


def test_below_the_table_each_hundredth_adds_two_percent():
    """std 0.90: the last row is 0.26 → +93 %; 0.20 → 93 + 6 × 2 = +105 %.
    P = 1000, Q = 4899 → cos φ = 0.19999… → 0.20."""
    r = _pf(1_000_000, 4_899_000)
    assert r.totals.row(0, named=True)["pf_rate"] == D("1.05")


def test_no_adjustment_below_100_kva_or_when_exempt():
    """§4.1: users below 100 kVA are not assessed; 100 kVA is. Standard 'none' and an 'pf'
    exemption switch it off per account."""
    assert "pf.adjustment" not in amounts(_pf(1_000_000, 2_000_000, capacity_kva=99))
    assert "pf.adjustment" in amounts(_pf(1_000_000, 2_000_000, capacity_kva=100))
    assert "pf.adjustment" not in amounts(_pf(1_000_000, 2_000_000, standard="none"))
    assert "pf.adjustment" not in amounts(_pf(1_000_000, 2_000_000, exemptions=["pf"]))


def test_power_factor_needs_reactive_energy():
    r = run(PF_TARIFF, [{"account_id": 1, "tariff": "t", "capacity_va": 200_000}], [{"account_id": 1, "total_wh": 5}], *SEP)
    assert rejected(r) == [(1, "usage.reactive_varh", "reactive_varh is required: power-factor adjustment applies")]


def test_reverse_reactive_counts_as_absolute_value():
    """§4.2: exported reactive is added to the imported one. P 10,000; Q 2,000 + 1,462 = 3,462 →
    tan φ 0.3462 → 0.94 (without the export it would be 0.98)."""
    r = run(PF_TARIFF, [{"account_id": 1, "tariff": "t", "capacity_va": 200_000}],
            [{"account_id": 1, "total_wh": 10_000_000, "reactive_varh": 2_000_000, "reverse_reactive_varh": 1_462_000}], *SEP)
    assert r.totals["cos_phi"].to_list() == [D("0.94")]


# ------------------------------------------------------------------------------- losses (§5)


LOSS_TARIFF = tariff("""
components:
  - {id: losses, kind: losses, label_zh: 变损, label_en: Transformer loss, fixed_proration: thirty_day}
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy charge, price: 0.5}
  - id: funds
    kind: funds
    label_zh: 政府性基金及附加
    label_en: Funds
    items: [{code: renewable, label_zh: 可再生能源电价附加, label_en: Renewable, rate: 0.02}]
""")


def test_fixed_transformer_loss_prorated_by_days():
    """Example 1 (§5): '50kV·A变压器每月变损电量为304kW·h … 有功变损 = 304 × 20 ÷ 30 = 203'.
    The old meter ran 20 days of September: 202.67 → 203 kWh (loss_quantity rounds to the kWh).
    Billed 1,000 + 203 = 1,203 kWh (segment 1) + 500 kWh (segment 2, no loss):
    energy 1203 × 0.5 = 601.50 and 500 × 0.5 = 250.00 (one line per version and PF status: 1703 ×
    0.5 = 851.50); funds 1703 × 0.02 = 34.06."""
    r = run(LOSS_TARIFF, [{"account_id": 1, "tariff": "t"}],
            [{"account_id": 1, "segment": 1, "total_wh": 1_000_000}, {"account_id": 1, "segment": 2, "total_wh": 500_000}],
            *SEP, segments=[
                {"account_id": 1, "segment": 1, "start_date": date(2025, 9, 1), "end_date": date(2025, 9, 21),
                 "transformer_loss_wh": 304_000},
                {"account_id": 1, "segment": 2, "start_date": date(2025, 9, 21), "end_date": date(2025, 10, 1)},
            ])
    assert lines(r) == [
        ("losses.fixed", D("203"), D("0"), 0),
        ("energy", D("1703"), D("0.5"), 85150),
        ("funds.renewable", D("1703"), D("0.02"), 3406),
    ]
    assert explanations(r)[0] == "变损（定额）304 kWh × 20/30 天 = 203 kWh"
    assert r.totals["billed_wh"].to_list() == [1_703_000]


def test_percentage_loss_active_and_reactive():
    """线损 3 % of 10,000 kWh = 300 kWh, reactive 5 % of 4,000 kvarh = 200 kvarh:
    energy 10,300 × 0.5 = 5,150.00; funds 10,300 × 0.02 = 206.00."""
    r = run(LOSS_TARIFF, [{"account_id": 1, "tariff": "t"}],
            [{"account_id": 1, "total_wh": 10_000_000, "reactive_varh": 4_000_000}], *SEP,
            segments=[{"account_id": 1, "segment": 1, "start_date": SEP[0], "end_date": SEP[1],
                       "loss_ppm": 30_000, "reactive_loss_ppm": 50_000}])
    assert lines(r) == [
        ("losses.percent", D("300"), D("0"), 0),
        ("losses.reactive", D("200"), D("0"), 0),
        ("energy", D("10300"), D("0.5"), 515000),
        ("funds.renewable", D("10300"), D("0.02"), 20600),
    ]


def test_losses_spread_over_tou_buckets_in_proportion():
    """Hubei (losses first): 1,000 kWh fixed monthly loss over a full month; metered peak 6,000 /
    flat 3,000 / valley 1,000 → loss 600 / 300 / 100 kWh; the TOU lines carry metered + loss."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": HB, "capacity_va": 50_000}],
            [{"account_id": 1, "peak_wh": 6_000_000, "flat_wh": 3_000_000, "valley_wh": 1_000_000}], *JAN26,
            segments=[{"account_id": 1, "segment": 1, "start_date": JAN26[0], "end_date": JAN26[1],
                       "transformer_loss_wh": 1_000_000}])
    q = {c: q for c, q, _, _ in lines(r)}
    assert (q["losses.fixed"], q["purchase.peak"], q["purchase.flat"], q["purchase.valley"], q["tnd"]) == (
        D("1000"), D("6600"), D("3300"), D("1100"), D("11000"))


# ------------------------------------------------------------------------------ funds (§6)


def test_fund_exemptions_and_category_rates():
    """§6: renewable surcharge 1.9 分, residential 0.1 分, agriculture exempt.
    1,000 kWh: general 1000 × 0.019 = 19.00; residential 1000 × 0.001 = 1.00; agriculture none.
    An account-level exemption 'funds.reservoir' drops that item only."""
    accts = [{"account_id": i, "tariff": HB, "category": c, "pf_standard": "none", "basic_basis": "capacity",
              "exemptions": ex} for i, c, ex in ((1, "general_ci", []), (2, "residential", []), (3, "agriculture", ["funds.reservoir"]))]
    r = run(LIBRARY, accts, [{"account_id": i, "flat_wh": 1_000_000} for i in (1, 2, 3)], *JAN26)
    funds = {a: {c: amt for c, _, _, amt in lines(r, a) if c.startswith("funds.")} for a in (1, 2, 3)}
    assert funds == {
        1: {"funds.rural_grid": 2000, "funds.reservoir": 620, "funds.renewable": 1900},
        2: {"funds.rural_grid": 2000, "funds.reservoir": 620, "funds.renewable": 100},
        3: {"funds.rural_grid": 2000},
    }


# ------------------------------------------------- versions: a price change inside the period


VERSIONED = (
    tariff("components:\n  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: 0.5}\n",
           version="v1", end="2025-06-16"),
    tariff("components:\n  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: 0.6}\n",
           version="v2", start="2025-06-16"),
)


def test_price_change_inside_the_period_splits_usage_by_days():
    """June (30 days), new price from the 16th: 15/30 of 1,001 kWh = 500.5 kWh at each price:
    500.5 × 0.5 = 250.25; 500.5 × 0.6 = 300.30."""
    r = run(schedules(*VERSIONED), [{"account_id": 1, "tariff": "t"}], [{"account_id": 1, "total_wh": 1_001_000}],
            date(2025, 6, 1), date(2025, 7, 1))
    assert lines(r) == [("energy", D("500.5"), D("0.5"), 25025), ("energy", D("500.5"), D("0.6"), 30030)]
    assert r.lines.select("version", "start_date", "end_date").rows() == [
        ("v1", date(2025, 6, 1), date(2025, 6, 16)), ("v2", date(2025, 6, 16), date(2025, 7, 1))]


def test_uneven_split_rounds_cumulatively_to_the_wh():
    """A 31-day period from 6 June to 7 July with the change on the 16th: 10 and 21 days.
    1000 kWh × 10/31 = 322.580645… → 322.581 kWh; the rest, 677.419 kWh, keeps the sum exact.
    322.581 × 0.5 = 161.2905 → 161.29; 677.419 × 0.6 = 406.4514 → 406.45."""
    r = run(schedules(*VERSIONED), [{"account_id": 1, "tariff": "t"}], [{"account_id": 1, "total_wh": 1_000_000}],
            date(2025, 6, 6), date(2025, 7, 7))
    assert lines(r) == [("energy", D("322.581"), D("0.5"), 16129), ("energy", D("677.419"), D("0.6"), 40645)]


def test_monthly_tier_thresholds_are_prorated_across_versions():
    """Tiers 200/400 in a 30-day month split 15/15: each part gets thresholds 100/200.
    600 kWh → 300 per part → 100 × p1 + 100 × p2 + 100 × p3 in each."""
    body = "components:\n  - {{id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, tiers: [{{upto: 200, price: {a}}}, {{upto: 400, price: 0.6}}, {{price: 0.9}}]}}\n"
    s = schedules(tariff(body.format(a="0.5"), version="v1", end="2025-06-16"),
                  tariff(body.format(a="0.55"), version="v2", start="2025-06-16"))
    r = run(s, [{"account_id": 1, "tariff": "t"}], [{"account_id": 1, "total_wh": 600_000}], date(2025, 6, 1), date(2025, 7, 1))
    assert amounts(r) == {"energy.tier1": 5000 + 5500, "energy.tier2": 6000 + 6000, "energy.tier3": 9000 + 9000}
    assert explanations(r)[:2] == ["第一档（0–100 kWh）100 kWh × 0.5 元/kWh", "第二档（100–200 kWh）100 kWh × 0.6 元/kWh"]


def test_no_version_in_force_rejects_the_account():
    r = run(LIBRARY, [{"account_id": 1, "tariff": HB}], [{"account_id": 1, "flat_wh": 1}], date(2025, 12, 20), date(2026, 1, 20))
    assert [(a, f) for a, f, _ in rejected(r)] == [(1, "accounts.tariff")]


# --------------------------------------------------------------- meter segments and multipliers


def test_meter_change_pools_both_meters_with_their_multipliers():
    """§9: 计费倍率 = (10000/100) × (10/5) = 200. Old meter 3.5 kWh advance × 200 = 700 kWh;
    new meter (CT 100/5 → × 20) 15 kWh × 20 = 300 kWh: 1000 kWh at 0.5 = 500.00."""
    r = run(LOSS_TARIFF, [{"account_id": 1, "tariff": "t"}],
            [{"account_id": 1, "segment": 1, "total_wh": 3_500, "multiplier": 200},
             {"account_id": 1, "segment": 2, "total_wh": 15_000, "multiplier": 20}], *SEP)
    assert amounts(r)["energy"] == 50000


def test_segments_with_different_tariffs():
    """Metering mode changes with the meter on the 11th (Example 1): the old segment is rated on
    one tariff, the new one on another; each line says its tariff and dates."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential"}],
            [{"account_id": 1, "segment": 1, "total_wh": 100_000}, {"account_id": 1, "segment": 2, "total_wh": 100_000}],
            *SEP, segments=[
                {"account_id": 1, "segment": 1, "start_date": date(2025, 9, 1), "end_date": date(2025, 9, 11)},
                {"account_id": 1, "segment": 2, "start_date": date(2025, 9, 11), "end_date": date(2025, 10, 1),
                 "tariff": "gz-residential"},
            ])
    # Monthly thresholds are shared by days: sz gets 260 × 10/30 = 86.67 → 87 kWh of tier 1,
    # gz 260 × 20/30 = 173.33 → 173 kWh. sz: 87 × 0.6542 = 56.9154 → 56.92; 13 × 0.7042 = 9.1546 →
    # 9.15. gz: 100 × 0.5802 = 58.02; funds 100 × 0.00866875 = 0.866875 → 0.87.
    assert r.lines.select("tariff", "line_code", "quantity", "amount_fen").rows() == [
        ("sz-residential", "energy.tier1", D("87"), 5692), ("sz-residential", "energy.tier2", D("13"), 915),
        ("gz-residential", "energy.tier1", D("100"), 5802), ("gz-residential", "funds.all", D("100"), 87)]


def test_bad_segments_are_rejected_with_the_field():
    r = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential"}],
            [{"account_id": 1, "segment": 1, "total_wh": 1}], *SEP,
            segments=[{"account_id": 1, "segment": 1, "start_date": date(2025, 9, 5), "end_date": date(2025, 9, 1)}])
    assert rejected(r)[0] == (1, "segments.start_date",
                              "segment 1 must satisfy period_start <= start_date < end_date <= period_end")


# -------------------------------------------------------------------------- rounding (named)


@pytest.mark.parametrize(("mode", "one", "three"), [("half_up", 1, 2), ("half_even", 0, 2), ("down", 0, 1), ("up", 1, 2)])
def test_line_rounding_mode_comes_from_the_tariff(mode, one, three):
    """1 kWh × 0.005 = 0.5 fen; 3 kWh × 0.005 = 1.5 fen."""
    text = tariff(f"rounding: {{line_amount: {{mode: {mode}}}}}\n"
                  "components:\n  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: 0.005}\n")
    r = run(text, [{"account_id": 1, "tariff": "t"}, {"account_id": 2, "tariff": "t"}],
            [{"account_id": 1, "total_wh": 1000}, {"account_id": 2, "total_wh": 3000}], *SEP)
    assert (total(r, 1), total(r, 2)) == (one, three)


@pytest.mark.parametrize(("mode", "fen"), [("half_up", -5), ("half_even", -4)])
def test_negative_adjustment_rounds_with_the_named_mode(mode, fen):
    """12 kWh × 0.5 = 6.00 元; cos φ 1.00 → −0.75 %: 6.00 × −0.0075 = −0.045 元 = −4.5 fen →
    −5 under half_up (ties away from zero, symmetric with +4.5 → +5), −4 under half_even."""
    text = tariff(f"""
rounding: {{pf_amount: {{mode: {mode}}}}}
components:
  - {{id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: 0.5}}
  - {{id: pf, kind: power_factor, label_zh: 力调, label_en: PF, applies_to: [energy], table_file: pf-1983.yaml,
     default_standard: "0.90", min_capacity_kva: 0}}
""")
    r = run(text, [{"account_id": 1, "tariff": "t"}], [{"account_id": 1, "total_wh": 12_000, "reactive_varh": 0}], *SEP)
    assert amounts(r) == {"energy": 600, "pf.adjustment": fen}


# ------------------------------------------------------------------------- shape and contract


def test_zero_usage_bills_only_fixed_charges():
    """A residential account with no consumption gets no lines and a zero total; a two-part
    account gets its basic charge only (no power factor: cos φ is undefined without energy)."""
    r = run(LIBRARY, [{"account_id": 1, "tariff": "gz-residential"}, {"account_id": 2, "tariff": HB, "capacity_va": 630_000}],
            [{"account_id": 1, "total_wh": 0}, {"account_id": 2, "flat_wh": 0, "reactive_varh": 0}], *JAN26)
    assert lines(r, 1) == []
    assert total(r, 1) == 0
    assert lines(r, 2) == [("basic.capacity", D("630"), D("26.3"), 1656900)]


def test_account_ids_may_be_strings_and_order_is_kept():
    r = run(LIBRARY, [{"account_id": "B-2", "tariff": "sz-residential"}, {"account_id": "A-1", "tariff": "sz-residential"}],
            [{"account_id": "A-1", "total_wh": 100_000}, {"account_id": "B-2", "total_wh": 200_000}], *SEP)
    assert r.totals.select("account_id", "amount_fen").rows() == [("B-2", 13084), ("A-1", 6542)]
    assert r.lines["account_id"].to_list() == ["B-2", "A-1"]


def test_output_schema_is_exact():
    r = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential"}], [{"account_id": 1, "total_wh": 1}], *SEP)
    assert r.lines.schema == pl.Schema({
        "account_id": pl.Int64, "line_no": pl.Int32, "tariff": pl.Categorical(), "version": pl.Categorical(),
        "start_date": pl.Date, "end_date": pl.Date, "component": pl.Categorical(), "line_code": pl.Categorical(),
        "quantity": pl.Decimal(38, 3), "unit": pl.Categorical(), "unit_price": pl.Decimal(38, 8), "amount_fen": pl.Int64,
        "rule": pl.Categorical(), "explanation_zh": pl.String, "explanation_en": pl.String})
    assert r.totals.schema == pl.Schema({
        "account_id": pl.Int64, "amount_fen": pl.Int64, "billed_wh": pl.Int64, "line_count": pl.UInt32,
        "cos_phi": pl.Decimal(38, 2), "pf_rate": pl.Decimal(38, 8)})


def test_categorical_columns_read_and_combine_as_text():
    """Lines of separate runs (billing rates chunk by chunk) concatenate, compare with plain strings
    and write out as text, although each run builds its own codes."""
    a = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential"}], [{"account_id": 1, "total_wh": 300_000}], *SEP)
    b = run(LIBRARY, [{"account_id": 2, "tariff": "gz-residential-tou"}],
            [{"account_id": 2, "peak_wh": 1_000, "flat_wh": 2_000, "valley_wh": 3_000}], *JAN25)
    both = pl.concat([a.lines, b.lines])
    assert both.schema["line_code"] == pl.Categorical
    assert both.filter(pl.col("line_code") == "energy.valley")["account_id"].to_list() == [2]
    assert set(both["tariff"].to_list()) == {"sz-residential", "gz-residential-tou"}
    assert "energy.valley" in both.select("line_code").write_csv()
    empty = run(LIBRARY, [{"account_id": 1, "tariff": "sz-residential"}], [{"account_id": 1, "total_wh": 0}],
                date(1990, 1, 1), date(1990, 2, 1))
    assert empty.lines.schema["rule"] == pl.Categorical


def test_explain_false_leaves_explanations_empty_and_amounts_equal():
    accts = [{"account_id": 1, "tariff": "gz-residential-tou"}]
    use = [{"account_id": 1, "peak_wh": 150_000, "flat_wh": 200_000, "valley_wh": 100_000}]
    full = run(LIBRARY, accts, use, *JAN25)
    bare = run(LIBRARY, accts, use, *JAN25, explain=False)
    assert bare.lines.drop("explanation_zh", "explanation_en").equals(full.lines.drop("explanation_zh", "explanation_en"))
    assert bare.lines["explanation_zh"].null_count() == bare.lines.height


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"period_end": date(2025, 9, 1)}, "period_end"),
    ({"usage": None}, "usage"),
    ({"interval_points": 48}, "interval_points"),
])
def test_whole_run_problems_raise(kwargs, field):
    args = {"accounts": pl.DataFrame({"account_id": [1], "tariff": ["sz-residential"]}),
            "usage": pl.DataFrame({"account_id": [1], "total_wh": [1]}), "schedules": LIBRARY,
            "period_start": date(2025, 9, 1), "period_end": date(2025, 10, 1)}
    args.update(kwargs)
    with pytest.raises(UnableToRate) as err:
        rate(**args)
    assert err.value.field == field


def test_wrong_column_dtype_raises_naming_the_column():
    with pytest.raises(UnableToRate) as err:
        rate(pl.DataFrame({"account_id": [1], "tariff": ["sz-residential"]}),
             pl.DataFrame({"account_id": [1], "total_wh": [1.5]}), LIBRARY, *SEP)
    assert (err.value.field, err.value.message) == ("usage.total_wh", "usage.total_wh must be Int64; got Float64")


def test_per_account_problems_do_not_raise():
    r = run(LIBRARY,
            [{"account_id": 1, "tariff": "nope"}, {"account_id": 2, "tariff": "sz-residential"},
             {"account_id": 3, "tariff": "sz-residential"}],
            [{"account_id": 2, "total_wh": -5}, {"account_id": 3, "total_wh": 100_000}], *SEP)
    assert rejected(r) == [
        (1, "accounts.tariff", "unknown tariff nope"),
        (2, "usage", "usage quantities must not be negative"),
    ]
    assert r.totals["account_id"].to_list() == [3]


def test_empty_and_fully_rejected_runs_return_empty_frames():
    empty = rate(pl.DataFrame({"account_id": pl.Series([], dtype=pl.Int64), "tariff": pl.Series([], dtype=pl.String)}),
                 pl.DataFrame({"account_id": pl.Series([], dtype=pl.Int64), "total_wh": pl.Series([], dtype=pl.Int64)}),
                 LIBRARY, *SEP)
    assert (empty.lines.height, empty.totals.height, empty.rejected.height) == (0, 0, 0)
    assert list(empty.lines.columns)[:3] == ["account_id", "line_no", "tariff"]
    r = run(LIBRARY, [{"account_id": 1, "tariff": "nope"}], [{"account_id": 1, "total_wh": 5}], *SEP)
    assert (r.lines.height, r.totals.height, rejected(r)) == (0, 0, [(1, "accounts.tariff", "unknown tariff nope")])


def test_an_account_without_usage_is_rejected_alone():
    r = run(LIBRARY, [{"account_id": 1, "tariff": "gz-residential"}, {"account_id": 2, "tariff": "gz-residential"}],
            [{"account_id": 1, "total_wh": 100_000}], *SEP)
    assert rejected(r) == [(2, "usage", "no usage rows or intervals for the account")]
    assert r.totals["account_id"].to_list() == [1]


def test_intervals_are_priced_by_the_version_of_their_day_not_prorated():
    """With interval data a price change needs no proration: 10 kWh on 10 June at 0.5 = 5.00 and
    20 kWh on 20 June at 0.6 = 12.00."""
    iv = [{"account_id": 1, "date": date(2025, 6, 10), "point": 3, "wh": 10_000},
          {"account_id": 1, "date": date(2025, 6, 20), "point": 3, "wh": 20_000}]
    r = run(schedules(*VERSIONED), [{"account_id": 1, "tariff": "t"}], None, date(2025, 6, 1), date(2025, 7, 1), intervals=iv)
    assert lines(r) == [("energy", D("10"), D("0.5"), 500), ("energy", D("20"), D("0.6"), 1200)]

"""退补 worked examples: every correction kind re-rated against issued bills, with the arithmetic."""

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from gridcare.parameters.backbilling import (
    AccountFacts,
    BackBillingInvalid,
    OriginalBill,
    parse_correction,
    recompute,
    unauthorised_capacity_result,
)
from gridcare.parameters.config import default_config
from gridcare.rating import rate
from tests.parameters.tariffs import schedules

CFG = default_config()
PERIODS = {"2025-12": (date(2025, 12, 1), date(2026, 1, 1)), "2026-01": (date(2026, 1, 1), date(2026, 2, 1))}


def issued(period, tariff, reads, *, category="residential", capacity_va=0, number=None):
    """An issued bill as billing would have written it: the kernel's lines for the recorded reads.
    reads: [(register, multiplier, advance_wh)]."""
    start, end = PERIODS[period]
    usage = {"account_id": [1]}
    energy = {}
    for reg, mult, adv in reads:
        wh = adv * int(mult)
        if reg == "reactive":
            usage["reactive_varh"] = [wh]
        else:
            energy[reg] = wh
    if "total" in energy:
        usage["total_wh"] = [energy["total"]]
    else:
        usage.update({f"{r}_wh": [w] for r, w in energy.items()})
    acc = pl.DataFrame({"account_id": [1], "tariff": [tariff], "category": [category], "capacity_va": [capacity_va]})
    result = rate(acc, pl.DataFrame(usage), schedules(), start, end)
    assert result.rejected.height == 0, result.rejected
    lines = result.lines.select("line_no", "component", "line_code", "quantity", "unit", "unit_price", "amount_fen",
                                "rule")
    return OriginalBill(
        bill_id=1, number=number or f"B{period.replace('-', '')}-0001-1", period_code=period, start_date=start,
        end_date=end, tariff=tariff, total_fen=int(result.totals["amount_fen"][0]),
        energy_wh=int(result.totals["billed_wh"][0]), lines=lines,
        reads=pl.DataFrame([(1, "M1", r, str(m), a) for r, m, a in reads], orient="row",
                           schema={"segment": pl.Int64, "asset_number": pl.String, "register": pl.String,
                                   "multiplier": pl.String, "advance_milli": pl.Int64}))


def run(originals, kind, correction, facts=None, periods=None):
    periods = periods or [b.period_code for b in originals]
    c = parse_correction(kind, correction, periods=periods, config=CFG)
    return recompute(originals=originals, facts=facts or AccountFacts(account_id=1, category="residential"),
                     correction=c, schedules=schedules(), config=CFG)


def by_code(result):
    return {(ln["period_code"], ln["line_code"]): (ln["quantity"], ln["amount_fen"]) for ln in result.lines}


def test_wrong_multiplier():
    # CT recorded as 100/5 (×20) but is 200/5 (×40). Advances peak 10, flat 10, valley 5 kWh:
    # billed 200/200/100 kWh, should be 400/400/200 kWh (gd-ci-tou-lt1kv):
    # peak +200 × 1.1433 = +228.66; flat +200 × 0.6725 = +134.50; valley +100 × 0.2556 = +25.56;
    # total +388.72 yuan.
    bill = issued("2026-01", "gd-ci-tou-lt1kv", [("peak", 20, 10_000), ("flat", 20, 10_000), ("valley", 20, 5_000)],
                  category="general_ci")
    r = run([bill], "wrong_multiplier", {"multiplier": "40"}, AccountFacts(account_id=1, category="general_ci"))
    assert by_code(r) == {("2026-01", "energy.peak"): (Decimal("200.000"), 22866),
                          ("2026-01", "energy.flat"): (Decimal("200.000"), 13450),
                          ("2026-01", "energy.valley"): (Decimal("100.000"), 2556)}
    assert r.total_fen == 38872 == sum(ln["amount_fen"] for ln in r.lines)
    assert r.energy_wh == 500_000
    period = r.periods[0]
    assert (period.reproduced, period.original_fen, period.corrected_fen) == (True, 38872, 77744)
    first = r.lines[0]
    assert first["original_bill_number"] == "B202601-0001-1"
    assert (first["original_quantity"], first["original_fen"], first["corrected_fen"]) == (
        Decimal("200.000"), 22866, 45732)
    assert first["explanation_zh"] == ("2026-01 原账单 B202601-0001-1 电度电费（高峰）：原 200 kWh 228.66 元 → 更正 400 kWh "
                                       "457.32 元，退补 +228.66 元")


def test_wrong_tariff_across_a_tariff_change():
    # 100 kWh a month billed on gz-residential (Dec and Jan alike: 100 × 0.5802 = 58.02, funds
    # 100 × 0.00866875 = 0.87 -> 58.89) but should have been test-ci-flat, whose price changed on
    # 1 Jan: Dec 100 × 0.50 = 50.00 + funds 2.00 = 52.00 (−6.89); Jan 100 × 0.60 = 60.00 + 2.00
    # = 62.00 (+3.11). Net −3.78 yuan, each month at the version in force then.
    bills = [issued(p, "gz-residential", [("total", 1, 100_000)]) for p in ("2025-12", "2026-01")]
    r = run(bills, "wrong_tariff", {"tariff": "test-ci-flat", "category": "general_ci"})
    assert [(p.period_code, p.original_fen, p.corrected_fen, p.difference_fen) for p in r.periods] == [
        ("2025-12", 5889, 5200, -689), ("2026-01", 5889, 6200, 311)]
    assert r.total_fen == -378
    assert by_code(r) == {
        ("2025-12", "energy.tier1"): (Decimal("-100.000"), -5802), ("2025-12", "funds.all"): (Decimal("0.000"), 113),
        ("2025-12", "energy"): (Decimal("100.000"), 5000),
        ("2026-01", "energy.tier1"): (Decimal("-100.000"), -5802), ("2026-01", "funds.all"): (Decimal("0.000"), 113),
        ("2026-01", "energy"): (Decimal("100.000"), 6000)}
    assert {ln["unit_price"] for ln in r.lines if ln["line_code"] == "energy"} == {Decimal("0.5"), Decimal("0.6")}


def test_wiring_correction_rate_200_percent():
    # One phase current reversed (3-phase 4-wire): the meter saw 1/3 of the energy; 更正率 200 %.
    # 100 kWh recorded -> 100 × (1 + 2) = 300 kWh. Original 58.89 (see above). Corrected
    # 200 × 0.5802 + 100 × 0.6302 = 116.04 + 63.02, funds 300 × 0.00866875 = 2.60 -> 181.66.
    # Difference +122.77 yuan.
    r = run([issued("2026-01", "gz-residential", [("total", 1, 100_000)])], "wiring_correction",
            {"correction_rate": "2.00"})
    assert r.total_fen == 12277
    assert r.energy_wh == 200_000


def test_meter_error_fast_meter_half_the_time():
    # Meter tested 5 % fast: true = 210 / 1.05 = 200 kWh; 第八十条: refund for half the time ->
    # corrected 210 + ½ × (200 − 210) = 205 kWh.
    # Original 210: 200 × 0.5802 + 10 × 0.6302 (6.30) + funds 1.82 = 124.16;
    # corrected 205: 116.04 + 5 × 0.6302 (3.15) + funds 1.78 = 120.97 -> −3.19 yuan.
    r = run([issued("2026-01", "gz-residential", [("total", 1, 210_000)])], "meter_error", {"error_percent": "5"})
    assert (r.periods[0].original_fen, r.periods[0].corrected_fen, r.total_fen, r.energy_wh) == (
        12416, 12097, -319, -5_000)


def test_stopped_meter_billed_from_the_reference_month():
    # Meter stopped: 0 kWh recorded (billed 0.00); reference normal month 150 kWh:
    # 150 × 0.5802 = 87.03 + funds 150 × 0.00866875 = 1.30 -> +88.33 yuan.
    r = run([issued("2026-01", "gz-residential", [("total", 1, 0)])], "stopped_meter",
            {"reference_kwh": {"2026-01": "150"}})
    assert r.total_fen == 8833


def test_missed_reactive_read_recomputes_the_power_factor():
    # Hubei two-part 315 kVA, 100 kWh; reactive read missed (0 recorded -> cos φ 1.00, −0.75 %).
    # Real reactive 50 kvarh: tan φ 0.5 -> cos φ 0.894 -> 0.89 -> +0.5 %. Only the pf line changes.
    reads = [("sharp", 1, 10_000), ("peak", 1, 30_000), ("flat", 1, 40_000), ("valley", 1, 20_000),
             ("reactive", 1, 0)]
    bill = issued("2026-01", "hubei-agency-2part-10kv", reads, category="large_industry", capacity_va=315_000)
    r = run([bill], "missed_reactive", {"reactive_kvarh": {"2026-01": "50"}},
            AccountFacts(account_id=1, category="large_industry", capacity_va=315_000))
    assert [ln["line_code"] for ln in r.lines] == ["pf.adjustment"]
    pf = r.lines[0]
    # base 8350.68 yuan: −0.75 % = −62.63; +0.5 % = +41.75 -> +104.38
    assert (pf["original_fen"], pf["corrected_fen"], pf["amount_fen"]) == (-6263, 4175, 10438)


def test_unauthorised_capacity_two_part_and_other():
    # Two-part: 100 kVA added for 3 months at 26.3 元/kVA·月 -> 7890.00; penalty 3 × = 23670.00.
    two = unauthorised_capacity_result(
        correction=parse_correction("unauthorised_capacity", {"added_kva": "100", "months": 3}, periods=[],
                                    config=CFG),
        period_code="2026-01", tariff="hubei-agency-2part-10kv", as_of_day=date(2026, 1, 15), schedules=schedules(),
        config=CFG)
    assert [(ln["line_code"], ln["amount_fen"]) for ln in two.lines] == [
        ("capacity.unauthorised_basic", 789000), ("capacity.unauthorised_penalty", 2367000)]
    assert two.total_fen == 3156000
    # Other users: 5 kVA × 50 元 = 250.00.
    other = unauthorised_capacity_result(
        correction=parse_correction("unauthorised_capacity", {"added_kva": "5", "months": 1}, periods=[], config=CFG),
        period_code="2026-01", tariff="gz-residential", as_of_day=date(2026, 1, 15), schedules=schedules(), config=CFG)
    assert [(ln["line_code"], ln["amount_fen"]) for ln in other.lines] == [("capacity.unauthorised_penalty", 25000)]


@pytest.mark.parametrize(("kind", "data", "field", "message"), [
    ("wrong_multiplier", {"multiplier": "0"}, "correction.multiplier",
     "correction.multiplier must be > 0 with at most 2 decimal places"),
    ("wrong_tariff", {}, "correction.tariff", "correction.tariff is required"),
    ("wiring_correction", {"correction_rate": "-1"}, "correction.correction_rate",
     "correction.correction_rate (更正率, 2.00 = 200 %) must be greater than −1 and not 0"),
    ("meter_error", {"error_percent": "-100"}, "correction.error_percent",
     "correction.error_percent must be greater than −100 and not 0 (a stopped meter is the stopped_meter kind)"),
    ("meter_error", {"error_percent": "2", "time_share": "1.5"}, "correction.time_share",
     "correction.time_share must be in (0, 1]"),
    ("missed_reactive", {"reactive_kvarh": {"2026-02": "5"}}, "correction.reactive_kvarh.2026-01",
     "correction.reactive_kvarh: no value for period 2026-01"),
    ("stopped_meter", {"reference_kwh": {"2026-01": "1.2345"}}, "correction.reference_kwh.2026-01",
     "correction.reference_kwh.2026-01 must be ≥ 0 with at most 3 decimal places"),
    ("unauthorised_capacity", {"added_kva": "10", "months": 0}, "correction.months",
     "correction.months (使用月数) must be a whole number ≥ 1"),
    ("wrong_tariff", {"tariff": "x", "colour": 1}, "correction.colour",
     "correction: unknown key(s) ['colour'] for wrong_tariff; expected ['category', 'tariff']"),
    ("refund", {}, "kind", "kind must be one of ['wrong_multiplier', 'wrong_tariff', 'wiring_correction', "
     "'missed_reactive', 'meter_error', 'stopped_meter', 'unauthorised_capacity'], got 'refund'"),
])
def test_bad_corrections_name_the_field(kind, data, field, message):
    with pytest.raises(BackBillingInvalid) as info:
        parse_correction(kind, data, periods=["2026-01"], config=CFG)
    assert (info.value.field, info.value.message) == (field, message)

"""The engine end to end with the shipped tariffs: worked examples with the arithmetic shown."""

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcare.parameters import apply_billing_parameters, rate_with_parameters, related_account_ids
from gridcare.parameters.frames import UnableToApplyParameters
from tests.parameters.helpers import JAN, accounts, library, lines_of, params, usage


def rate(acc, use, prm, period=JAN, **kw):
    return rate_with_parameters(acc, use, prm, library(), *period, **kw)


def test_free_allowance_is_its_own_credit_line():
    # gz-residential, January: 350 kWh = 200 × 0.5802 + 150 × 0.6302 = 116.04 + 94.53, funds
    # 350 × 0.00866875 = 3.03. Subsistence household: 10 kWh free at the tier-1 price 0.5802
    # -> 5.802 -> −5.80 yuan. Total 116.04 + 94.53 + 3.03 − 5.80 = 207.80 yuan.
    r = rate(accounts((1, "gz-residential", "residential")), usage({"account_id": 1, "total_wh": 350_000}),
             params((1, 5, "free_allowance", {"scheme": "subsistence"}))).result
    lines = lines_of(r, 1)
    assert lines.select("line_no", "line_code", "amount_fen").rows() == [
        (1, "energy.tier1", 11604), (2, "energy.tier2", 9453), (3, "funds.all", 303), (4, "allowance.free_kwh", -580)]
    credit = lines.row(3, named=True)
    assert (credit["quantity"], credit["unit_price"], credit["component"]) == (
        Decimal("10.000"), Decimal("-0.58020000"), "allowance")
    assert credit["explanation_zh"] == "免费电（城乡低保户）10 kWh × 0.5802 元/kWh = −5.80 元"
    assert r.totals.row(0, named=True)["amount_fen"] == 20780 == lines["amount_fen"].sum()
    assert r.totals.row(0, named=True)["line_count"] == 4


def test_free_allowance_never_exceeds_the_energy_billed_and_uses_the_flat_price_on_tou():
    # TOU residential, 6 kWh used (peak 2, flat 3, valley 1) < 10 kWh allowance: credit 6 kWh at
    # the flat price 0.5802 × 1 = 0.5802 -> 3.4812 -> −3.48 yuan.
    r = rate(accounts((1, "gz-residential-tou", "residential")),
             usage({"account_id": 1, "peak_wh": 2000, "flat_wh": 3000, "valley_wh": 1000}),
             params((1, 5, "free_allowance", {"scheme": "subsistence"}))).result
    credit = lines_of(r, 1).filter(pl.col("line_code") == "allowance.free_kwh").row(0, named=True)
    assert (credit["quantity"], credit["amount_fen"]) == (Decimal("6.000"), -348)


def test_fixed_quantity_part_is_rated_on_its_own_tariff():
    # C&I TOU meter: peak 400, flat 400, valley 200 kWh; 300 kWh residential (定量) drawn 4:4:2.
    # Own tariff (gd-ci-tou-lt1kv) keeps 280/280/140 kWh:
    #   280 × 1.1433 = 320.124 -> 320.12; 280 × 0.6725 = 188.30; 140 × 0.2556 = 35.784 -> 35.78.
    # Residential part 300 kWh on gz-residential (January thresholds 200/400):
    #   200 × 0.5802 = 116.04; 100 × 0.6302 = 63.02; funds 300 × 0.00866875 = 2.600625 -> 2.60.
    r = rate(accounts((1, "gd-ci-tou-lt1kv", "general_ci")),
             usage({"account_id": 1, "peak_wh": 400_000, "flat_wh": 400_000, "valley_wh": 200_000}),
             params((1, 7, "split", {"quantities": [{"kwh": "300", "tariff": "gz-residential",
                                                     "category": "residential", "label": "居民定量"}]})))
    lines = lines_of(r.result, 1)
    assert lines.select("line_no", "tariff", "line_code", "quantity", "amount_fen").rows() == [
        (1, "gd-ci-tou-lt1kv", "energy.peak", Decimal("280.000"), 32012),
        (2, "gd-ci-tou-lt1kv", "energy.flat", Decimal("280.000"), 18830),
        (3, "gd-ci-tou-lt1kv", "energy.valley", Decimal("140.000"), 3578),
        (4, "gz-residential", "energy.tier1", Decimal("200.000"), 11604),
        (5, "gz-residential", "energy.tier2", Decimal("100.000"), 6302),
        (6, "gz-residential", "funds.all", Decimal("300.000"), 260),
    ]
    assert lines.row(3, named=True)["explanation_zh"].startswith("【居民定量】第一档")
    total = r.result.totals.row(0, named=True)
    assert (total["amount_fen"], total["billed_wh"]) == (72586, 1_000_000)


def test_blocked_parent_is_rejected_with_the_parameter_named():
    r = rate(accounts((1, "gz-residential", "residential"), (2, "gz-residential", "residential")),
             usage({"account_id": 1, "total_wh": 100_000}, {"account_id": 2, "total_wh": 130_000}),
             params((2, 20, "deduction", {"parent_account_id": 1}))).result
    assert r.rejected.rows() == [(1, "parameters.deduction",
                                  "children [2] metered 130 kWh, more than parent account 1's 100 kWh (negative in "
                                  "['total']); the parent is not billed until the reads or the tree are checked")]
    assert set(r.totals["account_id"].to_list()) == {2}
    assert r.lines.filter(pl.col("account_id") == 1).height == 0


def test_deduction_bills_the_parent_net():
    # parent 500 kWh − child 120 kWh = 380 kWh: 200 × 0.5802 + 180 × 0.6302 = 116.04 + 113.436 (-> 113.44)
    r = rate(accounts((1, "gz-residential", "residential")),
             usage({"account_id": 1, "total_wh": 500_000}, {"account_id": 2, "total_wh": 120_000}),
             params((2, 20, "deduction", {"parent_account_id": 1}))).result
    assert r.totals.row(0, named=True)["billed_wh"] == 380_000
    assert lines_of(r, 1).select("line_code", "amount_fen").rows()[:2] == [("energy.tier1", 11604),
                                                                          ("energy.tier2", 11344)]


def test_suspension_prorates_the_basic_charge_by_days():
    # Hubei two-part, 315 kVA at 26.3 元/kVA·月, 1/30 a day. Suspended 315 kVA from 11 Jan to 1 Mar
    # (49 days ≥ 15): January bills 10 days: 315 × 26.3 × 10/30 = 2761.50; the 21 suspended days
    # bill nothing (the kernel writes no line for a segment with nothing to bill).
    r = rate(accounts((1, "hubei-agency-2part-10kv", "large_industry", 315_000)),
             usage({"account_id": 1, "sharp_wh": 5000, "peak_wh": 15000, "flat_wh": 20000, "valley_wh": 10000,
                    "reactive_varh": 25000}),
             params((1, 9, "capacity", {"change": "suspend", "suspended_kva": "315"}, date(2026, 1, 11),
                     date(2026, 3, 1)))).result
    basic = lines_of(r, 1).filter(pl.col("component") == "basic")
    assert basic.select("start_date", "end_date", "amount_fen").rows() == [
        (date(2026, 1, 1), date(2026, 1, 11), 276150)]
    # Energy is unchanged by the segment cut: 50 kWh in all.
    assert r.totals.row(0, named=True)["billed_wh"] == 50_000


def test_short_suspension_is_charged_in_full():
    # Suspended 10 days only (< suspension_min_days 15): the suspended segment is charged as if not
    # suspended, 315 × 26.3 × 10/30 = 2761.50 yuan, like its neighbours.
    r = rate(accounts((1, "hubei-agency-2part-10kv", "large_industry", 315_000)),
             usage({"account_id": 1, "sharp_wh": 5000, "peak_wh": 15000, "flat_wh": 20000, "valley_wh": 10000,
                    "reactive_varh": 25000}),
             params((1, 9, "capacity", {"change": "suspend", "suspended_kva": "315"}, date(2026, 1, 11),
                     date(2026, 1, 21)))).result
    basic = lines_of(r, 1).filter(pl.col("component") == "basic")
    assert basic.select("start_date", "amount_fen").rows()[:2] == [(date(2026, 1, 1), 276150),
                                                                  (date(2026, 1, 11), 276150)]


def test_temporary_replacement_bills_the_new_capacity_from_the_change_date():
    # 暂换 to a 630 kVA transformer from 21 Jan: 315 × 26.3 × 20/30 = 5523.00 and
    # 630 × 26.3 × 11/30 = 6075.30 -> 11598.30 yuan.
    r = rate(accounts((1, "hubei-agency-2part-10kv", "large_industry", 315_000)),
             usage({"account_id": 1, "sharp_wh": 5000, "peak_wh": 15000, "flat_wh": 20000, "valley_wh": 10000,
                    "reactive_varh": 25000}),
             params((1, 9, "capacity", {"change": "temp_replace", "capacity_kva": "630"}, date(2026, 1, 21),
                     date(2026, 4, 1)))).result
    basic = lines_of(r, 1).filter(pl.col("component") == "basic")
    assert basic["amount_fen"].to_list() == [552300, 607530]


def test_period_level_parameters_use_the_version_in_force_on_the_last_day():
    prm = params((1, 5, "free_allowance", {"scheme": "subsistence"}, date(2025, 1, 1), date(2026, 1, 20)),
                 (1, 6, "free_allowance", {"scheme": "subsistence", "kwh": "15"}, date(2026, 1, 20), None))
    out = apply_billing_parameters(usage({"account_id": 1, "total_wh": 50_000}), prm, JAN)
    assert out.allowances.select("parameter_id", "allowance_wh").rows() == [(6, 15_000)]
    ended = params((1, 5, "free_allowance", {"scheme": "subsistence"}, date(2025, 1, 1), date(2026, 1, 20)))
    assert apply_billing_parameters(usage({"account_id": 1, "total_wh": 50_000}), ended, JAN).allowances.height == 0


def test_an_invalid_stored_spec_blocks_the_account_instead_of_crashing():
    out = apply_billing_parameters(usage({"account_id": 1, "total_wh": 1}),
                                   params((1, 5, "split", {"ratios": [{"percent": "90"}]})), JAN)
    exc = out.exceptions.row(0, named=True)
    assert (exc["code"], exc["blocking"]) == ("spec_invalid", True)
    assert out.usage.height == 0


def test_meter_segments_and_multipliers_are_respected():
    # Two meter segments (meter change): 100 kWh × 1 and 20 kWh × 10. A 60 kWh fixed quantity is
    # taken from the pooled 300 kWh, and the change is spread back over the segments 1:2 -> 20/40.
    out = apply_billing_parameters(
        usage({"account_id": 1, "total_wh": 100_000}, {"account_id": 1, "segment": 2, "total_wh": 20_000,
                                                       "multiplier": 10}),
        params((1, 7, "split", {"quantities": [{"kwh": "60", "tariff": "gz-residential"}]})), JAN)
    assert out.usage.select("segment", "multiplier", "total_wh").rows() == [(1, 1, 80_000), (2, 1, 160_000)]
    assert out.parts.select("part_no", "total_wh").rows() == [(1, 60_000)]


def test_untouched_accounts_pass_through_unchanged():
    use = usage({"account_id": 1, "total_wh": 100_000, "multiplier": 3}, {"account_id": 2, "total_wh": 5})
    out = apply_billing_parameters(use, params((2, 5, "free_allowance", {"scheme": "subsistence"})), JAN)
    assert out.usage.select("account_id", "multiplier", "total_wh").rows() == [(1, 3, 100_000), (2, 1, 5)]


def test_related_accounts_are_named_for_billing_to_load():
    prm = params((2, 20, "deduction", {"parent_account_id": 1}),
                 (9, 90, "sharing", {"members": [{"account_id": 1, "percent": "50"}, {"account_id": 3, "percent": "50"}]}))
    assert related_account_ids(prm, [1]) == {2, 3, 9}
    assert related_account_ids(prm, [2]) == set()


def test_bad_frames_raise_one_clear_error():
    with pytest.raises(UnableToApplyParameters) as info:
        apply_billing_parameters(pl.DataFrame({"account_id": [1], "kwh": [3]}), None, JAN)
    assert info.value.field == "usage.kwh"
    with pytest.raises(UnableToApplyParameters):
        apply_billing_parameters(usage({"account_id": 1, "total_wh": 1}), None, (date(2026, 2, 1), date(2026, 1, 1)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(0, 10**7)), min_size=1, max_size=10,
                unique_by=lambda t: (t[0], t[1])),
       st.integers(1, 5 * 10**6))
def test_split_through_the_engine_conserves_every_account(rows, quantity):
    use = usage(*[{"account_id": a, "segment": s, "total_wh": wh} for a, s, wh in rows])
    ids = sorted({a for a, _, _ in rows})
    prm = params(*[(a, a, "split", {"quantities": [{"kwh": str(quantity / 1000), "tariff": "gz-residential"}],
                                    "ratios": [{"percent": "70"}, {"percent": "30", "tariff": "gd-ci-tou-lt1kv"}]})
                   for a in ids])
    out = apply_billing_parameters(use, prm, JAN)
    before = use.group_by("account_id").agg(pl.col("total_wh").sum())
    after = pl.concat([out.usage.select("account_id", "total_wh"), out.parts.select("account_id", "total_wh")]
                      ).group_by("account_id").agg(pl.col("total_wh").sum())
    assert sorted(before.rows()) == sorted(after.rows())
    assert out.usage["total_wh"].min() >= 0

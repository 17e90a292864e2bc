"""Every YAML example in docs/tariffs.md is a valid tariff file, and the figures quoted next to
them are what the kernel computes."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from gridcare.rating import ScheduleSet, parse_yaml
from gridcare.rating.loader import library_dir
from tests.rating.helpers import LIBRARY, amounts, explanations, lines, run

DOC = Path(__file__).resolve().parents[2] / "docs" / "tariffs.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
SCHEDULES = {}
for block in BLOCKS:
    parsed = parse_yaml(block, source="docs/tariffs.md", base_dir=library_dir())
    SCHEDULES[parsed[0].code] = parsed


def test_every_example_is_valid():
    assert len(BLOCKS) == 15
    assert len(SCHEDULES) == 15


def _set(code: str) -> ScheduleSet:
    return ScheduleSet(SCHEDULES[code])


def test_quoted_figures():
    r = run(_set("example-flat"), [{"account_id": 1, "tariff": "example-flat"}], [{"account_id": 1, "total_wh": 1_000_000}],
            date(2025, 3, 1), date(2025, 4, 1))
    assert explanations(r) == ["电度电费 1000 kWh × 0.5283 元/kWh"] and amounts(r) == {"energy": 52830}
    r = run(_set("example-gz-tiers"), [{"account_id": 1, "tariff": "example-gz-tiers"}], [{"account_id": 1, "total_wh": 450_000}],
            date(2025, 9, 1), date(2025, 10, 1))
    assert amounts(r) == {"energy.tier1": 15085, "energy.tier2": 11974}
    r = run(_set("example-zj-annual"), [{"account_id": 1, "tariff": "example-zj-annual", "ytd_wh": 2_500_000}],
            [{"account_id": 1, "total_wh": 400_000}], date(2025, 7, 1), date(2025, 8, 1))
    assert amounts(r) == {"energy.tier1": 13988, "energy.tier2": 8232}
    assert [p for _, p in SCHEDULES["example-gd-ci"][0].component("energy").tou_prices.items()] == [
        p for _, p in LIBRARY.versions("gd-ci-tou-lt1kv")[0].component("energy").tou_prices.items()]
    r = run(_set("example-pf"), [{"account_id": 1, "tariff": "example-pf", "capacity_va": 10_000_000}],
            [{"account_id": 1, "total_wh": 100_000_000, "reactive_varh": 102_000_000}], date(2025, 9, 1), date(2025, 10, 1))
    assert amounts(r)["pf.adjustment"] == 2_640_000
    assert explanations(r)[-1] == "功率因数调整电费：功率因数 0.70（标准 0.90），调整 +10%：264000.00 元 × +10%"
    r = run(_set("example-versions"), [{"account_id": 1, "tariff": "example-versions"}], [{"account_id": 1, "total_wh": 1_001_000}],
            date(2025, 6, 1), date(2025, 7, 1))
    assert [a for _, _, _, a in lines(r)] == [25025, 30030]


@pytest.mark.parametrize("code", ["example-two-part"])
def test_two_part_example_lines(code):
    r = run(_set(code), [{"account_id": 1, "tariff": code, "capacity_va": 2_000_000, "basic_basis": "demand",
                          "contract_demand_w": 1_000_000}],
            [{"account_id": 1, "total_wh": 0, "max_demand_w": 1_300_000}], date(2026, 1, 1), date(2026, 2, 1))
    assert explanations(r) == ["基本电费（需量）1550 kW × 42.0 元/kW·月（合同 1000 kW，实际 1300 kW，超过 105% 部分加倍）"]

"""Tariff files: the shipped library, and validation errors that name the path and the problem."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gridcare.rating import ScheduleSet, TariffFileInvalid, load_library, load_schedule_file, parse_yaml
from gridcare.rating.loader import library_dir, load_pf_table
from gridcare.rating.model import BasicComponent, EnergyComponent
from tests.rating.helpers import D, tariff

ENERGY = "  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: 0.5}\n"


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(TariffFileInvalid) as err:
        parse_yaml(text, source="t.yaml")
    return err.value.problems


def test_library_has_the_five_sourced_tariff_families():
    lib = load_library()
    assert lib.codes == (
        "gd-ci-tou-lt1kv", "gz-residential", "gz-residential-tou", "hubei-agency-2part-10kv",
        "sz-residential", "sz-residential-tou", "zj-residential", "zj-residential-tou",
    )
    for sched in lib:
        assert sched.sources, sched.key
        assert all(c.label_zh and c.label_en for c in sched.components)


def test_library_hubei_rules_are_the_configured_defaults():
    basic = load_library().versions("hubei-agency-2part-10kv")[0].component("basic")
    assert isinstance(basic, BasicComponent)
    assert (basic.capacity_price, basic.demand_price, basic.proration, basic.suspension_min_days) == (
        D("26.3"), D("42"), "thirty_day", 15)
    assert (basic.demand.threshold_ratio, basic.demand.excess_multiplier, basic.demand.floor_ratio,
            basic.demand.over_formula) == (D("1.05"), D("2"), D("0.4"), "threshold_plus_double_excess")


def test_pf_table_is_the_full_1983_table():
    """§4.4: three standards, rows 1.00 … 0.26, 2 % per 0.01 below; spot rows from the 办法."""
    table = load_pf_table(library_dir() / "pf-1983.yaml")
    assert sorted(table.rows) == ["0.80", "0.85", "0.90"]
    assert all(len(rows) == 75 for rows in table.rows.values())
    assert table.percent("0.90", D("0.90")) == 0
    assert table.percent("0.90", D("0.95")) == D("-0.75")
    assert table.percent("0.90", D("0.65")) == 15
    assert table.percent("0.85", D("0.94")) == D("-1.1")
    assert table.percent("0.80", D("0.92")) == D("-1.3")
    assert table.percent("0.80", D("0.55")) == 15
    assert table.percent("0.90", D("0.25")) == 95  # 93 + 2


def test_numbers_are_read_as_exact_decimals():
    (s,) = parse_yaml(tariff("components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, price: 0.58886875}\n"))
    comp = s.component("e")
    assert isinstance(comp, EnergyComponent)
    assert comp.price == Decimal("0.58886875")


def test_tier_thresholds_must_increase():
    text = tariff("""
components:
  - id: energy
    kind: energy
    label_zh: 电度电费
    label_en: Energy
    tiers: [{upto: 200, price: 0.5}, {upto: 150, price: 0.6}, {price: 0.9}]
""")
    assert problems(text) == [("components[0].tiers[1].upto", "must be greater than 200")]
    with pytest.raises(TariffFileInvalid) as err:
        parse_yaml(text, source="t.yaml")
    assert str(err.value) == "t.yaml: components[0].tiers[1].upto: must be greater than 200"
    assert err.value.field == "components[0].tiers[1].upto"
    assert err.value.code == "tariff_invalid"


def test_every_problem_is_collected_in_one_pass():
    text = tariff("""
components:
  - id: energy
    kind: energy
    label_zh: 电度电费
    tiers: [{upto: 200, price: 0.5}, {upto: 400}, {upto: 500, price: 1}]
    colour: blue
  - {id: energy, kind: funds, label_zh: 基金, label_en: Funds, items: [{code: x, label_zh: x, label_en: x, rate: -1}]}
""")
    assert problems(text) == [
        ("components[0].label_en", "is required"),
        ("components[0].tiers[2].upto", "must be empty on the last tier (it is open-ended)"),
        ("components[0].tiers[1].price", "is required"),
        ("components[0].colour", "is not a known field"),
        ("components[1].items[0].rate", "must be at least 0"),
        ("components[1].id", "duplicate component id 'energy'"),
    ]


@pytest.mark.parametrize(("body", "expected"), [
    ("tou:\n  seasons:\n    - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n      bands: {flat: ['00:00-08:00']}\n"
     "components:\n" + ENERGY,
     ("tou.seasons[0].bands", "must cover the whole day; 08:00 has no band")),
    ("tou:\n  seasons:\n    - months: [1, 2, 3]\n      bands: {flat: ['00:00-24:00']}\ncomponents:\n" + ENERGY,
     ("tou.seasons", "must cover all months; missing [4, 5, 6, 7, 8, 9, 10, 11, 12]")),
    ("tou:\n  seasons:\n    - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n      bands: {flat: ['00:00-24:00'], peak: ['10:00-12:00']}\n"
     "components:\n" + ENERGY,
     ("tou.seasons[0].bands.peak", "10:00 is already flat")),
    ("tou:\n  seasons:\n    - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n      bands: {flat: ['00:00-10:10', '10:10-24:00']}\n"
     "components:\n" + ENERGY,
     ("tou.seasons[0].bands.flat[0]", "must start and end on a quarter hour")),
    ("tou:\n  seasons:\n    - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n      bands: {flat: ['22:00-06:00']}\n"
     "components:\n" + ENERGY,
     ("tou.seasons[0].bands.flat[0]", "end must be after start; got '22:00-06:00' (split ranges that cross midnight)")),
    ("tou:\n  seasons:\n    - months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n      bands: {flat: ['00:00-20:00'], peak: ['20:00-24:00']}\n"
     "components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, tou_prices: {flat: 0.5}}\n",
     ("components[0].tou_prices.peak", "is required: the tou calendar uses peak")),
    ("components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, tou_prices: {derive: {base: 0.5, ratios: {peak: 1.7}}}}\n",
     ("components[0].tou_prices", "needs a tou: calendar at the top of the file")),
    ("components:\n  - {id: b, kind: basic, label_zh: 基, label_en: B, demand_price: 30, demand: {over_formula: triple}}\n",
     ("components[0].demand.over_formula", "must be one of threshold_plus_double_excess, contract_plus_double_excess, "
      "contract_plus_double_over_contract; got 'triple'")),
    ("components:\n  - {id: b, kind: basic, label_zh: 基, label_en: B, capacity_price: 20, demand: {floor_ratio: 1.5}}\n",
     ("components[0].demand.floor_ratio", "must be at most 1")),
    ("components:\n" + ENERGY + "  - {id: f, kind: funds, label_zh: 基, label_en: F, items: [{code: r, label_zh: r, label_en: r, rate: 0.01}]}\n"
     "  - {id: pf, kind: power_factor, label_zh: 力调, label_en: PF, applies_to: [f], table_file: pf-1983.yaml}\n",
     ("components[2].applies_to[0]", "'f' is funds; only energy and basic charges are power-factor adjusted")),
    ("components:\n" + ENERGY + "  - {id: pf, kind: power_factor, label_zh: 力调, label_en: PF, applies_to: [energy], "
     "table_file: pf-1983.yaml, default_standard: '0.95'}\n",
     ("components[1].default_standard", "must be one of the table's standards ['0.80', '0.85', '0.90']")),
    ("components:\n" + ENERGY + "  - {id: pf, kind: power_factor, label_zh: 力调, label_en: PF, applies_to: [energy], table_file: nope.yaml}\n",
     ("components[1].table_file", "nope.yaml not found next to the tariff file or in the library")),
    ("rounding: {line_amount: {mode: bankers}}\ncomponents:\n" + ENERGY,
     ("rounding.line_amount.mode", "must be one of half_up, half_even, down, up; got 'bankers'")),
    ("rounding: {derived_price: {places: 0.0005}}\ncomponents:\n" + ENERGY,
     ("rounding.derived_price.places", "must be a power of ten such as 0.01 or 1; got 0.0005")),
    ("rounding: {tax: {mode: up}}\ncomponents:\n" + ENERGY,
     ("rounding.tax", "is not a rounding step; known steps: line_amount, derived_price, threshold, usage_split, "
      "loss_quantity, cos_phi, pf_amount, billable_demand, daily_amount")),
    ("components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, price: 0.123456789}\n",
     ("components[0].price", "has more than 8 decimal places")),
    ("components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, tiers: [{upto: 100, price: 0.5}, {price: 0.6}], "
     "tier_options: {seasons: [{months: [1, 2, 3, 4, 5, 6], upto: [100]}]}}\n",
     ("components[0].tier_options.seasons", "must cover all months; missing [7, 8, 9, 10, 11, 12]")),
    ("components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, tiers: [{upto: 100, price: 0.5}, {price: 0.6}], "
     "tier_options: {seasons: [{months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], upto: [100, 200]}]}}\n",
     ("components[0].tier_options.seasons[0].upto", "must list 1 thresholds, one per tier but the last")),
    ("components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, tiers: [{upto: 100, price: 0.5}, {price: 0.6}], "
     "tier_options: {combined_meter: {mode: flat_price}}}\n",
     ("components[0].tier_options.combined_meter.price", "is required when mode is flat_price")),
    ("components:\n  - {id: e, kind: energy, label_zh: 电, label_en: E, price: 0.5, exempt_categories: [agriculture]}\n"
     "  - {id: x, kind: taxes, label_zh: 税, label_en: Tax}\n",
     ("components[1].kind", "must be one of energy, basic, power_factor, losses, funds; got 'taxes'")),
])
def test_validation_messages_name_the_path(body, expected):
    assert problems(tariff(body))[0] == expected


def test_header_problems():
    text = 'code: t\nversion: "1"\nname_zh: 测试\nname_en: Test\neffective_from: 2025-13-01\nsources: []\ncomponents: []\n'
    assert problems(text) == [
        ("effective_from", "must be a date YYYY-MM-DD; got '2025-13-01'"),
        ("sources", "must name at least one source"),
        ("components", "must list at least one component"),
    ]


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(TariffFileInvalid) as err:
        parse_yaml("code: t\ncomponents: [\n  - x: : :\n", source="bad.yaml")
    assert err.value.field == "line 3"
    assert str(err.value).startswith("bad.yaml: line 3: not valid YAML")


def test_several_versions_in_one_file_are_prefixed_by_document():
    text = tariff("components:\n" + ENERGY, version="a", end="2025-01-01") + "---\n" + tariff(
        "components:\n  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy, price: -1}\n", version="b",
        start="2025-01-01")
    assert problems(text) == [("documents[1].components[0].price", "must be at least 0")]


def test_overlapping_versions_are_refused():
    a = parse_yaml(tariff("components:\n" + ENERGY, version="a"))
    b = parse_yaml(tariff("components:\n" + ENERGY, version="b", start="2025-01-01"))
    with pytest.raises(TariffFileInvalid, match="t: versions a and b overlap"):
        ScheduleSet((*a, *b))


def test_unreadable_file(tmp_path):
    with pytest.raises(TariffFileInvalid) as err:
        load_schedule_file(tmp_path / "missing.yaml")
    assert "cannot read" in str(err.value)


def test_in_force_picks_versions_overlapping_the_period():
    from datetime import date

    a = parse_yaml(tariff("components:\n" + ENERGY, version="a", end="2025-06-16"))
    b = parse_yaml(tariff("components:\n" + ENERGY, version="b", start="2025-06-16"))
    s = ScheduleSet((*b, *a))
    assert [v.version for v in s.in_force("t", date(2025, 6, 1), date(2025, 7, 1))] == ["a", "b"]
    assert [v.version for v in s.in_force("t", date(2025, 7, 1), date(2025, 8, 1))] == ["b"]


def test_a_document_that_is_not_a_mapping_reports_only_that():
    assert problems("account_id,total_kwh\nA,1\n") == [("(document)", "must be a mapping")]

"""A small two-version tariff for back-billing across a price change (test data, not a real tariff)."""

from gridcare.rating import ScheduleSet, parse_yaml
from tests.parameters.helpers import library

TEST_FLAT = """
code: test-ci-flat
version: "2025-07"
name_zh: 测试一般工商业（单一制）
name_en: Test C&I flat
effective_from: 2025-07-01
effective_to: 2026-01-01
sources: ["test data"]
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy charge, rule: test, price: 0.50}
  - id: funds
    kind: funds
    label_zh: 政府性基金及附加
    label_en: Funds
    rule: test
    items: [{code: all, label_zh: 基金, label_en: Funds, rate: 0.02}]
---
code: test-ci-flat
version: "2026-01"
name_zh: 测试一般工商业（单一制）
name_en: Test C&I flat
effective_from: 2026-01-01
sources: ["test data"]
components:
  - {id: energy, kind: energy, label_zh: 电度电费, label_en: Energy charge, rule: test, price: 0.60}
  - id: funds
    kind: funds
    label_zh: 政府性基金及附加
    label_en: Funds
    rule: test
    items: [{code: all, label_zh: 基金, label_en: Funds, rate: 0.02}]
"""


def schedules() -> ScheduleSet:
    return library().merged(parse_yaml(TEST_FLAT, source="test-ci-flat.yaml"))

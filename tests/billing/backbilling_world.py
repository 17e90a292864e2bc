"""An account on a two-version test tariff (price change on 2026-01-16, inside the January period)
with issued December and January bills whose CT multiplier was recorded as 20 instead of 30; shared
by the billing, web and API tests of back-billing adjustment bills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from gridcare.billing.models import Bill, BillLine, BillRead
from gridcare.customers.models import Account, Meter
from gridcare.parameters import services as parameters
from gridcare.rating import rate
from gridcare.tariffs.selectors import schedule_set
from gridcare.tariffs.services import tariff_file_load
from tests.factories import account, customer, meter, service_point
from tests.parameters.fixtures import AS_OF, ParamWorld

# Test data, not a real tariff: 0.50 元/kWh until 2026-01-16, 0.60 from then; funds 0.02 元/kWh.
TARIFF = """
code: test-adjust-flat
version: "2025-07"
name_zh: 测试退补（单一制）
name_en: Test back-billing flat
effective_from: 2025-07-01
effective_to: 2026-01-16
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
code: test-adjust-flat
version: "2026-01"
name_zh: 测试退补（单一制）
name_en: Test back-billing flat
effective_from: 2026-01-16
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
PERIODS = {"2025-12": (date(2025, 12, 1), date(2026, 1, 1)), "2026-01": (date(2026, 1, 1), date(2026, 2, 1))}


@dataclass
class AdjustWorld:
    pw: ParamWorld
    acc: Account
    meter: Meter
    dec: Bill
    jan: Bill


def issue(acc: Account, meter_obj: Meter, period: str, advance_wh: int, multiplier: int) -> Bill:
    """An issued invoice written the way billing writes one: the kernel's lines for the read."""
    start, end = PERIODS[period]
    frame = pl.DataFrame({"account_id": [acc.pk], "tariff": [acc.tariff_code], "category": [acc.category],
                          "capacity_va": [0]})
    result = rate(frame, pl.DataFrame({"account_id": [acc.pk], "total_wh": [advance_wh * multiplier]}),
                  schedule_set(), start, end)
    assert result.rejected.height == 0, result.rejected
    total = result.totals.row(0, named=True)
    bill = Bill.objects.create(
        number=f"B{period.replace('-', '')}-{acc.number}-1", account=acc, org_unit=acc.org_unit, period_code=period,
        version=1, kind="invoice", status="issued", start_date=start, end_date=end, tariff_code=acc.tariff_code,
        total_fen=total["amount_fen"], energy_wh=total["billed_wh"], created_at=AS_OF, issued_at=AS_OF,
        due_date=end)
    BillLine.objects.bulk_create([
        BillLine(bill=bill, line_no=r["line_no"], component=r["component"], line_code=r["line_code"], tariff=r["tariff"],
                 tariff_version=r["version"], start_date=r["start_date"], end_date=r["end_date"],
                 quantity=r["quantity"], unit=r["unit"], unit_price=r["unit_price"], amount_fen=r["amount_fen"],
                 rule=r["rule"] or "", explanation_zh=r["explanation_zh"][:255], explanation_en=r["explanation_en"][:255])
        for r in result.lines.iter_rows(named=True)])
    BillRead.objects.create(bill=bill, segment=1, meter=meter_obj, asset_number=meter_obj.asset_number,
                            register="total", multiplier=multiplier, end_date=end, end_value=advance_wh,
                            end_status="valid", advance_milli=advance_wh)
    return bill


def adjust_world(pw: ParamWorld, *, number: str = "0600000009") -> AdjustWorld:
    tariff_file_load(text=TARIFF, name="test-adjust-flat.yaml", actor=None, as_of=AS_OF)
    org = customer(pw.units["PY1"], name="番禺某五金厂", kind="organisation", id_type="uscc")
    acc = account(org, number=number, category="general_ci", tariff_code="test-adjust-flat")
    m = meter(service_point(acc, contracted_capacity_kva="100"))
    # Recorded multiplier 20 (CT 100/5); advances 10 and 15.5 kWh on the dial.
    return AdjustWorld(pw=pw, acc=acc, meter=m, dec=issue(acc, m, "2025-12", 10_000, 20),
                       jan=issue(acc, m, "2026-01", 15_500, 20))


def approved_case(w: AdjustWorld, multiplier: str = "30"):
    case = parameters.backbilling_case_prepare(
        data=parameters.CaseInput(account_id=w.acc.pk, kind="wrong_multiplier", correction={"multiplier": multiplier},
                                  period_codes=["2025-12", "2026-01"], reason="现场核查：CT 实为 150/5"),
        actor=w.pw.clerk, as_of=AS_OF)
    return parameters.backbilling_case_approve(case_id=case.pk, actor=w.pw.approver, as_of=AS_OF)

"""Meter events feed the calculation: a capacity increase mid-month splits the basic charge of a
two-part account by days; a multiplier change splits the meter's period."""

from __future__ import annotations

from datetime import date

import pytest

from gridcare.billing import services
from gridcare.billing.models import Bill
from gridcare.metering import services as metering
from tests.billing import conftest as billing_fixtures
from tests.metering.helpers import at, metered_account, seed_read

pytestmark = pytest.mark.django_db
staff, tariffs = billing_fixtures.staff, billing_fixtures.tariffs
JAN1, FEB1 = date(2026, 1, 1), date(2026, 2, 1)
REGS = ("total", "sharp", "peak", "flat", "valley", "reactive")


def _hubei(org, **point):
    acct, m = metered_account(org["PY1"], tariff_code="hubei-agency-2part-10kv", category="large_industry",
                              registers=REGS, point={"voltage_level": "10kV", "contracted_capacity_kva": 400,
                                                     "basic_charge_basis": "capacity", **point})
    opening = {"total": 1000, "sharp": 100, "peak": 300, "flat": 400, "valley": 200, "reactive": 300}
    closing = {"total": 11000, "sharp": 1100, "peak": 3300, "flat": 4400, "valley": 2200, "reactive": 3300}
    for reg in REGS:
        seed_read(m, reg, JAN1, opening[reg])
        seed_read(m, reg, FEB1, closing[reg])
    return acct, m


def _bill(staff):
    when = at(2026, 2, 2)
    run = services.billing_run_start(period_code="2026-01", org_unit=None, actor=staff["clerk"], as_of=when)
    return services.billing_run_execute(run_id=run.pk, as_of=when)


def test_capacity_increase_splits_the_basic_charge(org, tariffs, staff):
    acct, _ = _hubei(org)
    plain, _ = _hubei(org)
    point = acct.service_points.get()
    metering.service_point_capacity_change(service_point_id=point.pk, on=date(2026, 1, 16), capacity_kva=630,
                                           actor=staff["clerk"], as_of=at(2026, 1, 16))
    run = _bill(staff)
    assert run.billed_accounts == 2
    changed, unchanged = Bill.objects.get(account=acct), Bill.objects.get(account=plain)
    basic = [(ln.start_date, ln.end_date, str(ln.quantity)) for ln in changed.lines.filter(component="basic")]
    assert basic == [(JAN1, date(2026, 1, 16), "400.000"), (date(2026, 1, 16), FEB1, "630.000")]
    plain_basic = [(ln.start_date, ln.end_date, str(ln.quantity)) for ln in unchanged.lines.filter(component="basic")]
    assert plain_basic == [(JAN1, FEB1, "400.000")]
    assert changed.total_fen > unchanged.total_fen
    assert set(changed.exceptions.values_list("rule", flat=True)) >= {"tariff_or_meter_change"}
    assert changed.exceptions.get(rule="tariff_or_meter_change").data == {"changes": "capacity"}


def test_multiplier_change_splits_the_meter_period(org, tariffs, staff):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential")
    seed_read(m, "total", date(2025, 12, 1), "100")
    seed_read(m, "total", JAN1, "1000")
    seed_read(m, "total", FEB1, "1100")
    metering.meter_multiplier_change(meter_id=m.pk, on=date(2026, 1, 11), ct_ratio=2, pt_ratio=1,
                                     reads={"total": "1040"}, actor=staff["clerk"], as_of=at(2026, 1, 11))
    _bill(staff)
    bill = Bill.objects.get()
    # 40 kWh at ×1 before the change, 60 dial kWh at ×2 after: 160 kWh billed.
    assert list(bill.reads.values_list("segment", "multiplier", "advance_milli")) == [
        (1, 1, 40_000), (2, 2, 60_000)]
    assert bill.energy_wh == 160_000

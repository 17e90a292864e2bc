"""Fixtures for the parameter services, API and web tests (import `pworld` by name): a park meter
with a sub-account, a household, clerks and approvers, the shipped tariffs loaded, and issued
bills built from the kernel's own lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from gridcare.access.models import User
from gridcare.customers.models import Account, Meter
from tests.customers.fixtures import fast_passwords  # noqa: F401
from tests.factories import account, customer, meter, org_tree, service_point, user

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 3, 5, 10, 0, tzinfo=TZ)


@dataclass
class ParamWorld:
    units: dict
    park: Account  # 总表, 630 kVA
    shop: Account  # 子表, 100 kVA
    flat: Account  # residential
    sz_account: Account  # in another city
    meters: dict[int, Meter]
    clerk: User
    clerk2: User
    approver: User
    agent: User
    sz_clerk: User
    admin: User  # may both propose and approve: the two-person rule still applies


@pytest.fixture
def pworld(db, fast_passwords) -> ParamWorld:  # noqa: F811
    from gridcare.tariffs.services import tariff_library_sync

    tariff_library_sync(as_of=AS_OF)
    units = org_tree()
    org = customer(units["GZ"], name="广州某产业园管理有限公司", kind="organisation", id_type="uscc")
    person = customer(units["PY1"], name="王小明")
    other = customer(units["SZ"], name="深圳客户")
    park = account(org, number="0600000001", category="general_ci", tariff_code="gd-ci-tou-lt1kv")
    shop = account(org, number="0600000002", category="general_ci", tariff_code="gd-ci-tou-lt1kv")
    flat = account(person, number="0600000003", category="residential", tariff_code="gz-residential")
    sz_account = account(other, number="0600000004", category="residential", tariff_code="sz-residential")
    meters = {}
    for acc, kva in ((park, "630"), (shop, "100"), (flat, "0"), (sz_account, "0")):
        point = service_point(acc, contracted_capacity_kva=kva)
        meters[acc.pk] = meter(point)
    return ParamWorld(
        units=units, park=park, shop=shop, flat=flat, sz_account=sz_account, meters=meters,
        clerk=user("billing_clerk", org_unit=units["GZ"]), clerk2=user("billing_clerk", org_unit=units["GZ"]),
        approver=user("approver", org_unit=units["GZ"]), agent=user("agent", org_unit=units["GZ"]),
        sz_clerk=user("billing_clerk", org_unit=units["SZ"]), admin=user("administrator"),
    )


def issue_bill(acc: Account, meter_obj: Meter, period: str, start: date, end: date, reads, *, tariff: str | None = None,
               capacity_va: int = 0):
    """Write an issued invoice the way billing does: kernel lines for the reads [(register, multiplier,
    advance_wh)], one BillRead per register."""
    from gridcare.billing.models import Bill, BillLine, BillRead
    from gridcare.rating import load_library, rate

    tariff = tariff or acc.tariff_code
    usage = {"account_id": [acc.pk]}
    for reg, mult, adv in reads:
        col = "reactive_varh" if reg == "reactive" else f"{reg}_wh"
        usage[col] = [adv * int(mult)]
    frame = pl.DataFrame({"account_id": [acc.pk], "tariff": [tariff], "category": [acc.category],
                          "capacity_va": [capacity_va]})
    result = rate(frame, pl.DataFrame(usage), load_library(), start, end)
    assert result.rejected.height == 0, result.rejected
    total = result.totals.row(0, named=True)
    bill = Bill.objects.create(
        number=f"B{period.replace('-', '')}-{acc.number}-1", account=acc, org_unit=acc.org_unit, period_code=period,
        version=1, kind="invoice", status="issued", start_date=start, end_date=end, tariff_code=tariff,
        total_fen=total["amount_fen"], energy_wh=total["billed_wh"], created_at=AS_OF, issued_at=AS_OF)
    BillLine.objects.bulk_create([
        BillLine(bill=bill, line_no=r["line_no"], component=r["component"], line_code=r["line_code"], tariff=r["tariff"],
                 tariff_version=r["version"], start_date=r["start_date"], end_date=r["end_date"],
                 quantity=r["quantity"], unit=r["unit"], unit_price=r["unit_price"], amount_fen=r["amount_fen"],
                 rule=r["rule"] or "", explanation_zh=r["explanation_zh"][:255], explanation_en=r["explanation_en"][:255])
        for r in result.lines.iter_rows(named=True)])
    BillRead.objects.bulk_create([
        BillRead(bill=bill, segment=1, meter=meter_obj, asset_number=meter_obj.asset_number, register=reg,
                 multiplier=mult, end_date=end, end_value=adv, end_status="valid", advance_milli=adv)
        for reg, mult, adv in reads])
    return bill

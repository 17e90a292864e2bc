"""Test data builders that go through the real services, so tests exercise the same paths as users."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gridcare.access.models import User
from gridcare.customers import services as customer_services
from gridcare.customers.models import Account, Customer, Meter, OrgUnit, ServicePoint

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 11, 1, 9, 0, tzinfo=TZ)
_seq = itertools.count(1)


def org_tree() -> dict[str, OrgUnit]:
    """Province GD → city GZ (→ county PY → station PY1) and city SZ."""
    mk = customer_services.org_unit_create
    units = {"GD": mk(code="GD", name="广东省电力公司", level="province")}
    units["GZ"] = mk(code="GZ", name="广州供电局", level="city", parent_code="GD")
    units["SZ"] = mk(code="SZ", name="深圳供电局", level="city", parent_code="GD")
    units["PY"] = mk(code="PY", name="番禺区供电局", level="county", parent_code="GZ")
    units["PY1"] = mk(code="PY1", name="市桥供电所", level="station", parent_code="PY")
    return units


def user(role: str, org_unit: OrgUnit | None = None, customer: Customer | None = None, username: str | None = None,
         password: str = "pass-1234") -> User:
    name = username or f"{role}{next(_seq)}"
    return User.objects.create_user(username=name, password=password, role=role, org_unit=org_unit, customer=customer,
                                    display_name=name)


def customer(org_unit: OrgUnit, name: str = "张小三", phone: str = "13812345678", kind: str = "person",
             **extra) -> Customer:
    n = next(_seq)
    data = customer_services.CustomerData(
        name=name, org_unit_code=org_unit.code, kind=kind, phone=phone,
        id_number=extra.pop("id_number", ""), address=extra.pop("address", f"广州市番禺区市桥街{n}号"),
        external_id=extra.pop("external_id", f"EXT{n:06d}"), **extra,
    )
    return customer_services.customer_create(data=data, actor=None, as_of=AS_OF)


def account(cust: Customer, number: str | None = None, category: str = "residential",
            tariff_code: str = "guangzhou_residential", **extra) -> Account:
    return customer_services.account_create(
        customer=cust, number=number or f"0{next(_seq):09d}", category=category, opened_on=date(2020, 1, 1),
        tariff_code=tariff_code, **extra,
    )


def service_point(acct: Account, **extra) -> ServicePoint:
    n = next(_seq)
    defaults = {"code": f"SP{n:08d}", "address": f"广州市番禺区市桥街{n}号", "voltage_level": "220V",
                "category": acct.category}
    defaults.update(extra)
    return customer_services.service_point_create(account=acct, **defaults)


def meter(point: ServicePoint, **extra) -> Meter:
    defaults = {"asset_number": f"M{next(_seq):010d}", "installed_on": date(2020, 1, 1)}
    defaults.update(extra)
    return customer_services.meter_install(service_point=point, **defaults)

"""Builders shared by the metering, tariffs and billing tests."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from gridcare.customers.models import Account, Meter
from gridcare.metering.models import MeterRead
from tests.factories import account, customer, meter, service_point

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 9) -> datetime:
    return datetime(y, m, d, hh, 0, tzinfo=TZ)


def metered_account(org_unit, *, tariff_code: str = "guangzhou_residential", category: str = "residential",
                    registers: tuple[str, ...] = ("total",), digits: int = 6, ct: int = 1, pt: int = 1,
                    name: str = "张小三", point: dict | None = None, **account_extra) -> tuple[Account, Meter]:
    cust = customer(org_unit, name=name)
    acct = account(cust, category=category, tariff_code=tariff_code, **account_extra)
    sp = service_point(acct, **(point or {}))
    m = meter(sp, registers=registers, digits=digits, ct_ratio=ct, pt_ratio=pt)
    return acct, m


def seed_read(m: Meter, register: str, on: date, kwh: str | int, *, status: str = "valid") -> MeterRead:
    from decimal import Decimal

    return MeterRead.objects.create(
        meter=m, asset_number=m.asset_number, register=register, read_date=on,
        value_milli=int(Decimal(str(kwh)) * 1000), status=status, source="import", created_at=at(2026, 1, 1),
    )


def csv_bytes(rows: list[tuple], header: str = "asset_number,register,read_date,value") -> bytes:
    lines = [header] + [",".join(str(c) for c in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()

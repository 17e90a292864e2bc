"""Rating quotes: /api/v1/rating/...

`POST /rating/quote` rates one account's usage for a period against a tariff and returns the bill
lines as the kernel computes them (quantities and prices as exact decimal text, amounts in fen).
Nothing is stored. Tariffs come from the tariffs loaded into the database (the versions billing
uses); a code not loaded there falls back to the shipped library. Tariffs are public prices, so any
authenticated user (portal customers included) may ask for a quote.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from ninja import Router, Schema
from pydantic import Field

from gridcare.api.schemas.common import ERRORS
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.rating import ScheduleSet, UnableToRate, load_library, rate

router = Router()
KWH = Field(None, ge=0, decimal_places=3, max_digits=15)


class QuoteAccount(Schema):
    category: str | None = None
    household_members: int | None = Field(None, ge=0, le=99)
    households: int = Field(1, ge=1, le=100_000)
    combined_meter: bool = False
    capacity_kva: Decimal | None = KWH
    contract_demand_kw: Decimal | None = KWH
    basic_basis: str | None = Field(None, pattern="^(capacity|demand)$")
    pf_standard: str | None = Field(None, pattern=r"^(0\.90|0\.85|0\.80|none)$")
    exemptions: list[str] = []
    ytd_kwh: Decimal | None = KWH
    annual_cycle_start: date | None = None


class QuoteUsage(Schema):
    total_kwh: Decimal | None = KWH
    sharp_kwh: Decimal | None = KWH
    peak_kwh: Decimal | None = KWH
    flat_kwh: Decimal | None = KWH
    valley_kwh: Decimal | None = KWH
    deep_valley_kwh: Decimal | None = KWH
    reactive_kvarh: Decimal | None = KWH
    reverse_reactive_kvarh: Decimal | None = KWH
    max_demand_kw: Decimal | None = KWH


class QuoteIn(Schema):
    tariff: str = Field(..., min_length=1, max_length=64)
    period_start: date
    period_end: date
    account: QuoteAccount = QuoteAccount()
    usage: QuoteUsage
    hot_days: list[date] = []


class QuoteLineOut(Schema):
    line_no: int
    tariff: str
    version: str
    start_date: date
    end_date: date
    component: str
    line_code: str
    quantity: str
    unit: str
    unit_price: str
    amount_fen: int
    amount_yuan: str
    rule: str
    explanation_zh: str
    explanation_en: str


class QuoteOut(Schema):
    tariff: str
    period_start: date
    period_end: date
    total_fen: int
    total_yuan: str
    billed_kwh: str
    cos_phi: str | None
    pf_rate: str | None
    lines: list[QuoteLineOut]


class TariffOut(Schema):
    code: str
    version: str
    name_zh: str
    name_en: str
    effective_from: date
    effective_to: date | None
    time_of_use: bool
    components: list[str]


def _schedules(code: str | None = None) -> ScheduleSet:
    from gridcare.tariffs.selectors import schedule_set

    stored = schedule_set(codes={code} if code else None)
    library = load_library()
    if code is not None:
        return stored if len(stored) else ScheduleSet(library.versions(code))
    known = set(stored.codes)
    return stored.merged(s for s in library if s.code not in known)


def _milli(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 1000)


def _yuan(fen: int) -> str:
    return f"{'-' if fen < 0 else ''}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@router.get("/tariffs", response={200: list[TariffOut], **ERRORS})
def tariffs(request):
    """Every tariff version a quote can use (stored versions first, then the shipped library)."""
    return [
        {"code": s.code, "version": s.version, "name_zh": s.name_zh, "name_en": s.name_en,
         "effective_from": s.effective_from, "effective_to": s.effective_to, "time_of_use": s.tou is not None,
         "components": [c.id for c in s.components]}
        for s in sorted(_schedules(), key=lambda s: (s.code, s.effective_from))
    ]


@router.post("/quote", response={200: QuoteOut, **ERRORS})
def quote(request, payload: QuoteIn):
    """Rate one account's usage for `[period_start, period_end)`; nothing is stored."""
    schedules = _schedules(payload.tariff)
    if not len(schedules):
        raise NotFound(f"unknown tariff {payload.tariff!r}", field="tariff")
    a, u = payload.account, payload.usage
    accounts = pl.DataFrame([{
        "account_id": 1, "tariff": payload.tariff, "category": a.category, "household_members": a.household_members,
        "households": a.households, "combined_meter": a.combined_meter, "capacity_va": _milli(a.capacity_kva) or 0,
        "contract_demand_w": _milli(a.contract_demand_kw), "basic_basis": a.basic_basis, "pf_standard": a.pf_standard,
        "exemptions": a.exemptions, "ytd_wh": _milli(a.ytd_kwh) or 0, "annual_cycle_start": a.annual_cycle_start,
    }], schema_overrides={"household_members": pl.Int32, "households": pl.Int32, "contract_demand_w": pl.Int64,
                          "category": pl.String, "basic_basis": pl.String, "pf_standard": pl.String,
                          "exemptions": pl.List(pl.String), "annual_cycle_start": pl.Date})
    usage = pl.DataFrame([{
        "account_id": 1, "total_wh": _milli(u.total_kwh), "sharp_wh": _milli(u.sharp_kwh), "peak_wh": _milli(u.peak_kwh),
        "flat_wh": _milli(u.flat_kwh), "valley_wh": _milli(u.valley_kwh), "deep_valley_wh": _milli(u.deep_valley_kwh),
        "reactive_varh": _milli(u.reactive_kvarh), "reverse_reactive_varh": _milli(u.reverse_reactive_kvarh) or 0,
        "max_demand_w": _milli(u.max_demand_kw),
    }], schema={"account_id": pl.Int64, **{c: pl.Int64 for c in (
        "total_wh", "sharp_wh", "peak_wh", "flat_wh", "valley_wh", "deep_valley_wh", "reactive_varh",
        "reverse_reactive_varh", "max_demand_w")}})
    if payload.period_end <= payload.period_start:
        raise ValidationFailed("period_end must be after period_start", field="period_end")
    if (payload.period_end - payload.period_start).days > 366:
        raise ValidationFailed("a quote covers at most 366 days", field="period_end")
    try:
        result = rate(accounts, usage, schedules, payload.period_start, payload.period_end, hot_days=payload.hot_days)
    except UnableToRate as exc:
        raise ValidationFailed(exc.message, field=exc.field) from None
    if result.rejected.height:
        _, field, reason = result.rejected.row(0)
        raise ValidationFailed(reason, field=_request_field(field))
    total = result.totals.row(0, named=True)
    return {
        "tariff": payload.tariff, "period_start": payload.period_start, "period_end": payload.period_end,
        "total_fen": total["amount_fen"], "total_yuan": _yuan(total["amount_fen"]),
        "billed_kwh": f"{Decimal(total['billed_wh']) / 1000:f}",
        "cos_phi": None if total["cos_phi"] is None else f"{total['cos_phi']:f}",
        "pf_rate": None if total["pf_rate"] is None else f"{total['pf_rate'].normalize():f}",
        "lines": [
            {**{k: row[k] for k in ("line_no", "tariff", "version", "start_date", "end_date", "component", "line_code",
                                    "unit", "amount_fen", "rule", "explanation_zh", "explanation_en")},
             "quantity": f"{row['quantity'].normalize():f}", "unit_price": f"{row['unit_price'].normalize():f}",
             "amount_yuan": _yuan(row["amount_fen"])}
            for row in result.lines.iter_rows(named=True)
        ],
    }


_FIELDS = {
    "usage.reactive_varh": "usage.reactive_kvarh", "usage.max_demand_w": "usage.max_demand_kw",
    "usage.total_wh": "usage.total_kwh", "accounts.contract_demand_w": "account.contract_demand_kw",
    "accounts.capacity_va": "account.capacity_kva", "accounts.ytd_wh": "account.ytd_kwh", "accounts.tariff": "tariff",
}


def _request_field(field: str) -> str:
    """The kernel names its frame columns; the client sent these names."""
    if field in _FIELDS:
        return _FIELDS[field]
    return field.replace("accounts.", "account.", 1)

"""退补 (back-billing and refunds): re-rate past periods with corrected inputs and explain the
difference line by line against the bills that were issued.

Pure (Polars + Decimal, no Django). For each affected period the original bill's reads are turned
back into kernel usage exactly as billing did (advance × multiplier, to the Wh), the correction is
applied, and both the original and the corrected inputs are rated with ``gridcare.rating`` (via
:func:`gridcare.parameters.engine.rate_with_parameters`, so the parameters in force then apply
too) with the tariff versions in force in that period. The difference is taken against the lines
of the *issued* bill, so every figure is traceable to it; re-rating the original inputs is a check
(``reproduced``) shown to the approver.

Corrections (《供电营业规则》(1996) 第八十条、第八十一条, numbers in defaults.yaml):

* ``wrong_multiplier`` {multiplier, asset_number?}: every register of the meter × the right
  multiplier instead of the recorded one (第八十一条(3));
* ``wrong_tariff`` {tariff, category?}: rated on the right tariff;
* ``wiring_correction`` {correction_rate}: active energy × (1 + 更正率), e.g. one phase current
  reversed on a three-phase four-wire meter: 更正率 200 % -> × 3 (第八十一条(1));
* ``missed_reactive`` {reactive_kvarh: {period: kvarh}}: the reactive read supplied, so the power
  factor and its adjustment are recomputed;
* ``meter_error`` {error_percent, time_share?}: a meter that ran fast (+) or slow (−) by e %:
  true = recorded / (1 + e); the difference is taken for ``time_share`` (default ½: 第八十条(1));
* ``stopped_meter`` {reference_kwh: {period: kWh}}: the period's energy replaced by the normal-
  month reference (第八十条(3)), spread over the registers as recorded (flat/total if none).
* ``unauthorised_capacity`` (私增容量) is priced by capacity.unauthorised_capacity_lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import polars as pl

from gridcare.core.errors import ValidationFailed
from gridcare.parameters.config import ParametersConfig
from gridcare.parameters.engine import rate_with_parameters
from gridcare.rating import ScheduleSet
from gridcare.rating.model import BUCKET_ZH, BUCKETS

ENERGY_REGISTERS = ("total", *BUCKETS)
KINDS = ("wrong_multiplier", "wrong_tariff", "wiring_correction", "missed_reactive", "meter_error",
         "stopped_meter", "unauthorised_capacity")
_Q3 = Decimal("0.001")


class BackBillingInvalid(ValidationFailed):
    code = "backbilling_invalid"


@dataclass(frozen=True)
class OriginalBill:
    """An issued bill as billing stored it: what it charged (lines) and the reads it used."""

    bill_id: int
    number: str
    period_code: str
    start_date: date
    end_date: date
    tariff: str
    total_fen: int
    energy_wh: int
    lines: pl.DataFrame  # line_no, component, line_code, quantity (Decimal), unit, unit_price, amount_fen
    reads: pl.DataFrame  # segment, asset_number, register, multiplier (str), advance_milli


@dataclass(frozen=True)
class AccountFacts:
    """The account attributes the kernel needs (accounts frame row), as they were billed."""

    account_id: int
    category: str | None = None
    household_members: int | None = None
    capacity_va: int = 0
    contract_demand_w: int | None = None
    basic_basis: str | None = None


@dataclass(frozen=True)
class Correction:
    kind: str
    multiplier: Decimal | None = None
    asset_number: str | None = None
    tariff: str | None = None
    category: str | None = None
    correction_rate: Decimal | None = None
    reactive_wh: Mapping[str, int] = field(default_factory=dict)  # period -> varh
    error: Decimal | None = None  # fraction, +0.05 = 5 % fast
    time_share: Decimal | None = None
    reference_wh: Mapping[str, int] = field(default_factory=dict)  # period -> Wh
    added_kva: Decimal | None = None
    months: int | None = None
    basic_price: Decimal | None = None


@dataclass(frozen=True)
class PeriodOutcome:
    period_code: str
    bill_number: str
    start_date: date
    end_date: date
    tariff: str  # the tariff the corrected figures were rated on
    original_fen: int
    recomputed_fen: int  # the original inputs re-rated today: equal to original_fen when reproduced
    corrected_fen: int
    original_wh: int
    corrected_wh: int

    @property
    def reproduced(self) -> bool:
        return self.original_fen == self.recomputed_fen

    @property
    def difference_fen(self) -> int:
        return self.corrected_fen - self.original_fen

    def as_dict(self) -> dict[str, Any]:
        return {"period_code": self.period_code, "bill_number": self.bill_number,
                "start_date": self.start_date.isoformat(), "end_date": self.end_date.isoformat(),
                "tariff": self.tariff, "original_fen": self.original_fen,
                "recomputed_fen": self.recomputed_fen, "corrected_fen": self.corrected_fen,
                "difference_fen": self.difference_fen, "original_wh": self.original_wh,
                "corrected_wh": self.corrected_wh, "reproduced": self.reproduced}


@dataclass(frozen=True)
class BackBillingResult:
    lines: list[dict[str, Any]]  # one per (period, line_code, unit) that changed
    periods: list[PeriodOutcome]
    total_fen: int
    energy_wh: int


def _dec(value: Any, field_name: str) -> Decimal:
    if isinstance(value, bool | float) or value is None:
        raise BackBillingInvalid(f"{field_name} must be a number written as text, got {value!r}", field=field_name)
    try:
        out = Decimal(str(value).strip())
    except InvalidOperation:
        raise BackBillingInvalid(f"{field_name}: {value!r} is not a number", field=field_name) from None
    if not out.is_finite():
        raise BackBillingInvalid(f"{field_name}: {value!r} is not a number", field=field_name)
    return out


def _per_period_wh(data: Any, field_name: str, periods: list[str]) -> dict[str, int]:
    if not isinstance(data, Mapping):
        raise BackBillingInvalid(f"{field_name} must map each period (YYYY-MM) to a quantity", field=field_name)
    out = {}
    for period in periods:
        if period not in data:
            raise BackBillingInvalid(f"{field_name}: no value for period {period}", field=f"{field_name}.{period}")
        value = _dec(data[period], f"{field_name}.{period}")
        if value < 0 or (value * 1000) != (value * 1000).to_integral_value():
            raise BackBillingInvalid(f"{field_name}.{period} must be ≥ 0 with at most 3 decimal places",
                                     field=f"{field_name}.{period}")
        out[period] = int(value * 1000)
    extra = sorted(set(data) - set(periods))
    if extra:
        raise BackBillingInvalid(f"{field_name}: period {extra[0]} is not one of the case's periods",
                                 field=f"{field_name}.{extra[0]}")
    return out


def parse_correction(kind: str, data: Any, *, periods: list[str], config: ParametersConfig,
                     tariffs: set[str] | None = None) -> Correction:
    """Validate a case's correction inputs; errors name the field."""
    if kind not in KINDS:
        raise BackBillingInvalid(f"kind must be one of {list(KINDS)}, got {kind!r}", field="kind")
    if not isinstance(data, Mapping):
        raise BackBillingInvalid("correction must be an object", field="correction")
    allowed = {
        "wrong_multiplier": {"multiplier", "asset_number"}, "wrong_tariff": {"tariff", "category"},
        "wiring_correction": {"correction_rate"}, "missed_reactive": {"reactive_kvarh"},
        "meter_error": {"error_percent", "time_share"}, "stopped_meter": {"reference_kwh"},
        "unauthorised_capacity": {"added_kva", "months", "basic_price"},
    }[kind]
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BackBillingInvalid(f"correction: unknown key(s) {unknown} for {kind}; expected {sorted(allowed)}",
                                 field=f"correction.{unknown[0]}")
    if kind == "wrong_multiplier":
        m = _dec(data.get("multiplier"), "correction.multiplier")
        if m <= 0 or m != m.quantize(Decimal("0.01")):
            raise BackBillingInvalid("correction.multiplier must be > 0 with at most 2 decimal places",
                                     field="correction.multiplier")
        asset = data.get("asset_number") or None
        return Correction(kind, multiplier=m, asset_number=str(asset) if asset else None)
    if kind == "wrong_tariff":
        code = data.get("tariff")
        if not isinstance(code, str) or not code:
            raise BackBillingInvalid("correction.tariff is required", field="correction.tariff")
        if tariffs is not None and code not in tariffs:
            raise BackBillingInvalid(f"correction.tariff: unknown tariff {code!r}", field="correction.tariff")
        return Correction(kind, tariff=code, category=data.get("category") or None)
    if kind == "wiring_correction":
        rate = _dec(data.get("correction_rate"), "correction.correction_rate")
        if rate <= -1 or rate == 0:
            raise BackBillingInvalid("correction.correction_rate (更正率, 2.00 = 200 %) must be greater than −1 and "
                                     "not 0", field="correction.correction_rate")
        return Correction(kind, correction_rate=rate)
    if kind == "missed_reactive":
        return Correction(kind, reactive_wh=_per_period_wh(data.get("reactive_kvarh"), "correction.reactive_kvarh",
                                                            periods))
    if kind == "meter_error":
        pct = _dec(data.get("error_percent"), "correction.error_percent")
        if pct <= -100 or pct == 0:
            raise BackBillingInvalid("correction.error_percent must be greater than −100 and not 0 (a stopped meter "
                                     "is the stopped_meter kind)", field="correction.error_percent")
        share = config.meter_error_time_share if data.get("time_share") in (None, "") else _dec(
            data.get("time_share"), "correction.time_share")
        if not Decimal(0) < share <= Decimal(1):
            raise BackBillingInvalid("correction.time_share must be in (0, 1]", field="correction.time_share")
        return Correction(kind, error=pct / 100, time_share=share)
    if kind == "stopped_meter":
        return Correction(kind, reference_wh=_per_period_wh(data.get("reference_kwh"), "correction.reference_kwh",
                                                             periods))
    kva = _dec(data.get("added_kva"), "correction.added_kva")
    if kva <= 0:
        raise BackBillingInvalid("correction.added_kva must be greater than 0", field="correction.added_kva")
    months = data.get("months")
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise BackBillingInvalid("correction.months (使用月数) must be a whole number ≥ 1", field="correction.months")
    price = None if data.get("basic_price") in (None, "") else _dec(data.get("basic_price"), "correction.basic_price")
    return Correction(kind, added_kva=kva, months=months, basic_price=price)


def _centi(text: str | Decimal) -> int:
    return int(Decimal(str(text)) * 100)


def _registers(bill: OriginalBill, correction: Correction | None, schedules: ScheduleSet, tariff: str) -> dict:
    """Kernel usage columns (one pooled row) from the bill's reads, with the correction applied."""
    reads = bill.reads
    energy: dict[str, int] = {}
    reactive: int | None = None
    demand: int | None = None
    for row in reads.iter_rows(named=True):
        mult = row["multiplier"]
        if (correction is not None and correction.kind == "wrong_multiplier"
                and (correction.asset_number is None or correction.asset_number == row["asset_number"])):
            mult = correction.multiplier
        wh = (int(row["advance_milli"]) * _centi(mult) + 50) // 100
        reg = row["register"]
        if reg in ENERGY_REGISTERS:
            energy[reg] = energy.get(reg, 0) + wh
        elif reg == "reactive":
            reactive = (reactive or 0) + wh
        elif reg == "demand":
            demand = wh if demand is None else max(demand, wh)
    if correction is not None and correction.kind in ("wiring_correction", "meter_error"):
        for reg, wh in energy.items():
            if correction.kind == "wiring_correction":
                new = Decimal(wh) * (1 + correction.correction_rate)
            else:
                true = Decimal(wh) / (1 + correction.error)
                new = Decimal(wh) + (true - Decimal(wh)) * correction.time_share
            energy[reg] = int(new.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if correction is not None and correction.kind == "stopped_meter":
        energy = _spread_reference(energy, correction.reference_wh[bill.period_code])
    if correction is not None and correction.kind == "missed_reactive":
        reactive = correction.reactive_wh[bill.period_code]
    buckets = {r: w for r, w in energy.items() if r != "total"}
    is_tou = any(s.tou is not None for s in schedules.in_force(tariff, bill.start_date, bill.end_date))
    row: dict[str, Any] = {"account_id": 1, "reactive_varh": reactive, "max_demand_w": demand}
    if is_tou and buckets:
        row.update({f"{b}_wh": buckets.get(b, 0) for b in BUCKETS if b in buckets or b == "flat"})
    else:
        row["total_wh"] = energy["total"] if "total" in energy else sum(buckets.values())
    return row


def _spread_reference(energy: dict[str, int], reference: int) -> dict[str, int]:
    """The reference energy over the recorded registers in proportion (largest remainder)."""
    buckets = {r: w for r, w in energy.items() if r != "total"}
    if not buckets:
        return {"total": reference}
    total = sum(buckets.values())
    if total == 0:
        return {**dict.fromkeys(buckets, 0), "flat": reference}
    raw = {r: Decimal(reference) * w / total for r, w in buckets.items()}
    out = {r: int(v) for r, v in raw.items()}
    left = reference - sum(out.values())
    for r in sorted(raw, key=lambda k: (-(raw[k] - int(raw[k])), k))[:left]:
        out[r] += 1
    if "total" in energy:
        out["total"] = reference
    return out


def _accounts_row(facts: AccountFacts, tariff: str, category: str | None) -> pl.DataFrame:
    return pl.DataFrame({
        "account_id": [1], "tariff": [tariff], "category": [category],
        "household_members": [facts.household_members], "capacity_va": [facts.capacity_va],
        "contract_demand_w": [facts.contract_demand_w], "basic_basis": [facts.basic_basis],
    }, schema={"account_id": pl.Int64, "tariff": pl.String, "category": pl.String, "household_members": pl.Int32,
               "capacity_va": pl.Int64, "contract_demand_w": pl.Int64, "basic_basis": pl.String})


def _usage_frame(row: dict) -> pl.DataFrame:
    cols = ["account_id", "total_wh", *[f"{b}_wh" for b in BUCKETS], "reactive_varh", "max_demand_w"]
    return pl.DataFrame({c: [row.get(c)] for c in cols}, schema=dict.fromkeys(cols, pl.Int64))


def _rate(bill: OriginalBill, facts: AccountFacts, tariff: str, category: str | None, usage_row: dict,
          schedules: ScheduleSet, params: pl.DataFrame | None, config: ParametersConfig) -> tuple[pl.DataFrame, int]:
    if params is not None and params.height:
        params = params.filter(pl.col("account_id") == facts.account_id).with_columns(
            pl.lit(1, dtype=pl.Int64).alias("account_id"))
    rated = rate_with_parameters(_accounts_row(facts, tariff, category), _usage_frame(usage_row), params, schedules,
                                 bill.start_date, bill.end_date, config=config).result
    if rated.rejected.height:
        fld, reason = rated.rejected.row(0)[1:]
        raise BackBillingInvalid(f"period {bill.period_code} cannot be re-rated: {fld}: {reason}", field="correction")
    return rated.lines, int(rated.totals["billed_wh"].sum())


def _aggregate(lines: pl.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in lines.sort("line_no").iter_rows(named=True):
        key = (row["line_code"], row["unit"])
        item = out.setdefault(key, {"component": row["component"], "quantity": Decimal(0), "amount_fen": 0,
                                    "unit_price": None, "rule": row.get("rule") or ""})
        item["quantity"] += Decimal(row["quantity"])
        item["amount_fen"] += int(row["amount_fen"])
        item["unit_price"] = row["unit_price"]
    return out


_PART_ZH = {"capacity": "容量", "demand": "需量", "combined": "合表", "adjustment": "功率因数调整",
            "fixed": "定额", "percent": "按比例", "reactive": "无功"}


def _item_zh(schedules: ScheduleSet, tariff: str, bill: OriginalBill, line_code: str) -> str:
    """The bill item's Chinese name (电度电费（高峰）, 第二档, a fund's name) from the tariff in force,
    so the Chinese explanation names the item rather than its line code."""
    comp_id, _, part = line_code.partition(".")
    for sched in reversed(schedules.in_force(tariff, bill.start_date, bill.end_date)):
        comp = next((c for c in sched.components if c.id == comp_id), None)
        if comp is None:
            continue
        item = next((i for i in getattr(comp, "items", ()) if i.code == part), None)
        if item is not None:
            return item.label_zh
        tier = part.removeprefix("tier").removesuffix("_adder")
        if part.startswith("tier") and tier.isdigit():
            return f"{comp.label_zh}（第{tier}档{'加价' if part.endswith('_adder') else ''}）"
        extra = BUCKET_ZH.get(part) or _PART_ZH.get(part)
        return f"{comp.label_zh}（{extra}）" if extra else comp.label_zh
    return line_code


def _fmt(q: Decimal) -> str:
    return f"{q.quantize(_Q3).normalize():f}"


def recompute(*, originals: list[OriginalBill], facts: AccountFacts, correction: Correction,
              schedules: ScheduleSet, config: ParametersConfig,
              params_by_period: Mapping[str, pl.DataFrame] | None = None) -> BackBillingResult:
    """Re-rate each original bill with and without the correction; lines are corrected − original
    per (period, line code, unit), against the issued bill's own lines."""
    if correction.kind == "unauthorised_capacity":
        raise BackBillingInvalid("unauthorised capacity is priced, not re-rated", field="kind")
    out_lines: list[dict[str, Any]] = []
    periods: list[PeriodOutcome] = []
    for bill in sorted(originals, key=lambda b: b.period_code):
        params = (params_by_period or {}).get(bill.period_code)
        tariff = correction.tariff if correction.kind == "wrong_tariff" else bill.tariff
        category = correction.category if correction.kind == "wrong_tariff" and correction.category else facts.category
        original_usage = _registers(bill, None, schedules, bill.tariff)
        recomputed, _ = _rate(bill, facts, bill.tariff, facts.category, original_usage, schedules, params, config)
        corrected_usage = _registers(bill, correction, schedules, tariff)
        corrected, corrected_wh = _rate(bill, facts, tariff, category, corrected_usage, schedules, params, config)
        before = _aggregate(bill.lines)
        after = _aggregate(corrected)
        for key in list(before) + [k for k in after if k not in before]:
            empty_item = {"quantity": Decimal(0), "amount_fen": 0, "unit_price": None, "rule": ""}
            b = before.get(key) or {**empty_item, "component": after[key]["component"]}
            a = after.get(key) or {**empty_item, "component": b["component"], "rule": b["rule"]}
            dq, da = a["quantity"] - b["quantity"], a["amount_fen"] - b["amount_fen"]
            if dq == 0 and da == 0:
                continue
            line_code, unit = key
            out_lines.append({
                "period_code": bill.period_code, "original_bill_number": bill.number, "component": b["component"],
                "line_code": line_code, "unit": unit, "original_quantity": b["quantity"].quantize(_Q3),
                "original_fen": b["amount_fen"], "corrected_quantity": a["quantity"].quantize(_Q3),
                "corrected_fen": a["amount_fen"], "quantity": dq.quantize(_Q3), "amount_fen": da,
                "unit_price": a["unit_price"] if a["unit_price"] is not None else b["unit_price"],
                "rule": (a["rule"] or b["rule"] or "")[:255],
                "explanation_zh": (f"{bill.period_code} 原账单 {bill.number} "
                                   f"{_item_zh(schedules, tariff if key in after else bill.tariff, bill, line_code)}：原 {_fmt(b['quantity'])} {unit} "
                                   f"{Decimal(b['amount_fen']) / 100:.2f} 元 → 更正 {_fmt(a['quantity'])} {unit} "
                                   f"{Decimal(a['amount_fen']) / 100:.2f} 元，退补 {Decimal(da) / 100:+.2f} 元")[:255],
                "explanation_en": (f"{bill.period_code} bill {bill.number} {line_code}: was {_fmt(b['quantity'])} {unit} "
                                   f"{Decimal(b['amount_fen']) / 100:.2f} yuan, corrected {_fmt(a['quantity'])} {unit} "
                                   f"{Decimal(a['amount_fen']) / 100:.2f} yuan, difference "
                                   f"{Decimal(da) / 100:+.2f} yuan")[:255],
            })
        periods.append(PeriodOutcome(
            period_code=bill.period_code, bill_number=bill.number, start_date=bill.start_date,
            end_date=bill.end_date, tariff=tariff, original_fen=bill.total_fen,
            recomputed_fen=int(recomputed["amount_fen"].sum()), corrected_fen=int(corrected["amount_fen"].sum()),
            original_wh=bill.energy_wh, corrected_wh=corrected_wh,
        ))
    total = sum(p.difference_fen for p in periods)
    assert total == sum(line["amount_fen"] for line in out_lines)
    return BackBillingResult(lines=out_lines, periods=periods, total_fen=total,
                             energy_wh=sum(p.corrected_wh - p.original_wh for p in periods))


def unauthorised_capacity_result(*, correction: Correction, period_code: str, tariff: str, as_of_day: date,
                                 schedules: ScheduleSet, config: ParametersConfig) -> BackBillingResult:
    """私增容量: back basic charge and penalty for two-part tariffs (the capacity price from the tariff
    in force, unless the case gives one), the per-kVA penalty otherwise."""
    from gridcare.parameters.capacity import unauthorised_capacity_lines

    price = correction.basic_price
    two_part = False
    for s in schedules.in_force(tariff, as_of_day, as_of_day + timedelta(days=1)):
        for comp in s.components:
            if comp.kind == "basic":
                two_part = True
                if price is None:
                    price = getattr(comp, "capacity_price", None)
    if two_part and price is None:
        raise BackBillingInvalid("the tariff has no capacity price; give correction.basic_price",
                                 field="correction.basic_price")
    raw = unauthorised_capacity_lines(added_kva=correction.added_kva, months=correction.months, basic_price=price,
                                      two_part=two_part, config=config)
    lines = []
    for item in raw:
        lines.append({
            "period_code": period_code, "original_bill_number": "", "component": item["component"],
            "line_code": item["line_code"], "unit": item["unit"], "original_quantity": Decimal(0), "original_fen": 0,
            "corrected_quantity": Decimal(item["quantity"]).quantize(_Q3), "corrected_fen": item["amount_fen"],
            "quantity": Decimal(item["quantity"]).quantize(_Q3), "amount_fen": item["amount_fen"],
            "unit_price": item["unit_price"], "rule": item["rule"][:255],
            "explanation_zh": item["explanation_zh"][:255], "explanation_en": item["explanation_en"][:255],
        })
    total = sum(line["amount_fen"] for line in lines)
    return BackBillingResult(lines=lines, periods=[], total_fen=total, energy_wh=0)

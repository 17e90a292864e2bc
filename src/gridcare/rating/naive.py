"""A deliberately naive, per-account, pure-Python ``Decimal`` rater: the kernel's independent oracle.

The benchmark measures the vectorised kernel against it, and property tests check that both agree
to the fen on random inputs. It rates one account for a whole period under one tariff version and
one meter segment, written the way a billing clerk reads the rules: losses, energy (flat, TOU,
tiers with prices or adders, seasons, household allowance, 合表, annual cycles), basic charge
(capacity with suspension, contract demand with the 105 % rule and the 40 % floor, actual demand),
power-factor adjustment (cos φ through ``Decimal.sqrt``, the table, the base of basic + energy) and
funds. It shares no code with the kernel beyond the schedule model and the rounding-mode names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from gridcare.core.money import rounding_mode
from gridcare.rating.model import (
    BUCKETS,
    BasicComponent,
    EnergyComponent,
    FundsComponent,
    LossComponent,
    PowerFactorComponent,
    Schedule,
)

KWH = Decimal(1000)


@dataclass(frozen=True)
class NaiveAccount:
    account_id: int
    buckets_wh: dict[str, int]  # bucket → Wh (non-TOU tariffs: put everything in "flat")
    household_members: int | None = None
    households: int = 1
    combined_meter: bool = False
    category: str | None = None
    ytd_wh: int = 0
    capacity_va: int = 0
    contract_demand_w: int | None = None
    basic_basis: str | None = None
    max_demand_w: int | None = None
    reactive_varh: int | None = None
    reverse_reactive_varh: int = 0
    pf_standard: str | None = None
    exemptions: tuple[str, ...] = ()
    suspended_va: int = 0
    transformer_loss_wh: int = 0
    transformer_loss_varh: int = 0
    loss_ppm: int = 0
    reactive_loss_ppm: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def _fen(yuan: Decimal, mode: str) -> int:
    return int((yuan * 100).quantize(Decimal(1), rounding=rounding_mode(mode)))


def _round_to(value: Decimal, unit: Decimal, mode: str) -> Decimal:
    return (value / unit).quantize(Decimal(1), rounding=rounding_mode(mode)) * unit


def _thresholds(comp: EnergyComponent, month: int, acct: NaiveAccount) -> list[Decimal]:
    opts = comp.tier_options
    bounds = [t.upto_kwh for t in comp.tiers[:-1]]
    for season in opts.seasons:
        if month in season.months:
            bounds = list(season.upto_kwh)
    out = []
    for j, b in enumerate(bounds):
        value = Decimal(b)
        a = opts.household_allowance
        if a is not None and (acct.household_members or 0) >= a.min_members:
            value += a.extra_kwh[j] if a.extra_kwh else 0
            if a.per_extra_member_kwh:
                value += (acct.household_members - a.min_members) * a.per_extra_member_kwh[j]
        value *= acct.households
        if out and value < out[-1]:
            value = out[-1]
        out.append(value)
    return out


def _losses(schedule: Schedule, comp: LossComponent, acct: NaiveAccount) -> tuple[dict[str, Decimal], Decimal,
                                                                                  list[tuple[str, int]]]:
    """Billed kWh per bucket and reactive loss kvarh, for a segment covering the whole period."""
    step = schedule.rounding["loss_quantity"]
    unit = step.places or Decimal("0.001")
    metered = {b: Decimal(acct.buckets_wh.get(b, 0)) / KWH for b in BUCKETS}
    total = sum(metered.values(), Decimal(0))
    fixed = _round_to(Decimal(acct.transformer_loss_wh) / KWH, unit, step.mode)
    share = _round_to(total * acct.loss_ppm / 1_000_000, unit, step.mode)
    q = Decimal((acct.reactive_varh or 0) + acct.reverse_reactive_varh) / KWH  # the quantity PF uses
    reactive = _round_to(Decimal(acct.transformer_loss_varh) / KWH, unit, step.mode) + _round_to(
        q * acct.reactive_loss_ppm / 1_000_000, unit, step.mode)
    loss = fixed + share
    billed = dict(metered)
    if comp.tou_allocation == "flat" or total == 0:
        billed["flat"] += loss
    else:
        before = Decimal(0)
        running = Decimal(0)
        for b in BUCKETS:  # cumulative shares, each rounded to the Wh, so they add up to the loss
            running += metered[b]
            upto = (loss * running / total).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
            billed[b] += upto - before
            before = upto
    info = [(f"{comp.id}.fixed", 0)] if fixed else []
    info += [(f"{comp.id}.percent", 0)] if share else []
    info += [(f"{comp.id}.reactive", 0)] if reactive else []
    return billed, reactive, info


def _basic(schedule: Schedule, comp: BasicComponent, acct: NaiveAccount, mode: str) -> list[tuple[str, int]]:
    if comp.id in acct.exemptions:
        return []
    basis = acct.basic_basis or comp.default_basis
    if basis == "capacity":
        kva = Decimal(max(acct.capacity_va - acct.suspended_va, 0)) / KWH
        amount = _fen(kva * comp.capacity_price, mode)
        return [(f"{comp.id}.capacity", amount)] if kva or amount else []
    rule = comp.demand
    dmode = schedule.rounding["billable_demand"].mode
    capacity = Decimal(acct.capacity_va) / KWH
    floor = (capacity * (rule.floor_ratio or 0)).quantize(Decimal("0.001"), rounding=rounding_mode(dmode))
    actual = Decimal(acct.max_demand_w or 0) / KWH
    if rule.basis == "actual":
        kw = max(actual, floor)
    else:
        contract = max(Decimal(acct.contract_demand_w or 0) / KWH, floor)
        threshold = contract * rule.threshold_ratio
        if actual <= threshold:
            kw = contract
        else:
            if rule.over_formula == "threshold_plus_double_excess":
                kw = threshold + rule.excess_multiplier * (actual - threshold)
            elif rule.over_formula == "contract_plus_double_excess":
                kw = contract + rule.excess_multiplier * (actual - threshold)
            else:
                kw = contract + rule.excess_multiplier * (actual - contract)
            kw = kw.quantize(Decimal("0.001"), rounding=rounding_mode(dmode))
    amount = _fen(kw * comp.demand_price, mode)
    return [(f"{comp.id}.demand", amount)] if kw or amount else []


def _cos_phi(p_kwh: Decimal, q_kvarh: Decimal, mode: str) -> Decimal | None:
    if p_kwh == 0 and q_kvarh == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        cos = p_kwh / (p_kwh * p_kwh + q_kvarh * q_kvarh).sqrt()
    return cos.quantize(Decimal("0.01"), rounding=rounding_mode(mode))


def naive_rate(schedule: Schedule, acct: NaiveAccount, period_start: date) -> list[tuple[str, int]]:
    """Lines ``(line_code, amount_fen)`` of one account, each rounded once, like a clerk would.
    Quantity-only loss lines appear with amount 0."""
    mode = schedule.rounding["line_amount"].mode
    lines: list[tuple[str, int]] = []
    loss = next((c for c in schedule.components if isinstance(c, LossComponent)), None)
    metered = {b: Decimal(acct.buckets_wh.get(b, 0)) / KWH for b in BUCKETS}
    reactive_loss = Decimal(0)
    if loss is not None:
        billed, reactive_loss, info = _losses(schedule, loss, acct)
        lines += info
    else:
        billed = metered
    pf_comp: PowerFactorComponent | None = None
    for comp in schedule.components:
        if isinstance(comp, EnergyComponent):
            if acct.category in comp.exempt_categories or comp.id in acct.exemptions:
                continue
            buckets = billed if comp.includes_losses else metered
            total = sum(buckets.values(), Decimal(0))
            opts = comp.tier_options
            if comp.tiers and acct.combined_meter and opts.combined_meter_mode == "flat_price" and opts.combined_meter_price is not None:
                if total:
                    lines.append((f"{comp.id}.combined", _fen(total * opts.combined_meter_price, mode)))
                continue
            if comp.tou_prices is not None:
                for b in BUCKETS:
                    if b in comp.tou_prices and buckets[b]:
                        lines.append((f"{comp.id}.{b}", _fen(buckets[b] * comp.tou_prices[b], mode)))
            if comp.tiers:
                bounds = _thresholds(comp, period_start.month, acct)
                start = Decimal(acct.ytd_wh) / KWH if opts.cycle == "annual" else Decimal(0)
                end = start + total
                lo = Decimal(0)
                for i, tier in enumerate(comp.tiers):
                    hi = bounds[i] if i < len(bounds) else None
                    top = end if hi is None else min(end, hi)
                    bottom = max(start, lo)
                    qty = top - bottom if top > bottom else Decimal(0)
                    price = tier.price if tier.price is not None else tier.adder
                    if qty and price:
                        suffix = "" if tier.price is not None else "_adder"
                        lines.append((f"{comp.id}.tier{i + 1}{suffix}", _fen(qty * price, mode)))
                    if hi is not None:
                        lo = hi
            elif comp.tou_prices is None and comp.price is not None and total:
                lines.append((comp.id, _fen(total * comp.price, mode)))
        elif isinstance(comp, BasicComponent):
            lines += _basic(schedule, comp, acct, mode)
        elif isinstance(comp, PowerFactorComponent):
            pf_comp = comp
        elif isinstance(comp, FundsComponent):
            if comp.id in acct.exemptions:
                continue
            total = sum(billed.values(), Decimal(0))
            for item in comp.items:
                if acct.category in item.exempt_categories or f"{comp.id}.{item.code}" in acct.exemptions:
                    continue
                rate = item.category_rates.get(acct.category or "", item.rate)
                if total and rate:
                    lines.append((f"{comp.id}.{item.code}", _fen(total * rate, mode)))
    if pf_comp is not None and pf_comp.table is not None:
        standard = acct.pf_standard or pf_comp.default_standard
        eligible = (
            standard not in (None, "none")
            and pf_comp.id not in acct.exemptions
            and "pf" not in acct.exemptions
            and Decimal(acct.capacity_va) / KWH >= pf_comp.min_capacity_kva
        )
        if eligible:
            p = sum(billed.values(), Decimal(0))
            q = Decimal((acct.reactive_varh or 0) + acct.reverse_reactive_varh) / KWH + reactive_loss
            cos = _cos_phi(p, q, schedule.rounding["cos_phi"].mode)
            if cos is not None:
                rate = pf_comp.table.percent(standard, cos) / 100
                base = sum(a for code, a in lines if code.split(".")[0] in pf_comp.applies_to)
                amount = _fen(Decimal(base) / 100 * rate, schedule.rounding["pf_amount"].mode)
                if base or amount:
                    lines.append((f"{pf_comp.id}.adjustment", amount))
    return lines


def naive_total(schedule: Schedule, acct: NaiveAccount, period_start: date) -> int:
    return sum(amount for _, amount in naive_rate(schedule, acct, period_start))


__all__ = ["NaiveAccount", "naive_rate", "naive_total"]

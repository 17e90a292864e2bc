"""A deliberately naive, per-account, pure-Python ``Decimal`` rater: the kernel's independent oracle.

The benchmark measures the vectorised kernel against it, and property tests check that both agree
to the fen on random inputs. It rates one account for a whole period under one tariff version and
one meter segment, written the way a billing clerk reads the rules: losses, energy (flat, TOU,
tiers with prices or adders, seasons, household allowance, 合表, annual cycles), basic charge
(capacity with suspension, contract demand with the 105 % rule and the 40 % floor, actual demand),
power-factor adjustment (cos φ through ``Decimal.sqrt``, the table, the base of basic + energy) and
funds. It shares no code with the kernel beyond the schedule model and the rounding-mode names.

It writes whole bill lines, as the kernel's output contract asks (code, component, quantity, unit,
unit price, amount, rule and the zh-Hans / English explanations), so the benchmark compares two
implementations of the same job and the tests check every column, not only the amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import NamedTuple

from gridcare.core.money import rounding_mode
from gridcare.rating.model import (
    BUCKET_EN,
    BUCKET_ZH,
    BUCKETS,
    BasicComponent,
    EnergyComponent,
    FundsComponent,
    LossComponent,
    PowerFactorComponent,
    Schedule,
)

KWH = Decimal(1000)
TIER_ZH = "零一二三四五六七八九十"


class NaiveLine(NamedTuple):
    line_code: str
    component: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount_fen: int
    rule: str
    explanation_zh: str
    explanation_en: str


def _t(value: Decimal) -> str:
    """A quantity or price as a clerk writes it: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _energy_line(code: str, comp_id: str, qty: Decimal, price: Decimal, amount: int, rule: str, zh: str, en: str,
                 explain: bool, price_text: str | None = None) -> NaiveLine:
    if not explain:
        return NaiveLine(code, comp_id, qty, "kWh", price, amount, rule, None, None)  # type: ignore[arg-type]
    q = _t(qty)
    p = format(price, "f") if price_text is None else price_text
    return NaiveLine(code, comp_id, qty, "kWh", price, amount, rule, f"{zh}{q} kWh × {p} 元/kWh", f"{en}{q} kWh × {p} yuan/kWh")


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


def _losses(schedule: Schedule, comp: LossComponent, acct: NaiveAccount, period_days: int
            ) -> tuple[dict[str, Decimal], Decimal, list[NaiveLine]]:
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
    info = []
    zero = Decimal(0)
    if fixed:
        days = f"{period_days}/{period_days}"
        mon = _t(Decimal(acct.transformer_loss_wh) / KWH)
        info.append(NaiveLine(f"{comp.id}.fixed", comp.id, fixed, "kWh", zero, 0, comp.rule,
                              f"{comp.label_zh}（定额）{mon} kWh × {days} 天 = {_t(fixed)} kWh",
                              f"{comp.label_en} (fixed) {mon} kWh × {days} days = {_t(fixed)} kWh"))
    if share:
        info.append(NaiveLine(f"{comp.id}.percent", comp.id, share, "kWh", zero, 0, comp.rule,
                              f"{comp.label_zh}（按比例）{_t(total)} kWh × {acct.loss_ppm} ppm = {_t(share)} kWh",
                              f"{comp.label_en} (share) {_t(total)} kWh × {acct.loss_ppm} ppm = {_t(share)} kWh"))
    if reactive:
        info.append(NaiveLine(f"{comp.id}.reactive", comp.id, reactive, "kvarh", zero, 0, comp.rule,
                              f"无功{comp.label_zh} {_t(reactive)} kvarh（计入功率因数）",
                              f"Reactive {comp.label_en} {_t(reactive)} kvarh (counts towards power factor)"))
    return billed, reactive, info


def _basic(schedule: Schedule, comp: BasicComponent, acct: NaiveAccount, mode: str) -> list[NaiveLine]:
    if comp.id in acct.exemptions:
        return []
    basis = acct.basic_basis or comp.default_basis
    if basis == "capacity":
        kva = Decimal(max(acct.capacity_va - acct.suspended_va, 0)) / KWH
        amount = _fen(kva * comp.capacity_price, mode)
        if not (kva or amount):
            return []
        price = format(comp.capacity_price, "f")
        zh = f"{comp.label_zh}（容量）{_t(kva)} kVA × {price} 元/kVA·月"
        en = f"{comp.label_en} (capacity) {_t(kva)} kVA × {price} yuan/kVA·month"
        if acct.suspended_va > 0:
            sealed = _t(Decimal(acct.suspended_va) / KWH)
            zh += f"（暂停 {sealed} kVA 不计）"
            en += f" ({sealed} kVA suspended, not charged)"
        return [NaiveLine(f"{comp.id}.capacity", comp.id, kva, "kVA·月", comp.capacity_price, amount, comp.rule, zh, en)]
    rule = comp.demand
    dmode = schedule.rounding["billable_demand"].mode
    capacity = Decimal(acct.capacity_va) / KWH
    floor = (capacity * (rule.floor_ratio or 0)).quantize(Decimal("0.001"), rounding=rounding_mode(dmode))
    actual = Decimal(acct.max_demand_w or 0) / KWH
    if rule.basis == "actual":
        kw = max(actual, floor)
        detail_zh, detail_en = f"（实际最大需量 {_t(actual)} kW）", f" (actual maximum demand {_t(actual)} kW)"
    else:
        contract = max(Decimal(acct.contract_demand_w or 0) / KWH, floor)
        threshold = contract * rule.threshold_ratio
        detail_zh = f"（合同 {_t(contract)} kW，实际 {_t(actual)} kW）"
        detail_en = f" (contract {_t(contract)} kW, actual {_t(actual)} kW)"
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
            ratio = format((rule.threshold_ratio * 100).normalize(), "f")
            times = "倍" if rule.excess_multiplier == 2 else f"{format(rule.excess_multiplier, 'f')}倍"
            detail_zh = f"（合同 {_t(contract)} kW，实际 {_t(actual)} kW，超过 {ratio}% 部分加{times}）"
            detail_en = (f" (contract {_t(contract)} kW, actual {_t(actual)} kW; excess over {ratio}% charged "
                         f"×{format(rule.excess_multiplier, 'f')})")
    amount = _fen(kw * comp.demand_price, mode)
    if not (kw or amount):
        return []
    price = format(comp.demand_price, "f")
    return [NaiveLine(f"{comp.id}.demand", comp.id, kw, "kW·月", comp.demand_price, amount, comp.rule,
                      f"{comp.label_zh}（需量）{_t(kw)} kW × {price} 元/kW·月{detail_zh}",
                      f"{comp.label_en} (demand) {_t(kw)} kW × {price} yuan/kW·month{detail_en}")]


def _cos_phi(p_kwh: Decimal, q_kvarh: Decimal, mode: str) -> Decimal | None:
    if p_kwh == 0 and q_kvarh == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        cos = p_kwh / (p_kwh * p_kwh + q_kvarh * q_kvarh).sqrt()
    return cos.quantize(Decimal("0.01"), rounding=rounding_mode(mode))


def naive_bill(schedule: Schedule, acct: NaiveAccount, period_start: date, period_end: date | None = None,
               explain: bool = True) -> list[NaiveLine]:
    """Bill lines of one account, each amount rounded once, like a clerk would. Quantity-only loss
    lines have price and amount 0. ``period_end`` defaults to the first day of the next month.
    ``explain=False`` leaves the explanations None, as the kernel's ``explain=False`` does."""
    if period_end is None:
        period_end = date(period_start.year + period_start.month // 12, period_start.month % 12 + 1, 1)
    period_days = (period_end - period_start).days
    mode = schedule.rounding["line_amount"].mode
    lines: list[NaiveLine] = []
    loss = next((c for c in schedule.components if isinstance(c, LossComponent)), None)
    metered = {b: Decimal(acct.buckets_wh.get(b, 0)) / KWH for b in BUCKETS}
    reactive_loss = Decimal(0)
    if loss is not None:
        billed, reactive_loss, info = _losses(schedule, loss, acct, period_days)
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
                    price = opts.combined_meter_price
                    lines.append(_energy_line(f"{comp.id}.combined", comp.id, total, price, _fen(total * price, mode),
                                              comp.rule, *((f"{comp.label_zh}（合表）", f"{comp.label_en} (combined meter) ") if explain else ("", "")), explain))
                continue
            if comp.tou_prices is not None:
                for b in BUCKETS:
                    if b in comp.tou_prices and buckets[b]:
                        price = comp.tou_prices[b]
                        lines.append(_energy_line(f"{comp.id}.{b}", comp.id, buckets[b], price,
                                                  _fen(buckets[b] * price, mode), comp.rule,
                                                  *((f"{comp.label_zh}（{BUCKET_ZH[b]}）", f"{comp.label_en} ({BUCKET_EN[b]}) ") if explain else ("", "")),
                                                  explain))
            if comp.tiers:
                bounds = _thresholds(comp, period_start.month, acct)
                annual = opts.cycle == "annual"
                pre_zh, pre_en = ("年累计", "annual ") if annual else ("", "")
                start = Decimal(acct.ytd_wh) / KWH if annual else Decimal(0)
                end = start + total
                lo = Decimal(0)
                for i, tier in enumerate(comp.tiers):
                    hi = bounds[i] if i < len(bounds) else None
                    top = end if hi is None else min(end, hi)
                    bottom = max(start, lo)
                    qty = top - bottom if top > bottom else Decimal(0)
                    price = tier.price if tier.price is not None else tier.adder
                    if qty and price:
                        code = f"{comp.id}.tier{i + 1}" if tier.price is not None else f"{comp.id}.tier{i + 1}_adder"
                        zh = en = ""
                        if explain:
                            zh = f"第{TIER_ZH[i + 1] if i + 1 <= 10 else i + 1}档"
                            zh, en = (zh, f"Tier {i + 1}") if tier.price is not None else (zh + "加价", f"Tier {i + 1} surcharge")
                            low = _t(bounds[i - 1]) if i > 0 else "0"
                            if hi is not None:
                                zh += f"（{pre_zh}{low}–{_t(hi)} kWh）"
                                en += f" ({pre_en}{low}–{_t(hi)} kWh) "
                            else:
                                zh += f"（{pre_zh}{low} kWh 以上）"
                                en += f" ({pre_en}over {low} kWh) "
                        lines.append(_energy_line(code, comp.id, qty, price, _fen(qty * price, mode), comp.rule, zh, en, explain))
                    if hi is not None:
                        lo = hi
            elif comp.tou_prices is None and comp.price is not None and total:
                lines.append(_energy_line(comp.id, comp.id, total, comp.price, _fen(total * comp.price, mode), comp.rule,
                                          *((f"{comp.label_zh} ", f"{comp.label_en} ") if explain else ("", "")), explain))
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
                    lines.append(_energy_line(f"{comp.id}.{item.code}", comp.id, total, rate, _fen(total * rate, mode),
                                              item.rule or comp.rule, *((f"{item.label_zh} ", f"{item.label_en} ") if explain else ("", "")), explain,
                                              _t(rate) if explain else None))
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
                pct = pf_comp.table.percent(standard, cos)
                rate = pct / 100
                base = sum(ln.amount_fen for ln in lines if ln.component in pf_comp.applies_to)
                amount = _fen(Decimal(base) / 100 * rate, schedule.rounding["pf_amount"].mode)
                if base or amount:
                    pct_text = ("+" if pct > 0 else "") + format(pct.normalize() if pct == pct.to_integral() else pct, "f")
                    base_text = f"{'-' if base < 0 else ''}{abs(base) // 100}.{abs(base) % 100:02d}"
                    lines.append(NaiveLine(
                        f"{pf_comp.id}.adjustment", pf_comp.id, Decimal(base) / 100, "元", rate.quantize(Decimal("1E-8")),
                        amount, pf_comp.rule,
                        f"{pf_comp.label_zh}：功率因数 {cos}（标准 {standard}），调整 {pct_text}%：{base_text} 元 × {pct_text}%",
                        f"{pf_comp.label_en}: power factor {cos} (standard {standard}), adjustment {pct_text}%: "
                        f"{base_text} yuan × {pct_text}%",
                    ))
    if not explain:  # losses, basic charge and PF write their texts inline; drop them here
        return [ln if ln.explanation_zh is None else ln._replace(explanation_zh=None, explanation_en=None) for ln in lines]
    return lines


def naive_rate(schedule: Schedule, acct: NaiveAccount, period_start: date) -> list[tuple[str, int]]:
    """``(line_code, amount_fen)`` of :func:`naive_bill`'s lines."""
    return [(ln.line_code, ln.amount_fen) for ln in naive_bill(schedule, acct, period_start, explain=False)]


def naive_total(schedule: Schedule, acct: NaiveAccount, period_start: date) -> int:
    return sum(amount for _, amount in naive_rate(schedule, acct, period_start))


__all__ = ["NaiveAccount", "NaiveLine", "naive_bill", "naive_rate", "naive_total"]

"""A deliberately naive, per-account, pure-Python ``Decimal`` rater for energy charges.

It exists as an independent oracle: the benchmark measures the vectorised kernel against it, and
property tests check that both agree to the fen. It covers what residential and simple C&I bills
need (flat, TOU, tiers with prices or adders, seasons, household allowance, 合表, annual cycles,
funds) for one account covering a whole period under one tariff version. It shares no code with
the kernel beyond the schedule model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from gridcare.core.money import rounding_mode
from gridcare.rating.model import BUCKETS, EnergyComponent, FundsComponent, Schedule

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


def _fen(yuan: Decimal, mode: str) -> int:
    return int((yuan * 100).quantize(Decimal(1), rounding=rounding_mode(mode)))


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


def naive_rate(schedule: Schedule, acct: NaiveAccount, period_start: date) -> list[tuple[str, int]]:
    """Lines ``(line_code, amount_fen)`` of one account, each rounded once, like a clerk would."""
    mode = schedule.rounding["line_amount"].mode
    lines: list[tuple[str, int]] = []
    total = sum((Decimal(v) for v in acct.buckets_wh.values()), Decimal(0)) / KWH
    for comp in schedule.components:
        if isinstance(comp, EnergyComponent):
            if acct.category in comp.exempt_categories:
                continue
            opts = comp.tier_options
            if comp.tiers and acct.combined_meter and opts.combined_meter_mode == "flat_price" and opts.combined_meter_price is not None:
                if total:
                    lines.append((f"{comp.id}.combined", _fen(total * opts.combined_meter_price, mode)))
                continue
            if comp.tou_prices is not None:
                for b in BUCKETS:
                    if b in comp.tou_prices and acct.buckets_wh.get(b, 0):
                        q = Decimal(acct.buckets_wh[b]) / KWH
                        lines.append((f"{comp.id}.{b}", _fen(q * comp.tou_prices[b], mode)))
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
        elif isinstance(comp, FundsComponent):
            for item in comp.items:
                if acct.category in item.exempt_categories:
                    continue
                rate = item.category_rates.get(acct.category or "", item.rate)
                if total and rate:
                    lines.append((f"{comp.id}.{item.code}", _fen(total * rate, mode)))
    return lines


def naive_total(schedule: Schedule, acct: NaiveAccount, period_start: date) -> int:
    return sum(amount for _, amount in naive_rate(schedule, acct, period_start))


__all__ = ["ROUND_HALF_UP", "NaiveAccount", "naive_rate", "naive_total"]

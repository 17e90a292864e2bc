"""Late-payment fee (电费违约金) arithmetic. Pure: no Django, no clock, no float.

Rule (defaults from 《供电营业规则》1996 第九十八条, see docs/collections.md): every overdue day
accrues `principal × daily rate`, where the principal is what was still owed on the bill at the
start of that day, so a payment on day d still counts day d ("计算至交纳日止") and reduces the
principal from day d + 1 on. Non-residential rates differ by year: a day in the calendar year of
the due date is 当年欠费 (2‰), a day in any later year is 跨年度欠费 (3‰). The daily amounts are
summed exactly ("按日累加计收") and rounded once, with the configured rounding mode; a positive
total below the minimum is raised to the minimum ("总额不足1元者按1元收取").

Computing the whole fee from the due date every time (instead of adding daily increments) makes
assessment idempotent: month-end and payment-time assessments post only the difference between
the cumulative fee and what was already assessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from gridcare.core.money import quantize, rounding_mode

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class LateFeeRule:
    """One customer category's rule, as configured (policy/late_fees.yaml)."""

    current_year_rate: Decimal  # per day, fraction of principal (0.002 = 2‰)
    cross_year_rate: Decimal
    grace_days: int = 0  # accrual starts on due_date + 1 + grace_days
    minimum_fen: int = 100
    rounding: str = "half_up"

    def __post_init__(self) -> None:
        for name in ("current_year_rate", "cross_year_rate"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or value < 0:
                raise ValueError(f"{name} must be a non-negative Decimal, got {value!r}")
        if self.grace_days < 0 or self.minimum_fen < 0:
            raise ValueError("grace_days and minimum_fen must be ≥ 0")
        rounding_mode(self.rounding)  # raises on an unknown mode


@dataclass(frozen=True)
class Band:
    """Consecutive overdue days with the same principal and rate: `days × principal × rate`."""

    first_day: date
    last_day: date
    principal_fen: int
    rate: Decimal
    cross_year: bool

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def amount_fen(self) -> Decimal:
        """Exact, unrounded fen."""
        return Decimal(self.principal_fen) * self.rate * self.days


@dataclass(frozen=True)
class LateFee:
    due_date: date
    through: date
    bands: tuple[Band, ...]
    exact_fen: Decimal  # sum of the bands, unrounded
    rounded_fen: int  # exact rounded once with the rule's mode
    minimum_applied: bool
    fee_fen: int  # what is owed in total for this bill through `through`

    @property
    def days(self) -> int:
        return sum(b.days for b in self.bands)

    def formula(self) -> str:
        """Human-readable working, e.g. '3000.00 元 × 3 天 × 2‰ = 18.00 元'."""
        parts = [f"{Decimal(b.principal_fen) / 100:.2f} 元 × {b.days} 天 × {(b.rate * 1000).normalize():f}‰" for b in self.bands]
        text = " + ".join(parts) or "0"
        text += f" = {self.exact_fen / 100:.4f} 元"
        if self.minimum_applied:
            text += f" → 不足最低额，按 {Decimal(self.fee_fen) / 100:.2f} 元"
        else:
            text += f" ≈ {Decimal(self.fee_fen) / 100:.2f} 元"
        return text


def first_accrual_day(due_date: date, rule: LateFeeRule) -> date:
    return due_date + _DAY * (1 + rule.grace_days)


def principal_by_day(*, opening_fen: int, changes: Iterable[tuple[date, int]], start: date,
                     end: date) -> list[tuple[date, date, int]]:
    """Runs `(first, last, principal)` covering [start, end]: the principal at the start of each day.

    `opening_fen` is what was owed before any change; `changes` are (business date, delta fen),
    negative for payments and credits. A change dated d affects days from d + 1 on.
    """
    if end < start:
        return []
    deltas: dict[date, int] = {}
    principal = opening_fen
    for day, delta in changes:
        effective = day + _DAY
        if effective <= start:
            principal += delta
        elif effective <= end:
            deltas[effective] = deltas.get(effective, 0) + delta
    runs: list[tuple[date, date, int]] = []
    run_start = start
    for effective in sorted(deltas):
        if deltas[effective] == 0:
            continue
        runs.append((run_start, effective - _DAY, principal))
        principal += deltas[effective]
        run_start = effective
    runs.append((run_start, end, principal))
    return [r for r in runs if r[0] <= r[1]]


def late_fee(*, due_date: date, through: date, opening_fen: int, changes: Sequence[tuple[date, int]],
             rule: LateFeeRule) -> LateFee:
    """The cumulative fee on one bill for every overdue day up to and including `through`."""
    start = first_accrual_day(due_date, rule)
    bands: list[Band] = []
    year_end = date(due_date.year, 12, 31)
    for first, last, principal in principal_by_day(opening_fen=opening_fen, changes=changes, start=start,
                                                   end=through):
        if principal <= 0:
            continue
        # Split the run at the end of the due date's year: later days are 跨年度.
        pieces = [(first, last, False)] if last <= year_end else (
            [(max(first, year_end + _DAY), last, True)] if first > year_end
            else [(first, year_end, False), (year_end + _DAY, last, True)])
        for a, b, cross in pieces:
            rate = rule.cross_year_rate if cross else rule.current_year_rate
            if rate == 0:
                continue
            if bands and bands[-1].principal_fen == principal and bands[-1].rate == rate \
                    and bands[-1].last_day + _DAY == a and bands[-1].cross_year == cross:
                previous = bands.pop()
                a = previous.first_day
            bands.append(Band(first_day=a, last_day=b, principal_fen=principal, rate=rate, cross_year=cross))
    exact = sum((b.amount_fen for b in bands), Decimal(0))
    rounded = int(quantize(exact, "1", rounding=rule.rounding))
    minimum_applied = bool(bands) and exact > 0 and rounded < rule.minimum_fen
    fee = rule.minimum_fen if minimum_applied else rounded
    return LateFee(due_date=due_date, through=through, bands=tuple(bands), exact_fen=exact, rounded_fen=rounded,
                   minimum_applied=minimum_applied, fee_fen=fee)

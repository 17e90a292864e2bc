"""Tariff schedule model: what a tariff file means, as frozen dataclasses.

A *schedule* is one effective-dated version of one tariff (``code``). Files are parsed and validated
by :mod:`gridcare.rating.loader`; the kernel (:mod:`gridcare.rating.kernel`) reads only these objects,
so every official number reaches the kernel through here and nowhere else.

Units used in the model (the kernel converts to scaled integers exactly):

* prices: ``Decimal`` yuan per unit (元/kWh, 元/kVA·月, 元/kW·月), at most 8 decimal places;
* thresholds and fixed quantities: ``Decimal`` kWh;
* ratios and percentages: ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

BUCKETS: tuple[str, ...] = ("sharp", "peak", "flat", "valley", "deep_valley")
"""Time-of-use buckets, in display order. Register usage columns are ``<bucket>_wh``."""

BUCKET_ZH = {"sharp": "尖峰", "peak": "高峰", "flat": "平段", "valley": "低谷", "deep_valley": "深谷"}
BUCKET_EN = {"sharp": "sharp peak", "peak": "peak", "flat": "flat", "valley": "valley", "deep_valley": "deep valley"}

ROUNDING_STEPS: tuple[str, ...] = (
    "line_amount",
    "derived_price",
    "threshold",
    "usage_split",
    "loss_quantity",
    "cos_phi",
    "pf_amount",
    "billable_demand",
    "daily_amount",
)
"""Every rounding step the kernel performs; each is named (and may be set) in the tariff file."""

DEFAULT_ROUNDING: Mapping[str, tuple[str | None, str]] = {
    # step: (places or None for "to the fen / to the Wh", mode)
    "line_amount": (None, "half_up"),  # quantity × price → fen, per bill line
    "derived_price": ("0.0001", "half_up"),  # price derived by ratio → 0.01 分
    "threshold": ("1", "half_up"),  # prorated tier thresholds, kWh
    "usage_split": (None, "half_up"),  # usage split by days across versions, to the Wh
    "loss_quantity": ("1", "half_up"),  # loss kWh
    "cos_phi": ("0.01", "half_up"),  # power factor before table lookup
    "pf_amount": (None, "half_up"),  # adjustment → fen
    "billable_demand": (None, "half_up"),  # 105% rule / floor results → to the W (0.001 kW)
    "daily_amount": (None, "half_up"),  # daily settlement line → fen
}


@dataclass(frozen=True)
class RoundingStep:
    """One named rounding step. ``places`` is a quantum such as ``0.0001``; None means the unit
    fixed by the step (fen for amounts, Wh for quantities)."""

    name: str
    places: Decimal | None
    mode: str  # half_up | half_even | down | up


@dataclass(frozen=True)
class Rounding:
    steps: Mapping[str, RoundingStep]

    def __getitem__(self, name: str) -> RoundingStep:
        return self.steps[name]

    @classmethod
    def defaults(cls) -> Rounding:
        return cls(
            {
                name: RoundingStep(name, Decimal(places) if places else None, mode)
                for name, (places, mode) in DEFAULT_ROUNDING.items()
            }
        )


@dataclass(frozen=True)
class TouSeason:
    """Band map for a set of months: for every 15-minute slot of the day, its bucket."""

    months: tuple[int, ...]
    slots: tuple[str, ...]  # 96 bucket names, slot i = [i*15 min, (i+1)*15 min)


@dataclass(frozen=True)
class TouCalendar:
    seasons: tuple[TouSeason, ...]
    # On dates passed to the kernel as hot days (e.g. Guangzhou ≥35 ℃), these slots become sharp.
    hot_day_sharp_slots: tuple[int, ...] = ()

    def season_for(self, month: int) -> TouSeason:
        for season in self.seasons:
            if month in season.months:
                return season
        raise KeyError(month)  # the loader guarantees all 12 months are covered

    def buckets_used(self) -> tuple[str, ...]:
        used = {b for s in self.seasons for b in s.slots}
        if self.hot_day_sharp_slots:
            used.add("sharp")
        return tuple(b for b in BUCKETS if b in used)


@dataclass(frozen=True)
class DerivedPrices:
    """Bucket prices derived from a base price: ``bucket = round(base × ratio)``; optionally sharp
    from another (already rounded) bucket: ``sharp = round(peak × factor)``."""

    base: Decimal
    ratios: Mapping[str, Decimal]
    sharp_of: str | None = None
    sharp_factor: Decimal | None = None


@dataclass(frozen=True)
class Tier:
    upto_kwh: Decimal | None  # inclusive upper bound of the tier; None for the last tier
    price: Decimal | None = None  # price per kWh in this tier (tiers without TOU)
    adder: Decimal | None = None  # surcharge per kWh on top of the TOU price ("TOU first, then tiers")


@dataclass(frozen=True)
class TierSeason:
    months: tuple[int, ...]
    upto_kwh: tuple[Decimal, ...]  # one per tier except the last


@dataclass(frozen=True)
class HouseholdAllowance:
    """Extra kWh per tier boundary for households with at least ``min_members`` members,
    plus ``per_extra_member`` for each member above ``min_members`` (0 for a flat step)."""

    min_members: int
    extra_kwh: tuple[Decimal, ...]
    per_extra_member_kwh: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class TierOptions:
    cycle: str = "monthly"  # monthly | annual
    seasons: tuple[TierSeason, ...] = ()
    household_allowance: HouseholdAllowance | None = None
    combined_meter_price: Decimal | None = None  # 合表 users: flat price, no ladder
    combined_meter_mode: str = "multiply"  # multiply (thresholds × households) | flat_price
    prorate_partial_period: bool = False  # prorate monthly thresholds when an account has fewer days
    season_month: str = "period_start"  # which date's month picks the seasonal thresholds


@dataclass(frozen=True)
class Component:
    id: str
    kind: str
    label_zh: str
    label_en: str
    rule: str = ""
    pf_adjusted: bool = False


@dataclass(frozen=True)
class EnergyComponent(Component):
    """A per-kWh charge: flat price, TOU bucket prices, tiers, or TOU + tier adders."""

    price: Decimal | None = None
    tou_prices: Mapping[str, Decimal] | None = None  # resolved (listed or derived and rounded)
    tou_derivation: DerivedPrices | None = None  # kept for explanation
    tiers: tuple[Tier, ...] = ()
    tier_options: TierOptions = field(default_factory=TierOptions)
    exempt_categories: tuple[str, ...] = ()
    includes_losses: bool = True


@dataclass(frozen=True)
class DemandRule:
    basis: str = "contract"  # contract | actual
    threshold_ratio: Decimal = Decimal("1.05")
    over_formula: str = "threshold_plus_double_excess"
    excess_multiplier: Decimal = Decimal(2)
    floor_ratio: Decimal | None = Decimal("0.40")


@dataclass(frozen=True)
class BasicComponent(Component):
    capacity_price: Decimal | None = None  # 元/kVA·月
    demand_price: Decimal | None = None  # 元/kW·月
    default_basis: str = "capacity"  # capacity | demand
    demand: DemandRule = field(default_factory=DemandRule)
    proration: str = "thirty_day"  # thirty_day | actual_days
    suspension_min_days: int = 15


@dataclass(frozen=True)
class PowerFactorTable:
    """Adjustment percentage by rounded cos φ, per standard (the 1983 办法 table as data)."""

    name: str
    rows: Mapping[str, Mapping[Decimal, Decimal]]  # standard "0.90" -> {cos φ: percent}
    below_table_step_percent: Mapping[str, Decimal]  # per 0.01 below the last row

    def percent(self, standard: str, cos_phi: Decimal) -> Decimal:
        table = self.rows[standard]
        if cos_phi in table:
            return table[cos_phi]
        lowest = min(table)
        if cos_phi < lowest:
            steps = (lowest - cos_phi) / Decimal("0.01")
            return table[lowest] + steps * self.below_table_step_percent[standard]
        raise KeyError(cos_phi)


@dataclass(frozen=True)
class PowerFactorComponent(Component):
    applies_to: tuple[str, ...] = ()  # component ids whose line amounts form the base
    min_capacity_kva: Decimal = Decimal(100)
    default_standard: str | None = None
    table: PowerFactorTable | None = None
    count_reverse_reactive: bool = True


@dataclass(frozen=True)
class LossComponent(Component):
    """Transformer and line losses when metering is not at the property boundary.

    The loss parameters belong to the metering point (segments frame); the tariff says how they
    are prorated, rounded and priced."""

    fixed_proration: str = "thirty_day"  # thirty_day | actual_days
    tou_allocation: str = "proportional"  # proportional | flat


@dataclass(frozen=True)
class FundItem:
    code: str
    label_zh: str
    label_en: str
    rate: Decimal
    exempt_categories: tuple[str, ...] = ()
    category_rates: Mapping[str, Decimal] = field(default_factory=dict)
    rule: str = ""


@dataclass(frozen=True)
class FundsComponent(Component):
    items: tuple[FundItem, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """One version of one tariff, in force on ``[effective_from, effective_to)``."""

    code: str
    version: str
    name_zh: str
    name_en: str
    effective_from: date
    effective_to: date | None
    components: tuple[Component, ...]
    rounding: Rounding = field(default_factory=Rounding.defaults)
    tou: TouCalendar | None = None
    sources: tuple[str, ...] = ()
    currency: str = "CNY"

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    def component(self, component_id: str) -> Component:
        for comp in self.components:
            if comp.id == component_id:
                return comp
        raise KeyError(component_id)

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


@dataclass(frozen=True)
class ScheduleSet:
    """All versions of all tariffs known to one rating run, indexed by tariff code."""

    schedules: tuple[Schedule, ...]

    def __post_init__(self) -> None:
        seen: dict[str, list[Schedule]] = {}
        for s in self.schedules:
            seen.setdefault(s.code, []).append(s)
        for code, versions in seen.items():
            versions.sort(key=lambda s: s.effective_from)
            for a, b in zip(versions, versions[1:], strict=False):
                if a.effective_to is None or a.effective_to > b.effective_from:
                    from gridcare.rating.errors import TariffFileInvalid

                    raise TariffFileInvalid(
                        f"{code}: versions {a.version} and {b.version} overlap",
                        field=f"{code}.effective_from",
                    )

    def __iter__(self) -> Iterator[Schedule]:
        return iter(self.schedules)

    def __len__(self) -> int:
        return len(self.schedules)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(sorted({s.code for s in self.schedules}))

    def versions(self, code: str) -> tuple[Schedule, ...]:
        return tuple(sorted((s for s in self.schedules if s.code == code), key=lambda s: s.effective_from))

    def in_force(self, code: str, start: date, end: date) -> tuple[Schedule, ...]:
        """Versions of ``code`` overlapping ``[start, end)``, in date order."""
        return tuple(
            s
            for s in self.versions(code)
            if s.effective_from < end and (s.effective_to is None or s.effective_to > start)
        )

    def merged(self, other: Iterable[Schedule]) -> ScheduleSet:
        return ScheduleSet((*self.schedules, *other))

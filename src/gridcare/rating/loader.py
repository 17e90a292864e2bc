"""Tariff files (YAML) → validated :class:`~gridcare.rating.model.Schedule` objects.

Numbers are read as ``Decimal`` straight from the YAML text (never through float). Every problem
is reported with the path of the offending value, e.g. ``components[2].tiers[1].upto: must be
greater than 200``; all problems in a file are collected before raising, so an operator fixes a
file in one pass. The file format is documented in docs/tariffs.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gridcare.core.money import ROUNDING_MODES
from gridcare.rating.errors import TariffFileInvalid
from gridcare.rating.model import (
    BUCKETS,
    DEFAULT_ROUNDING,
    BasicComponent,
    Component,
    DemandRule,
    DerivedPrices,
    EnergyComponent,
    FundItem,
    FundsComponent,
    HouseholdAllowance,
    LossComponent,
    PowerFactorComponent,
    PowerFactorTable,
    Rounding,
    RoundingStep,
    Schedule,
    ScheduleSet,
    Tier,
    TierOptions,
    TierSeason,
    TouCalendar,
    TouSeason,
)

MAX_PRICE_PLACES = 8
SLOTS_PER_DAY = 96
OVER_FORMULAS = (
    "threshold_plus_double_excess",  # (b) 1.05C + m(D − 1.05C): 58z.net worked example, 1550 kW
    "contract_plus_double_excess",  # (a) C + m(D − 1.05C): 1500 kW
    "contract_plus_double_over_contract",  # (c) C + m(D − C), pre-2016 rule: 1600 kW
)
COMPONENT_KINDS = ("energy", "basic", "power_factor", "losses", "funds")


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader that turns YAML floats into Decimal from their source text."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """Dates as usual, but an impossible one (2025-13-01) stays text so validation can name it."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class _Problems:
    def __init__(self, prefix: str = "") -> None:
        self.items: list[tuple[str, str]] = []
        self.prefix = prefix

    def add(self, path: str, message: str) -> None:
        self.items.append((self.prefix + path, message))

    def raise_if_any(self, source: str) -> None:
        if self.items:
            path, message = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            raise TariffFileInvalid(f"{source}: {path}: {message}{more}", field=path, problems=list(self.items))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Reader:
    """Typed access to one mapping, recording problems under its path."""

    def __init__(self, data: Any, path: str, problems: _Problems) -> None:
        self.path = path
        self.problems = problems
        self.ok = isinstance(data, Mapping)
        if not self.ok:
            problems.add(path or "(document)", "must be a mapping")
            data = {}
        self.data: Mapping[str, Any] = data
        self.used: set[str] = set()

    def p(self, key: str | int) -> str:
        return _join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        value = self.data.get(key, default)
        return default if value is None else value

    def text(self, key: str, *, required: bool = False, default: str = "", choices: Iterable[str] | None = None) -> str:
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.add(self.p(key), "is required")
            return default
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.problems.add(self.p(key), "must be text")
            return default
        value = str(value)
        if choices is not None and value not in tuple(choices):
            self.problems.add(self.p(key), f"must be one of {', '.join(choices)}; got {value!r}")
            return default
        return value

    def decimal(
        self,
        key: str,
        *,
        required: bool = False,
        minimum: Decimal | None = None,
        positive: bool = False,
        max_places: int | None = None,
    ) -> Decimal | None:
        self.used.add(key)
        return _decimal(self.data.get(key), self.p(key), self.problems, required, minimum, positive, max_places)

    def integer(self, key: str, *, default: int, minimum: int | None = None) -> int:
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.problems.add(self.p(key), "must be a whole number")
            return default
        if minimum is not None and value < minimum:
            self.problems.add(self.p(key), f"must be at least {minimum}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problems.add(self.p(key), "must be true or false")
            return default
        return value

    def date_(self, key: str, *, required: bool = False) -> date | None:
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.add(self.p(key), "is required")
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problems.add(self.p(key), f"must be a date YYYY-MM-DD; got {value!r}")
            return None

    def months(self, key: str) -> tuple[int, ...]:
        self.used.add(key)
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            self.problems.add(self.p(key), "must be a non-empty list of months 1-12")
            return ()
        out = []
        for i, m in enumerate(value):
            if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 12:
                self.problems.add(_join(self.p(key), i), f"must be a month 1-12; got {m!r}")
            else:
                out.append(m)
        if len(set(out)) != len(out):
            self.problems.add(self.p(key), "lists a month twice")
        return tuple(out)

    def list_(self, key: str, *, required: bool = False) -> list[Any]:
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.add(self.p(key), "is required")
            return []
        if not isinstance(value, list):
            self.problems.add(self.p(key), "must be a list")
            return []
        return value

    def child(self, key: str) -> _Reader | None:
        self.used.add(key)
        if self.data.get(key) is None:
            return None
        return _Reader(self.data[key], self.p(key), self.problems)

    def finish(self) -> None:
        for key in self.data:
            if key not in self.used:
                self.problems.add(self.p(str(key)), "is not a known field")


def _decimal(
    value: Any,
    path: str,
    problems: _Problems,
    required: bool = False,
    minimum: Decimal | None = None,
    positive: bool = False,
    max_places: int | None = None,
) -> Decimal | None:
    if value is None:
        if required:
            problems.add(path, "is required")
        return None
    if isinstance(value, bool) or isinstance(value, float):
        problems.add(path, "must be a number")
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        problems.add(path, f"must be a number; got {value!r}")
        return None
    if not number.is_finite():
        problems.add(path, "must be a finite number")
        return None
    if positive and number <= 0:
        problems.add(path, "must be greater than 0")
    elif minimum is not None and number < minimum:
        problems.add(path, f"must be at least {minimum}")
    if max_places is not None and -number.as_tuple().exponent > max_places:  # type: ignore[operator]
        problems.add(path, f"has more than {max_places} decimal places")
    return number


# --------------------------------------------------------------------------------------------- TOU


def _parse_hhmm(text: str) -> int | None:
    try:
        hh, mm = text.strip().split(":")
        minutes = int(hh) * 60 + int(mm)
    except ValueError:
        return None
    if not 0 <= minutes <= 24 * 60 or int(mm) >= 60:
        return None
    return minutes


def _slots_of(ranges: Any, path: str, problems: _Problems) -> list[int]:
    if isinstance(ranges, str):
        ranges = [ranges]
    if not isinstance(ranges, list):
        problems.add(path, 'must be a list of "HH:MM-HH:MM" ranges')
        return []
    slots: list[int] = []
    for i, item in enumerate(ranges):
        p = _join(path, i)
        if not isinstance(item, str) or "-" not in item:
            problems.add(p, f'must be a range "HH:MM-HH:MM"; got {item!r}')
            continue
        a_text, b_text = item.split("-", 1)
        a, b = _parse_hhmm(a_text), _parse_hhmm(b_text)
        if a is None or b is None:
            problems.add(p, f'must be a range "HH:MM-HH:MM" within 00:00-24:00; got {item!r}')
            continue
        if a % 15 or b % 15:
            problems.add(p, "must start and end on a quarter hour")
            continue
        if b <= a:
            problems.add(p, f"end must be after start; got {item!r} (split ranges that cross midnight)")
            continue
        slots.extend(range(a // 15, b // 15))
    return slots


def _tou(r: _Reader) -> TouCalendar:
    seasons: list[TouSeason] = []
    covered: dict[int, str] = {}
    for i, raw in enumerate(r.list_("seasons", required=True)):
        s = _Reader(raw, _join(r.p("seasons"), i), r.problems)
        months = s.months("months")
        for m in months:
            if m in covered:
                r.problems.add(s.p("months"), f"month {m} is already in {covered[m]}")
            covered[m] = s.p("months")
        bands = s.child("bands")
        slots: list[str | None] = [None] * SLOTS_PER_DAY
        if bands is None:
            r.problems.add(s.p("bands"), "is required")
        else:
            for bucket, ranges in bands.data.items():
                bands.used.add(bucket)
                if bucket not in BUCKETS:
                    r.problems.add(bands.p(str(bucket)), f"must be one of {', '.join(BUCKETS)}")
                    continue
                for slot in _slots_of(ranges, bands.p(bucket), r.problems):
                    if slots[slot] is not None:
                        hh, mm = divmod(slot * 15, 60)
                        r.problems.add(bands.p(bucket), f"{hh:02d}:{mm:02d} is already {slots[slot]}")
                    slots[slot] = bucket
            bands.finish()
            missing = [i for i, b in enumerate(slots) if b is None]
            if missing and bands.ok:
                hh, mm = divmod(missing[0] * 15, 60)
                r.problems.add(s.p("bands"), f"must cover the whole day; {hh:02d}:{mm:02d} has no band")
        s.finish()
        seasons.append(TouSeason(months, tuple(b or "flat" for b in slots)))
    absent = sorted(set(range(1, 13)) - set(covered))
    if absent and seasons:
        r.problems.add(r.p("seasons"), f"must cover all months; missing {absent}")
    hot = r.raw("hot_day_sharp")
    hot_slots: tuple[int, ...] = ()
    if hot is not None:
        hot_slots = tuple(_slots_of(hot, r.p("hot_day_sharp"), r.problems))
    r.finish()
    return TouCalendar(tuple(seasons), hot_slots)


# ------------------------------------------------------------------------------------- components


def _base_fields(r: _Reader, kind: str) -> dict[str, Any]:
    return {
        "id": r.text("id", required=True),
        "kind": kind,
        "label_zh": r.text("label_zh", required=True),
        "label_en": r.text("label_en", required=True),
        "rule": r.text("rule"),
    }


def _quantize_price(value: Decimal, step: RoundingStep) -> Decimal:
    if step.places is None:
        return value
    from gridcare.core.money import rounding_mode

    return value.quantize(step.places, rounding=rounding_mode(step.mode))


def _tou_prices(
    r: _Reader, tou: TouCalendar | None, rounding: Rounding
) -> tuple[dict[str, Decimal] | None, DerivedPrices | None]:
    tp = r.child("tou_prices")
    if tp is None:
        return None, None
    if tou is None:
        r.problems.add(r.p("tou_prices"), "needs a tou: calendar at the top of the file")
    prices: dict[str, Decimal] = {}
    derivation = None
    derive = tp.child("derive")
    for bucket in BUCKETS:
        if tp.has(bucket):
            value = tp.decimal(bucket, minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
            if value is not None:
                prices[bucket] = value
    if derive is not None:
        base = derive.decimal("base", required=True, minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
        ratios: dict[str, Decimal] = {}
        rr = derive.child("ratios")
        if rr is None:
            r.problems.add(derive.p("ratios"), "is required")
        else:
            for bucket in list(rr.data):
                if bucket not in BUCKETS:
                    rr.used.add(bucket)
                    r.problems.add(rr.p(str(bucket)), f"must be one of {', '.join(BUCKETS)}")
                    continue
                ratio = rr.decimal(bucket, required=True, minimum=Decimal(0))
                if ratio is not None:
                    ratios[bucket] = ratio
            rr.finish()
        sharp_of = None
        sharp_factor = None
        sharp = derive.child("sharp")
        if sharp is not None:
            sharp_of = sharp.text("of", required=True, choices=[b for b in BUCKETS if b != "sharp"])
            sharp_factor = sharp.decimal("factor", required=True, positive=True)
            sharp.finish()
            if "sharp" in ratios:
                r.problems.add(derive.p("sharp"), "conflicts with ratios.sharp")
        derive.finish()
        if base is not None:
            step = rounding["derived_price"]
            for bucket, ratio in ratios.items():
                if bucket in prices:
                    r.problems.add(tp.p(bucket), "is both listed and derived")
                prices[bucket] = _quantize_price(base * ratio, step)
            if sharp_of:
                if sharp_of not in prices:
                    r.problems.add(sharp.p("of") if sharp else derive.p("sharp"), f"{sharp_of} has no price")
                elif sharp_factor is not None:
                    prices["sharp"] = _quantize_price(prices[sharp_of] * sharp_factor, step)
            derivation = DerivedPrices(base, ratios, sharp_of or None, sharp_factor)
    tp.finish()
    for bucket, value in prices.items():
        if -value.as_tuple().exponent > MAX_PRICE_PLACES:  # type: ignore[operator]
            r.problems.add(
                tp.p(bucket), f"derived price {value} has more than {MAX_PRICE_PLACES} places; set rounding.derived_price"
            )
    if tou is not None:
        for bucket in tou.buckets_used():
            if bucket not in prices:
                r.problems.add(tp.p(bucket), f"is required: the tou calendar uses {bucket}")
    return prices, derivation


def _tiers(r: _Reader) -> tuple[tuple[Tier, ...], TierOptions]:
    raw_tiers = r.list_("tiers")
    tiers: list[Tier] = []
    previous: Decimal | None = None
    for i, raw in enumerate(raw_tiers):
        t = _Reader(raw, _join(r.p("tiers"), i), r.problems)
        upto = t.decimal("upto", positive=True, max_places=3)
        last = i == len(raw_tiers) - 1
        if upto is None and not last and t.ok:
            r.problems.add(t.p("upto"), "is required on every tier but the last")
        if upto is not None and last:
            r.problems.add(t.p("upto"), "must be empty on the last tier (it is open-ended)")
        if upto is not None and previous is not None and upto <= previous:
            r.problems.add(t.p("upto"), f"must be greater than {previous}")
        if upto is not None:
            previous = upto
        price = t.decimal("price", minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
        adder = t.decimal("adder", max_places=MAX_PRICE_PLACES)
        t.text("label_zh")
        t.text("label_en")
        t.finish()
        tiers.append(Tier(upto, price, adder))
    options = TierOptions()
    o = r.child("tier_options")
    if o is not None:
        seasons = []
        for i, raw in enumerate(o.list_("seasons")):
            s = _Reader(raw, _join(o.p("seasons"), i), r.problems)
            months = s.months("months")
            bounds = []
            raw_upto = s.list_("upto", required=True)
            if raw_tiers and raw_upto and len(raw_upto) != len(raw_tiers) - 1:
                r.problems.add(s.p("upto"), f"must list {len(raw_tiers) - 1} thresholds, one per tier but the last")
            prev = None
            for j, v in enumerate(raw_upto):
                d = _decimal(v, _join(s.p("upto"), j), r.problems, required=True, positive=True, max_places=3)
                if d is not None:
                    if prev is not None and d <= prev:
                        r.problems.add(_join(s.p("upto"), j), f"must be greater than {prev}")
                    prev = d
                    bounds.append(d)
            s.finish()
            seasons.append(TierSeason(months, tuple(bounds)))
        allowance = None
        a = o.child("household_allowance")
        if a is not None:
            min_members = a.integer("min_members", default=0, minimum=1)
            extra = tuple(
                d
                for j, v in enumerate(a.list_("extra_kwh", required=True))
                if (d := _decimal(v, _join(a.p("extra_kwh"), j), r.problems, required=True, minimum=Decimal(0)))
                is not None
            )
            per = tuple(
                d
                for j, v in enumerate(a.list_("per_extra_member_kwh"))
                if (d := _decimal(v, _join(a.p("per_extra_member_kwh"), j), r.problems, required=True, minimum=Decimal(0)))
                is not None
            )
            for name, values in (("extra_kwh", extra), ("per_extra_member_kwh", per)):
                if values and raw_tiers and len(values) != len(raw_tiers) - 1:
                    r.problems.add(a.p(name), f"must list {len(raw_tiers) - 1} values, one per threshold")
            a.finish()
            allowance = HouseholdAllowance(min_members, extra, per)
        cm_price = None
        cm_mode = "multiply"
        cm = o.child("combined_meter")
        if cm is not None:
            cm_mode = cm.text("mode", required=True, choices=["multiply", "flat_price"])
            cm_price = cm.decimal("price", minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
            if cm_mode == "flat_price" and cm_price is None:
                r.problems.add(cm.p("price"), "is required when mode is flat_price")
            cm.finish()
        options = TierOptions(
            cycle=o.text("cycle", default="monthly", choices=["monthly", "annual"]),
            seasons=tuple(seasons),
            household_allowance=allowance,
            combined_meter_price=cm_price,
            combined_meter_mode=cm_mode,
            prorate_partial_period=o.boolean("prorate_partial_period", default=False),
            season_month=o.text("season_month", default="period_start", choices=["period_start", "period_end"]),
        )
        covered: set[int] = set()
        for i, s in enumerate(options.seasons):
            dup = covered & set(s.months)
            if dup:
                r.problems.add(_join(o.p("seasons"), i) + ".months", f"months {sorted(dup)} are already covered")
            covered |= set(s.months)
        if options.seasons and covered != set(range(1, 13)):
            r.problems.add(o.p("seasons"), f"must cover all months; missing {sorted(set(range(1, 13)) - covered)}")
        o.finish()
    return tuple(tiers), options


def _energy(r: _Reader, tou: TouCalendar | None, rounding: Rounding) -> EnergyComponent:
    base = _base_fields(r, "energy")
    price = r.decimal("price", minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
    tou_prices, derivation = _tou_prices(r, tou, rounding)
    tiers, tier_options = _tiers(r)
    if price is not None and tou_prices is not None:
        r.problems.add(r.p("price"), "conflicts with tou_prices; give one or the other")
    if tiers:
        with_price = [t.price is not None for t in tiers]
        with_adder = [t.adder is not None for t in tiers]
        if tou_prices is not None:
            if any(with_price):
                r.problems.add(r.p("tiers"), "with tou_prices, tiers carry an adder (TOU first, then tiers), not a price")
            for i, t in enumerate(tiers):
                if t.adder is None:
                    r.problems.add(_join(r.p("tiers"), i) + ".adder", "is required (use 0 for the first tier)")
        else:
            if price is not None:
                r.problems.add(r.p("price"), "conflicts with tiers; give tier prices instead")
            for i, t in enumerate(tiers):
                if t.price is None:
                    r.problems.add(_join(r.p("tiers"), i) + ".price", "is required")
                if with_adder[i]:
                    r.problems.add(_join(r.p("tiers"), i) + ".adder", "is only for tiers on top of tou_prices")
    elif r.has("tier_options"):
        r.problems.add(r.p("tier_options"), "needs tiers")
    if price is None and tou_prices is None and not tiers:
        r.problems.add(r.p("price"), "is required (or tou_prices, or tiers)")
    component = EnergyComponent(
        **base,
        pf_adjusted=r.boolean("pf_adjusted", default=True),
        price=price,
        tou_prices=tou_prices,
        tou_derivation=derivation,
        tiers=tiers,
        tier_options=tier_options,
        exempt_categories=tuple(str(c) for c in r.list_("exempt_categories")),
        includes_losses=r.boolean("includes_losses", default=True),
    )
    r.finish()
    return component


def _basic(r: _Reader) -> BasicComponent:
    base = _base_fields(r, "basic")
    cap = r.decimal("capacity_price", minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
    dem = r.decimal("demand_price", minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
    if cap is None and dem is None:
        r.problems.add(r.p("capacity_price"), "is required (or demand_price)")
    default_basis = r.text("default_basis", default="capacity" if cap is not None else "demand", choices=["capacity", "demand"])
    if default_basis == "capacity" and cap is None and dem is not None:
        r.problems.add(r.p("default_basis"), "is capacity but there is no capacity_price")
    if default_basis == "demand" and dem is None and cap is not None:
        r.problems.add(r.p("default_basis"), "is demand but there is no demand_price")
    rule = DemandRule()
    d = r.child("demand")
    if d is not None:
        threshold = d.decimal("threshold_ratio", minimum=Decimal(1))
        multiplier = d.decimal("excess_multiplier", minimum=Decimal(1))
        floor = d.decimal("floor_ratio", minimum=Decimal(0))
        if floor is not None and floor > 1:
            r.problems.add(d.p("floor_ratio"), "must be at most 1")
        rule = DemandRule(
            basis=d.text("basis", default="contract", choices=["contract", "actual"]),
            threshold_ratio=threshold if threshold is not None else rule.threshold_ratio,
            over_formula=d.text("over_formula", default=rule.over_formula, choices=OVER_FORMULAS),
            excess_multiplier=multiplier if multiplier is not None else rule.excess_multiplier,
            floor_ratio=floor if d.has("floor_ratio") else (None if "floor_ratio" in d.data else rule.floor_ratio),
        )
        d.finish()
    component = BasicComponent(
        **base,
        pf_adjusted=r.boolean("pf_adjusted", default=True),
        capacity_price=cap,
        demand_price=dem,
        default_basis=default_basis,
        demand=rule,
        proration=r.text("proration", default="thirty_day", choices=["thirty_day", "actual_days"]),
        suspension_min_days=r.integer("suspension_min_days", default=15, minimum=0),
    )
    r.finish()
    return component


def load_pf_table(path: Path | str) -> PowerFactorTable:
    """Read a power-factor adjustment table file (``pf-1983.yaml`` format)."""
    path = Path(path)
    problems = _Problems()
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_DecimalLoader)
    table = _pf_table(data, "", problems, path.stem)
    problems.raise_if_any(str(path))
    return table


def _pf_table(data: Any, path: str, problems: _Problems, name: str) -> PowerFactorTable:
    r = _Reader(data, path, problems)
    rows: dict[str, dict[Decimal, Decimal]] = {}
    steps: dict[str, Decimal] = {}
    r.text("name")
    r.list_("sources")
    r.text("notes")
    standards = r.child("standards")
    if standards is None:
        problems.add(r.p("standards"), "is required")
    else:
        for std in list(standards.data):
            standards.used.add(std)
            s = _Reader(standards.data[std], standards.p(str(std)), problems)
            key = str(std)
            std_value = _decimal(key, standards.p(str(std)), problems, required=True)
            if std_value is not None and std_value.as_tuple().exponent != -2:
                problems.add(standards.p(str(std)), 'standards are written with two places, e.g. "0.90"')
            step = s.decimal("below_table_step_percent", required=True, minimum=Decimal(0))
            table: dict[Decimal, Decimal] = {}
            rr = s.child("rows")
            if rr is None:
                problems.add(s.p("rows"), "is required")
            else:
                for cos in list(rr.data):
                    rr.used.add(cos)
                    c = _decimal(str(cos), rr.p(str(cos)), problems, required=True)
                    v = _decimal(rr.data[cos], rr.p(str(cos)), problems, required=True)
                    if c is None or v is None:
                        continue
                    if not Decimal(0) <= c <= Decimal(1) or c.as_tuple().exponent != -2:
                        problems.add(rr.p(str(cos)), "cos φ keys are 0.00-1.00 with two places")
                        continue
                    table[c] = v
                if table:
                    lo = min(table)
                    expected = {Decimal(k) / 100 for k in range(int(lo * 100), 101)}
                    gaps = sorted(expected - set(table))
                    if gaps:
                        problems.add(rr.p(str(gaps[0])), f"is missing (rows must be contiguous from {lo} to 1.00)")
                    ordered = [table[k] for k in sorted(table)]
                    if any(a < b for a, b in zip(ordered, ordered[1:], strict=False)):
                        problems.add(rr.p(""), "percent must not increase as cos φ rises")
            s.finish()
            rows[key] = table
            steps[key] = step or Decimal(0)
    r.finish()
    return PowerFactorTable(name, rows, steps)


def _power_factor(r: _Reader, base_dir: Path | None) -> PowerFactorComponent:
    base = _base_fields(r, "power_factor")
    applies = tuple(str(a) for a in r.list_("applies_to", required=True))
    table = None
    table_file = r.text("table_file")
    inline = r.raw("table")
    if table_file and inline is not None:
        r.problems.add(r.p("table"), "conflicts with table_file")
    if table_file:
        candidates = [base_dir / table_file] if base_dir is not None else []
        candidates.append(Path(str(resources.files("gridcare.rating") / "library" / table_file)))
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            r.problems.add(r.p("table_file"), f"{table_file} not found next to the tariff file or in the library")
        else:
            data = yaml.load(found.read_text(encoding="utf-8"), Loader=_DecimalLoader)
            table = _pf_table(data, r.p("table_file") + f"({table_file})", r.problems, found.stem)
    elif inline is not None:
        table = _pf_table(inline, r.p("table"), r.problems, base["id"])
    else:
        r.problems.add(r.p("table_file"), "is required (or an inline table)")
    default_standard = r.text("default_standard") or None
    if table is not None and default_standard is not None and default_standard not in table.rows:
        r.problems.add(r.p("default_standard"), f"must be one of the table's standards {sorted(table.rows)}")
    component = PowerFactorComponent(
        **base,
        applies_to=applies,
        min_capacity_kva=r.decimal("min_capacity_kva", minimum=Decimal(0)) or Decimal(0),
        default_standard=default_standard,
        table=table,
        count_reverse_reactive=r.boolean("count_reverse_reactive", default=True),
    )
    r.finish()
    return component


def _losses(r: _Reader) -> LossComponent:
    base = _base_fields(r, "losses")
    component = LossComponent(
        **base,
        fixed_proration=r.text("fixed_proration", default="thirty_day", choices=["thirty_day", "actual_days"]),
        tou_allocation=r.text("tou_allocation", default="proportional", choices=["proportional", "flat"]),
    )
    r.finish()
    return component


def _funds(r: _Reader) -> FundsComponent:
    base = _base_fields(r, "funds")
    items = []
    codes: set[str] = set()
    for i, raw in enumerate(r.list_("items", required=True)):
        f = _Reader(raw, _join(r.p("items"), i), r.problems)
        code = f.text("code", required=True)
        if code in codes:
            r.problems.add(f.p("code"), f"duplicate fund code {code!r}")
        codes.add(code)
        rates: dict[str, Decimal] = {}
        cr = f.child("category_rates")
        if cr is not None:
            for cat in list(cr.data):
                value = cr.decimal(str(cat), required=True, minimum=Decimal(0), max_places=MAX_PRICE_PLACES)
                if value is not None:
                    rates[str(cat)] = value
            cr.finish()
        items.append(
            FundItem(
                code=code,
                label_zh=f.text("label_zh", required=True),
                label_en=f.text("label_en", required=True),
                rate=f.decimal("rate", required=True, minimum=Decimal(0), max_places=MAX_PRICE_PLACES) or Decimal(0),
                exempt_categories=tuple(str(c) for c in f.list_("exempt_categories")),
                category_rates=rates,
                rule=f.text("rule"),
            )
        )
        f.finish()
    component = FundsComponent(**base, pf_adjusted=r.boolean("pf_adjusted", default=False), items=tuple(items))
    r.finish()
    return component


# ---------------------------------------------------------------------------------------- schedule


def _rounding(r: _Reader | None, problems: _Problems) -> Rounding:
    steps = dict(Rounding.defaults().steps)
    if r is None:
        return Rounding(steps)
    for name in list(r.data):
        r.used.add(name)
        if name not in DEFAULT_ROUNDING:
            problems.add(r.p(str(name)), f"is not a rounding step; known steps: {', '.join(DEFAULT_ROUNDING)}")
            continue
        s = _Reader(r.data[name], r.p(name), problems)
        places = s.decimal("places", positive=True)
        if places is not None and places.normalize().as_tuple().digits != (1,):
            problems.add(s.p("places"), f"must be a power of ten such as 0.01 or 1; got {places}")
        mode = s.text("mode", default=DEFAULT_ROUNDING[name][1], choices=list(ROUNDING_MODES))
        s.finish()
        default_places = DEFAULT_ROUNDING[name][0]
        if places is None and "places" not in s.data and default_places is not None:
            places = Decimal(default_places)
        if name in ("line_amount", "pf_amount", "daily_amount", "usage_split", "billable_demand") and places is not None:
            problems.add(s.p("places"), "is fixed for this step (amounts to the fen, quantities to the Wh)")
            places = None
        if name == "cos_phi" and mode not in ("half_up", "down", "up"):
            problems.add(s.p("mode"), "cos_phi supports half_up, down or up")
        steps[name] = RoundingStep(name, places, mode)
    return Rounding(steps)


def parse_schedule(data: Any, *, source: str = "<tariff>", base_dir: Path | None = None, prefix: str = "") -> Schedule:
    """Validate one tariff document (a parsed YAML mapping) and build its :class:`Schedule`."""
    problems = _Problems(prefix)
    r = _Reader(data, "", problems)
    if not r.ok:  # nothing else can be checked
        problems.raise_if_any(source)
    code = r.text("code", required=True)
    version = r.text("version", required=True)
    name_zh = r.text("name_zh", required=True)
    name_en = r.text("name_en", required=True)
    effective_from = r.date_("effective_from", required=True)
    effective_to = r.date_("effective_to")
    if effective_from and effective_to and effective_to <= effective_from:
        problems.add("effective_to", f"must be after effective_from {effective_from}")
    sources = tuple(str(s) for s in r.list_("sources", required=True))
    if not sources and "sources" in r.data:
        problems.add("sources", "must name at least one source")
    currency = r.text("currency", default="CNY", choices=["CNY"])
    rounding = _rounding(r.child("rounding"), problems)
    tou_reader = r.child("tou")
    tou = _tou(tou_reader) if tou_reader is not None else None
    components: list[Component] = []
    ids: set[str] = set()
    raw_components = r.list_("components", required=True)
    if not raw_components and "components" in r.data:
        problems.add("components", "must list at least one component")
    for i, raw in enumerate(raw_components):
        c = _Reader(raw, _join("components", i), problems)
        kind = c.text("kind", required=True, choices=COMPONENT_KINDS)
        c.used.add("kind")
        comp: Component | None
        if kind == "energy":
            comp = _energy(c, tou, rounding)
        elif kind == "basic":
            comp = _basic(c)
        elif kind == "power_factor":
            comp = _power_factor(c, base_dir)
        elif kind == "losses":
            comp = _losses(c)
        elif kind == "funds":
            comp = _funds(c)
        else:
            comp = None
        if comp is None:
            continue
        if comp.id in ids:
            problems.add(c.p("id"), f"duplicate component id {comp.id!r}")
        if comp.id and not comp.id.replace("_", "").isalnum():
            problems.add(c.p("id"), "must be letters, digits and underscores")
        ids.add(comp.id)
        components.append(comp)
    kinds = [c.kind for c in components]
    for kind in ("basic", "power_factor", "losses", "funds"):
        if kinds.count(kind) > 1:
            problems.add("components", f"at most one {kind} component")
    for i, comp in enumerate(components):
        if isinstance(comp, PowerFactorComponent):
            for j, target in enumerate(comp.applies_to):
                other = next((c for c in components if c.id == target), None)
                if other is None:
                    problems.add(f"components[{i}].applies_to[{j}]", f"no component with id {target!r}")
                elif other.kind not in ("energy", "basic"):
                    problems.add(f"components[{i}].applies_to[{j}]", f"{target!r} is {other.kind}; only energy and basic charges are power-factor adjusted")
    tiered = [c for c in components if isinstance(c, EnergyComponent) and c.tiers]
    if len(tiered) > 1:
        problems.add("components", "at most one tiered energy component")
    r.finish()
    problems.raise_if_any(source)
    assert effective_from is not None
    return Schedule(
        code=code,
        version=version,
        name_zh=name_zh,
        name_en=name_en,
        effective_from=effective_from,
        effective_to=effective_to,
        components=tuple(components),
        rounding=rounding,
        tou=tou,
        sources=sources,
        currency=currency,
    )


def parse_yaml(text: str, *, source: str = "<tariff>", base_dir: Path | None = None) -> tuple[Schedule, ...]:
    """Parse one file's text: one document, or several ``---``-separated versions."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=_DecimalLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise TariffFileInvalid(f"{source}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})", field=where) from None
    if not documents:
        raise TariffFileInvalid(f"{source}: the file is empty", field="(document)")
    many = len(documents) > 1
    return tuple(
        parse_schedule(d, source=source, base_dir=base_dir, prefix=f"documents[{i}]." if many else "")
        for i, d in enumerate(documents)
    )


def load_schedule_file(path: Path | str) -> tuple[Schedule, ...]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TariffFileInvalid(f"{path}: cannot read ({exc.strerror})", field=str(path)) from None
    return parse_yaml(text, source=str(path), base_dir=path.parent)


def load_schedules(paths: Iterable[Path | str]) -> ScheduleSet:
    schedules: list[Schedule] = []
    for path in paths:
        schedules.extend(load_schedule_file(path))
    return ScheduleSet(tuple(schedules))


def library_dir() -> Path:
    return Path(str(resources.files("gridcare.rating") / "library"))


def load_library() -> ScheduleSet:
    """Every shipped, sourced tariff (``src/gridcare/rating/library/*.yaml``)."""
    paths = sorted(p for p in library_dir().glob("*.yaml") if not p.name.startswith("pf-"))
    return load_schedules(paths)

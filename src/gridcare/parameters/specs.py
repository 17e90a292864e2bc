"""What each kind of billing parameter says, parsed from its JSON spec into frozen dataclasses.

Parsing is the single place a spec is validated: the console, the API and the billing engine all
go through :func:`parse_spec`, so a spec that was approved is one the engine can apply. Errors
name the spec field (``spec.ratios[1].percent``) and say what is wrong in words a clerk can act on.

Units: energy in Wh (1 kWh = 1000), capacity in VA, shares in ppm (1 % = 10 000): integers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from gridcare.core.errors import ValidationFailed
from gridcare.parameters.config import REGISTER_MODES, SPLIT_ORDERS, ParametersConfig
from gridcare.rating.model import BUCKETS

KINDS = ("split", "deduction", "sharing", "free_allowance", "capacity")
KIND_LABELS_ZH = {
    "split": "定量定比", "deduction": "扣减（总分表）", "sharing": "公用分摊", "free_allowance": "免费电",
    "capacity": "计费容量",
}
KIND_LABELS_EN = {
    "split": "Fixed quantity / fixed ratio", "deduction": "Parent/child deduction", "sharing": "Shared usage",
    "free_allowance": "Free allowance", "capacity": "Billing capacity",
}
CAPACITY_CHANGES = ("base", "increase", "decrease", "suspend", "temp_replace")
CAPACITY_CHANGE_ZH = {"base": "核定容量", "increase": "增容", "decrease": "减容", "suspend": "暂停",
                      "temp_replace": "暂换"}
PPM = 1_000_000


class ParameterSpecInvalid(ValidationFailed):
    code = "parameter_invalid"


def _fail(message: str, field: str) -> None:
    raise ParameterSpecInvalid(message, field=field)


def _decimal(value: Any, field: str, *, places: int, positive: bool = True) -> Decimal:
    if isinstance(value, bool | float) or value is None:
        _fail(f"{field} must be a number written as text or an integer (e.g. \"300\"), got {value!r}", field)
    try:
        out = Decimal(str(value).strip())
    except InvalidOperation:
        _fail(f"{field}: {value!r} is not a number", field)
    if not out.is_finite():
        _fail(f"{field}: {value!r} is not a number", field)
    if out.as_tuple().exponent < -places:  # type: ignore[operator]
        _fail(f"{field}: at most {places} decimal places, got {value}", field)
    if positive and out <= 0:
        _fail(f"{field} must be greater than 0, got {value}", field)
    if not positive and out < 0:
        _fail(f"{field} must not be negative, got {value}", field)
    return out


def _kwh_to_wh(value: Any, field: str, *, positive: bool = True) -> int:
    return int(_decimal(value, field, places=3, positive=positive) * 1000)


def _kva_to_va(value: Any, field: str, *, positive: bool = True) -> int:
    return int(_decimal(value, field, places=3, positive=positive) * 1000)


def _percent_to_ppm(value: Any, field: str) -> int:
    pct = _decimal(value, field, places=4)
    if pct > 100:
        _fail(f"{field} must be at most 100, got {value}", field)
    return int(pct * 10_000)


def _text(value: Any, field: str, *, required: bool = False, max_len: int = 64) -> str | None:
    if value is None or value == "":
        if required:
            _fail(f"{field} is required", field)
        return None
    if not isinstance(value, str):
        _fail(f"{field} must be text, got {value!r}", field)
    if len(value) > max_len:
        _fail(f"{field} is longer than {max_len} characters", field)
    return value.strip()


def _account_id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        _fail(f"{field} must be an account id (a positive integer), got {value!r}", field)
    return value


def _mapping(data: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        _fail(f"{field} must be an object", field)
    return data


def _no_unknown(data: Mapping[str, Any], allowed: set[str], field: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        _fail(f"{field}: unknown key(s) {unknown}; expected some of {sorted(allowed)}", f"{field}.{unknown[0]}")


def _tariff(value: Any, field: str, tariffs: set[str] | None, *, required: bool) -> str | None:
    code = _text(value, field, required=required)
    if code is not None and tariffs is not None and code not in tariffs:
        _fail(f"{field}: unknown tariff {code!r}", field)
    return code


# -- 定量定比 ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuantityStep:
    wh: int
    tariff: str
    category: str | None
    registers: str  # proportional | a bucket name
    label: str


@dataclass(frozen=True)
class RatioPart:
    ppm: int
    tariff: str | None  # None = the account's own tariff (the main part)
    category: str | None
    label: str


@dataclass(frozen=True)
class SplitSpec:
    order: str
    quantities: tuple[QuantityStep, ...]
    ratios: tuple[RatioPart, ...]


def _split(data: Mapping[str, Any], config: ParametersConfig, tariffs: set[str] | None) -> SplitSpec:
    _no_unknown(data, {"order", "quantities", "ratios"}, "spec")
    order = data.get("order") or config.split_order
    if order not in SPLIT_ORDERS:
        _fail(f"spec.order must be one of {list(SPLIT_ORDERS)}, got {order!r}", "spec.order")
    raw_q = data.get("quantities") or []
    raw_r = data.get("ratios") or []
    if not isinstance(raw_q, list) or not isinstance(raw_r, list):
        _fail("spec.quantities and spec.ratios must be lists", "spec.quantities")
    if not raw_q and not raw_r:
        _fail("a split needs at least one fixed quantity or fixed ratio", "spec.quantities")
    quantities = []
    for i, q in enumerate(raw_q):
        where = f"spec.quantities[{i}]"
        q = _mapping(q, where)
        _no_unknown(q, {"kwh", "tariff", "category", "registers", "label"}, where)
        registers = q.get("registers") or config.split_registers
        if registers not in REGISTER_MODES:
            _fail(f"{where}.registers must be one of {list(REGISTER_MODES)}, got {registers!r}", f"{where}.registers")
        tariff = _tariff(q.get("tariff"), f"{where}.tariff", tariffs, required=True)
        quantities.append(QuantityStep(
            wh=_kwh_to_wh(q.get("kwh"), f"{where}.kwh"), tariff=tariff or "", category=_text(q.get("category"),
                                                                                               f"{where}.category"),
            registers=registers, label=_text(q.get("label"), f"{where}.label", max_len=40) or "",
        ))
    ratios = []
    for i, r in enumerate(raw_r):
        where = f"spec.ratios[{i}]"
        r = _mapping(r, where)
        _no_unknown(r, {"percent", "tariff", "category", "label"}, where)
        ratios.append(RatioPart(
            ppm=_percent_to_ppm(r.get("percent"), f"{where}.percent"),
            tariff=_tariff(r.get("tariff"), f"{where}.tariff", tariffs, required=False),
            category=_text(r.get("category"), f"{where}.category"),
            label=_text(r.get("label"), f"{where}.label", max_len=40) or "",
        ))
    if ratios:
        total = sum(r.ppm for r in ratios)
        if total != PPM:
            _fail(f"fixed ratios must add up to 100%; these add up to {Decimal(total) / 10_000}%", "spec.ratios")
        if sum(1 for r in ratios if r.tariff is None) > 1:
            _fail("only one ratio part may stay on the account's own tariff (tariff left empty)", "spec.ratios")
    return SplitSpec(order=order, quantities=tuple(quantities), ratios=tuple(ratios))


# -- 扣减 -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeductionSpec:
    """On the child (子表) account: its metered usage is deducted from the parent's."""

    parent_account_id: int
    registers: str  # each | proportional


def _deduction(data: Mapping[str, Any], config: ParametersConfig) -> DeductionSpec:
    _no_unknown(data, {"parent_account_id", "registers"}, "spec")
    registers = data.get("registers") or config.deduction_registers
    if registers not in ("each", "proportional"):
        _fail(f"spec.registers must be each or proportional, got {registers!r}", "spec.registers")
    return DeductionSpec(parent_account_id=_account_id(data.get("parent_account_id"), "spec.parent_account_id"),
                         registers=registers)


# -- 公用分摊 --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    account_id: int
    ppm: int  # 0 when shared by consumption


@dataclass(frozen=True)
class SharingSpec:
    """On the pool account: a shared meter's usage (source=meter) or a fixed kWh a period
    (source=fixed, e.g. a shared transformer's loss) shared out to member accounts."""

    source: str  # meter | fixed
    fixed_wh: int
    basis: str  # ratio | consumption
    registers: str  # proportional | flat
    members: tuple[Member, ...]


def _sharing(data: Mapping[str, Any], config: ParametersConfig) -> SharingSpec:
    _no_unknown(data, {"source", "kwh", "basis", "registers", "members"}, "spec")
    source = data.get("source") or "meter"
    if source not in ("meter", "fixed"):
        _fail(f"spec.source must be meter or fixed, got {source!r}", "spec.source")
    fixed_wh = _kwh_to_wh(data.get("kwh"), "spec.kwh") if source == "fixed" else 0
    if source == "meter" and data.get("kwh") not in (None, ""):
        _fail("spec.kwh is only used with source fixed", "spec.kwh")
    basis = data.get("basis") or "ratio"
    if basis not in ("ratio", "consumption"):
        _fail(f"spec.basis must be ratio or consumption, got {basis!r}", "spec.basis")
    registers = data.get("registers") or config.sharing_registers
    if registers not in ("proportional", "flat"):
        _fail(f"spec.registers must be proportional or flat, got {registers!r}", "spec.registers")
    raw = data.get("members")
    if not isinstance(raw, list) or len(raw) < 1:
        _fail("spec.members must list at least one member account", "spec.members")
    members, seen = [], set()
    for i, m in enumerate(raw):
        where = f"spec.members[{i}]"
        m = _mapping(m, where)
        _no_unknown(m, {"account_id", "percent"}, where)
        acc = _account_id(m.get("account_id"), f"{where}.account_id")
        if acc in seen:
            _fail(f"{where}.account_id: account {acc} is listed twice", f"{where}.account_id")
        seen.add(acc)
        if basis == "ratio":
            ppm = _percent_to_ppm(m.get("percent"), f"{where}.percent")
        else:
            if m.get("percent") not in (None, ""):
                _fail(f"{where}.percent: shares by consumption take no percentage", f"{where}.percent")
            ppm = 0
        members.append(Member(account_id=acc, ppm=ppm))
    if basis == "ratio":
        total = sum(m.ppm for m in members)
        if total != PPM:
            _fail(f"member shares must add up to 100%; these add up to {Decimal(total) / 10_000}%", "spec.members")
    return SharingSpec(source=source, fixed_wh=fixed_wh, basis=basis, registers=registers, members=tuple(members))


# -- 免费电 ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AllowanceSpec:
    scheme: str
    wh: int  # free energy a period
    label_zh: str
    label_en: str


def _allowance(data: Mapping[str, Any], config: ParametersConfig) -> AllowanceSpec:
    _no_unknown(data, {"scheme", "kwh"}, "spec")
    scheme = data.get("scheme")
    if scheme not in config.allowance_schemes:
        _fail(f"spec.scheme must be one of {sorted(config.allowance_schemes)}, got {scheme!r}", "spec.scheme")
    s = config.allowance_schemes[scheme]
    wh = _kwh_to_wh(data["kwh"], "spec.kwh") if data.get("kwh") not in (None, "") else int(s.kwh * 1000)
    return AllowanceSpec(scheme=scheme, wh=wh, label_zh=s.label_zh, label_en=s.label_en)


# -- 计费容量 -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CapacitySpec:
    """Billing capacity over the version's dates. base/increase/decrease/temp_replace set the
    capacity billed (暂换: the replacement transformer's); suspend seals part of it (暂停)."""

    change: str
    capacity_va: int | None  # None = the account's contracted capacity
    suspended_va: int


def _capacity(data: Mapping[str, Any]) -> CapacitySpec:
    _no_unknown(data, {"change", "capacity_kva", "suspended_kva"}, "spec")
    change = data.get("change")
    if change not in CAPACITY_CHANGES:
        _fail(f"spec.change must be one of {list(CAPACITY_CHANGES)}, got {change!r}", "spec.change")
    cap = data.get("capacity_kva")
    capacity_va = _kva_to_va(cap, "spec.capacity_kva") if cap not in (None, "") else None
    if change != "suspend" and capacity_va is None:
        _fail(f"spec.capacity_kva is required for {change}", "spec.capacity_kva")
    suspended_va = 0
    if change == "suspend":
        suspended_va = _kva_to_va(data.get("suspended_kva"), "spec.suspended_kva")
        if capacity_va is not None and suspended_va > capacity_va:
            _fail("spec.suspended_kva cannot exceed spec.capacity_kva", "spec.suspended_kva")
    elif data.get("suspended_kva") not in (None, ""):
        _fail("spec.suspended_kva is only used with change suspend", "spec.suspended_kva")
    return CapacitySpec(change=change, capacity_va=capacity_va, suspended_va=suspended_va)


Spec = SplitSpec | DeductionSpec | SharingSpec | AllowanceSpec | CapacitySpec


def parse_spec(kind: str, data: Any, *, config: ParametersConfig, tariffs: set[str] | None = None) -> Spec:
    """Validate and parse a spec. `tariffs`, when given, are the tariff codes that exist."""
    if kind not in KINDS:
        _fail(f"kind must be one of {list(KINDS)}, got {kind!r}", "kind")
    data = _mapping(data, "spec")
    if kind == "split":
        return _split(data, config, tariffs)
    if kind == "deduction":
        return _deduction(data, config)
    if kind == "sharing":
        return _sharing(data, config)
    if kind == "free_allowance":
        return _allowance(data, config)
    return _capacity(data)


def related_accounts(kind: str, spec: Spec) -> tuple[int, ...]:
    """Other accounts a spec refers to (their usage is needed to apply it)."""
    if isinstance(spec, DeductionSpec):
        return (spec.parent_account_id,)
    if isinstance(spec, SharingSpec):
        return tuple(m.account_id for m in spec.members)
    return ()


__all__ = [
    "BUCKETS",
    "CAPACITY_CHANGES",
    "KINDS",
    "AllowanceSpec",
    "CapacitySpec",
    "DeductionSpec",
    "Member",
    "ParameterSpecInvalid",
    "QuantityStep",
    "RatioPart",
    "SharingSpec",
    "Spec",
    "SplitSpec",
    "parse_spec",
    "related_accounts",
]


def describe(kind: str, spec: Mapping[str, Any] | None, *, lang: str = "zh") -> str:
    """One line a clerk can read, e.g. "定量 300 kWh → gz-residential；定比 80% 本户电价 / 20% gd-ci-tou-lt1kv".
    Falls back to the raw spec when it does not parse (it is shown, never applied, then)."""
    zh = lang.startswith("zh")
    spec = spec or {}
    if not spec:
        return "（不执行）" if zh else "(none)"
    try:
        if kind == "split":
            parts = []
            for q in spec.get("quantities") or []:
                reg = q.get("registers") or "proportional"
                where = "" if reg == "proportional" else (f"（取{reg}）" if zh else f" (from {reg})")
                parts.append(f"{'定量' if zh else 'fixed'} {q['kwh']} kWh → {q['tariff']}{where}")
            ratios = [f"{r['percent']}% {r.get('tariff') or ('本户电价' if zh else 'own tariff')}"
                      for r in spec.get("ratios") or []]
            if ratios:
                parts.append(("定比 " if zh else "ratio ") + " / ".join(ratios))
            order = spec.get("order") or "quantity_first"
            tail = "" if order == "quantity_first" else ("（先定比后定量）" if zh else " (ratios first)")
            return ("；" if zh else "; ").join(parts) + tail
        if kind == "deduction":
            return (f"从总表户 {spec['parent_account_id']} 扣减本表电量" if zh
                    else f"deducted from parent account {spec['parent_account_id']}")
        if kind == "sharing":
            src = (f"固定 {spec['kwh']} kWh" if zh else f"fixed {spec['kwh']} kWh") if spec.get("source") == "fixed" \
                else ("本表电量" if zh else "this meter's usage")
            basis = spec.get("basis") or "ratio"
            members = ", ".join(f"{m['account_id']}" + (f" {m['percent']}%" if basis == "ratio" else "")
                                for m in spec.get("members") or [])
            how = ("按比例" if basis == "ratio" else "按电量") if zh else ("by ratio" if basis == "ratio" else "by usage")
            return f"{src} {how}分摊给 {members}" if zh else f"{src} shared {how} to {members}"
        if kind == "free_allowance":
            kwh = spec.get("kwh")
            return (f"免费电 {spec['scheme']}" + (f" {kwh} kWh/月" if kwh else "")) if zh else (
                f"free allowance {spec['scheme']}" + (f" {kwh} kWh/month" if kwh else ""))
        if kind == "capacity":
            change = spec["change"]
            if change == "suspend":
                return (f"暂停 {spec['suspended_kva']} kVA" if zh else f"suspend {spec['suspended_kva']} kVA")
            label = CAPACITY_CHANGE_ZH[change] if zh else change.replace("_", " ")
            return f"{label} {spec['capacity_kva']} kVA"
    except (KeyError, TypeError):
        pass
    return str(dict(spec))

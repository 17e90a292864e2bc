"""Collections policy: late-fee rules, dunning stages, promises, suspension and restoration.

Loaded from the YAML files in `policy/` (each number with its source) with an optional company
file (GRIDCARE_COLLECTIONS_POLICY) merged over them key by key. A file that does not validate
fails at load time naming the key, never half-way through a nightly run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from gridcare.collections.latefees import LateFeeRule
from gridcare.core.calendars import CalendarError, Duration
from gridcare.core.money import ROUNDING_MODES
from gridcare.notifications.policy import CHANNELS as OUTBOX_CHANNELS
from gridcare.notifications.policy import PolicyError, deep_merge, read_yaml

POLICY_DIR = Path(__file__).resolve().parent / "policy"
POLICY_FILES = ("late_fees.yaml", "dunning.yaml", "suspension.yaml")
DUNNING_CHANNELS = ("sms", "email", "call")


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, float | bool):
        raise PolicyError(f"{where}: write rates as quoted strings (e.g. \"0.002\"), got {value!r}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise PolicyError(f"{where}: {value!r} is not a number") from None
    if out < 0 or out >= 1:
        raise PolicyError(f"{where}: a daily rate must be in [0, 1), got {out}")
    return out


def _int(value: Any, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyError(f"{where}: expected a whole number ≥ {minimum}, got {value!r}")
    return value


def _duration(value: Any, where: str) -> Duration:
    try:
        return Duration.parse(value, where=where)
    except CalendarError as exc:
        raise PolicyError(str(exc)) from None


def _by_category(data: Any, where: str, parse) -> dict[str, Any]:
    if not isinstance(data, Mapping) or "default" not in data:
        raise PolicyError(f"{where}: expected a mapping by category with a `default` entry")
    return {str(k): parse(v, f"{where}.{k}") for k, v in data.items()}


# -- late fees ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LateFeePolicy:
    rules: dict[str, LateFeeRule]  # category -> rule; "default" always present
    charge_kinds: tuple[str, ...]
    assess_at_month_end: bool
    assess_on_payment: bool
    payment_lookback_days: int

    def rule_for(self, category: str) -> LateFeeRule:
        return self.rules.get(category, self.rules["default"])


def _late_fees(data: Mapping[str, Any]) -> LateFeePolicy:
    grace = _int(data.get("grace_days", 0), "late_fees.grace_days")
    minimum = _int(data.get("minimum_fen", 100), "late_fees.minimum_fen")
    rounding = str(data.get("rounding", "half_up"))
    if rounding not in ROUNDING_MODES:
        raise PolicyError(f"late_fees.rounding: expected one of {sorted(ROUNDING_MODES)}, got {rounding!r}")

    def rule(spec: Any, where: str) -> LateFeeRule:
        if not isinstance(spec, Mapping) or "current_year" not in spec:
            raise PolicyError(f"{where}: expected {{current_year, cross_year}}")
        current = _decimal(spec["current_year"], f"{where}.current_year")
        cross = _decimal(spec.get("cross_year", spec["current_year"]), f"{where}.cross_year")
        return LateFeeRule(current_year_rate=current, cross_year_rate=cross, grace_days=grace,
                           minimum_fen=minimum, rounding=rounding)

    rules = _by_category(data.get("rates"), "late_fees.rates", rule)
    return LateFeePolicy(
        rules=rules, charge_kinds=tuple(str(k) for k in data.get("charge_kinds") or ("bill",)),
        assess_at_month_end=bool(data.get("assess_at_month_end", True)),
        assess_on_payment=bool(data.get("assess_on_payment", True)),
        payment_lookback_days=_int(data.get("payment_lookback_days", 62), "late_fees.payment_lookback_days",
                                   minimum=1),
    )


# -- dunning --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    code: str
    label: str
    offset_days: int  # relative to the due date; negative = before
    channels: tuple[str, ...]
    template: str
    min_amount_fen: int

    @property
    def overdue(self) -> bool:
        return self.offset_days > 0


@dataclass(frozen=True)
class DunningPolicy:
    stages: tuple[Stage, ...]  # ordered by offset
    min_amount_fen: int
    catch_up_days: int
    call_due_within: Duration
    promise_max_days_ahead: int
    promise_max_per_bill: int

    def stage(self, code: str) -> Stage:
        for stage in self.stages:
            if stage.code == code:
                return stage
        raise KeyError(code)


def _dunning(data: Mapping[str, Any], promises: Mapping[str, Any]) -> DunningPolicy:
    raw = data.get("stages") or []
    if not raw:
        raise PolicyError("dunning.stages: at least one stage")
    stages = []
    for i, spec in enumerate(raw):
        where = f"dunning.stages[{i}]"
        if not isinstance(spec, Mapping) or not spec.get("code"):
            raise PolicyError(f"{where}: needs a code")
        offset = spec.get("offset_days")
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PolicyError(f"{where}.offset_days: a whole number of days (negative = before the due date)")
        channels = tuple(str(c) for c in spec.get("channels") or ())
        bad = [c for c in channels if c not in DUNNING_CHANNELS]
        if not channels or bad:
            raise PolicyError(f"{where}.channels: one or more of {', '.join(DUNNING_CHANNELS)}")
        template = str(spec.get("template", ""))
        if any(c in OUTBOX_CHANNELS for c in channels) and not template:
            raise PolicyError(f"{where}.template: needed for sms/email")
        stages.append(Stage(code=str(spec["code"]), label=str(spec.get("label", spec["code"])), offset_days=offset,
                            channels=channels, template=template,
                            min_amount_fen=_int(spec.get("min_amount_fen", 0), f"{where}.min_amount_fen")))
    codes = [s.code for s in stages]
    if len(set(codes)) != len(codes):
        raise PolicyError("dunning.stages: codes must be unique")
    offsets = [s.offset_days for s in stages]
    if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
        raise PolicyError("dunning.stages: list stages in order of strictly increasing offset_days")
    return DunningPolicy(
        stages=tuple(stages), min_amount_fen=_int(data.get("min_amount_fen", 0), "dunning.min_amount_fen"),
        catch_up_days=_int(data.get("catch_up_days", 3), "dunning.catch_up_days"),
        call_due_within=_duration(data.get("call_due_within") or {"amount": 1, "unit": "working_days"},
                                  "dunning.call_due_within"),
        promise_max_days_ahead=_int(promises.get("max_days_ahead", 15), "promises.max_days_ahead", minimum=1),
        promise_max_per_bill=_int(promises.get("max_per_bill", 2), "promises.max_per_bill", minimum=1),
    )


# -- suspension -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SuspensionPolicy:
    after_days_overdue: int
    min_amount_fen: int
    requires_stage: str
    notice_days: dict[str, int]
    reminder_before: dict[str, Duration]
    execute_at: time
    approve_capability: str
    execute_capability: str
    protected_classes: frozenset[str]
    restore_within: dict[str, Duration]
    restoration_work_order: bool
    restoration_category: str
    restoration_channel: str

    def notice_days_for(self, category: str) -> int:
        return self.notice_days.get(category, self.notice_days["default"])

    def reminder_for(self, category: str) -> Duration:
        return self.reminder_before.get(category, self.reminder_before["default"])

    def restore_for(self, category: str) -> Duration:
        return self.restore_within.get(category, self.restore_within["default"])

    def is_protected(self, protected_class: str) -> bool:
        return bool(protected_class) and protected_class.strip().lower() in self.protected_classes


def _suspension(data: Mapping[str, Any], stages: tuple[Stage, ...]) -> SuspensionPolicy:
    requires = str(data.get("requires_stage", ""))
    if requires and requires not in {s.code for s in stages}:
        raise PolicyError(f"suspension.requires_stage: {requires!r} is not a dunning stage")
    try:
        execute_at = time.fromisoformat(str(data.get("execute_at", "10:00")))
    except ValueError:
        raise PolicyError("suspension.execute_at: a time of day, HH:MM") from None
    work_order = data.get("restoration_work_order") or {}
    return SuspensionPolicy(
        after_days_overdue=_int(data.get("after_days_overdue", 30), "suspension.after_days_overdue"),
        min_amount_fen=_int(data.get("min_amount_fen", 0), "suspension.min_amount_fen"),
        requires_stage=requires,
        notice_days=_by_category(data.get("notice_days"), "suspension.notice_days",
                                 lambda v, w: _int(v, w, minimum=1)),
        reminder_before=_by_category(data.get("reminder_before"), "suspension.reminder_before", _duration),
        execute_at=execute_at,
        approve_capability=str(data.get("approve_capability", "payments.approve")),
        execute_capability=str(data.get("execute_capability", "payments.approve")),
        protected_classes=frozenset(str(c).strip().lower() for c in data.get("protected_classes") or ()),
        restore_within=_by_category(data.get("restore_within"), "suspension.restore_within", _duration),
        restoration_work_order=bool(work_order.get("enabled", False)),
        restoration_category=str(work_order.get("category", "business.reconnect")),
        restoration_channel=str(work_order.get("channel", "system")),
    )


@dataclass(frozen=True)
class CollectionsPolicy:
    late_fees: LateFeePolicy
    dunning: DunningPolicy
    suspension: SuspensionPolicy


def policy_from_mapping(data: Mapping[str, Any]) -> CollectionsPolicy:
    dunning = _dunning(data.get("dunning") or {}, data.get("promises") or {})
    return CollectionsPolicy(late_fees=_late_fees(data.get("late_fees") or {}), dunning=dunning,
                             suspension=_suspension(data.get("suspension") or {}, dunning.stages))


def load_mapping(override: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in POLICY_FILES:
        data = deep_merge(data, read_yaml(POLICY_DIR / name))
    if override:
        data = deep_merge(data, read_yaml(Path(override)))
    return data


def _override_path() -> str | None:
    return getattr(settings, "GRIDCARE_COLLECTIONS_POLICY", None) or os.environ.get("GRIDCARE_COLLECTIONS_POLICY")


@lru_cache(maxsize=4)
def _load(override: str | None) -> CollectionsPolicy:
    return policy_from_mapping(load_mapping(override))


def collections_policy() -> CollectionsPolicy:
    return _load(_override_path())


def reset_caches() -> None:
    _load.cache_clear()

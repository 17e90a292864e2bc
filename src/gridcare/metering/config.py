"""Metering defaults from `defaults.yaml`, overridable by a site file (GRIDCARE_METERING_CONFIG)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gridcare.core.errors import ValidationFailed


@dataclass(frozen=True)
class MeteringConfig:
    read_day: int
    due_days: int
    read_window_days: int
    spike_factor: Decimal
    spike_min_kwh: Decimal
    history_days: int
    zero_usage: str  # quarantine | accept
    rollover: str  # quarantine | accept
    rollover_max_share: Decimal
    estimation_history_days: int
    gap_linear_max_minutes: int = 60
    gap_history_weeks: int = 4
    gap_max_fill_share: Decimal = Decimal("0.5")
    gap_reconcile_with_register: bool = True

    def with_overrides(self, **changes: Any) -> MeteringConfig:
        return replace(self, **changes)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(data: dict) -> MeteringConfig:
    cal, val, est = data["calendar"], data["validation"], data["estimation"]
    gaps = data.get("interval_gaps") or {}
    config = MeteringConfig(
        read_day=int(cal["read_day"]),
        due_days=int(cal["due_days"]),
        read_window_days=int(cal["read_window_days"]),
        spike_factor=Decimal(str(val["spike_factor"])),
        spike_min_kwh=Decimal(str(val["spike_min_kwh"])),
        history_days=int(val["history_days"]),
        zero_usage=str(val["zero_usage"]),
        rollover=str(val["rollover"]),
        rollover_max_share=Decimal(str(val["rollover_max_share"])),
        estimation_history_days=int(est["history_days"]),
        gap_linear_max_minutes=int(gaps.get("linear_max_minutes", 60)),
        gap_history_weeks=int(gaps.get("history_weeks", 4)),
        gap_max_fill_share=Decimal(str(gaps.get("max_fill_share", "0.5"))),
        gap_reconcile_with_register=bool(gaps.get("reconcile_with_register", True)),
    )
    if not 1 <= config.read_day <= 28:
        raise ValidationFailed("calendar.read_day must be 1..28", field="calendar.read_day")
    if config.gap_linear_max_minutes < 0 or config.gap_history_weeks < 0 or not (
            0 <= config.gap_max_fill_share <= 1):
        raise ValidationFailed("interval_gaps: minutes and weeks must be ≥ 0, max_fill_share 0..1",
                               field="interval_gaps")
    for name in ("zero_usage", "rollover"):
        if getattr(config, name) not in ("quarantine", "accept"):
            raise ValidationFailed(f"validation.{name} must be quarantine or accept", field=f"validation.{name}")
    return config


@lru_cache(maxsize=4)
def _load(site_path: str | None) -> MeteringConfig:
    data = yaml.safe_load(resources.files("gridcare.metering").joinpath("defaults.yaml").read_text("utf-8"))
    if site_path:
        data = _merge(data, yaml.safe_load(Path(site_path).read_text("utf-8")) or {})
    return _build(data)


def metering_config() -> MeteringConfig:
    return _load(os.environ.get("GRIDCARE_METERING_CONFIG") or None)

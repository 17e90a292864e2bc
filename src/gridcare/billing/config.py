"""Audit-rule and run defaults from `defaults.yaml`, with the database overrides (AuditRule rows)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

RULE_CODES = (
    "usage_change_mom", "usage_change_yoy", "zero_usage", "estimated_read", "abnormal_pf", "abnormal_tou_share",
    "amount_above", "first_bill", "tariff_or_meter_change",
)


@dataclass(frozen=True)
class AuditConfig:
    rules: dict[str, dict[str, Any]]  # code -> params, only enabled rules
    sample_rate: Decimal
    chunk_size: int

    def enabled(self, code: str) -> bool:
        return code in self.rules

    def param(self, code: str, name: str) -> Any:
        return self.rules[code][name]


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return yaml.safe_load(resources.files("gridcare.billing").joinpath("defaults.yaml").read_text("utf-8"))


def default_rules() -> dict[str, dict[str, Any]]:
    return {code: dict(spec) for code, spec in _defaults()["audit_rules"].items()}


def build_config(overrides: dict[str, tuple[bool, dict[str, Any]]], *, sample_rate: str | None = None,
                 chunk_size: int | None = None) -> AuditConfig:
    data = _defaults()
    rules = {}
    for code, spec in data["audit_rules"].items():
        spec = dict(spec)
        enabled = bool(spec.pop("enabled", True))
        if code in overrides:
            enabled, params = overrides[code]
            spec.update(params or {})
        if enabled:
            rules[code] = spec
    return AuditConfig(
        rules=rules,
        sample_rate=Decimal(str(sample_rate if sample_rate is not None else data["sampling"]["rate"])),
        chunk_size=int(chunk_size or data["run"]["chunk_size"]),
    )


@dataclass(frozen=True)
class DocumentConfig:
    fonts: tuple[tuple[str, int], ...]
    fallback_cid_font: str


def document_config() -> DocumentConfig:
    data = _defaults().get("document", {})
    fonts = tuple((str(f["path"]), int(f.get("index", 0))) for f in data.get("fonts", []))
    return DocumentConfig(fonts=fonts, fallback_cid_font=str(data.get("fallback_cid_font", "STSong-Light")))

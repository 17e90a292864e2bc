"""Configuration of the billing parameters: defaults.yaml (every number with its source) merged
with an optional company file named by GRIDCARE_PARAMETERS_POLICY.

Pure Python (no Django) so the engine can run wherever the rating kernel runs. A file that does
not validate raises ParametersConfigInvalid at load time, naming the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gridcare.core.errors import GridcareError
from gridcare.core.money import ROUNDING_MODES
from gridcare.rating.model import BUCKETS

DEFAULTS_FILE = Path(__file__).resolve().parent / "defaults.yaml"
REGISTER_MODES = ("proportional", *BUCKETS)
SPLIT_ORDERS = ("quantity_first", "ratio_first")


class ParametersConfigInvalid(GridcareError):
    code = "parameters_config_invalid"


@dataclass(frozen=True)
class AllowanceScheme:
    code: str
    label_zh: str
    label_en: str
    kwh: Decimal


@dataclass(frozen=True)
class ParametersConfig:
    prepare_capability: str
    approve_capability: str
    split_order: str
    split_registers: str
    deduction_registers: str
    sharing_registers: str
    allowance_schemes: Mapping[str, AllowanceScheme]
    allowance_source: str
    allowance_components: tuple[str, ...]
    allowance_include_funds: bool
    allowance_rounding: str
    unauthorised_source: str
    unauthorised_multiple: Decimal
    unauthorised_per_kva: Decimal
    unauthorised_rounding: str
    backbilling_source: str
    meter_error_time_share: Decimal
    backbilling_max_periods: int


def _merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ParametersConfigInvalid(f"{path}: cannot read ({exc})", field=str(path)) from None
    if not isinstance(data, Mapping):
        raise ParametersConfigInvalid(f"{path}: top level must be a mapping", field=str(path))
    return dict(data)


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ParametersConfigInvalid(f"missing key {dotted}", field=dotted)
        node = node[part]
    return node


def _dec(data: Mapping[str, Any], dotted: str, *, low: Decimal = Decimal(0), high: Decimal | None = None) -> Decimal:
    value = _get(data, dotted)
    if isinstance(value, bool | float):
        raise ParametersConfigInvalid(f"{dotted}: write numbers as quoted strings, got {value!r}", field=dotted)
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ParametersConfigInvalid(f"{dotted}: {value!r} is not a number", field=dotted) from None
    if out < low or (high is not None and out > high):
        raise ParametersConfigInvalid(f"{dotted}: {out} outside [{low}, {high if high is not None else '∞'}]",
                                      field=dotted)
    return out


def _choice(data: Mapping[str, Any], dotted: str, choices: tuple[str, ...]) -> str:
    value = _get(data, dotted)
    if value not in choices:
        raise ParametersConfigInvalid(f"{dotted}: {value!r} is not one of {list(choices)}", field=dotted)
    return str(value)


def build_config(data: Mapping[str, Any]) -> ParametersConfig:
    schemes_raw = _get(data, "free_allowance.schemes")
    if not isinstance(schemes_raw, Mapping) or not schemes_raw:
        raise ParametersConfigInvalid("free_allowance.schemes must name at least one scheme",
                                      field="free_allowance.schemes")
    schemes = {}
    for code in schemes_raw:
        where = f"free_allowance.schemes.{code}"
        schemes[str(code)] = AllowanceScheme(
            code=str(code), label_zh=str(_get(data, f"{where}.label_zh")), label_en=str(_get(data, f"{where}.label_en")),
            kwh=_dec(data, f"{where}.kwh"),
        )
    components = _get(data, "free_allowance.credit_components")
    if not isinstance(components, list) or not components:
        raise ParametersConfigInvalid("free_allowance.credit_components must be a non-empty list",
                                      field="free_allowance.credit_components")
    max_periods = _get(data, "backbilling.max_periods")
    if isinstance(max_periods, bool) or not isinstance(max_periods, int) or max_periods < 1:
        raise ParametersConfigInvalid("backbilling.max_periods must be a whole number ≥ 1",
                                      field="backbilling.max_periods")
    rounding_modes = tuple(ROUNDING_MODES)
    return ParametersConfig(
        prepare_capability=str(_get(data, "approval.prepare_capability")),
        approve_capability=str(_get(data, "approval.approve_capability")),
        split_order=_choice(data, "split.default_order", SPLIT_ORDERS),
        split_registers=_choice(data, "split.default_registers", REGISTER_MODES),
        deduction_registers=_choice(data, "deduction.default_registers", ("each", "proportional")),
        sharing_registers=_choice(data, "sharing.default_registers", ("proportional", "flat")),
        allowance_schemes=schemes,
        allowance_source=str(_get(data, "free_allowance.source")),
        allowance_components=tuple(str(c) for c in components),
        allowance_include_funds=bool(_get(data, "free_allowance.include_funds")),
        allowance_rounding=_choice(data, "free_allowance.rounding", rounding_modes),
        unauthorised_source=str(_get(data, "capacity.unauthorised.source")),
        unauthorised_multiple=_dec(data, "capacity.unauthorised.two_part_penalty_multiple"),
        unauthorised_per_kva=_dec(data, "capacity.unauthorised.other_penalty_yuan_per_kva"),
        unauthorised_rounding=_choice(data, "capacity.unauthorised.rounding", rounding_modes),
        backbilling_source=str(_get(data, "backbilling.source")),
        meter_error_time_share=_dec(data, "backbilling.meter_error_time_share", high=Decimal(1)),
        backbilling_max_periods=max_periods,
    )


def load_config(path: str | Path | None = None) -> ParametersConfig:
    data = _read(DEFAULTS_FILE)
    override = path if path is not None else os.environ.get("GRIDCARE_PARAMETERS_POLICY")
    if override:
        data = _merge(data, _read(Path(override)))
    return build_config(data)


@lru_cache(maxsize=1)
def default_config() -> ParametersConfig:
    """The packaged defaults merged with the company file; cached for the process."""
    return load_config()

"""The KPI catalogue: definitions, targets and alert thresholds as data (catalogue.yaml).

Thresholds are configurable defaults (a company points GRIDCARE_KPI_CATALOGUE at its own file);
code only knows how to measure a KPI, never what "good" is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

import yaml
from django.conf import settings
from django.utils.translation import get_language

from gridcare.core.errors import ValidationFailed

DEFAULT_PATH = Path(__file__).with_name("catalogue.yaml")
UNITS = ("percent", "hours")
DIRECTIONS = ("higher", "lower")
SCOPES = ("org", "company")


@dataclass(frozen=True)
class KpiDef:
    code: str
    name_zh: str
    name_en: str
    formula: str
    source: str
    unit: str
    direction: str
    target: Decimal
    warn: Decimal
    alert: Decimal
    scope: str
    basis_zh: str = ""
    basis_en: str = ""

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "zh-hans").startswith("en") else self.name_zh

    @property
    def basis(self) -> str:
        """What the formula counts, in the viewer's language (the formula itself is the standard's)."""
        return self.basis_en if (get_language() or "zh-hans").startswith("en") else self.basis_zh

    def level(self, value: Decimal | None) -> str:
        """'' (fine), 'warning' or 'critical' for a measured value; no value raises nothing."""
        if value is None:
            return ""
        worse = (lambda v, t: v < t) if self.direction == "higher" else (lambda v, t: v > t)
        if worse(value, self.alert):
            return "critical"
        if worse(value, self.warn):
            return "warning"
        return ""

    def threshold_for(self, level: str) -> Decimal:
        return self.alert if level == "critical" else self.warn

    def meets_target(self, value: Decimal | None) -> bool | None:
        if value is None:
            return None
        return value >= self.target if self.direction == "higher" else value <= self.target


def _decimal(raw, *, field: str) -> Decimal:
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(f"{field}: {raw!r} is not a number", field=field) from exc


def parse_catalogue(data: dict) -> dict[str, KpiDef]:
    """Validate a catalogue mapping; errors name the KPI and field so a bad edit is easy to find."""
    out: dict[str, KpiDef] = {}
    for i, row in enumerate((data or {}).get("kpis") or []):
        code = str(row.get("code") or "")
        where = f"kpis[{i}]" + (f" ({code})" if code else "")
        if not code:
            raise ValidationFailed(f"{where}: code is required", field="code")
        if code in out:
            raise ValidationFailed(f"{where}: duplicate code", field="code")
        for key, allowed in (("unit", UNITS), ("direction", DIRECTIONS), ("scope", SCOPES)):
            if row.get(key, "org" if key == "scope" else None) not in allowed:
                raise ValidationFailed(f"{where}: {key} must be one of {', '.join(allowed)}", field=key)
        kpi = KpiDef(code=code, name_zh=str(row.get("name_zh", code)), name_en=str(row.get("name_en", code)),
                     formula=str(row.get("formula", "")), source=str(row.get("source", "")), unit=row["unit"],
                     direction=row["direction"], target=_decimal(row.get("target"), field=f"{where}.target"),
                     warn=_decimal(row.get("warn"), field=f"{where}.warn"),
                     alert=_decimal(row.get("alert"), field=f"{where}.alert"), scope=row.get("scope", "org"),
                     basis_zh=str(row.get("basis_zh", "")), basis_en=str(row.get("basis_en", "")))
        ordered = (kpi.target >= kpi.warn >= kpi.alert) if kpi.direction == "higher" else (
            kpi.target <= kpi.warn <= kpi.alert)
        if not ordered:
            raise ValidationFailed(f"{where}: target, warn and alert must get worse in that order "
                                   f"for direction {kpi.direction}", field="warn")
        out[code] = kpi
    return out


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, KpiDef]:
    with open(path, encoding="utf-8") as fh:
        return parse_catalogue(yaml.safe_load(fh))


def kpi_catalogue() -> dict[str, KpiDef]:
    return _load(str(getattr(settings, "GRIDCARE_KPI_CATALOGUE", None) or DEFAULT_PATH))


def reset_catalogue() -> None:
    _load.cache_clear()

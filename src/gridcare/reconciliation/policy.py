"""Reconciliation policy: statement sources and layouts, matching tolerances, supervision orders.

Loaded from `policy/reconciliation.yaml` with an optional company file
(GRIDCARE_RECONCILIATION_POLICY) merged over it key by key; validated at load time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from gridcare.core.errors import NotFound
from gridcare.notifications.policy import PolicyError, deep_merge, read_yaml
from gridcare.payments.fileformats import FileLayout, LayoutInvalid

POLICY_FILE = Path(__file__).resolve().parent / "policy" / "reconciliation.yaml"
KINDS = ("bank", "agency")
LINE_FIELDS = frozenset({"txn_ref", "amount_fen", "amount_yuan", "value_date", "paid_at", "reference",
                         "account_number", "payer_name"})
MATCH_FIELDS = ("reference", "txn_ref", "account_number")


@dataclass(frozen=True)
class StatementSource:
    code: str
    kind: str
    name: str
    covers: tuple[str, ...]
    match_fields: tuple[str, ...]
    layout: FileLayout


@dataclass(frozen=True)
class ReconciliationPolicy:
    sources: dict[str, StatementSource]
    tolerance_days: int
    fallback: bool
    settlement_lag_days: int
    supervision_enabled: bool
    supervision_category: str
    supervision_channel: str

    def source(self, code: str, *, kind: str | None = None) -> StatementSource:
        found = self.sources.get(code)
        if found is None or (kind is not None and found.kind != kind):
            known = ", ".join(sorted(c for c, s in self.sources.items() if kind is None or s.kind == kind))
            raise NotFound(f"unknown statement source {code!r}; configured: {known}", field=kind or "source")
        return found


def _source(code: str, spec: Any) -> StatementSource:
    where = f"statements.{code}"
    if not isinstance(spec, Mapping):
        raise PolicyError(f"{where}: expected a mapping")
    kind = str(spec.get("kind", ""))
    if kind not in KINDS:
        raise PolicyError(f"{where}.kind: expected bank or agency, got {kind!r}")
    try:
        layout = FileLayout.parse(spec.get("file"), where=f"{where}.file")
    except LayoutInvalid as exc:
        raise PolicyError(str(exc)) from None
    fields = set(layout.fields)
    unknown = fields - LINE_FIELDS
    if unknown:
        raise PolicyError(f"{where}.file.columns: unknown field(s) {sorted(unknown)}; use {sorted(LINE_FIELDS)}")
    if "txn_ref" not in fields or not ({"amount_fen", "amount_yuan"} & fields) \
            or not ({"value_date", "paid_at"} & fields):
        raise PolicyError(f"{where}.file.columns: needs txn_ref, an amount (amount_fen/amount_yuan) and a date "
                          "(value_date/paid_at)")
    covers = tuple(str(c) for c in spec.get("covers") or ())
    if not covers:
        raise PolicyError(f"{where}.covers: list the payment sources this statement reports")
    match_fields = tuple(str(f) for f in spec.get("match_fields") or ("reference", "txn_ref"))
    bad = [f for f in match_fields if f not in MATCH_FIELDS or f not in fields]
    if bad:
        raise PolicyError(f"{where}.match_fields: {bad} must be columns of the file and one of {MATCH_FIELDS}")
    return StatementSource(code=code, kind=kind, name=str(spec.get("name", code)), covers=covers,
                           match_fields=match_fields, layout=layout)


def policy_from_mapping(data: Mapping[str, Any]) -> ReconciliationPolicy:
    sources = {str(code): _source(str(code), spec) for code, spec in (data.get("statements") or {}).items()}
    matching = data.get("matching") or {}
    tolerance = matching.get("date_tolerance_days", 1)
    lag = matching.get("settlement_lag_days", 1)
    for name, value in (("date_tolerance_days", tolerance), ("settlement_lag_days", lag)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyError(f"matching.{name}: a whole number of days ≥ 0")
    supervision = data.get("supervision") or {}
    return ReconciliationPolicy(
        sources=sources, tolerance_days=tolerance, fallback=bool(matching.get("fallback_account_amount_date", True)),
        settlement_lag_days=lag, supervision_enabled=bool(supervision.get("enabled", True)),
        supervision_category=str(supervision.get("category", "business.other")),
        supervision_channel=str(supervision.get("channel", "system")),
    )


def _override_path() -> str | None:
    return (getattr(settings, "GRIDCARE_RECONCILIATION_POLICY", None)
            or os.environ.get("GRIDCARE_RECONCILIATION_POLICY"))


@lru_cache(maxsize=4)
def _load(override: str | None) -> ReconciliationPolicy:
    data = read_yaml(POLICY_FILE)
    if override:
        data = deep_merge(data, read_yaml(Path(override)))
    return policy_from_mapping(data)


def reconciliation_policy() -> ReconciliationPolicy:
    return _load(_override_path())


def reset_caches() -> None:
    _load.cache_clear()

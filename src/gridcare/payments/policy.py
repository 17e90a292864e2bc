"""Payments policy: allocation order, prepay alerts, gateways, bank and agency file layouts.

Loaded from the YAML files in `policy/` with an optional company file (GRIDCARE_PAYMENTS_POLICY)
merged over them key by key, so numbers that differ by company are configuration, not code.
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

POLICY_DIR = Path(__file__).resolve().parent / "policy"
ALLOCATION_ORDERS = ("oldest_due_first", "newest_due_first")
LATE_FEE_PLACES = ("first", "last")


@dataclass(frozen=True)
class Gateway:
    code: str
    label: str
    secret: str
    window_seconds: int
    method: str


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    debit_file: FileLayout
    result_file: FileLayout


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    file: FileLayout


@dataclass(frozen=True)
class PaymentsPolicy:
    allocation_order: str
    late_fees: str
    apply_credit_on_charge: bool
    low_balance_fen: dict[str, int]
    alert_channel: str
    counter_methods: tuple[str, ...]
    receipt_prefix: str
    refund_max_fen: int
    gateways: dict[str, Gateway]
    banks: dict[str, Bank]
    agencies: dict[str, Agency]

    def low_balance_for(self, category: str) -> int:
        return self.low_balance_fen.get(category, self.low_balance_fen.get("default", 0))

    def gateway(self, code: str) -> Gateway:
        try:
            return self.gateways[code]
        except KeyError:
            raise NotFound(f"unknown gateway {code!r}", field="gateway") from None

    def bank(self, code: str) -> Bank:
        try:
            return self.banks[code]
        except KeyError:
            raise NotFound(f"unknown bank {code!r}; configured: {', '.join(sorted(self.banks))}",
                           field="bank") from None

    def agency(self, code: str) -> Agency:
        try:
            return self.agencies[code]
        except KeyError:
            raise NotFound(f"unknown agency {code!r}; configured: {', '.join(sorted(self.agencies))}",
                           field="agency") from None


def _layout(data: Any, where: str) -> FileLayout:
    try:
        return FileLayout.parse(data, where=where)
    except LayoutInvalid as exc:
        raise PolicyError(str(exc)) from None


def policy_from_mapping(data: Mapping[str, Any]) -> PaymentsPolicy:
    allocation = data.get("allocation") or {}
    order = str(allocation.get("order", "oldest_due_first"))
    if order not in ALLOCATION_ORDERS:
        raise PolicyError(f"allocation.order: expected one of {', '.join(ALLOCATION_ORDERS)}, got {order!r}")
    late = str(allocation.get("late_fees", "last"))
    if late not in LATE_FEE_PLACES:
        raise PolicyError(f"allocation.late_fees: expected first or last, got {late!r}")
    prepay = data.get("prepay") or {}
    low = {str(k): int(v) for k, v in (prepay.get("low_balance_fen") or {}).items()}
    if any(v < 0 for v in low.values()):
        raise PolicyError("prepay.low_balance_fen: amounts must be ≥ 0")
    gateways = {}
    for code, spec in (data.get("gateways") or {}).items():
        secret = os.environ.get(str(spec.get("secret_env", "")), "") or str(spec.get("dev_secret", ""))
        if not secret:
            raise PolicyError(f"gateways.{code}: no secret (set {spec.get('secret_env')})")
        window = int(spec.get("timestamp_window_seconds", 300))
        if window <= 0:
            raise PolicyError(f"gateways.{code}.timestamp_window_seconds must be > 0")
        gateways[str(code)] = Gateway(code=str(code), label=str(spec.get("label", code)), secret=secret,
                                      window_seconds=window, method=str(spec.get("method", "gateway")))
    banks = {
        str(code): Bank(code=str(code), name=str(spec.get("name", code)),
                        debit_file=_layout(spec.get("debit_file"), f"banks.{code}.debit_file"),
                        result_file=_layout(spec.get("result_file"), f"banks.{code}.result_file"))
        for code, spec in (data.get("banks") or {}).items()
    }
    for bank in banks.values():
        missing = {"reference", "status"} - set(bank.result_file.fields)
        if missing or not ({"amount_fen", "amount_yuan"} & set(bank.result_file.fields)):
            raise PolicyError(f"banks.{bank.code}.result_file: needs reference, status and an amount column")
        if not bank.result_file.success_codes:
            raise PolicyError(f"banks.{bank.code}.result_file.success_codes: at least one code")
    agencies = {
        str(code): Agency(code=str(code), name=str(spec.get("name", code)),
                          file=_layout(spec.get("file"), f"agencies.{code}.file"))
        for code, spec in (data.get("agencies") or {}).items()
    }
    for agency in agencies.values():
        missing = {"txn_ref", "account_number", "paid_at"} - set(agency.file.fields)
        if missing or not ({"amount_fen", "amount_yuan"} & set(agency.file.fields)):
            raise PolicyError(f"agencies.{agency.code}.file: needs txn_ref, account_number, paid_at and an amount")
    counter = data.get("counter") or {}
    return PaymentsPolicy(
        allocation_order=order, late_fees=late,
        apply_credit_on_charge=bool(allocation.get("apply_credit_on_charge", True)),
        low_balance_fen=low, alert_channel=str(prepay.get("alert_channel", "sms")),
        counter_methods=tuple(counter.get("methods") or ("cash", "card", "transfer")),
        receipt_prefix=str(counter.get("receipt_prefix", "R")),
        refund_max_fen=int((data.get("refunds") or {}).get("max_fen", 5_000_000)),
        gateways=gateways, banks=banks, agencies=agencies,
    )


def _override_path() -> str | None:
    return getattr(settings, "GRIDCARE_PAYMENTS_POLICY", None) or os.environ.get("GRIDCARE_PAYMENTS_POLICY")


@lru_cache(maxsize=4)
def _load(override: str | None) -> PaymentsPolicy:
    data: dict[str, Any] = {}
    for name in ("ledger.yaml", "gateways.yaml", "banks.yaml", "agencies.yaml"):
        data = deep_merge(data, read_yaml(POLICY_DIR / name))
    if override:
        data = deep_merge(data, read_yaml(Path(override)))
    return policy_from_mapping(data)


def payments_policy() -> PaymentsPolicy:
    return _load(_override_path())


def reset_caches() -> None:
    _load.cache_clear()

"""The gateway callback protocol, pure (no Django): signing, verifying, parsing the body.

A gateway POSTs JSON to `/api/v1/payments/gateways/<code>/callback` with two headers:
`X-Gridcare-Timestamp` (Unix seconds) and `X-Gridcare-Signature` =
hex(HMAC-SHA256(secret, "<timestamp>." + raw body bytes)). A callback is refused when the
signature does not verify, or when the timestamp is further from our clock than the gateway's
window (a replay of an old, validly signed message). docs/payments.md has a worked example.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime

from gridcare.core.errors import GridcareError, ValidationFailed

_TXN_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
STATUSES = ("success", "failed", "closed")


class SignatureInvalid(GridcareError):
    code = "signature_invalid"
    status = 401


class CallbackExpired(GridcareError):
    """The timestamp is outside the window: an old message replayed, or a clock far off."""

    code = "replayed"
    status = 401


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(*, secret: str, timestamp: str, signature_hex: str, body: bytes, now: datetime, window_seconds: int) -> None:
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        raise ValidationFailed("X-Gridcare-Timestamp must be Unix seconds", field="X-Gridcare-Timestamp")
    expected = signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, (signature_hex or "").strip().lower()):
        raise SignatureInvalid("the signature does not match the body", field="X-Gridcare-Signature")
    skew = abs(now.timestamp() - int(timestamp))
    if skew > window_seconds:
        raise CallbackExpired(f"the timestamp is {int(skew)} s from our clock; the window is {window_seconds} s",
                              field="X-Gridcare-Timestamp")


@dataclass(frozen=True)
class Callback:
    txn_id: str
    status: str
    amount_fen: int
    paid_at: datetime
    checkout: str = ""
    account_number: str = ""


def parse_callback(body: bytes) -> Callback:
    """The callback body, each field checked; the first bad one is named."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationFailed("the body is not UTF-8 JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object", field="body")
    txn = data.get("txn_id")
    if not isinstance(txn, str) or not _TXN_RE.match(txn):
        raise ValidationFailed("txn_id: 1–64 letters, digits or _.:-", field="txn_id")
    status = data.get("status")
    if status not in STATUSES:
        raise ValidationFailed(f"status: one of {', '.join(STATUSES)}", field="status")
    amount = data.get("amount_fen")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0 or amount > 10**12:
        raise ValidationFailed("amount_fen: a positive integer (fen)", field="amount_fen")
    paid_at_text = data.get("paid_at")
    try:
        paid_at = datetime.fromisoformat(paid_at_text) if isinstance(paid_at_text, str) else None
    except ValueError:
        paid_at = None
    if paid_at is None or paid_at.tzinfo is None:
        raise ValidationFailed("paid_at: ISO 8601 with a time zone", field="paid_at")
    checkout = data.get("checkout", "") or ""
    account_number = data.get("account_number", "") or ""
    if not isinstance(checkout, str) or len(checkout) > 32:
        raise ValidationFailed("checkout: up to 32 characters", field="checkout")
    if not isinstance(account_number, str) or len(account_number) > 32:
        raise ValidationFailed("account_number: up to 32 characters", field="account_number")
    if not checkout and not account_number:
        raise ValidationFailed("a checkout number or an account number is required", field="checkout")
    return Callback(txn_id=txn, status=status, amount_fen=amount, paid_at=paid_at, checkout=checkout,
                    account_number=account_number)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()

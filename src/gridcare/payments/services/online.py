"""Online payment (线上缴费): portal checkouts and the gateway's signed callback.

The callback is handled through an inbox row (`InboundEvent`, unique per gateway and transaction
id) written first in the same transaction as its effect: a redelivery, or 50 copies arriving at
once, find it (or wait on its insert and then find it) and post nothing; the payment itself is
also keyed `gw:<gateway>:<txn id>`. A redelivery with a different body is refused.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from gridcare.access.models import User
from gridcare.core.errors import Conflict, NotFound, ValidationFailed
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.payments import gateway as protocol
from gridcare.payments.models import Channel, Charge, CheckoutIntent, InboundEvent
from gridcare.payments.policy import payments_policy
from gridcare.payments.selectors import charge_outstanding
from gridcare.payments.services._core import positive_fen
from gridcare.payments.services.payments import payment_post

CHECKOUT_TTL = timedelta(minutes=30)


class CallbackConflict(Conflict):
    code = "callback_conflict"


@transaction.atomic
def checkout_create(*, user: User, account_id: int, amount_fen: int, as_of: datetime, gateway: str = "testpay",
                    charge_id: int | None = None) -> CheckoutIntent:
    """Start a portal payment: a checkout number the gateway's callback will settle."""
    positive_fen(amount_fen)
    payments_policy().gateway(gateway)
    if not Account.objects.filter(account_scope_q(user=user), pk=account_id).exists():
        raise NotFound(f"account {account_id} not found", field="account_id")
    if charge_id is not None:
        charge = Charge.objects.filter(pk=charge_id, account_id=account_id).first()
        if charge is None:
            raise NotFound(f"bill {charge_id} not found on this account", field="charge_id")
        if charge_outstanding(charge_id=charge_id) <= 0:
            raise ValidationFailed("this bill is already paid", field="charge_id")
    number = f"CO{as_of:%y%m%d}{secrets.token_hex(6).upper()}"
    return CheckoutIntent.objects.create(number=number, account_id=account_id, charge_id=charge_id, gateway=gateway,
                                         amount_fen=amount_fen, created_by=user if user.pk else None,
                                         created_at=as_of, expires_at=as_of + CHECKOUT_TTL)


@dataclass(frozen=True)
class CallbackResult:
    status: str  # posted | duplicate | not_paid
    txn_id: str
    payment_id: int | None
    event_id: int

    def as_dict(self) -> dict:
        return {"status": self.status, "txn_id": self.txn_id, "payment_id": self.payment_id}


def gateway_callback_handle(*, gateway: str, body: bytes, timestamp: str, signature_hex: str,
                            as_of: datetime) -> CallbackResult:
    """Verify, parse and apply one callback. Raises SignatureInvalid / CallbackExpired (401),
    ValidationFailed naming the field (422), CallbackConflict (409), NotFound (checkout/account)."""
    gw = payments_policy().gateway(gateway)
    protocol.verify(secret=gw.secret, timestamp=timestamp, signature_hex=signature_hex, body=body, now=as_of,
                    window_seconds=gw.window_seconds)
    cb = protocol.parse_callback(body)
    digest = protocol.digest(body)
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = InboundEvent.objects.create(source=f"gw:{gateway}", external_id=cb.txn_id, digest=digest,
                                                    payload=json.loads(body), received_at=as_of)
        except IntegrityError:
            event = InboundEvent.objects.get(source=f"gw:{gateway}", external_id=cb.txn_id)
            if event.digest != digest:
                raise CallbackConflict(f"transaction {cb.txn_id} was delivered before with a different body",
                                       field="txn_id") from None
            return CallbackResult(status="duplicate", txn_id=cb.txn_id, payment_id=event.result.get("payment_id"),
                                  event_id=event.pk)
        result = _apply(gw.code, gw.method, cb, as_of=as_of)
        event.handled_at = as_of
        event.result = result.as_dict()
        event.save(update_fields=["handled_at", "result"])
        return CallbackResult(status=result.status, txn_id=cb.txn_id, payment_id=result.payment_id, event_id=event.pk)


def _apply(code: str, method: str, cb: protocol.Callback, *, as_of: datetime) -> CallbackResult:
    intent = None
    if cb.checkout:
        intent = CheckoutIntent.objects.select_for_update().filter(number=cb.checkout, gateway=code).first()
        if intent is None:
            raise NotFound(f"checkout {cb.checkout} not found", field="checkout")
        if intent.amount_fen != cb.amount_fen:
            raise ValidationFailed(f"amount_fen {cb.amount_fen} differs from the checkout's {intent.amount_fen}",
                                   field="amount_fen")
        account_id = intent.account_id
    else:
        account_id = Account.objects.filter(number=cb.account_number).values_list("pk", flat=True).first()
        if account_id is None:
            raise NotFound(f"account {cb.account_number} not found", field="account_number")
    if cb.status != "success":
        if intent is not None and intent.status == CheckoutIntent.Status.PENDING:
            intent.status = CheckoutIntent.Status.EXPIRED
            intent.save(update_fields=["status"])
        return CallbackResult(status="not_paid", txn_id=cb.txn_id, payment_id=None, event_id=0)
    posted = payment_post(account_id=account_id, amount_fen=cb.amount_fen, channel=Channel.ONLINE, method=method,
                          source=code, received_at=cb.paid_at, as_of=as_of, external_ref=cb.txn_id,
                          idempotency_key=f"gw:{code}:{cb.txn_id}",
                          first_charge_id=intent.charge_id if intent else None, description="线上缴费")
    if intent is not None:
        # A gateway may report a checkout paid after we marked it expired: the money came, so it is paid.
        intent.status = CheckoutIntent.Status.PAID
        intent.payment = posted.payment
        intent.save(update_fields=["status", "payment"])
    return CallbackResult(status="posted" if posted.created else "duplicate", txn_id=cb.txn_id,
                          payment_id=posted.payment.pk, event_id=0)


def sandbox_gateway_callback(*, checkout_number: str, as_of: datetime, status: str = "success") -> tuple[bytes, str, str]:
    """What the built-in test gateway sends for a checkout: (body, timestamp, signature), signed
    with its secret exactly as a real gateway would (the portal's test-payment page uses it)."""
    intent = CheckoutIntent.objects.filter(number=checkout_number, gateway="testpay").first()
    if intent is None:
        raise NotFound(f"checkout {checkout_number} not found", field="checkout")
    body = json.dumps({"txn_id": f"TP{intent.number}", "checkout": intent.number, "amount_fen": intent.amount_fen,
                       "status": status, "paid_at": as_of.isoformat()}, separators=(",", ":")).encode()
    timestamp = str(int(as_of.timestamp()))
    return body, timestamp, protocol.signature(payments_policy().gateway("testpay").secret, timestamp, body)

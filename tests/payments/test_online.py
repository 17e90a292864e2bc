"""Gateway callbacks: HMAC signature, timestamp window, idempotency, field-level errors."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.payments.gateway import CallbackExpired, SignatureInvalid, signature
from gridcare.payments.models import CheckoutIntent, InboundEvent, Payment
from gridcare.payments.selectors import charge_outstanding
from gridcare.payments.services import (
    CallbackConflict,
    checkout_create,
    gateway_callback_handle,
    sandbox_gateway_callback,
)
from tests.payments.conftest import assert_ledger_invariants, at, bill

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 20, 21)
SECRET = "testpay-dev-secret-change-me"


def send(body: dict | bytes, *, now=NOW, ts=None, secret=SECRET, sig=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = ts if ts is not None else str(int(now.timestamp()))
    return gateway_callback_handle(gateway="testpay", body=raw, timestamp=ts,
                                   signature_hex=sig if sig is not None else signature(secret, ts, raw), as_of=now)


def body(**kw):
    data = {"txn_id": "T1", "account_number": "1000000001", "amount_fen": 5000, "status": "success",
            "paid_at": NOW.isoformat()}
    data.update(kw)
    return data


def test_signed_callback_posts_and_redelivery_posts_nothing(co):
    b = bill(co.home, 5000, due=date(2026, 11, 25), n=1)
    first = send(body())
    again = send(body())
    assert (first.status, again.status) == ("posted", "duplicate")
    assert again.payment_id == first.payment_id
    p = Payment.objects.get()
    assert (p.channel, p.source, p.external_ref, p.idempotency_key) == ("online", "testpay", "T1", "gw:testpay:T1")
    assert charge_outstanding(charge_id=b.pk) == 0
    assert InboundEvent.objects.get().handled_at == NOW
    assert_ledger_invariants()


def test_same_txn_with_a_different_body_is_a_conflict(co):
    send(body())
    with pytest.raises(CallbackConflict):
        send(body(amount_fen=5001))
    assert Payment.objects.count() == 1


def test_bad_signature_and_stale_timestamp_are_refused(co):
    with pytest.raises(SignatureInvalid):
        send(body(), secret="wrong")
    raw = json.dumps(body()).encode()
    ts = str(int(NOW.timestamp()))
    with pytest.raises(SignatureInvalid):  # body changed after signing
        send(raw.replace(b"5000", b"9000"), ts=ts, sig=signature(SECRET, ts, raw))
    old = NOW - timedelta(seconds=301)
    with pytest.raises(CallbackExpired):
        send(body(), ts=str(int(old.timestamp())))
    assert Payment.objects.count() == 0 and InboundEvent.objects.count() == 0


@pytest.mark.parametrize("bad,field", [
    ({"amount_fen": "50.00"}, "amount_fen"),
    ({"amount_fen": -1}, "amount_fen"),
    ({"txn_id": ""}, "txn_id"),
    ({"status": "ok"}, "status"),
    ({"paid_at": "2026-11-20 21:00"}, "paid_at"),
    ({"account_number": "", "checkout": ""}, "checkout"),
])
def test_malformed_callbacks_name_the_field(co, bad, field):
    with pytest.raises(ValidationFailed) as err:
        send(body(**bad))
    assert err.value.field == field
    assert Payment.objects.count() == 0


def test_not_json_and_unknown_account(co):
    with pytest.raises(ValidationFailed) as err:
        send(b"{not json")
    assert err.value.field == "body"
    with pytest.raises(NotFound):
        send(body(account_number="999"))
    assert InboundEvent.objects.count() == 0  # rolled back with the failure: a fixed redelivery can post


def test_portal_checkout_through_the_test_gateway(co):
    b = bill(co.home, 7300, due=date(2026, 11, 25), n=1)
    portal = co.home.customer.portal_users.first() or _portal_user(co)
    intent = checkout_create(user=portal, account_id=co.home.pk, amount_fen=7300, charge_id=b.pk, as_of=NOW)
    raw, ts, sig = sandbox_gateway_callback(checkout_number=intent.number, as_of=NOW)
    result = gateway_callback_handle(gateway="testpay", body=raw, timestamp=ts, signature_hex=sig, as_of=NOW)
    intent.refresh_from_db()
    assert result.status == "posted" and intent.status == CheckoutIntent.Status.PAID
    assert intent.payment_id == result.payment_id
    assert charge_outstanding(charge_id=b.pk) == 0
    with pytest.raises(ValidationFailed):
        checkout_create(user=portal, account_id=co.home.pk, amount_fen=100, charge_id=b.pk, as_of=NOW)


def _portal_user(co):
    from tests import factories as f

    return f.user("customer", customer=co.home.customer, username="portal1")

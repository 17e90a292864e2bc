"""The same payment arriving 50 times at once posts once: same idempotency key, same bank
reference, same gateway callback (PostgreSQL, 50 real concurrent connections)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date

import pytest
from django.db import connection

from gridcare.payments.gateway import signature
from gridcare.payments.models import InboundEvent, JournalEntry, Payment
from gridcare.payments.selectors import account_balance, charge_outstanding
from gridcare.payments.services import gateway_callback_handle, payment_post
from tests.payments.conftest import assert_ledger_invariants, at, bill

pytestmark = [pytest.mark.pg, pytest.mark.django_db(transaction=True)]
WORKERS = 50
NOW = at(2026, 11, 20, 10)


def _race(work: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(WORKERS)
    results: list[object] = [None] * WORKERS

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _assert_once(results, co, charge):
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert Payment.objects.count() == 1
    assert JournalEntry.objects.filter(kind="payment").count() == 1
    assert charge_outstanding(charge_id=charge.pk) == 2000
    assert account_balance(account_id=co.home.pk).balance_fen == 2000
    assert_ledger_invariants()


def _pay(co, **kw):
    return payment_post(account_id=co.home.pk, amount_fen=8000, channel="bank_debit", method="debit",
                        source="ICBC", received_at=NOW, as_of=NOW, **kw)


def test_same_idempotency_key_fifty_times_at_once(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    results = _race(lambda i: _pay(co, idempotency_key="same-key"))
    _assert_once(results, co, b)
    assert sum(r.created for r in results) == 1
    assert len({r.payment.pk for r in results}) == 1


def test_same_bank_reference_fifty_times_at_once(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    results = _race(lambda i: _pay(co, external_ref="ICBC-TXN-0001"))
    _assert_once(results, co, b)
    assert sum(r.created for r in results) == 1


def test_same_bank_reference_on_two_accounts_still_posts_once(co):
    """The per-account lock cannot serialise these; the unique index does."""
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    bill(co.shop, 10000, due=date(2026, 11, 15), n=2)
    results = _race(lambda i: payment_post(
        account_id=(co.home if i % 2 else co.shop).pk, amount_fen=8000, channel="bank_debit", method="debit",
        source="ICBC", received_at=NOW, as_of=NOW, external_ref="ICBC-TXN-0002"))
    assert Payment.objects.count() == 1
    outcomes = {type(r).__name__ for r in results}
    assert outcomes <= {"PaymentPosted", "DuplicatePaymentMismatch"}
    assert sum(1 for r in results if getattr(r, "created", False)) == 1
    owed = charge_outstanding(charge_id=b.pk) + account_balance(account_id=co.shop.pk).owed_fen
    assert owed == 20000 - 8000
    assert_ledger_invariants()


def test_same_gateway_callback_fifty_times_at_once(co):
    b = bill(co.home, 10000, due=date(2026, 11, 15), n=1)
    raw = json.dumps({"txn_id": "GW-1", "account_number": co.home.number, "amount_fen": 8000, "status": "success",
                      "paid_at": NOW.isoformat()}).encode()
    ts = str(int(NOW.timestamp()))
    sig = signature("testpay-dev-secret-change-me", ts, raw)
    results = _race(lambda i: gateway_callback_handle(gateway="testpay", body=raw, timestamp=ts, signature_hex=sig,
                                                      as_of=NOW))
    _assert_once(results, co, b)
    assert sorted(r.status for r in results) == ["duplicate"] * (WORKERS - 1) + ["posted"]
    assert InboundEvent.objects.count() == 1

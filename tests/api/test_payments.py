"""/api/v1/payments: balance, statement, idempotent payment recording, signed gateway callback,
approvals, discounts, file uploads, KPI inputs; errors in the one shape."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation

from gridcare.access.services import api_token_create
from gridcare.payments.gateway import signature
from gridcare.payments.models import JournalEntry, Payment
from gridcare.payments.services import debit_batch_generate, mandate_sign
from tests.payments import conftest as fixtures
from tests.payments.conftest import assert_ledger_invariants, bill

pytestmark = pytest.mark.django_db
co = fixtures.co
_fresh_policies = fixtures._fresh_policies


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


def post(client, url, body=None, **headers):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", headers=headers)


def test_balance_open_items_and_statement(co):
    today = timezone.localdate()
    b = bill(co.home, 10000, due=today - timedelta(days=3), n=1)
    r = post(bearer(co.cashier), "/api/v1/payments/payments",
             {"account_id": co.home.pk, "amount_fen": 4000, "channel": "counter", "method": "cash", "source": "PY",
              "received_at": timezone.now().isoformat()}, **{"Idempotency-Key": "abc"})
    assert r.status_code == 201 and r.json()["created"] is True
    again = post(bearer(co.cashier), "/api/v1/payments/payments",
                 {"account_id": co.home.pk, "amount_fen": 4000, "channel": "counter", "method": "cash",
                  "source": "PY", "received_at": timezone.now().isoformat()}, **{"Idempotency-Key": "abc"})
    assert again.status_code == 200 and again.json()["payment"]["id"] == r.json()["payment"]["id"]
    c = bearer(co.agent)
    assert c.get(f"/api/v1/payments/accounts/{co.home.pk}/balance").json() == {
        "account_id": co.home.pk, "account_number": "1000000001", "owed_fen": 6000, "credit_fen": 0,
        "balance_fen": 6000, "prepaid": False}
    [item] = c.get(f"/api/v1/payments/accounts/{co.home.pk}/open-items").json()
    assert (item["charge_id"], item["outstanding_fen"], item["overdue_days"]) == (b.pk, 6000, 3)
    start = today.replace(day=1) - timedelta(days=40)
    s = c.get(f"/api/v1/payments/accounts/{co.home.pk}/statement",
              {"start": start.isoformat(), "end": (today + timedelta(days=1)).isoformat()}).json()
    assert (s["opening_fen"], s["debits_fen"], s["credits_fen"], s["closing_fen"]) == (0, 10000, 4000, 6000)
    assert [ln["kind"] for ln in s["lines"]] == ["charge", "payment"]
    assert [ln["balance_fen"] for ln in s["lines"]] == [10000, 6000]
    assert c.get(f"/api/v1/payments/accounts/{co.flat.pk}/balance").status_code == 404  # other city
    page = c.get(f"/api/v1/payments/accounts/{co.home.pk}/payments").json()
    assert page["total"] == 1 and page["items"][0]["amount_fen"] == 4000


def test_payment_api_errors_name_the_field(co):
    c = bearer(co.cashier)
    body = {"account_id": co.home.pk, "amount_fen": 100, "channel": "counter", "method": "cash", "source": "PY",
            "received_at": timezone.now().isoformat()}
    r = post(c, "/api/v1/payments/payments", body)
    assert (r.status_code, r.json()["field"]) == (422, "Idempotency-Key")
    r = post(c, "/api/v1/payments/payments", {**body, "amount_fen": "12.5"}, **{"Idempotency-Key": "x"})
    assert (r.status_code, r.json()["field"]) == (422, "amount_fen")
    r = post(c, "/api/v1/payments/payments", {**body, "channel": "pigeon"}, **{"Idempotency-Key": "x"})
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "invalid", "channel")
    r = post(bearer(co.agent), "/api/v1/payments/payments", body, **{"Idempotency-Key": "x"})
    assert r.status_code == 403
    assert Payment.objects.count() == 0


def _callback(raw: bytes, ts: str | None = None, sig: str | None = None):
    ts = ts or str(int(timezone.now().timestamp()))
    sig = sig if sig is not None else signature("testpay-dev-secret-change-me", ts, raw)
    return Client().post("/api/v1/payments/gateways/testpay/callback", data=raw, content_type="application/json",
                         headers={"X-Gridcare-Timestamp": ts, "X-Gridcare-Signature": sig})


def test_gateway_callback_without_token_signed_idempotent(co):
    bill(co.home, 5000, due=timezone.localdate(), n=1)
    raw = json.dumps({"txn_id": "T9", "account_number": "1000000001", "amount_fen": 5000, "status": "success",
                      "paid_at": timezone.now().isoformat()}).encode()
    r = _callback(raw)
    assert (r.status_code, r.json()["status"]) == (200, "posted")
    assert _callback(raw).json()["status"] == "duplicate"
    assert Payment.objects.count() == 1
    r = _callback(raw, sig="00" * 32)
    assert (r.status_code, r.json()["code"]) == (401, "signature_invalid")
    old = str(int((timezone.now() - timedelta(minutes=10)).timestamp()))
    r = _callback(raw, ts=old)
    assert (r.status_code, r.json()["code"]) == (401, "replayed")
    bad = json.dumps({"txn_id": "T10", "account_number": "1000000001", "amount_fen": 0, "status": "success",
                      "paid_at": timezone.now().isoformat()}).encode()
    r = _callback(bad)
    assert (r.status_code, r.json()["field"]) == (422, "amount_fen")
    r = _callback(raw.replace(b"5000", b"5001"))
    assert (r.status_code, r.json()["code"]) == (409, "callback_conflict")
    r = Client().post("/api/v1/payments/gateways/nopay/callback", data=raw, content_type="application/json")
    assert r.status_code == 404
    assert Payment.objects.count() == 1


def test_refund_approval_two_people(co):
    post(bearer(co.cashier), "/api/v1/payments/payments",
         {"account_id": co.home.pk, "amount_fen": 3000, "channel": "counter", "method": "cash", "source": "PY",
          "received_at": timezone.now().isoformat()}, **{"Idempotency-Key": "p"})
    r = post(bearer(co.cashier), "/api/v1/payments/approvals",
             {"kind": "refund", "account_id": co.home.pk, "amount_fen": 3000, "reason": "销户"})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    rid = r.json()["id"]
    assert post(bearer(co.cashier), f"/api/v1/payments/approvals/{rid}/decision", {"approve": True}).status_code == 403
    assert [a["id"] for a in bearer(co.approver).get("/api/v1/payments/approvals").json()] == [rid]
    r = post(bearer(co.approver), f"/api/v1/payments/approvals/{rid}/decision", {"approve": True, "note": "ok"})
    assert (r.status_code, r.json()["status"], r.json()["decided_by"]) == (200, "approved", "appr1")
    assert JournalEntry.objects.filter(kind="refund").count() == 1
    r = post(bearer(co.approver), f"/api/v1/payments/approvals/{rid}/decision", {"approve": True})
    assert (r.status_code, r.json()["code"]) == (409, "invalid_state")
    assert_ledger_invariants()


def test_discount_and_files_and_kpis(co):
    bill(co.home, 12345, due=date(2026, 11, 15), n=1)
    r = post(bearer(co.cashier), "/api/v1/payments/discounts",
             {"account_id": co.home.pk, "kind": "red_packet", "reference": "RP1", "amount_fen": 345})
    assert r.status_code == 201
    mandate_sign(account_id=co.home.pk, bank_code="ICBC", bank_account="6222020200112233445", holder_name="张小三",
                 signed_on=date(2026, 1, 1), actor=None)
    batch = debit_batch_generate(bank_code="ICBC", as_of=timezone.now())
    content = f"{batch.items.get().reference}|120.00|0000|B1|ok\nrubbish\n".encode("gbk")
    r = bearer(co.cashier).post("/api/v1/payments/debit-results/ICBC", {"file": _file("r.txt", content)})
    body = r.json()
    assert r.status_code == 200, body
    assert (body["posted"], body["posted_fen"], body["rejected"]) == (1, 12000, 1)
    assert body["errors"] == [{"line": 2, "field": None, "message": "expected 5 fields, found 1"}]
    r = bearer(co.cashier).post("/api/v1/payments/debit-results/ICBC", {"file": _file("r.txt", content)})
    assert (r.status_code, r.json()["code"]) == (409, "already_imported")
    r = bearer(co.cashier).post("/api/v1/payments/agency-files/PSBC", {"file": _file("a.csv", b"")})
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "file_invalid", "file")
    today = timezone.localdate()
    k = bearer(co.approver).get("/api/v1/payments/kpi/debit-ratio", {"as_of_date": today.isoformat()}).json()
    assert (k["mandated_accounts"], k["total_accounts"], k["percent"]) == (1, 3, "33.33")
    k = bearer(co.approver).get("/api/v1/payments/kpi/collection",
                                {"start": "2026-11-01", "end": "2026-12-01", "as_of_date": "2099-01-01"}).json()
    assert (k["receivable_fen"], k["collected_fen"], k["percent"]) == (12345, 12345, "100.00")
    assert bearer(co.agent).get("/api/v1/payments/kpi/debit-ratio").status_code == 403


def _file(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)

"""/api/v1/collections: late-fee quote with the working, counter assessment, arrears, promises,
suspension workflow, collection-rate KPI; errors in the one shape."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.test import Client
from django.utils import timezone, translation

from gridcare.access.services import api_token_create
from gridcare.collections.models import LateFeeAssessment, SuspensionCase
from tests.collections import conftest as fixtures
from tests.collections.conftest import at
from tests.collections.ledger_helpers import bill, pay

pytestmark = pytest.mark.django_db
co = fixtures.co
_fresh_policies = fixtures._fresh_policies


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_quote_shows_the_formula_and_the_counter_posts_it(co):
    today = timezone.localdate()
    charge = bill(co.shop, 300_000, due=date.fromordinal(today.toordinal() - 5))
    r = bearer(co.agent).get(f"/api/v1/collections/accounts/{co.shop.pk}/late-fees")
    body = r.json()
    assert r.status_code == 200
    assert (body["account_number"], body["total_unassessed_fen"]) == ("1000000002", 3_000)
    (quote,) = body["bills"]
    assert (quote["charge_id"], quote["days"], quote["fee_fen"], quote["formula"]) == (
        charge.pk, 5, 3_000, "3000.00 元 × 5 天 × 2‰ = 30.0000 元 ≈ 30.00 元")
    assert quote["bands"][0]["rate"] == "0.002"
    assert post(bearer(co.agent), f"/api/v1/collections/accounts/{co.shop.pk}/late-fees/assess").status_code == 403
    r = post(bearer(co.cashier), f"/api/v1/collections/accounts/{co.shop.pk}/late-fees/assess")
    assert (r.status_code, r.json()) == (200, {"bills": 1, "posted": 1, "posted_fen": 3_000})
    assert LateFeeAssessment.objects.get().reason == "counter"
    assert bearer(co.agent).get("/api/v1/collections/accounts/999999/late-fees").status_code == 404


def test_arrears_and_promises(co):
    today = timezone.localdate()
    bill(co.shop, 80_000, due=date.fromordinal(today.toordinal() - 3))
    rows = bearer(co.agent).get("/api/v1/collections/overdue").json()
    assert [(r["account_number"], r["arrears_fen"], r["days_overdue"]) for r in rows] == [("1000000002", 80_000, 3)]
    bad = post(bearer(co.agent), "/api/v1/collections/promises",
               {"account_id": co.shop.pk, "promised_date": "2000-01-01", "amount_fen": 100})
    assert (bad.status_code, bad.json()["field"]) == (422, "promised_date")
    ok = post(bearer(co.agent), "/api/v1/collections/promises",
              {"account_id": co.shop.pk, "promised_date": today.isoformat(), "amount_fen": 80_000, "note": "今天到账"})
    assert (ok.status_code, ok.json()["status"]) == (201, "open")
    twice = post(bearer(co.agent), "/api/v1/collections/promises",
                 {"account_id": co.shop.pk, "promised_date": today.isoformat(), "amount_fen": 1})
    assert twice.status_code == 409


def test_suspension_two_person_workflow_over_the_api(co):
    from gridcare.collections.services import dunning_run

    today = timezone.localdate()
    due = date.fromordinal(today.toordinal() - 40)
    bill(co.shop, 80_000, due=due)
    dunned = date.fromordinal(due.toordinal() + 3)
    dunning_run(as_of=at(dunned.year, dunned.month, dunned.day, 9))
    r = post(bearer(co.approver), "/api/v1/collections/suspensions", {"account_id": co.shop.pk})
    assert r.status_code == 201
    case_id = r.json()["id"]
    same = post(bearer(co.approver), f"/api/v1/collections/suspensions/{case_id}/approve")
    assert (same.status_code, same.json()["code"]) == (403, "forbidden")
    ok = post(bearer(co.approver2), f"/api/v1/collections/suspensions/{case_id}/approve", {"note": "同意"})
    assert (ok.status_code, ok.json()["status"], ok.json()["approved_by"]) == (200, "notified", "appr2")
    early = post(bearer(co.approver2), f"/api/v1/collections/suspensions/{case_id}/execute")
    assert (early.status_code, early.json()["code"]) == (409, "invalid_state")
    assert SuspensionCase.objects.get().status == "notified"
    listed = bearer(co.agent).get("/api/v1/collections/suspensions?active=true").json()
    assert [c["id"] for c in listed["items"]] == [case_id]
    protected = post(bearer(co.approver), "/api/v1/collections/suspensions", {"account_id": co.ward.pk})
    assert protected.status_code == 422


def test_collection_rate(co):
    bill(co.shop, 100_000, due=date(2026, 10, 15))
    bill(co.home, 50_000, due=date(2026, 10, 20))
    bill(co.home, 70_000, due=date(2026, 11, 20))  # outside the window
    pay(co.home, 50_000, on=date(2026, 10, 18))
    pay(co.shop, 25_000, on=date(2026, 10, 30))
    body = bearer(co.approver).get("/api/v1/collections/kpi/collection-rate?start=2026-10-01&end=2026-11-01").json()
    assert body == {"start": "2026-10-01", "end": "2026-11-01", "bills": 2, "receivable_fen": 150_000,
                    "collected_fen": 75_000, "outstanding_fen": 75_000, "rate": "0.5000"}
    assert bearer(co.cashier).get("/api/v1/collections/kpi/collection-rate?start=2026-10-01&end=2026-11-01") \
        .status_code == 403


def test_waiver_over_the_api_is_two_person(co):
    from gridcare.collections.services import late_fees_assess_account
    from gridcare.payments.models import Charge

    today = timezone.localdate()
    bill(co.shop, 300_000, due=date.fromordinal(today.toordinal() - 5))
    late_fees_assess_account(actor=co.cashier, account_id=co.shop.pk, as_of=timezone.now())
    fee = Charge.objects.get(kind="late_fee")
    too_much = post(bearer(co.cashier), f"/api/v1/collections/late-fees/{fee.pk}/waivers",
                    {"amount_fen": 3_001, "reason": "超额"})
    assert (too_much.status_code, too_much.json()["field"]) == (409, "amount_fen")
    r = post(bearer(co.cashier), f"/api/v1/collections/late-fees/{fee.pk}/waivers", {"amount_fen": 3_000,
                                                                                   "reason": "首次逾期"})
    assert (r.status_code, r.json()["status"]) == (201, "pending")
    waiver_id = r.json()["id"]
    assert [w["id"] for w in bearer(co.approver).get("/api/v1/collections/waivers").json()] == [waiver_id]
    assert post(bearer(co.cashier), f"/api/v1/collections/waivers/{waiver_id}/decide", {"approve": True}) \
        .status_code == 403
    ok = post(bearer(co.approver), f"/api/v1/collections/waivers/{waiver_id}/decide", {"approve": True})
    assert (ok.status_code, ok.json()["status"], ok.json()["decided_by"]) == (200, "approved", "appr1")
    assert bearer(co.approver).get("/api/v1/collections/waivers").json() == []

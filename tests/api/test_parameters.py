"""/api/v1/parameters: versions with two-person approval, the account view, back-billing cases;
bad input answered in the one error shape, never a 500."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.test import Client
from django.utils import timezone, translation

from gridcare.access.services import api_token_create
from gridcare.parameters.models import BackBillingCase, BillingParameter
from tests.parameters import fixtures
from tests.parameters.fixtures import issue_bill

pytestmark = pytest.mark.django_db
pworld = fixtures.pworld


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_propose_approve_and_see_it_in_force(pworld):
    pw = pworld
    r = post(bearer(pw.clerk), "/api/v1/parameters/versions", {
        "account_id": pw.flat.pk, "kind": "free_allowance", "spec": {"scheme": "subsistence"},
        "effective_from": "2026-01-01", "reason": "低保证 2026-001"})
    assert r.status_code == 201
    body = r.json()
    assert (body["kind"], body["version"], body["status"], body["proposed_by"]) == (
        "free_allowance", 1, "pending", pw.clerk.username)
    pid = body["id"]
    r = post(bearer(pw.approver), f"/api/v1/parameters/versions/{pid}/approve", {"note": "ok"})
    assert (r.status_code, r.json()["status"], r.json()["decided_by"]) == (200, "approved", pw.approver.username)
    r = post(bearer(pw.approver), f"/api/v1/parameters/versions/{pid}/approve", {})
    assert (r.status_code, r.json()["code"]) == (409, "unable_to_decide")
    view = bearer(pw.clerk).get(f"/api/v1/parameters/accounts/{pw.flat.pk}?on=2026-03-05").json()
    assert [(i["kind"], i["parameter_id"], i["start"], i["end"]) for i in view["in_force"]] == [
        ("free_allowance", pid, "2026-01-01", None)]
    listing = bearer(pw.clerk).get(f"/api/v1/parameters/versions?account_id={pw.flat.pk}").json()
    assert (listing["total"], listing["items"][0]["id"]) == (1, pid)


def test_bad_input_gets_a_4xx_naming_the_field(pworld):
    pw = pworld
    r = post(bearer(pw.clerk), "/api/v1/parameters/versions", {
        "account_id": pw.park.pk, "kind": "split", "effective_from": "2026-01-01", "reason": "x",
        "spec": {"ratios": [{"percent": "80"}, {"percent": "10", "tariff": "gz-residential"}]}})
    assert (r.status_code, r.json()) == (422, {"code": "parameter_invalid", "field": "spec.ratios",
                                               "message": "fixed ratios must add up to 100%; these add up to 90%"})
    r = post(bearer(pw.clerk), "/api/v1/parameters/versions", {
        "account_id": pw.park.pk, "kind": "split", "effective_from": "not a date", "reason": "x"})
    assert (r.status_code, r.json()["field"]) == (422, "effective_from")
    r = post(bearer(pw.clerk), "/api/v1/parameters/versions", {
        "account_id": pw.sz_account.pk, "kind": "free_allowance", "spec": {"scheme": "subsistence"},
        "effective_from": "2026-01-01", "reason": "x"})
    assert r.status_code == 404
    r = post(bearer(pw.agent), "/api/v1/parameters/versions", {
        "account_id": pw.flat.pk, "kind": "free_allowance", "spec": {"scheme": "subsistence"},
        "effective_from": "2026-01-01", "reason": "x"})
    assert r.status_code == 403
    assert BillingParameter.objects.count() == 0
    assert bearer(pw.clerk).get("/api/v1/parameters/versions/999999").status_code == 404
    assert bearer(pw.sz_clerk).get(f"/api/v1/parameters/accounts/{pw.flat.pk}").status_code == 404


def test_backbilling_case_over_the_api(pworld):
    pw = pworld
    issue_bill(pw.flat, pw.meters[pw.flat.pk], "2026-01", date(2026, 1, 1), date(2026, 2, 1), [("total", "1", 100_000)])
    r = post(bearer(pw.clerk), "/api/v1/parameters/cases", {
        "account_id": pw.flat.pk, "kind": "wiring_correction", "correction": {"correction_rate": "2.00"},
        "period_codes": ["2026-01"], "reason": "A 相电流反接"})
    assert r.status_code == 201, r.json()
    case = r.json()
    assert (case["status"], case["total_fen"], case["summary"][0]["reproduced"]) == ("draft", 12277, True)
    assert sum(ln["amount_fen"] for ln in case["lines"]) == 12277
    assert case["lines"][0]["original_bill_number"] == "B202601-0600000003-1"
    r = post(bearer(pw.approver), f"/api/v1/parameters/cases/{case['id']}/approve", {})
    assert (r.status_code, r.json()["status"]) == (200, "approved")
    assert bearer(pw.clerk).get(f"/api/v1/parameters/cases?account_id={pw.flat.pk}").json()["total"] == 1
    r = post(bearer(pw.clerk), "/api/v1/parameters/cases", {
        "account_id": pw.flat.pk, "kind": "meter_error", "correction": {"error_percent": 5.5},
        "period_codes": ["2026-01"], "reason": "校验"})
    assert (r.status_code, r.json()["field"]) == (422, "correction.error_percent")
    assert BackBillingCase.objects.count() == 1

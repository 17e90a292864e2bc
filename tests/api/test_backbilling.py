"""POST /api/v1/parameters/cases/{id}/bill: an approved back-billing case issued as its adjustment
bill, once; wrong state, wrong role and unknown cases answered as {code, message, field} (in the
default language, zh-Hans)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.access.services import api_token_create
from gridcare.billing.models import Bill
from gridcare.parameters import services as parameters
from tests.billing.backbilling_world import adjust_world, approved_case
from tests.parameters import fixtures
from tests.parameters.fixtures import AS_OF

pytestmark = pytest.mark.django_db
pworld, fast_passwords = fixtures.pworld, fixtures.fast_passwords


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


def post(client, url):
    return client.post(url, data=json.dumps({}), content_type="application/json")


def test_issue_the_adjustment_bill_once(pworld):
    w = adjust_world(pworld)
    case = approved_case(w)
    url = f"/api/v1/parameters/cases/{case.pk}/bill"
    r = post(bearer(pworld.clerk), url)  # a billing clerk prepares cases but does not issue bills
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (403, "forbidden", "actor")
    r = post(bearer(pworld.approver), url)
    assert r.status_code == 201, r.json()
    bill = r.json()
    assert (bill["kind"], bill["status"], bill["total_fen"], bill["corrects"]) == ("adjust", "issued", 14060,
                                                                                   w.jan.number)
    assert [(ln["corrects_period"], ln["corrects_number"], ln["amount_fen"]) for ln in bill["lines"]] == [
        ("2025-12", w.dec.number, 5000), ("2025-12", w.dec.number, 200),
        ("2026-01", w.jan.number, 8550), ("2026-01", w.jan.number, 310)]
    assert bearer(pworld.clerk).get(f"/api/v1/parameters/cases/{case.pk}").json()["bill_number"] == bill["number"]
    r = post(bearer(pworld.approver), url)
    assert (r.status_code, r.json()) == (409, {"code": "unable_to_issue_adjustment", "field": "case_id",
                                               "message": f"退补工单 {case.number} 已开具账单 {bill['number']}，不能重复开具"})
    assert Bill.objects.filter(kind="adjust").count() == 1


def test_wrong_state_and_unknown_case(pworld):
    w = adjust_world(pworld)
    draft = parameters.backbilling_case_prepare(
        data=parameters.CaseInput(account_id=w.acc.pk, kind="wrong_multiplier", correction={"multiplier": "30"},
                                  period_codes=["2026-01"], reason="核查"), actor=pworld.clerk, as_of=AS_OF)
    r = post(bearer(pworld.approver), f"/api/v1/parameters/cases/{draft.pk}/bill")
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "unable_to_issue_adjustment", "case_id")
    assert r.json()["message"] == f"退补工单 {draft.number} 当前为“待审批”，只有已审批的工单才能开具账单"
    r = post(bearer(pworld.approver), "/api/v1/parameters/cases/987654/bill")
    assert (r.status_code, r.json()["field"]) == (404, "case_id")
    assert not Bill.objects.filter(kind="adjust").exists()

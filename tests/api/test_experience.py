"""/api/v1/experience: risk list, tag counts, one account's portrait; scoped; errors name the field."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.access.services import api_token_create
from gridcare.experience.services import experience_refresh
from tests.experience import conftest as fixtures

pytestmark = pytest.mark.django_db
co, world, _fresh, _fresh_rules = fixtures.co, fixtures.world, fixtures._fresh, fixtures._fresh_rules


def _api(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


@pytest.fixture
def refreshed(world):
    experience_refresh(as_of=fixtures.AS_OF)
    return world


def test_risk_list_tags_and_portrait(refreshed):
    api = _api(refreshed.sup_gz)
    body = api.get("/api/v1/experience/risk").json()
    assert [(i["account"], i["score"], i["band"]) for i in body["items"]] == [
        ("1000000001", 60, "high"), ("1000000002", 0, "low")]
    assert body["items"][0]["factors"][0] == {"code": "repeated_contacts", "name": "重复来电", "value": 3, "points": 24}
    counts = {t["code"]: t["accounts"] for t in api.get("/api/v1/experience/tags").json()}
    assert (counts["high_value"], counts["e_bill"]) == (1, 0)  # flat's e-bill is outside GZ
    p = api.get("/api/v1/experience/accounts/1000000001").json()
    assert {t["code"] for t in p["tags"]} == {"high_value", "arrears_risk", "frequent_caller", "complaint_sensitive"}
    assert [r["code"] for r in p["recommendations"]] == ["auto_debit", "care_call", "e_bill", "tou_advice"]


def test_scoping_and_errors(refreshed):
    r = _api(refreshed.sup_sz).get("/api/v1/experience/accounts/1000000001")
    assert (r.status_code, r.json()["field"]) == (404, "number")
    bad = _api(refreshed.sup_gz).get("/api/v1/experience/risk?band=extreme")
    assert bad.status_code == 422

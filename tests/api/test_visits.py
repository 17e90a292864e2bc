"""/api/v1/visits: plan, steps, requests as work orders, field errors, risk candidates, coverage."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.access.services import api_token_create
from gridcare.visits.models import Visit
from tests import factories as f
from tests.service import conftest as service_fixtures

pytestmark = pytest.mark.django_db
desk = service_fixtures.desk
_fresh_policy = service_fixtures._fresh_policy


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_visit_over_the_api(desk):
    am = bearer(f.user("account_manager", desk.org["PY"], username="am1"))
    r = post(am, "/api/v1/visits", {"target_kind": "government", "channel": "onsite", "purpose": "汇报迎峰度夏保供电",
                                    "planned_for": "2026-01-05", "organisation": "番禺区发改局", "topics": ["policy"]})
    assert r.status_code == 201, r.content
    visit = r.json()
    assert (visit["stage"], visit["org_unit"], visit["customer_id"]) == ("planned", "PY", None)
    url = f"/api/v1/visits/{visit['id']}"
    r = post(am, url + "/prepare", {"checklist": ["手持终端", "多媒体记录设备", "服务联系卡", "政策及业务宣传资料",
                                                  "意见收集记录本"]})
    assert r.json()["stage"] == "prepared"
    r = post(am, url + "/record", {"visited_at": timezone.now().isoformat(), "topics": ["policy", "requests"],
                                   "policy_notes": "代理购电政策", "customer_requested_time": True,
                                   "requests": [{"kind": "consultation", "text": "园区新装需要多久"}]})
    assert r.status_code == 200, r.content
    assert r.json()["requests"][0]["status"] in ("new", "assigned")
    r = post(am, url + "/archive")
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    r = post(am, url + "/record", {"visited_at": "2026-01-05T10:00:00+08:00", "topics": []})
    assert r.status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"target_kind": "x"}, "target_kind"),
    ({"channel": "x"}, "channel"),
    ({"planned_for": "soon"}, "planned_for"),
    ({"account_number": "", "target_kind": "key_customer"}, "account_number"),
])
def test_visit_field_errors(desk, body, field):
    am = bearer(f.user("account_manager", desk.org["PY"], username="am1"))
    base = {"target_kind": "key_customer", "channel": "onsite", "purpose": "p", "planned_for": "2026-01-05",
            "account_number": "0000000001"}
    r = post(am, "/api/v1/visits", base | body)
    assert r.status_code == 422 and r.json()["field"] == field
    assert Visit.objects.count() == 0


def test_permissions_candidates_and_coverage(desk):
    assert bearer(desk.hotline).get("/api/v1/visits").status_code == 403
    am = bearer(f.user("account_manager", desk.org["PY"], username="am1"))
    assert am.get("/api/v1/visits/risk-candidates").json() == []
    r = am.get("/api/v1/visits/coverage", {"start": "2026-01-01", "end": "2026-01-01"})
    assert r.status_code == 422 and r.json()["field"] == "end"
    assert am.get("/api/v1/visits/999").status_code == 404

"""/api/v1 customers, accounts, meters: auth, scope (404 outside it), masking, audited reveal, errors."""

import json

import pytest
from django.test import Client
from django.utils import timezone, translation

from gridcare.access.models import AuditEvent
from gridcare.access.services import api_token_create
from gridcare.customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def bearer(user) -> Client:
    raw = api_token_create(user=user, name="test", as_of=timezone.now())
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post(client, url, body, method="post"):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def test_no_or_bad_token_is_401_in_the_error_shape(world):
    r = Client().get("/api/v1/customers")
    assert (r.status_code, r.json()) == (401, {"code": "unauthenticated", "message": "missing or invalid token",
                                               "field": None})
    assert Client(HTTP_AUTHORIZATION="Bearer nope").get("/api/v1/customers").status_code == 401


def test_session_login_works_too(world):
    c = Client()
    c.force_login(world.clerk)
    assert c.get("/api/v1/customers").status_code == 200


def test_list_is_scoped_masked_and_paginated_with_total(world):
    r = bearer(world.clerk).get("/api/v1/customers?limit=2&offset=0")
    body = r.json()
    assert (r.status_code, body["total"], body["limit"], body["offset"]) == (200, 3, 2, 0)
    assert [c["external_id"] for c in body["items"]] == ["C-ZHANG", "C-ORG"]
    zhang = body["items"][0]
    assert (zhang["name"], zhang["phone"], zhang["address"]) == ("张*三", "138****5678", "广州市番禺区****")
    assert zhang["masked"] == ["name", "phone", "id_number", "address"]
    page2 = bearer(world.clerk).get("/api/v1/customers?limit=2&offset=2").json()
    assert [c["external_id"] for c in page2["items"]] == ["C-LI"]


def test_list_filters(world):
    c = bearer(world.admin)
    ids = lambda url: [i["external_id"] for i in c.get(url).json()["items"]]  # noqa: E731
    assert ids("/api/v1/customers?category=general_ci") == ["C-ORG"]
    assert ids("/api/v1/customers?kind=person&org_unit=GZ") == ["C-ZHANG", "C-LI"]
    assert ids("/api/v1/customers?q=0500000020") == ["C-WANG"]


def test_out_of_scope_objects_are_404(world):
    c = bearer(world.agent_sz)
    for url in (f"/api/v1/customers/{world.zhang.pk}", f"/api/v1/accounts/{world.a1.pk}",
                f"/api/v1/meters/{world.m1.pk}"):
        r = c.get(url)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), url
    assert c.get(f"/api/v1/customers/{world.wang.pk}").status_code == 200


def test_portal_customer_sees_own_and_authorised_accounts_only(world):
    c = bearer(world.portal_li)
    assert [a["number"] for a in c.get("/api/v1/accounts").json()["items"]] == ["0500000010"]
    assert c.get(f"/api/v1/accounts/{world.a3.pk}").status_code == 404
    own = c.get(f"/api/v1/customers/{world.li.pk}").json()
    assert (own["phone"], own["masked"]) == ("13700002222", [])


def test_detail_has_accounts_service_points_meters_and_masked_contacts(world):
    body = bearer(world.clerk).get(f"/api/v1/customers/{world.org.pk}").json()
    [acct] = body["accounts"]
    [point] = acct["service_points"]
    [meter] = point["meters"]
    assert (acct["number"], point["code"], point["contracted_capacity_kva"]) == ("0500000030", "SP-A3", "100.00")
    assert (meter["ct_ratio"], meter["multiplier"], meter["registers"][:2]) == ("40.00", "40.00", ["total", "sharp"])
    assert body["contacts"][0]["name"] == "陈*文"


def test_accounts_and_meters_endpoints_filter_and_page(world):
    c = bearer(world.admin)
    body = c.get("/api/v1/accounts?category=residential&limit=1").json()
    assert (body["total"], [a["number"] for a in body["items"]]) == (2, ["0500000010"])
    assert [m["asset_number"] for m in c.get(f"/api/v1/meters?account_id={world.a3.pk}").json()["items"]] == [
        "M-A3"]
    assert c.get(f"/api/v1/accounts?customer_id={world.wang.pk}").json()["items"][0]["customer_name"] == "王*"


def test_reveal_is_audited_and_forbidden_fields_are_403(world):
    c = bearer(world.manager)
    r = post(c, f"/api/v1/customers/{world.zhang.pk}/reveal", {"fields": ["phone", "address"]})
    assert r.json() == {"values": {"phone": "13812345678", "address": world.zhang.address}}
    assert AuditEvent.objects.filter(action="unmask", actor=world.manager).count() == 2
    r = post(c, f"/api/v1/customers/{world.zhang.pk}/reveal", {"fields": ["id_number"]})
    assert (r.status_code, r.json()["field"]) == (403, "id_number")
    r = post(c, f"/api/v1/customers/{world.zhang.pk}/reveal", {"fields": ["shoe_size"]})
    assert (r.status_code, r.json()["field"]) == (422, "fields.0")


def test_create_returns_201_and_is_audited(world):
    r = post(bearer(world.clerk), "/api/v1/customers",
             {"name": "赵六", "org_unit_code": "PY1", "phone": "13811112222", "external_id": "API-1"})
    assert r.status_code == 201
    created = Customer.objects.get(external_id="API-1")
    assert r.json()["id"] == created.pk
    event = AuditEvent.objects.get(object_type="customer", object_id=str(created.pk))
    assert (event.action, event.actor) == ("create", world.clerk)


@pytest.mark.parametrize(("body", "field"), [
    ({"org_unit_code": "GZ"}, "name"),  # missing required field (schema)
    ({"name": "x", "org_unit_code": "GZ", "favourite": 1}, "favourite"),  # unknown field
    ({"name": "x", "org_unit_code": "GZ", "kind": "robot"}, "kind"),  # not a choice
    ({"name": "x", "org_unit_code": "GZ", "phone": "12345"}, "phone"),  # service validation
    ({"name": "x", "org_unit_code": "NOPE"}, "org_unit_code"),
    ({"name": "x", "org_unit_code": "SZ"}, "org_unit_code"),  # outside the clerk's subtree
    ({"name": "x" * 200, "org_unit_code": "GZ"}, "name"),
    ({"name": 5, "org_unit_code": "GZ"}, "name"),
])
def test_invalid_bodies_are_422_naming_the_field_and_write_nothing(world, body, field):
    n = Customer.objects.count()
    r = post(bearer(world.clerk), "/api/v1/customers", body)
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "invalid", field)
    assert Customer.objects.count() == n


def test_malformed_json_is_a_4xx_not_a_500(world):
    r = bearer(world.clerk).post("/api/v1/customers", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "http_error"


def test_bad_paging_parameters_are_422(world):
    r = bearer(world.clerk).get("/api/v1/customers?limit=0")
    assert (r.status_code, r.json()["field"]) == (422, "limit")
    r = bearer(world.clerk).get("/api/v1/meters?offset=-1")
    assert (r.status_code, r.json()["field"]) == (422, "offset")


def test_patch_changes_only_the_fields_sent(world):
    r = post(bearer(world.clerk), f"/api/v1/customers/{world.zhang.pk}", {"email": "z@example.com"}, method="patch")
    assert r.status_code == 200
    world.zhang.refresh_from_db()
    assert (world.zhang.email, world.zhang.phone) == ("z@example.com", "13812345678")
    event = AuditEvent.objects.get(object_type="customer", action="update")
    assert event.after == {"email": "z@example.com"}


def test_patch_outside_scope_is_404_and_without_capability_403(world):
    r = post(bearer(world.clerk), f"/api/v1/customers/{world.wang.pk}", {"email": "w@example.com"}, method="patch")
    assert r.status_code == 404
    r = post(bearer(world.agent_sz), f"/api/v1/customers/{world.wang.pk}", {"email": "w@example.com"},
             method="patch")
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    world.wang.refresh_from_db()
    assert world.wang.email == ""


def test_openapi_docs_are_served_locally_and_api_docs_redirects(world):
    r = Client().get("/api/docs")
    assert (r.status_code, r["Location"]) == (302, "/api/v1/docs")
    page = Client().get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn.jsdelivr" not in page
    schema = Client().get("/api/v1/openapi.json").json()
    assert {"/api/v1/customers", "/api/v1/accounts", "/api/v1/meters"} <= set(schema["paths"])

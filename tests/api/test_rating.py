"""/api/v1/rating: quotes from stored (or shipped) tariffs, exact decimals, errors in the one shape."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.access.services import api_token_create

pytestmark = pytest.mark.django_db


def bearer(user) -> Client:
    raw = api_token_create(user=user, name="test", as_of=timezone.now())
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def post(client, body):
    return client.post("/api/v1/rating/quote", data=json.dumps(body), content_type="application/json")


def test_quote_guangzhou_residential(world):
    """September, 450 kWh: 260 × 0.5802 = 150.85; 190 × 0.6302 = 119.74; funds 3.90 → 274.49."""
    r = post(bearer(world.portal_zhang), {"tariff": "gz-residential", "period_start": "2025-09-01",
                                          "period_end": "2025-10-01", "usage": {"total_kwh": "450"}})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["total_fen"], body["total_yuan"], body["billed_kwh"]) == (27449, "274.49", "450")
    assert [(x["line_code"], x["quantity"], x["unit_price"], x["amount_fen"]) for x in body["lines"]] == [
        ("energy.tier1", "260", "0.5802", 15085), ("energy.tier2", "190", "0.6302", 11974),
        ("funds.all", "450", "0.00866875", 390)]
    assert body["lines"][0]["explanation_zh"] == "第一档（0–260 kWh）260 kWh × 0.5802 元/kWh"


def test_quote_two_part_with_power_factor(world):
    """Hubei Jan 2026, demand basis: contract 1000 kW, actual 1300 kW → 1550 × 42 = 65100.00 元."""
    r = post(bearer(world.clerk), {
        "tariff": "hubei-agency-2part-10kv", "period_start": "2026-01-01", "period_end": "2026-02-01",
        "account": {"capacity_kva": "2000", "contract_demand_kw": "1000", "basic_basis": "demand", "pf_standard": "none"},
        "usage": {"flat_kwh": "0", "max_demand_kw": "1300"}})
    assert r.status_code == 200, r.json()
    assert [(x["line_code"], x["quantity"], x["amount_fen"]) for x in r.json()["lines"]] == [("basic.demand", "1550", 6510000)]


@pytest.mark.parametrize(("body", "status", "field", "message"), [
    ({"tariff": "nope"}, 404, "tariff", "unknown tariff 'nope'"),
    ({"period_end": "2025-09-01"}, 422, "period_end", "period_end must be after period_start"),
    ({"usage": {"total_kwh": "1.2345"}}, 422, "usage.total_kwh", None),
    ({"usage": {"total_kwh": "-1"}}, 422, "usage.total_kwh", None),
    ({"tariff": "hubei-agency-2part-10kv", "period_start": "2026-01-01", "period_end": "2026-02-01",
      "account": {"capacity_kva": "630"}, "usage": {"flat_kwh": "10"}}, 422, "usage.reactive_kvarh",
     "reactive_varh is required: power-factor adjustment applies"),
    ({"tariff": "sz-residential-tou"}, 422, "usage",
     "tariff sz-residential-tou is time-of-use: give TOU registers (sharp/peak/flat/valley) or intervals"),
])
def test_quote_errors_name_the_field(world, body, status, field, message):
    base = {"tariff": "gz-residential", "period_start": "2025-09-01", "period_end": "2025-10-01", "usage": {"total_kwh": "1"}}
    r = post(bearer(world.clerk), {**base, **body})
    assert r.status_code == status, r.json()
    assert r.json()["field"] == field
    if message:
        assert r.json()["message"] == message


def test_quote_needs_a_token():
    r = Client().post("/api/v1/rating/quote", data="{}", content_type="application/json")
    assert r.status_code == 401


def test_stored_tariff_versions_take_precedence(world):
    from gridcare.tariffs.services import tariff_library_sync

    tariff_library_sync(as_of=timezone.now())
    r = bearer(world.clerk).get("/api/v1/rating/tariffs")
    assert r.status_code == 200
    codes = [t["code"] for t in r.json()]
    assert codes == sorted(codes) and "gz-residential" in codes
    gd = next(t for t in r.json() if t["code"] == "gd-ci-tou-lt1kv")
    assert (gd["time_of_use"], gd["components"]) == (True, ["energy", "pf"])

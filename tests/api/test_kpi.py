"""/api/v1/kpi: catalogue, snapshots by code, alerts and acknowledge; scoped to the org subtree."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.access.services import api_token_create
from gridcare.kpi.services import kpi_compute
from tests.collections.ledger_helpers import bill, pay
from tests.kpi import conftest as fixtures
from tests.kpi.conftest import at

pytestmark = pytest.mark.django_db
co = fixtures.co
_fresh = fixtures._fresh


def _api(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


@pytest.fixture
def computed(co):
    bill(co.home, 10_000, due=date(2026, 10, 15))
    pay(co.home, 9_000, on=date(2026, 10, 10))
    kpi_compute(period_code="2026-10", as_of=at(2026, 11, 5), codes=["collection_rate", "debit_ratio"])
    return co


def test_catalogue_and_values_by_code(computed):
    api = _api(computed.sup_gz)
    defs = api.get("/api/v1/kpi/definitions").json()
    rate = next(d for d in defs if d["code"] == "collection_rate")
    assert (rate["name_zh"], rate["target"], rate["direction"]) == ("电费回收率", "99.50", "higher")
    body = api.get("/api/v1/kpi/collection_rate?period=2026-10").json()
    assert [(i["org_unit"], i["value"], i["level"]) for i in body["items"]] == [
        ("GZ", "90.0000", "critical"), ("PY", "90.0000", "critical"), ("PY1", "90.0000", "critical")]


def test_alerts_and_acknowledge(computed):
    api = _api(computed.sup_gz)
    alerts = api.get("/api/v1/kpi/alerts?status=open").json()
    assert sorted((a["kpi"], a["org_unit"], a["level"]) for a in alerts["items"]) == [
        ("collection_rate", u, "critical") for u in ("GZ", "PY", "PY1")] + [
        ("debit_ratio", u, "critical") for u in ("GZ", "PY", "PY1")]  # no agreement signed: 0 %
    first = alerts["items"][0]["id"]
    r = api.post(f"/api/v1/kpi/alerts/{first}/acknowledge", {"note": "ok"}, content_type="application/json")
    assert (r.status_code, r.json()["status"], r.json()["acknowledged_by"]) == (200, "acknowledged", "sup_gz")
    assert _api(computed.sup_sz).post(f"/api/v1/kpi/alerts/{first}/acknowledge", {},
                                      content_type="application/json").status_code == 404


def test_errors_are_4xx_with_a_field(computed):
    api = _api(computed.sup_gz)
    bad = api.get("/api/v1/kpi/snapshots?period=2026-13")
    assert (bad.status_code, bad.json()["field"]) == (422, "period")
    assert api.get("/api/v1/kpi/nope").json()["field"] == "code"
    assert api.get("/api/v1/kpi/snapshots?org_unit=SZ").status_code == 404
    assert _api(computed.agent).get("/api/v1/kpi/definitions").status_code == 403

"""Console KPI dashboard: who may see it, cards with sparkline in zh-Hans and English, drill-down
scoped to the org subtree, acknowledging an alert."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from gridcare.kpi.models import KpiAlert
from gridcare.kpi.services import kpi_compute
from tests.collections.ledger_helpers import bill, pay
from tests.kpi import conftest as fixtures
from tests.kpi.conftest import at

pytestmark = pytest.mark.django_db
co = fixtures.co
_fresh = fixtures._fresh


def _client(user, lang: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_login(user)
    return client


@pytest.fixture
def computed(co):
    bill(co.home, 10_000, due=date(2026, 9, 15))
    pay(co.home, 10_000, on=date(2026, 9, 10))
    bill(co.home, 10_000, due=date(2026, 10, 15))
    pay(co.home, 9_000, on=date(2026, 10, 10))
    bill(co.flat, 4_000, due=date(2026, 10, 15))
    pay(co.flat, 4_000, on=date(2026, 10, 10))
    kpi_compute(period_code="2026-09", as_of=at(2026, 10, 5))
    kpi_compute(period_code="2026-10", as_of=at(2026, 11, 5))
    return co


def test_only_supervisors_and_administrators(computed):
    assert _client(computed.agent).get("/console/kpi/").status_code == 403
    assert _client(computed.sup_gz).get("/console/kpi/").status_code == 200
    assert _client(computed.admin).get("/console/kpi/").status_code == 200


def test_dashboard_in_chinese_with_cards_sparkline_and_drill_down(computed):
    html = _client(computed.admin).get("/console/kpi/?org=GD&period=2026-10").content.decode()
    assert "电费回收率" in html and "批扣代扣比率" in html and "自动对账率" in html
    assert "92.86" in html  # (9 000 + 4 000) / (10 000 + 4 000)
    assert "<polyline" in html and "广州供电局" in html and "深圳供电局" in html
    assert "Key performance indicators" not in html and "关键绩效指标" in html
    assert "Open alerts" not in html


def test_dashboard_in_english(computed):
    html = _client(computed.admin, "en").get("/console/kpi/?org=GD&period=2026-10").content.decode()
    assert "Bill collection rate" in html and "Key performance indicators" in html


def test_staff_see_only_their_subtree(computed):
    client = _client(computed.sup_sz)
    assert client.get("/console/kpi/?org=GZ&period=2026-10").status_code == 404
    html = client.get("/console/kpi/?period=2026-10").content.decode()
    assert "深圳供电局" in html and "100.00" in html
    assert "番禺区供电局" not in html  # PY's alert is not in SZ's list


def test_acknowledge_from_the_alert_list(computed):
    alert = KpiAlert.objects.get(kpi_code="collection_rate", org_unit__code="PY1", period_code="2026-10")
    client = _client(computed.sup_gz)
    assert f"/console/kpi/alerts/{alert.pk}/acknowledge/" in client.get("/console/kpi/?period=2026-10").content.decode()
    r = client.post(f"/console/kpi/alerts/{alert.pk}/acknowledge/", {"note": "已跟进"})
    assert (r.status_code, r["Location"]) == (302, "/console/kpi/?org=PY1&period=2026-10")
    alert.refresh_from_db()
    assert (alert.status, alert.note, alert.acknowledged_by) == ("acknowledged", "已跟进", computed.sup_gz)
    denied = _client(computed.sup_sz).post(f"/console/kpi/alerts/{alert.pk}/acknowledge/")
    assert denied.status_code == 302

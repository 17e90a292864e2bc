"""Console customer experience: the ranked risk list and the portrait on the customer 360 page,
zh-Hans by default and English on request, scoped to the org subtree."""

from __future__ import annotations

import pytest
from django.test import Client

from gridcare.experience.services import experience_refresh
from tests.experience import conftest as fixtures

pytestmark = pytest.mark.django_db
co, world, _fresh, _fresh_rules = fixtures.co, fixtures.world, fixtures._fresh, fixtures._fresh_rules


def _client(user, lang: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_login(user)
    return client


@pytest.fixture
def refreshed(world):
    experience_refresh(as_of=fixtures.AS_OF)
    return world


def test_ranked_risk_list_in_chinese_and_scoped(refreshed):
    html = _client(refreshed.sup_gz).get("/console/experience/").content.decode()
    assert "负面体验风险" in html and "高价值" in html and "重复来电 +24" in html
    assert html.index("1000000001") < html.index("1000000002")
    assert "2000000001" not in html
    assert "Negative-experience risk" not in html
    high = _client(refreshed.sup_gz).get("/console/experience/?band=high").content.decode()
    assert "1000000001" in high and "1000000002" not in high


def test_ranked_risk_list_in_english(refreshed):
    html = _client(refreshed.sup_gz, "en").get("/console/experience/").content.decode()
    assert "Negative-experience risk" in html and "Repeated contacts +24" in html and "High value" in html


def test_portrait_on_the_customer_360_page(refreshed):
    url = f"/console/customers/{refreshed.home.customer_id}/"
    html = _client(refreshed.sup_gz).get(url).content.decode()
    assert 'data-panel="experience"' in html and "客户画像" in html
    assert 'data-tag="frequent_caller"' in html and "频繁来电" in html
    assert "签订代扣协议" in html and "近12个月产生 1 笔违约金" in html
    assert _client(refreshed.sup_sz).get(url).status_code == 404

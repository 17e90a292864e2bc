"""Console and portal journeys in real chromium: search → 360 with masked phone; portal scoping."""

import pytest

from gridcare.customers import services as customer_services
from tests.factories import AS_OF, account, customer, meter, service_point, user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_searches_customer_and_sees_masked_phone_on_360(page, login, org):
    target = customer(org["GZ"], name="欧阳明", phone="13812345678")
    acct = account(target, number="0200000001")
    meter(service_point(acct), ct_ratio=20)
    customer(org["GZ"], name="李四", phone="13900000000")
    customer(org["SZ"], name="欧阳远", phone="13700000000")  # outside the clerk's subtree
    user("billing_clerk", org_unit=org["GZ"], username="clerk")

    login("clerk")
    page.goto("/console/customers/")
    page.fill("#id_q", "欧阳")
    page.get_by_test_id("customer-search").locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    links = page.get_by_test_id("customer-link")
    assert links.count() == 1  # 欧阳远 belongs to 深圳 and stays invisible

    links.first.click()
    page.wait_for_load_state("networkidle")
    phone = page.get_by_test_id("customer-phone").inner_text()
    assert "138****5678" in phone
    assert "13812345678" not in page.content()
    assert page.get_by_test_id("account-0200000001").is_visible()


def test_portal_customer_sees_only_own_and_authorised_accounts(page, login, org):
    me = customer(org["GZ"], name="王芳", phone="13811112222")
    mine = account(me, number="0300000001")
    landlord = customer(org["GZ"], name="赵强", phone="13833334444")
    theirs = account(landlord, number="0300000002")
    account(landlord, number="0300000003")  # not authorised
    stranger = customer(org["SZ"], name="钱多", phone="13855556666")
    account(stranger, number="0300000004")
    customer_services.authorization_grant(account=theirs, person=me, scope="pay",
                                           valid_from=AS_OF.date(), actor=None, as_of=AS_OF)
    user("customer", customer=me, username="wangfang")

    login("wangfang")
    numbers = sorted(page.get_by_test_id("portal-account").evaluate_all("els => els.map(e => e.dataset.account)"))
    assert numbers == [mine.number, theirs.number]

    other = account(stranger, number="0300000005")
    response = page.goto(f"/portal/accounts/{other.pk}/")
    assert response.status == 404
    assert "0300000005" not in page.content()

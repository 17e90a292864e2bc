"""Portal in real chromium: pay a bill through the built-in test gateway and see the balance change."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gridcare.payments.services import bill_charge_post
from tests.factories import account, customer, user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_portal_customer_pays_a_bill_and_sees_the_balance_change(page, login, org):
    me = customer(org["GZ"], name="王芳", phone="13811112222")
    mine = account(me, number="0400000001")
    bill_charge_post(account_id=mine.pk, amount_fen=12_345, reference="B202610-0400000001",
                     due_date=timezone.localdate() + timedelta(days=5), as_of=timezone.now(), source="bill:browser:1")
    user("customer", customer=me, username="wangfang")

    login("wangfang")
    page.goto("/portal/payments/")
    card = page.get_by_test_id("portal-account-0400000001")
    assert card.get_by_test_id("owed").inner_text() == "123.45"
    card.get_by_test_id("pay-B202610-0400000001").click()
    page.wait_for_load_state("networkidle")
    assert "123.45" in page.get_by_test_id("testpay").inner_text()
    page.get_by_test_id("confirm-pay").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/portal/payments/")
    assert "缴费成功" in page.content()
    assert page.get_by_test_id("portal-account-0400000001").get_by_test_id("owed").inner_text() == "0.00"
    assert "123.45" in page.get_by_test_id("history").inner_text()

"""Portal chat in real chromium: a question answered with its article, a bill from the customer's own
data, then "talk to a person" opens a work order; all without a page reload (HTMX)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gridcare.billing.models import Bill, BillLine
from gridcare.service.models import WorkOrder
from tests.assistant.fixtures import AS_OF, build_town, ensure_kb, isolated

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    with isolated(settings, tmp_path):
        yield


def test_portal_chat_answers_uses_account_data_and_hands_over(page, login):
    ensure_kb()
    town = build_town()
    bill = Bill.objects.create(
        number="B-CHAT-1", account=town.account, org_unit=town.account.org_unit, period_code="2026-10",
        status=Bill.Status.ISSUED, start_date=date(2026, 10, 1), end_date=date(2026, 11, 1), tariff_code="t",
        total_fen=12345, energy_wh=210_000, due_date=date(2026, 11, 25), created_at=AS_OF, issued_at=AS_OF)
    BillLine.objects.create(bill=bill, line_no=1, component="energy", line_code="energy.tier1", tariff="t",
                            tariff_version="1", start_date=bill.start_date, end_date=bill.end_date,
                            quantity=Decimal(210), unit="kWh", unit_price=Decimal("0.5879"), amount_fen=12345)

    login("zhang")
    page.goto("/portal/assistant/")
    page.get_by_test_id("chat-input").fill("峰谷电价怎么取消")
    page.get_by_test_id("chat-send").click()
    first = page.get_by_test_id("chat-reply").nth(0)
    first.wait_for()
    assert first.get_attribute("data-kind") == "answer"
    assert page.get_by_test_id("chat-article").first.get_attribute("data-article") == "change-006"
    assert page.get_by_test_id("chat-input").input_value() == ""  # cleared after sending

    page.get_by_test_id("chat-input").fill("上个月电费多少")
    page.get_by_test_id("chat-input").press("Enter")
    second = page.get_by_test_id("chat-reply").nth(1)
    second.wait_for()
    assert "2026年10月电费 123.45 元" in second.inner_text()

    page.get_by_test_id("chat-handover").click()
    third = page.get_by_test_id("chat-reply").nth(2)
    third.wait_for()
    order = WorkOrder.objects.get()
    assert order.number in third.inner_text()
    assert order.customer_id == town.customer.pk
    assert page.url.endswith("/portal/assistant/")  # no navigation: HTMX appended the turns

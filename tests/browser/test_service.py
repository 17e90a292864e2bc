"""Service desk in real chromium: an agent files a complaint from the form, the handler works and
closes it and records the return visit; the supervisor board shows the live SLA state."""

from __future__ import annotations

import pytest
from django.utils import timezone

from gridcare.service.models import ReturnVisit, WorkOrder
from gridcare.service.services import sla_tick
from tests.service import conftest as service_fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
desk = service_fixtures.desk
_fresh_policy = service_fixtures._fresh_policy


def test_agent_creates_works_and_closes_a_complaint_then_the_return_visit(page, login, desk):
    login("hotline")
    page.goto("/console/service/")
    page.get_by_test_id("new-order").click()
    page.select_option("#id_channel", "hotline")
    page.fill("#id_account_number", "0000000001")
    page.fill("#id_description", "营业员服务态度差，推诿不办理")
    page.get_by_test_id("order-form").locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    number = page.get_by_test_id("order-number").inner_text()
    order = WorkOrder.objects.get(number=number)
    assert order.category == "complaint.service.attitude" and order.first_contact_user.username == "hotline"
    assert "投诉 / 服务投诉 / 服务态度" in page.get_by_test_id("order-category").inner_text()
    assert page.get_by_test_id("clocks").locator("tr[data-clock=first_response]").is_visible()

    # The complaint handler of the station picks it up.
    page.context.clear_cookies()
    login("cmp1")
    page.goto(f"/console/service/orders/{number}/")
    page.get_by_test_id("action-accept").click()
    page.wait_for_load_state("networkidle")
    page.fill("#action-text", "已电话联系客户，了解情况")
    page.get_by_test_id("action-contact").click()
    page.wait_for_load_state("networkidle")
    state = page.locator("tr[data-clock=first_response]").get_by_test_id("clock-state").inner_text()
    assert state == "按时"
    page.fill("#action-text", "已约谈营业员并向客户致歉")
    page.get_by_test_id("action-close").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("order-status").inner_text() == "已归档"

    # The phone return visit follows on the same page.
    visit_form = page.get_by_test_id("visit-form")
    for code, value in (("resolved", "yes"), ("satisfaction", "5"), ("timely", "yes"), ("attitude", "5")):
        visit_form.locator(f"input[name=q_{code}][value='{value}']").check()
    visit_form.locator("input[name=customer_requested_time]").check()  # the test may run at night
    page.get_by_test_id("visit-submit").click()
    page.wait_for_load_state("networkidle")
    visit = ReturnVisit.objects.get(work_order=order)
    assert (visit.status, visit.score, visit.satisfied) == ("completed", 5, True)
    assert page.get_by_test_id("visit-status").inner_text() == "已完成"


def test_supervisor_board_shows_live_sla_and_rapid_response(page, login, desk):
    late = desk.create(as_of=timezone.now() - timezone.timedelta(hours=1), account_number="0000000001",
                       category="complaint.business.billing", description="电费多收了，要找媒体曝光", grade="major")
    desk.create(as_of=timezone.now(), account_number="0000000002", category="inquiry.tariff.tiered",
                description="阶梯电价怎么算")
    sla_tick(as_of=timezone.now())
    login("sup_gd")
    page.goto("/console/service/board/")
    assert page.get_by_test_id("open-total").inner_text() == "2"
    assert int(page.get_by_test_id("live-breached").inner_text()) >= 1  # first response (30 min) ran out
    rapid = page.get_by_test_id("rapid")
    assert late.number in rapid.inner_text()
    assert rapid.locator("span.badge.text-bg-danger").first.is_visible()  # high risk: 重大 + 媒体曝光
    assert late.number in page.get_by_test_id("breaches").inner_text()
    page.get_by_test_id("rapid").get_by_role("link", name=late.number).click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("risk").inner_text() == "高"

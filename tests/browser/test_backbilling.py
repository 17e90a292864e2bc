"""Back-billing (退补) in real chromium: the approver finds a prepared case in the parameters queue and
approves it, an issuer bills it with 开具退补账单, the bill page shows the adjustment with links to
the bills it corrects and who issued it, and the customer finds it in the portal's bill list."""

from __future__ import annotations

import pytest

from gridcare.billing.models import Bill
from gridcare.parameters import services as parameters
from gridcare.parameters.models import BackBillingCase
from tests.billing.backbilling_world import adjust_world
from tests.factories import user
from tests.parameters import fixtures
from tests.parameters.fixtures import AS_OF

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
pworld, fast_passwords = fixtures.pworld, fixtures.fast_passwords


def _logout(page) -> None:
    page.context.clear_cookies()


def test_approve_issue_and_see_the_adjustment_in_console_and_portal(page, login, pworld):
    w = adjust_world(pworld)
    case = parameters.backbilling_case_prepare(
        data=parameters.CaseInput(account_id=w.acc.pk, kind="wrong_multiplier", correction={"multiplier": "30"},
                                  period_codes=["2025-12", "2026-01"], reason="现场核查：CT 实为 150/5"),
        actor=pworld.clerk, as_of=AS_OF)
    approver = pworld.approver.username
    issuer = user("approver", org_unit=pworld.units["GZ"], username="issuer")
    user("customer", customer=w.acc.customer, username="wujin")

    # The approver's queue lists the case; approving it leaves the issue to billing.
    login(approver)
    page.goto("/console/parameters/")
    page.get_by_test_id("cases").get_by_role("link", name=case.number).click()
    page.wait_for_load_state("networkidle")
    assert "140.60" in page.get_by_test_id("case-total").inner_text()
    page.get_by_test_id("case-decide").get_by_role("button", name="批准").click()
    page.wait_for_load_state("networkidle")
    assert BackBillingCase.objects.get(pk=case.pk).status == "approved"
    assert "开具退补账单" in page.get_by_test_id("case-issue").inner_text()

    # Another issuer bills it from the case page and lands on the adjustment bill.
    _logout(page)
    login("issuer")
    page.goto(f"/console/parameters/cases/{case.pk}/")
    page.get_by_test_id("case-issue").get_by_role("button", name="开具退补账单").click()
    page.wait_for_load_state("networkidle")
    bill = Bill.objects.get(kind="adjust")
    assert page.url.endswith(f"/console/billing/bills/{bill.pk}/")
    assert f"退补账单 {bill.number} 已开具。" in page.content()
    assert page.get_by_test_id("adjustment-note").is_visible()
    assert page.get_by_test_id("bill-status").inner_text() == "已发行"
    assert page.get_by_test_id("bill-issued-by").inner_text().startswith(f"发行人: {issuer}")
    assert page.get_by_test_id("bill-case").inner_text() == case.number
    links = page.get_by_test_id("adjusted-bill")
    assert links.all_inner_texts() == [w.dec.number, w.jan.number]
    links.last.click()  # the link leads to the January bill it corrects
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/console/billing/bills/{w.jan.pk}/")

    # The customer sees the adjustment in the portal's bill list, with its reason.
    _logout(page)
    login("wujin")
    page.goto("/portal/bills/")
    row = page.locator(f'[data-testid="portal-bill-row"][data-number="{bill.number}"]')
    assert f"{case.number}: 现场核查：CT 实为 150/5" == row.get_by_test_id("adjustment-reason").inner_text()
    assert "140.60" in row.inner_text()
    assert page.get_by_test_id("portal-bill-row").count() == 3

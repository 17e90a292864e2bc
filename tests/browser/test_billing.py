"""Billing in real chromium: the auditor works the exception queue (HTMX filter, confirm, hold); a
clerk starts a run from the console and sees its progress; a customer opens their bill and PDF."""

from __future__ import annotations

import pytest

from gridcare.billing import services
from gridcare.billing.models import Bill, BillException
from tests.billing.conftest import AS_OF, NOV1, OCT1, residential
from tests.factories import user
from tests.metering.helpers import metered_account, seed_read

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.GRIDCARE_BILLING_RUN_LAUNCHER = "inline"
    from gridcare.tariffs.services import tariff_library_sync

    tariff_library_sync(as_of=AS_OF)


def test_auditor_works_the_exception_queue(page, login, org):
    a1, _ = residential(org["PY1"], "1000", "1150", name="张三")
    a2, _ = residential(org["PY1"], "2000", "2500", name="李四")
    clerk = user("billing_clerk", org["GD"], username="clerk")
    user("auditor", org["GD"], username="auditor")
    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=clerk, as_of=AS_OF)
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    services.audit_rule_set(code="amount_above", enabled=True, params={"default_fen": "0"},
                            actor=user("auditor", org["GD"]), as_of=AS_OF)

    login("auditor")
    page.goto("/console/billing/exceptions/")
    rows = page.get_by_test_id("exception")
    assert rows.count() == 2
    assert "新户首次出账" in page.content()
    page.select_option("select[name=rule]", "usage_change_mom")  # HTMX swaps the table
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("exception").count() == 0
    page.select_option("select[name=rule]", "")
    page.wait_for_load_state("networkidle")
    page.get_by_test_id("exception").first.get_by_role("link", name="复核").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("bill-document").is_visible()
    page.fill("#id_note", "新装用户，已核实")
    page.get_by_test_id("confirm").click()
    page.wait_for_load_state("networkidle")
    # The next open exception opens at once; hold it without a note: refused, nothing changes.
    page.get_by_test_id("hold").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".alert-danger").inner_text() == "请说明挂起原因"
    assert BillException.objects.filter(status="held").count() == 0
    page.fill("#id_note", "需现场核查")
    page.get_by_test_id("hold").click()
    page.wait_for_load_state("networkidle")
    assert sorted(BillException.objects.values_list("status", flat=True)) == ["confirmed", "held"]
    assert sorted(Bill.objects.values_list("status", flat=True)) == ["draft", "held"]


def test_clerk_starts_a_run_and_sees_its_progress(page, login, org):
    residential(org["PY1"], "1000", "1150")
    metered_account(org["PY1"], tariff_code="gz-residential")  # no reads at all: not billed, with its reason
    user("billing_clerk", org["GD"], username="clerk")
    login("clerk")
    page.goto("/console/billing/")
    page.fill("#id_period", "2026-10")
    page.get_by_test_id("start-run").click()
    page.wait_for_load_state("networkidle")
    progress = page.get_by_test_id("run-progress")
    assert progress.get_attribute("data-status") == "completed"
    assert "100%" in progress.inner_text()
    assert "no read of total on 2026-11-01" in page.get_by_test_id("run-skips").inner_text()
    assert Bill.objects.count() == 1


def test_customer_opens_bill_and_downloads_pdf(page, login, org):
    acct, m = metered_account(org["PY1"], tariff_code="gz-residential-tou", registers=("total", "peak", "flat",
                                                                                      "valley"), name="王芳")
    for reg, v0, v1 in (("total", 1000, 1300), ("peak", 300, 400), ("flat", 500, 650), ("valley", 200, 250)):
        seed_read(m, reg, OCT1, v0)
        seed_read(m, reg, NOV1, v1)
    clerk = user("billing_clerk", org["GD"], username="clerk")
    auditor = user("auditor", org["GD"], username="auditor")
    approver = user("approver", org["GD"], username="approver")
    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=clerk, as_of=AS_OF)
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    for exc in BillException.objects.all():
        services.bill_exception_confirm(exception_id=exc.pk, actor=auditor, as_of=AS_OF)
    services.billing_run_approve(run_id=run.pk, actor=approver, as_of=AS_OF)
    services.billing_run_issue(run_id=run.pk, actor=approver, as_of=AS_OF)
    bill = Bill.objects.get()
    user("customer", customer=acct.customer, username="wangfang")

    login("wangfang")
    page.goto("/portal/bills/")
    page.get_by_test_id("portal-bill-row").first.get_by_role("link", name=bill.number).click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("bill-amount").inner_text() == "¥ 201.28"
    assert page.get_by_test_id("payment-reference").inner_text() == bill.payment_reference
    chart = page.get_by_test_id("tou-chart").inner_text()
    assert "高峰" in chart and "平段" in chart and "低谷" in chart
    with page.expect_download() as download:
        page.get_by_test_id("download-pdf").click()
    assert download.value.suggested_filename == f"{bill.number}.pdf"

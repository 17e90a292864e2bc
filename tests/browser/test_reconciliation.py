"""A reconciliation clerk uploads a bank statement in the console, sees the lines and opens the
discrepancy with its supervision work order, then resolves it."""

from __future__ import annotations

import pytest

from gridcare.reconciliation.models import Discrepancy
from tests.reconciliation import conftest as fixtures
from tests.reconciliation.conftest import icbc_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
books = fixtures.books
_fresh_policies = fixtures._fresh_policies


def test_upload_statement_and_resolve_a_discrepancy(books, login, tmp_path):
    a = [x.number for x in books.accounts]
    statement = tmp_path / "icbc.txt"
    statement.write_bytes(icbc_file([("B001", "20261102", "100.00", "DK20261102000", a[0], "客户0"),
                                     ("B002", "20261102", "66.00", "", "", "路人")]))
    page = login(books.approver.username)
    page.goto("/console/reconciliation/")
    page.select_option("#id_source", "ICBC")
    page.set_input_files("#id_file", str(statement))
    page.click("[data-testid=upload-form] button[type=submit]")
    page.wait_for_url("**/console/reconciliation/statements/*/")
    assert "B002" in page.inner_text("[data-testid=lines]")
    page.goto("/console/reconciliation/")
    page.click("[data-testid=discrepancies] a")
    assert page.inner_text("[data-testid=work-order]").strip() != "—"
    page.select_option("#id_resolution", "refunded")
    page.fill("#id_note", "已原路退回")
    page.click("[data-testid=resolve-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "已退还付款人" in page.inner_text("[data-testid=discrepancy]")
    assert Discrepancy.objects.get().status == "resolved"

"""Console reconciliation pages: capability, upload → statement page, row errors shown with nothing
written, discrepancy resolution, day close; zh-Hans by default."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gridcare.reconciliation.models import Discrepancy, Statement
from tests.reconciliation import conftest as fixtures
from tests.reconciliation.conftest import icbc_file

pytestmark = pytest.mark.django_db
books = fixtures.books
_fresh_policies = fixtures._fresh_policies


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _content(books) -> bytes:
    a = [x.number for x in books.accounts]
    return icbc_file([("B001", "20261102", "100.00", "DK20261102000", a[0], "客户0"),
                      ("B002", "20261102", "99.00", "DK20261102001", a[1], "客户1")])


def test_home_needs_the_capability_and_is_chinese_by_default(books):
    assert _client(books.cashier).get("/console/reconciliation/").status_code == 403
    r = _client(books.approver).get("/console/reconciliation/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "对账" in html and "自动对账率" in html and "导入对账单" in html
    assert "Reconciliation" not in html


def test_upload_redirects_to_the_statement_and_discrepancies_are_listed(books):
    client = _client(books.approver)
    r = client.post("/console/reconciliation/upload/", {"source": "ICBC", "file": SimpleUploadedFile("a.txt", _content(books))})
    statement = Statement.objects.get()
    assert (r.status_code, r["Location"]) == (302, f"/console/reconciliation/statements/{statement.pk}/")
    page = client.get(r["Location"]).content.decode()
    assert "B002" in page and "99.00" in page
    home = client.get("/console/reconciliation/").content.decode()
    discrepancy = Discrepancy.objects.get()
    assert f"/console/reconciliation/discrepancies/{discrepancy.pk}/" in home
    again = client.post("/console/reconciliation/upload/", {"source": "ICBC",
                                                            "file": SimpleUploadedFile("b.txt", _content(books))})
    assert again.status_code == 302 and Statement.objects.count() == 1


def test_rejected_rows_are_shown_and_nothing_is_written(books):
    bad = icbc_file([("B001", "2026-02-30", "1.00", "R", "", "")])
    r = _client(books.approver).post("/console/reconciliation/upload/",
                                     {"source": "ICBC", "file": SimpleUploadedFile("bad.txt", bad)})
    html = r.content.decode()
    assert r.status_code == 422
    assert 'data-testid="row-error-table"' in html and "value_date" in html and "2026-02-30" in html
    assert not Statement.objects.exists()


def test_resolve_a_discrepancy_and_close_a_day(books):
    client = _client(books.approver)
    client.post("/console/reconciliation/upload/", {"source": "ICBC", "file": SimpleUploadedFile("a.txt", _content(books))})
    discrepancy = Discrepancy.objects.get()
    url = f"/console/reconciliation/discrepancies/{discrepancy.pk}/"
    bad = client.post(url, {"resolution": "accepted", "note": ""})
    assert bad.status_code == 422
    ok = client.post(url, {"resolution": "accepted", "note": "银行手续费差额"})
    assert ok.status_code == 302
    discrepancy.refresh_from_db()
    assert (discrepancy.status, discrepancy.resolved_by) == ("resolved", books.approver)
    closed = client.post("/console/reconciliation/days/2026-11-02/")
    assert closed.status_code == 302
    day = client.get("/console/reconciliation/days/2026-11-02/").content.decode()
    assert "ICBC" in day and "PSBC" in day
    assert client.get("/console/reconciliation/days/not-a-date/").status_code == 404

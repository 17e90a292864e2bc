"""/api/v1/reconciliation: upload, row errors as 422 with line numbers, idempotent re-upload,
discrepancies, resolution, day close, KPI; capability check."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation

from gridcare.access.services import api_token_create
from gridcare.reconciliation.models import Discrepancy, Statement
from tests.reconciliation import conftest as fixtures
from tests.reconciliation.conftest import icbc_file

pytestmark = pytest.mark.django_db
books = fixtures.books
_fresh_policies = fixtures._fresh_policies


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', as_of=timezone.now())}")


def _upload(client, content: bytes, source="ICBC", kind="bank", **extra):
    return client.post("/api/v1/reconciliation/statements",
                       {"file": SimpleUploadedFile("icbc.txt", content), "source": source, "kind": kind, **extra})


def _statement(books) -> bytes:
    a = [x.number for x in books.accounts]
    return icbc_file([("B001", "20261102", "100.00", "DK20261102000", a[0], "客户0"),
                      ("B002", "20261102", "99.00", "DK20261102001", a[1], "客户1")])


def test_upload_match_list_and_reupload(books):
    client = bearer(books.approver)
    r = _upload(client, _statement(books))
    body = r.json()
    assert r.status_code == 201
    assert (body["created"], body["counts"], body["discrepancies"]) == (
        True, {"matched": 1, "mismatched": 1, "duplicate": 0, "unmatched": 0}, 1)
    statement_id = body["statement"]["id"]
    again = _upload(client, _statement(books))
    assert (again.status_code, again.json()["created"], again.json()["statement"]["id"]) == (200, False, statement_id)
    lines = client.get(f"/api/v1/reconciliation/statements/{statement_id}/lines?status=mismatched").json()
    assert [(x["txn_ref"], x["reason"]) for x in lines["items"]] == [("B002", "amount")]
    items = client.get("/api/v1/reconciliation/discrepancies?status=open").json()["items"]
    assert [(d["kind"], d["amount_fen"], d["difference_fen"]) for d in items] == [("amount", 9_900, -10_100)]
    assert items[0]["work_order"]


def test_malformed_rows_are_422_with_line_and_field_and_nothing_is_written(books):
    content = icbc_file([("B001", "20261102", "1,00", "R", "", ""), ("", "20261102", "5.00", "R", "", "")])
    r = _upload(bearer(books.approver), content)
    body = r.json()
    assert r.status_code == 422
    assert (body["code"], body["field"]) == ("statement_invalid", "file")
    assert body["errors"] == [
        {"line": 2, "field": "amount_yuan", "message": "'1,00' is not an amount in yuan (up to 2 decimals)"},
        {"line": 3, "field": "txn_ref", "message": "the transaction reference is empty"}]
    assert not Statement.objects.exists()


def test_unknown_bank_and_roles(books):
    r = _upload(bearer(books.approver), b"x", source="NOPE")
    assert (r.status_code, r.json()["field"]) == (404, "bank")
    assert _upload(bearer(books.cashier), _statement(books)).status_code == 403
    assert bearer(books.cashier).get("/api/v1/reconciliation/discrepancies").status_code == 403


def test_resolve_close_day_and_kpi(books):
    client = bearer(books.approver)
    _upload(client, _statement(books))
    discrepancy = Discrepancy.objects.get()
    bad = client.post(f"/api/v1/reconciliation/discrepancies/{discrepancy.pk}/resolve",
                      data=json.dumps({"resolution": "shrug"}), content_type="application/json")
    assert (bad.status_code, bad.json()["field"]) == (422, "resolution")
    ok = client.post(f"/api/v1/reconciliation/discrepancies/{discrepancy.pk}/resolve",
                     data=json.dumps({"resolution": "bank_corrected", "note": "银行已更正"}),
                     content_type="application/json")
    assert (ok.status_code, ok.json()["status"], ok.json()["resolution"]) == (200, "resolved", "bank_corrected")
    day = client.post("/api/v1/reconciliation/days/2026-11-02/close").json()
    assert day["data"]["sources"]["ICBC"]["missing"] == 3  # three ICBC debits not on this statement
    assert client.get("/api/v1/reconciliation/days/2026-11-02").status_code == 200
    assert client.get("/api/v1/reconciliation/days/2026-11-09").status_code == 404
    kpi = client.get("/api/v1/reconciliation/kpi/auto-rate?start=2026-11-01&end=2026-12-01").json()
    assert (kpi["auto"], kpi["total"], kpi["rate"]) == (1, 5, "0.2000")
    assert client.get("/api/v1/reconciliation/kpi/auto-rate?start=2026-12-01&end=2026-11-01").status_code == 422

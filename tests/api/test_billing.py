"""/api/v1/billing and /api/v1/metering: runs, approval, issue, bills and lines, explanation, PDF,
corrections, exception queue, rules; mobile reads, read files with row-level 422s, quarantine,
meter events, calendar. Every failure is {code, message, field} with a 4xx; rejected calls write nothing."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation

from gridcare.access.services import api_token_create
from gridcare.billing.models import AuditRule, Bill, BillException, BillingRun
from gridcare.metering.models import MeterEvent, MeterRead, ReadImport
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import NOV1, OCT1, residential
from tests.factories import user
from tests.metering.helpers import csv_bytes, metered_account, seed_read

pytestmark = pytest.mark.django_db
staff, tariffs, _fast_passwords = billing_fixtures.staff, billing_fixtures.tariffs, billing_fixtures._fast_passwords


@pytest.fixture(autouse=True)
def _english_inline(settings):
    settings.GRIDCARE_BILLING_RUN_LAUNCHER = "inline"
    with translation.override("en"):
        yield


def bearer(u) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=u, name='t', as_of=timezone.now())}")


def post(client, url, body=None, method="post"):
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")


def _run_and_issue(org, staff):
    a1, m1 = residential(org["PY1"], "1000", "1150")
    a2, _ = residential(org["PY1"], "2000", "2500")
    r = post(bearer(staff["clerk"]), "/api/v1/billing/runs", {"period": "2026-10"})
    assert r.status_code == 202, r.json()
    run = r.json()
    assert (run["status"], run["billed_accounts"], run["scope"]) == ("completed", 2, "GD")
    auditor = bearer(staff["auditor"])
    queue = auditor.get("/api/v1/billing/exceptions").json()
    assert queue["total"] == 2 and {e["rule"] for e in queue["items"]} == {"first_bill"}
    for e in queue["items"]:
        assert post(auditor, f"/api/v1/billing/exceptions/{e['id']}/confirm", {"note": "ok"}).status_code == 200
    approver = bearer(staff["approver"])
    assert post(approver, f"/api/v1/billing/runs/{run['id']}/approve").json() == {"count": 2, "notices_queued": 0}
    issued = post(approver, f"/api/v1/billing/runs/{run['id']}/issue").json()
    assert issued == {"count": 2, "notices_queued": 2}  # one SMS each
    return run, (a1, m1), a2


def test_run_approve_issue_and_bill_endpoints(org, tariffs, staff):
    run, (a1, m1), a2 = _run_and_issue(org, staff)
    clerk = bearer(staff["clerk"])
    bills = clerk.get("/api/v1/billing/bills?period=2026-10").json()
    assert bills["total"] == 2
    b1 = next(b for b in bills["items"] if b["account_number"] == a1.number)
    assert (b1["total_fen"], b1["energy_wh"], b1["status"], b1["version"]) == (8833, 150000, "issued", 1)
    detail = clerk.get(f"/api/v1/billing/bills/{b1['id']}").json()
    assert [(ln["line_code"], ln["amount_fen"]) for ln in detail["lines"]] == [("energy.tier1", 8703),
                                                                               ("funds.all", 130)]
    assert detail["lines"][0]["quantity"] == "150.000"
    lines = clerk.get(f"/api/v1/billing/bills/{b1['id']}/lines").json()
    assert sum(ln["amount_fen"] for ln in lines) == 8833
    pdf = clerk.get(f"/api/v1/billing/bills/{b1['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    periods = clerk.get("/api/v1/billing/periods?period=2026-10").json()
    assert [(p["period"], p["accounts"], p["bills"], p["percent_issued"]) for p in periods] == [
        ("2026-10", 2, {"issued": 2}, 100)]
    assert clerk.get(f"/api/v1/billing/runs/{run['id']}").json()["status"] == "completed"


def test_customer_sees_own_issued_bills_only(org, tariffs, staff):
    _, (a1, _), a2 = _run_and_issue(org, staff)
    me = bearer(user("customer", customer=a1.customer))
    bills = me.get("/api/v1/billing/bills").json()
    assert [b["account_number"] for b in bills["items"]] == [a1.number]
    other = Bill.objects.get(account=a2)
    r = me.get(f"/api/v1/billing/bills/{other.pk}")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert me.get("/api/v1/billing/runs").status_code == 403
    assert me.get("/api/v1/billing/exceptions").status_code == 403


def test_two_person_rule_over_the_api(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    admin = bearer(staff["admin"])
    run = post(admin, "/api/v1/billing/runs", {"period": "2026-10"}).json()
    for exc in BillException.objects.all():
        post(bearer(staff["auditor"]), f"/api/v1/billing/exceptions/{exc.pk}/confirm", {"note": ""})
    r = post(admin, f"/api/v1/billing/runs/{run['id']}/approve")
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "unable_to_approve_bills", "actor")
    assert Bill.objects.get().status == "draft"


def test_bad_run_requests_are_4xx_and_write_nothing(org, tariffs, staff):
    clerk = bearer(staff["clerk"])
    r = post(clerk, "/api/v1/billing/runs", {"period": "26-10"})
    assert (r.status_code, r.json()["field"]) == (422, "period")
    r = post(clerk, "/api/v1/billing/runs", {"period": "2026-10", "org_unit": "NOPE"})
    assert (r.status_code, r.json()["field"]) == (404, "org_unit")
    r = post(clerk, "/api/v1/billing/runs", {})
    assert (r.status_code, r.json()["field"]) == (422, "period")
    assert post(bearer(staff["auditor"]), "/api/v1/billing/runs", {"period": "2026-10"}).status_code == 403
    assert not BillingRun.objects.exists()


def test_correction_and_explanation(org, tariffs, staff):
    _, (a1, m1), _ = _run_and_issue(org, staff)
    bill = Bill.objects.get(account=a1)
    clerk = bearer(staff["clerk"])
    r = post(clerk, f"/api/v1/billing/bills/{bill.pk}/corrections", {"reason": ""})
    assert r.status_code == 422 and Bill.objects.filter(account=a1).count() == 1
    r = post(clerk, f"/api/v1/billing/bills/{bill.pk}/corrections",
             {"reason": "止码更正", "reads": [{"meter_id": m1.pk, "register": "total", "value": "1100"}]})
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["credit"]["total_fen"], body["rebill"]["total_fen"]) == (-8833, 5889)
    assert post(clerk, f"/api/v1/billing/bills/{body['rebill']['id']}/approve-correction").status_code == 403
    r = post(bearer(staff["approver"]), f"/api/v1/billing/bills/{body['rebill']['id']}/approve-correction")
    assert r.status_code == 200 and r.json()["rebill"]["status"] == "issued"
    expl = clerk.get(f"/api/v1/billing/bills/{body['rebill']['id']}/explanation").json()
    assert expl["previous_bill_id"] is None and expl["change_fen"] == 5889


def test_exception_correct_read_and_hold(org, tariffs, staff):
    acct, m = residential(org["PY1"], "1000", "1500")
    post(bearer(staff["clerk"]), "/api/v1/billing/runs", {"period": "2026-10"})
    exc = BillException.objects.get()
    auditor = bearer(staff["auditor"])
    r = post(auditor, f"/api/v1/billing/exceptions/{exc.pk}/correct-read", {"note": "x", "reads": []})
    assert r.status_code == 422
    r = post(auditor, f"/api/v1/billing/exceptions/{exc.pk}/correct-read",
             {"note": "抄错", "reads": [{"meter_id": m.pk, "register": "total", "value": "1150"}]})
    assert r.status_code == 200 and r.json()["total_fen"] == 8833
    new_exc = BillException.objects.get(status="open")
    r = post(auditor, f"/api/v1/billing/exceptions/{new_exc.pk}/hold", {"note": ""})
    assert (r.status_code, r.json()["field"]) == (422, "note")
    assert post(auditor, f"/api/v1/billing/exceptions/{new_exc.pk}/hold", {"note": "核查"}).json()["status"] == "held"
    assert Bill.objects.get().status == "held"


def test_audit_rules_validate_params(org, staff):
    auditor = bearer(staff["auditor"])
    rules = auditor.get("/api/v1/billing/audit-rules").json()
    assert {r["code"] for r in rules} >= {"usage_change_mom", "amount_above", "sampling"}
    r = post(auditor, "/api/v1/billing/audit-rules/usage_change_mom", {"enabled": True, "params": {"threshold": "x"}},
             method="put")
    assert (r.status_code, r.json()["field"]) == (422, "params.threshold")
    r = post(auditor, "/api/v1/billing/audit-rules/usage_change_mom", {"params": {"nope": "1"}}, method="put")
    assert (r.status_code, r.json()["field"]) == (422, "params.nope")
    assert not AuditRule.objects.exists()
    r = post(auditor, "/api/v1/billing/audit-rules/usage_change_mom", {"params": {"threshold": "0.3"}}, method="put")
    assert r.status_code == 200 and r.json()["params"] == {"threshold": "0.3"}


# --- metering ------------------------------------------------------------------------------------------


def test_mobile_read_is_recorded_once_and_validated(org, staff):
    _, m = metered_account(org["PY1"], tariff_code="gz-residential")
    seed_read(m, "total", OCT1, "1000")
    clerk = bearer(staff["clerk"])
    body = {"asset_number": m.asset_number, "register": "total", "read_date": "2026-11-01", "value": "1100.5"}
    r = post(clerk, "/api/v1/metering/reads", body)
    assert r.status_code == 201, r.json()
    assert (r.json()["status"], r.json()["value"], r.json()["source"]) == ("valid", "1100.5", "api")
    again = post(clerk, "/api/v1/metering/reads", body)
    assert (again.status_code, again.json()["id"]) == (200, r.json()["id"])
    lower = post(clerk, "/api/v1/metering/reads", {**body, "read_date": "2026-11-02", "value": "900"})
    assert (lower.status_code, lower.json()["status"], lower.json()["reason"]) == (201, "quarantined", "decrease")
    bad = post(clerk, "/api/v1/metering/reads", {**body, "value": "-3"})
    assert bad.status_code == 422
    bad = post(clerk, "/api/v1/metering/reads", {**body, "register": "bogus"})
    assert (bad.status_code, bad.json()["field"]) == (422, "register")
    assert MeterRead.objects.count() == 3
    assert post(bearer(staff["auditor"]), "/api/v1/metering/reads", body).status_code == 403


def test_read_file_errors_are_row_level_and_nothing_is_written(org, staff):
    _, m = metered_account(org["PY1"], tariff_code="gz-residential")
    clerk = bearer(staff["clerk"])
    bad = csv_bytes([(m.asset_number, "total", "2026-11-01", "1.5kWh"), (m.asset_number, "total", "2026-13-01", "5")])
    r = clerk.post("/api/v1/metering/imports", {"file": SimpleUploadedFile("bad.csv", bad)})
    body = r.json()
    assert (r.status_code, body["code"], body["field"]) == (422, "read_file_invalid", "file")
    assert [p["line"] for p in body["problems"]] == [2, 3]
    wrong = clerk.post("/api/v1/metering/imports", {"file": SimpleUploadedFile("w.csv", b"meter,kwh\nX,1\n")})
    assert (wrong.status_code, wrong.json()["field"]) == (422, "columns")
    assert not ReadImport.objects.exists() and not MeterRead.objects.exists()
    good = csv_bytes([(m.asset_number, "total", "2026-10-01", "1000"), ("UNKNOWN1", "total", "2026-10-01", "7")])
    r = clerk.post("/api/v1/metering/imports", {"file": SimpleUploadedFile("good.csv", good)})
    assert r.status_code == 201
    assert (r.json()["accepted"], r.json()["quarantined"], r.json()["by_reason"]) == (1, 1, {"unknown_meter": 1})
    again = clerk.post("/api/v1/metering/imports", {"file": SimpleUploadedFile("good.csv", good)})
    assert (again.status_code, again.json()["already_imported"]) == (200, True)
    queue = clerk.get("/api/v1/metering/quarantine").json()
    assert [i["asset_number"] for i in queue["items"]] == ["UNKNOWN1"]
    read_id = queue["items"][0]["id"]
    r = post(clerk, f"/api/v1/metering/reads/{read_id}/discard", {"note": "不明表号"})
    assert r.json()["status"] == "void"


def test_meter_replacement_feeds_the_bill(org, tariffs, staff):
    acct, old = residential(org["PY1"], "1000", None)
    clerk = bearer(staff["clerk"])
    r = post(clerk, f"/api/v1/metering/meters/{old.pk}/replace", {
        "on": "2026-10-16", "final_reads": {"total": "1100"}, "new_asset_number": "MNEW0001",
        "initial_reads": {"total": "0"}, "note": "故障换表"})
    assert r.status_code == 201, r.json()
    assert (r.json()["kind"], r.json()["meter"], r.json()["new_meter"]) == ("replace", old.asset_number, "MNEW0001")
    r = post(clerk, "/api/v1/metering/reads", {"asset_number": "MNEW0001", "register": "total",
                                               "read_date": "2026-11-01", "value": "60"})
    assert r.json()["status"] == "valid"
    post(clerk, "/api/v1/billing/runs", {"period": "2026-10"})
    bill = Bill.objects.get(account=acct)
    assert bill.energy_wh == 160_000  # 100 kWh on the old meter + 60 kWh on the new one
    assert sorted(bill.reads.values_list("segment", "asset_number", "advance_milli")) == [
        (1, old.asset_number, 100_000), (2, "MNEW0001", 60_000)]
    assert set(bill.exceptions.values_list("rule", flat=True)) == {"first_bill", "tariff_or_meter_change"}
    events = clerk.get(f"/api/v1/metering/accounts/{acct.pk}/events").json()
    assert [e["kind"] for e in events] == ["replace"]
    bad = post(clerk, f"/api/v1/metering/meters/{old.pk}/replace", {
        "on": "2026-10-20", "final_reads": {"total": "1"}, "new_asset_number": "MNEW0002", "initial_reads": {}})
    assert bad.status_code == 422 and MeterEvent.objects.count() == 1


def test_calendar_endpoints(org, staff):
    clerk = bearer(staff["clerk"])
    r = post(clerk, f"/api/v1/metering/calendars/{org['SZ'].code}", {"read_day": 10, "due_days": 20}, method="put")
    assert r.status_code == 200 and (r.json()["read_day"], r.json()["own"]) == (10, True)
    rows = {c["org_unit"]: c for c in clerk.get("/api/v1/metering/calendars").json()}
    assert rows["SZ"]["read_day"] == 10 and rows["GZ"]["read_day"] == 1
    bad = post(clerk, "/api/v1/metering/calendars/SZ", {"read_day": 30, "due_days": 20}, method="put")
    assert (bad.status_code, bad.json()["field"]) == (422, "read_day")
    assert NOV1 > OCT1

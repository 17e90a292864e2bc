"""Console billing and reads pages, and the portal bill pages: the clerk → auditor → approver flow
through the browser-facing views, HTMX progress partial, PDFs, row-level import errors with nothing
written, scoping (a customer never sees another customer's bill) and zh-Hans by default."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from gridcare.billing import services
from gridcare.billing.models import Bill, BillException, BillingRun
from gridcare.metering.models import MeterRead, ReadImport
from gridcare.notifications.models import Message
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import AS_OF, NOV1, OCT1, residential
from tests.factories import user
from tests.metering.helpers import csv_bytes, metered_account, seed_read

pytestmark = pytest.mark.django_db
staff, tariffs, _fast_passwords = billing_fixtures.staff, billing_fixtures.tariffs, billing_fixtures._fast_passwords


@pytest.fixture(autouse=True)
def _inline_runs(settings):
    settings.GRIDCARE_BILLING_RUN_LAUNCHER = "inline"


def _client(u) -> Client:
    client = Client()
    client.force_login(u)
    return client


def _issued(org, staff):
    """Two accounts billed, reviewed, approved and issued through the console."""
    a1, m1 = residential(org["PY1"], "1000", "1150", name="王小明")
    a2, m2 = residential(org["PY1"], "2000", "2500", name="李四")
    clerk, auditor, approver = _client(staff["clerk"]), _client(staff["auditor"]), _client(staff["approver"])
    r = clerk.post("/console/billing/runs/start/", {"period": "2026-10", "org_unit": ""})
    run = BillingRun.objects.get()
    assert (r.status_code, r["Location"]) == (302, f"/console/billing/runs/{run.pk}/")
    for exc in BillException.objects.filter(status="open"):
        r = auditor.post(f"/console/billing/exceptions/{exc.pk}/", {"action": "confirm", "note": "新户核实"})
        assert r.status_code == 302
    assert approver.post(f"/console/billing/runs/{run.pk}/approve/").status_code == 302
    assert approver.post(f"/console/billing/runs/{run.pk}/issue/").status_code == 302
    return run, (a1, m1), (a2, m2)


def test_home_shows_period_progress_in_chinese(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    client = _client(staff["clerk"])
    html = client.get("/console/billing/").content.decode()
    assert "开始计费" in html or "计费" in html
    assert "Period progress" not in html
    client.post("/console/billing/runs/start/", {"period": "2026-10"})
    html = client.get("/console/billing/").content.decode()
    assert 'data-period="2026-10"' in html
    assert "1 / 1" in html  # billed 1 of 1 account


def test_start_run_with_bad_period_writes_nothing(org, tariffs, staff):
    r = _client(staff["clerk"]).post("/console/billing/runs/start/", {"period": "2026-13"}, follow=True)
    assert r.status_code == 200
    assert not BillingRun.objects.exists()


def test_auditor_cannot_start_and_clerk_cannot_approve(org, tariffs, staff):
    assert _client(staff["auditor"]).post("/console/billing/runs/start/", {"period": "2026-10"}).status_code == 403
    residential(org["PY1"], "1000", "1150")
    _client(staff["clerk"]).post("/console/billing/runs/start/", {"period": "2026-10"})
    run = BillingRun.objects.get()
    assert _client(staff["clerk"]).post(f"/console/billing/runs/{run.pk}/approve/").status_code == 403
    assert set(Bill.objects.values_list("status", flat=True)) == {"draft"}


def test_progress_partial_polls_while_running_and_refreshes_when_done(org, tariffs, staff):
    residential(org["PY1"], "1000", "1150")
    client = _client(staff["clerk"])
    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=timezone.now())
    html = client.get(f"/console/billing/runs/{run.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html  # pending: the page polls
    partial = client.get(f"/console/billing/runs/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in partial and 'hx-trigger="every 1s"' in partial.content.decode()
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    r = client.get(f"/console/billing/runs/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert r["HX-Refresh"] == "true"
    assert 'data-status="completed"' in r.content.decode() and "hx-trigger" not in r.content.decode()


def test_full_flow_issue_delivers_notices_and_pdfs(org, tariffs, staff):
    run, (a1, m1), _ = _issued(org, staff)
    bill = Bill.objects.get(account=a1)
    assert (bill.status, bill.approved_by_id) == ("issued", staff["approver"].pk)
    # Notices queued in the outbox: SMS (the customer has a phone) and nothing else without e-mail/portal user.
    assert set(Message.objects.filter(object_type="bill", object_id=str(bill.pk)).values_list("channel", flat=True)) \
        == {"sms"}
    page = _client(staff["clerk"]).get(f"/console/billing/bills/{bill.pk}/").content.decode()
    assert bill.number in page and "88.33" in page and bill.payment_reference in page
    assert "王*明" in page  # a clerk sees the name masked
    pdf = _client(staff["clerk"]).get(f"/console/billing/bills/{bill.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_month_close_from_the_console(org, tariffs, staff):
    _issued(org, staff)
    from gridcare.metering.models import BillingPeriod

    period = BillingPeriod.objects.get(code="2026-10")
    assert _client(staff["clerk"]).post(f"/console/billing/periods/{period.pk}/close/").status_code == 403
    r = _client(staff["approver"]).post(f"/console/billing/periods/{period.pk}/close/", follow=True)
    assert r.status_code == 200 and "已关账" in r.content.decode()
    period.refresh_from_db()
    assert period.status == "closed"


def test_exception_review_hold_and_correct_read(org, tariffs, staff):
    acct, m = residential(org["PY1"], "1000", "1500")
    residential(org["PY1"], "1000", "1100")
    _client(staff["clerk"]).post("/console/billing/runs/start/", {"period": "2026-10"})
    auditor = _client(staff["auditor"])
    queue = auditor.get("/console/billing/exceptions/").content.decode()
    assert "新户首次出账" in queue or "首张账单" in queue or "first_bill" in queue
    exc = BillException.objects.get(bill__account=acct)
    page = auditor.get(f"/console/billing/exceptions/{exc.pk}/")
    assert page.status_code == 200 and "306.43" in page.content.decode()
    bad = auditor.post(f"/console/billing/exceptions/{exc.pk}/", {"action": "correct", "reason": "",
                                                                 f"read_{m.pk}_total": "abc"})
    assert bad.status_code == 422
    assert Bill.objects.get(account=acct).total_fen == 30643
    r = auditor.post(f"/console/billing/exceptions/{exc.pk}/", {"action": "correct", "reason": "抄错",
                                                               f"read_{m.pk}_total": "1150"})
    new = Bill.objects.get(account=acct)
    assert (r.status_code, r["Location"]) == (302, f"/console/billing/bills/{new.pk}/")
    assert (new.total_fen, new.version) == (8833, 1)
    other = BillException.objects.filter(status="open").exclude(bill=new).get()
    r = auditor.post(f"/console/billing/exceptions/{other.pk}/", {"action": "hold", "note": ""})
    assert r.status_code == 422  # a hold needs a reason
    assert other.bill.status == "draft"
    auditor.post(f"/console/billing/exceptions/{other.pk}/", {"action": "hold", "note": "现场核查"})
    assert Bill.objects.get(pk=other.bill_id).status == "held"


def test_correction_through_the_console(org, tariffs, staff):
    _, (a1, m1), _ = _issued(org, staff)
    bill = Bill.objects.get(account=a1)
    r = _client(staff["clerk"]).post(f"/console/billing/bills/{bill.pk}/", {"action": "correct", "reason": "倍率错误",
                                                                           f"read_{m1.pk}_total": "1100"})
    rebill = Bill.objects.get(account=a1, version=2, kind="invoice")
    assert (r.status_code, r["Location"]) == (302, f"/console/billing/bills/{rebill.pk}/")
    assert _client(staff["clerk"]).post(f"/console/billing/bills/{rebill.pk}/",
                                        {"action": "approve_correction"}).status_code == 403
    r = _client(staff["approver"]).post(f"/console/billing/bills/{rebill.pk}/", {"action": "approve_correction"})
    assert r.status_code == 302
    assert sorted(Bill.objects.filter(account=a1).values_list("version", "kind", "status", "total_fen")) == [
        (1, "invoice", "issued", 8833), (2, "credit", "issued", -8833), (2, "invoice", "issued", 5889)]
    # One notice for the correction, on the rebill, naming the amount reversed.
    notice = Message.objects.get(template="bill_corrected")
    assert notice.object_id == str(rebill.pk) and "88.33" in notice.body and "58.89" in notice.body


def test_portal_bills_history_pdf_and_scoping(org, tariffs, staff):
    _, (a1, _m1), (a2, _m2) = _issued(org, staff)
    me = user("customer", customer=a1.customer)
    client = _client(me)
    html = client.get("/portal/bills/").content.decode()
    b1 = Bill.objects.get(account=a1)
    b2 = Bill.objects.get(account=a2)
    assert b1.number in html and b2.number not in html
    page = client.get(f"/portal/bills/{b1.pk}/").content.decode()
    assert "王小明" in page  # the customer sees their own name
    assert "88.33" in page and b1.payment_reference in page and b1.due_date.isoformat() in page
    assert client.get(f"/portal/bills/{b2.pk}/").status_code == 404
    assert client.get(f"/portal/bills/{b2.pk}/pdf/").status_code == 404
    pdf = client.get(f"/portal/bills/{b1.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    account_page = client.get(f"/portal/accounts/{a1.pk}/").content.decode()
    assert f"/portal/bills/{b1.pk}/" in account_page


def test_portal_never_shows_drafts(org, tariffs, staff):
    acct, _ = residential(org["PY1"], "1000", "1150")
    _client(staff["clerk"]).post("/console/billing/runs/start/", {"period": "2026-10"})
    draft = Bill.objects.get()
    client = _client(user("customer", customer=acct.customer))
    assert draft.number not in client.get("/portal/bills/").content.decode()
    assert client.get(f"/portal/bills/{draft.pk}/").status_code == 404


def test_rules_page_changes_sampling(org, staff):
    client = _client(staff["auditor"])
    assert client.get("/console/billing/rules/").status_code == 200
    r = client.post("/console/billing/rules/", {"code": "sampling", "enabled": "on", "param_rate": "0.1"})
    assert r.status_code == 302
    from gridcare.billing.services import audit_config

    assert str(audit_config().sample_rate) == "0.1"
    assert _client(staff["clerk"]).post("/console/billing/rules/", {"code": "sampling", "param_rate": "1"}
                                        ).status_code == 403


# --- reads ----------------------------------------------------------------------------------------------


def test_read_import_report_and_bad_file_writes_nothing(org, staff):
    _, m = metered_account(org["PY1"], tariff_code="gz-residential")
    seed_read(m, "total", OCT1, "1000")
    client = _client(staff["clerk"])
    bad = csv_bytes([(m.asset_number, "total", "2026-11-01", "12x"), ("", "total", "2026-11-01", "5")])
    r = client.post("/console/reads/import/", {"file": SimpleUploadedFile("bad.csv", bad)})
    html = r.content.decode()
    assert r.status_code == 422
    assert "12x" in html and "<td>2</td>" in html and "<td>3</td>" in html
    assert not ReadImport.objects.exists() and MeterRead.objects.count() == 1
    good = csv_bytes([(m.asset_number, "total", "2026-11-01", "1100"), ("NOSUCHMETER", "total", "2026-11-01", "5")])
    r = client.post("/console/reads/import/", {"file": SimpleUploadedFile("good.csv", good)})
    imp = ReadImport.objects.get()
    assert (r.status_code, r["Location"]) == (302, f"/console/reads/imports/{imp.pk}/")
    report = client.get(r["Location"]).content.decode()
    assert (imp.accepted, imp.quarantined) == (1, 1)
    assert "NOSUCHMETER" in report
    again = client.post("/console/reads/import/", {"file": SimpleUploadedFile("good.csv", good)})
    assert again.status_code == 302 and ReadImport.objects.count() == 1


def test_quarantine_release_with_corrected_meter_number(org, staff):
    _, m = metered_account(org["PY1"], tariff_code="gz-residential")
    seed_read(m, "total", OCT1, "1000")
    client = _client(staff["clerk"])
    client.post("/console/reads/import/", {"file": SimpleUploadedFile("q.csv", csv_bytes(
        [("M-TYPO", "total", "2026-11-01", "1100")]))})
    read = MeterRead.objects.get(status="quarantined")
    page = client.get("/console/reads/quarantine/").content.decode()
    assert "M-TYPO" in page
    no_note = client.post(f"/console/reads/{read.pk}/resolve/", {"action": "release", "asset_number": m.asset_number})
    assert no_note.status_code == 302
    assert MeterRead.objects.get(pk=read.pk).status == "quarantined"
    client.post(f"/console/reads/{read.pk}/resolve/", {"action": "release", "asset_number": m.asset_number,
                                                       "note": "表号抄错"})
    read.refresh_from_db()
    assert (read.status, read.meter_id, read.read_date) == ("valid", m.pk, NOV1)


def test_manual_read_entry_and_calendar(org, staff):
    _, m = metered_account(org["PY1"], tariff_code="gz-residential")
    seed_read(m, "total", OCT1, "1000")
    client = _client(staff["clerk"])
    r = client.post("/console/reads/new/", {"asset_number": m.asset_number, "register": "total",
                                            "read_date": "2026-11-01", "value": "1090.5"})
    assert r.status_code == 302
    assert MeterRead.objects.get(meter=m, read_date=date(2026, 11, 1)).value_milli == 1_090_500
    bad = client.post("/console/reads/new/", {"asset_number": m.asset_number, "register": "total",
                                              "read_date": "2026-11-02", "value": "-1"})
    assert bad.status_code == 422 and MeterRead.objects.count() == 2
    r = client.post("/console/reads/calendar/", {"org_unit": org["SZ"].pk, "read_day": "15", "due_days": "10",
                                                 "read_window_days": "1"})
    assert r.status_code == 302
    html = client.get("/console/reads/calendar/").content.decode()
    assert "深圳供电局" in html
    bad = client.post("/console/reads/calendar/", {"org_unit": org["SZ"].pk, "read_day": "31", "due_days": "10",
                                                   "read_window_days": "0"})
    assert bad.status_code == 422

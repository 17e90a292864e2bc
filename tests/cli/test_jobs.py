"""`gridcare jobs run NAME` for every shipped job on a small dataset, `jobs list`, `jobs check` and
the exit statuses. Each job goes through the real services; the run is recorded as the worker does."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

import gridcare.cli.jobs  # noqa: F401 - registers the commands
from gridcare.billing.models import Bill
from gridcare.cli.app import app
from gridcare.collections.models import Notice
from gridcare.experience.models import RiskScore
from gridcare.jobs.models import JobRun
from gridcare.jobs.registry import JOBS
from gridcare.jobs.schedule import job_schedule, reset_cache
from gridcare.kpi.models import KpiSnapshot
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.models import Message
from gridcare.payments.models import Charge
from gridcare.reconciliation.models import DailyReport
from gridcare.service.models import NegativeListEntry
from tests.collections import conftest as collections_fixtures
from tests.collections.ledger_helpers import bill
from tests.reconciliation import conftest as reconciliation_fixtures
from tests.service import conftest as service_fixtures

pytestmark = pytest.mark.django_db
co = collections_fixtures.co
books = reconciliation_fixtures.books
desk = service_fixtures.desk
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path, monkeypatch):
    from gridcare.collections.policy import reset_caches as collections
    from gridcare.notifications.policy import reset_caches as outbox
    from gridcare.reconciliation.policy import reset_caches as reconciliation
    from gridcare.service.policy import reset_policy_cache as service

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {"sms": "gridcare.notifications.backends.RecordingBackend",
                                               "email": "gridcare.notifications.backends.RecordingBackend"}
    monkeypatch.setenv("GRIDCARE_JOBS_SCHEDULE", "")  # restored after `jobs check --file` set it
    resets = (collections, outbox, reconciliation, service, reset_cache)
    for reset in resets:
        reset()
    RecordingBackend.reset()
    yield
    for reset in resets:
        reset()


def issued_bill(account, n: int, total_fen: int) -> Bill:
    at = collections_fixtures.at(2026, 11, 1)
    return Bill.objects.create(number=f"N{n}", account=account, org_unit=account.org_unit, period_code="2026-10",
                               version=1, kind="invoice", status="issued", start_date=date(2026, 10, 1),
                               end_date=date(2026, 11, 1), tariff_code="x", total_fen=total_fen, issued_at=at,
                               due_date=date(2026, 11, 15), payment_reference=f"PR{n}", created_at=at)


def _run(name: str, as_of: str):
    r = runner.invoke(app, ["jobs", "run", name, "--as-of", as_of])
    assert r.exit_code == 0, r.output
    run = JobRun.objects.filter(name=name).latest("id")
    assert (run.status, run.trigger, run.error) == ("succeeded", "manual", "")
    return run, r.output


def test_every_shipped_job_is_tested_here():
    tested = {"outbox", "sla-tick", "receivables", "collections", "kpi", "experience", "reconcile-close"}
    assert set(job_schedule().jobs) == set(JOBS) == tested


def test_outbox_sends_what_the_collections_job_queued_and_runs_again_idle(co):
    bill(co.shop, 300_000, due=date(2026, 11, 15))
    run, out = _run("collections", "2026-11-25T02:00")
    assert (run.summary["dunning_messages"], run.summary["call_tasks"], run.summary["late_fees_posted"]) == (1, 1, 0)
    assert "collections: succeeded" in out and "dunning_messages 1" in out
    assert Notice.objects.filter(stage="overdue_2").exists()
    # Queued at 02:00 inside quiet hours: the SMS waits for 08:00.
    run, _ = _run("outbox", "2026-11-25T02:01")
    assert run.summary == {"sent": 0, "retrying": 0, "failed": 0, "deferred": 0}
    run, out = _run("outbox", "2026-11-25T08:00")
    assert run.summary == {"sent": 1, "retrying": 0, "failed": 0, "deferred": 0}
    assert [m.recipient for m in RecordingBackend.sent] == ["13900000002"]
    run, _ = _run("outbox", "2026-11-25T08:01")
    assert run.summary["sent"] == 0 and Message.objects.get().status == "sent"


def test_sla_tick_records_the_breach_once(desk):
    desk.create(as_of=service_fixtures.at(2025, 11, 3, 10), account_number="0000000001",
                category="complaint.business.billing", description="多收")
    run, _ = _run("sla-tick", "2025-11-03T11:00")
    assert run.summary["breaches"] == 1
    run, _ = _run("sla-tick", "2025-11-03T11:00")
    assert run.summary["breaches"] == 0 and NegativeListEntry.objects.count() == 1


def test_receivables_posts_issued_bills_once(co):
    issued_bill(co.home, 1, 10_000)
    issued_bill(co.shop, 2, 50_000)
    run, _ = _run("receivables", "2026-11-01T12:05")
    assert run.summary == {"bills_posted": 2, "credit_notes": 0, "skipped": 0}
    run, _ = _run("receivables", "2026-11-01T12:15")
    assert run.summary["bills_posted"] == 0 and Charge.objects.count() == 2


def test_kpi_computes_the_previous_and_current_month(co):
    run, _ = _run("kpi", "2026-11-05T03:00")
    assert run.summary["periods"] == "2026-10, 2026-11"
    assert set(KpiSnapshot.objects.values_list("period_code", flat=True)) == {"2026-10", "2026-11"}
    assert run.summary["snapshots"] == KpiSnapshot.objects.count() > 0
    _run("kpi", "2026-11-05T03:00")
    assert run.summary["snapshots"] == KpiSnapshot.objects.count()


def test_experience_refreshes_every_open_account(co):
    run, _ = _run("experience", "2026-11-05T03:30")
    assert run.summary["accounts"] == 3
    assert RiskScore.objects.count() == 3


def test_reconcile_close_closes_yesterday(books):
    run, _ = _run("reconcile-close", "2026-11-03T23:00")
    assert run.summary["business_date"] == "2026-11-02"
    assert DailyReport.objects.get().business_date == date(2026, 11, 2)


def test_unknown_job_and_bad_date_exit_2():
    r = runner.invoke(app, ["jobs", "run", "payroll"])
    assert r.exit_code == 2 and "no job named 'payroll'" in r.output and "outbox" in r.output
    r = runner.invoke(app, ["jobs", "run", "outbox", "--as-of", "at dawn"])
    assert r.exit_code == 2 and "--as-of" in r.output
    assert not JobRun.objects.exists()


def test_list_shows_schedule_next_and_last_run():
    _run("outbox", "2026-11-25T08:00")
    r = runner.invoke(app, ["jobs", "list", "--as-of", "2026-11-30T01:59"])
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in r.output.splitlines()
            if line.count("│") == 7}
    assert rows["collections"][:3] == ["0 2 * * *", "ledger", "2026-11-30 02:00"]
    assert rows["kpi"][2] == "2026-11-30 03:00"
    assert rows["receivables"][2] == "2026-11-30 02:05"
    # "last run" is the wall-clock start of the run, not its as-of.
    assert rows["outbox"][2] == "2026-11-30 02:00" and rows["outbox"][3] != "-" and rows["outbox"][4] == "succeeded"
    assert rows["kpi"][3:] == ["-", "-"]


def test_check_reports_a_bad_company_file_with_job_and_field(tmp_path):
    company = tmp_path / "company.yaml"
    company.write_text("jobs:\n  collections:\n    schedule: '0 25 * * *'\n", encoding="utf-8")
    r = runner.invoke(app, ["jobs", "check", "--file", str(company)])
    assert r.exit_code == 2
    assert "job 'collections': schedule field hour '25': 25 is outside 0-23" in r.output
    company.write_text("jobs:\n  collections:\n    schedule: '30 1 * * *'\n", encoding="utf-8")
    r = runner.invoke(app, ["jobs", "check", "--file", str(company)])
    assert r.exit_code == 0, r.output
    assert "collections      30 1 * * *" in r.output and "schedule OK: 7 jobs" in r.output

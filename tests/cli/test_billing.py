"""`gridcare billing run|status|deliver|pdf` and `gridcare import reads` on the test database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import gridcare.cli.billing  # noqa: F401 - registers the commands
from gridcare.billing import services
from gridcare.billing.models import Bill, BillException, BillingRun
from gridcare.cli.app import app
from gridcare.metering.models import MeterRead, ReadImport
from gridcare.notifications.models import Message
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import AS_OF, OCT1, residential
from tests.metering.helpers import csv_bytes, metered_account, seed_read

pytestmark = pytest.mark.django_db
staff, tariffs, _fast_passwords = billing_fixtures.staff, billing_fixtures.tariffs, billing_fixtures._fast_passwords
runner = CliRunner(env={"COLUMNS": "200"})


def test_run_prints_progress_summary_and_is_idempotent(org, tariffs):
    residential(org["PY1"], "1000", "1150")
    residential(org["PY1"], "2000", "2500")
    metered_account(org["PY1"], tariff_code="gz-residential")  # no reads: skipped with its reason
    r = runner.invoke(app, ["billing", "run", "--period", "2026-10", "--as-of", "2026-11-03"])
    assert r.exit_code == 0, r.output
    assert "3 accounts" in r.output and "skipped accounts" in r.output and "no read of total on 2026-11-01" in r.output
    run = BillingRun.objects.get()
    assert (run.status, run.billed_accounts, run.skipped_accounts) == ("completed", 2, 1)
    again = runner.invoke(app, ["billing", "run", "--period", "2026-10", "--as-of", "2026-11-03"])
    # Only the account that could not be billed is tried again; nothing is billed twice.
    assert again.exit_code == 0 and ": 1 accounts" in again.output
    assert Bill.objects.count() == 2
    status = runner.invoke(app, ["billing", "status", "--period", "2026-10"])
    assert status.exit_code == 0 and "completed" in status.output


def test_bad_arguments_exit_2_and_write_nothing(org, tariffs):
    r = runner.invoke(app, ["billing", "run", "--period", "2026-13"])
    assert r.exit_code == 2 and "2026-13" in r.output
    r = runner.invoke(app, ["billing", "run", "--period", "2026-10", "--org", "NOPE"])
    assert r.exit_code == 2 and "NOPE" in r.output
    assert not BillingRun.objects.exists()


def test_run_scoped_to_an_org_unit(org, tariffs):
    a, _ = residential(org["PY1"], "1000", "1150")
    b, _ = residential(org["SZ"], "1000", "1150")
    r = runner.invoke(app, ["billing", "run", "--period", "2026-10", "--org", "PY"])
    assert r.exit_code == 0, r.output
    assert list(Bill.objects.values_list("account_id", flat=True)) == [a.pk]


def test_import_reads_report_and_row_errors(org, tmp_path):
    _, m = metered_account(org["PY1"], tariff_code="gz-residential")
    seed_read(m, "total", OCT1, "1000")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([(m.asset_number, "total", "2026-11-01", "x"), (m.asset_number, "bogus", "2026-11-01",
                                                                              "5")]))
    r = runner.invoke(app, ["import", "reads", str(bad)])
    assert r.exit_code == 2
    assert "line 2" in r.output and "bogus" in r.output
    assert not MeterRead.objects.filter(read_date="2026-11-01").exists()
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([(m.asset_number, "total", "2026-11-01", "1100"), ("NOPE", "total", "2026-11-01", "1")]))
    r = runner.invoke(app, ["import", "reads", str(good)])
    assert r.exit_code == 0, r.output
    assert "accepted 1" in r.output and "quarantined 1" in r.output and "unknown_meter" in r.output
    r = runner.invoke(app, ["import", "reads", str(good)])
    assert "already imported" in r.output and ReadImport.objects.count() == 1
    assert runner.invoke(app, ["import", "reads", str(tmp_path / "missing.csv")]).exit_code == 2


def test_deliver_and_pdf(org, tariffs, staff, tmp_path):
    acct, _ = residential(org["PY1"], "1000", "1150")
    run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=staff["clerk"], as_of=AS_OF)
    services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
    for exc in BillException.objects.all():
        services.bill_exception_confirm(exception_id=exc.pk, actor=staff["auditor"], as_of=AS_OF)
    services.billing_run_approve(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    services.billing_run_issue(run_id=run.pk, actor=staff["approver"], as_of=AS_OF)
    r = runner.invoke(app, ["billing", "deliver", "--period", "2026-10", "--as-of", "2026-11-03"])
    assert r.exit_code == 0 and "1 notices queued" in r.output
    assert runner.invoke(app, ["billing", "deliver", "--period", "2026-10"]).output.count("0 notices queued") == 1
    assert Message.objects.filter(object_type="bill").count() == 1
    bill = Bill.objects.get()
    out = tmp_path / "bill.pdf"
    r = runner.invoke(app, ["billing", "pdf", bill.number, "--out", str(out)])
    assert r.exit_code == 0 and out.read_bytes().startswith(b"%PDF")
    assert runner.invoke(app, ["billing", "pdf", "NOPE", "--out", str(out)]).exit_code == 2

"""`gridcare service tick | mail-import | breaches` end to end on a test database."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from typer.testing import CliRunner

import gridcare.cli.service  # noqa: F401 - registers the commands
from gridcare.cli.app import app
from gridcare.service.models import NegativeListEntry, SlaClock, WorkOrder
from tests.service import conftest as fixtures
from tests.service.conftest import at

pytestmark = pytest.mark.django_db
desk = fixtures.desk
_fresh_policy = fixtures._fresh_policy
runner = CliRunner(env={"COLUMNS": "200"})


def test_tick_reports_what_it_did_and_is_idempotent(desk):
    desk.create(as_of=at(2025, 11, 3, 10), account_number="0000000001", category="complaint.business.billing",
                description="多收")
    r = runner.invoke(app, ["service", "tick", "--as-of", "2025-11-03T11:00"])
    assert r.exit_code == 0, r.output
    assert "breaches recorded" in r.output
    assert SlaClock.objects.filter(breached_at__isnull=False).count() == 1  # first response (30 min)
    assert NegativeListEntry.objects.count() == 1
    r = runner.invoke(app, ["service", "tick", "--as-of", "2025-11-03T11:00"])
    assert NegativeListEntry.objects.count() == 1
    r = runner.invoke(app, ["service", "tick", "--as-of", "yesterday"])
    assert r.exit_code == 2 and "--as-of" in r.output


def test_mail_import_creates_once_and_reports_bad_files(desk, tmp_path):
    msg = EmailMessage()
    msg["From"] = "zhang@example.cn"
    msg["Subject"] = "户号0000000001 家里停电了"
    msg["Message-ID"] = "<cli-1@example.cn>"
    msg.set_content("从早上开始没电")
    good = tmp_path / "a.eml"
    good.write_bytes(bytes(msg))
    bad = tmp_path / "b.eml"
    bad.write_bytes(b"just text")
    r = runner.invoke(app, ["service", "mail-import", str(good), str(bad)])
    assert r.exit_code == 1, r.output
    order = WorkOrder.objects.get()
    assert order.number in r.output and "created" in r.output and "rejected" in r.output
    assert order.category == "repair.lv_outage.single" and order.account.number == "0000000001"
    r = runner.invoke(app, ["service", "mail-import", str(good)])
    assert r.exit_code == 0 and "already imported" in r.output
    assert WorkOrder.objects.count() == 1


def test_breach_report(desk):
    desk.create(as_of=at(2025, 11, 3, 10), account_number="0000000001", category="complaint.business.billing",
                description="多收")
    runner.invoke(app, ["service", "tick", "--as-of", "2025-11-03T11:00"])
    r = runner.invoke(app, ["service", "breaches", "--start", "2025-11-03", "--end", "2025-11-04"])
    assert r.exit_code == 0, r.output
    assert "市桥供电所" in r.output and "首次响应" in r.output
    r = runner.invoke(app, ["service", "breaches", "--start", "2025-11-04", "--end", "2025-11-03"])
    assert r.exit_code == 2

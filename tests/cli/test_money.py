"""`gridcare reconcile ...` and `gridcare collections ...` end to end on a test database."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

import gridcare.cli.money  # noqa: F401 - registers the commands
from gridcare.cli.app import app
from gridcare.collections.models import LateFeeAssessment, Notice
from gridcare.reconciliation.models import Discrepancy, Statement
from tests.collections import conftest as collections_fixtures
from tests.collections.ledger_helpers import bill
from tests.reconciliation import conftest as reconciliation_fixtures

pytestmark = pytest.mark.django_db
books = reconciliation_fixtures.books
co = collections_fixtures.co
runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture(autouse=True)
def _policies(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from gridcare.collections.policy import reset_caches as a
    from gridcare.notifications.policy import reset_caches as b
    from gridcare.reconciliation.policy import reset_caches as c
    from gridcare.service.policy import reset_policy_cache as d

    for reset in (a, b, c, d):
        reset()


def test_generate_import_close_report_and_rate(books, tmp_path):
    out = tmp_path / "icbc.txt"
    r = runner.invoke(app, ["reconcile", "generate", "--source", "ICBC", "--date", "2026-11-02", "--out", str(out),
                            "--missing", "0", "--amount", "0", "--duplicate", "0", "--no-reference", "0", "--late", "0",
                            "--unknown", "0"])
    assert r.exit_code == 0, r.output
    assert "5 lines for 5 payments" in r.output
    r = runner.invoke(app, ["reconcile", "import", str(out), "--bank", "ICBC"])
    assert r.exit_code == 0, r.output
    assert "auto-reconciled 100.00%" in r.output
    again = runner.invoke(app, ["reconcile", "import", str(out), "--bank", "ICBC"])
    assert (again.exit_code, "already imported" in again.output) == (0, True)
    assert Statement.objects.count() == 1
    r = runner.invoke(app, ["reconcile", "close", "--date", "2026-11-02"])
    assert r.exit_code == 0, r.output
    assert "自动对账率" in r.output and "100.00%" in r.output and "PSBC" in r.output
    assert runner.invoke(app, ["reconcile", "report", "--date", "2026-11-02"]).exit_code == 0
    assert runner.invoke(app, ["reconcile", "report", "--date", "2026-11-09"]).exit_code == 1
    r = runner.invoke(app, ["reconcile", "rate", "--month", "2026-11"])
    assert "自动对账率 100.00% — 5 automatic of 5" in r.output


def test_bad_rows_exit_1_and_import_nothing_bad_source_exits_2(books, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("B1|20261102|abc|R|1|x\n".encode("gbk"))
    r = runner.invoke(app, ["reconcile", "import", str(bad), "--bank", "ICBC"])
    assert r.exit_code == 1
    assert "amount_yuan" in r.output and "nothing was imported" in r.output
    assert runner.invoke(app, ["reconcile", "import", str(bad), "--bank", "NOPE"]).exit_code == 2
    assert runner.invoke(app, ["import", "bank-statement", str(tmp_path / "missing.txt"), "--bank", "ICBC"]).exit_code == 2
    assert runner.invoke(app, ["reconcile", "import", str(bad)]).exit_code == 2  # neither --bank nor --agency
    assert not Statement.objects.exists() and not Discrepancy.objects.exists()


def test_collections_run_and_quote(co):
    bill(co.shop, 300_000, due=date(2026, 11, 15))
    r = runner.invoke(app, ["collections", "run", "--as-of", "2026-11-25"])
    assert r.exit_code == 0, r.output
    assert "1 messages, 1 call tasks" in r.output and "overdue_2 2" in r.output
    assert not LateFeeAssessment.objects.exists()  # not month end
    r = runner.invoke(app, ["collections", "run", "--as-of", "2026-11-30"])
    assert r.exit_code == 0, r.output
    assert "1 posted, 90.00 元" in r.output  # 3000 元 × 15 天 × 2‰
    assert LateFeeAssessment.objects.get().posted_fen == 9_000
    assert Notice.objects.filter(stage="overdue_2").count() == 2
    again = runner.invoke(app, ["collections", "run", "--as-of", "2026-11-30"])
    assert "0 posted" in again.output and LateFeeAssessment.objects.count() == 1
    r = runner.invoke(app, ["collections", "quote", "--account", "1000000002", "--date", "2026-12-02"])
    assert r.exit_code == 0, r.output
    assert "3000.00 元 × 17 天 × 2‰" in r.output and "still to assess 12.00" in r.output
    assert runner.invoke(app, ["collections", "run", "--as-of", "yesterday"]).exit_code == 2

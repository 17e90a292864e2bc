"""`gridcare payments ...` end to end on a test database."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

import gridcare.cli.payments  # noqa: F401 - registers the commands
from gridcare.cli.app import app
from gridcare.payments.models import DebitBatch, Payment
from gridcare.payments.services import mandate_sign
from tests.payments import conftest as fixtures
from tests.payments.conftest import bill

pytestmark = pytest.mark.django_db
co = fixtures.co
_fresh_policies = fixtures._fresh_policies
runner = CliRunner(env={"COLUMNS": "200"})


def test_debit_file_result_import_check_balance_kpi(co, tmp_path):
    bill(co.home, 12345, due=date(2026, 11, 15), n=1)
    mandate_sign(account_id=co.home.pk, bank_code="ICBC", bank_account="6222020200112233445", holder_name="张小三",
                 signed_on=date(2026, 1, 5), actor=None)
    r = runner.invoke(app, ["payments", "debit-file", "--bank", "ICBC", "--out", str(tmp_path), "--as-of", "2026-11-18"])
    assert r.exit_code == 0, r.output
    batch = DebitBatch.objects.get()
    assert (tmp_path / batch.file_name).read_bytes() == bytes(batch.content)
    result = tmp_path / "result.txt"
    result.write_bytes(f"{batch.number}000001|123.45|0000|B1|ok\nbroken\n".encode("gbk"))
    r = runner.invoke(app, ["payments", "import-debit-result", str(result), "--bank", "ICBC", "--as-of", "2026-11-19"])
    assert r.exit_code == 1 and "posted 1" in r.output
    assert Payment.objects.get().amount_fen == 12345
    r = runner.invoke(app, ["payments", "import-debit-result", str(result), "--bank", "ICBC"])
    assert r.exit_code == 2 and Payment.objects.count() == 1
    r = runner.invoke(app, ["payments", "import-agency", str(tmp_path / "missing.csv"), "--agency", "PSBC"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["payments", "check"])
    assert r.exit_code == 0 and "ledger consistent" in r.output
    r = runner.invoke(app, ["payments", "balance", "1000000001"])
    assert r.exit_code == 0 and "balance 0.00" in r.output
    r = runner.invoke(app, ["payments", "kpi", "--month", "2026-11", "--as-of", "2026-11-30"])
    assert r.exit_code == 0 and "批扣代扣比率 33.33%" in r.output and "电费回收率 100.00%" in r.output

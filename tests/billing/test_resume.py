"""A billing run killed with SIGKILL in the middle resumes to exactly the same bills, no duplicates.

The run happens in a real `gridcare billing run` subprocess against the test's database: on
PostgreSQL the test database itself (committed data, transactional test), on SQLite a file copy of
the in-memory test database made with SQLite's backup API. The reference bills come from the same
period billed in-process without a kill, inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.db import connection, transaction

from gridcare.billing import services
from tests.billing.conftest import AS_OF, NOV1, OCT1
from tests.metering.helpers import metered_account, seed_read

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = 23
CHUNK = 4
KILL_AFTER = 10  # inside the third chunk: two chunks (8 accounts) committed, the third rolled back

BILLS_SQL = (
    "SELECT a.number, b.number, b.version, b.kind, b.status, b.total_fen, b.energy_wh, b.estimated, b.start_date, "
    "b.end_date, b.tariff_code, b.payment_reference FROM billing_bill b JOIN customers_account a ON a.id = b.account_id "
    "ORDER BY a.number, b.version, b.kind"
)
LINES_SQL = (
    "SELECT b.number, l.line_no, l.line_code, l.quantity, l.unit_price, l.amount_fen, l.explanation_zh "
    "FROM billing_billline l JOIN billing_bill b ON b.id = l.bill_id ORDER BY b.number, l.line_no"
)
READS_SQL = (
    "SELECT b.number, r.segment, r.asset_number, r.register, r.start_value, r.end_value, r.end_status, r.advance_milli "
    "FROM billing_billread r JOIN billing_bill b ON b.id = r.bill_id ORDER BY b.number, r.segment, r.register"
)
EXC_SQL = (
    "SELECT b.number, e.rule, e.status FROM billing_billexception e JOIN billing_bill b ON b.id = e.bill_id "
    "ORDER BY b.number, e.rule"
)
DUPES_SQL = (
    "SELECT account_id, period_code, version, kind, COUNT(*) FROM billing_bill "
    "GROUP BY account_id, period_code, version, kind HAVING COUNT(*) > 1"
)


def _norm(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if value is not None and type(value).__name__ == "Decimal":
        return format(value.normalize(), "f")
    if isinstance(value, float):  # SQLite hands decimals back as REAL through the raw driver
        return format(value, "f").rstrip("0").rstrip(".")
    return value


def _dump(cursor) -> dict[str, list[tuple]]:
    out = {}
    for name, sql in (("bills", BILLS_SQL), ("lines", LINES_SQL), ("reads", READS_SQL), ("exceptions", EXC_SQL),
                      ("dupes", DUPES_SQL)):
        cursor.execute(sql)
        out[name] = [tuple(_norm(v) for v in row) for row in cursor.fetchall()]
    return out


def _arrange(org_unit) -> None:
    """Plain accounts, a tier-2 one, one needing an estimate and one without any read (skipped)."""
    for i in range(ACCOUNTS):
        acct, m = metered_account(org_unit, tariff_code="gz-residential")
        if i == 5:
            continue  # no read at all: skipped with a reason
        if i == 9:
            for d, v in ((date(2026, 7, 1), "700"), (date(2026, 8, 1), "800"), (date(2026, 9, 1), "900")):
                seed_read(m, "total", d, v)
            seed_read(m, "total", OCT1, "1000")
            continue  # closing read estimated by the run
        seed_read(m, "total", OCT1, "1000")
        seed_read(m, "total", NOV1, str(1000 + 37 * i))


class _Rollback(Exception):
    pass


def _reference() -> dict[str, list[tuple]]:
    try:
        with transaction.atomic():
            run = services.billing_run_start(period_code="2026-10", org_unit=None, actor=None, as_of=AS_OF,
                                             chunk_size=CHUNK)
            services.billing_run_execute(run_id=run.pk, as_of=AS_OF)
            with connection.cursor() as cursor:
                dump = _dump(cursor)
            raise _Rollback
    except _Rollback:
        pass
    return dump


def _shared_database(tmp_path: Path) -> tuple[str, Path | None]:
    """A database URL a subprocess can open, holding exactly the test's committed data."""
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return f"postgresql://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}", None
    path = tmp_path / "billing.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    return f"sqlite:///{path}", path


def _gridcare(url: str, *args: str, kill_after: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDCARE_DATABASE_URL": url, "COLUMNS": "200"}
    env.pop("GRIDCARE_BILLING_KILL_AFTER", None)
    if kill_after:
        env["GRIDCARE_BILLING_KILL_AFTER"] = str(kill_after)
    return subprocess.run([sys.executable, "-c", "from gridcare.cli import main; main()", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_killed_run_resumes_to_identical_bills(org, tariffs, tmp_path):
    _arrange(org["PY1"])
    expected = _reference()
    assert len(expected["bills"]) == ACCOUNTS - 1 and expected["dupes"] == []

    url, path = _shared_database(tmp_path)
    args = ("billing", "run", "--period", "2026-10", "--chunk-size", str(CHUNK), "--as-of", "2026-11-03")
    killed = _gridcare(url, *args, kill_after=KILL_AFTER)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    def query(sql: str) -> list[tuple]:
        if path is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        with sqlite3.connect(path) as db:
            return db.execute(sql).fetchall()

    # Two chunks committed, the chunk being written when the process died left nothing behind.
    assert query("SELECT COUNT(*) FROM billing_bill") == [(2 * CHUNK - 1,)]  # account 6 of chunk 2 has no read
    assert query("SELECT status, processed_accounts, cursor > 0 FROM billing_billingrun") == [("running", 2 * CHUNK, 1)]

    resumed = _gridcare(url, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after {2 * CHUNK}" in resumed.stdout
    assert query("SELECT status, processed_accounts, billed_accounts, skipped_accounts FROM billing_billingrun") == [
        ("completed", ACCOUNTS, ACCOUNTS - 1, 1)]

    if path is None:
        with connection.cursor() as cursor:
            actual = _dump(cursor)
    else:
        with sqlite3.connect(path) as db:
            actual = _dump(db.cursor())
    assert actual == expected

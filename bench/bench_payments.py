"""Auto-debit result import benchmark: `python bench/bench_payments.py [--quick] [--rows N]`.

In a throw-away SQLite database (or GRIDCARE_DATABASE_URL) builds two identical populations of
accounts, each with one open bill and a debit agreement at its own bank (two banks with the same
file layout), sends each bank a debit file and makes its result file (97 % debited, the rest
"insufficient funds", plus a few malformed rows). Then times, in the same run:

- bulk:    `debit_result_import` — one parse, one lookup of the items, the payments posted by
           `payments_post_many` in set-based writes, one transaction;
- per-row: the naive reference — for each row, find the item, `payment_post` it, save the item
           (one transaction per row).

Both must leave the same outcome (payments, amounts, failed items, rejected rows, every balance
and the ledger invariants; asserted). Prints rows/s for each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

TZ = ZoneInfo("Asia/Shanghai")
SENT = datetime(2026, 11, 18, 8, 0, tzinfo=TZ)
RESULT = datetime(2026, 11, 19, 10, 0, tzinfo=TZ)
BANKS = ("BENCHA", "BENCHB")
POLICY = """
banks:
{banks}
"""
BANK = """  {code}:
    name: bench bank {code}
    debit_file:
      format: delimited
      encoding: gbk
      delimiter: "|"
      header: "H|{{batch_number}}|{{business_date:%Y%m%d}}|{{count}}|{{total_yuan}}"
      columns: [reference, bank_account, holder_name, amount_yuan, account_number]
      trailer: "T|{{count}}|{{total_yuan}}"
    result_file:
      format: delimited
      encoding: gbk
      delimiter: "|"
      skip_prefixes: ["H|", "T|"]
      columns: [reference, amount_yuan, status, bank_ref, message]
      success_codes: ["0000"]
"""


def setup(database_url: str | None) -> None:
    home = tempfile.mkdtemp(prefix="gridcare-bench-payments-")
    if database_url:
        os.environ["GRIDCARE_DATABASE_URL"] = database_url
    else:
        os.environ["GRIDCARE_HOME"] = home
        os.environ.pop("GRIDCARE_DATABASE_URL", None)
    policy = Path(home) / "payments.yaml"
    policy.write_text(POLICY.format(banks="".join(BANK.format(code=c) for c in BANKS)), encoding="utf-8")
    os.environ["GRIDCARE_PAYMENTS_POLICY"] = str(policy)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(bank: str, n: int, seed: int) -> bytes:
    """n accounts with one bill each and a mandate at `bank`; returns the bank's result file."""
    from django.db import transaction
    from django.utils import timezone

    from gridcare.customers.models import Account, Customer, OrgUnit
    from gridcare.payments.fileformats import render_file, yuan_text
    from gridcare.payments.models import Charge, DebitMandate, JournalEntry, Ledger
    from gridcare.payments.policy import payments_policy
    from gridcare.payments.services import debit_batch_generate
    from gridcare.payments.services._core import NEW_CHARGE, EntryPlan, Line, headers_for_update, post_entries

    rng = random.Random(seed)  # the same seed for both banks: identical populations
    unit, _ = OrgUnit.objects.get_or_create(code="BENCH", defaults={"name": "bench", "level": "province",
                                                                   "path": "/bench/"})
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [Customer(name=f"客户{i}", org_unit=unit, created_at=now, updated_at=now) for i in range(n)], batch_size=2000)
    accounts = Account.objects.bulk_create(
        [Account(number=f"{bank}{i:08d}", customer=c, org_unit=unit, category="residential", opened_on=date(2020, 1, 1))
         for i, c in enumerate(customers)], batch_size=2000)
    amounts = [rng.randint(1_000, 300_000) for _ in accounts]
    with transaction.atomic():
        headers = headers_for_update(a.pk for a in accounts)
        post_entries([EntryPlan(account_id=a.pk, kind=JournalEntry.Kind.CHARGE, source=f"bill:bench:{a.number}",
                                business_date=date(2026, 11, 1), description="bench bill",
                                lines=[Line(Ledger.AR, fen, charge_id=NEW_CHARGE), Line(Ledger.REVENUE, -fen)],
                                new_charge=Charge(kind=Charge.Kind.BILL, reference=f"B{a.number}", amount_fen=fen,
                                                  due_date=date(2026, 11, 15)))
                      for a, fen in zip(accounts, amounts, strict=True)], headers=headers, as_of=now)
    DebitMandate.objects.bulk_create([DebitMandate(account=a, bank_code=bank, bank_account=f"6222{i:015d}",
                                                   holder_name=f"客户{i}", signed_on=date(2025, 1, 1))
                                      for i, a in enumerate(accounts)], batch_size=2000)
    batch = debit_batch_generate(bank_code=bank, as_of=SENT)
    layout = payments_policy().bank(bank).result_file
    rows = []
    for k, item in enumerate(batch.items.order_by("reference")):
        ok = rng.random() < 0.97
        rows.append({"reference": item.reference, "amount_yuan": yuan_text(item.amount_fen),
                     "status": "0000" if ok else "3001", "bank_ref": f"BR{k:09d}", "message": "ok" if ok else "余额不足"})
    content = render_file(layout, rows, {})
    bad = "\n".join(f"{batch.number}999{k:06d}|1.00|0000|X|unknown" for k in range(max(n // 500, 1)))
    return content + (bad + "\nbroken line\n").encode("gbk")


def per_row_import(bank: str, content: bytes) -> tuple[int, int, int, int]:
    """The naive reference: one transaction, one lookup and one payment per row."""
    from django.db import transaction

    from gridcare.core.calendars import BUSINESS_TZ
    from gridcare.core.errors import ValidationFailed
    from gridcare.payments.fileformats import amount_fen_of, parse_file
    from gridcare.payments.models import DebitItem
    from gridcare.payments.policy import payments_policy
    from gridcare.payments.services import payment_post

    layout = payments_policy().bank(bank).result_file
    parsed = parse_file(layout, content)
    posted = posted_fen = failed = 0
    rejected = len(parsed.errors)
    for _line, row in parsed.rows:
        with transaction.atomic():
            item = DebitItem.objects.select_for_update(of=("self",)).select_related("batch").defer(
                "batch__content").filter(reference=row["reference"], batch__bank_code=bank).first()
            try:
                amount = amount_fen_of(row)
            except ValidationFailed:
                rejected += 1
                continue
            if item is None or amount != item.amount_fen:
                rejected += 1
                continue
            if item.status != DebitItem.Status.PENDING:
                continue
            if row["status"] in layout.success_codes:
                received = datetime.combine(item.batch.business_date, datetime.min.time(), tzinfo=BUSINESS_TZ)
                result = payment_post(account_id=item.account_id, amount_fen=amount, channel="bank_debit",
                                      method="debit", source=bank, received_at=received, as_of=RESULT,
                                      external_ref=item.reference, idempotency_key=f"debit:{item.reference}",
                                      business_date=RESULT.date(), description=f"批扣 {bank}")
                item.status, item.payment, item.result_code = DebitItem.Status.SUCCEEDED, result.payment, "ok"
                posted += 1
                posted_fen += amount
            else:
                item.status, item.result_code, item.result_message = DebitItem.Status.FAILED, row["status"], \
                    row.get("message", "")
                failed += 1
            item.save(update_fields=["status", "payment", "result_code", "result_message"])
    return posted, posted_fen, failed, rejected


def balances(bank: str) -> list[int]:
    from gridcare.payments.models import AccountLedger

    return list(AccountLedger.objects.filter(account__number__startswith=bank).order_by("account__number")
                .values_list("balance_fen", flat=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="accounts (result rows) per bank")
    parser.add_argument("--quick", action="store_true", help="1,000 rows per bank")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    n = 1_000 if args.quick else args.rows
    setup(args.database_url)

    from django.db import connection

    from gridcare.payments.selectors import ledger_check
    from gridcare.payments.services import debit_result_import

    started = time.perf_counter()
    content_a = build(BANKS[0], n, seed=42)
    content_b = build(BANKS[1], n, seed=42)
    rows = content_a.count(b"\n")
    print(f"database: {connection.vendor}; built 2 × {n:,} accounts, bills, mandates and debit files in "
          f"{time.perf_counter() - started:.1f} s; result file: {rows:,} rows")

    t0 = time.perf_counter()
    report = debit_result_import(bank_code=BANKS[0], content=content_a, file_name="a.txt", as_of=RESULT)
    bulk_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = per_row_import(BANKS[1], content_b)
    naive_s = time.perf_counter() - t0

    bulk = (report.posted, report.posted_fen, report.failed, len(report.errors))
    assert bulk == naive, (bulk, naive)
    assert balances(BANKS[0]) == balances(BANKS[1]), "balances differ"
    check = ledger_check()
    assert check.ok, check
    print(f"same outcome: {bulk[0]:,} payments ({bulk[1] / 100:,.2f} 元), {bulk[2]:,} failed debits, "
          f"{bulk[3]:,} rejected rows; ledger consistent ({check.entries:,} entries)")
    print(f"{'per-row':>8}: {naive_s:8.2f} s  {rows / naive_s:10,.0f} rows/s")
    print(f"{'bulk':>8}: {bulk_s:8.2f} s  {rows / bulk_s:10,.0f} rows/s")
    print(f"ratio (per-row / bulk): {naive_s / bulk_s:.1f}x")


if __name__ == "__main__":
    main()

"""Late-fee (违约金) month-end benchmark: `python bench/bench_collections.py [--bills N] [--database-url URL] [--quick]`.

On a fresh database (a temporary SQLite file, or a new PostgreSQL database created next to
--database-url and dropped afterwards):

1. setup (not timed): accounts (60 % residential 1‰, 40 % other users 2‰/3‰), N overdue bills
   due in October–December 2026 (a fifth of the accounts owe two), a quarter of them paid in part;
   some accounts hold credit (overpaid earlier), so the credit application after a fee is exercised;
2. bulk: the month-end assessment of 2027-01-31 (`late_fees_assess`, month end: every overdue
   bill, fee through that day, 3‰ across the year end), set-based, chunks of whole accounts;
3. again: the same run a second time (must post nothing);
4. per account, in the same run: a twin population of a sample of the accounts (the same bills
   and payments, created afterwards) assessed account by account with `late_fees_assess_account`
   (one transaction each, as the counter and the old demo did). Each twin's fees must equal its
   original's (asserted); bills/s of both and the ratio are printed.

Wall and CPU seconds are printed: the machine is shared. `--bills 100000` gives the 100,000-bill figure.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from _common import cpu_seconds, fresh_database

MONTH_END = date(2027, 1, 31)
DUES = (date(2026, 10, 15), date(2026, 11, 15), date(2026, 12, 15))





def _plan(n_bills: int, seed: int) -> list[dict]:
    """Accounts with their bills and part payments, deterministic from the seed."""
    rng = random.Random(seed)
    accounts: list[dict] = []
    bills = 0
    while bills < n_bills:
        two = rng.random() < 0.2 and bills + 2 <= n_bills
        dues = sorted(rng.sample(DUES, 2)) if two else [rng.choice(DUES)]
        category = "residential" if rng.random() < 0.6 else "general_ci"
        account = {"category": category, "bills": [], "credit": 0}
        for due in dues:
            amount = rng.randint(2_000, 60_000) if category == "residential" else rng.randint(20_000, 3_000_000)
            paid = (rng.randint(1, amount - 1), due + timedelta(days=rng.randint(1, 40))) if rng.random() < 0.25 else None
            account["bills"].append((amount, due, paid))
        if rng.random() < 0.05:
            account["credit"] = rng.randint(100, 5_000)  # overpaid earlier: the fee is paid from it at once
        accounts.append(account)
        bills += len(dues)
    return accounts


def _build(plan: list[dict], prefix: str) -> list[int]:
    """Create the accounts, bills (set-based, through payments' bulk writer) and payments; returns
    the account ids in plan order."""
    from django.db import transaction
    from django.utils import timezone

    from gridcare.core.calendars import BUSINESS_TZ
    from gridcare.customers.models import Account, Customer, OrgUnit
    from gridcare.payments.models import AccountLedger, JournalEntry, Ledger
    from gridcare.payments.services import ChargeIn, charges_post_many
    from gridcare.payments.services._core import EntryPlan, Line, post_entries

    unit, _ = OrgUnit.objects.get_or_create(code="BENCH", defaults={"name": "bench", "level": "province",
                                                                   "path": "/bench/"})
    now = timezone.now()
    ids: list[int] = []
    chunk = 5000
    for lo in range(0, len(plan), chunk):
        part = plan[lo:lo + chunk]
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [Customer(name=f"客户{prefix}{lo + i}", org_unit=unit, created_at=now, updated_at=now,
                          kind="person" if a["category"] == "residential" else "organisation")
                 for i, a in enumerate(part)], batch_size=2000)
            accounts = Account.objects.bulk_create(
                [Account(number=f"{prefix}{lo + i:09d}", customer=c, org_unit=unit, category=a["category"],
                         opened_on=date(2020, 1, 1))
                 for i, (a, c) in enumerate(zip(part, customers, strict=True))], batch_size=2000)
            ids += [a.pk for a in accounts]
            items = [ChargeIn(account_id=acc.pk, kind="bill", source=f"bill:bench:{acc.number}:{k}", amount_fen=amount,
                              reference=f"B{acc.number}{k}", due_date=due, business_date=due.replace(day=1),
                              period_code=f"{due:%Y-%m}", payment_reference=f"P{acc.number}{k}")
                     for a, acc in zip(part, accounts, strict=True) for k, (amount, due, _p) in enumerate(a["bills"])]
            posted = charges_post_many(items=items, as_of=datetime(2026, 10, 1, 9, tzinfo=BUSINESS_TZ))
            headers = {h.account_id: h for h in AccountLedger.objects.filter(account_id__in=[a.pk for a in accounts])}
            plans = []
            for a, acc in zip(part, accounts, strict=True):
                for k, (_amount, _due, paid) in enumerate(a["bills"]):
                    if paid:
                        fen, day = paid
                        charge = posted.charge_ids[f"bill:bench:{acc.number}:{k}"]
                        plans.append(EntryPlan(account_id=acc.pk, kind=JournalEntry.Kind.PAYMENT, business_date=day,
                                               description="bench part payment",
                                               lines=[Line(Ledger.CLEARING, fen, channel="counter"),
                                                      Line(Ledger.AR, -fen, charge_id=charge)]))
                if a["credit"]:
                    plans.append(EntryPlan(account_id=acc.pk, kind=JournalEntry.Kind.PAYMENT,
                                           business_date=date(2027, 1, 20), description="bench credit",
                                           lines=[Line(Ledger.CLEARING, a["credit"], channel="counter"),
                                                  Line(Ledger.CREDIT, -a["credit"])]))
            post_entries(plans, headers=headers, as_of=now)
    return ids


def _fees(account_ids: list[int]) -> list[list[tuple]]:
    """Per account, in plan order: each bill's (cumulative, posted, days) assessments."""
    from gridcare.collections.models import LateFeeAssessment
    from gridcare.payments.models import Charge

    rows: dict[int, list] = {a: [] for a in account_ids}
    for lo in range(0, len(account_ids), 900):
        part = account_ids[lo:lo + 900]
        order = {pk: n for n, pk in enumerate(Charge.objects.filter(account_id__in=part, kind="bill")
                                              .order_by("account_id", "id").values_list("pk", flat=True))}
        for account_id, charge_id, cumulative, posted, days in (
                LateFeeAssessment.objects.filter(account_id__in=part)
                .values_list("account_id", "charge_id", "cumulative_fen", "posted_fen", "days")):
            rows[account_id].append((order[charge_id], cumulative, posted, days))
    return [[r[1:] for r in sorted(rows[a])] for a in account_ids]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bills", type=int, default=20_000, help="overdue bills at month end")
    parser.add_argument("--baseline", type=int, default=300, help="accounts assessed one at a time (twins)")
    parser.add_argument("--chunk-size", type=int, default=2000, help="bills per transaction")
    parser.add_argument("--database-url", default=os.environ.get("GRIDCARE_BENCH_DATABASE_URL", ""),
                        help="postgresql://user@host:port/db: a new database is created next to it (default: SQLite)")
    parser.add_argument("--quick", action="store_true", help="2,000 bills, 100 accounts one at a time")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    n, sample_n = (2000, 100) if args.quick else (args.bills, args.baseline)

    workdir = Path(tempfile.mkdtemp(prefix="gridcare-bench-collections-"))
    url, drop = fresh_database(args.database_url, workdir, prefix="gridcare_bench_collections")
    os.environ["GRIDCARE_DATABASE_URL"] = url
    os.environ["GRIDCARE_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from gridcare.collections.services import late_fees_assess, late_fees_assess_account
    from gridcare.core.calendars import BUSINESS_TZ
    from gridcare.payments.selectors import ledger_check

    try:
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        plan = _plan(n, args.seed)
        ids = _build(plan, "7")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"late-fee bench on {connection.vendor}: {n:,} overdue bills on {len(plan):,} accounts "
              f"(setup {time.perf_counter() - t0:.1f} s)")
        as_of = datetime.combine(MONTH_END, dtime(23, 0), tzinfo=BUSINESS_TZ)

        w, c = time.perf_counter(), cpu_seconds()
        result = late_fees_assess(as_of=as_of, month_end=True, chunk_size=args.chunk_size)
        bulk_wall, bulk_cpu = time.perf_counter() - w, cpu_seconds() - c
        assert result.bills == n and result.unchanged == 0, result
        w, c = time.perf_counter(), cpu_seconds()
        again = late_fees_assess(as_of=as_of + timedelta(minutes=30), month_end=True, chunk_size=args.chunk_size)
        again_wall, again_cpu = time.perf_counter() - w, cpu_seconds() - c
        assert (again.posted, again.bills, again.unchanged) == (0, 0, n), again

        step = max(1, len(plan) // sample_n)
        picks = list(range(0, len(plan), step))[:sample_n]
        twins = _build([plan[i] for i in picks], "8")
        sample_bills = sum(len(plan[i]["bills"]) for i in picks)
        w, c = time.perf_counter(), cpu_seconds()
        for account_id in twins:
            late_fees_assess_account(actor=None, account_id=account_id, as_of=as_of)
        one_wall, one_cpu = time.perf_counter() - w, cpu_seconds() - c
        assert _fees(twins) == _fees([ids[i] for i in picks]), "per-account and bulk fees differ"
        check = ledger_check()
        assert check.ok, check

        bulk_rate, one_rate = n / bulk_wall, sample_bills / one_wall
        print(f"same fees on the {len(picks)} twin accounts ({sample_bills} bills); ledger consistent "
              f"({check.entries:,} entries); {result.posted:,} fees posted, {result.posted_fen / 100:,.2f} 元")
        print(f"{'':26} {'wall s':>8} {'cpu s':>8} {'bills/s':>10}")
        print(f"{'bulk month end':26} {bulk_wall:8.2f} {bulk_cpu:8.2f} {bulk_rate:10,.0f}")
        print(f"{'again (posts nothing)':26} {again_wall:8.2f} {again_cpu:8.2f} {n / again_wall:10,.0f}")
        print(f"{'per account (sample)':26} {one_wall:8.2f} {one_cpu:8.2f} {one_rate:10,.1f}")
        print(f"ratio (bulk / per account, bills/s): {bulk_rate / one_rate:,.1f}×; "
              f"per account, {n:,} bills would take {n / one_rate:,.0f} s")
        print(f"load average: {os.getloadavg()[0]:.1f} (2-core machine shared with other work)")
    finally:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

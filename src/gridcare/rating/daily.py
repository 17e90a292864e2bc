"""Daily settlement from 24/96-point reads (日清月结, T/CI 1281—2025 §6.3 d).

Each day, the per-kWh energy charges of a market or agency-purchase user are cleared from that
day's interval reads: kWh per TOU bucket × the price of the version in force that day, rounded
once per (day, line) with the tariff's ``daily_amount`` step. At month end the statement is the
ordinary monthly rating (:func:`gridcare.rating.rate`) of the same reads, which merges energy with
T&D, basic (capacity/demand), power-factor and fund charges.

How the two reconcile: the statement rounds each line once on the month's kWh, the daily clearing
rounds once a day. For the same kWh at the same price the two differ by at most
½ fen × (days + 1) per line; ``reconciliation`` shows, per account and line, the daily sum, the
monthly amount of the same metered kWh and the difference. The statement is the bill; daily
amounts are provisional (what a customer sees day by day). Loss kWh, basic, power-factor and fund
charges exist only monthly, and tiered energy components are not cleared daily (a tier is a
monthly or annual quantity).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from gridcare.rating.errors import UnableToRate
from gridcare.rating.frames import (
    ACCOUNTS_SCHEMA,
    ID,
    INTERVALS_SCHEMA,
    SEGMENTS_SCHEMA,
    RatingResult,
    normalise,
)
from gridcare.rating.kernel import _decimal_series, bucket_lookup, rate
from gridcare.rating.model import BUCKET_EN, BUCKET_ZH, BUCKETS, EnergyComponent, ScheduleSet
from gridcare.rating.scaled import AMOUNT_DIVISOR, fmt_decimal, fmt_milli, price_e8, round_div

DAILY_SCHEMA = {
    "account_id": None,
    "date": pl.Date,
    "tariff": pl.String,
    "version": pl.String,
    "component": pl.String,
    "line_code": pl.String,  # e.g. purchase.peak, tnd
    "quantity": pl.Decimal(38, 3),  # kWh metered that day in the bucket
    "unit_price": pl.Decimal(38, 8),
    "amount_fen": pl.Int64,  # rounded once per day and line (rounding step daily_amount)
    "explanation_zh": pl.String,
    "explanation_en": pl.String,
}

RECONCILIATION_SCHEMA = {
    "account_id": None,
    "version": pl.String,
    "component": pl.String,
    "line_code": pl.String,
    "days": pl.UInt32,  # days with a daily line
    "quantity": pl.Decimal(38, 3),  # kWh, the sum of the daily quantities
    "daily_sum_fen": pl.Int64,
    "monthly_fen": pl.Int64,  # the same kWh × price rounded once (what the statement charges without losses)
    "diff_fen": pl.Int64,  # daily_sum_fen − monthly_fen; |diff| ≤ (days + 1) / 2
}


@dataclass(frozen=True)
class DailySettlement:
    daily: pl.DataFrame  # DAILY_SCHEMA
    statement: RatingResult  # the monthly bill
    reconciliation: pl.DataFrame  # RECONCILIATION_SCHEMA


def settle_daily(
    accounts: pl.DataFrame,
    intervals: pl.DataFrame,
    schedules: ScheduleSet,
    period_start: date,
    period_end: date,
    *,
    usage: pl.DataFrame | None = None,
    segments: pl.DataFrame | None = None,
    hot_days: Iterable[date] = (),
    interval_points: int = 24,
) -> DailySettlement:
    """Daily clearing, monthly statement and their reconciliation for interval-metered accounts.

    ``usage`` may carry reactive energy and maximum demand per account (as for :func:`rate`).
    Accounts the statement rejects get no daily lines either."""
    hot = frozenset(hot_days)
    statement = rate(accounts, usage, schedules, period_start, period_end, intervals=intervals, segments=segments,
                     hot_days=hot, interval_points=interval_points)
    acc = normalise(accounts, ACCOUNTS_SCHEMA, "accounts")
    iv = normalise(intervals, INTERVALS_SCHEMA, "intervals")
    id_dtype = acc.schema[ID]
    rated = statement.totals.select(ID)
    acc = acc.join(rated, on=ID, how="semi")
    iv = iv.join(rated, on=ID, how="semi")
    days = (period_end - period_start).days
    # tariff per (account, date): the account's, or its segment's
    day_list = [period_start + timedelta(days=d) for d in range(days)]
    tariff_of = acc.select(ID, "tariff").join(pl.DataFrame({"date": day_list}), how="cross")
    if segments is not None and segments.height:
        seg = normalise(segments, SEGMENTS_SCHEMA, "segments").join(rated, on=ID, how="semi")
        seg_days = seg.select(
            ID, pl.col("tariff").alias("seg_tariff"),
            pl.date_ranges("start_date", "end_date", closed="left").alias("date"),
        ).explode("date")
        tariff_of = tariff_of.join(seg_days, on=[ID, "date"], how="left").select(
            ID, "date", pl.coalesce("seg_tariff", "tariff").alias("tariff"))
    codes = sorted(set(tariff_of["tariff"].unique().to_list())) if tariff_of.height else []
    points = interval_points
    lookup = bucket_lookup(schedules, codes, period_start, period_end, points, hot) if codes else pl.Series(
        "lookup", [], dtype=pl.UInt8)
    per_code = days * points
    day_idx = (pl.col("date") - pl.lit(period_start)).dt.total_days()
    bucketed = (
        iv.join(tariff_of, on=[ID, "date"], how="inner")
        .with_columns(pl.col("tariff").replace_strict(codes, list(range(len(codes))), default=0).cast(pl.Int64).alias("_ci"))
        .with_columns(pl.lit(lookup).gather(pl.col("_ci") * per_code + day_idx * points + pl.col("point").cast(pl.Int64))
                      .alias("_b"))
        .group_by(ID, "date", "tariff", "_b")
        .agg(pl.col("wh").sum())
    )
    version_rows = []
    for code in codes:
        for sched in schedules.in_force(code, period_start, period_end):
            for d in day_list:
                if sched.covers(d):
                    version_rows.append({"tariff": code, "date": d, "vkey": sched.key})
    versions = pl.DataFrame(version_rows, schema={"tariff": pl.String, "date": pl.Date, "vkey": pl.String})
    bucketed = bucketed.join(versions, on=["tariff", "date"], how="inner").join(
        acc.select(ID, "category", "exemptions"), on=ID, how="left")
    frames = []
    by_key = {s.key: s for s in schedules}
    for vkey in versions["vkey"].unique(maintain_order=True).to_list():
        sched = by_key[vkey]
        mode = sched.rounding["daily_amount"].mode
        rows = bucketed.filter(pl.col("vkey") == vkey)
        for comp in sched.components:
            if not isinstance(comp, EnergyComponent) or comp.tiers:
                continue
            mine = rows.filter(~pl.col("exemptions").list.contains(comp.id).fill_null(False))
            if comp.exempt_categories:
                mine = mine.filter(~pl.col("category").is_in(list(comp.exempt_categories)).fill_null(False))
            if comp.tou_prices is not None:
                table = pl.DataFrame({
                    "_b": pl.Series([BUCKETS.index(b) for b in comp.tou_prices], dtype=pl.UInt8),
                    "price": pl.Series([price_e8(p) for p in comp.tou_prices.values()], dtype=pl.Int64),
                    "line_code": [f"{comp.id}.{b}" for b in comp.tou_prices],
                    "label_zh": [f"{comp.label_zh}（{BUCKET_ZH[b]}）" for b in comp.tou_prices],
                    "label_en": [f"{comp.label_en} ({BUCKET_EN[b]})" for b in comp.tou_prices],
                    "ptxt": [fmt_decimal(p) for p in comp.tou_prices.values()],
                })
                priced = mine.join(table, on="_b", how="inner")
            elif comp.price is not None:
                priced = mine.group_by(ID, "date", "tariff", "vkey").agg(pl.col("wh").sum()).with_columns(
                    pl.lit(price_e8(comp.price), dtype=pl.Int64).alias("price"), pl.lit(comp.id).alias("line_code"),
                    pl.lit(comp.label_zh + " ").alias("label_zh"), pl.lit(comp.label_en).alias("label_en"),
                    pl.lit(fmt_decimal(comp.price)).alias("ptxt"))
            else:  # pragma: no cover - the loader requires a price
                continue
            priced = priced.filter(pl.col("wh") != 0).with_columns(
                round_div(pl.col("wh").cast(pl.Int128) * pl.col("price"), AMOUNT_DIVISOR, mode).alias("amount_fen"),
                pl.lit(comp.id).alias("component"),
                pl.lit(sched.version).alias("version"),
            )
            frames.append(priced.select(
                ID, "date", "tariff", "version", "vkey", "component", "line_code", "wh", "price", "amount_fen",
                pl.format("{} {}{} kWh × {} 元/kWh", pl.col("date"), pl.col("label_zh"), fmt_milli(pl.col("wh")), pl.col("ptxt"))
                .alias("explanation_zh"),
                pl.format("{} {} {} kWh × {} yuan/kWh", pl.col("date"), pl.col("label_en"), fmt_milli(pl.col("wh")), pl.col("ptxt"))
                .alias("explanation_en"),
            ))
    order = {line: i for i, line in enumerate(_line_order(schedules, codes, period_start, period_end))}
    if frames:
        daily = pl.concat(frames)
        daily = daily.sort(ID, "date", pl.col("line_code").replace_strict(order, default=len(order)))
    else:
        daily = pl.DataFrame(schema={ID: id_dtype, "date": pl.Date, "tariff": pl.String, "version": pl.String,
                                     "vkey": pl.String, "component": pl.String, "line_code": pl.String, "wh": pl.Int64,
                                     "price": pl.Int64, "amount_fen": pl.Int64, "explanation_zh": pl.String,
                                     "explanation_en": pl.String})
    recon = (
        daily.group_by(ID, "vkey", "version", "component", "line_code", "price")
        .agg(pl.len().cast(pl.UInt32).alias("days"), pl.col("wh").sum(), pl.col("amount_fen").sum().alias("daily_sum_fen"))
    )
    modes = {s.key: s.rounding["line_amount"].mode for s in schedules}
    monthly = [
        recon.filter(pl.col("vkey") == k).with_columns(
            round_div(pl.col("wh").cast(pl.Int128) * pl.col("price"), AMOUNT_DIVISOR, modes[k]).alias("monthly_fen"))
        for k in recon["vkey"].unique().to_list()
    ]
    recon = pl.concat(monthly) if monthly else recon.with_columns(pl.lit(0, dtype=pl.Int64).alias("monthly_fen"))
    recon = recon.with_columns(pl.col("line_code").replace_strict(order, default=len(order)).alias("_o")).sort(
        ID, "vkey", "_o")
    recon = recon.with_columns(_decimal_series(recon["wh"], 3).alias("quantity")).select(
        ID, "version", "component", "line_code", "days", "quantity", "daily_sum_fen", "monthly_fen",
        (pl.col("daily_sum_fen") - pl.col("monthly_fen")).alias("diff_fen"),
    )
    daily_out = daily.with_columns(
        _decimal_series(daily["wh"], 3).alias("quantity"),
        _decimal_series(daily["price"], 8).alias("unit_price"),
    ).select(list(DAILY_SCHEMA))
    return DailySettlement(daily=daily_out, statement=statement, reconciliation=recon)


def _line_order(schedules: ScheduleSet, codes: list[str], start: date, end: date) -> list[str]:
    out: list[str] = []
    for code in codes:
        for sched in schedules.in_force(code, start, end):
            for comp in sched.components:
                if isinstance(comp, EnergyComponent) and not comp.tiers:
                    names = [f"{comp.id}.{b}" for b in BUCKETS if comp.tou_prices and b in comp.tou_prices] or [comp.id]
                    out.extend(n for n in names if n not in out)
    return out


__all__ = ["DAILY_SCHEMA", "RECONCILIATION_SCHEMA", "DailySettlement", "UnableToRate", "settle_daily"]

"""Reads of the metering app: scoped read lists, the quarantine queue, imports, period progress,
and the consumption of a billing period per meter segment (the rating kernel's usage input).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
from django.conf import settings
from django.db.models import Count, Q, QuerySet

from gridcare.access.models import User
from gridcare.access.roles import Role
from gridcare.customers.selectors import account_scope_q
from gridcare.metering.bulk import fetch_frame_in
from gridcare.metering.models import BillingPeriod, IntervalFile, MeterEvent, MeterRead, ReadImport

ENERGY_REGISTERS = ("total", "sharp", "peak", "flat", "valley")


# --------------------------------------------------------------------------------------------------
# Console lists
# --------------------------------------------------------------------------------------------------


def _read_scope(user: User) -> Q:
    """Reads of meters in the user's scope; reads of unknown meters carry no personal data and are
    shown to every staff member who may edit reads, so someone can fix them."""
    if user.role == Role.CUSTOMER:
        return account_scope_q(user=user, prefix="meter__service_point__account__")
    return account_scope_q(user=user, prefix="meter__service_point__account__") | Q(meter__isnull=True)


def read_list(*, user: User, asset_number: str = "", status: str = "", reason: str = "",
              read_date: date | None = None) -> QuerySet[MeterRead]:
    qs = MeterRead.objects.filter(_read_scope(user))
    if asset_number:
        qs = qs.filter(asset_number=asset_number.strip())
    if status:
        qs = qs.filter(status=status)
    if reason:
        qs = qs.filter(reason=reason)
    if read_date:
        qs = qs.filter(read_date=read_date)
    return qs.select_related("meter", "read_import").order_by("-read_date", "asset_number", "register", "-id")


def quarantine_list(*, user: User, reason: str = "") -> QuerySet[MeterRead]:
    return read_list(user=user, status=MeterRead.Status.QUARANTINED, reason=reason).order_by("read_date", "id")


def quarantine_counts(*, user: User) -> dict[str, int]:
    rows = (MeterRead.objects.filter(_read_scope(user), status=MeterRead.Status.QUARANTINED)
            .values("reason").annotate(n=Count("id")).order_by("reason"))
    return {r["reason"]: r["n"] for r in rows}


def read_get(*, user: User, read_id: int) -> MeterRead | None:
    return MeterRead.objects.filter(_read_scope(user), pk=read_id).select_related("meter").first()


def read_import_list(*, limit: int = 50) -> QuerySet[ReadImport]:
    return ReadImport.objects.select_related("imported_by").order_by("-imported_at", "-id")[:limit]


def read_import_get(*, import_id: int) -> ReadImport | None:
    return ReadImport.objects.filter(pk=import_id).first()


def meter_events_for_account(*, account_id: int) -> QuerySet[MeterEvent]:
    return MeterEvent.objects.filter(service_point__account_id=account_id).select_related(
        "meter", "new_meter", "service_point").order_by("-occurred_on", "-id")


def billing_period_list(*, org_unit_ids: list[int] | None = None) -> QuerySet[BillingPeriod]:
    qs = BillingPeriod.objects.select_related("org_unit")
    if org_unit_ids is not None:
        qs = qs.filter(org_unit_id__in=org_unit_ids)
    return qs.order_by("-code", "org_unit__path")


# --------------------------------------------------------------------------------------------------
# Period consumption (rating input)
# --------------------------------------------------------------------------------------------------

SEGMENT_SCHEMA = {
    "account_id": pl.Int64, "meter_id": pl.Int64, "asset_number": pl.Utf8, "seg_start": pl.Date,
    "seg_end": pl.Date, "multiplier": pl.Utf8, "digits": pl.Int64, "start_kind": pl.Utf8, "end_kind": pl.Utf8,
}
READ_SCHEMA = {"read_id": pl.Int64, "meter_id": pl.Int64, "register": pl.Utf8, "read_date": pl.Date,
               "value_milli": pl.Int64, "status": pl.Utf8}


@dataclass(frozen=True)
class PeriodUsage:
    """Consumption of a set of accounts over their billing periods.

    `registers`: one row per (account, segment, register) with the start and end reads used:
        account_id, segment, meter_id, asset_number, register, seg_start, seg_end, multiplier (Utf8
        decimal), start_read_id, start_value, start_status, start_date, end_read_id, end_value,
        end_status, end_date, advance_milli (dial units; rollover wrapped).
    `missing`: (account_id, meter_id, asset_number, register, reason, estimable, read_date,
        window_days) — a register without a usable start or end read; such an account cannot be
        billed. `estimable`: the closing read at a period end is missing (估抄 can supply it).
    `segments`: one row per (account, segment) with meter, dates and multiplier.
    `events`: (account_id, kind, occurred_on, old/new capacity in VA) inside the periods.
    """

    registers: pl.DataFrame
    missing: pl.DataFrame
    segments: pl.DataFrame
    events: pl.DataFrame


def _meters_for_accounts(account_ids: list[int]) -> pl.DataFrame:
    return fetch_frame_in(
        "SELECT sp.account_id, m.id, m.asset_number, m.installed_on, m.removed_on, m.multiplier, m.digits "
        "FROM customers_meter m JOIN customers_servicepoint sp ON sp.id = m.service_point_id "
        "WHERE sp.account_id IN ({ids})",
        account_ids, [],
        {"account_id": pl.Int64, "meter_id": pl.Int64, "asset_number": pl.Utf8, "installed_on": pl.Date,
         "removed_on": pl.Date, "multiplier": pl.Utf8, "digits": pl.Int64},
    )


def _multiplier_events(meter_ids: list[int]) -> pl.DataFrame:
    return fetch_frame_in(
        "SELECT meter_id, occurred_on, old_multiplier, new_multiplier FROM metering_meterevent "
        "WHERE kind = 'multiplier' AND meter_id IN ({ids})",
        meter_ids, [], {"meter_id": pl.Int64, "occurred_on": pl.Date, "old": pl.Utf8, "new": pl.Utf8},
    )


def _point_events(account_ids: list[int], lo: date, hi: date) -> pl.DataFrame:
    return fetch_frame_in(
        "SELECT sp.account_id, e.kind, e.occurred_on, e.old_capacity_kva, e.new_capacity_kva "
        "FROM metering_meterevent e JOIN customers_servicepoint sp ON sp.id = e.service_point_id "
        "WHERE sp.account_id IN ({ids}) AND e.occurred_on >= %s AND e.occurred_on < %s",
        account_ids, [lo, hi],
        {"account_id": pl.Int64, "kind": pl.Utf8, "occurred_on": pl.Date, "old_capacity_kva": pl.Utf8,
         "new_capacity_kva": pl.Utf8},
    )


def _meter_segments(periods: pl.DataFrame, meters: pl.DataFrame, mult_events: pl.DataFrame) -> pl.DataFrame:
    """Split each meter's presence in its account's period at installation, removal and multiplier
    changes. Meters without multiplier events (nearly all) are handled as one vectorised frame."""
    m = meters.join(periods, on="account_id", how="inner").with_columns(
        pl.max_horizontal("start_date", pl.col("installed_on").fill_null(pl.col("start_date"))).alias("seg_start"),
        pl.min_horizontal("end_date", pl.col("removed_on").fill_null(pl.col("end_date"))).alias("seg_end"),
    ).filter(pl.col("seg_start") < pl.col("seg_end"))
    m = m.with_columns(
        pl.when(pl.col("seg_start") == pl.col("start_date")).then(pl.lit("period")).otherwise(pl.lit("event"))
        .alias("start_kind"),
        pl.when(pl.col("seg_end") == pl.col("end_date")).then(pl.lit("period")).otherwise(pl.lit("event"))
        .alias("end_kind"),
    )
    with_events = set(mult_events["meter_id"].to_list()) if mult_events.height else set()
    plain = m.filter(~pl.col("meter_id").is_in(list(with_events))).select(list(SEGMENT_SCHEMA))
    if not with_events:
        return plain
    rows = []
    by_meter: dict[int, list[tuple[date, str, str]]] = {}
    for meter_id, on, old, new in mult_events.sort("occurred_on").iter_rows():
        by_meter.setdefault(meter_id, []).append((on, old, new))
    for r in m.filter(pl.col("meter_id").is_in(list(with_events))).iter_rows(named=True):
        changes = by_meter[r["meter_id"]]
        cuts = [on for on, _, _ in changes if r["seg_start"] < on < r["seg_end"]]
        bounds = [r["seg_start"], *cuts, r["seg_end"]]
        for i in range(len(bounds) - 1):
            s, e = bounds[i], bounds[i + 1]
            before = [new for on, _, new in changes if on <= s]
            after = [old for on, old, _ in changes if on > s]
            mult = before[-1] if before else (after[0] if after else r["multiplier"])
            rows.append((r["account_id"], r["meter_id"], r["asset_number"], s, e, mult, r["digits"],
                         r["start_kind"] if i == 0 else "event", r["end_kind"] if i == len(bounds) - 2 else "event"))
    split = pl.DataFrame(rows, schema=SEGMENT_SCHEMA, orient="row")
    return pl.concat([plain, split])


def _reads_between(meter_ids: list[int], lo: date, hi: date) -> pl.DataFrame:
    return fetch_frame_in(
        "SELECT id, meter_id, register, read_date, value_milli, status FROM metering_meterread "
        "WHERE meter_id IN ({ids}) AND read_date >= %s AND read_date <= %s AND status IN ('valid', 'estimated')",
        meter_ids, [lo, hi], READ_SCHEMA,
    )


MAX_DAYS_LISTED = 64


def reads_on_days(meter_ids: list[int], days: set[date]) -> pl.DataFrame:
    """Usable reads of the meters on the given days. A billing chunk needs reads on a handful of
    days (period boundaries ± the read window, event days); asking for exactly those days keeps a
    system that reads meters daily from loading a month of reads per register."""
    if not days:
        return pl.DataFrame(schema=READ_SCHEMA)
    if len(days) > MAX_DAYS_LISTED:
        return _reads_between(meter_ids, min(days), max(days))
    ordered = sorted(days)
    return fetch_frame_in(
        "SELECT id, meter_id, register, read_date, value_milli, status FROM metering_meterread "
        f"WHERE meter_id IN ({{ids}}) AND read_date IN ({', '.join(['%s'] * len(ordered))}) "
        "AND status IN ('valid', 'estimated')",
        meter_ids, ordered, READ_SCHEMA,
    )


def _window_days(frame: pl.DataFrame, date_cols: tuple[str, ...], window: int) -> set[date]:
    days: set[date] = set()
    for col in date_cols:
        for d in frame[col].unique().to_list():
            if d is not None:
                days.update(d + timedelta(days=k) for k in range(-window, window + 1))
    return days


@dataclass(frozen=True)
class MeterContext:
    """The meters and registers of a set of accounts, fetched once per billing chunk."""

    meters: pl.DataFrame
    registers: pl.DataFrame


def meter_context(*, account_ids: list[int]) -> MeterContext:
    meters = _meters_for_accounts(account_ids)
    return MeterContext(meters, _registers_of(meters["meter_id"].unique().to_list()))


def _latest_before(meter_ids: list[int], before: date) -> pl.DataFrame:
    return fetch_frame_in(
        "SELECT r.id, r.meter_id, r.register, r.read_date, r.value_milli, r.status FROM metering_meterread r "
        "JOIN (SELECT meter_id, register, MAX(read_date) AS d FROM metering_meterread "
        "      WHERE meter_id IN ({ids}) AND read_date < %s "
        "        AND status IN ('valid', 'estimated') GROUP BY meter_id, register) last "
        "  ON last.meter_id = r.meter_id AND last.register = r.register AND last.d = r.read_date "
        "WHERE r.status IN ('valid', 'estimated')",
        meter_ids, [before], READ_SCHEMA,
    )


def _registers_of(meter_ids: list[int]) -> pl.DataFrame:
    return fetch_frame_in("SELECT meter_id, code FROM customers_meterregister WHERE meter_id IN ({ids})",
                          meter_ids, [], {"meter_id": pl.Int64, "register": pl.Utf8})


def _pick(bounds: pl.DataFrame, reads: pl.DataFrame, date_col: str, kind_col: str, window_col: str,
          prefix: str) -> pl.DataFrame:
    """For each boundary, the read on that date (events: exact; period ends: nearest within the
    window, later one on a tie)."""
    cand = bounds.join(reads, on=["meter_id", "register"], how="inner").with_columns(
        (pl.col("read_date") - pl.col(date_col)).dt.total_days().alias("_off")
    ).filter(
        pl.when(pl.col(kind_col) == "event").then(pl.col("_off") == 0)
        .otherwise(pl.col("_off").abs() <= pl.col(window_col))
    ).sort(["_off"], descending=False).with_columns(pl.col("_off").abs().alias("_abs"))
    best = cand.sort(["_abs", "_off"], descending=[False, True]).unique(
        subset=["account_id", "meter_id", "register", "seg_start"], keep="first", maintain_order=True)
    return best.select(
        "account_id", "meter_id", "register", "seg_start",
        pl.col("read_id").alias(f"{prefix}_read_id"), pl.col("value_milli").alias(f"{prefix}_value"),
        pl.col("status").alias(f"{prefix}_status"), pl.col("read_date").alias(f"{prefix}_date"),
    )


def period_usage(*, periods: pl.DataFrame, openings: pl.DataFrame | None = None,
                 context: MeterContext | None = None) -> PeriodUsage:
    """Consumption per account, meter segment and register over each account's period.

    `periods`: account_id, start_date, end_date, window_days (from the account's calendar).
    `openings`: meter_id, register, value_milli, read_date, read_id, status — the closing reads
    of the previous bill (so an estimate billed last month is trued up this month and nothing is
    billed twice). Without one, the read on the period's first day (within the window) is used,
    else the register's latest read before it.
    """
    account_ids = periods["account_id"].to_list()
    context = context or meter_context(account_ids=account_ids)
    meters = context.meters
    meter_ids = meters["meter_id"].unique().to_list()
    lo, hi = periods["start_date"].min(), periods["end_date"].max()
    max_window = int(periods["window_days"].max() or 0)
    mult_events = _multiplier_events(meter_ids)
    segments = _meter_segments(periods, meters, mult_events)
    segments = segments.sort(["account_id", "seg_start", "meter_id"]).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("account_id").alias("segment")
    )
    registers = context.registers.filter(pl.col("meter_id").is_in(segments["meter_id"].unique().implode()))
    bounds = segments.join(registers, on="meter_id", how="inner").join(
        periods.select("account_id", "window_days"), on="account_id", how="left")
    reads = reads_on_days(meter_ids, _window_days(segments, ("seg_start", "seg_end"), max_window))
    start = _pick(bounds, reads, "seg_start", "start_kind", "window_days", "start")
    end = _pick(bounds, reads, "seg_end", "end_kind", "window_days", "end")
    out = bounds.join(start, on=["account_id", "meter_id", "register", "seg_start"], how="left").join(
        end, on=["account_id", "meter_id", "register", "seg_start"], how="left")
    # The previous bill's closing read is the opening read of a segment starting with the period.
    if openings is not None and openings.height:
        op = openings.select(
            "meter_id", "register", pl.col("read_id").alias("o_id"), pl.col("value_milli").alias("o_value"),
            pl.col("status").alias("o_status"), pl.col("read_date").alias("o_date"),
        )
        out = out.join(op, on=["meter_id", "register"], how="left")
        use = (pl.col("start_kind") == "period") & pl.col("o_value").is_not_null()
        out = out.with_columns(
            pl.when(use).then(pl.col("o_id")).otherwise(pl.col("start_read_id")).alias("start_read_id"),
            pl.when(use).then(pl.col("o_value")).otherwise(pl.col("start_value")).alias("start_value"),
            pl.when(use).then(pl.col("o_status")).otherwise(pl.col("start_status")).alias("start_status"),
            pl.when(use).then(pl.col("o_date")).otherwise(pl.col("start_date")).alias("start_date"),
        ).drop("o_id", "o_value", "o_status", "o_date")
    # Still no opening read for a period-start segment: the register's latest read before.
    lacking = out.filter(pl.col("start_value").is_null() & (pl.col("start_kind") == "period") & (pl.col("register") != "demand"))
    if lacking.height:
        earlier = _latest_before(lacking["meter_id"].unique().to_list(), lo + timedelta(days=max_window))
        fb = lacking.select("account_id", "meter_id", "register", "seg_start").join(
            earlier, on=["meter_id", "register"], how="inner").filter(pl.col("read_date") < pl.col("seg_start")).select(
            "account_id", "meter_id", "register", "seg_start", pl.col("read_id").alias("f_id"),
            pl.col("value_milli").alias("f_value"), pl.col("status").alias("f_status"),
            pl.col("read_date").alias("f_date"))
        out = out.join(fb, on=["account_id", "meter_id", "register", "seg_start"], how="left").with_columns(
            pl.coalesce("start_read_id", "f_id").alias("start_read_id"),
            pl.coalesce("start_value", "f_value").alias("start_value"),
            pl.coalesce("start_status", "f_status").alias("start_status"),
            pl.coalesce("start_date", "f_date").alias("start_date"),
        ).drop("f_id", "f_value", "f_status", "f_date")
    full = pl.col("digits").replace_strict({d: 10**d * 1000 for d in range(1, 13)}, default=None,
                                           return_dtype=pl.Int64)
    diff = pl.col("end_value") - pl.col("start_value")
    out = out.with_columns(
        pl.when(pl.col("register") == "demand").then(pl.col("end_value"))
        .when(diff >= 0).then(diff)
        .otherwise(diff + full)
        .alias("advance_milli"),
    )
    is_missing = pl.col("end_value").is_null() | ((pl.col("register") != "demand") & pl.col("start_value").is_null())
    missing = out.filter(is_missing).select(
        "account_id", "meter_id", "asset_number", "register",
        pl.when(pl.col("end_value").is_null()).then(pl.format("no read of {} on {}", pl.col("register"), pl.col("seg_end")))
        .otherwise(pl.format("no opening read of {} on {}", pl.col("register"), pl.col("seg_start"))).alias("reason"),
        # A missing closing read at a period end (not a meter event) of a cumulative register can be estimated.
        (pl.col("end_value").is_null() & (pl.col("end_kind") == "period") & (pl.col("register") != "demand"))
        .alias("estimable"),
        pl.col("seg_end").alias("read_date"),
        pl.col("window_days").cast(pl.Int64),
    )
    cols = ["account_id", "segment", "meter_id", "asset_number", "register", "seg_start", "seg_end", "multiplier",
            "start_read_id", "start_value", "start_status", "start_date", "end_read_id", "end_value", "end_status",
            "end_date", "advance_milli"]
    events = _point_events(account_ids, lo, hi)
    return PeriodUsage(
        registers=out.filter(~is_missing).select(cols).sort(["account_id", "segment", "register"]),
        missing=missing,
        segments=segments.select("account_id", "segment", "meter_id", "asset_number", "seg_start", "seg_end",
                                 "multiplier"),
        events=events,
    )


def usage_replace(usage: PeriodUsage, fresh: PeriodUsage, account_ids: list[int]) -> PeriodUsage:
    """`usage` with the rows of `account_ids` replaced by those of `fresh` (recomputed after estimates)."""
    def merge(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([a.filter(~pl.col("account_id").is_in(account_ids)), b], how="vertical_relaxed")

    return PeriodUsage(
        registers=merge(usage.registers, fresh.registers).sort(["account_id", "segment", "register"]),
        missing=merge(usage.missing, fresh.missing), segments=merge(usage.segments, fresh.segments),
        events=merge(usage.events, fresh.events),
    )


def estimation_targets(*, periods: pl.DataFrame, context: MeterContext | None = None) -> pl.DataFrame:
    """(meter, register, read date) that a billing run needs: each cumulative register of every
    meter in place at the end of its account's period."""
    context = context or meter_context(account_ids=periods["account_id"].to_list())
    meters = context.meters
    m = meters.join(periods, on="account_id", how="inner").filter(
        (pl.col("installed_on").is_null() | (pl.col("installed_on") < pl.col("end_date")))
        & (pl.col("removed_on").is_null() | (pl.col("removed_on") >= pl.col("end_date")))
    )
    regs = context.registers.filter(pl.col("meter_id").is_in(m["meter_id"].unique().implode())
                                    & (pl.col("register") != "demand"))
    return m.join(regs, on="meter_id", how="inner").select(
        "meter_id", "asset_number", "register", pl.col("end_date").alias("read_date"),
        pl.col("window_days").cast(pl.Int64),
    )


def interval_usage(*, periods: pl.DataFrame) -> pl.DataFrame:
    """Interval energy (Wh at the meter, before the multiplier) of the accounts' meters over their
    periods, from the Parquet files: account_id, meter_id, date, point (0-based), wh."""
    lo, hi = periods["start_date"].min(), periods["end_date"].max()
    months = {f"{lo:%Y-%m}", f"{hi:%Y-%m}", f"{(lo + timedelta(days=15)):%Y-%m}"}
    # In import order, so a later file (e.g. actual points re-sent for an estimated day) wins.
    files = IntervalFile.objects.filter(period__in=months).order_by("id").values_list("path", flat=True)
    base = Path(settings.INTERVAL_DATA_DIR)
    paths = [base / p for p in files if (base / p).exists()]
    schema = {"account_id": pl.Int64, "meter_id": pl.Int64, "date": pl.Date, "point": pl.Int16, "wh": pl.Int64}
    if not paths:
        return pl.DataFrame(schema=schema)
    meters = _meters_for_accounts(periods["account_id"].to_list()).select("account_id", "meter_id")
    data = pl.concat([pl.read_parquet(p, columns=["meter_id", "read_date", "point", "wh"]) for p in paths]).unique(
        subset=["meter_id", "read_date", "point"], keep="last")
    return (
        data.join(meters, on="meter_id", how="inner")
        .join(periods.select("account_id", "start_date", "end_date"), on="account_id", how="inner")
        .filter((pl.col("read_date") >= pl.col("start_date")) & (pl.col("read_date") < pl.col("end_date")))
        .select("account_id", "meter_id", pl.col("read_date").alias("date"),
                (pl.col("point") - 1).cast(pl.Int16).alias("point"), "wh")
    )


def multiplier_centi(text: str) -> int:
    return int(Decimal(text) * 100)


@dataclass(frozen=True)
class CalendarRow:
    org_unit_id: int
    org_unit_name: str
    org_unit_code: str
    own: bool  # the unit has its own calendar (else inherited from `owner_name`)
    owner_name: str
    read_day: int
    due_days: int
    read_window_days: int


def calendar_rows(*, org_unit_ids: list[int]) -> list[CalendarRow]:
    """The effective reading calendar of each org unit, and where it comes from."""
    from gridcare.customers.models import OrgUnit
    from gridcare.metering.calendar import calendar_map

    cals = calendar_map()
    units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=set(org_unit_ids) | {c.owner_id for c in cals.values()})}
    rows = []
    for unit_id in org_unit_ids:
        cal = cals[unit_id]
        unit, owner = units[unit_id], units.get(cal.owner_id)
        rows.append(CalendarRow(unit_id, unit.name, unit.code, cal.owner_id == unit_id and hasattr(unit, "billing_calendar"),
                                owner.name if owner else "", cal.read_day, cal.due_days, cal.read_window_days))
    return rows

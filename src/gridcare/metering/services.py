"""Writes of the metering app: calendar and periods, read import and entry, quarantine, estimation
(估抄) and meter events. Each public function is one transaction.

Errors raised: ReadFileInvalid, UnableToReleaseRead, UnableToRecordEvent, PeriodClosed, ReadNotFound,
ValidationFailed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gridcare.access.models import AuditEvent, User
from gridcare.access.services import audit_record
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.customers.models import Account, Meter, MeterRegister, OrgUnit, ServicePoint
from gridcare.customers.services import meter_install
from gridcare.metering.bulk import bulk_insert, fetch_frame_in, in_chunks
from gridcare.metering.calendar import calendar_for, calendar_map, frozen_until_map, period_bounds
from gridcare.metering.config import MeteringConfig, metering_config
from gridcare.metering.errors import (
    PeriodClosed,
    ReadFileInvalid,
    ReadNotFound,
    UnableToRecordEvent,
    UnableToReleaseRead,
)
from gridcare.metering.intervals import (
    ACTUAL,
    MISSING,
    POINT_SCHEMA,
    REGISTER_DAY_SCHEMA,
    fill_gaps,
    register_days_frame,
)
from gridcare.metering.models import (
    BillingCalendar,
    BillingPeriod,
    IntervalFile,
    MeterEvent,
    MeterRead,
    ReadImport,
)
from gridcare.metering.readfile import CUMULATIVE_REGISTERS, REGISTER_CODES, ParsedFile, parse_read_file
from gridcare.metering.validation import (
    EXISTING_SCHEMA,
    INCOMING_SCHEMA,
    METER_SCHEMA,
    REGISTER_SCHEMA,
    validate_reads,
)

MAX_REPORT_ROWS = 500


# --------------------------------------------------------------------------------------------------
# Calendar and periods
# --------------------------------------------------------------------------------------------------


@transaction.atomic
def billing_calendar_set(*, org_unit: OrgUnit, read_day: int, due_days: int, read_window_days: int = 0,
                         actor: User | None, as_of: datetime) -> BillingCalendar:
    """Give an org unit (and the sub-units without their own) a read day and due-date rule."""
    if not 1 <= int(read_day) <= 28:
        raise ValidationFailed(_("the read day must be between 1 and 28"), field="read_day")
    if not 0 <= int(due_days) <= 90:
        raise ValidationFailed(_("the days to the due date must be between 0 and 90"), field="due_days")
    if not 0 <= int(read_window_days) <= 7:
        raise ValidationFailed(_("the read window must be between 0 and 7 days"), field="read_window_days")
    if BillingPeriod.objects.filter(org_unit__path__startswith=org_unit.path, status=BillingPeriod.Status.OPEN).exists():
        current = calendar_for(org_unit=org_unit)
        if current.read_day != int(read_day):
            raise ValidationFailed(_("the read day cannot change while a period is open; close it first"),
                                   field="read_day")
    calendar, _created = BillingCalendar.objects.update_or_create(
        org_unit=org_unit,
        defaults={"read_day": read_day, "due_days": due_days, "read_window_days": read_window_days,
                  "updated_at": as_of},
    )
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="billing_calendar",
                 object_id=org_unit.pk, summary=f"calendar of {org_unit.code}: read day {read_day}",
                 after={"read_day": read_day, "due_days": due_days, "read_window_days": read_window_days}, at=as_of)
    return calendar


def _period_for_owner(owner_id: int, code: str, read_day: int, as_of: datetime) -> BillingPeriod:
    start, end = period_bounds(code, read_day)
    period, _created = BillingPeriod.objects.get_or_create(
        org_unit_id=owner_id, code=code,
        defaults={"start_date": start, "end_date": end, "opened_at": as_of},
    )
    return period


@transaction.atomic
def billing_period_open(*, org_unit: OrgUnit, code: str, as_of: datetime) -> BillingPeriod:
    """The period of `org_unit`'s calendar (created on first use; idempotent)."""
    cal = calendar_for(org_unit=org_unit)
    return _period_for_owner(cal.owner_id, code, cal.read_day, as_of)


def billing_periods_for_scope(*, org_unit: OrgUnit | None, code: str, as_of: datetime) -> list[BillingPeriod]:
    """Every calendar period a run over `org_unit`'s subtree touches (opened if needed)."""
    cals = calendar_map()
    units = OrgUnit.objects.all() if org_unit is None else OrgUnit.objects.filter(path__startswith=org_unit.path)
    owners = {}
    for unit_id in units.values_list("id", flat=True):
        cal = cals[unit_id]
        owners[cal.owner_id] = cal
    with transaction.atomic():
        return [_period_for_owner(owner, code, cal.read_day, as_of) for owner, cal in sorted(owners.items())]


@transaction.atomic
def billing_period_close(*, period_id: int, actor: User | None, as_of: datetime) -> BillingPeriod:
    """Freeze a period: reads dated inside it are refused afterwards. The billing app checks that no
    bill of the period is still open before calling this."""
    period = BillingPeriod.objects.select_for_update().filter(pk=period_id).first()
    if period is None:
        raise NotFound(f"period {period_id} not found", field="period_id")
    if period.status == BillingPeriod.Status.CLOSED:
        raise PeriodClosed(f"period {period.code} is already closed", field="period")
    earlier_open = BillingPeriod.objects.filter(org_unit_id=period.org_unit_id, code__lt=period.code,
                                                status=BillingPeriod.Status.OPEN).order_by("code").first()
    if earlier_open is not None:
        raise PeriodClosed(f"close {earlier_open.code} before {period.code}", field="period")
    period.status = BillingPeriod.Status.CLOSED
    period.closed_at = as_of
    period.closed_by = actor if actor is not None and actor.pk else None
    period.save(update_fields=["status", "closed_at", "closed_by"])
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="billing_period", object_id=period.pk,
                 summary=f"period {period.code} closed (关账)", at=as_of)
    return period


# --------------------------------------------------------------------------------------------------
# Read import
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What an import did. `already_imported` is True when the same file had been imported before:
    its earlier report is returned and nothing is written."""

    import_id: int
    filename: str
    kind: str
    rows_total: int
    accepted: int
    estimated: int
    quarantined: int
    unchanged: int
    by_reason: dict[str, int]
    quarantined_rows: list[dict] = field(default_factory=list)
    already_imported: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    superseded_estimates: int = 0
    # Interval imports: estimated points by method (linear, history), and per meter-day with a gap
    # what was filled and how the day ended against the total register (reconciled, ...).
    estimated_by_method: dict[str, int] = field(default_factory=dict)
    gap_days: list[dict] = field(default_factory=list)
    register_check: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "import_id": self.import_id, "filename": self.filename, "kind": self.kind,
            "rows_total": self.rows_total, "accepted": self.accepted, "estimated": self.estimated,
            "quarantined": self.quarantined, "unchanged": self.unchanged, "by_reason": self.by_reason,
            "quarantined_rows": self.quarantined_rows, "already_imported": self.already_imported,
            "ignored_columns": self.ignored_columns, "superseded_estimates": self.superseded_estimates,
            "estimated_by_method": self.estimated_by_method, "gap_days": self.gap_days,
            "register_check": self.register_check,
        }


def _report_from_import(imp: ReadImport, *, already: bool) -> ImportReport:
    r = imp.report or {}
    return ImportReport(
        import_id=imp.pk, filename=imp.filename, kind=imp.kind, rows_total=imp.rows_total, accepted=imp.accepted,
        estimated=imp.estimated, quarantined=imp.quarantined, unchanged=imp.unchanged,
        by_reason=dict(r.get("by_reason", {})), quarantined_rows=list(r.get("quarantined_rows", [])),
        already_imported=already, ignored_columns=list(r.get("ignored_columns", [])),
        superseded_estimates=int(r.get("superseded_estimates", 0)),
        estimated_by_method=dict(r.get("estimated_by_method", {})), gap_days=list(r.get("gap_days", [])),
        register_check=dict(r.get("register_check", {})),
    )


def _meter_frame(asset_numbers: list[str]) -> pl.DataFrame:
    # fetch_frame_in: one array parameter on PostgreSQL instead of an IN list per 5,000 assets.
    meters = fetch_frame_in(
        "SELECT m.asset_number, m.id, m.digits, m.multiplier, m.installed_on, m.removed_on, a.status, a.org_unit_id "
        "FROM customers_meter m "
        "LEFT JOIN customers_servicepoint sp ON sp.id = m.service_point_id "
        "LEFT JOIN customers_account a ON a.id = sp.account_id "
        "WHERE m.asset_number IN ({ids})",
        asset_numbers, [],
        {"asset_number": pl.Utf8, "meter_id": pl.Int64, "digits": pl.Int64, "multiplier": pl.Utf8,
         "installed_on": pl.Date, "removed_on": pl.Date, "account_status": pl.Utf8, "org_unit_id": pl.Int64},
    )
    if not asset_numbers:
        meters = pl.DataFrame(schema=METER_SCHEMA)
    if "multiplier" not in meters.columns:
        return meters
    cals = calendar_map()
    owner = {unit: cal.owner_id for unit, cal in cals.items()}
    return meters.select(
        "asset_number", "meter_id", "digits",
        pl.col("multiplier").map_elements(lambda s: int(Decimal(s) * 100), return_dtype=pl.Int64)
        .alias("multiplier_centi"),
        "installed_on", "removed_on",
        (pl.col("account_status") == Account.Status.ACTIVE).fill_null(False).alias("account_active"),
        pl.col("org_unit_id").replace_strict(owner, default=None, return_dtype=pl.Int64).alias("owner_id"),
    )


def _register_frame(meter_ids: list[int]) -> pl.DataFrame:
    return fetch_frame_in("SELECT meter_id, code FROM customers_meterregister WHERE meter_id IN ({ids})",
                          meter_ids, [], REGISTER_SCHEMA)


def _existing_reads(meter_ids: list[int], since: date) -> pl.DataFrame:
    """Usable and quarantined reads of these meters from `since`, plus each register's latest usable
    read before `since` (so a meter read rarely still has a previous read)."""
    current = fetch_frame_in(
        "SELECT id, meter_id, register, read_date, value_milli, status FROM metering_meterread "
        "WHERE meter_id IN ({ids}) AND read_date >= %s AND status IN ('valid', 'estimated', 'quarantined')",
        meter_ids, [since], EXISTING_SCHEMA,
    )
    before = fetch_frame_in(
        "SELECT r.id, r.meter_id, r.register, r.read_date, r.value_milli, r.status FROM metering_meterread r "
        "JOIN (SELECT meter_id, register, MAX(read_date) AS d FROM metering_meterread "
        "      WHERE meter_id IN ({ids}) AND read_date < %s AND status IN ('valid', 'estimated') "
        "      GROUP BY meter_id, register) last "
        "  ON last.meter_id = r.meter_id AND last.register = r.register AND last.d = r.read_date "
        "WHERE r.status IN ('valid', 'estimated')",
        meter_ids, [since], EXISTING_SCHEMA,
    )
    return pl.concat([current, before])


def _validated(incoming: pl.DataFrame, *, as_of: datetime, config: MeteringConfig) -> pl.DataFrame:
    assets = incoming["asset_number"].unique().to_list()
    meters = _meter_frame(assets)
    meter_ids = meters["meter_id"].to_list()
    registers = _register_frame(meter_ids)
    since = incoming["read_date"].min() - timedelta(days=config.history_days + 62)
    existing = _existing_reads(meter_ids, since)
    known = set(meters["asset_number"].to_list())
    unknown_assets = [a for a in assets if a not in known]
    unknown_existing = fetch_frame_in(
        "SELECT asset_number, register, read_date, value_milli FROM metering_meterread "
        "WHERE meter_id IS NULL AND status = 'quarantined' AND asset_number IN ({ids})",
        unknown_assets, [],
        {"asset_number": pl.Utf8, "register": pl.Utf8, "read_date": pl.Date, "value_milli": pl.Int64},
    )
    return validate_reads(
        incoming.select(list(INCOMING_SCHEMA)), meters, registers, existing,
        frozen_until=frozen_until_map(), as_of_date=as_of.date(), config=config, unknown_existing=unknown_existing,
    )


def _write_reads(checked: pl.DataFrame, *, source: str, read_import_id: int | None, as_of: datetime) -> list[int]:
    """Void superseded estimates, then insert every new read; returns the voided estimate ids."""
    superseded = checked["supersedes_id"].drop_nulls().unique().to_list()
    if superseded:
        for chunk in in_chunks(superseded):
            MeterRead.objects.filter(pk__in=chunk, status=MeterRead.Status.ESTIMATED).update(
                status=MeterRead.Status.VOID, resolution="superseded by an actual read", resolved_at=as_of
            )
    to_write = checked.filter(pl.col("outcome") != "unchanged")
    rollover_note = _("rollover accepted")
    fields = ["meter", "asset_number", "register", "read_date", "value_milli", "status", "reason", "detail",
              "source", "read_import", "line_no", "created_at", "resolution"]
    rows = (
        (meter_id, asset, reg, d, value, outcome, reason or "",
         (rollover_note if rollover else detail or "")[:255], source, read_import_id, line_no, as_of, "")
        for line_no, asset, reg, d, value, meter_id, reason, detail, outcome, rollover in to_write.select(
            "line_no", "asset_number", "register", "read_date", "value_milli", "meter_id", "reason", "detail",
            "outcome", "accepted_rollover",
        ).iter_rows()
    )
    bulk_insert(MeterRead, fields, rows)
    return superseded


def _summary(checked: pl.DataFrame) -> tuple[dict[str, int], dict[str, int], list[dict]]:
    outcomes = dict(Counter(checked["outcome"].to_list()))
    by_reason = dict(sorted(Counter(checked.filter(pl.col("outcome") == "quarantined")["reason"].to_list()).items()))
    q = checked.filter(pl.col("outcome") == "quarantined").head(MAX_REPORT_ROWS)
    rows = [
        {"line": ln, "asset_number": a, "register": r, "read_date": d.isoformat(), "reason": reason, "detail": detail}
        for ln, a, r, d, reason, detail in q.select(
            "line_no", "asset_number", "register", "read_date", "reason", "detail").iter_rows()
    ]
    return outcomes, by_reason, rows


def reads_import(*, content: bytes, filename: str, actor: User | None, as_of: datetime,
                 config: MeteringConfig | None = None) -> ImportReport:
    """Import a register-read or interval file (CSV or Parquet) in one transaction.

    Every row ends up accepted (valid or estimated), quarantined with a reason, or counted as
    unchanged (it repeats a read already stored). A file with syntax errors is refused whole
    (ReadFileInvalid listing the bad lines). Importing the same bytes again returns the first report.
    """
    config = config or metering_config()
    digest = hashlib.sha256(content).hexdigest()
    earlier = ReadImport.objects.filter(sha256=digest).first()
    if earlier is not None:
        return _report_from_import(earlier, already=True)
    parsed = parse_read_file(content, filename)
    try:
        with transaction.atomic():
            if parsed.kind == "interval":
                return _import_interval(parsed, content, digest, filename, actor, as_of, config)
            return _import_register(parsed, digest, filename, actor, as_of, config)
    except IntegrityError:
        # The same file raced in from another session, or a read conflicting with one just written.
        earlier = ReadImport.objects.filter(sha256=digest).first()
        if earlier is not None:
            return _report_from_import(earlier, already=True)
        raise ReadFileInvalid(_("another import wrote reads for the same meters and dates at the same time; "
                                "import the file again"), field="file") from None


def _import_register(parsed: ParsedFile, digest: str, filename: str, actor: User | None, as_of: datetime,
                     config: MeteringConfig) -> ImportReport:
    checked = _validated(parsed.frame, as_of=as_of, config=config)
    outcomes, by_reason, q_rows = _summary(checked)
    imp = ReadImport.objects.create(
        sha256=digest, filename=filename[:255], kind=ReadImport.Kind.REGISTER, file_format=parsed.file_format,
        imported_at=as_of, imported_by=actor if actor is not None and actor.pk else None,
        rows_total=checked.height, accepted=outcomes.get("valid", 0) + outcomes.get("estimated", 0),
        estimated=outcomes.get("estimated", 0), quarantined=outcomes.get("quarantined", 0),
        unchanged=outcomes.get("unchanged", 0), report={},
    )
    superseded = _write_reads(checked, source=MeterRead.Source.IMPORT, read_import_id=imp.pk, as_of=as_of)
    imp.report = {"by_reason": by_reason, "quarantined_rows": q_rows, "ignored_columns": list(parsed.ignored_columns),
                  "superseded_estimates": len(superseded)}
    imp.save(update_fields=["report"])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="read_import", object_id=imp.pk,
                 summary=f"read import {filename}: {imp.accepted} accepted, {imp.quarantined} quarantined",
                 after={"rows": imp.rows_total, "by_reason": by_reason}, at=as_of)
    return _report_from_import(imp, already=False)


def _interval_history(meter_ids: list[int], first: date, last: date, weeks: int) -> pl.DataFrame:
    """Actual points of these meters from earlier interval imports, over the weeks before the file."""
    empty = pl.DataFrame(schema=POINT_SCHEMA)
    if not meter_ids or weeks <= 0:
        return empty
    since = first - timedelta(weeks=weeks)
    base = Path(settings.INTERVAL_DATA_DIR)
    frames = []
    for rel in (IntervalFile.objects.filter(first_date__lt=last, last_date__gte=since).order_by("id")
                .values_list("path", flat=True)):
        path = base / rel
        if not path.exists():
            continue
        data = pl.scan_parquet(path)
        if "quality" in data.collect_schema().names():
            data = data.filter(pl.col("quality") == ACTUAL)
        frames.append(data.filter(pl.col("meter_id").is_in(meter_ids) & (pl.col("read_date") >= since)
                                  & (pl.col("read_date") < last))
                      .select("meter_id", "read_date", "point", "wh").collect().cast(POINT_SCHEMA))
    return pl.concat(frames).unique(subset=["meter_id", "read_date", "point"], keep="last") if frames else empty


def _register_days(meter_ids: list[int], first: date, last: date) -> pl.DataFrame:
    """Each day's advance of the total register where the reads at its start and end are actual."""
    reads = fetch_frame_in(
        "SELECT meter_id, read_date, value_milli FROM metering_meterread WHERE meter_id IN ({ids}) "
        "AND register = 'total' AND status = 'valid' AND read_date >= %s AND read_date <= %s",
        meter_ids, [first, last + timedelta(days=1)],
        {"meter_id": pl.Int64, "read_date": pl.Date, "value_milli": pl.Int64},
    )
    if reads.height == 0:
        return pl.DataFrame(schema=REGISTER_DAY_SCHEMA)
    return register_days_frame(reads.unique(subset=["meter_id", "read_date"], keep="first"))


def _import_interval(parsed: ParsedFile, content: bytes, digest: str, filename: str, actor: User | None,
                     as_of: datetime, config: MeteringConfig) -> ImportReport:
    frame = parsed.frame
    meters = _meter_frame(frame["asset_number"].unique().to_list())
    joined = frame.join(meters.select("asset_number", "meter_id", "installed_on", "removed_on"),
                        on="asset_number", how="left")
    unknown = (
        pl.col("meter_id").is_null()
        | (pl.col("installed_on").is_not_null() & (pl.col("installed_on") > pl.col("read_date")))
        | (pl.col("removed_on").is_not_null() & (pl.col("removed_on") < pl.col("read_date")))
    )
    future = pl.col("read_date") > pl.lit(as_of.date())
    joined = joined.with_columns(
        pl.when(unknown).then(pl.lit("unknown_meter")).when(future).then(pl.lit("out_of_period"))
        .otherwise(pl.lit(None, dtype=pl.Utf8)).alias("reason")
    )
    good = joined.filter(pl.col("reason").is_null())
    bad = joined.filter(pl.col("reason").is_not_null())
    first, last = frame["read_date"].min(), frame["read_date"].max()
    gap_meters = good.filter(pl.col("value_milli").is_null())["meter_id"].unique().to_list()
    filled, gap_days = fill_gaps(
        good.select("line_no", "asset_number", "meter_id", "read_date", "point", "points_per_day", "value_milli"),
        history=_interval_history(gap_meters, first, last, config.gap_history_weeks),
        register_days=_register_days(gap_meters, first, last) if gap_meters and config.gap_reconcile_with_register
        else pl.DataFrame(schema=REGISTER_DAY_SCHEMA),
        config=config,
    )
    stored = filled.filter(pl.col("quality") != MISSING)
    gaps = filled.filter(pl.col("quality") == MISSING).with_columns(pl.lit("interval_gap").alias("reason"))
    by_method = dict(sorted(Counter(stored.filter(pl.col("quality") != ACTUAL)["quality"].to_list()).items()))
    estimated = sum(by_method.values())
    ppd = int(frame["points_per_day"].max())
    period = f"{first:%Y-%m}"
    imp = ReadImport.objects.create(
        sha256=digest, filename=filename[:255], kind=ReadImport.Kind.INTERVAL, file_format=parsed.file_format,
        imported_at=as_of, imported_by=actor if actor is not None and actor.pk else None,
        rows_total=frame.height, accepted=stored.height, estimated=estimated,
        quarantined=bad.height + gaps.height, unchanged=0, report={},
    )
    base = Path(settings.INTERVAL_DATA_DIR)
    rel = Path(period) / f"import-{imp.pk:08d}.parquet"
    (base / rel).parent.mkdir(parents=True, exist_ok=True)
    stored.select(
        pl.col("meter_id").cast(pl.Int64), "asset_number", "read_date", pl.col("point").cast(pl.Int16),
        pl.col("points_per_day").cast(pl.Int16), "wh", "quality",
    ).write_parquet(base / rel)
    quarantine = pl.concat([
        bad.select("line_no", "asset_number", "read_date", "point", "value_milli", "reason"),
        gaps.select("line_no", "asset_number", "read_date", "point", "value_milli", "reason"),
    ])
    if quarantine.height:
        quarantine.write_parquet(base / rel.with_suffix(".quarantine.parquet"))
    IntervalFile.objects.create(
        read_import=imp, period=period, path=str(rel), meters=stored["meter_id"].n_unique(), rows=stored.height,
        points_per_day=ppd, first_date=first, last_date=last,
    )
    by_reason = dict(sorted(Counter(quarantine["reason"].to_list()).items()))
    q_rows = [
        {"line": ln, "asset_number": a, "register": "interval", "read_date": d.isoformat(), "reason": r,
         "detail": _("point %(point)s") % {"point": p}}
        for ln, a, d, p, r in bad.select("line_no", "asset_number", "read_date", "point", "reason")
        .unique(subset=["asset_number", "read_date"], keep="first").head(MAX_REPORT_ROWS).iter_rows()
    ]
    for day in gap_days:
        if day.missing and len(q_rows) < MAX_REPORT_ROWS:
            q_rows.append({"line": day.line_no, "asset_number": day.asset_number, "register": "interval",
                           "read_date": day.read_date.isoformat(), "reason": "interval_gap",
                           "detail": _("%(missing)s of %(points)s points missing and not estimated")
                           % {"missing": day.missing, "points": day.points_per_day}})
    q_rows.sort(key=lambda r: (r["line"], r["read_date"]))
    imp.report = {"by_reason": by_reason, "quarantined_rows": q_rows, "ignored_columns": list(parsed.ignored_columns),
                  "parquet": str(rel), "estimated_by_method": by_method,
                  "gap_days": [d.as_dict() for d in gap_days[:MAX_REPORT_ROWS]],
                  "register_check": dict(sorted(Counter(d.register for d in gap_days).items()))}
    imp.save(update_fields=["report"])
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="read_import", object_id=imp.pk,
                 summary=f"interval import {filename}: {stored.height} points stored, {estimated} estimated, "
                         f"{gaps.height} left for the clerk", at=as_of)
    return _report_from_import(imp, already=False)


def _parse_manual_value(value: object) -> int:
    try:
        dec = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("%(value)s is not a number") % {"value": value}, field="value") from None
    if not dec.is_finite() or dec < 0:
        raise ValidationFailed(_("the reading must be a non-negative number"), field="value")
    milli = dec * 1000
    if milli != milli.to_integral_value():
        raise ValidationFailed(_("at most 3 decimals"), field="value")
    return int(milli)


@transaction.atomic
def meter_read_record(*, asset_number: str, register: str, read_date: date, value: object, actor: User | None,
                      as_of: datetime, source: str = MeterRead.Source.MANUAL, estimated: bool = False,
                      config: MeteringConfig | None = None) -> MeterRead:
    """One read entered in the console or sent by a mobile reading app. It goes through the same
    validation as a file row and may come back quarantined (look at `status` and `reason`)."""
    config = config or metering_config()
    if register not in REGISTER_CODES:
        raise ValidationFailed(_("the register must be one of %(codes)s") % {"codes": ", ".join(REGISTER_CODES)},
                               field="register")
    if source not in (MeterRead.Source.MANUAL, MeterRead.Source.API):
        raise ValidationFailed("source must be manual or api", field="source")
    milli = _parse_manual_value(value)
    incoming = pl.DataFrame(
        [(1, asset_number.strip(), register, read_date, milli, estimated)], schema=INCOMING_SCHEMA, orient="row"
    )
    checked = _validated(incoming, as_of=as_of, config=config)
    row = checked.row(0, named=True)
    if row["outcome"] == "unchanged":
        existing = MeterRead.objects.filter(
            meter_id=row["meter_id"], register=register, read_date=read_date, value_milli=milli
        ).exclude(status=MeterRead.Status.VOID).order_by("-id").first()
        if existing is not None:
            return existing
    _write_reads(checked.with_columns(pl.lit(None, dtype=pl.Int64).alias("line_no")), source=source,
                 read_import_id=None, as_of=as_of)
    read = MeterRead.objects.filter(asset_number=asset_number.strip(), register=register, read_date=read_date,
                                    value_milli=milli, created_at=as_of).order_by("-id").first()
    audit_record(actor=actor, action=AuditEvent.Action.CREATE, object_type="meter_read", object_id=read.pk,
                 summary=f"read {asset_number}/{register} {read_date}: {read.status} {read.reason}".strip(),
                 at=as_of)
    return read


# --------------------------------------------------------------------------------------------------
# Quarantine queue
# --------------------------------------------------------------------------------------------------


@transaction.atomic
def meter_read_release(*, read_id: int, actor: User | None, as_of: datetime, note: str,
                       value: object | None = None, asset_number: str | None = None) -> MeterRead:
    """A clerk accepts a quarantined read, optionally correcting its value or its meter number.

    The clerk's judgement replaces the plausibility checks (a confirmed rollover, a real spike), but
    not the hard rules: the meter must exist and have the register, the date must be in an open
    period, and an actual read on a day with a system estimate supersedes the estimate.
    """
    read = MeterRead.objects.select_for_update().filter(pk=read_id).first()
    if read is None:
        raise ReadNotFound(_("read %(id)s not found") % {"id": read_id}, field="read_id")
    if read.status != MeterRead.Status.QUARANTINED:
        raise UnableToReleaseRead(_("read %(id)s is %(status)s, not quarantined")
                                  % {"id": read_id, "status": read.get_status_display()}, field="read_id")
    if not note.strip():
        raise ValidationFailed(_("say why the read is released"), field="note")
    before = {"asset_number": read.asset_number, "value_milli": read.value_milli, "reason": read.reason}
    if asset_number:
        read.asset_number = asset_number.strip()
    meter = Meter.objects.select_related("service_point__account").filter(asset_number=read.asset_number).first()
    if meter is None:
        raise UnableToReleaseRead(_("there is no meter %(meter)s; correct the meter number") % {"meter": read.asset_number},
                                  field="asset_number")
    if not MeterRegister.objects.filter(meter=meter, code=read.register).exists():
        raise UnableToReleaseRead(_("meter %(meter)s has no %(register)s register")
                                  % {"meter": meter.asset_number, "register": read.register}, field="register")
    if value is not None and str(value).strip() != "":
        read.value_milli = _parse_manual_value(value)
    if read.read_date > as_of.date():
        raise UnableToReleaseRead(_("the read date is in the future"), field="read_date")
    account = meter.service_point.account if meter.service_point_id else None
    if account is not None:
        owner = calendar_map()[account.org_unit_id].owner_id
        frozen = frozen_until_map().get(owner)
        if frozen is not None and read.read_date < frozen:
            raise UnableToReleaseRead(_("the period containing %(day)s is closed") % {"day": read.read_date},
                                      field="read_date")
    clash = MeterRead.objects.select_for_update().filter(
        meter=meter, register=read.register, read_date=read.read_date,
        status__in=[MeterRead.Status.VALID, MeterRead.Status.ESTIMATED],
    ).first()
    if clash is not None and clash.status == MeterRead.Status.VALID:
        raise UnableToReleaseRead(
            _("read %(id)s is already valid for that day; discard one of them") % {"id": clash.pk}, field="read_id")
    if clash is not None:
        clash.status = MeterRead.Status.VOID
        clash.resolution = f"superseded by released read {read.pk}"
        clash.resolved_at = as_of
        clash.save(update_fields=["status", "resolution", "resolved_at"])
    read.meter = meter
    read.status = MeterRead.Status.VALID
    read.resolved_at = as_of
    read.resolved_by = actor if actor is not None and actor.pk else None
    read.resolution = note.strip()[:255]
    read.save()
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="meter_read", object_id=read.pk,
                 summary=f"quarantined read released ({before['reason']}): {note}"[:255], before=before,
                 after={"asset_number": read.asset_number, "value_milli": read.value_milli, "status": read.status},
                 at=as_of)
    return read


@transaction.atomic
def meter_read_discard(*, read_id: int, actor: User | None, as_of: datetime, note: str) -> MeterRead:
    """A clerk rejects a quarantined read; it stays in the table as void, with the reason."""
    read = MeterRead.objects.select_for_update().filter(pk=read_id).first()
    if read is None:
        raise ReadNotFound(_("read %(id)s not found") % {"id": read_id}, field="read_id")
    if read.status != MeterRead.Status.QUARANTINED:
        raise UnableToReleaseRead(_("read %(id)s is %(status)s, not quarantined")
                                  % {"id": read_id, "status": read.get_status_display()}, field="read_id")
    if not note.strip():
        raise ValidationFailed(_("say why the read is discarded"), field="note")
    read.status = MeterRead.Status.VOID
    read.resolved_at = as_of
    read.resolved_by = actor if actor is not None and actor.pk else None
    read.resolution = note.strip()[:255]
    read.save(update_fields=["status", "resolved_at", "resolved_by", "resolution"])
    audit_record(actor=actor, action=AuditEvent.Action.UPDATE, object_type="meter_read", object_id=read.pk,
                 summary=f"quarantined read discarded ({read.reason}): {note}"[:255], at=as_of)
    return read


# --------------------------------------------------------------------------------------------------
# Estimation (估抄)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimateReport:
    estimated: int
    without_history: int
    unreadable: int  # meters with no read at all: nothing to estimate from


def reads_estimate(*, targets: pl.DataFrame, as_of: datetime, config: MeteringConfig | None = None) -> EstimateReport:
    """Write an estimated read for every (meter, register, read_date) in `targets` that has no usable
    read that day (within the calendar's read window).

    `targets` columns: meter_id, asset_number, register, read_date, window_days. Usage is the
    register's average daily usage over the history window times the days since its last read;
    with no history the last reading is carried forward (zero usage), and the read's detail says so.
    Runs in the caller's transaction (the billing run's chunk) or its own.
    """
    config = config or metering_config()
    if targets.height == 0:
        return EstimateReport(0, 0, 0)
    with transaction.atomic():
        t = targets.with_columns(
            (pl.col("read_date") - pl.duration(days=pl.col("window_days"))).alias("_lo"),
            (pl.col("read_date") + pl.duration(days=pl.col("window_days"))).alias("_hi"),
        )
        # Nearly every target has its read: look at the target days first, history only for the rest.
        from gridcare.metering.selectors import reads_on_days

        days = {d + timedelta(days=k) for d, w in t.select("read_date", "window_days").unique().iter_rows()
                for k in range(-int(w or 0), int(w or 0) + 1)}
        near = reads_on_days(t["meter_id"].unique().to_list(), days)
        have = t.join(near.select("meter_id", "register", pl.col("read_date").alias("d")), on=["meter_id", "register"],
                      how="inner").filter((pl.col("d") >= pl.col("_lo")) & (pl.col("d") <= pl.col("_hi")))
        need = t.join(have.select("meter_id", "register", "read_date").unique(), on=["meter_id", "register", "read_date"],
                      how="anti").sort("read_date")
        if need.height == 0:
            return EstimateReport(0, 0, 0)
        lo = need["read_date"].min() - timedelta(days=config.estimation_history_days + 400)
        reads = fetch_frame_in(
            "SELECT id, meter_id, register, read_date, value_milli, status FROM metering_meterread "
            "WHERE meter_id IN ({ids}) AND read_date >= %s AND status IN ('valid', 'estimated')",
            need["meter_id"].unique().to_list(), [lo], EXISTING_SCHEMA,
        ).sort("read_date")
        last = reads.rename({"read_date": "last_date", "value_milli": "last_value"}).select(
            "meter_id", "register", "last_date", "last_value")
        hist = reads.rename({"read_date": "hist_date", "value_milli": "hist_value"}).select(
            "meter_id", "register", "hist_date", "hist_value")
        est = (
            need.join_asof(last, left_on="read_date", right_on="last_date", by=["meter_id", "register"],
                           strategy="backward", allow_exact_matches=False, check_sortedness=False)
            .with_columns((pl.col("last_date") - pl.duration(days=config.estimation_history_days)).alias("_hf"))
            .sort("_hf")
            .join_asof(hist, left_on="_hf", right_on="hist_date", by=["meter_id", "register"], strategy="forward",
                       check_sortedness=False)
        )
        unreadable = est.filter(pl.col("last_value").is_null()).height
        est = est.filter(pl.col("last_value").is_not_null())
        days = (pl.col("read_date") - pl.col("last_date")).dt.total_days()
        hdays = (pl.col("last_date") - pl.col("hist_date")).dt.total_days()
        has_hist = pl.col("hist_date").is_not_null() & (pl.col("hist_date") < pl.col("last_date")) & (
            pl.col("last_value") >= pl.col("hist_value")) & pl.col("register").is_in(list(CUMULATIVE_REGISTERS))
        # usage = hist_usage × days / hist_days, rounded half up to the milli-unit, in integers.
        num = (pl.col("last_value") - pl.col("hist_value")) * days
        usage = (2 * num + hdays) // (2 * hdays)
        est = est.with_columns(
            pl.when(has_hist).then(pl.col("last_value") + usage).otherwise(pl.col("last_value")).alias("value_milli"),
            pl.when(has_hist).then(pl.format("估抄: {} days × average of {} days since {}", days, hdays,
                                             pl.col("hist_date")))
            .otherwise(pl.format("估抄: no history; reading of {} carried forward", pl.col("last_date")))
            .alias("detail"),
            has_hist.alias("has_hist"),
        )
        fields = ["meter", "asset_number", "register", "read_date", "value_milli", "status", "reason", "detail",
                  "source", "read_import", "line_no", "created_at", "resolution"]
        bulk_insert(MeterRead, fields, (
            (m, a, r, d, v, MeterRead.Status.ESTIMATED, "", det, MeterRead.Source.ESTIMATE, None, None, as_of, "")
            for m, a, r, d, v, det in est.select("meter_id", "asset_number", "register", "read_date", "value_milli",
                                                 "detail").iter_rows()
        ))
        return EstimateReport(est.height, est.filter(~pl.col("has_hist")).height, unreadable)


# --------------------------------------------------------------------------------------------------
# Meter events
# --------------------------------------------------------------------------------------------------


def _event_reads(meter: Meter, on: date, reads: dict[str, object], as_of: datetime, label: str) -> None:
    registers = set(meter.registers.values_list("code", flat=True))
    for code, value in reads.items():
        if code not in registers:
            raise UnableToRecordEvent(f"meter {meter.asset_number} has no {code} register", field=f"{label}.{code}")
        milli = _parse_manual_value(value)
        MeterRead.objects.filter(meter=meter, register=code, read_date=on,
                                 status__in=[MeterRead.Status.ESTIMATED]).update(
            status=MeterRead.Status.VOID, resolution="superseded by a meter-event read", resolved_at=as_of)
        if MeterRead.objects.filter(meter=meter, register=code, read_date=on, status=MeterRead.Status.VALID).exists():
            MeterRead.objects.filter(meter=meter, register=code, read_date=on, status=MeterRead.Status.VALID).update(
                status=MeterRead.Status.VOID, resolution="replaced by a meter-event read", resolved_at=as_of)
        MeterRead.objects.create(
            meter=meter, asset_number=meter.asset_number, register=code, read_date=on, value_milli=milli,
            status=MeterRead.Status.VALID, source=MeterRead.Source.EVENT, detail=label, created_at=as_of,
        )


def _check_open(service_point: ServicePoint, on: date, as_of: datetime) -> None:
    if on > as_of.date() + timedelta(days=31):
        raise UnableToRecordEvent("an event more than a month ahead cannot be recorded", field="occurred_on")
    owner = calendar_map()[service_point.org_unit_id].owner_id
    frozen = frozen_until_map().get(owner)
    if frozen is not None and on < frozen:
        raise PeriodClosed(f"{on} is in a closed period", field="occurred_on")


@transaction.atomic
def meter_install_event(*, service_point: ServicePoint, asset_number: str, on: date, initial_reads: dict[str, object],
                        actor: User | None, as_of: datetime, ct_ratio: object = 1, pt_ratio: object = 1,
                        digits: int = 6, registers: tuple[str, ...] | None = None) -> Meter:
    """New installation (新装): the meter, its opening reads and the event that starts its segment."""
    _check_open(service_point, on, as_of)
    kwargs = {"registers": registers} if registers else {}
    meter = meter_install(service_point=service_point, asset_number=asset_number, installed_on=on, ct_ratio=ct_ratio,
                          pt_ratio=pt_ratio, digits=digits, actor=actor, **kwargs)
    _event_reads(meter, on, initial_reads, as_of, "installation read")
    MeterEvent.objects.create(service_point=service_point, meter=meter, kind=MeterEvent.Kind.INSTALL, occurred_on=on,
                              new_multiplier=meter.multiplier, created_at=as_of,
                              created_by=actor if actor is not None and actor.pk else None)
    return meter


@transaction.atomic
def meter_replace(*, old_meter_id: int, on: date, final_reads: dict[str, object], new_asset_number: str,
                  initial_reads: dict[str, object], actor: User | None, as_of: datetime, ct_ratio: object = 1,
                  pt_ratio: object = 1, digits: int = 6, note: str = "") -> Meter:
    """换表 mid-period: the old meter's final reads close its segment, the new meter's opening reads
    start the next; each segment keeps its own multiplier."""
    old = Meter.objects.select_for_update(of=("self",)).select_related("service_point").filter(pk=old_meter_id).first()
    if old is None or old.service_point_id is None:
        raise UnableToRecordEvent(f"meter {old_meter_id} is not installed", field="old_meter_id")
    if old.status != Meter.Status.INSTALLED:
        raise UnableToRecordEvent(f"meter {old.asset_number} is {old.status}", field="old_meter_id")
    if old.installed_on and on <= old.installed_on:
        raise UnableToRecordEvent("the replacement date must be after the installation date", field="on")
    if not final_reads:
        raise UnableToRecordEvent("the old meter's final reads are required", field="final_reads")
    if not initial_reads:
        raise UnableToRecordEvent("the new meter's opening reads are required", field="initial_reads")
    point = old.service_point
    _check_open(point, on, as_of)
    last = {
        r.register: r for r in MeterRead.objects.filter(
            meter=old, read_date__lt=on, status__in=[MeterRead.Status.VALID, MeterRead.Status.ESTIMATED]
        ).order_by("register", "read_date")
    }
    for code, value in final_reads.items():
        milli = _parse_manual_value(value)
        prev = last.get(code)
        if prev is not None and code != "demand" and milli < prev.value_milli:
            raise UnableToRecordEvent(
                f"final {code} reading {value} is below the last reading on {prev.read_date}", field=f"final_reads.{code}")
    _event_reads(old, on, final_reads, as_of, "final read (换表)")
    Meter.objects.filter(pk=old.pk).update(status=Meter.Status.REMOVED, removed_on=on)
    new = meter_install(service_point=point, asset_number=new_asset_number, installed_on=on, ct_ratio=ct_ratio,
                        pt_ratio=pt_ratio, digits=digits, actor=actor,
                        registers=tuple(old.registers.values_list("code", flat=True)))
    _event_reads(new, on, initial_reads, as_of, "opening read (换表)")
    event = MeterEvent.objects.create(
        service_point=point, meter=old, new_meter=new, kind=MeterEvent.Kind.REPLACE, occurred_on=on,
        old_multiplier=old.multiplier, new_multiplier=new.multiplier, note=note[:255], created_at=as_of,
        created_by=actor if actor is not None and actor.pk else None,
    )
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="meter_event", object_id=event.pk,
                 summary=f"meter {old.asset_number} replaced by {new.asset_number} on {on}",
                 after={"final": final_reads, "initial": initial_reads, "old_multiplier": old.multiplier,
                        "new_multiplier": new.multiplier}, at=as_of)
    return new


@transaction.atomic
def meter_multiplier_change(*, meter_id: int, on: date, ct_ratio: object, pt_ratio: object,
                            reads: dict[str, object], actor: User | None, as_of: datetime, note: str = "") -> MeterEvent:
    """CT/PT change: the reads on the day split the period into segments with each multiplier."""
    meter = Meter.objects.select_for_update(of=("self",)).select_related("service_point").filter(pk=meter_id).first()
    if meter is None or meter.status != Meter.Status.INSTALLED or meter.service_point_id is None:
        raise UnableToRecordEvent(f"meter {meter_id} is not installed", field="meter_id")
    try:
        ct, pt = Decimal(str(ct_ratio)), Decimal(str(pt_ratio))
    except InvalidOperation:
        raise UnableToRecordEvent("CT and PT ratios must be numbers", field="ct_ratio") from None
    if ct < 1 or pt < 1:
        raise UnableToRecordEvent("CT and PT ratios must be at least 1", field="ct_ratio")
    if not reads:
        raise UnableToRecordEvent("the reads at the change are required", field="reads")
    _check_open(meter.service_point, on, as_of)
    _event_reads(meter, on, reads, as_of, "read at multiplier change")
    old = meter.multiplier
    Meter.objects.filter(pk=meter.pk).update(ct_ratio=ct, pt_ratio=pt, multiplier=ct * pt)
    event = MeterEvent.objects.create(
        service_point=meter.service_point, meter=meter, kind=MeterEvent.Kind.MULTIPLIER_CHANGE, occurred_on=on,
        old_multiplier=old, new_multiplier=ct * pt, note=note[:255], created_at=as_of,
        created_by=actor if actor is not None and actor.pk else None,
    )
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="meter_event", object_id=event.pk,
                 summary=f"meter {meter.asset_number} multiplier {old} → {ct * pt} on {on}", at=as_of)
    return event


@transaction.atomic
def service_point_capacity_change(*, service_point_id: int, on: date, capacity_kva: object, actor: User | None,
                                  as_of: datetime, note: str = "") -> MeterEvent:
    """增容/减容: the basic charge is prorated by day on each side of the change."""
    point = ServicePoint.objects.select_for_update().filter(pk=service_point_id).first()
    if point is None:
        raise UnableToRecordEvent(f"service point {service_point_id} not found", field="service_point_id")
    try:
        new = Decimal(str(capacity_kva))
    except InvalidOperation:
        raise UnableToRecordEvent("capacity must be a number", field="capacity_kva") from None
    if new < 0:
        raise UnableToRecordEvent("capacity must not be negative", field="capacity_kva")
    _check_open(point, on, as_of)
    old = point.contracted_capacity_kva
    ServicePoint.objects.filter(pk=point.pk).update(contracted_capacity_kva=new)
    event = MeterEvent.objects.create(
        service_point=point, kind=MeterEvent.Kind.CAPACITY_CHANGE, occurred_on=on, old_capacity_kva=old,
        new_capacity_kva=new, note=note[:255], created_at=as_of,
        created_by=actor if actor is not None and actor.pk else None,
    )
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="meter_event", object_id=event.pk,
                 summary=f"{point.code} capacity {old} → {new} kVA on {on}", at=as_of)
    return event


@transaction.atomic
def service_point_suspend(*, service_point_id: int, on: date, capacity_kva: object | None, actor: User | None,
                          as_of: datetime, note: str = "") -> MeterEvent:
    """暂停: from `on`, `capacity_kva` (default: all of it) is sealed and leaves the basic charge."""
    point = ServicePoint.objects.select_for_update().filter(pk=service_point_id).first()
    if point is None:
        raise UnableToRecordEvent(f"service point {service_point_id} not found", field="service_point_id")
    suspended = point.contracted_capacity_kva if capacity_kva in (None, "") else Decimal(str(capacity_kva))
    if suspended <= 0 or suspended > point.contracted_capacity_kva:
        raise UnableToRecordEvent("the suspended capacity must be positive and at most the contracted capacity",
                                  field="capacity_kva")
    _check_open(point, on, as_of)
    event = MeterEvent.objects.create(
        service_point=point, kind=MeterEvent.Kind.SUSPEND, occurred_on=on, old_capacity_kva=point.contracted_capacity_kva,
        new_capacity_kva=point.contracted_capacity_kva - suspended, note=note[:255], created_at=as_of,
        created_by=actor if actor is not None and actor.pk else None,
    )
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="meter_event", object_id=event.pk,
                 summary=f"{point.code} suspends {suspended} kVA from {on}", at=as_of)
    return event


@transaction.atomic
def service_point_resume(*, service_point_id: int, on: date, actor: User | None, as_of: datetime,
                         note: str = "") -> MeterEvent:
    point = ServicePoint.objects.select_for_update().filter(pk=service_point_id).first()
    if point is None:
        raise UnableToRecordEvent(f"service point {service_point_id} not found", field="service_point_id")
    last = MeterEvent.objects.filter(service_point=point, kind__in=[MeterEvent.Kind.SUSPEND, MeterEvent.Kind.RESUME],
                                     occurred_on__lte=on).order_by("-occurred_on", "-id").first()
    if last is None or last.kind != MeterEvent.Kind.SUSPEND:
        raise UnableToRecordEvent("the service point is not suspended", field="service_point_id")
    _check_open(point, on, as_of)
    event = MeterEvent.objects.create(
        service_point=point, kind=MeterEvent.Kind.RESUME, occurred_on=on, old_capacity_kva=last.new_capacity_kva,
        new_capacity_kva=point.contracted_capacity_kva, note=note[:255], created_at=as_of,
        created_by=actor if actor is not None and actor.pk else None,
    )
    audit_record(actor=actor, action=AuditEvent.Action.ACTION, object_type="meter_event", object_id=event.pk,
                 summary=f"{point.code} resumes on {on}", at=as_of)
    return event


def interval_file_bytes(path: str) -> bytes:
    return (Path(settings.INTERVAL_DATA_DIR) / path).read_bytes()

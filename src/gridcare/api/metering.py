"""Meter reading: /api/v1/metering/... — one read from a mobile reading app or the console, read
files (CSV/Parquet register reads and 24/96-point interval data) with their report, the quarantine
queue (release with a fix, or discard), meter events that change the calculation (replacement,
multiplier, capacity, suspension) and the reading calendar.

A bad file is a 422 listing every bad row (`problems: [{line, message}]`) and writes nothing.
Needs the metering.edit capability (reading the calendar: any staff role).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from gridcare.access.roles import Role, can
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.billing.selectors import org_units_for
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.customers.selectors import account_scope_q
from gridcare.metering import selectors, services
from gridcare.metering.models import MeterEvent, MeterRead

router = Router()
CAPABILITY = "metering.edit"
RESPONSES = {**ERRORS, 409: ErrorOut}
MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def _allowed(request) -> None:
    if not can(request.user.role, CAPABILITY):
        raise PermissionDenied(f"your role may not edit reads ({CAPABILITY})")


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class ReadIn(Schema):
    asset_number: str = Field(..., min_length=1, max_length=32)
    register_code: str = Field("total", alias="register", description="total, sharp, peak, flat, valley, "
                                                                      "reactive or demand")
    read_date: date
    value: Decimal = Field(..., ge=0, description="dial reading in the register's unit, at most 3 decimals")


class ReadOut(Schema):
    id: int
    asset_number: str
    register_code: str = Field(..., alias="register")
    read_date: date
    value: Decimal
    status: str
    reason: str
    detail: str
    source: str

    model_config = {"populate_by_name": True}


class ReadPage(Schema):
    items: list[ReadOut]
    total: int
    limit: int
    offset: int


class ImportOut(Schema):
    import_id: int
    filename: str
    kind: str
    rows_total: int
    accepted: int
    estimated: int
    quarantined: int
    unchanged: int
    by_reason: dict[str, int]
    quarantined_rows: list[dict]
    already_imported: bool
    ignored_columns: list[str]
    superseded_estimates: int


class ReleaseIn(Schema):
    note: str = Field(..., min_length=1, max_length=255)
    value: Decimal | None = Field(None, ge=0, description="corrected reading, if the read was wrong")
    asset_number: str | None = Field(None, max_length=32, description="corrected meter number")


class DiscardIn(Schema):
    note: str = Field(..., min_length=1, max_length=255)


class ReplaceIn(Schema):
    on: date
    final_reads: dict[str, Decimal] = Field(..., description="old meter's final reads by register")
    new_asset_number: str = Field(..., min_length=1, max_length=32)
    initial_reads: dict[str, Decimal] = Field(..., description="new meter's opening reads by register")
    ct_ratio: Decimal = Field(Decimal(1), ge=1)
    pt_ratio: Decimal = Field(Decimal(1), ge=1)
    digits: int = Field(6, ge=1, le=12)
    note: str = Field("", max_length=255)


class MultiplierIn(Schema):
    on: date
    ct_ratio: Decimal = Field(..., ge=1)
    pt_ratio: Decimal = Field(..., ge=1)
    reads: dict[str, Decimal]
    note: str = Field("", max_length=255)


class CapacityIn(Schema):
    on: date
    capacity_kva: Decimal = Field(..., ge=0)
    note: str = Field("", max_length=255)


class SuspendIn(Schema):
    on: date
    capacity_kva: Decimal | None = Field(None, gt=0, description="capacity sealed; default all of it")
    note: str = Field("", max_length=255)


class ResumeIn(Schema):
    on: date
    note: str = Field("", max_length=255)


class EventOut(Schema):
    id: int
    kind: str
    occurred_on: date
    service_point: str
    meter: str | None
    new_meter: str | None
    old_multiplier: Decimal | None
    new_multiplier: Decimal | None
    old_capacity_kva: Decimal | None
    new_capacity_kva: Decimal | None
    note: str


class CalendarOut(Schema):
    org_unit: str
    name: str
    own: bool
    inherited_from: str
    read_day: int
    due_days: int
    read_window_days: int


class CalendarIn(Schema):
    read_day: int = Field(..., ge=1, le=28)
    due_days: int = Field(..., ge=0, le=90)
    read_window_days: int = Field(0, ge=0, le=7)


def _read(r: MeterRead) -> dict:
    return {"id": r.pk, "asset_number": r.asset_number, "register": r.register, "read_date": r.read_date,
            "value": Decimal(r.value_milli) / 1000, "status": r.status, "reason": r.reason, "detail": r.detail,
            "source": r.source}


def _event(e: MeterEvent) -> dict:
    return {"id": e.pk, "kind": e.kind, "occurred_on": e.occurred_on, "service_point": e.service_point.code,
            "meter": e.meter.asset_number if e.meter_id else None,
            "new_meter": e.new_meter.asset_number if e.new_meter_id else None, "old_multiplier": e.old_multiplier,
            "new_multiplier": e.new_multiplier, "old_capacity_kva": e.old_capacity_kva,
            "new_capacity_kva": e.new_capacity_kva, "note": e.note}


def _import(report) -> dict:
    return report.as_dict()


def _values(reads: dict[str, Decimal]) -> dict[str, object]:
    return {k: v for k, v in reads.items()}


# --- reads ----------------------------------------------------------------------------------------


@router.post("/reads", response={201: ReadOut, 200: ReadOut, **RESPONSES},
             summary="Record one read (mobile reading); it may come back quarantined with a reason")
def read_create(request, body: ReadIn):
    _allowed(request)
    now = timezone.now()
    read = services.meter_read_record(asset_number=body.asset_number, register=body.register_code,
                                      read_date=body.read_date, value=body.value, actor=request.user, as_of=now,
                                      source=MeterRead.Source.API)
    # The same read sent again (a retrying app) returns the stored one: 200 instead of 201.
    return Status(201 if read.created_at == now else 200, _read(read))


@router.get("/reads", response={200: ReadPage, **ERRORS}, summary="Reads (filter by meter, status, reason, date)")
def read_list(request, paging: Query[Paging], asset_number: str = "", status: str = "", reason: str = "",
              read_date: date | None = None):
    if request.user.role == Role.CUSTOMER:
        raise PermissionDenied("staff only")
    qs = selectors.read_list(user=request.user, asset_number=asset_number, status=status, reason=reason,
                             read_date=read_date)
    return page(qs, limit=paging.limit, offset=paging.offset, render=_read)


@router.get("/quarantine", response={200: ReadPage, **ERRORS}, summary="The quarantine queue")
def quarantine(request, paging: Query[Paging], reason: str = ""):
    _allowed(request)
    return page(selectors.quarantine_list(user=request.user, reason=reason), limit=paging.limit,
                offset=paging.offset, render=_read)


def _read_or_404(request, read_id: int) -> MeterRead:
    read = selectors.read_get(user=request.user, read_id=read_id)
    if read is None:
        raise NotFound(f"read {read_id} not found", field="read_id")
    return read


@router.post("/reads/{read_id}/release", response={200: ReadOut, **RESPONSES},
             summary="Release a quarantined read (optionally with a corrected value or meter number)")
def read_release(request, read_id: int, body: ReleaseIn):
    _allowed(request)
    read = _read_or_404(request, read_id)
    read = services.meter_read_release(read_id=read.pk, actor=request.user, as_of=timezone.now(), note=body.note,
                                       value=body.value, asset_number=body.asset_number)
    return _read(read)


@router.post("/reads/{read_id}/discard", response={200: ReadOut, **RESPONSES}, summary="Discard a quarantined read")
def read_discard(request, read_id: int, body: DiscardIn):
    _allowed(request)
    read = _read_or_404(request, read_id)
    return _read(services.meter_read_discard(read_id=read.pk, actor=request.user, as_of=timezone.now(),
                                             note=body.note))


@router.post("/imports", response={201: ImportOut, 200: ImportOut, **RESPONSES},
             summary="Import a read file (CSV/Parquet); the same file again returns its first report")
def import_create(request, file: File[UploadedFile]):
    _allowed(request)
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", field="file")
    report = services.reads_import(content=file.read(), filename=file.name or "reads.csv", actor=request.user,
                                   as_of=timezone.now())
    return Status(200 if report.already_imported else 201, _import(report))


@router.get("/imports/{import_id}", response={200: ImportOut, **ERRORS}, summary="An import's report")
def import_detail(request, import_id: int):
    _allowed(request)
    imp = selectors.read_import_get(import_id=import_id)
    if imp is None:
        raise NotFound(f"import {import_id} not found", field="import_id")
    return _import(services._report_from_import(imp, already=True))


# --- meter events ---------------------------------------------------------------------------------


def _meter_or_404(request, meter_id: int):
    from gridcare.customers.selectors import meter_get

    meter = meter_get(user=request.user, meter_id=meter_id)
    if meter is None:
        raise NotFound(f"meter {meter_id} not found", field="meter_id")
    return meter


def _point_or_404(request, service_point_id: int):
    from gridcare.customers.models import ServicePoint

    point = ServicePoint.objects.filter(account_scope_q(user=request.user, prefix="account__"),
                                        pk=service_point_id).first()
    if point is None:
        raise NotFound(f"service point {service_point_id} not found", field="service_point_id")
    return point


@router.post("/meters/{meter_id}/replace", response={201: EventOut, **RESPONSES},
             summary="Replace a meter (换表): final reads of the old, opening reads of the new")
def meter_replace(request, meter_id: int, body: ReplaceIn):
    _allowed(request)
    _meter_or_404(request, meter_id)
    new = services.meter_replace(old_meter_id=meter_id, on=body.on, final_reads=_values(body.final_reads),
                                 new_asset_number=body.new_asset_number, initial_reads=_values(body.initial_reads),
                                 actor=request.user, as_of=timezone.now(), ct_ratio=body.ct_ratio,
                                 pt_ratio=body.pt_ratio, digits=body.digits, note=body.note)
    return Status(201, _event(MeterEvent.objects.get(new_meter=new, kind=MeterEvent.Kind.REPLACE)))


@router.post("/meters/{meter_id}/multiplier", response={201: EventOut, **RESPONSES},
             summary="Change a meter's CT/PT ratios from a day (reads on that day split the period)")
def meter_multiplier(request, meter_id: int, body: MultiplierIn):
    _allowed(request)
    _meter_or_404(request, meter_id)
    event = services.meter_multiplier_change(meter_id=meter_id, on=body.on, ct_ratio=body.ct_ratio,
                                             pt_ratio=body.pt_ratio, reads=_values(body.reads), actor=request.user,
                                             as_of=timezone.now(), note=body.note)
    return Status(201, _event(event))


@router.post("/service-points/{service_point_id}/capacity", response={201: EventOut, **RESPONSES},
             summary="Capacity increase or decrease (增容/减容) from a day")
def point_capacity(request, service_point_id: int, body: CapacityIn):
    _allowed(request)
    _point_or_404(request, service_point_id)
    return Status(201, _event(services.service_point_capacity_change(
        service_point_id=service_point_id, on=body.on, capacity_kva=body.capacity_kva, actor=request.user,
        as_of=timezone.now(), note=body.note)))


@router.post("/service-points/{service_point_id}/suspend", response={201: EventOut, **RESPONSES},
             summary="Suspend (暂停) capacity from a day")
def point_suspend(request, service_point_id: int, body: SuspendIn):
    _allowed(request)
    _point_or_404(request, service_point_id)
    return Status(201, _event(services.service_point_suspend(
        service_point_id=service_point_id, on=body.on, capacity_kva=body.capacity_kva, actor=request.user,
        as_of=timezone.now(), note=body.note)))


@router.post("/service-points/{service_point_id}/resume", response={201: EventOut, **RESPONSES},
             summary="Resume a suspended service point from a day")
def point_resume(request, service_point_id: int, body: ResumeIn):
    _allowed(request)
    _point_or_404(request, service_point_id)
    return Status(201, _event(services.service_point_resume(
        service_point_id=service_point_id, on=body.on, actor=request.user, as_of=timezone.now(), note=body.note)))


@router.get("/accounts/{account_id}/events", response={200: list[EventOut], **ERRORS},
            summary="Meter events of an account")
def account_events(request, account_id: int):
    from gridcare.customers.selectors import account_get

    if account_get(user=request.user, account_id=account_id) is None:
        raise NotFound(f"account {account_id} not found", field="account_id")
    return [_event(e) for e in selectors.meter_events_for_account(account_id=account_id)]


# --- calendar -------------------------------------------------------------------------------------


@router.get("/calendars", response={200: list[CalendarOut], **ERRORS}, summary="Reading calendar per org unit")
def calendar_list(request):
    if request.user.role == Role.CUSTOMER:
        raise PermissionDenied("staff only")
    units = list(org_units_for(user=request.user).order_by("path").values_list("id", flat=True))
    return [{"org_unit": r.org_unit_code, "name": r.org_unit_name, "own": r.own, "inherited_from": r.owner_name,
             "read_day": r.read_day, "due_days": r.due_days, "read_window_days": r.read_window_days}
            for r in selectors.calendar_rows(org_unit_ids=units)]


@router.put("/calendars/{org_unit_code}", response={200: CalendarOut, **RESPONSES},
            summary="Set an org unit's read day, due days and read window")
def calendar_set(request, org_unit_code: str, body: CalendarIn):
    _allowed(request)
    unit = org_units_for(user=request.user).filter(code=org_unit_code).first()
    if unit is None:
        raise NotFound(f"org unit {org_unit_code!r} not found", field="org_unit_code")
    services.billing_calendar_set(org_unit=unit, read_day=body.read_day, due_days=body.due_days,
                                  read_window_days=body.read_window_days, actor=request.user, as_of=timezone.now())
    r = selectors.calendar_rows(org_unit_ids=[unit.pk])[0]
    return {"org_unit": r.org_unit_code, "name": r.org_unit_name, "own": r.own, "inherited_from": r.owner_name,
            "read_day": r.read_day, "due_days": r.due_days, "read_window_days": r.read_window_days}


"""Statement reconciliation: /api/v1/reconciliation/...

Upload a bank or agency statement (multipart), list statements, lines and discrepancies,
resolve a discrepancy, close a business day, read the daily report and the 自动对账率 KPI.
Thin handlers: parse, one service or selector call, render. Needs the payments.approve capability.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from gridcare.access.roles import can
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.reconciliation import selectors, services
from gridcare.reconciliation.models import Discrepancy, Statement, StatementLine

router = Router()
CAPABILITY = "payments.approve"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
RESPONSES = {**ERRORS, 409: ErrorOut}


def _allowed(request) -> None:
    if not can(request.user.role, CAPABILITY):
        raise PermissionDenied(f"your role may not see reconciliation ({CAPABILITY})")


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class StatementOut(Schema):
    id: int
    source: str
    kind: str
    file_name: str
    first_date: date
    last_date: date
    lines_total: int
    lines_skipped: int
    matched: int
    mismatched: int
    duplicates: int
    unmatched: int
    total_fen: int
    imported_at: str


class StatementPage(Schema):
    items: list[StatementOut]
    total: int
    limit: int
    offset: int


class ImportOut(Schema):
    created: bool
    dry_run: bool
    statement: StatementOut | None
    lines: int
    skipped: int
    counts: dict[str, int]
    discrepancies: int
    resolved_missing: int


class LineOut(Schema):
    id: int
    line_no: int
    txn_ref: str
    reference: str
    account_number: str
    amount_fen: int
    value_date: date
    status: str
    method: str
    reason: str
    payment_id: int | None
    auto: bool


class LinePage(Schema):
    items: list[LineOut]
    total: int
    limit: int
    offset: int


class DiscrepancyOut(Schema):
    id: int
    kind: str
    kind_label: str
    status: str
    source: str
    business_date: date
    amount_fen: int
    difference_fen: int
    description: str
    line_id: int | None
    payment_id: int | None
    account_number: str | None
    work_order: str | None
    resolution: str
    resolution_note: str


class DiscrepancyPage(Schema):
    items: list[DiscrepancyOut]
    total: int
    limit: int
    offset: int


class DiscrepancyFilter(Paging):
    status: str = Field("", description="open | resolved")
    kind: str = Field("", description=", ".join(Discrepancy.Kind.values))
    source: str = ""


class ResolveIn(Schema):
    resolution: str = Field(..., description=", ".join(c for c in Discrepancy.Resolution.values
                                                        if c != "auto_matched"))
    note: str = Field("", max_length=255)
    payment_id: int | None = Field(None, description="matched_manually of a statement line: the payment")
    line_id: int | None = Field(None, description="matched_manually of a missing payment: the statement line")


class DayOut(Schema):
    business_date: date
    generated_at: str
    data: dict


class AutoRateOut(Schema):
    start: date
    end: date
    auto: int
    manual: int
    total: int
    open_discrepancies: int
    rate: Decimal | None


def _statement(s: Statement) -> dict:
    return {**{f: getattr(s, f) for f in ("id", "source", "kind", "file_name", "first_date", "last_date",
                                           "lines_total", "lines_skipped", "matched", "mismatched", "duplicates",
                                           "unmatched", "total_fen")},
            "imported_at": s.imported_at.isoformat()}


def _line(line: StatementLine) -> dict:
    return {f: getattr(line, f) for f in ("id", "line_no", "txn_ref", "reference", "account_number", "amount_fen",
                                           "value_date", "status", "method", "reason", "payment_id", "auto")}


def _discrepancy(d: Discrepancy) -> dict:
    return {
        **{f: getattr(d, f) for f in ("id", "kind", "status", "source", "business_date", "amount_fen",
                                       "difference_fen", "description", "line_id", "payment_id", "resolution",
                                       "resolution_note")},
        "kind_label": str(d.get_kind_display()), "account_number": d.account.number if d.account_id else None,
        "work_order": d.work_order.number if d.work_order_id else None,
    }


@router.post("/statements", response={200: ImportOut, 201: ImportOut, **RESPONSES},
             summary="Import a bank or agency statement and match it")
def statement_upload(request, file: File[UploadedFile], source: Form[str], kind: Form[str] = "",
                     dry_run: Form[bool] = False):
    _allowed(request)
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(f"the file is larger than {MAX_UPLOAD_BYTES} bytes", field="file")
    result = services.statement_import(source=source, kind=kind or None, content=file.read(),
                                       file_name=file.name or "statement", actor=request.user, as_of=timezone.now(),
                                       dry_run=dry_run)
    body = {"created": result.created, "dry_run": result.dry_run,
            "statement": _statement(result.statement) if result.statement else None, "lines": result.lines,
            "skipped": result.skipped, "counts": result.counts, "discrepancies": result.discrepancies,
            "resolved_missing": result.resolved_missing}
    return Status(201 if result.created else 200, body)


@router.get("/statements", response={200: StatementPage, **ERRORS}, summary="Imported statements")
def statement_list(request, paging: Query[Paging], source: str = ""):
    _allowed(request)
    return page(selectors.statement_list(source=source), limit=paging.limit, offset=paging.offset,
                render=_statement)


@router.get("/statements/{statement_id}", response={200: StatementOut, **ERRORS}, summary="One statement")
def statement_detail(request, statement_id: int):
    _allowed(request)
    statement = selectors.statement_get(statement_id=statement_id)
    if statement is None:
        raise NotFound(f"statement {statement_id} not found", field="statement_id")
    return _statement(statement)


@router.get("/statements/{statement_id}/lines", response={200: LinePage, **ERRORS}, summary="Lines and outcomes")
def statement_lines(request, statement_id: int, paging: Query[Paging], status: str = ""):
    _allowed(request)
    return page(selectors.statement_lines(statement_id=statement_id, status=status), limit=paging.limit,
                offset=paging.offset, render=_line)


@router.get("/discrepancies", response={200: DiscrepancyPage, **ERRORS}, summary="Discrepancies")
def discrepancy_list(request, filters: Query[DiscrepancyFilter]):
    _allowed(request)
    qs = selectors.discrepancy_list(status=filters.status, kind=filters.kind, source=filters.source)
    return page(qs, limit=filters.limit, offset=filters.offset, render=_discrepancy)


@router.post("/discrepancies/{discrepancy_id}/resolve", response={200: DiscrepancyOut, **RESPONSES},
             summary="Resolve a discrepancy (and its supervision work order)")
def discrepancy_resolve(request, discrepancy_id: int, body: ResolveIn):
    _allowed(request)
    services.discrepancy_resolve(actor=request.user, discrepancy_id=discrepancy_id, resolution=body.resolution,
                                 note=body.note, payment_id=body.payment_id, line_id=body.line_id,
                                 as_of=timezone.now())
    return _discrepancy(selectors.discrepancy_get(discrepancy_id=discrepancy_id))


@router.post("/days/{business_date}/close", response={200: DayOut, **RESPONSES},
             summary="Close a business day: flag money not received, build the daily report")
def day_close(request, business_date: date):
    _allowed(request)
    report = services.reconciliation_day_close(business_date=business_date, actor=request.user, as_of=timezone.now())
    return {"business_date": report.business_date, "generated_at": report.generated_at.isoformat(),
            "data": report.data}


@router.get("/days/{business_date}", response={200: DayOut, **ERRORS}, summary="Daily reconciliation report")
def day_report(request, business_date: date):
    _allowed(request)
    report = selectors.daily_report_get(business_date=business_date)
    if report is None:
        raise NotFound(f"no report for {business_date}; close the day first", field="business_date")
    return {"business_date": report.business_date, "generated_at": report.generated_at.isoformat(),
            "data": report.data}


@router.get("/kpi/auto-rate", response={200: AutoRateOut, **ERRORS},
            summary="自动对账率: lines matched automatically / all lines and unseen payments")
def auto_rate(request, start: date, end: date, source: str = ""):
    _allowed(request)
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    r = selectors.auto_reconciliation_rate(start=start, end=end, source=source)
    return {"start": r.start, "end": r.end, "auto": r.auto, "manual": r.manual, "total": r.total,
            "open_discrepancies": r.open_discrepancies,
            "rate": r.rate.quantize(Decimal("0.0001")) if r.rate is not None else None}

"""Billing: /api/v1/billing/... — periods (progress, month close), runs (start in the background,
progress, approve, issue), bills and bill lines (a portal customer sees their issued bills only),
the "why did my bill change" explanation, the PDF, corrections (credit note + rebill) and their
approval, the auditors' exception queue and the audit-rule settings.

Thin handlers: parse, one service or selector call, render. Every failure is `{code, message, field}`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from gridcare.access.roles import Role, can
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.billing import selectors, services
from gridcare.billing.document import bill_pdf
from gridcare.billing.labels import exception_text, rule_label
from gridcare.billing.models import Bill, BillException, BillingRun, BillLine
from gridcare.billing.tasks import billing_run_launch, run_is_stale
from gridcare.core.errors import NotFound, PermissionDenied
from gridcare.customers.models import OrgUnit

router = Router()
RESPONSES = {**ERRORS, 409: ErrorOut}


def _need(request, capability: str) -> None:
    if not can(request.user.role, capability):
        raise PermissionDenied(f"your role may not do this ({capability})")


def _staff(request) -> None:
    if request.user.role == Role.CUSTOMER:
        raise PermissionDenied("staff only")


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


# --- schemas --------------------------------------------------------------------------------------


class RunOut(Schema):
    id: int
    period: str
    scope: str
    status: str
    stage: str
    total_accounts: int
    processed_accounts: int
    billed_accounts: int
    skipped_accounts: int
    percent: int
    stale: bool
    prepared_by: str | None
    approved_by: str | None
    created_at: str
    finished_at: str | None
    error: str
    stats: dict


class RunIn(Schema):
    period: str = Field(..., description="YYYY-MM", examples=["2026-10"])
    org_unit: str | None = Field(None, description="org unit code; default: your own org unit")


class CountOut(Schema):
    count: int
    notices_queued: int = 0


class PeriodOut(Schema):
    id: int
    period: str
    org_unit: str
    status: str
    start_date: date
    end_date: date
    accounts: int
    reads_valid: int
    reads_estimated: int
    reads_quarantined: int
    bills: dict[str, int]
    open_exceptions: int
    percent_billed: int
    percent_issued: int


class LineOut(Schema):
    line_no: int
    component: str
    line_code: str
    tariff: str
    tariff_version: str
    start_date: date
    end_date: date
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount_fen: int
    rule: str
    explanation_zh: str
    explanation_en: str
    corrects_number: str = ""  # adjustment (退补) lines: the issued bill and period this line corrects
    corrects_period: str = ""


class BillOut(Schema):
    id: int
    number: str
    account_number: str
    period: str
    version: int
    kind: str
    status: str
    start_date: date
    end_date: date
    tariff: str
    total_fen: int
    energy_wh: int
    estimated: bool
    due_date: date | None
    payment_reference: str
    issued_at: str | None
    corrects: str | None
    reason: str
    run_id: int | None


class BillDetailOut(BillOut):
    lines: list[LineOut]


class BillPage(Schema):
    items: list[BillOut]
    total: int
    limit: int
    offset: int


class ChangePartOut(Schema):
    key: str
    amount_fen: int


class ExplanationOut(Schema):
    bill_id: int
    previous_bill_id: int | None
    total_fen: int
    previous_total_fen: int
    change_fen: int
    kwh: Decimal
    previous_kwh: Decimal
    days: int
    previous_days: int
    parts: list[ChangePartOut]


class ReadValueIn(Schema):
    meter_id: int
    register_code: str = Field("total", alias="register")
    value: Decimal = Field(..., ge=0, description="corrected closing reading, in the register's unit")


class CorrectionIn(Schema):
    reason: str = Field(..., min_length=1, max_length=255)
    reads: list[ReadValueIn] = Field(default_factory=list, description="corrected closing reads, if any")


class CorrectionOut(Schema):
    credit: BillOut
    rebill: BillOut


class ExceptionOut(Schema):
    id: int
    bill_id: int
    bill_number: str
    account_number: str
    run_id: int | None
    rule: str
    rule_label: str
    text: str
    data: dict
    status: str
    note: str
    resolved_by: str | None


class ExceptionPage(Schema):
    items: list[ExceptionOut]
    total: int
    limit: int
    offset: int


class NoteIn(Schema):
    note: str = Field("", max_length=255)


class CorrectReadIn(Schema):
    note: str = Field(..., min_length=1, max_length=255)
    reads: list[ReadValueIn] = Field(..., min_length=1)


class RuleOut(Schema):
    code: str
    label: str
    enabled: bool
    params: dict


class RuleIn(Schema):
    enabled: bool = True
    params: dict = Field(default_factory=dict)


# --- renderers ------------------------------------------------------------------------------------


def _run(r: BillingRun) -> dict:
    now = timezone.now()
    return {"id": r.pk, "period": r.period_code, "scope": r.scope_key, "status": r.status, "stage": r.stage,
            "total_accounts": r.total_accounts, "processed_accounts": r.processed_accounts,
            "billed_accounts": r.billed_accounts, "skipped_accounts": r.skipped_accounts, "percent": r.percent,
            "stale": run_is_stale(r, as_of=now), "prepared_by": r.prepared_by.username if r.prepared_by else None,
            "approved_by": r.approved_by.username if r.approved_by else None, "created_at": r.created_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None, "error": r.error,
            "stats": r.stats or {}}


def _bill(b: Bill) -> dict:
    return {"id": b.pk, "number": b.number, "account_number": b.account.number, "period": b.period_code,
            "version": b.version, "kind": b.kind, "status": b.status, "start_date": b.start_date,
            "end_date": b.end_date, "tariff": b.tariff_code, "total_fen": b.total_fen, "energy_wh": b.energy_wh,
            "estimated": b.estimated, "due_date": b.due_date, "payment_reference": b.payment_reference,
            "issued_at": b.issued_at.isoformat() if b.issued_at else None,
            "corrects": b.corrects.number if b.corrects_id else None, "reason": b.reason, "run_id": b.run_id}


def _line(ln: BillLine) -> dict:
    return {f: getattr(ln, f) for f in ("line_no", "component", "line_code", "tariff", "tariff_version",
                                         "start_date", "end_date", "quantity", "unit", "unit_price", "amount_fen",
                                         "rule", "explanation_zh", "explanation_en", "corrects_number",
                                         "corrects_period")}


def _exception(e: BillException) -> dict:
    return {"id": e.pk, "bill_id": e.bill_id, "bill_number": e.bill.number, "account_number": e.bill.account.number,
            "run_id": e.run_id, "rule": e.rule, "rule_label": rule_label(e.rule), "text": exception_text(e.rule, e.data),
            "data": e.data, "status": e.status, "note": e.note,
            "resolved_by": e.resolved_by.username if e.resolved_by else None}


def _reads(items: list[ReadValueIn]) -> dict[tuple[int, str], object]:
    return {(r.meter_id, r.register_code): r.value for r in items}


def _bill_or_404(request, bill_id: int) -> Bill:
    bill = selectors.bill_get(user=request.user, bill_id=bill_id)
    if bill is None:
        raise NotFound(f"bill {bill_id} not found", field="bill_id")
    return bill


def _run_or_404(request, run_id: int) -> BillingRun:
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        raise NotFound(f"billing run {run_id} not found", field="run_id")
    return run


# --- periods and runs -----------------------------------------------------------------------------


@router.get("/periods", response={200: list[PeriodOut], **ERRORS}, summary="Billing periods and their progress")
def period_list(request, period: str = ""):
    _staff(request)
    return [{"id": p.period.pk, "period": p.period.code, "org_unit": p.period.org_unit.code,
             "status": p.period.status, "start_date": p.period.start_date, "end_date": p.period.end_date,
             "accounts": p.accounts, "reads_valid": p.reads_valid, "reads_estimated": p.reads_estimated,
             "reads_quarantined": p.reads_quarantined, "bills": p.bills, "open_exceptions": p.open_exceptions,
             "percent_billed": p.percent_billed, "percent_issued": p.percent_issued}
            for p in selectors.period_progress(user=request.user, period_code=period or None, limit=100)]


@router.post("/periods/{period_id}/close", response={200: dict, **RESPONSES}, summary="Close a period (关账)")
def period_close(request, period_id: int):
    period = services.billing_period_close(period_id=period_id, actor=request.user, as_of=timezone.now())
    return {"id": period.pk, "period": period.code, "status": period.status}


@router.get("/runs", response={200: list[RunOut], **ERRORS}, summary="Billing runs")
def run_list(request, period: str = ""):
    _staff(request)
    return [_run(r) for r in selectors.run_list(user=request.user, period_code=period)[:100]]


@router.post("/runs", response={202: RunOut, **RESPONSES},
             summary="Start (or resume) the billing run of a period; it runs in the background")
def run_start(request, body: RunIn):
    unit = None
    if body.org_unit:
        unit = OrgUnit.objects.filter(code=body.org_unit).first()
        if unit is None:
            raise NotFound(f"no org unit {body.org_unit!r}", field="org_unit")
    now = timezone.now()
    run = services.billing_run_start(period_code=body.period, org_unit=unit, actor=request.user, as_of=now)
    if run.status == BillingRun.Status.PENDING or run_is_stale(run, as_of=now):
        billing_run_launch(run=run, as_of=now)
        run.refresh_from_db()
    return Status(202, _run(run))


@router.get("/runs/{run_id}", response={200: RunOut, **ERRORS}, summary="One run and its progress")
def run_detail(request, run_id: int):
    _staff(request)
    return _run(_run_or_404(request, run_id))


@router.post("/runs/{run_id}/approve", response={200: CountOut, **RESPONSES},
             summary="Approve the run's bills without open exceptions (approver ≠ preparer)")
def run_approve(request, run_id: int):
    run = _run_or_404(request, run_id)
    return {"count": services.billing_run_approve(run_id=run.pk, actor=request.user, as_of=timezone.now())}


@router.post("/runs/{run_id}/issue", response={200: CountOut, **RESPONSES},
             summary="Issue the run's approved bills and queue their notices")
def run_issue(request, run_id: int):
    run = _run_or_404(request, run_id)
    now = timezone.now()
    ids = services.billing_run_issue(run_id=run.pk, actor=request.user, as_of=now)
    report = services.bills_deliver(bill_ids=ids, as_of=now)
    return {"count": len(ids), "notices_queued": report.queued}


# --- bills ----------------------------------------------------------------------------------------


@router.get("/bills", response={200: BillPage, **ERRORS}, summary="Bills you may see (customers: issued only)")
def bill_list(request, paging: Query[Paging], account_number: str = "", period: str = "", status: str = ""):
    qs = selectors.bill_list_for_user(user=request.user).select_related("corrects")
    if account_number:
        qs = qs.filter(account__number=account_number)
    if period:
        qs = qs.filter(period_code=period)
    if status:
        qs = qs.filter(status=status)
    return page(qs, limit=paging.limit, offset=paging.offset, render=_bill)


@router.get("/bills/{bill_id}", response={200: BillDetailOut, **ERRORS}, summary="One bill with its lines")
def bill_detail(request, bill_id: int):
    bill = _bill_or_404(request, bill_id)
    return {**_bill(bill), "lines": [_line(ln) for ln in selectors.bill_lines(bill=bill)]}


@router.get("/bills/{bill_id}/lines", response={200: list[LineOut], **ERRORS}, summary="Bill lines")
def bill_lines(request, bill_id: int):
    return [_line(ln) for ln in selectors.bill_lines(bill=_bill_or_404(request, bill_id))]


@router.get("/bills/{bill_id}/explanation", response={200: ExplanationOut, **ERRORS},
            summary="Why did my bill change: the change against last period by usage, price, days and tier")
def bill_explanation(request, bill_id: int):
    _bill_or_404(request, bill_id)
    c = selectors.bill_change_explanation(user=request.user, bill_id=bill_id)
    return {"bill_id": c.bill_id, "previous_bill_id": c.previous_bill_id, "total_fen": c.total_fen,
            "previous_total_fen": c.previous_total_fen, "change_fen": c.change_fen, "kwh": c.kwh,
            "previous_kwh": c.previous_kwh, "days": c.days, "previous_days": c.previous_days,
            "parts": [{"key": p.key, "amount_fen": p.amount_fen} for p in c.parts]}


@router.get("/bills/{bill_id}/pdf", response={200: None, **ERRORS}, summary="The bill as PDF")
def bill_pdf_download(request, bill_id: int):
    document = selectors.bill_document(user=request.user, bill_id=bill_id)
    if document is None:
        raise NotFound(f"bill {bill_id} not found", field="bill_id")
    response = HttpResponse(bill_pdf(document=document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.bill.number}.pdf"'
    return response


@router.post("/bills/{bill_id}/corrections", response={201: CorrectionOut, **RESPONSES},
             summary="Correct an issued bill: credit note + rebill, waiting for a second person's approval")
def bill_correct(request, bill_id: int, body: CorrectionIn):
    bill = _bill_or_404(request, bill_id)
    corr = services.bill_correct(bill_id=bill.pk, reason=body.reason, reads=_reads(body.reads) or None,
                                 actor=request.user, as_of=timezone.now())
    return Status(201, {"credit": _bill(corr.credit), "rebill": _bill(corr.rebill)})


@router.post("/bills/{bill_id}/approve-correction", response={200: CorrectionOut, **RESPONSES},
             summary="Approve and issue a correction (the rebill's id); approver ≠ preparer")
def bill_correction_approve(request, bill_id: int):
    bill = _bill_or_404(request, bill_id)
    now = timezone.now()
    corr = services.bill_correction_approve(rebill_id=bill.pk, actor=request.user, as_of=now)
    services.bills_deliver(bill_ids=[corr.credit.pk, corr.rebill.pk], as_of=now)
    return {"credit": _bill(corr.credit), "rebill": _bill(corr.rebill)}


# --- exceptions and rules -------------------------------------------------------------------------


@router.get("/exceptions", response={200: ExceptionPage, **ERRORS}, summary="The auditors' exception queue")
def exception_list(request, paging: Query[Paging], status: str = "open", rule: str = "", run_id: int | None = None):
    _need(request, "billing.audit")
    qs = selectors.exception_queue(user=request.user, status=status, rule=rule, run_id=run_id)
    return page(qs, limit=paging.limit, offset=paging.offset, render=_exception)


def _exception_or_404(request, exception_id: int) -> BillException:
    exc = selectors.exception_get(user=request.user, exception_id=exception_id)
    if exc is None:
        raise NotFound(f"exception {exception_id} not found", field="exception_id")
    return exc


@router.post("/exceptions/{exception_id}/confirm", response={200: ExceptionOut, **RESPONSES},
             summary="Confirm: the bill is right")
def exception_confirm(request, exception_id: int, body: NoteIn):
    exc = _exception_or_404(request, exception_id)
    services.bill_exception_confirm(exception_id=exc.pk, actor=request.user, as_of=timezone.now(), note=body.note)
    return _exception(_exception_or_404(request, exception_id))


@router.post("/exceptions/{exception_id}/hold", response={200: ExceptionOut, **RESPONSES},
             summary="Hold the bill out of its batch")
def exception_hold(request, exception_id: int, body: NoteIn):
    exc = _exception_or_404(request, exception_id)
    services.bill_exception_hold(exception_id=exc.pk, actor=request.user, as_of=timezone.now(), note=body.note)
    return _exception(_exception_or_404(request, exception_id))


@router.post("/exceptions/{exception_id}/correct-read", response={200: BillDetailOut, **RESPONSES},
             summary="Correct the closing read(s) and re-rate the draft bill")
def exception_correct_read(request, exception_id: int, body: CorrectReadIn):
    exc = _exception_or_404(request, exception_id)
    bill = services.bill_exception_correct_read(exception_id=exc.pk, reads=_reads(body.reads), actor=request.user,
                                                as_of=timezone.now(), note=body.note)
    return {**_bill(bill), "lines": [_line(ln) for ln in selectors.bill_lines(bill=bill)]}


@router.get("/audit-rules", response={200: list[RuleOut], **ERRORS}, summary="Audit rules and the sampling rate")
def rule_list(request):
    _staff(request)
    config = services.audit_config()
    from gridcare.billing.config import default_rules

    out = [{"code": code, "label": rule_label(code), "enabled": code in config.rules,
            "params": {k: v for k, v in (config.rules.get(code) or spec).items() if k != "enabled"}}
           for code, spec in default_rules().items()]
    out.append({"code": "sampling", "label": rule_label("sampling"), "enabled": config.sample_rate > 0,
                "params": {"rate": str(config.sample_rate)}})
    return out


@router.put("/audit-rules/{code}", response={200: RuleOut, **RESPONSES}, summary="Change an audit rule")
def rule_set(request, code: str, body: RuleIn):
    rule = services.audit_rule_set(code=code, enabled=body.enabled, params=body.params, actor=request.user,
                                   as_of=timezone.now())
    return {"code": rule.code, "label": rule_label(rule.code), "enabled": rule.enabled, "params": rule.params}

"""Collections: /api/v1/collections/...

Late-fee quotes and counter assessment, accounts in arrears, payment promises, dunning call
tasks, suspension cases (propose, approve, reject, execute, restore) and the 电费回收率 KPI.
Thin handlers: parse, one service or selector call, render. Objects outside the caller's org-unit
scope are 404.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from gridcare.access.roles import can
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.collections import selectors, services
from gridcare.collections.models import CallTask, Promise, SuspensionCase
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.customers.selectors import account_get

router = Router()
RESPONSES = {**ERRORS, 409: ErrorOut}


def _viewer(request) -> None:
    if not can(request.user.role, "customers.view"):
        raise PermissionDenied("your role may not see collections (customers.view)")


def _account(request, account_id: int):
    account = account_get(user=request.user, account_id=account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found", field="account_id")
    return account


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class BandOut(Schema):
    first_day: date
    last_day: date
    days: int
    principal_fen: int
    rate: Decimal
    cross_year: bool


class QuoteOut(Schema):
    charge_id: int
    reference: str
    due_date: date
    outstanding_fen: int
    days: int
    fee_fen: int
    assessed_fen: int
    unassessed_fen: int
    minimum_applied: bool
    formula: str
    bands: list[BandOut]


class QuotesOut(Schema):
    account_number: str
    as_of_date: date
    total_unassessed_fen: int
    bills: list[QuoteOut]


class AssessOut(Schema):
    bills: int
    posted: int
    posted_fen: int


class OverdueOut(Schema):
    account_id: int
    account_number: str
    arrears_fen: int
    oldest_due: date
    days_overdue: int
    items: int


class PromiseIn(Schema):
    account_id: int
    promised_date: date
    amount_fen: int = Field(..., gt=0)
    note: str = Field("", max_length=255)


class PromiseOut(Schema):
    id: int
    account_number: str
    promised_date: date
    amount_fen: int
    arrears_fen: int
    status: str
    note: str


class PromisePage(Schema):
    items: list[PromiseOut]
    total: int
    limit: int
    offset: int


class CallOut(Schema):
    id: int
    account_number: str
    stage: str
    status: str
    scheduled_at: str
    due_at: str
    outcome_note: str


class CallPage(Schema):
    items: list[CallOut]
    total: int
    limit: int
    offset: int


class CallDoneIn(Schema):
    reached: bool
    note: str = Field("", max_length=255)
    promised_date: date | None = None
    promised_amount_fen: int | None = Field(None, gt=0)


class CaseOut(Schema):
    id: int
    account_number: str
    status: str
    arrears_fen: int
    days_overdue: int
    proposed_at: str
    approved_by: str | None
    planned_at: str | None
    reminder_at: str | None
    executed_at: str | None
    cleared_at: str | None
    restore_due_at: str | None
    restored_at: str | None
    restore_met: bool | None
    work_order: str | None
    closed_reason: str


class CasePage(Schema):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int


class ProposeIn(Schema):
    account_id: int


class NoteIn(Schema):
    note: str = Field("", max_length=255)


class RejectIn(Schema):
    reason: str = Field(..., min_length=1, max_length=255)


class RateOut(Schema):
    start: date
    end: date
    bills: int
    receivable_fen: int
    collected_fen: int
    outstanding_fen: int
    rate: Decimal | None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _promise(p: Promise) -> dict:
    return {"id": p.pk, "account_number": p.account.number, "promised_date": p.promised_date,
            "amount_fen": p.amount_fen, "arrears_fen": p.arrears_fen, "status": p.status, "note": p.note}


def _call(t: CallTask) -> dict:
    return {"id": t.pk, "account_number": t.account.number, "stage": t.notice.stage, "status": t.status,
            "scheduled_at": t.scheduled_at.isoformat(), "due_at": t.due_at.isoformat(), "outcome_note": t.outcome_note}


def _case(c: SuspensionCase) -> dict:
    return {
        "id": c.pk, "account_number": c.account.number, "status": c.status, "arrears_fen": c.arrears_fen,
        "days_overdue": c.days_overdue, "proposed_at": c.proposed_at.isoformat(),
        "approved_by": c.approved_by.username if c.approved_by_id else None,
        **{f: _iso(getattr(c, f)) for f in ("planned_at", "reminder_at", "executed_at", "cleared_at",
                                             "restore_due_at", "restored_at")},
        "restore_met": c.restore_met, "work_order": c.work_order.number if c.work_order_id else None,
        "closed_reason": c.closed_reason,
    }


# -- late fees ------------------------------------------------------------------------------------
@router.get("/accounts/{account_id}/late-fees", response={200: QuotesOut, **ERRORS},
            summary="Late fees (违约金) if the account paid on a date, bill by bill with the working")
def late_fee_quote(request, account_id: int, on: date | None = None):
    _viewer(request)
    account = _account(request, account_id)
    day = on or timezone.localdate()
    quotes = services.late_fee_quote(account_id=account.pk, as_of_date=day)
    return {"account_number": account.number, "as_of_date": day,
            "total_unassessed_fen": sum(q.unassessed_fen for q in quotes),
            "bills": [{"charge_id": q.charge_id, "reference": q.reference, "due_date": q.due_date,
                       "outstanding_fen": q.outstanding_fen, "days": q.fee.days, "fee_fen": q.fee.fee_fen,
                       "assessed_fen": q.assessed_fen, "unassessed_fen": q.unassessed_fen,
                       "minimum_applied": q.fee.minimum_applied, "formula": q.fee.formula(),
                       "bands": [{"first_day": b.first_day, "last_day": b.last_day, "days": b.days,
                                  "principal_fen": b.principal_fen, "rate": b.rate, "cross_year": b.cross_year}
                                 for b in q.fee.bands]} for q in quotes]}


@router.post("/accounts/{account_id}/late-fees/assess", response={200: AssessOut, **RESPONSES},
             summary="Post the late fee accrued so far (at the counter, before taking a payment)")
def late_fee_assess(request, account_id: int):
    result = services.late_fees_assess_account(actor=request.user, account_id=account_id, as_of=timezone.now())
    return {"bills": result.bills, "posted": result.posted, "posted_fen": result.posted_fen}


class WaiverIn(Schema):
    amount_fen: int = Field(..., gt=0)
    reason: str = Field(..., min_length=1, max_length=255)


class DecideIn(Schema):
    approve: bool
    note: str = Field("", max_length=255)


class WaiverOut(Schema):
    id: int
    account_number: str
    fee_charge_id: int | None
    amount_fen: int
    reason: str
    status: str
    requested_by: str
    decided_by: str | None


def _waiver(req) -> dict:
    return {"id": req.pk, "account_number": req.account.number, "fee_charge_id": req.charge_id,
            "amount_fen": req.amount_fen, "reason": req.reason, "status": req.status,
            "requested_by": req.requested_by.username, "decided_by": req.decided_by.username if req.decided_by_id else None}


@router.post("/late-fees/{fee_charge_id}/waivers", response={201: WaiverOut, **RESPONSES},
             summary="Ask to waive part of a late fee (a second person approves)")
def waiver_request(request, fee_charge_id: int, body: WaiverIn):
    req = services.late_fee_waiver_request(actor=request.user, fee_charge_id=fee_charge_id, amount_fen=body.amount_fen,
                                           reason=body.reason, as_of=timezone.now())
    return Status(201, _waiver(req))


@router.get("/waivers", response={200: list[WaiverOut], **ERRORS}, summary="Late-fee waivers waiting for approval")
def waiver_list(request):
    _viewer(request)
    return [_waiver(r) for r in selectors.waivers_pending(user=request.user)]


@router.post("/waivers/{request_id}/decide", response={200: WaiverOut, **RESPONSES},
             summary="Approve (posts the waiver) or reject; not by the requester")
def waiver_decide(request, request_id: int, body: DecideIn):
    req = services.late_fee_waiver_decide(actor=request.user, request_id=request_id, approve=body.approve,
                                          note=body.note, as_of=timezone.now())
    return _waiver(req)


# -- arrears, promises, calls ---------------------------------------------------------------------
@router.get("/overdue", response={200: list[OverdueOut], **ERRORS}, summary="Accounts in arrears, largest first")
def overdue(request, limit: int = Query(200, ge=1, le=1000)):
    _viewer(request)
    rows = selectors.overdue_accounts(user=request.user, as_of_date=timezone.localdate(), limit=limit)
    return [{"account_id": r["account_id"], "account_number": r["account"].number, "arrears_fen": r["arrears_fen"],
             "oldest_due": r["oldest_due"], "days_overdue": r["days_overdue"], "items": r["items"]} for r in rows]


@router.post("/promises", response={201: PromiseOut, **RESPONSES}, summary="Record a payment promise (承诺缴费)")
def promise_create(request, body: PromiseIn):
    promise = services.promise_record(actor=request.user, account_id=body.account_id, promised_date=body.promised_date,
                                      amount_fen=body.amount_fen, note=body.note, channel="api", as_of=timezone.now())
    return Status(201, _promise(promise))


@router.get("/promises", response={200: PromisePage, **ERRORS}, summary="Payment promises")
def promise_list(request, paging: Query[Paging], status: str = ""):
    _viewer(request)
    return page(selectors.promises(user=request.user, status=status), limit=paging.limit, offset=paging.offset,
                render=_promise)


@router.get("/calls", response={200: CallPage, **ERRORS}, summary="Dunning call tasks")
def call_list(request, paging: Query[Paging], status: str = "open"):
    _viewer(request)
    return page(selectors.call_queue(user=request.user, status=status), limit=paging.limit, offset=paging.offset,
                render=_call)


@router.post("/calls/{task_id}/complete", response={200: CallOut, **RESPONSES}, summary="Record a call's outcome")
def call_complete(request, task_id: int, body: CallDoneIn):
    task = services.call_task_complete(actor=request.user, task_id=task_id, reached=body.reached, note=body.note,
                                       promised_date=body.promised_date,
                                       promised_amount_fen=body.promised_amount_fen, as_of=timezone.now())
    return _call(task)


# -- suspension -----------------------------------------------------------------------------------
@router.get("/suspensions", response={200: CasePage, **ERRORS}, summary="Suspension-of-supply cases")
def case_list(request, paging: Query[Paging], status: str = "", active: bool = False):
    _viewer(request)
    qs = selectors.suspension_cases(user=request.user, status=status, active=active).select_related("approved_by")
    return page(qs, limit=paging.limit, offset=paging.offset, render=_case)


def _case_out(request, case_id: int) -> dict:
    case = selectors.suspension_case_get(user=request.user, case_id=case_id)
    if case is None:
        raise NotFound(f"suspension case {case_id} not found", field="case_id")
    return _case(case)


@router.get("/suspensions/{case_id}", response={200: CaseOut, **ERRORS}, summary="One case")
def case_detail(request, case_id: int):
    _viewer(request)
    return _case_out(request, case_id)


@router.post("/suspensions", response={201: CaseOut, **RESPONSES}, summary="Propose a suspension (someone else approves)")
def case_propose(request, body: ProposeIn):
    case = services.suspension_propose(actor=request.user, account_id=body.account_id, as_of=timezone.now())
    return Status(201, _case_out(request, case.pk))


@router.post("/suspensions/{case_id}/approve", response={200: CaseOut, **RESPONSES},
             summary="Approve and serve the notice (approver ≠ proposer)")
def case_approve(request, case_id: int, body: NoteIn):
    services.suspension_approve(actor=request.user, case_id=case_id, note=body.note, as_of=timezone.now())
    return _case_out(request, case_id)


@router.post("/suspensions/{case_id}/reject", response={200: CaseOut, **RESPONSES}, summary="Reject a proposal")
def case_reject(request, case_id: int, body: RejectIn):
    services.suspension_reject(actor=request.user, case_id=case_id, reason=body.reason, as_of=timezone.now())
    return _case_out(request, case_id)


@router.post("/suspensions/{case_id}/execute", response={200: CaseOut, **RESPONSES},
             summary="Record that supply was suspended")
def case_execute(request, case_id: int, body: NoteIn):
    services.suspension_execute(actor=request.user, case_id=case_id, note=body.note, as_of=timezone.now())
    return _case_out(request, case_id)


@router.post("/suspensions/{case_id}/restore", response={200: CaseOut, **RESPONSES},
             summary="Record that supply was restored")
def case_restore(request, case_id: int, body: NoteIn):
    services.suspension_restore(actor=request.user, case_id=case_id, note=body.note, as_of=timezone.now())
    return _case_out(request, case_id)


# -- KPI ------------------------------------------------------------------------------------------
@router.get("/kpi/collection-rate", response={200: RateOut, **ERRORS},
            summary="电费回收率: collected / receivable on bills due in [start, end)")
def collection_rate(request, start: date, end: date):
    if not (can(request.user.role, "kpi.view") or can(request.user.role, "payments.approve")):
        raise PermissionDenied("your role may not see KPIs")
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    r = selectors.collection_rate(start=start, end=end, as_of_date=timezone.localdate())
    return {"start": r.start, "end": r.end, "bills": r.bills, "receivable_fen": r.receivable_fen,
            "collected_fen": r.collected_fen, "outstanding_fen": r.outstanding_fen,
            "rate": r.rate.quantize(Decimal("0.0001")) if r.rate is not None else None}

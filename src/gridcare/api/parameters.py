"""Billing parameters: /api/v1/parameters/...

Versions of an account's billing parameters (定量定比, 扣减, 公用分摊, 免费电, 计费容量) with
effective dates and two-person approval, and back-billing (退补) cases. Thin handlers: parse, one
service or selector call, render. Objects outside the caller's org-unit scope are 404.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from gridcare.access.roles import can
from gridcare.api.billing import BillDetailOut
from gridcare.api.billing import _bill as bill_out
from gridcare.api.billing import _line as line_out
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.billing import services as billing_services
from gridcare.core.errors import NotFound, PermissionDenied
from gridcare.parameters import selectors, services
from gridcare.parameters.models import BackBillingCase, BillingParameter

router = Router()
RESPONSES = {**ERRORS, 409: ErrorOut}


def _viewer(request) -> None:
    if not can(request.user.role, "customers.view"):
        raise PermissionDenied("your role may not see billing parameters (customers.view)")


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class VersionOut(Schema):
    id: int
    account_id: int
    account_number: str
    kind: str
    version: int
    effective_from: date
    effective_to: date | None
    cleared: bool
    spec: dict[str, Any]
    reason: str
    status: str
    proposed_by: str | None
    proposed_at: str
    decided_by: str | None
    decided_at: str | None
    decision_note: str


class VersionPage(Schema):
    items: list[VersionOut]
    total: int
    limit: int
    offset: int


class ProposeIn(Schema):
    account_id: int
    kind: str = Field(..., max_length=16)
    spec: dict[str, Any] | None = None
    effective_from: date
    effective_to: date | None = None
    cleared: bool = False
    reason: str = Field(..., min_length=1, max_length=255)


class NoteIn(Schema):
    note: str = Field("", max_length=255)


class InForceOut(Schema):
    kind: str
    parameter_id: int
    version: int
    start: date
    end: date | None
    spec: dict[str, Any]


class AccountOut(Schema):
    account_id: int
    account_number: str
    in_force: list[InForceOut]
    upcoming: list[InForceOut]
    pending: list[VersionOut]
    cases: list[dict[str, Any]]


class CaseLineOut(Schema):
    line_no: int
    period_code: str
    original_bill_number: str
    line_code: str
    unit: str
    original_quantity: Decimal
    original_fen: int
    corrected_quantity: Decimal
    corrected_fen: int
    quantity: Decimal
    amount_fen: int
    explanation_zh: str
    explanation_en: str


class CaseOut(Schema):
    id: int
    number: str
    account_id: int
    account_number: str
    kind: str
    correction: dict[str, Any]
    period_codes: list[str]
    reason: str
    status: str
    total_fen: int
    energy_wh: int
    summary: list[dict[str, Any]]
    prepared_by: str | None
    decided_by: str | None
    bill_number: str
    lines: list[CaseLineOut] | None = None


class CasePage(Schema):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int


class CaseIn(Schema):
    account_id: int
    kind: str = Field(..., max_length=24)
    correction: dict[str, Any]
    period_codes: list[str] = Field(default_factory=list, max_length=120)
    reason: str = Field(..., min_length=1, max_length=255)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _version(p: BillingParameter) -> dict:
    return {"id": p.pk, "account_id": p.account_id, "account_number": p.account.number, "kind": p.kind,
            "version": p.version, "effective_from": p.effective_from, "effective_to": p.effective_to,
            "cleared": p.cleared, "spec": p.spec, "reason": p.reason, "status": p.status,
            "proposed_by": p.proposed_by.username if p.proposed_by_id else None,
            "proposed_at": p.proposed_at.isoformat(),
            "decided_by": p.decided_by.username if p.decided_by_id else None,
            "decided_at": _iso(p.decided_at), "decision_note": p.decision_note}


def _case(c: BackBillingCase, *, lines: bool = False) -> dict:
    out = {"id": c.pk, "number": c.number, "account_id": c.account_id, "account_number": c.account.number,
           "kind": c.kind, "correction": c.correction, "period_codes": c.period_codes, "reason": c.reason,
           "status": c.status, "total_fen": c.total_fen, "energy_wh": c.energy_wh, "summary": c.summary,
           "prepared_by": c.prepared_by.username if c.prepared_by_id else None,
           "decided_by": c.decided_by.username if c.decided_by_id else None, "bill_number": c.bill_number}
    if lines:
        out["lines"] = [{f: getattr(ln, f) for f in CaseLineOut.model_fields} for ln in c.lines.all()]
    return out


def _in_force(item) -> dict:
    return {"kind": item.kind, "parameter_id": item.parameter.pk, "version": item.parameter.version,
            "start": item.start, "end": item.end, "spec": item.parameter.spec}


@router.get("/accounts/{account_id}", response={200: AccountOut, **ERRORS},
            summary="An account's parameters: in force today, coming, waiting for approval, back-billing cases")
def account_parameters(request, account_id: int, on: date | None = None):
    _viewer(request)
    view = selectors.account_parameters(user=request.user, account_id=account_id, as_of=on or timezone.localdate())
    if view is None:
        raise NotFound(f"account {account_id} not found", field="account_id")
    return {"account_id": view.account.pk, "account_number": view.account.number,
            "in_force": [_in_force(i) for i in view.in_force], "upcoming": [_in_force(i) for i in view.upcoming],
            "pending": [_version(p) for p in view.pending],
            "cases": [{"id": c.pk, "number": c.number, "kind": c.kind, "status": c.status, "total_fen": c.total_fen}
                      for c in view.cases]}


@router.get("/versions", response={200: VersionPage, **ERRORS}, summary="Parameter versions (newest first)")
def version_list(request, paging: Query[Paging], account_id: int | None = None, kind: str = "", status: str = ""):
    _viewer(request)
    qs = selectors.parameter_list(user=request.user, account_id=account_id, kind=kind, status=status)
    return page(qs, limit=paging.limit, offset=paging.offset, render=_version)


@router.post("/versions", response={201: VersionOut, **RESPONSES},
             summary="Propose a parameter version (a second person approves it)")
def version_propose(request, body: ProposeIn):
    p = services.parameter_propose(account_id=body.account_id, kind=body.kind, spec=body.spec,
                                   effective_from=body.effective_from, effective_to=body.effective_to,
                                   cleared=body.cleared, reason=body.reason, actor=request.user, as_of=timezone.now())
    return Status(201, _version(p))


@router.get("/versions/{parameter_id}", response={200: VersionOut, **ERRORS}, summary="One parameter version")
def version_get(request, parameter_id: int):
    _viewer(request)
    p = selectors.parameter_get(user=request.user, parameter_id=parameter_id)
    if p is None:
        raise NotFound(f"parameter {parameter_id} not found", field="parameter_id")
    return _version(p)


@router.post("/versions/{parameter_id}/approve", response={200: VersionOut, **RESPONSES},
             summary="Approve a proposed version (not by its proposer)")
def version_approve(request, parameter_id: int, body: NoteIn):
    return _version(services.parameter_approve(parameter_id=parameter_id, actor=request.user, as_of=timezone.now(),
                                               note=body.note))


@router.post("/versions/{parameter_id}/reject", response={200: VersionOut, **RESPONSES},
             summary="Reject a proposed version (a note is required)")
def version_reject(request, parameter_id: int, body: NoteIn):
    return _version(services.parameter_reject(parameter_id=parameter_id, actor=request.user, as_of=timezone.now(),
                                              note=body.note))


@router.post("/versions/{parameter_id}/withdraw", response={200: VersionOut, **RESPONSES},
             summary="The proposer withdraws a version nobody decided on yet")
def version_withdraw(request, parameter_id: int):
    return _version(services.parameter_withdraw(parameter_id=parameter_id, actor=request.user, as_of=timezone.now()))


@router.get("/cases", response={200: CasePage, **ERRORS}, summary="Back-billing (退补) cases")
def case_list(request, paging: Query[Paging], account_id: int | None = None, status: str = ""):
    _viewer(request)
    qs = selectors.backbilling_case_list(user=request.user, account_id=account_id, status=status)
    return page(qs, limit=paging.limit, offset=paging.offset, render=_case)


@router.post("/cases", response={201: CaseOut, **RESPONSES},
             summary="Prepare a back-billing case: re-rate the periods' issued bills with the correction")
def case_prepare(request, body: CaseIn):
    case = services.backbilling_case_prepare(
        data=services.CaseInput(account_id=body.account_id, kind=body.kind, correction=body.correction,
                                period_codes=body.period_codes, reason=body.reason),
        actor=request.user, as_of=timezone.now())
    return Status(201, _case(case, lines=True))


@router.get("/cases/{case_id}", response={200: CaseOut, **ERRORS}, summary="A case with its explained lines")
def case_get(request, case_id: int):
    _viewer(request)
    case = selectors.backbilling_case_get(user=request.user, case_id=case_id)
    if case is None:
        raise NotFound(f"back-billing case {case_id} not found", field="case_id")
    return _case(case, lines=True)


@router.post("/cases/{case_id}/approve", response={200: CaseOut, **RESPONSES},
             summary="Approve a case (not by its preparer); billing then issues it as a separate bill")
def case_approve(request, case_id: int, body: NoteIn):
    return _case(services.backbilling_case_approve(case_id=case_id, actor=request.user, as_of=timezone.now(),
                                                   note=body.note), lines=True)


@router.post("/cases/{case_id}/bill", response={201: BillDetailOut, **RESPONSES},
             summary="Issue an approved case as its own adjustment bill (补收/退还), once; needs billing.issue")
def case_bill(request, case_id: int):
    now = timezone.now()
    bill = billing_services.bill_backbilling_issue(case_id=case_id, actor=request.user, as_of=now)
    billing_services.bills_deliver(bill_ids=[bill.pk], as_of=now)
    return Status(201, {**bill_out(bill), "lines": [line_out(ln) for ln in bill.lines.order_by("line_no")]})


@router.post("/cases/{case_id}/reject", response={200: CaseOut, **RESPONSES}, summary="Reject a case (note required)")
def case_reject(request, case_id: int, body: NoteIn):
    return _case(services.backbilling_case_reject(case_id=case_id, actor=request.user, as_of=timezone.now(),
                                                  note=body.note), lines=True)

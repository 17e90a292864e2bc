"""Payments: /api/v1/payments/...

Balances, open items and the account statement (对账单); payments recorded by integrators with an
Idempotency-Key; the gateway callback (signed, no token); portal checkouts; two-person approvals;
discounts; bank result and agency file uploads; KPI inputs. Thin handlers: parse, one service or
selector call, render. Accounts outside the caller's scope are 404.
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from gridcare.access.roles import can
from gridcare.api.schemas.common import ERRORS, ErrorOut, page
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.payments import selectors, services
from gridcare.payments.models import ApprovalRequest, Payment

router = Router()
RESPONSES = {**ERRORS, 409: ErrorOut}
MAX_UPLOAD = 20 * 1024 * 1024


def _need(request, capability: str) -> None:
    if not can(request.user.role, capability):
        raise PermissionDenied(f"your role may not do this ({capability})")


def _account(request, account_id: int):
    account = selectors.account_for(user=request.user, account_id=account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found", field="account_id")
    return account


# -- schemas ---------------------------------------------------------------------------------------
class BalanceOut(Schema):
    account_id: int
    account_number: str
    owed_fen: int
    credit_fen: int
    balance_fen: int
    prepaid: bool


class OpenItemOut(Schema):
    charge_id: int
    kind: str
    reference: str
    payment_reference: str
    period_code: str
    amount_fen: int
    outstanding_fen: int
    due_date: date
    overdue_days: int


class StatementLineOut(Schema):
    entry_id: int
    business_date: date
    kind: str
    description: str
    reference: str
    debit_fen: int
    credit_fen: int
    balance_fen: int
    reversed: bool


class StatementOut(Schema):
    account_number: str
    start: date
    end: date
    opening_fen: int
    debits_fen: int
    credits_fen: int
    closing_fen: int
    lines: list[StatementLineOut]


class PaymentOut(Schema):
    id: int
    account_number: str
    channel: str
    method: str
    source: str
    external_ref: str
    receipt_number: str | None
    amount_fen: int
    received_at: datetime
    business_date: date
    status: str


class PaymentPage(Schema):
    items: list[PaymentOut]
    total: int
    limit: int
    offset: int


class PaymentIn(Schema):
    account_id: int
    amount_fen: int = Field(gt=0, le=10**12)
    channel: str
    method: str
    source: str = Field(min_length=1, max_length=32)
    external_ref: str = Field("", max_length=64)
    received_at: datetime
    charge_id: int | None = None


class PostedOut(Schema):
    created: bool
    payment: PaymentOut


class CallbackOut(Schema):
    status: str
    txn_id: str
    payment_id: int | None


class CheckoutIn(Schema):
    account_id: int
    amount_fen: int = Field(gt=0, le=10**12)
    charge_id: int | None = None
    gateway: str = "testpay"


class CheckoutOut(Schema):
    number: str
    gateway: str
    amount_fen: int
    status: str
    expires_at: datetime | None


class ApprovalIn(Schema):
    kind: str
    account_id: int
    amount_fen: int = Field(gt=0)
    reason: str = Field(min_length=1, max_length=255)
    payment_id: int | None = None
    charge_id: int | None = None


class DecisionIn(Schema):
    approve: bool
    note: str = Field("", max_length=255)


class ApprovalOut(Schema):
    id: int
    kind: str
    account_id: int
    amount_fen: int
    reason: str
    status: str
    requested_by: str
    decided_by: str | None
    entry_id: int | None


class DiscountIn(Schema):
    account_id: int
    kind: str
    reference: str = Field(min_length=1, max_length=64)
    amount_fen: int = Field(gt=0)
    points: int | None = None
    campaign: str = Field("", max_length=64)


class DiscountOut(Schema):
    id: int
    kind: str
    reference: str
    amount_fen: int
    entry_id: int


class RowErrorOut(Schema):
    line: int
    field: str | None
    message: str


class ImportOut(Schema):
    file_id: int | None
    rows: int
    posted: int
    posted_fen: int
    failed: int
    duplicates: int
    rejected: int
    errors: list[RowErrorOut]


class DebitRatioOut(Schema):
    as_of_date: date
    mandated_accounts: int
    total_accounts: int
    percent: str | None


class CollectionOut(Schema):
    start: date
    end: date
    as_of_date: date
    billed_fen: int
    credited_fen: int
    receivable_fen: int
    collected_fen: int
    outstanding_fen: int
    percent: str | None


def _payment(p: Payment) -> dict:
    return {"id": p.pk, "account_number": p.account.number, "channel": p.channel, "method": p.method,
            "source": p.source, "external_ref": p.external_ref, "receipt_number": p.receipt_number,
            "amount_fen": p.amount_fen, "received_at": p.received_at, "business_date": p.business_date,
            "status": p.status}


def _approval(r: ApprovalRequest) -> dict:
    return {"id": r.pk, "kind": r.kind, "account_id": r.account_id, "amount_fen": r.amount_fen, "reason": r.reason,
            "status": r.status, "requested_by": r.requested_by.username,
            "decided_by": r.decided_by.username if r.decided_by else None, "entry_id": r.entry_id}


# -- reads -----------------------------------------------------------------------------------------
@router.get("/accounts/{account_id}/balance", response={200: BalanceOut, **RESPONSES})
def balance(request, account_id: int):
    account = _account(request, account_id)
    b = selectors.account_balance(account_id=account.pk)
    return {"account_id": account.pk, "account_number": account.number, "owed_fen": b.owed_fen,
            "credit_fen": b.credit_fen, "balance_fen": b.balance_fen, "prepaid": b.prepaid}


@router.get("/accounts/{account_id}/open-items", response={200: list[OpenItemOut], **RESPONSES})
def open_items(request, account_id: int):
    account = _account(request, account_id)
    return [{"charge_id": i.charge.pk, "kind": i.charge.kind, "reference": i.charge.reference,
             "payment_reference": i.charge.payment_reference, "period_code": i.charge.period_code,
             "amount_fen": i.charge.amount_fen, "outstanding_fen": i.outstanding_fen, "due_date": i.charge.due_date,
             "overdue_days": i.overdue_days}
            for i in selectors.open_items(account_id=account.pk, as_of_date=timezone.localdate())]


class StatementQuery(Schema):
    start: date
    end: date


@router.get("/accounts/{account_id}/statement", response={200: StatementOut, **RESPONSES})
def statement(request, account_id: int, q: Query[StatementQuery]):
    """对账单 for [start, end): opening balance, every entry with its effect and the running balance."""
    account = _account(request, account_id)
    if q.end <= q.start:
        raise ValidationFailed("end must be after start", field="end")
    if (q.end - q.start).days > 3660:
        raise ValidationFailed("at most ten years per statement", field="end")
    s = selectors.account_statement(account_id=account.pk, start=q.start, end=q.end)
    return {"account_number": account.number, "start": s.start, "end": s.end, "opening_fen": s.opening_fen,
            "debits_fen": s.debits_fen, "credits_fen": s.credits_fen, "closing_fen": s.closing_fen,
            "lines": [ln.__dict__ for ln in s.lines]}


class Paging(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


@router.get("/accounts/{account_id}/payments", response={200: PaymentPage, **RESPONSES})
def account_payments(request, account_id: int, paging: Query[Paging]):
    account = _account(request, account_id)
    return page(selectors.payment_list(user=request.user, account_id=account.pk), limit=paging.limit,
                offset=paging.offset, render=_payment)


# -- writes ----------------------------------------------------------------------------------------
@router.post("/payments", response={200: PostedOut, 201: PostedOut, **RESPONSES})
def record_payment(request, body: PaymentIn):
    """Record a payment taken elsewhere (a partner's system). The `Idempotency-Key` header is
    required: the same key again returns the first payment (200) instead of posting (201)."""
    _need(request, "payments.collect")
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 80:
        raise ValidationFailed("the Idempotency-Key header (1–80 characters) is required", field="Idempotency-Key")
    account = _account(request, body.account_id)
    posted = services.payment_post(account_id=account.pk, amount_fen=body.amount_fen, channel=body.channel,
                                   method=body.method, source=body.source, external_ref=body.external_ref,
                                   received_at=body.received_at, as_of=timezone.now(),
                                   idempotency_key=f"api:{request.user.pk}:{key}", first_charge_id=body.charge_id,
                                   actor=request.user)
    return Status(201 if posted.created else 200, {"created": posted.created, "payment": _payment(posted.payment)})


@router.post("/gateways/{gateway}/callback", auth=None, response={200: CallbackOut, 401: ErrorOut, 404: ErrorOut,
                                                                    409: ErrorOut, 422: ErrorOut})
def gateway_callback(request, gateway: str):
    """A payment gateway's signed notification (docs/payments.md "Online gateway callback")."""
    result = services.gateway_callback_handle(
        gateway=gateway, body=request.body, timestamp=request.headers.get("X-Gridcare-Timestamp", ""),
        signature_hex=request.headers.get("X-Gridcare-Signature", ""), as_of=timezone.now())
    return result.as_dict()


@router.post("/checkouts", response={201: CheckoutOut, **RESPONSES})
def checkout(request, body: CheckoutIn):
    intent = services.checkout_create(user=request.user, account_id=body.account_id, amount_fen=body.amount_fen,
                                      charge_id=body.charge_id, gateway=body.gateway, as_of=timezone.now())
    return Status(201, {"number": intent.number, "gateway": intent.gateway, "amount_fen": intent.amount_fen,
                        "status": intent.status, "expires_at": intent.expires_at})


@router.post("/approvals", response={201: ApprovalOut, **RESPONSES})
def approval_create(request, body: ApprovalIn):
    _account(request, body.account_id)
    req = services.approval_request(kind=body.kind, account_id=body.account_id, amount_fen=body.amount_fen,
                                    reason=body.reason, payment_id=body.payment_id, charge_id=body.charge_id,
                                    actor=request.user, as_of=timezone.now())
    return Status(201, _approval(req))


@router.post("/approvals/{request_id}/decision", response={200: ApprovalOut, **RESPONSES})
def approval_decision(request, request_id: int, body: DecisionIn):
    req = services.approval_decide(request_id=request_id, approve=body.approve, note=body.note, actor=request.user,
                                   as_of=timezone.now())
    return _approval(req)


@router.get("/approvals", response={200: list[ApprovalOut], **RESPONSES})
def approvals(request):
    _need(request, "payments.approve")
    return [_approval(r) for r in selectors.approvals_pending(user=request.user)[:500]]


@router.post("/discounts", response={201: DiscountOut, **RESPONSES})
def discount(request, body: DiscountIn):
    _need(request, "payments.collect")
    _account(request, body.account_id)
    d = services.discount_post(account_id=body.account_id, kind=body.kind, reference=body.reference,
                               amount_fen=body.amount_fen, points=body.points, campaign=body.campaign,
                               actor=request.user, as_of=timezone.now())
    return Status(201, {"id": d.pk, "kind": d.kind, "reference": d.reference, "amount_fen": d.amount_fen,
                        "entry_id": d.entry_id})


def _upload(file: UploadedFile) -> bytes:
    if file.size and file.size > MAX_UPLOAD:
        raise ValidationFailed(f"the file is larger than {MAX_UPLOAD // 1024 // 1024} MB", field="file")
    return file.read()


@router.post("/debit-results/{bank}", response={200: ImportOut, **RESPONSES})
def debit_results(request, bank: str, file: File[UploadedFile]):
    """A bank's auto-debit result file (multipart field `file`)."""
    _need(request, "payments.collect")
    report = services.debit_result_import(bank_code=bank, content=_upload(file), file_name=file.name or "",
                                          actor=request.user, as_of=timezone.now())
    return report.as_dict() | {"file_id": report.file_id}


@router.post("/agency-files/{agency}", response={200: ImportOut, **RESPONSES})
def agency_file(request, agency: str, file: File[UploadedFile]):
    """An agency's collection file (multipart field `file`)."""
    _need(request, "payments.collect")
    report = services.agency_file_import(agency_code=agency, content=_upload(file), file_name=file.name or "",
                                         actor=request.user, as_of=timezone.now())
    return report.as_dict() | {"file_id": report.file_id}


class DebitFileIn(Schema):
    bank: str


@router.post("/debit-files", response={200: dict, **RESPONSES})
def debit_file(request, body: DebitFileIn):
    _need(request, "payments.collect")
    batch = services.debit_batch_generate(bank_code=body.bank, actor=request.user, as_of=timezone.now())
    if batch is None:
        return {"batch": None, "items": 0}
    return {"batch": batch.number, "file_name": batch.file_name, "items": batch.items_count,
            "total_fen": batch.total_fen}


# -- KPI inputs ------------------------------------------------------------------------------------
def _kpi_viewer(request) -> None:
    if not (can(request.user.role, "kpi.view") or can(request.user.role, "payments.approve")):
        raise PermissionDenied("your role may not see KPIs (kpi.view)")


class AsOfQuery(Schema):
    as_of_date: date | None = None


@router.get("/kpi/debit-ratio", response={200: DebitRatioOut, **RESPONSES})
def kpi_debit_ratio(request, q: Query[AsOfQuery]):
    """批扣代扣比率 = accounts with an active debit agreement / all open accounts (T/CI 1281 table 1)."""
    _kpi_viewer(request)
    day = q.as_of_date or timezone.localdate()
    r = selectors.debit_ratio(as_of_date=day)
    return {"as_of_date": day, "mandated_accounts": r.mandated_accounts, "total_accounts": r.total_accounts,
            "percent": str(r.percent) if r.percent is not None else None}


class CollectionQuery(Schema):
    start: date
    end: date
    as_of_date: date | None = None


@router.get("/kpi/collection", response={200: CollectionOut, **RESPONSES})
def kpi_collection(request, q: Query[CollectionQuery]):
    """电费回收率 inputs for bills due in [start, end)."""
    _kpi_viewer(request)
    if q.end <= q.start:
        raise ValidationFailed("end must be after start", field="end")
    day = q.as_of_date or timezone.localdate()
    c = selectors.collection_inputs(start=q.start, end=q.end, as_of_date=day)
    return {"start": q.start, "end": q.end, "as_of_date": day, "billed_fen": c.billed_fen,
            "credited_fen": c.credited_fen, "receivable_fen": c.receivable_fen, "collected_fen": c.collected_fen,
            "outstanding_fen": c.outstanding_fen, "percent": str(c.percent) if c.percent is not None else None}

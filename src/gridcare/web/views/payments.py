"""Console: payments — the cashier's counter (till, payments, receipts, till close with the daily
report), the account statement (对账单), two-person approvals, bank debit and agency files.

Thin views: parse, one service or selector call, render. Rules live in gridcare.payments.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.access.roles import can
from gridcare.core.errors import GridcareError
from gridcare.core.money import yuan_to_fen
from gridcare.customers.selectors import shown
from gridcare.notifications.policy import outbox_policy
from gridcare.payments import receipts, selectors, services
from gridcare.payments.models import ApprovalRequest, DebitBatch, Payment, TillSession
from gridcare.payments.policy import payments_policy
from gridcare.web.access import staff_required

COLLECT = "payments.collect"
APPROVE = "payments.approve"
VIEW = "customers.view"


def _bootstrap(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
        field.widget.attrs.setdefault("class", css)
    return form


def _fail(form: forms.Form, exc: GridcareError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _company() -> str:
    return outbox_policy().defaults.get("company", "")


class PaymentForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("Amount (yuan)"), min_value=Decimal("0.01"), max_digits=12,
                                decimal_places=2)
    method = forms.ChoiceField(label=gettext_lazy("Method"))
    tendered = forms.DecimalField(label=gettext_lazy("Cash tendered (yuan)"), required=False, min_value=Decimal("0"),
                                  max_digits=12, decimal_places=2)
    external_ref = forms.CharField(label=gettext_lazy("Transfer reference"), required=False, max_length=64)
    # A plain integer with a select widget: a re-submitted form whose bill is paid meanwhile must
    # still reach the service, which answers it from the idempotency key.
    charge_id = forms.IntegerField(label=gettext_lazy("Pay this bill first"), required=False, widget=forms.Select)
    payer_name = forms.CharField(label=gettext_lazy("Payer"), required=False, max_length=64)
    form_token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Payment.Method.choices)
        self.fields["method"].choices = [(m, labels.get(m, m)) for m in payments_policy().counter_methods]
        self.fields["charge_id"].widget.choices = [("", _("Oldest first"))] + [
            (i.charge.pk, f"{i.charge.reference} · {i.outstanding_fen / 100:.2f}") for i in items]
        _bootstrap(self)


class RequestForm(forms.Form):
    kind = forms.ChoiceField(choices=[("refund", "refund"), ("payment_reversal", "payment_reversal")])
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    payment_id = forms.IntegerField(required=False)
    reason = forms.CharField(max_length=255)


class StatementForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To (exclusive)"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("The end must be after the start."))
        return data


class CloseForm(forms.Form):
    counted = forms.DecimalField(label=gettext_lazy("Cash counted (yuan)"), min_value=Decimal("0"), max_digits=12,
                                 decimal_places=2)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class UploadForm(forms.Form):
    kind = forms.ChoiceField(choices=[("debit_result", "debit_result"), ("agency", "agency")])
    code = forms.CharField(max_length=32)
    file = forms.FileField()


# -- counter ---------------------------------------------------------------------------------------
@staff_required(COLLECT)
def payments_home(request):
    number = request.GET.get("account", "").strip()
    if number:
        account = selectors.account_for(user=request.user, number=number)
        if account is not None:
            return redirect("web:payments_account", account_id=account.pk)
        messages.warning(request, _("No account %(number)s in your area.") % {"number": number})
    till = selectors.open_till(cashier=request.user)
    ctx = {
        "number": number, "till": till,
        "till_payments": selectors.payment_list(till_id=till.pk)[:200] if till else [],
        "tills": TillSession.objects.filter(cashier=request.user).select_related("org_unit")[:10],
        "can_approve": can(request.user.role, APPROVE),
        "pending": selectors.approvals_pending(user=request.user).count() if can(request.user.role, APPROVE) else 0,
    }
    if till:
        ctx["report"] = services.till_report(till=till)
    return render(request, "web/payments/home.html", ctx)


@require_POST
@staff_required(COLLECT)
def payments_till_open(request):
    try:
        services.till_open(actor=request.user, as_of=timezone.now())
        messages.success(request, _("Till opened."))
    except GridcareError as exc:
        messages.error(request, exc.message)
    return redirect("web:payments_home")


def _account_or_404(request, account_id: int):
    account = selectors.account_for(user=request.user, account_id=account_id)
    if account is None:
        raise Http404
    return account


@staff_required(COLLECT)
def payments_account(request, account_id: int):
    account = _account_or_404(request, account_id)
    # Bills issued a moment ago reach the ledger before the cashier takes money for them (idempotent).
    services.receivables_post_issued_bills(as_of=timezone.now(), account_ids=[account.pk])
    today = timezone.localdate()
    items = selectors.open_items(account_id=account.pk, as_of_date=today)
    form = PaymentForm(request.POST or None, items=items, initial={"form_token": secrets.token_urlsafe(16)})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            taken = services.counter_payment_take(
                actor=request.user, account_id=account.pk, amount_fen=yuan_to_fen(d["amount"]), method=d["method"],
                tendered_fen=yuan_to_fen(d["tendered"]) if d.get("tendered") is not None else None,
                external_ref=d.get("external_ref") or "", first_charge_id=d.get("charge_id"),
                payer_name=d.get("payer_name") or "", form_token=d["form_token"], as_of=timezone.now())
        except GridcareError as exc:
            _fail(form, exc)
        else:
            p = taken.posted.payment
            if not taken.posted.created:
                messages.info(request, _("This payment was already recorded as %(receipt)s.") % {
                    "receipt": p.receipt_number})
                return redirect("web:payments_account", account_id=account.pk)
            messages.success(request, _("Payment %(receipt)s recorded; change %(change)s yuan.") % {
                "receipt": p.receipt_number, "change": f"{taken.change_fen / 100:.2f}"})
            return redirect("web:payments_account", account_id=account.pk)
    ctx = {
        "account": account, "items": items, "form": form, "balance": selectors.account_balance(account_id=account.pk),
        "payments": selectors.payment_list(account_id=account.pk)[:20],
        "till": selectors.open_till(cashier=request.user), "request_form": RequestForm(),
    }
    return render(request, "web/payments/account.html", ctx)


@staff_required(VIEW)
def payments_receipt(request, payment_id: int):
    p = selectors.payment_get(user=request.user, payment_id=payment_id)
    if p is None:
        raise Http404
    holder = shown(user=request.user, record=p.account.customer, field="name").text
    data = selectors.receipt_data(payment=p, customer_name=holder)
    pdf = receipts.receipt_pdf(company=_company(), **data)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{p.receipt_number}.pdf"'
    return response


@staff_required(COLLECT)
def payments_till_close(request):
    till = selectors.open_till(cashier=request.user)
    form = CloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            closed = services.till_close(actor=request.user, counted_cash_fen=yuan_to_fen(form.cleaned_data["counted"]),
                                         as_of=timezone.now())
        except GridcareError as exc:
            _fail(form, exc)
        else:
            messages.success(request, _("Till closed."))
            return redirect("web:payments_till", till_id=closed.pk)
    report = services.till_report(till=till) if till else None
    return render(request, "web/payments/till_close.html", {"till": till, "form": form, "report": report})


@staff_required(COLLECT)
def payments_till(request, till_id: int):
    try:
        till = services.till_get(actor=request.user, till_id=till_id)
    except GridcareError:
        raise Http404 from None
    report = till.report if till.closed_at else services.till_report(till=till)
    if request.GET.get("format") == "pdf":
        pdf = receipts.till_report_pdf(company=_company(), report=report, method_labels=dict(Payment.Method.choices))
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="till-{till.business_date}-{till.seq}.pdf"'
        return response
    labels = dict(Payment.Method.choices)
    by_method = [(labels.get(m, m), v) for m, v in sorted(report.get("by_method", {}).items())]
    return render(request, "web/payments/till.html", {"till": till, "report": report, "by_method": by_method,
                                                      "payments": selectors.payment_list(till_id=till.pk)})


# -- statement -------------------------------------------------------------------------------------
@staff_required(VIEW)
def payments_statement(request, account_id: int):
    account = _account_or_404(request, account_id)
    today = timezone.localdate()
    default_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=92)
    form = StatementForm(request.GET or None, initial={"start": default_start, "end": today + timedelta(days=1)})
    start, end = default_start.replace(day=1), today + timedelta(days=1)
    if request.GET and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    statement = selectors.account_statement(account_id=account.pk, start=start, end=end)
    return render(request, "web/payments/statement.html", {"account": account, "form": form, "s": statement})


# -- approvals -------------------------------------------------------------------------------------
@require_POST
@staff_required(COLLECT)
def payments_request(request, account_id: int):
    account = _account_or_404(request, account_id)
    form = RequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please give an amount and a reason."))
        return redirect("web:payments_account", account_id=account.pk)
    d = form.cleaned_data
    try:
        services.approval_request(kind=d["kind"], account_id=account.pk, amount_fen=yuan_to_fen(d["amount"]),
                                  payment_id=d.get("payment_id"), reason=d["reason"], actor=request.user,
                                  as_of=timezone.now())
        messages.success(request, _("Request sent for approval by a second person."))
    except GridcareError as exc:
        messages.error(request, exc.message)
    return redirect("web:payments_account", account_id=account.pk)


@staff_required(APPROVE)
def payments_approvals(request):
    if request.method == "POST":
        try:
            services.approval_decide(request_id=int(request.POST.get("request_id", 0)),
                                     approve=request.POST.get("decision") == "approve",
                                     note=request.POST.get("note", ""), actor=request.user, as_of=timezone.now())
            messages.success(request, _("Decision recorded."))
        except (GridcareError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
        return redirect("web:payments_approvals")
    recent = (ApprovalRequest.objects.exclude(status=ApprovalRequest.Status.PENDING)
              .select_related("account", "requested_by", "decided_by")[:20])
    return render(request, "web/payments/approvals.html",
                  {"pending": selectors.approvals_pending(user=request.user), "recent": recent})


# -- files -----------------------------------------------------------------------------------------
@staff_required(COLLECT)
def payments_files(request):
    policy = payments_policy()
    report = None
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and request.POST.get("action") == "generate":
        try:
            batch = services.debit_batch_generate(bank_code=request.POST.get("bank", ""), actor=request.user,
                                                  as_of=timezone.now())
            if batch is None:
                messages.info(request, _("Nothing to debit at this bank."))
            else:
                messages.success(request, _("Debit file %(name)s: %(count)s items.") % {
                    "name": batch.file_name, "count": batch.items_count})
        except GridcareError as exc:
            messages.error(request, exc.message)
        return redirect("web:payments_files")
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        upload = d["file"]
        try:
            content = upload.read()
            if d["kind"] == "debit_result":
                report = services.debit_result_import(bank_code=d["code"], content=content, file_name=upload.name,
                                                      actor=request.user, as_of=timezone.now())
            else:
                report = services.agency_file_import(agency_code=d["code"], content=content, file_name=upload.name,
                                                     actor=request.user, as_of=timezone.now())
        except GridcareError as exc:
            messages.error(request, exc.message)
    ctx = {"banks": policy.banks.values(), "agencies": policy.agencies.values(), "report": report,
           "batches": selectors.debit_batches()[:20]}
    return render(request, "web/payments/files.html", ctx)


@staff_required(COLLECT)
def payments_debit_file(request, batch_id: int):
    batch = DebitBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise Http404
    response = HttpResponse(bytes(batch.content), content_type="text/plain")
    response["Content-Disposition"] = f'attachment; filename="{batch.file_name}"'
    return response


urlpatterns = [
    path("console/payments/", payments_home, name="payments_home"),
    path("console/payments/till/open/", payments_till_open, name="payments_till_open"),
    path("console/payments/till/close/", payments_till_close, name="payments_till_close"),
    path("console/payments/tills/<int:till_id>/", payments_till, name="payments_till"),
    path("console/payments/accounts/<int:account_id>/", payments_account, name="payments_account"),
    path("console/payments/accounts/<int:account_id>/statement/", payments_statement, name="payments_statement"),
    path("console/payments/accounts/<int:account_id>/request/", payments_request, name="payments_request"),
    path("console/payments/receipts/<int:payment_id>.pdf", payments_receipt, name="payments_receipt"),
    path("console/payments/approvals/", payments_approvals, name="payments_approvals"),
    path("console/payments/files/", payments_files, name="payments_files"),
    path("console/payments/debit-files/<int:batch_id>/", payments_debit_file, name="payments_debit_file"),
]

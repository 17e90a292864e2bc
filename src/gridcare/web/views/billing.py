"""Console: billing (T/CI 1281 §7.2–7.5) — period progress and month close, billing runs with an
HTMX-polled progress bar, the auditors' exception queue, bills with their document, PDF and
correction trail, and the audit-rule settings.

Thin views: parse, one service or selector call, render. Rules live in gridcare.billing.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.access.roles import can
from gridcare.billing import selectors, services
from gridcare.billing.config import RULE_CODES, default_rules
from gridcare.billing.document import bill_pdf
from gridcare.billing.labels import STAGE_LABELS, exception_text, register_label, rule_label
from gridcare.billing.models import Bill, BillException, BillingRun
from gridcare.billing.tasks import billing_run_launch, run_is_stale
from gridcare.core.errors import GridcareError
from gridcare.customers.models import OrgUnit
from gridcare.web.access import staff_required

PAGE_SIZE = 50


def _bootstrap(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else (
            "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control")
        field.widget.attrs.setdefault("class", css)
    return form


def _default_period() -> str:
    today = timezone.localdate()
    return f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"


class RunForm(forms.Form):
    period = forms.RegexField(label=gettext_lazy("Period"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", max_length=7,
                              error_messages={"invalid": gettext_lazy("Enter the period as YYYY-MM.")})
    org_unit = forms.ModelChoiceField(label=gettext_lazy("Org unit"), queryset=OrgUnit.objects.none(),
                                      required=False, empty_label=gettext_lazy("All my org units"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = selectors.org_units_for(user=user).order_by("path")
        _bootstrap(self)


class NoteForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note"), max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class CorrectionForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason for the correction"), max_length=255)

    def __init__(self, *args, bill: Bill, **kwargs):
        super().__init__(*args, **kwargs)
        for r in bill.reads.order_by("segment", "register"):
            self.fields[f"read_{r.meter_id}_{r.register}"] = forms.DecimalField(
                label=_("Corrected closing read %(meter)s %(register)s") % {"meter": r.asset_number,
                                                                          "register": register_label(r.register)},
                required=False, min_value=0, decimal_places=3, max_digits=18)
        _bootstrap(self)

    def corrected_reads(self) -> dict[tuple[int, str], object]:
        out = {}
        for name, value in self.cleaned_data.items():
            if name.startswith("read_") and value is not None:
                _, meter_id, register = name.split("_", 2)
                out[(int(meter_id), register)] = value
        return out


def _error(request, exc: GridcareError) -> None:
    messages.error(request, exc.message)


# --------------------------------------------------------------------------------------------------
# Home: period progress, runs, start a run
# --------------------------------------------------------------------------------------------------


@staff_required("customers.view")
def billing_home(request):
    period = request.GET.get("period", "")
    ctx = {
        "progress": selectors.period_progress(user=request.user, period_code=period or None),
        "runs": selectors.run_list(user=request.user, period_code=period)[:20],
        "form": RunForm(initial={"period": period or _default_period()}, user=request.user),
        "period": period, "can_run": can(request.user.role, "billing.run"),
        "can_close": can(request.user.role, "billing.issue"),
    }
    return render(request, "web/billing/home.html", ctx)


@staff_required("billing.run")
@require_POST
def billing_run_start(request):
    form = RunForm(request.POST, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("web:billing_home")
    now = timezone.now()
    try:
        run = services.billing_run_start(period_code=form.cleaned_data["period"],
                                         org_unit=form.cleaned_data["org_unit"], actor=request.user, as_of=now)
    except GridcareError as exc:
        _error(request, exc)
        return redirect("web:billing_home")
    if run.status == BillingRun.Status.PENDING or run_is_stale(run, as_of=now):
        billing_run_launch(run=run, as_of=now)
    return redirect("web:billing_run", run_id=run.pk)


def _run_or_404(request, run_id: int) -> BillingRun:
    run = selectors.run_get(user=request.user, run_id=run_id)
    if run is None:
        raise Http404
    return run


def _run_context(request, run: BillingRun) -> dict:
    now = timezone.now()
    return {"run": run, "counts": selectors.run_bill_counts(run=run), "stale": run_is_stale(run, as_of=now),
            "active": run.status in BillingRun.ACTIVE}


@staff_required("customers.view")
def billing_run(request, run_id: int):
    run = _run_or_404(request, run_id)
    status = request.GET.get("status", "")
    bills = Bill.objects.filter(run=run).select_related("account").order_by("account__number")
    if status:
        bills = bills.filter(status=status)
    ctx = {
        **_run_context(request, run), "page": Paginator(bills, PAGE_SIZE).get_page(request.GET.get("page")),
        "skips": selectors.run_skips(run=run)[:200], "status": status, "statuses": Bill.Status.choices,
        "exception_counts": selectors.exception_counts(user=request.user, run_id=run.pk),
        "can_approve": can(request.user.role, "billing.approve"),
        "can_issue": can(request.user.role, "billing.issue"), "can_run": can(request.user.role, "billing.run"),
        "stage_labels": STAGE_LABELS,
    }
    return render(request, "web/billing/run.html", ctx)


@staff_required("customers.view")
def billing_run_progress(request, run_id: int):
    """The progress partial the run page polls every second while the run is active."""
    run = _run_or_404(request, run_id)
    response = render(request, "web/billing/_progress.html", _run_context(request, run))
    if run.status not in BillingRun.ACTIVE and request.htmx:
        response["HX-Refresh"] = "true"  # reload the page once, with the final counts and bills
    return response


@staff_required("billing.run")
@require_POST
def billing_run_resume(request, run_id: int):
    run = _run_or_404(request, run_id)
    now = timezone.now()
    if run.status == BillingRun.Status.FAILED:
        run = services.billing_run_start(period_code=run.period_code, org_unit=run.org_unit, actor=request.user,
                                         as_of=now, chunk_size=run.chunk_size)
    if run.status in BillingRun.ACTIVE and (run.status == BillingRun.Status.PENDING or run_is_stale(run, as_of=now)):
        billing_run_launch(run=run, as_of=now)
        messages.info(request, _("The run was started again; it continues where it stopped."))
    return redirect("web:billing_run", run_id=run.pk)


@staff_required("billing.approve")
@require_POST
def billing_run_approve(request, run_id: int):
    run = _run_or_404(request, run_id)
    try:
        n = services.billing_run_approve(run_id=run.pk, actor=request.user, as_of=timezone.now())
    except GridcareError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("%(n)s bills approved.") % {"n": n})
    return redirect("web:billing_run", run_id=run.pk)


@staff_required("billing.issue")
@require_POST
def billing_run_issue(request, run_id: int):
    run = _run_or_404(request, run_id)
    now = timezone.now()
    try:
        ids = services.billing_run_issue(run_id=run.pk, actor=request.user, as_of=now)
    except GridcareError as exc:
        _error(request, exc)
        return redirect("web:billing_run", run_id=run.pk)
    report = services.bills_deliver(bill_ids=ids, as_of=now, pdf_url=lambda b: request.build_absolute_uri(
        reverse("web:portal_bill_pdf", args=[b.pk])))
    messages.success(request, _("%(n)s bills issued; %(queued)s notices queued.") % {"n": len(ids),
                                                                                    "queued": report.queued})
    return redirect("web:billing_run", run_id=run.pk)


@staff_required("billing.issue")
@require_POST
def billing_period_close(request, period_id: int):
    try:
        period = services.billing_period_close(period_id=period_id, actor=request.user, as_of=timezone.now())
    except GridcareError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Period %(code)s closed.") % {"code": period.code})
    return redirect("web:billing_home")


# --------------------------------------------------------------------------------------------------
# Exception queue
# --------------------------------------------------------------------------------------------------


@staff_required("billing.audit")
def billing_exceptions(request):
    status = request.GET.get("status", BillException.Status.OPEN)
    rule = request.GET.get("rule", "")
    run_id = request.GET.get("run") or None
    qs = selectors.exception_queue(user=request.user, status=status, rule=rule,
                                   run_id=int(run_id) if run_id and run_id.isdigit() else None)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"exc": e, "text": exception_text(e.rule, e.data), "label": rule_label(e.rule)} for e in page]
    ctx = {"page": page, "rows": rows, "status": status, "rule": rule, "run_id": run_id or "",
           "statuses": BillException.Status.choices, "rules": [(c, rule_label(c)) for c in (*RULE_CODES, "sample")],
           "counts": selectors.exception_counts(user=request.user)}
    template = "web/billing/_exceptions.html" if request.htmx and not request.htmx.boosted else \
        "web/billing/exceptions.html"
    return render(request, template, ctx)


@staff_required("billing.audit")
def billing_exception(request, exception_id: int):
    exc = selectors.exception_get(user=request.user, exception_id=exception_id)
    if exc is None:
        raise Http404
    bill = exc.bill
    correct_form = CorrectionForm(bill=bill)
    note_form = NoteForm()
    if request.method == "POST":
        action = request.POST.get("action", "")
        note_form = NoteForm(request.POST)
        now = timezone.now()
        try:
            if action == "confirm" and note_form.is_valid():
                services.bill_exception_confirm(exception_id=exc.pk, actor=request.user, as_of=now,
                                                note=note_form.cleaned_data["note"])
                messages.success(request, _("Exception confirmed."))
            elif action == "hold" and note_form.is_valid():
                services.bill_exception_hold(exception_id=exc.pk, actor=request.user, as_of=now,
                                             note=note_form.cleaned_data["note"])
                messages.success(request, _("The bill is held."))
            elif action == "correct":
                correct_form = CorrectionForm(request.POST, bill=bill)
                if correct_form.is_valid():
                    new = services.bill_exception_correct_read(
                        exception_id=exc.pk, reads=correct_form.corrected_reads(), actor=request.user, as_of=now,
                        note=correct_form.cleaned_data["reason"])
                    messages.success(request, _("Read corrected; the bill was re-rated: %(amount)s yuan.")
                                     % {"amount": f"{new.total_fen / 100:,.2f}"})
                    return redirect("web:billing_bill", bill_id=new.pk)
                raise _FormInvalid
            else:
                raise _FormInvalid
        except _FormInvalid:
            pass
        except GridcareError as exc_:
            _error(request, exc_)
        else:
            return redirect(_next_exception(request, exc))
    ctx = {"exc": exc, "text": exception_text(exc.rule, exc.data), "label": rule_label(exc.rule),
           "document": selectors.bill_document(user=request.user, bill_id=bill.pk),
           "others": bill.exceptions.exclude(pk=exc.pk).order_by("id"),
           "note_form": note_form, "correct_form": correct_form}
    status = 422 if request.method == "POST" else 200
    return render(request, "web/billing/exception.html", ctx, status=status)


class _FormInvalid(Exception):
    pass


def _next_exception(request, done: BillException) -> str:
    nxt = selectors.exception_queue(user=request.user).exclude(pk=done.pk).first()
    return reverse("web:billing_exception", args=[nxt.pk]) if nxt else reverse("web:billing_exceptions")


# --------------------------------------------------------------------------------------------------
# Bills
# --------------------------------------------------------------------------------------------------


@staff_required("customers.view")
def billing_bills(request):
    q = request.GET.get("q", "").strip()
    period = request.GET.get("period", "").strip()
    status = request.GET.get("status", "")
    qs = selectors.bill_list_for_user(user=request.user)
    if q:
        qs = qs.filter(account__number=q) | qs.filter(number=q)
    if period:
        qs = qs.filter(period_code=period)
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/billing/bills.html", {"page": page, "q": q, "period": period, "status": status,
                                                      "statuses": Bill.Status.choices})


def _document_or_404(request, bill_id: int):
    document = selectors.bill_document(user=request.user, bill_id=bill_id)
    if document is None:
        raise Http404
    return document


@staff_required("customers.view")
def billing_bill(request, bill_id: int):
    document = _document_or_404(request, bill_id)
    bill = document.bill
    form = CorrectionForm(bill=bill)
    if request.method == "POST":
        action = request.POST.get("action", "")
        now = timezone.now()
        try:
            if action == "correct":
                if not can(request.user.role, "billing.run"):
                    raise PermissionDenied
                form = CorrectionForm(request.POST, bill=bill)
                if form.is_valid():
                    corr = services.bill_correct(bill_id=bill.pk, reason=form.cleaned_data["reason"],
                                                 reads=form.corrected_reads() or None, actor=request.user, as_of=now)
                    messages.success(request, _("Correction prepared: credit note %(credit)s and bill %(rebill)s; "
                                                "a second person approves it.")
                                     % {"credit": corr.credit.number, "rebill": corr.rebill.number})
                    return redirect("web:billing_bill", bill_id=corr.rebill.pk)
            elif action == "approve_correction":
                if not can(request.user.role, "billing.approve"):
                    raise PermissionDenied
                corr = services.bill_correction_approve(rebill_id=bill.pk, actor=request.user, as_of=now)
                services.bills_deliver(bill_ids=[corr.credit.pk, corr.rebill.pk], as_of=now,
                                       pdf_url=lambda b: request.build_absolute_uri(
                                           reverse("web:portal_bill_pdf", args=[b.pk])))
                messages.success(request, _("Correction approved and issued."))
                return redirect("web:billing_bill", bill_id=bill.pk)
            elif action == "release":
                if not can(request.user.role, "billing.audit"):
                    raise PermissionDenied
                services.bill_release(bill_id=bill.pk, actor=request.user, as_of=now,
                                      note=request.POST.get("note", ""))
                messages.success(request, _("The bill is back in its batch."))
                return redirect("web:billing_bill", bill_id=bill.pk)
        except GridcareError as exc:
            _error(request, exc)
    exceptions = [{"exc": e, "text": exception_text(e.rule, e.data), "label": rule_label(e.rule)}
                  for e in bill.exceptions.order_by("id")]
    case = None
    if bill.kind == Bill.Kind.ADJUSTMENT:
        from gridcare.parameters.selectors import backbilling_case_list

        case = backbilling_case_list(user=request.user).filter(bill_number=bill.number).first()
    ctx = {"document": document, "bill": bill, "form": form, "exceptions": exceptions, "backbilling_case": case,
           "issued_by": selectors.bill_issued_by(bill=bill), "deliveries": bill.deliveries.order_by("channel"),
           "can_correct": can(request.user.role, "billing.run") and bill.status == Bill.Status.ISSUED
           and bill.kind == Bill.Kind.INVOICE and document.replaced_by is None,
           "can_approve_correction": can(request.user.role, "billing.approve") and bill.corrects_id
           and bill.kind == Bill.Kind.INVOICE and bill.status in (Bill.Status.DRAFT, Bill.Status.APPROVED)
           and bill.run_id is None,
           "can_release": can(request.user.role, "billing.audit") and bill.status == Bill.Status.HELD}
    return render(request, "web/billing/bill.html", ctx, status=422 if request.method == "POST" else 200)


@staff_required("customers.view")
def billing_bill_pdf(request, bill_id: int):
    document = _document_or_404(request, bill_id)
    response = HttpResponse(bill_pdf(document=document), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.bill.number}.pdf"'
    return response


# --------------------------------------------------------------------------------------------------
# Audit rules
# --------------------------------------------------------------------------------------------------


@staff_required("customers.view")
def billing_rules(request):
    config = services.audit_config()
    editable = can(request.user.role, "billing.audit")
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        code = request.POST.get("code", "")
        defaults = default_rules().get(code, {})
        params = {name: request.POST.get(f"param_{name}", "").strip() for name, value in defaults.items()
                  if name != "enabled" and not isinstance(value, dict)}
        if code == "sampling":
            params = {"rate": request.POST.get("param_rate", "").strip()}
        try:
            services.audit_rule_set(code=code, enabled=request.POST.get("enabled") == "on", params=params,
                                    actor=request.user, as_of=timezone.now())
        except GridcareError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("Audit rule %(rule)s saved.") % {"rule": rule_label(code)})
        return redirect("web:billing_rules")
    rules = []
    for code, spec in default_rules().items():
        current = config.rules.get(code)
        params = {k: v for k, v in (current or spec).items() if k != "enabled" and not isinstance(v, dict)}
        rules.append({"code": code, "label": rule_label(code), "enabled": current is not None, "params": params})
    return render(request, "web/billing/rules.html", {"rules": rules, "sample_rate": config.sample_rate,
                                                      "editable": editable})


urlpatterns = [
    path("console/billing/", billing_home, name="billing_home"),
    path("console/billing/runs/start/", billing_run_start, name="billing_run_start"),
    path("console/billing/runs/<int:run_id>/", billing_run, name="billing_run"),
    path("console/billing/runs/<int:run_id>/progress/", billing_run_progress, name="billing_run_progress"),
    path("console/billing/runs/<int:run_id>/resume/", billing_run_resume, name="billing_run_resume"),
    path("console/billing/runs/<int:run_id>/approve/", billing_run_approve, name="billing_run_approve"),
    path("console/billing/runs/<int:run_id>/issue/", billing_run_issue, name="billing_run_issue"),
    path("console/billing/periods/<int:period_id>/close/", billing_period_close, name="billing_period_close"),
    path("console/billing/exceptions/", billing_exceptions, name="billing_exceptions"),
    path("console/billing/exceptions/<int:exception_id>/", billing_exception, name="billing_exception"),
    path("console/billing/bills/", billing_bills, name="billing_bills"),
    path("console/billing/bills/<int:bill_id>/", billing_bill, name="billing_bill"),
    path("console/billing/bills/<int:bill_id>/pdf/", billing_bill_pdf, name="billing_bill_pdf"),
    path("console/billing/rules/", billing_rules, name="billing_rules"),
]

"""Console: statement reconciliation (电费对账) — upload, statements and their lines, discrepancies
with their supervision work orders, resolving them, closing a day and its report, 自动对账率.

Thin views: parse, one service or selector call, render. Rules live in gridcare.reconciliation.
"""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.core.errors import GridcareError
from gridcare.reconciliation import selectors, services
from gridcare.reconciliation.models import Discrepancy, LineStatus
from gridcare.reconciliation.policy import reconciliation_policy
from gridcare.web.access import staff_required

CAPABILITY = "payments.approve"
PAGE_SIZE = 50


def _bootstrap(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else (
            "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control")
        field.widget.attrs.setdefault("class", css)
    return form


class UploadForm(forms.Form):
    source = forms.ChoiceField(label=gettext_lazy("Statement source"))
    file = forms.FileField(label=gettext_lazy("Statement file"))
    dry_run = forms.BooleanField(label=gettext_lazy("Dry run (match and report, write nothing)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [
            (code, f"{code} · {s.name} ({_('bank') if s.kind == 'bank' else _('agency')})")
            for code, s in sorted(reconciliation_policy().sources.items())]
        _bootstrap(self)


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(label=gettext_lazy("Resolution"), choices=[
        c for c in Discrepancy.Resolution.choices if c[0] != Discrepancy.Resolution.AUTO_MATCHED])
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=255)
    payment_id = forms.IntegerField(label=gettext_lazy("Payment id (manual match of a statement line)"),
                                    required=False, min_value=1)
    line_id = forms.IntegerField(label=gettext_lazy("Statement line id (manual match of a missing payment)"),
                                 required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


def _month(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


@staff_required(CAPABILITY)
def reconciliation_home(request):
    today = timezone.localdate()
    this_start, this_end = _month(today)
    last_start, _last_end = _month(this_start - timedelta(days=1))
    kind = request.GET.get("kind", "")
    source = request.GET.get("source", "")
    status = request.GET.get("status", Discrepancy.Status.OPEN)
    discrepancies = Paginator(selectors.discrepancy_list(status=status, kind=kind, source=source), PAGE_SIZE)
    ctx = {
        "form": UploadForm(), "rate_this": selectors.auto_reconciliation_rate(start=this_start, end=this_end),
        "rate_last": selectors.auto_reconciliation_rate(start=last_start, end=this_start),
        "statements": selectors.statement_list()[:20], "page": discrepancies.get_page(request.GET.get("page")),
        "reports": selectors.daily_reports(limit=10), "kinds": Discrepancy.Kind.choices,
        "sources": sorted(reconciliation_policy().sources), "filters": {"kind": kind, "source": source,
                                                                        "status": status},
        "yesterday": today - timedelta(days=1),
    }
    template = ("web/reconciliation/_discrepancies.html" if request.htmx and not request.htmx.boosted
                else "web/reconciliation/home.html")
    return render(request, template, ctx)


@staff_required(CAPABILITY)
@require_POST
def reconciliation_upload(request):
    form = UploadForm(request.POST, request.FILES)
    row_errors = ()
    result = None
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = services.statement_import(
                source=form.cleaned_data["source"], content=upload.read(), file_name=upload.name,
                actor=request.user, as_of=timezone.now(), dry_run=form.cleaned_data["dry_run"])
        except services.StatementRejected as exc:
            form.add_error("file", exc.message)
            row_errors = exc.errors
        except GridcareError as exc:
            form.add_error("file" if exc.field in (None, "file", "bank", "agency", "source") else None, exc.message)
    if result is not None and result.statement is not None and not result.dry_run:
        if result.created:
            messages.success(request, _("Statement imported: %(matched)s matched, %(problems)s discrepancies.")
                             % {"matched": result.counts.get("matched", 0), "problems": result.discrepancies})
        else:
            messages.info(request, _("This file was already imported; nothing changed."))
        return redirect("web:reconciliation_statement", statement_id=result.statement.pk)
    today = timezone.localdate()
    start, end = _month(today)
    return render(request, "web/reconciliation/upload_result.html", {
        "form": form, "row_errors": row_errors, "result": result,
        "rate_this": selectors.auto_reconciliation_rate(start=start, end=end),
    }, status=200 if result is not None else 422)


@staff_required(CAPABILITY)
def reconciliation_statement(request, statement_id: int):
    statement = selectors.statement_get(statement_id=statement_id)
    if statement is None:
        raise Http404
    status = request.GET.get("status", "")
    lines = Paginator(selectors.statement_lines(statement_id=statement_id, status=status), PAGE_SIZE)
    return render(request, "web/reconciliation/statement.html", {
        "statement": statement, "page": lines.get_page(request.GET.get("page")), "status": status,
        "statuses": LineStatus.choices,
    })


@staff_required(CAPABILITY)
def reconciliation_discrepancy(request, discrepancy_id: int):
    discrepancy = selectors.discrepancy_get(discrepancy_id=discrepancy_id)
    if discrepancy is None:
        raise Http404
    form = ResolveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.discrepancy_resolve(actor=request.user, discrepancy_id=discrepancy.pk,
                                         resolution=data["resolution"], note=data["note"],
                                         payment_id=data["payment_id"], line_id=data["line_id"], as_of=timezone.now())
        except GridcareError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Discrepancy resolved; its supervision work order was closed."))
            return redirect("web:reconciliation_discrepancy", discrepancy_id=discrepancy.pk)
    return render(request, "web/reconciliation/discrepancy.html", {"d": discrepancy, "form": form},
                  status=422 if form.errors else 200)


@staff_required(CAPABILITY)
def reconciliation_day(request, business_date: str):
    try:
        day = date.fromisoformat(business_date)
    except ValueError:
        raise Http404 from None
    if request.method == "POST":
        services.reconciliation_day_close(business_date=day, actor=request.user, as_of=timezone.now())
        messages.success(request, _("Business day %(day)s closed.") % {"day": day.isoformat()})
        return redirect("web:reconciliation_day", business_date=day.isoformat())
    report = selectors.daily_report_get(business_date=day)
    return render(request, "web/reconciliation/day.html", {"day": day, "report": report})


urlpatterns = [
    path("console/reconciliation/", reconciliation_home, name="reconciliation_home"),
    path("console/reconciliation/upload/", reconciliation_upload, name="reconciliation_upload"),
    path("console/reconciliation/statements/<int:statement_id>/", reconciliation_statement,
         name="reconciliation_statement"),
    path("console/reconciliation/discrepancies/<int:discrepancy_id>/", reconciliation_discrepancy,
         name="reconciliation_discrepancy"),
    path("console/reconciliation/days/<str:business_date>/", reconciliation_day, name="reconciliation_day"),
]

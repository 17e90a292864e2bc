"""Console: meter reading (T/CI 1281 §7.1) — read import (CSV/Parquet, register and 24/96-point
interval data) with its report, the quarantine queue (fix and release, or discard), manual entry of
a read, and the reading calendar (抄表例日, due days, read window) per org unit.

Thin views: parse, one service or selector call, render. Rules live in gridcare.metering.
"""

from __future__ import annotations

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

from gridcare.billing.labels import register_label
from gridcare.billing.selectors import org_units_for
from gridcare.core.errors import GridcareError
from gridcare.customers.models import OrgUnit
from gridcare.metering import selectors, services
from gridcare.metering.errors import ReadFileInvalid
from gridcare.metering.intervals import interval_labels
from gridcare.metering.models import MeterRead, QuarantineReason
from gridcare.metering.readfile import REGISTER_CODES
from gridcare.web.access import staff_required

CAPABILITY = "metering.edit"
PAGE_SIZE = 50
MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def _bootstrap(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else (
            "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control")
        field.widget.attrs.setdefault("class", css)
    return form


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Read file (CSV or Parquet)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class ReadForm(forms.Form):
    asset_number = forms.CharField(label=gettext_lazy("Meter number"), max_length=32)
    register = forms.ChoiceField(label=gettext_lazy("Register"),
                                 choices=lambda: [(c, register_label(c)) for c in REGISTER_CODES])
    read_date = forms.DateField(label=gettext_lazy("Read date"), widget=forms.DateInput(attrs={"type": "date"}))
    value = forms.DecimalField(label=gettext_lazy("Reading"), min_value=0, max_digits=18, decimal_places=3)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class CalendarForm(forms.Form):
    org_unit = forms.ModelChoiceField(label=gettext_lazy("Org unit"), queryset=OrgUnit.objects.none())
    read_day = forms.IntegerField(label=gettext_lazy("Read day"), min_value=1, max_value=28)
    due_days = forms.IntegerField(label=gettext_lazy("Days to due date"), min_value=0, max_value=90)
    read_window_days = forms.IntegerField(label=gettext_lazy("Read window (days)"), min_value=0, max_value=7,
                                          initial=0)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = org_units_for(user=user).order_by("path")
        _bootstrap(self)


def _reason_labels() -> dict[str, str]:
    return {**interval_labels(), **{c: str(label) for c, label in QuarantineReason.choices}}


@staff_required(CAPABILITY)
def metering_home(request):
    ctx = {"form": ImportForm(), "read_form": ReadForm(), "imports": selectors.read_import_list(limit=20),
           "counts": [(r, _reason_labels().get(r, r), n) for r, n in selectors.quarantine_counts(user=request.user)
                      .items()]}
    return render(request, "web/metering/home.html", ctx)


@staff_required(CAPABILITY)
@require_POST
def metering_import(request):
    form = ImportForm(request.POST, request.FILES)
    problems: list = []
    report = None
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            form.add_error("file", _("The file is larger than %(n)s MB.") % {"n": MAX_UPLOAD_BYTES // 2**20})
        else:
            try:
                report = services.reads_import(content=upload.read(), filename=upload.name, actor=request.user,
                                               as_of=timezone.now())
            except ReadFileInvalid as exc:
                form.add_error("file", exc.message)
                problems = exc.problems
            except GridcareError as exc:
                form.add_error("file", exc.message)
    if report is not None:
        if report.already_imported:
            messages.info(request, _("This file was already imported; nothing changed."))
        return redirect("web:metering_import_detail", import_id=report.import_id)
    return render(request, "web/metering/import_result.html", {"form": form, "problems": problems}, status=422)


@staff_required(CAPABILITY)
def metering_import_detail(request, import_id: int):
    imp = selectors.read_import_get(import_id=import_id)
    if imp is None:
        raise Http404
    labels = _reason_labels()
    by_reason = [(r, labels.get(r, r), n) for r, n in (imp.report or {}).get("by_reason", {}).items()]
    rows = [{**r, "reason": labels.get(r.get("reason"), r.get("reason"))}
            for r in (imp.report or {}).get("quarantined_rows", [])]
    report = imp.report or {}
    by_method = [(labels.get(m, m), n) for m, n in report.get("estimated_by_method", {}).items()]
    gap_days = [{**d, "register_label": labels.get(d["register"], d["register"])} for d in report.get("gap_days", [])]
    return render(request, "web/metering/import.html", {"imp": imp, "by_reason": by_reason, "rows": rows,
                                                         "labels": labels, "by_method": by_method,
                                                         "gap_days": gap_days})


@staff_required(CAPABILITY)
def metering_quarantine(request):
    reason = request.GET.get("reason", "")
    page = Paginator(selectors.quarantine_list(user=request.user, reason=reason), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "web/metering/quarantine.html", {
        "page": page, "reason": reason, "reasons": QuarantineReason.choices, "labels": _reason_labels(),
        "counts": selectors.quarantine_counts(user=request.user)})


@staff_required(CAPABILITY)
@require_POST
def metering_read_release(request, read_id: int):
    read = selectors.read_get(user=request.user, read_id=read_id)
    if read is None:
        raise Http404
    action = request.POST.get("action", "release")
    note = request.POST.get("note", "")
    try:
        if action == "discard":
            services.meter_read_discard(read_id=read.pk, actor=request.user, as_of=timezone.now(), note=note)
            messages.success(request, _("Read discarded."))
        else:
            services.meter_read_release(read_id=read.pk, actor=request.user, as_of=timezone.now(), note=note,
                                        value=request.POST.get("value") or None,
                                        asset_number=request.POST.get("asset_number") or None)
            messages.success(request, _("Read released; it will be used for billing."))
    except GridcareError as exc:
        messages.error(request, exc.message)
    nxt = request.POST.get("next", "")
    return redirect(nxt if nxt.startswith("/console/reads/") else "web:metering_quarantine")


@staff_required(CAPABILITY)
@require_POST
def metering_read_new(request):
    form = ReadForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            read = services.meter_read_record(asset_number=d["asset_number"], register=d["register"],
                                              read_date=d["read_date"], value=d["value"], actor=request.user,
                                              as_of=timezone.now())
        except GridcareError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if read.status == MeterRead.Status.QUARANTINED:
                messages.warning(request, _("The read was stored but quarantined: %(reason)s. %(detail)s")
                                 % {"reason": _reason_labels().get(read.reason, read.reason), "detail": read.detail})
            else:
                messages.success(request, _("Read stored."))
            return redirect("web:metering_home")
    ctx = {"form": ImportForm(), "read_form": form, "imports": selectors.read_import_list(limit=20),
           "counts": [(r, _reason_labels().get(r, r), n) for r, n in selectors.quarantine_counts(user=request.user)
                      .items()]}
    return render(request, "web/metering/home.html", ctx, status=422)


@staff_required(CAPABILITY)
def metering_calendar(request):
    form = CalendarForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.billing_calendar_set(org_unit=d["org_unit"], read_day=d["read_day"], due_days=d["due_days"],
                                          read_window_days=d["read_window_days"], actor=request.user,
                                          as_of=timezone.now())
        except GridcareError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Calendar saved."))
            return redirect("web:metering_calendar")
    units = list(org_units_for(user=request.user).order_by("path").values_list("id", flat=True))
    return render(request, "web/metering/calendar.html", {"form": form, "rows": selectors.calendar_rows(
        org_unit_ids=units)}, status=422 if request.method == "POST" else 200)


urlpatterns = [
    path("console/reads/", metering_home, name="metering_home"),
    path("console/reads/import/", metering_import, name="metering_import"),
    path("console/reads/imports/<int:import_id>/", metering_import_detail, name="metering_import_detail"),
    path("console/reads/quarantine/", metering_quarantine, name="metering_quarantine"),
    path("console/reads/<int:read_id>/resolve/", metering_read_release, name="metering_read_release"),
    path("console/reads/new/", metering_read_new, name="metering_read_new"),
    path("console/reads/calendar/", metering_calendar, name="metering_calendar"),
]

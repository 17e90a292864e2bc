"""Console: billing parameters (计费参数) — an account's parameters in force and their history,
proposals waiting for a second person's approval, and back-billing (退补) cases with their
line-by-line explanation. Adds a "Billing parameters" section to the customer 360 page.

Thin views: parse, one service or selector call, render. Rules live in gridcare.parameters.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.access.roles import can
from gridcare.billing import selectors as billing_selectors
from gridcare.billing import services as billing_services
from gridcare.core.errors import GridcareError
from gridcare.customers.selectors import account_get
from gridcare.parameters import selectors, services
from gridcare.parameters.config import default_config
from gridcare.parameters.models import BackBillingCase, BackBillingKind, BillingParameter, ParameterKind
from gridcare.web.access import staff_required
from gridcare.web.views.customers import CustomerPanel, register_customer_panel

VIEW = "customers.view"

SPEC_EXAMPLES = {
    "split": '{"quantities": [{"kwh": "300", "tariff": "gz-residential", "category": "residential"}], '
             '"ratios": [{"percent": "80"}, {"percent": "20", "tariff": "gd-ci-tou-lt1kv"}]}',
    "deduction": '{"parent_account_id": 12}',
    "sharing": '{"source": "fixed", "kwh": "304", "basis": "consumption", "members": [{"account_id": 12}, '
               '{"account_id": 13}]}',
    "free_allowance": '{"scheme": "subsistence"}',
    "capacity": '{"change": "suspend", "suspended_kva": "315"}',
}
CORRECTION_EXAMPLES = {
    "wrong_multiplier": '{"multiplier": "40"}',
    "wrong_tariff": '{"tariff": "gd-ci-tou-lt1kv", "category": "general_ci"}',
    "wiring_correction": '{"correction_rate": "2.00"}',
    "missed_reactive": '{"reactive_kvarh": {"2026-01": "50"}}',
    "meter_error": '{"error_percent": "5"}',
    "stopped_meter": '{"reference_kwh": {"2026-01": "150"}}',
    "unauthorised_capacity": '{"added_kva": "100", "months": 3}',
}


def _bootstrap(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else (
            "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control")
        field.widget.attrs.setdefault("class", css)
    return form


def _json_object(text: str, field: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc.msg}, code=field) from None
    if not isinstance(value, dict):
        raise forms.ValidationError(_("Write a JSON object, e.g. {\"scheme\": \"subsistence\"}"), code=field)
    return value


class ProposeForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Parameter"), choices=ParameterKind.choices)
    effective_from = forms.DateField(label=gettext_lazy("Effective from"),
                                     widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(label=gettext_lazy("Effective to (exclusive, optional)"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    cleared = forms.BooleanField(label=gettext_lazy("No such parameter on these dates"), required=False)
    spec = forms.CharField(label=gettext_lazy("Specification (JSON)"), required=False,
                           widget=forms.Textarea(attrs={"rows": 3, "class": "form-control font-monospace"}))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)

    def clean_spec(self) -> dict:
        return _json_object(self.cleaned_data.get("spec", ""), "spec")


class CaseForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Correction"), choices=BackBillingKind.choices)
    period_codes = forms.CharField(label=gettext_lazy("Periods (YYYY-MM, comma-separated)"), required=False)
    correction = forms.CharField(label=gettext_lazy("Correction inputs (JSON)"),
                                 widget=forms.Textarea(attrs={"rows": 2, "class": "form-control font-monospace"}))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)

    def clean_correction(self) -> dict:
        return _json_object(self.cleaned_data.get("correction", ""), "correction")

    def clean_period_codes(self) -> list[str]:
        raw = self.cleaned_data.get("period_codes", "")
        return [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]


def _error_to_form(form: forms.Form, exc: GridcareError) -> None:
    field = (exc.field or "").split(".")[0].split("[")[0]
    form.add_error(field if field in form.fields else None, exc.message)


def _account_or_404(request, account_id: int):
    account = account_get(user=request.user, account_id=account_id)
    if account is None:
        raise Http404
    return account


@staff_required(VIEW)
def parameters_home(request):
    """Queue: versions and cases waiting for approval; find an account by number."""
    number = request.GET.get("account", "").strip()
    if number:
        account = account_get(user=request.user, number=number)
        if account is not None:
            return redirect("web:parameters_account", account_id=account.pk)
        messages.warning(request, _("No account %(number)s in your scope.") % {"number": number})
    ctx = {
        "pending": selectors.parameter_list(user=request.user, status=BillingParameter.Status.PENDING)[:100],
        "cases": selectors.backbilling_case_list(user=request.user).exclude(
            status=BackBillingCase.Status.REJECTED)[:50],
        "can_approve": can(request.user.role, default_config().approve_capability),
        "number": number,
    }
    return render(request, "web/parameters/home.html", ctx)


@staff_required(VIEW)
def parameters_account(request, account_id: int):
    """An account's parameters: in force, coming, history, proposals; back-billing cases."""
    account = _account_or_404(request, account_id)
    cfg = default_config()
    can_prepare = can(request.user.role, cfg.prepare_capability)
    form = ProposeForm(request.POST if request.method == "POST" and "propose" in request.POST else None)
    case_form = CaseForm(request.POST if request.method == "POST" and "prepare" in request.POST else None)
    if request.method == "POST" and not can_prepare:
        raise PermissionDenied
    if request.method == "POST":
        if "propose" in request.POST and form.is_valid():
            d = form.cleaned_data
            try:
                services.parameter_propose(account_id=account.pk, kind=d["kind"], spec=d["spec"] or None,
                                           effective_from=d["effective_from"], effective_to=d["effective_to"],
                                           cleared=d["cleared"], reason=d["reason"], actor=request.user,
                                           as_of=timezone.now())
            except GridcareError as exc:
                _error_to_form(form, exc)
            else:
                messages.success(request, _("Proposed; a second person must approve it."))
                return redirect("web:parameters_account", account_id=account.pk)
        if "prepare" in request.POST and case_form.is_valid():
            d = case_form.cleaned_data
            try:
                case = services.backbilling_case_prepare(
                    data=services.CaseInput(account_id=account.pk, kind=d["kind"], correction=d["correction"],
                                            period_codes=d["period_codes"], reason=d["reason"]),
                    actor=request.user, as_of=timezone.now())
            except GridcareError as exc:
                _error_to_form(case_form, exc)
            else:
                return redirect("web:parameters_case", case_id=case.pk)
    view = selectors.account_parameters(user=request.user, account_id=account.pk, as_of=timezone.localdate())
    ctx = {
        "account": account, "view": view, "form": form, "case_form": case_form, "can_prepare": can_prepare,
        "can_approve": can(request.user.role, cfg.approve_capability),
        "history": selectors.parameter_list(user=request.user, account_id=account.pk)[:200],
        "spec_examples": SPEC_EXAMPLES, "correction_examples": CORRECTION_EXAMPLES,
    }
    return render(request, "web/parameters/account.html", ctx, status=400 if request.method == "POST" else 200)


@require_POST
@staff_required(VIEW)
def parameters_decide(request, parameter_id: int):
    """approve / reject / withdraw a proposed version."""
    param = selectors.parameter_get(user=request.user, parameter_id=parameter_id)
    if param is None:
        raise Http404
    action, note, now = request.POST.get("action", ""), request.POST.get("note", ""), timezone.now()
    try:
        if action == "approve":
            services.parameter_approve(parameter_id=param.pk, actor=request.user, as_of=now, note=note)
            messages.success(request, _("Approved."))
        elif action == "reject":
            services.parameter_reject(parameter_id=param.pk, actor=request.user, as_of=now, note=note)
            messages.success(request, _("Rejected."))
        elif action == "withdraw":
            services.parameter_withdraw(parameter_id=param.pk, actor=request.user, as_of=now)
            messages.success(request, _("Withdrawn."))
        else:
            messages.error(request, _("Unknown action."))
    except GridcareError as exc:
        messages.error(request, exc.message)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "web:parameters_home"
    return redirect(target)


@staff_required(VIEW)
def parameters_case(request, case_id: int):
    """A back-billing case: per period original vs corrected, every line with the bill it corrects."""
    case = selectors.backbilling_case_get(user=request.user, case_id=case_id)
    if case is None:
        raise Http404
    if request.method == "POST":
        action, note, now = request.POST.get("action", ""), request.POST.get("note", ""), timezone.now()
        try:
            if action == "approve":
                services.backbilling_case_approve(case_id=case.pk, actor=request.user, as_of=now, note=note)
                messages.success(request, _("Approved; billing issues it as a separate bill."))
            elif action == "reject":
                services.backbilling_case_reject(case_id=case.pk, actor=request.user, as_of=now, note=note)
                messages.success(request, _("Rejected."))
            elif action == "issue_bill":
                bill = billing_services.bill_backbilling_issue(case_id=case.pk, actor=request.user, as_of=now)
                billing_services.bills_deliver(bill_ids=[bill.pk], as_of=now, pdf_url=lambda b: request.build_absolute_uri(
                    reverse("web:portal_bill_pdf", args=[b.pk])))
                messages.success(request, _("Adjustment bill %(number)s issued.") % {"number": bill.number})
                return redirect("web:billing_bill", bill_id=bill.pk)
        except GridcareError as exc:
            messages.error(request, exc.message)
        return redirect("web:parameters_case", case_id=case.pk)
    bill = billing_selectors.bill_get(user=request.user, number=case.bill_number) if case.bill_number else None
    ctx = {"case": case, "lines": case.lines.all(), "bill": bill,
           "can_approve": can(request.user.role, default_config().approve_capability),
           "can_issue": case.status == BackBillingCase.Status.APPROVED and can(request.user.role, "billing.issue")}
    return render(request, "web/parameters/case.html", ctx)


def _panel_context(request, view) -> dict | None:
    """The customer 360 section: per account, the parameters in force, proposals and open cases."""
    today = timezone.localdate()
    rows = []
    for av in view.accounts:
        data = selectors.account_parameters(user=request.user, account_id=av.account.pk, as_of=today)
        if data is None:
            continue
        rows.append(data)
    if not rows:
        return None
    return {"rows": rows, "today": today}


register_customer_panel(CustomerPanel(key="parameters", title=gettext_lazy("Billing parameters"),
                                      template="web/parameters/_panel.html", context=_panel_context,
                                      capability=VIEW, order=30))

urlpatterns = [
    path("console/parameters/", parameters_home, name="parameters_home"),
    path("console/parameters/accounts/<int:account_id>/", parameters_account, name="parameters_account"),
    path("console/parameters/versions/<int:parameter_id>/decide/", parameters_decide, name="parameters_decide"),
    path("console/parameters/cases/<int:case_id>/", parameters_case, name="parameters_case"),
]

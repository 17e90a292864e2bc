"""Console: collections (电费回收) — arrears, dunning calls, promises, late fees with their working,
suspension-of-supply cases from proposal to restoration, 电费回收率.

Thin views: parse, one service or selector call, render. Rules live in gridcare.collections.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.access.roles import can
from gridcare.collections import selectors, services
from gridcare.collections.models import SuspensionCase
from gridcare.collections.policy import collections_policy
from gridcare.core.errors import GridcareError
from gridcare.customers.selectors import account_get
from gridcare.web.access import staff_required
from gridcare.web.views.customers import CustomerPanel, register_customer_panel

VIEW = "customers.view"


def _bootstrap(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else (
            "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control")
        field.widget.attrs.setdefault("class", css)
    return form


class PromiseForm(forms.Form):
    promised_date = forms.DateField(label=gettext_lazy("Promised date"), widget=forms.DateInput(attrs={"type": "date"}))
    amount_fen = forms.IntegerField(label=gettext_lazy("Amount (fen)"), min_value=1)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class CallForm(forms.Form):
    reached = forms.BooleanField(label=gettext_lazy("Customer reached"), required=False)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=255)


class WaiverForm(forms.Form):
    amount_fen = forms.IntegerField(label=gettext_lazy("Amount to waive (fen)"), min_value=1)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class CaseActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ("approve", "reject", "execute", "restore")])
    note = forms.CharField(required=False, max_length=255)


def _month_rate(start):
    end = (start + timedelta(days=32)).replace(day=1)
    return selectors.collection_rate(start=start, end=end, as_of_date=timezone.localdate())


@staff_required(VIEW)
def collections_home(request):
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    overdue = selectors.overdue_accounts(user=request.user, as_of_date=today, limit=50)
    ctx = {
        "overdue": overdue, "calls": selectors.call_queue(user=request.user)[:50],
        "promises": selectors.promises(user=request.user, status="open")[:50],
        "cases": selectors.suspension_cases(user=request.user, active=True)[:50],
        "late_restorations": selectors.restoration_overdue(user=request.user, as_of=timezone.now()).count(),
        "rate_this": _month_rate(this_month), "rate_last": _month_rate(last_month),
        "notices_today": selectors.notices(user=request.user).filter(business_date=today).count(),
        "stages": collections_policy().dunning.stages, "call_form": CallForm(),
        "can_approve": can(request.user.role, collections_policy().suspension.approve_capability),
        "waivers": selectors.waivers_pending(user=request.user)[:50],
        "can_decide_waivers": can(request.user.role, "payments.approve"),
    }
    return render(request, "web/collections/home.html", ctx)


@staff_required(VIEW)
def collections_account(request, account_id: int):
    account = account_get(user=request.user, account_id=account_id)
    if account is None:
        raise Http404
    form = PromiseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.promise_record(actor=request.user, account_id=account.pk, as_of=timezone.now(), channel="counter",
                                    **form.cleaned_data)
        except GridcareError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Payment promise recorded."))
            return redirect("web:collections_account", account_id=account.pk)
    today = timezone.localdate()
    ctx = {
        "account": account, "quotes": services.late_fee_quote(account_id=account.pk, as_of_date=today), "today": today,
        "arrears": selectors.account_arrears(account_id=account.pk, as_of_date=today),
        "assessments": selectors.late_fee_assessments(user=request.user, account_id=account.pk)[:20],
        "notices": selectors.notices(user=request.user, account_id=account.pk)[:30],
        "promises": selectors.promises(user=request.user).filter(account=account)[:10],
        "cases": selectors.suspension_cases(user=request.user).filter(account=account)[:10],
        "form": form, "can_collect": can(request.user.role, "payments.collect"),
        "fees": selectors.open_items(kinds=("late_fee",), account_ids=[account.pk]), "waiver_form": WaiverForm(),
        "can_propose": can(request.user.role, collections_policy().suspension.approve_capability),
    }
    return render(request, "web/collections/account.html", ctx, status=422 if form.errors else 200)


@staff_required("payments.collect")
@require_POST
def collections_assess(request, account_id: int):
    try:
        result = services.late_fees_assess_account(actor=request.user, account_id=account_id, as_of=timezone.now())
    except GridcareError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Late fees posted: %(n)s bills, %(fen)s fen.") % {"n": result.posted,
                                                                                  "fen": result.posted_fen})
    return redirect("web:collections_account", account_id=account_id)


@staff_required("payments.collect")
@require_POST
def collections_waiver_request(request, fee_charge_id: int):
    form = WaiverForm(request.POST)
    account_id = request.POST.get("account_id", "")
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    else:
        try:
            services.late_fee_waiver_request(actor=request.user, fee_charge_id=fee_charge_id, as_of=timezone.now(),
                                             **form.cleaned_data)
        except GridcareError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Waiver requested; another person must approve it."))
    if account_id.isdigit():
        return redirect("web:collections_account", account_id=int(account_id))
    return redirect("web:collections_home")


@staff_required("payments.approve")
@require_POST
def collections_waiver_decide(request, request_id: int):
    approve = request.POST.get("decision") == "approve"
    try:
        services.late_fee_waiver_decide(actor=request.user, request_id=request_id, approve=approve,
                                        note=request.POST.get("note", "")[:255], as_of=timezone.now())
    except GridcareError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Waiver approved and posted.") if approve else _("Waiver rejected."))
    return redirect("web:collections_home")


@staff_required(VIEW)
@require_POST
def collections_propose(request, account_id: int):
    try:
        case = services.suspension_propose(actor=request.user, account_id=account_id, as_of=timezone.now())
    except GridcareError as exc:
        messages.error(request, exc.message)
        return redirect("web:collections_account", account_id=account_id)
    messages.success(request, _("Suspension proposed; another person must approve it."))
    return redirect("web:collections_case", case_id=case.pk)


@staff_required(VIEW)
def collections_case(request, case_id: int):
    case = selectors.suspension_case_get(user=request.user, case_id=case_id)
    if case is None:
        raise Http404
    form = CaseActionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action, note, now = form.cleaned_data["action"], form.cleaned_data["note"], timezone.now()
        try:
            if action == "approve":
                services.suspension_approve(actor=request.user, case_id=case.pk, note=note, as_of=now)
            elif action == "reject":
                services.suspension_reject(actor=request.user, case_id=case.pk, reason=note, as_of=now)
            elif action == "execute":
                services.suspension_execute(actor=request.user, case_id=case.pk, note=note, as_of=now)
            else:
                services.suspension_restore(actor=request.user, case_id=case.pk, note=note, as_of=now)
        except GridcareError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Done."))
        return redirect("web:collections_case", case_id=case.pk)
    return render(request, "web/collections/case.html", {
        "case": case, "events": case.events.select_related("actor"),
        "can_act": can(request.user.role, collections_policy().suspension.approve_capability),
        "now": timezone.now(), "statuses": SuspensionCase.Status,
    })


@staff_required(VIEW)
@require_POST
def collections_call_done(request, task_id: int):
    form = CallForm(request.POST)
    form.is_valid()
    try:
        services.call_task_complete(actor=request.user, task_id=task_id, reached=form.cleaned_data.get("reached", False),
                                    note=form.cleaned_data.get("note", ""), as_of=timezone.now())
    except GridcareError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Call recorded."))
    return redirect("web:collections_home")


def _panel_context(request, view) -> dict | None:
    """The customer 360 section: arrears, late fees still to assess, open cases, last dunning steps."""
    today = timezone.localdate()
    ids = [a.account.pk for a in view.accounts]
    if not ids:
        return None
    arrears = selectors.arrears_by_account(as_of_date=today, account_ids=ids)
    rows = [{"account": a.account, "arrears_fen": arrears.get(a.account.pk, 0),
             "unassessed_fen": sum(q.unassessed_fen for q in services.late_fee_quote(account_id=a.account.pk,
                                                                                     as_of_date=today))}
            for a in view.accounts]
    return {"rows": rows,
            "cases": selectors.suspension_cases(user=request.user, active=True).filter(account_id__in=ids),
            "promises": selectors.promises(user=request.user, status="open").filter(account_id__in=ids),
            "notices": selectors.notices(user=request.user).filter(account_id__in=ids)[:5]}


register_customer_panel(CustomerPanel(key="collections", title=gettext_lazy("Arrears and dunning"),
                                      template="web/collections/_panel.html", context=_panel_context,
                                      capability=VIEW, order=40))

urlpatterns = [
    path("console/collections/", collections_home, name="collections_home"),
    path("console/collections/accounts/<int:account_id>/", collections_account, name="collections_account"),
    path("console/collections/accounts/<int:account_id>/assess/", collections_assess, name="collections_assess"),
    path("console/collections/accounts/<int:account_id>/propose/", collections_propose, name="collections_propose"),
    path("console/collections/suspensions/<int:case_id>/", collections_case, name="collections_case"),
    path("console/collections/calls/<int:task_id>/done/", collections_call_done, name="collections_call_done"),
    path("console/collections/late-fees/<int:fee_charge_id>/waive/", collections_waiver_request,
         name="collections_waiver_request"),
    path("console/collections/waivers/<int:request_id>/decide/", collections_waiver_decide,
         name="collections_waiver_decide"),
]

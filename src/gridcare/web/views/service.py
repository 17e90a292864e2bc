"""Console: the service desk (客服工单) — agent workbench with SLA countdowns, new order, order
detail with every workflow action and reply templates, supervisor board, breach report, outages,
return visits, negative list, typical cases; the public survey page behind SMS links; and the
"Service requests" panel on the customer 360 page.

Thin views: parse, one service or selector call, render. Rules live in gridcare.service.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from gridcare.access.roles import can
from gridcare.core.errors import GridcareError
from gridcare.customers.models import OrgUnit
from gridcare.service import selectors, services
from gridcare.service.i18n import _, _lazy
from gridcare.service.models import (
    AreaType,
    NegativeListEntry,
    Outage,
    ReturnVisit,
    TaskForce,
    TypicalCase,
    WorkOrder,
)
from gridcare.service.policy import service_policy
from gridcare.web.access import staff_required
from gridcare.web.forms import form_errors_from, mark_invalid
from gridcare.web.views.customers import CustomerPanel, register_customer_panel

WORK = "service.work"
SUPERVISE = "service.supervise"


def _bootstrap(form: forms.Form) -> forms.Form:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else (
            "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control")
        field.widget.attrs.setdefault("class", css)
    return form


def category_choices(*, include_blank: bool = True) -> list[tuple[str, str]]:
    taxonomy = service_policy().taxonomy
    out = [("", _("Let the classifier decide"))] if include_blank else []
    out += [(c.code, "　" * (c.level - 1) + c.label) for c in taxonomy.categories.values()]
    return out


class OrderForm(forms.Form):
    channel = forms.ChoiceField(label=_lazy("Channel"))
    account_number = forms.CharField(label=_lazy("Account number"), required=False, max_length=32)
    service_point_code = forms.CharField(label=_lazy("Service point"), required=False, max_length=32)
    category = forms.ChoiceField(label=_lazy("Category"), required=False)
    grade = forms.ChoiceField(label=_lazy("Complaint grade"), required=False)
    area_type = forms.ChoiceField(label=_lazy("Area type"), required=False,
                                  choices=[("", "—"), *AreaType.choices])
    contact_name = forms.CharField(label=_lazy("Contact name"), required=False, max_length=64)
    contact_phone = forms.CharField(label=_lazy("Contact phone"), required=False, max_length=20)
    subject = forms.CharField(label=_lazy("Subject"), required=False, max_length=200)
    description = forms.CharField(label=_lazy("What the customer says"), widget=forms.Textarea(attrs={"rows": 4}))
    file = forms.FileField(label=_lazy("Attachment"), required=False)

    def __init__(self, *args, channels: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        policy = service_policy()
        names = channels or sorted(policy.intake.staff_channels)
        self.fields["channel"].choices = [(c, policy.intake.channels[c]) for c in names]
        self.fields["category"].choices = category_choices()
        self.fields["grade"].choices = [("", "—"), *((k, v[0]) for k, v in policy.taxonomy.grades.items())]
        _bootstrap(self)


class PortalOrderForm(forms.Form):
    account_number = forms.ChoiceField(label=_lazy("Account"), required=False)
    category = forms.ChoiceField(label=_lazy("Type of request"), required=False)
    contact_phone = forms.CharField(label=_lazy("Phone for us to call back"), required=False, max_length=20)
    description = forms.CharField(label=_lazy("Describe your request"), widget=forms.Textarea(attrs={"rows": 4}))
    file = forms.FileField(label=_lazy("Photo or document"), required=False)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        taxonomy = service_policy().taxonomy
        self.fields["account_number"].choices = [("", "—"), *((a.number, a.number) for a in accounts)]
        self.fields["category"].choices = [("", _("Not sure")), *(
            (c.code, c.label) for c in taxonomy.categories.values() if c.level == 1 and c.code != "other")]
        _bootstrap(self)


class OutageForm(forms.Form):
    kind = forms.ChoiceField(label=_lazy("Kind"), choices=Outage.Kind.choices)
    title = forms.CharField(label=_lazy("Title"), max_length=128)
    org_unit_code = forms.CharField(label=_lazy("Org unit code"), max_length=32)
    grid_cells = forms.CharField(label=_lazy("Grid cells (comma-separated)"), max_length=500)
    start_at = forms.DateTimeField(label=_lazy("Starts at"),
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end_at = forms.DateTimeField(label=_lazy("Expected end"),
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = forms.CharField(label=_lazy("Reason"), required=False, max_length=255)
    notice_override_reason = forms.CharField(label=_lazy("Reason for short notice"), required=False,
                                             max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class NegativeForm(forms.Form):
    description = forms.CharField(label=_lazy("What happened"), max_length=255)
    occurred_at = forms.DateTimeField(label=_lazy("Occurred at"),
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    number = forms.CharField(label=_lazy("Work order (optional)"), required=False, max_length=24)
    org_unit_code = forms.CharField(label=_lazy("Org unit code"), required=False, max_length=32)
    grid_cell = forms.CharField(label=_lazy("Grid cell"), required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class CaseForm(forms.Form):
    title = forms.CharField(label=_lazy("Title"), max_length=128)
    kind = forms.ChoiceField(label=_lazy("Kind"), choices=TypicalCase.Kind.choices)
    number = forms.CharField(label=_lazy("Work order (optional)"), required=False, max_length=24)
    org_unit_code = forms.CharField(label=_lazy("Org unit code"), required=False, max_length=32)
    summary = forms.CharField(label=_lazy("What happened"), widget=forms.Textarea(attrs={"rows": 3}))
    lessons = forms.CharField(label=_lazy("Lessons"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    accountability = forms.CharField(label=_lazy("Accountability"), required=False,
                                     widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


def _error(request, exc: GridcareError) -> None:
    where = f" ({exc.field})" if exc.field else ""
    messages.error(request, f"{exc.message}{where}")


# -- workbench ------------------------------------------------------------------------------------
@staff_required(WORK)
def service_home(request):
    as_of = timezone.now()
    mine = request.GET.get("mine") == "1"
    order_type = request.GET.get("type", "")
    rows = selectors.agent_queue(user=request.user, as_of=as_of, mine=mine, type=order_type, limit=200)
    ctx = {"rows": rows, "as_of": as_of, "mine": mine, "type": order_type,
           "types": service_policy().taxonomy.types(), "can_supervise": can(request.user.role, SUPERVISE),
           "visits_due": selectors.return_visit_queue(user=request.user, as_of=as_of).count(),
           "q": request.GET.get("q", "")}
    if ctx["q"]:
        ctx["found"] = selectors.work_order_list(user=request.user, q=ctx["q"])[:50]
    template = "web/service/_queue.html" if request.htmx and not request.htmx.boosted else "web/service/home.html"
    return render(request, template, ctx)


@staff_required(WORK)
def service_new(request):
    initial = {"channel": "hotline", "account_number": request.GET.get("account", "")}
    form = OrderForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "file"}
        upload = form.cleaned_data.get("file")
        try:
            order = services.work_order_create(
                actor=request.user, data=services.WorkOrderInput(**data), as_of=timezone.now(),
                attachments=[(upload.name, upload.read())] if upload else ())
        except GridcareError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("Work order %(number)s created.") % {"number": order.number})
            return redirect("web:service_order", number=order.number)
    return render(request, "web/service/new.html", {"form": mark_invalid(form)})


def _order_or_404(request, number: str) -> WorkOrder:
    order = selectors.work_order_get(user=request.user, number=number)
    if order is None:
        raise Http404
    return order


@staff_required(WORK)
def service_order(request, number: str):
    order = _order_or_404(request, number)
    as_of = timezone.now()
    staff = selectors.assignable_staff(order=order)[:100]
    ctx = {
        "order": order, "clocks": selectors.clock_views(order, as_of=as_of), "as_of": as_of,
        "contact": selectors.contact_shown(user=request.user, order=order),
        "events": list(order.events.all()), "attachments": list(order.attachments.all()),
        "visits": list(order.return_visits.all()), "templates": selectors.render_reply_templates(order, as_of=as_of),
        "duplicates": selectors.duplicate_candidates(user=request.user, order=order, as_of=as_of)[:10]
        if order.is_open else [],
        "can_supervise": can(request.user.role, SUPERVISE), "staff": staff,
        "units": OrgUnit.objects.order_by("path").only("code", "name")[:300],
        "task_force": TaskForce.objects.filter(work_order=order).select_related("lead").prefetch_related(
            "members").first(),
        "open": order.is_open,
    }
    return render(request, "web/service/order.html", ctx)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return -1  # an id that does not exist: the service names the field


ACTIONS = {
    "accept": lambda r, p, **kw: services.work_order_accept(**kw),
    "contact": lambda r, p, **kw: services.work_order_contact(note=p.get("text", ""), **kw),
    "arrive": lambda r, p, **kw: services.work_order_arrive(note=p.get("text", ""), **kw),
    "plan": lambda r, p, **kw: services.work_order_plan(plan=p.get("text", ""), **kw),
    "reply": lambda r, p, **kw: services.work_order_reply(text=p.get("text", ""), **kw),
    "note": lambda r, p, **kw: services.work_order_note(text=p.get("text", ""), **kw),
    "wait": lambda r, p, **kw: services.work_order_wait_for_customer(reason=p.get("text", ""), **kw),
    "resume": lambda r, p, **kw: services.work_order_resume(note=p.get("text", ""), **kw),
    "resolve": lambda r, p, **kw: services.work_order_resolve(resolution=p.get("text", ""), **kw),
    "close": lambda r, p, **kw: services.work_order_close(resolution=p.get("text", ""), **kw),
    "reopen": lambda r, p, **kw: services.work_order_reopen(reason=p.get("text", ""), **kw),
    "cancel": lambda r, p, **kw: services.work_order_cancel(reason=p.get("text", ""), **kw),
    "assign": lambda r, p, **kw: services.work_order_assign(assignee_id=_int_or_none(p.get("assignee_id")) or -1,
                                                            note=p.get("text", ""), **kw),
    "transfer": lambda r, p, **kw: services.work_order_transfer(
        org_unit_code=p.get("org_unit_code", ""), reason=p.get("text", ""),
        assignee_id=_int_or_none(p.get("assignee_id")), **kw),
    "merge": lambda r, p, **kw: services.work_order_merge(into_number=p.get("into_number", ""),
                                                          reason=p.get("text", ""), **kw),
    "contact_again": lambda r, p, **kw: services.work_order_record_contact(
        channel=p.get("channel", "hotline"), note=p.get("text", ""), **kw),
    "task_force": lambda r, p, **kw: services.task_force_form(
        lead_id=_int_or_none(p.get("lead_id")) or -1,
        member_ids=[m for m in (_int_or_none(x) for x in p.getlist("member_ids")) if m], note=p.get("text", ""), **kw),
}


@staff_required(WORK)
@require_POST
def service_action(request, number: str, action: str):
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404
    try:
        result = handler(request, request.POST, actor=request.user, number=number, as_of=timezone.now())
    except GridcareError as exc:
        _error(request, exc)
        return redirect("web:service_order", number=number)
    messages.success(request, _("Done: %(action)s.") % {"action": str(ACTION_LABELS.get(action, action))})
    target = result.number if isinstance(result, WorkOrder) else number
    if selectors.work_order_get(user=request.user, number=target) is None:
        return redirect("web:service_home")  # transferred out of this user's sight
    return redirect("web:service_order", number=target)


ACTION_LABELS = {
    "accept": _lazy("accepted"), "contact": _lazy("contact recorded"),
    "arrive": _lazy("arrival recorded"), "plan": _lazy("plan recorded"),
    "reply": _lazy("reply recorded"), "note": _lazy("note added"),
    "wait": _lazy("waiting for the customer"), "resume": _lazy("resumed"),
    "resolve": _lazy("resolved"), "close": _lazy("closed"), "reopen": _lazy("reopened"),
    "cancel": _lazy("cancelled"), "assign": _lazy("assigned"), "transfer": _lazy("transferred"),
    "merge": _lazy("merged"), "contact_again": _lazy("contact logged"),
    "task_force": _lazy("task force formed"),
}


@staff_required(WORK)
@require_POST
def service_attach(request, number: str):
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file first."))
        return redirect("web:service_order", number=number)
    try:
        services.attachment_add(actor=request.user, number=number, name=upload.name, content=upload.read(),
                                as_of=timezone.now())
    except GridcareError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("File attached."))
    return redirect("web:service_order", number=number)


@staff_required(WORK)
@require_POST
def service_visit_complete(request, visit_id: int):
    visit = ReturnVisit.objects.select_related("work_order").filter(pk=visit_id).first()
    back = request.POST.get("next") or reverse("web:service_visits")
    if visit is None:
        raise Http404
    try:
        if request.POST.get("unreachable"):
            services.return_visit_unreachable(actor=request.user, visit_id=visit_id,
                                              note=request.POST.get("note", ""), as_of=timezone.now())
            messages.info(request, _("Attempt recorded."))
        else:
            answers = {q["code"]: request.POST.get(f"q_{q['code']}", "") for q in visit.questions}
            done = services.return_visit_complete(
                actor=request.user, visit_id=visit_id, answers=answers, as_of=timezone.now(),
                customer_requested_time=bool(request.POST.get("customer_requested_time")))
            if done.satisfied:
                messages.success(request, _("Return visit recorded: satisfied."))
            else:
                messages.warning(request, _("Return visit recorded: dissatisfied — the order was reopened."))
    except GridcareError as exc:
        _error(request, exc)
    return redirect(back if back.startswith("/") else reverse("web:service_visits"))


# -- supervisor pages -----------------------------------------------------------------------------
@staff_required(SUPERVISE)
def service_board(request):
    board = selectors.dashboard(user=request.user, as_of=timezone.now())
    return render(request, "web/service/board.html", {"board": board})


def _parse_day(value: str | None, default):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date() if value else default
    except ValueError:
        return default


@staff_required(SUPERVISE)
def service_breaches(request):
    today = timezone.localdate()
    start = _parse_day(request.GET.get("start"), today.replace(day=1))
    end = _parse_day(request.GET.get("end"), today + timedelta(days=1))
    tz = timezone.get_current_timezone()
    rows = selectors.breach_report(user=request.user, as_of=timezone.now(),
                                   start=datetime.combine(start, datetime.min.time(), tzinfo=tz),
                                   end=datetime.combine(end, datetime.min.time(), tzinfo=tz),
                                   org_unit_code=request.GET.get("org_unit", ""))
    totals = {"total": sum(r.total for r in rows), "breached": sum(r.breached for r in rows)}
    totals["rate"] = round((totals["total"] - totals["breached"]) / totals["total"], 4) if totals["total"] else None
    return render(request, "web/service/breaches.html", {"rows": rows, "start": start, "end": end,
                                                          "totals": totals, "org_unit": request.GET.get("org_unit", "")})


@staff_required(WORK)
def service_outages(request):
    form = OutageForm(request.POST or None)
    if request.method == "POST":
        if not can(request.user.role, SUPERVISE):
            messages.error(request, _("Only supervisors record outages."))
        elif form.is_valid():
            data = form.cleaned_data
            try:
                outage, sent = services.outage_create(actor=request.user, as_of=timezone.now(), data=services.OutageInput(
                    kind=data["kind"], title=data["title"], org_unit_code=data["org_unit_code"],
                    grid_cells=[c.strip() for c in data["grid_cells"].replace("，", ",").split(",")],
                    start_at=data["start_at"], end_at=data["end_at"], reason=data["reason"],
                    notice_override_reason=data["notice_override_reason"]))
            except GridcareError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, _("Outage recorded; %(n)s customer notices queued.") % {"n": sent})
                return redirect("web:service_outages")
    outages = selectors.outage_list(user=request.user, include_closed=request.GET.get("all") == "1")[:100]
    return render(request, "web/service/outages.html", {"form": mark_invalid(form), "outages": outages,
                                                         "can_supervise": can(request.user.role, SUPERVISE)})


@staff_required(SUPERVISE)
@require_POST
def service_outage_action(request, outage_id: int, action: str):
    try:
        if action == "restore":
            _outage, resolved = services.outage_restore(actor=request.user, outage_id=outage_id, as_of=timezone.now(),
                                                        note=request.POST.get("note", ""))
            messages.success(request, _("Supply restored; %(n)s repair orders resolved.") % {"n": resolved})
        elif action == "cancel":
            services.outage_cancel(actor=request.user, outage_id=outage_id, reason=request.POST.get("note", ""),
                                   as_of=timezone.now())
            messages.success(request, _("Outage cancelled; pending notices withdrawn."))
        else:
            raise Http404
    except GridcareError as exc:
        _error(request, exc)
    return redirect("web:service_outages")


@staff_required(WORK)
def service_visits(request):
    as_of = timezone.now()
    visits = selectors.return_visit_queue(user=request.user, as_of=as_of, due_only=request.GET.get("all") != "1")[:100]
    return render(request, "web/service/visits.html", {"visits": visits, "as_of": as_of,
                                                        "quiet": service_policy().return_visit.quiet_hours})


@staff_required(SUPERVISE)
def service_negative(request):
    form = NegativeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.negative_entry_create(actor=request.user, as_of=timezone.now(), **form.cleaned_data)
        except GridcareError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("Negative event recorded."))
            return redirect("web:service_negative")
    status = request.GET.get("status", NegativeListEntry.Status.OPEN)
    entries = selectors.negative_list(user=request.user, status=status, kind=request.GET.get("kind", ""))[:200]
    return render(request, "web/service/negative.html", {"form": mark_invalid(form), "entries": entries,
                                                          "status": status, "kinds": NegativeListEntry.Kind.choices})


@staff_required(SUPERVISE)
@require_POST
def service_negative_rectify(request, entry_id: int):
    try:
        services.negative_entry_rectify(actor=request.user, entry_id=entry_id,
                                        rectification=request.POST.get("rectification", ""), as_of=timezone.now())
    except GridcareError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Marked as rectified."))
    return redirect("web:service_negative")


@staff_required(WORK)
def service_cases(request):
    form = CaseForm(request.POST or None, initial={"number": request.GET.get("number", "")})
    if request.method == "POST":
        if not can(request.user.role, SUPERVISE):
            messages.error(request, _("Only supervisors publish cases."))
        elif form.is_valid():
            try:
                services.typical_case_create(actor=request.user, as_of=timezone.now(), **form.cleaned_data)
            except GridcareError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(request, _("Case published."))
                return redirect("web:service_cases")
    return render(request, "web/service/cases.html", {"form": mark_invalid(form),
                                                       "cases": selectors.typical_cases(user=request.user)[:100],
                                                       "can_supervise": can(request.user.role, SUPERVISE)})


# -- public survey --------------------------------------------------------------------------------
def survey(request, token: str):
    """The page an SMS survey link opens: no login, the token is the key."""
    visit = selectors.return_visit_by_token(token=token)
    if visit is None or visit.method != ReturnVisit.Method.SMS:
        raise Http404
    errors: dict[str, str] = {}
    error = ""
    answers = {}
    if request.method == "POST" and visit.status == ReturnVisit.Status.SENT:
        answers = {q["code"]: request.POST.get(f"q_{q['code']}", "") for q in visit.questions}
        try:
            services.return_visit_answer_survey(token=token, answers=answers, as_of=timezone.now())
        except GridcareError as exc:
            if exc.field and exc.field.startswith("answers."):
                errors[exc.field.split(".", 1)[1]] = exc.message
            else:
                error = exc.message
        else:
            return render(request, "web/service/survey_done.html", {"visit": visit})
    visit.refresh_from_db()
    return render(request, "web/service/survey.html", {"visit": visit, "errors": errors, "error": error,
                                                        "answers": answers, "scores": range(1, 6)})


# -- customer 360 panel ---------------------------------------------------------------------------
def _tickets_panel(request, view):
    orders = list(selectors.work_orders_for_customer(request.user, view.customer)[:10])
    return {"orders": orders, "customer": view.customer,
            "new_url": reverse("web:service_new") + (f"?account={view.accounts[0].account.number}"
                                                     if view.accounts else "")}


register_customer_panel(CustomerPanel(key="tickets", title=_lazy("Service requests"),
                                      template="web/service/_customer_panel.html", context=_tickets_panel,
                                      capability=WORK, order=30))

urlpatterns = [
    path("console/service/", service_home, name="service_home"),
    path("console/service/new/", service_new, name="service_new"),
    path("console/service/orders/<str:number>/", service_order, name="service_order"),
    path("console/service/orders/<str:number>/attach/", service_attach, name="service_attach"),
    path("console/service/orders/<str:number>/<str:action>/", service_action, name="service_action"),
    path("console/service/visits/", service_visits, name="service_visits"),
    path("console/service/visits/<int:visit_id>/", service_visit_complete, name="service_visit_complete"),
    path("console/service/board/", service_board, name="service_board"),
    path("console/service/reports/breaches/", service_breaches, name="service_breaches"),
    path("console/service/outages/", service_outages, name="service_outages"),
    path("console/service/outages/<int:outage_id>/<str:action>/", service_outage_action, name="service_outage_action"),
    path("console/service/negative/", service_negative, name="service_negative"),
    path("console/service/negative/<int:entry_id>/rectify/", service_negative_rectify,
         name="service_negative_rectify"),
    path("console/service/cases/", service_cases, name="service_cases"),
    path("s/<str:token>/", survey, name="service_survey"),
]


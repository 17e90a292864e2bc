"""Console: the customer visit programme (电力用户走访, seed 003) — my visits by stage, risk-customer
candidates, planning, each visit's §7.1 steps, coverage. Thin views over gridcare.visits."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from gridcare.core.errors import GridcareError
from gridcare.service.i18n import _, _lazy
from gridcare.visits import selectors, services
from gridcare.visits.models import Visit
from gridcare.visits.policy import REQUEST_KINDS, visits_policy
from gridcare.web.access import staff_required
from gridcare.web.forms import form_errors_from, mark_invalid

CAPABILITY = "visits.work"


class VisitForm(forms.Form):
    target_kind = forms.ChoiceField(label=_lazy("Visit target"))
    channel = forms.ChoiceField(label=_lazy("Channel"))
    planned_for = forms.DateField(label=_lazy("Planned for"), widget=forms.DateInput(attrs={"type": "date"}))
    account_number = forms.CharField(label=_lazy("Account number"), required=False, max_length=32)
    organisation = forms.CharField(label=_lazy("Organisation"), required=False, max_length=128)
    contact_name = forms.CharField(label=_lazy("Contact name"), required=False, max_length=64)
    contact_phone = forms.CharField(label=_lazy("Contact phone"), required=False, max_length=20)
    purpose = forms.CharField(label=_lazy("Purpose"), max_length=255)
    topics = forms.MultipleChoiceField(label=_lazy("Topics"), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = visits_policy()
        self.fields["target_kind"].choices = [(k, v[0]) for k, v in policy.target_kinds.items()]
        self.fields["channel"].choices = list(policy.channels.items())
        self.fields["topics"].choices = list(policy.topics.items())
        for name, field in self.fields.items():
            if name != "topics":
                field.widget.attrs.setdefault("class", "form-select" if isinstance(field.widget, forms.Select)
                                              else "form-control")


def _error(request, exc: GridcareError) -> None:
    messages.error(request, f"{exc.message}" + (f" ({exc.field})" if exc.field else ""))


@staff_required(CAPABILITY)
def visits_home(request):
    form = VisitForm(request.POST or None, initial={"planned_for": timezone.localdate() + timedelta(days=1),
                                                    "channel": "onsite", "target_kind": "key_customer"})
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.visit_create(actor=request.user, as_of=timezone.now(),
                                          data=services.VisitInput(**form.cleaned_data))
        except GridcareError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("Visit %(number)s planned.") % {"number": visit.number})
            return redirect("web:visit_detail", visit_id=visit.pk)
    now = timezone.now()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    stage = request.GET.get("stage", "")
    ctx = {"form": mark_invalid(form), "stage": stage, "stages": Visit.Stage.choices,
           "visits": selectors.visit_list(user=request.user, stage=stage, open_only=not stage)[:200],
           "candidates": selectors.risk_candidates(user=request.user, as_of=now, limit=20),
           "coverage": selectors.coverage(user=request.user, start=start, end=start + timedelta(days=32)),
           "policy": visits_policy()}
    return render(request, "web/visits/home.html", ctx)


@staff_required(CAPABILITY)
@require_POST
def visits_plan_risk(request):
    try:
        created = services.risk_visits_plan(actor=request.user, as_of=timezone.now(),
                                            planned_for=timezone.localdate() + timedelta(days=3))
    except GridcareError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("%(n)s risk-customer visits planned.") % {"n": len(created)})
    return redirect("web:visits_home")


@staff_required(CAPABILITY)
def visit_detail(request, visit_id: int):
    visit = selectors.visit_get(user=request.user, visit_id=visit_id)
    if visit is None:
        raise Http404
    policy = visits_policy()
    return render(request, "web/visits/detail.html", {
        "visit": visit, "policy": policy, "checklist": policy.checklist.get(visit.channel, ()),
        "target_label": policy.target_kinds.get(visit.target_kind, (visit.target_kind,))[0],
        "channel_label": policy.channels.get(visit.channel, visit.channel),
        "topic_labels": [policy.topics.get(t, t) for t in visit.topics], "request_kinds": REQUEST_KINDS,
        "request_rows": range(3)})


def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise GridcareError(_("not a date and time"), field="when") from None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


@staff_required(CAPABILITY)
@require_POST
def visit_action(request, visit_id: int, action: str):
    p = request.POST
    now = timezone.now()
    asked = bool(p.get("customer_requested_time"))
    try:
        if action == "prepare":
            services.visit_prepare(actor=request.user, visit_id=visit_id, checklist=p.getlist("checklist"), as_of=now)
        elif action == "appoint":
            services.visit_appoint(actor=request.user, visit_id=visit_id, appointment_at=_when(p.get("when")),
                                   as_of=now, customer_requested_time=asked)
        elif action == "record":
            requests = [(p.get(f"kind_{i}", ""), p.get(f"text_{i}", "")) for i in range(3)
                        if p.get(f"text_{i}", "").strip()]
            services.visit_record(actor=request.user, visit_id=visit_id, visited_at=_when(p.get("when")), as_of=now,
                                  topics=p.getlist("topics"), policy_notes=p.get("policy_notes", ""),
                                  needs=p.get("needs", ""), requests=requests, customer_requested_time=asked)
        elif action == "strategy":
            services.visit_set_strategy(actor=request.user, visit_id=visit_id, strategy=p.get("strategy", ""), as_of=now)
        elif action == "follow_up":
            score = p.get("satisfaction")
            services.visit_follow_up(actor=request.user, visit_id=visit_id, as_of=now,
                                     satisfaction=int(score) if score and score.isdigit() else None,
                                     note=p.get("note", ""), unreachable_reason=p.get("unreachable_reason", ""),
                                     customer_requested_time=asked)
        elif action == "archive":
            services.visit_archive(actor=request.user, visit_id=visit_id, as_of=now)
        elif action == "cancel":
            services.visit_cancel(actor=request.user, visit_id=visit_id, reason=p.get("reason", ""), as_of=now)
        else:
            raise Http404
    except GridcareError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Saved."))
    return redirect("web:visit_detail", visit_id=visit_id)


urlpatterns = [
    path("console/visits/", visits_home, name="visits_home"),
    path("console/visits/plan-risk/", visits_plan_risk, name="visits_plan_risk"),
    path("console/visits/<int:visit_id>/", visit_detail, name="visit_detail"),
    path("console/visits/<int:visit_id>/<str:action>/", visit_action, name="visit_action"),
]

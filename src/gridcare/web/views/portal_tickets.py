"""Portal: the customer's own service requests (工单) — file one (with a photo), follow its progress
and the replies, and answer the return visit. Staff history stays internal: the customer sees the
public events only (gridcare.service.selectors.PUBLIC_EVENT_KINDS)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone

from gridcare.core.errors import GridcareError
from gridcare.customers import selectors as customer_selectors
from gridcare.service import selectors, services
from gridcare.service.i18n import _
from gridcare.web.access import portal_required
from gridcare.web.forms import form_errors_from, mark_invalid
from gridcare.web.views.service import PortalOrderForm


@portal_required
def portal_tickets(request):
    accounts = customer_selectors.account_list(user=request.user, as_of=timezone.localdate())
    form = PortalOrderForm(request.POST or None, request.FILES or None, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        data = services.WorkOrderInput(channel="portal", description=form.cleaned_data["description"],
                                       category=form.cleaned_data["category"],
                                       account_number=form.cleaned_data["account_number"],
                                       contact_phone=form.cleaned_data["contact_phone"])
        try:
            order = services.work_order_create(actor=request.user, data=data, as_of=timezone.now(),
                                               attachments=[(upload.name, upload.read())] if upload else ())
        except GridcareError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, _("Your request %(number)s has been received.") % {"number": order.number})
            return redirect("web:portal_ticket", number=order.number)
    orders = selectors.work_order_list(user=request.user)[:100]
    return render(request, "web/service/portal_tickets.html", {"orders": orders, "form": mark_invalid(form)})


@portal_required
def portal_ticket(request, number: str):
    order = selectors.work_order_get(user=request.user, number=number)
    if order is None:
        raise Http404
    visit = next((v for v in order.return_visits.all() if v.method == "sms" and v.status == "sent"), None)
    return render(request, "web/service/portal_ticket.html", {
        "order": order, "events": selectors.public_events(order), "attachments": list(order.attachments.all()),
        "survey_visit": visit})


urlpatterns = [
    path("portal/tickets/", portal_tickets, name="portal_tickets"),
    path("portal/tickets/<str:number>/", portal_ticket, name="portal_ticket"),
]

"""Console: customer search, the customer 360 page, create/edit forms and the audited reveal.

Other domains add sections to the 360 page with `register_customer_panel` (bills, payments,
tickets, ...). Until one is registered for a placeholder key, the page shows a marked empty
section so the layout and the extension point are visible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.access.roles import can, may_unmask
from gridcare.core.errors import GridcareError, NotFound, PermissionDenied
from gridcare.core.masking import MASKERS
from gridcare.customers import selectors, services
from gridcare.web.access import staff_required
from gridcare.web.forms import CustomerForm, CustomerSearchForm, form_errors_from, mark_invalid

PAGE_SIZE = 25


@dataclass(frozen=True)
class CustomerPanel:
    """A section of the customer 360 page contributed by another domain.

    `context(request, view)` returns the template context (view is selectors.Customer360);
    return None to hide the panel for this customer."""

    key: str
    title: str
    template: str
    context: Callable
    capability: str | None = None
    order: int = 100


CUSTOMER_PANELS: dict[str, CustomerPanel] = {}
# Sections the page reserves for domains still being built: key -> title.
PLACEHOLDER_PANELS = {
    "bills": gettext_lazy("Bills"),
    "payments": gettext_lazy("Payments and balance"),
    "tickets": gettext_lazy("Service requests"),
}


def register_customer_panel(panel: CustomerPanel) -> None:
    CUSTOMER_PANELS[panel.key] = panel


def _panels(request, view) -> list[dict]:
    out = []
    for panel in sorted(CUSTOMER_PANELS.values(), key=lambda p: (p.order, p.key)):
        if panel.capability and not can(request.user.role, panel.capability):
            continue
        ctx = panel.context(request, view)
        if ctx is not None:
            out.append({"key": panel.key, "title": panel.title, "template": panel.template, "context": ctx})
    return out


@staff_required("customers.view")
def customer_list(request):
    units = selectors.org_unit_choices(user=request.user)
    form = CustomerSearchForm(request.GET or None, org_units=units)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.customer_list(user=request.user, q=filters.get("q", ""), category=filters.get("category", ""),
                                 org_unit_code=filters.get("org_unit", ""), kind=filters.get("kind", ""))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"customer": c, "name": selectors.shown(user=request.user, record=c, field="name"),
             "phone": selectors.shown(user=request.user, record=c, field="phone")} for c in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {"form": form, "page": page, "rows": rows, "query": query.urlencode(),
           "can_edit": can(request.user.role, "customers.edit")}
    template = "web/customers/_results.html" if request.htmx and not request.htmx.boosted else "web/customers/list.html"
    return render(request, template, ctx)


@staff_required("customers.view")
def customer_detail(request, customer_id: int):
    view = selectors.customer_360(user=request.user, customer_id=customer_id, as_of=timezone.localdate())
    if view is None:
        raise Http404
    ctx = {
        "view": view, "c": view.customer, "can_edit": can(request.user.role, "customers.edit"),
        "panels": _panels(request, view),
        "placeholders": [(k, t) for k, t in PLACEHOLDER_PANELS.items() if k not in CUSTOMER_PANELS],
    }
    return render(request, "web/customers/detail.html", ctx)


@staff_required("customers.edit")
def customer_create(request):
    units = selectors.org_unit_choices(user=request.user)
    form = CustomerForm(request.POST or None, org_units=units)
    if request.method == "POST" and form.is_valid():
        try:
            data = services.CustomerData(**form.cleaned_data)
            customer = services.customer_create(data=data, actor=request.user, as_of=timezone.now())
        except GridcareError as exc:
            form_errors_from(form, exc)
        else:
            return redirect("web:customer_detail", customer_id=customer.pk)
    return render(request, "web/customers/form.html", {"form": mark_invalid(form), "creating": True})


@staff_required("customers.edit")
def customer_edit(request, customer_id: int):
    customer = selectors.customer_get(user=request.user, customer_id=customer_id)
    if customer is None:
        raise Http404
    units = selectors.org_unit_choices(user=request.user)
    hidden = {f: MASKERS[f](getattr(customer, f)) for f in services.REVEALABLE["customer"]
              if getattr(customer, f) and selectors.is_personal(record=customer, field=f)
              and not may_unmask(request.user.role, f)}
    if request.method == "POST":
        form = CustomerForm(request.POST, org_units=units, masked=hidden)
        if form.is_valid():
            try:
                services.customer_patch(customer_id=customer.pk, changes=form.changes(), actor=request.user,
                                        as_of=timezone.now())
            except GridcareError as exc:
                form_errors_from(form, exc)
            else:
                return redirect("web:customer_detail", customer_id=customer.pk)
    else:
        initial = services.customer_edit_values(user=request.user, customer=customer, as_of=timezone.now())
        form = CustomerForm(initial=initial, org_units=units, masked=hidden)
    return render(request, "web/customers/form.html", {"form": mark_invalid(form), "creating": False, "c": customer})


@require_POST
@staff_required("customers.view")
def reveal(request, object_type: str, object_id: int, field: str):
    """HTMX target of the "显示" button: the clear value, after writing the audit event."""
    try:
        value = services.personal_data_reveal(user=request.user, object_type=object_type, object_id=object_id,
                                              field=field, as_of=timezone.now())
    except NotFound:
        raise Http404 from None
    except PermissionDenied as exc:
        return HttpResponseForbidden(exc.message)
    except GridcareError as exc:
        return HttpResponse(exc.message, status=exc.status)
    return HttpResponse(format_html('<span class="pd revealed" data-testid="revealed-{}" title="{}">{}</span>',
                                    field, _("viewed in clear; recorded in the audit log"), value))


urlpatterns = [
    path("console/customers/", customer_list, name="customer_list"),
    path("console/customers/new/", customer_create, name="customer_create"),
    path("console/customers/<int:customer_id>/", customer_detail, name="customer_detail"),
    path("console/customers/<int:customer_id>/edit/", customer_edit, name="customer_edit"),
    path("console/reveal/<str:object_type>/<int:object_id>/<str:field>/", reveal, name="reveal"),
]

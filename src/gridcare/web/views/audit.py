"""Console: the audit log (every write and every reveal of personal data), for administrators."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path

from gridcare.access import selectors
from gridcare.access.labels import object_type_label
from gridcare.web.access import staff_required
from gridcare.web.forms import AuditFilterForm

PAGE_SIZE = 50


@staff_required("audit.view")
def audit_log(request):
    form = AuditFilterForm(request.GET or None, object_types=selectors.audit_object_types())
    f = form.cleaned_data if form.is_valid() else {}
    qs = selectors.audit_event_list(
        action=f.get("action"), object_type=f.get("object_type"), object_id=f.get("object_id"),
        actor=f.get("actor"), q=f.get("q"), date_from=f.get("date_from"), date_to=f.get("date_to"),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.object_label = object_type_label(event.object_type)
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {"form": form, "page": page, "query": query.urlencode()}
    template = "web/audit/_results.html" if request.htmx and not request.htmx.boosted else "web/audit/list.html"
    return render(request, template, ctx)


urlpatterns = [path("console/audit/", audit_log, name="audit_log")]

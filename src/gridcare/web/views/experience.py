"""Console customer experience (seed 000): tag and risk overview, the ranked negative-experience
risk list for account managers, and the portrait section on the customer 360 page."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy

from gridcare.customers.selectors import shown
from gridcare.experience import selectors
from gridcare.experience.models import RiskScore
from gridcare.experience.policy import experience_rules
from gridcare.web.access import staff_required
from gridcare.web.views.customers import CustomerPanel, register_customer_panel

VIEW = "customers.view"
PAGE_SIZE = 50


@staff_required(VIEW)
def experience_home(request):
    band = request.GET.get("band", "")
    band = band if band in RiskScore.Band.values else ""
    tag = request.GET.get("tag", "")
    tag = tag if experience_rules().tag(tag) else ""
    qs = selectors.risk_list(user=request.user, band=band, tag=tag)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    account_ids = [r.account_id for r in page.object_list]
    tags = {p.account.pk: p.tags for p in selectors.portraits(user=request.user, account_ids=account_ids)}
    rows = [{"risk": r, "name": shown(user=request.user, record=r.customer, field="name"),
             "factors": selectors.factor_views(r.factors)[:3], "tags": tags.get(r.account_id, [])}
            for r in page.object_list]
    ctx = {"rows": rows, "page": page, "band": band, "tag": tag, "bands": RiskScore.Band.choices,
           "tag_counts": selectors.tag_counts(user=request.user),
           "band_counts": selectors.band_counts(user=request.user)}
    return render(request, "web/experience/home.html", ctx)


def _panel_context(request, view):
    ids = [a.account.pk for a in view.accounts]
    if not ids:
        return None
    return {"portraits": selectors.portraits(user=request.user, account_ids=ids)}


register_customer_panel(CustomerPanel(key="experience", title=gettext_lazy("Customer portrait"),
                                      template="web/experience/_panel.html", context=_panel_context,
                                      capability=VIEW, order=15))

urlpatterns = [
    path("console/experience/", experience_home, name="experience_home"),
]

"""Portal (customer role): own and authorised accounts, and one account's detail.

Other domains add sections to the account page with `register_account_panel` and portal pages
of their own (bills, payments, tickets, assistant) in their own views modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy

from gridcare.customers import selectors
from gridcare.web.access import portal_required


@dataclass(frozen=True)
class AccountPanel:
    """A section of the portal account page; `context(request, account_view)` returns its context or None."""

    key: str
    title: str
    template: str
    context: Callable
    order: int = 100


ACCOUNT_PANELS: dict[str, AccountPanel] = {}
PLACEHOLDER_PANELS = {"bills": gettext_lazy("Bills"), "payments": gettext_lazy("Payments")}


def register_account_panel(panel: AccountPanel) -> None:
    ACCOUNT_PANELS[panel.key] = panel


def _relation(user, account) -> str:
    return "own" if account.customer_id == user.customer_id else "authorised"


@portal_required
def portal_home(request):
    today = timezone.localdate()
    accounts = selectors.account_list(user=request.user, as_of=today)
    scopes = {a.account_id: a for a in selectors.authorizations_of(user=request.user, as_of=today)}
    rows = [{"account": a, "relation": _relation(request.user, a), "authorization": scopes.get(a.pk),
             "holder": selectors.shown(user=request.user, record=a.customer, field="name")} for a in accounts]
    return render(request, "web/portal/home.html", {"rows": rows})


@portal_required
def portal_account(request, account_id: int):
    today = timezone.localdate()
    account = selectors.account_get(user=request.user, account_id=account_id, as_of=today)
    if account is None:
        raise Http404
    view = selectors.account_view(user=request.user, account=account)
    panels = []
    for panel in sorted(ACCOUNT_PANELS.values(), key=lambda p: (p.order, p.key)):
        ctx = panel.context(request, view)
        if ctx is not None:
            panels.append({"key": panel.key, "title": panel.title, "template": panel.template, "context": ctx})
    ctx = {
        "view": view, "account": account, "relation": _relation(request.user, account),
        "holder": selectors.shown(user=request.user, record=account.customer, field="name"),
        "panels": panels,
        "placeholders": [(k, t) for k, t in PLACEHOLDER_PANELS.items() if k not in ACCOUNT_PANELS],
    }
    return render(request, "web/portal/account.html", ctx)


urlpatterns = [
    path("portal/", portal_home, name="portal_home"),
    path("portal/accounts/<int:account_id>/", portal_account, name="portal_account"),
]

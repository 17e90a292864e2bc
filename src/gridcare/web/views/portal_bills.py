"""Portal (customer role): bills of the customer's own and authorised accounts — list and history,
the bill page with its explanation ("why did my bill change"), the correction trail (credit note and
rebill side by side) and the PDF download. Customers only ever see issued bills.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy

from gridcare.billing import selectors
from gridcare.billing.document import bill_pdf
from gridcare.customers import selectors as customer_selectors
from gridcare.web.access import portal_required
from gridcare.web.views.portal import AccountPanel, register_account_panel


@portal_required
def portal_bills(request):
    today = timezone.localdate()
    groups = []
    for account in customer_selectors.account_list(user=request.user, as_of=today):
        bills = list(selectors.bill_list_for_account(user=request.user, account_id=account.pk, as_of=today)[:36])
        history = selectors.bill_history(user=request.user, account_id=account.pk)
        top = max((h.total_fen for h in history), default=0)
        groups.append({"account": account, "bills": bills, "history": history, "top": top})
    return render(request, "web/portal/bills.html", {"groups": groups})


def _document(request, bill_id: int):
    document = selectors.bill_document(user=request.user, bill_id=bill_id)
    if document is None:
        raise Http404
    return document


@portal_required
def portal_bill(request, bill_id: int):
    return render(request, "web/portal/bill.html", {"document": _document(request, bill_id)})


@portal_required
def portal_bill_pdf(request, bill_id: int):
    document = _document(request, bill_id)
    response = HttpResponse(bill_pdf(document=document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.bill.number}.pdf"'
    return response


def _bills_panel(request, view) -> dict:
    latest = selectors.latest_bill(user=request.user, account_id=view.account.pk)
    return {"latest": latest, "account": view.account}


register_account_panel(AccountPanel(key="bills", title=gettext_lazy("Bills"), template="web/portal/_bills_panel.html",
                                    context=_bills_panel, order=10))

urlpatterns = [
    path("portal/bills/", portal_bills, name="portal_bills"),
    path("portal/bills/<int:bill_id>/", portal_bill, name="portal_bill"),
    path("portal/bills/<int:bill_id>/pdf/", portal_bill_pdf, name="portal_bill_pdf"),
]

"""Portal: balance, open bills and payment history of the customer's accounts, and paying a bill
through the built-in test gateway, which signs its callback with the same protocol (HMAC,
timestamp, transaction id) as a real gateway and sends it through the same handler.

Also adds a "Payments" panel to the portal account page.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridcare.core.errors import GridcareError
from gridcare.core.money import yuan_to_fen
from gridcare.customers.selectors import account_list
from gridcare.payments import selectors, services
from gridcare.payments.models import CheckoutIntent
from gridcare.web.access import portal_required
from gridcare.web.views.portal import AccountPanel, register_account_panel


@portal_required
def portal_payments(request):
    today = timezone.localdate()
    accounts = list(account_list(user=request.user, as_of=today))
    # Bills issued a moment ago reach the ledger before the customer pays (idempotent).
    services.receivables_post_issued_bills(as_of=timezone.now(), account_ids=[a.pk for a in accounts])
    rows = [{"account": a, "balance": selectors.account_balance(account_id=a.pk),
             "items": selectors.open_items(account_id=a.pk, as_of_date=today)} for a in accounts]
    history = selectors.payment_list(user=request.user)[:50]
    return render(request, "web/payments/portal.html", {"rows": rows, "history": history})


@require_POST
@portal_required
def portal_pay(request):
    try:
        account_id = int(request.POST.get("account_id", ""))
        charge_id = int(request.POST["charge_id"]) if request.POST.get("charge_id") else None
        amount = Decimal(request.POST.get("amount", ""))
        if amount <= 0 or amount.as_tuple().exponent < -2:
            raise InvalidOperation
        intent = services.checkout_create(user=request.user, account_id=account_id, amount_fen=yuan_to_fen(amount),
                                          charge_id=charge_id, as_of=timezone.now())
    except (ValueError, InvalidOperation):
        messages.error(request, _("Please enter an amount in yuan with at most two decimals."))
        return redirect("web:portal_payments")
    except GridcareError as exc:
        messages.error(request, exc.message)
        return redirect("web:portal_payments")
    return redirect("web:portal_testpay", number=intent.number)


@portal_required
def portal_testpay(request, number: str):
    """The built-in test gateway's checkout page (stands in for a real gateway's hosted page)."""
    intent = CheckoutIntent.objects.select_related("account").filter(number=number, created_by=request.user).first()
    if intent is None:
        raise Http404
    if request.method == "POST":
        status = "success" if request.POST.get("decision") == "pay" else "closed"
        now = timezone.now()
        try:
            body, ts, sig = services.sandbox_gateway_callback(checkout_number=intent.number, as_of=now, status=status)
            result = services.gateway_callback_handle(gateway=intent.gateway, body=body, timestamp=ts,
                                                      signature_hex=sig, as_of=now)
        except GridcareError as exc:
            messages.error(request, exc.message)
            return redirect("web:portal_payments")
        if result.status in ("posted", "duplicate") and result.payment_id:
            messages.success(request, _("Payment received. Thank you."))
        else:
            messages.info(request, _("The payment was cancelled."))
        return redirect("web:portal_payments")
    return render(request, "web/payments/testpay.html", {"intent": intent})


def _panel(request, view):
    account = view.account
    return {"balance": selectors.account_balance(account_id=account.pk),
            "payments": selectors.payment_list(account_id=account.pk)[:5]}


register_account_panel(AccountPanel(key="payments", title=gettext_lazy("Payments"),
                                    template="web/payments/portal_panel.html", context=_panel, order=50))

urlpatterns = [
    path("portal/payments/", portal_payments, name="portal_payments"),
    path("portal/payments/pay/", portal_pay, name="portal_pay"),
    path("portal/payments/testpay/<str:number>/", portal_testpay, name="portal_testpay"),
]

"""Prepayment accounts (预付费): settings and the low-balance alert (余额不足提醒).

A prepaid account is an ordinary ledger account whose customer keeps credit on it: top-ups are
payments that leave credit, and every new charge is paid from that credit at once (charges
module). After each deduction the remaining credit is compared with the threshold (the account's
own, else the policy's per-category default) and one alert a day at most goes through the
notifications outbox; a top-up back above the threshold re-arms it.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from gridcare.access.models import User
from gridcare.core.errors import NotFound, ValidationFailed
from gridcare.core.money import format_yuan
from gridcare.customers.models import Account
from gridcare.payments.models import AccountLedger
from gridcare.payments.policy import payments_policy
from gridcare.payments.services._core import header_for_update, local_date, require


def threshold_of(header: AccountLedger, category: str) -> int:
    if header.low_balance_fen is not None:
        return header.low_balance_fen
    return payments_policy().low_balance_for(category)


def low_balance_check(*, header: AccountLedger, as_of: datetime) -> bool:
    """Queue the alert if the prepaid credit fell below the threshold and none was sent since the
    last top-up. The caller holds the header lock. Returns whether an alert was queued."""
    from gridcare.notifications.services import message_enqueue

    account = Account.objects.select_related("customer").get(pk=header.account_id)
    credit = max(-header.balance_fen, 0)
    threshold = threshold_of(header, account.category)
    if credit >= threshold:
        if header.low_balance_alerted_on is not None:
            header.low_balance_alerted_on = None
            header.save(update_fields=["low_balance_alerted_on"])
        return False
    if header.low_balance_alerted_on is not None:
        return False
    today = local_date(as_of)
    policy = payments_policy()
    phone = account.customer.phone or ""
    header.low_balance_alerted_on = today
    header.save(update_fields=["low_balance_alerted_on"])
    try:
        message_enqueue(channel=policy.alert_channel, template="prepay_low_balance", recipient=phone,
                        context={"account": account.number, "balance": format_yuan(credit),
                                 "threshold": format_yuan(threshold), "owed": format_yuan(max(header.balance_fen, 0))},
                        as_of=as_of, purpose="prepay_low_balance",
                        dedupe_key=f"payments:lowbal:{account.pk}:{today.isoformat()}",
                        object_type="account", object_id=account.pk)
    except ValidationFailed:
        return False  # no reachable number: the flag still stops retries until the next top-up
    return True


@transaction.atomic
def prepay_configure(*, account_id: int, prepaid: bool, low_balance_fen: int | None, actor: User | None,
                     as_of: datetime) -> AccountLedger:
    """Turn prepayment on or off for an account and set its own alert threshold (None: policy default)."""
    require(actor, "payments.collect")
    if not Account.objects.filter(pk=account_id).exists():
        raise NotFound(f"account {account_id} not found", field="account_id")
    if low_balance_fen is not None and low_balance_fen < 0:
        raise ValidationFailed("the threshold must be ≥ 0", field="low_balance_fen")
    header = header_for_update(account_id)
    header.prepaid = prepaid
    header.low_balance_fen = low_balance_fen
    header.updated_at = as_of
    header.save(update_fields=["prepaid", "low_balance_fen", "updated_at"])
    return header

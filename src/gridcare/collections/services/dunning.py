"""Tiered dunning (智能催费, T/CI 1281 §7.9): reminders before the due date, on it and at overdue
stages, by SMS and e-mail through the notifications outbox (which holds SMS back in quiet hours)
and by call tasks for agents (never scheduled in quiet hours).

Each stage fires once per bill and channel (unique `Notice`), so running the job twice a day, or
again after a crash, sends nothing twice. Overdue stages follow the account's oldest unpaid bill
only, so a customer with three unpaid bills gets one reminder per stage, not three.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from gridcare.collections.models import CallTask, Notice
from gridcare.collections.policy import Stage, collections_policy
from gridcare.collections.selectors import OpenItem, accounts_with_open_promise, open_items
from gridcare.collections.services._common import calendar, email_of, local_date, mobile_of, yuan
from gridcare.customers.models import Account
from gridcare.notifications import services as outbox
from gridcare.notifications.policy import outbox_policy
from gridcare.payments.models import Charge

Progress = Callable[[int, int], None]


@dataclass
class DunningResult:
    accounts: int = 0
    queued: int = 0
    calls: int = 0
    skipped: int = 0
    by_stage: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _context(account: Account, item: OpenItem, arrears_fen: int, stage: Stage, today) -> dict[str, str]:
    return {"account": account.number, "name": account.customer.name, "amount": yuan(arrears_fen),
            "bill_amount": yuan(item.outstanding_fen), "period": item.period_code or item.reference,
            "due": item.due_date.isoformat(), "days": str(max((today - item.due_date).days, 0)),
            "stage": stage.label}


def _step(*, account: Account, item: OpenItem, stage: Stage, channel: str, arrears_fen: int,
          as_of: datetime, result: DunningResult) -> None:
    today = local_date(as_of)
    if Notice.objects.filter(charge_id=item.charge_id, stage=stage.code, channel=channel).exists():
        return
    customer = account.customer
    notice = Notice(account=account, charge_id=item.charge_id, stage=stage.code, channel=channel,
                    arrears_fen=arrears_fen, business_date=today, created_at=as_of,
                    outcome=Notice.Outcome.SKIPPED)
    recipient = {"sms": mobile_of(customer), "email": email_of(customer), "call": customer.phone}[channel]
    if not recipient:
        notice.skip_reason = {"sms": "no mobile number", "email": "no e-mail address",
                              "call": "no phone number"}[channel]
    try:
        with transaction.atomic():
            if recipient and channel in ("sms", "email"):
                notice.message = outbox.message_enqueue(
                    channel=channel, template=stage.template, context=_context(account, item, arrears_fen, stage, today),
                    recipient=recipient, as_of=as_of, purpose="dunning",
                    dedupe_key=f"dunning:{item.charge_id}:{stage.code}:{channel}",
                    object_type="charge", object_id=item.charge_id)
                notice.outcome = Notice.Outcome.QUEUED
            notice.save()
            if recipient and channel == "call":
                start = outbox_policy().quiet_hours.next_allowed(as_of)
                due = calendar().add(start, collections_policy().dunning.call_due_within)
                CallTask.objects.create(notice=notice, account=account, org_unit_id=account.org_unit_id,
                                        phone=recipient, scheduled_at=start, due_at=due)
                notice.outcome = Notice.Outcome.CALL_TASK
                notice.save(update_fields=["outcome"])
    except IntegrityError:  # a concurrent run took this step
        return
    if notice.outcome == Notice.Outcome.QUEUED:
        result.queued += 1
    elif notice.outcome == Notice.Outcome.CALL_TASK:
        result.calls += 1
    else:
        result.skipped += 1
    result.by_stage[stage.code] += 1


def _due_stages(item: OpenItem, today, *, catch_up: int) -> list[Stage]:
    """The stage whose day is the latest one reached, if reached at most `catch_up` days ago.
    An earlier stage missed (job down, bill issued late) is not sent once a later one is due."""
    reached = [s for s in collections_policy().dunning.stages if item.due_date + timedelta(days=s.offset_days) <= today]
    if not reached:
        return []
    latest = reached[-1]
    return [latest] if today <= item.due_date + timedelta(days=latest.offset_days + catch_up) else []


def dunning_run(*, as_of: datetime, progress: Progress | None = None) -> DunningResult:
    """Take every dunning step due on `as_of`'s business date. Idempotent; each account commits on
    its own so an interrupted run loses nothing already sent."""
    policy = collections_policy().dunning
    today = local_date(as_of)
    horizon = today + timedelta(days=max(0, -min(s.offset_days for s in policy.stages)))
    items = open_items(kinds=("bill",), due_on_or_before=horizon)
    arrears: dict[int, int] = defaultdict(int)
    for item in open_items(due_on_or_before=today):
        if item.due_date < today or item.kind == Charge.Kind.LATE_FEE:
            arrears[item.account_id] += item.outstanding_fen
    by_account: dict[int, list[OpenItem]] = defaultdict(list)
    for item in items:
        by_account[item.account_id].append(item)
    accounts = Account.objects.select_related("customer").in_bulk(list(by_account))
    promised_accounts = accounts_with_open_promise(as_of_date=today)
    result = DunningResult()
    total = len(by_account)
    for n, (account_id, bills) in enumerate(sorted(by_account.items()), start=1):
        account = accounts[account_id]
        result.accounts += 1
        oldest = bills[0]
        promised = account_id in promised_accounts
        for item in bills:
            for stage in _due_stages(item, today, catch_up=policy.catch_up_days):
                if stage.overdue and (item.charge_id != oldest.charge_id or promised):
                    continue
                owed = arrears[account_id] if stage.overdue else item.outstanding_fen
                if owed < max(policy.min_amount_fen, stage.min_amount_fen):
                    continue
                for channel in stage.channels:
                    _step(account=account, item=item, stage=stage, channel=channel, arrears_fen=owed, as_of=as_of,
                          result=result)
        if progress is not None:
            progress(n, total)
    return result


@transaction.atomic
def call_tasks_cancel_paid(*, as_of: datetime) -> int:
    """Open call tasks for accounts no longer in arrears are cancelled (nobody calls a payer)."""
    today = local_date(as_of)
    open_tasks = list(CallTask.objects.select_for_update().filter(status=CallTask.Status.OPEN))
    if not open_tasks:
        return 0
    owing = {i.account_id for i in open_items(account_ids={t.account_id for t in open_tasks},
                                              due_on_or_before=today)}
    cancelled = 0
    for task in open_tasks:
        if task.account_id not in owing:
            task.status = CallTask.Status.CANCELLED
            task.outcome_note = "paid before the call"
            task.done_at = as_of
            task.save(update_fields=["status", "outcome_note", "done_at"])
            cancelled += 1
    return cancelled

"""Payment promises (承诺缴费) and the outcome of call tasks, where promises are usually made."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gridcare.access.models import User
from gridcare.collections.models import CallTask, Promise
from gridcare.collections.policy import collections_policy
from gridcare.collections.selectors import account_arrears, open_items
from gridcare.collections.services._common import UnableToChangeCase, local_date, require
from gridcare.core.errors import Conflict, NotFound, ValidationFailed
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q

CAPABILITY = "customers.view"


def _account(actor: User | None, account_id: int) -> Account:
    qs = Account.objects.select_for_update()
    if actor is not None:
        qs = qs.filter(account_scope_q(user=actor))
    account = qs.filter(pk=account_id).first()
    if account is None:
        raise NotFound(_("account %(id)s not found") % {"id": account_id}, field="account_id")
    return account


@transaction.atomic
def promise_record(*, actor: User | None, account_id: int, promised_date: date, amount_fen: int, as_of: datetime,
                   note: str = "", channel: str = "") -> Promise:
    """Record a promise to pay by `promised_date`. Raises ValidationFailed (promised_date, amount_fen),
    Conflict (an open promise exists), NotFound (account)."""
    require(actor, CAPABILITY)
    account = _account(actor, account_id)
    policy = collections_policy().dunning
    today = local_date(as_of)
    if promised_date < today:
        raise ValidationFailed(_("the promised date is in the past"), field="promised_date")
    if promised_date > today + timedelta(days=policy.promise_max_days_ahead):
        raise ValidationFailed(_("at most %(n)s days ahead") % {"n": policy.promise_max_days_ahead}, field="promised_date")
    arrears = account_arrears(account_id=account.pk, as_of_date=today)
    if arrears <= 0:
        raise ValidationFailed(_("the account has no arrears to promise"), field="account_id")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValidationFailed(_("the amount must be a positive number of fen"), field="amount_fen")
    if amount_fen > arrears:
        raise ValidationFailed(_("more than the arrears (%(fen)s fen)") % {"fen": arrears}, field="amount_fen")
    oldest = next(i for i in open_items(kinds=("bill", "late_fee"), account_ids=[account.pk], due_on_or_before=today))
    made = Promise.objects.filter(charge_id=oldest.charge_id).exclude(status=Promise.Status.CANCELLED).count()
    if made >= policy.promise_max_per_bill:
        raise ValidationFailed(_("%(made)s promises were already made for this bill; the limit is %(limit)s")
                               % {"made": made, "limit": policy.promise_max_per_bill}, field="promised_date")
    if len(note) > 255:
        raise ValidationFailed(_("note is longer than 255 characters"), field="note")
    try:
        with transaction.atomic():
            return Promise.objects.create(
                account=account, charge_id=oldest.charge_id, promised_date=promised_date, amount_fen=amount_fen,
                arrears_fen=arrears, channel=channel[:16], note=note, recorded_by=actor, created_at=as_of)
    except IntegrityError:
        raise Conflict(_("the account already has an open promise"), field="account_id") from None


@transaction.atomic
def promises_settle(*, as_of: datetime) -> tuple[int, int]:
    """Open promises are kept once the promised amount came off the arrears (or the arrears are
    gone), broken when the date passed without it. Returns (kept, broken)."""
    today = local_date(as_of)
    kept = broken = 0
    for promise in Promise.objects.select_for_update().filter(status=Promise.Status.OPEN):
        arrears = account_arrears(account_id=promise.account_id, as_of_date=today)
        if arrears <= 0 or promise.arrears_fen - arrears >= promise.amount_fen:
            promise.status = Promise.Status.KEPT
            kept += 1
        elif promise.promised_date < today:
            promise.status = Promise.Status.BROKEN
            broken += 1
        else:
            continue
        promise.settled_on = today
        promise.save(update_fields=["status", "settled_on"])
    return kept, broken


@transaction.atomic
def call_task_complete(*, actor: User, task_id: int, reached: bool, note: str, as_of: datetime,
                       promised_date: date | None = None, promised_amount_fen: int | None = None) -> CallTask:
    """The agent's outcome of a dunning call; a promise made on the call is recorded with it."""
    require(actor, CAPABILITY)
    task = CallTask.objects.select_for_update().filter(pk=task_id, account__in=Account.objects.filter(
        account_scope_q(user=actor))).first()
    if task is None:
        raise NotFound(_("call task %(id)s not found") % {"id": task_id}, field="task_id")
    if task.status != CallTask.Status.OPEN:
        raise UnableToChangeCase(_("the call task is already %(status)s") % {"status": task.get_status_display()},
                                 field="status")
    if len(note or "") > 255:
        raise ValidationFailed(_("note is longer than 255 characters"), field="note")
    if promised_date is not None:
        if not reached:
            raise ValidationFailed(_("a promise needs the customer to have been reached"), field="promised_date")
        promise_record(actor=actor, account_id=task.account_id, promised_date=promised_date,
                       amount_fen=promised_amount_fen or 0, as_of=as_of, note=note, channel="call")
    task.status = CallTask.Status.DONE if reached else CallTask.Status.UNREACHABLE
    task.outcome_note = (note or "").strip()
    task.done_by = actor
    task.done_at = as_of
    task.save(update_fields=["status", "outcome_note", "done_by", "done_at"])
    return task

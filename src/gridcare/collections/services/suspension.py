"""Suspension of supply for non-payment (欠费停电) and restoration (复电).

Proposal (nightly run, as the system) → approval by a person (停电审批) → notice served at once
(停电通知书, planned time = notice + N days) → final reminder shortly before (再通知) → execution
recorded by the crew → once the arrears are cleared, the restoration deadline runs on the
working-day calendar and a 复电 work order is opened in the service desk → restored.
Protected customers are never proposed; a payment or a promise before execution cancels the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from gridcare.access.models import User
from gridcare.collections.models import Notice, SuspensionCase, SuspensionEvent
from gridcare.collections.policy import collections_policy
from gridcare.collections.selectors import accounts_with_open_promise, arrears_by_account, open_items
from gridcare.collections.services._common import (
    UnableToChangeCase,
    calendar,
    email_of,
    local_date,
    mobile_of,
    require,
    yuan,
)
from gridcare.core.calendars import BUSINESS_TZ
from gridcare.core.errors import NotFound, PermissionDenied, ValidationFailed
from gridcare.customers.models import Account
from gridcare.customers.selectors import account_scope_q
from gridcare.customers.services import account_update
from gridcare.notifications import services as outbox
from gridcare.payments.models import Payment
from gridcare.service.models import WorkOrder
from gridcare.service.services import work_order_open, work_order_resolve


def _event(case: SuspensionCase, *, kind: str, at: datetime, actor: User | None = None, note: str = "",
           message=None) -> None:
    SuspensionEvent.objects.create(case=case, at=at, kind=kind, actor=actor, note=note[:255], message=message)


def _case_for_update(actor: User | None, case_id: int) -> SuspensionCase:
    qs = SuspensionCase.objects.select_for_update().filter(pk=case_id)
    if actor is not None:
        qs = qs.filter(account__in=Account.objects.filter(account_scope_q(user=actor)))
    case = qs.select_related("account", "account__customer").first()
    if case is None:
        raise NotFound(_("suspension case %(id)s not found") % {"id": case_id}, field="case_id")
    return case


def _require_status(case: SuspensionCase, allowed: tuple[str, ...], action: str) -> None:
    if case.status not in allowed:
        raise UnableToChangeCase(_("cannot %(action)s: the case is %(status)s") % {
            "action": action, "status": case.get_status_display()}, field="status")


def _notify(case: SuspensionCase, *, template: str, purpose: str, context: dict, as_of: datetime,
            urgent: bool = False) -> list:
    customer = case.account.customer
    sent = []
    for channel, recipient in (("sms", mobile_of(customer)), ("email", email_of(customer))):
        if recipient:
            sent.append(outbox.message_enqueue(
                channel=channel, template=template, context=context, recipient=recipient, as_of=as_of,
                purpose=purpose, urgent=urgent, dedupe_key=f"suspension:{case.pk}:{purpose}:{channel}",
                object_type="suspension_case", object_id=case.pk))
    return sent


def _context(case: SuspensionCase, arrears_fen: int) -> dict[str, str]:
    planned = case.planned_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if case.planned_at else ""
    return {"account": case.account.number, "name": case.account.customer.name, "amount": yuan(arrears_fen),
            "planned": planned}


# -- proposal -------------------------------------------------------------------------------------
@dataclass
class ProposalResult:
    proposed: int = 0
    protected: int = 0
    promised: int = 0
    not_dunned: int = 0


@dataclass(frozen=True)
class _Facts:
    """What eligibility needs beyond the account row, read once for a whole batch of accounts."""

    promised: frozenset[int]
    dunned: frozenset[int]


def _facts(account_ids: list[int], today) -> _Facts:
    policy = collections_policy().suspension
    promised = accounts_with_open_promise(as_of_date=today).intersection(account_ids)
    dunned: set[int] = set() if policy.requires_stage else set(account_ids)
    for lo in range(0, len(account_ids), 5000):  # SQLite caps bound parameters per statement
        chunk = account_ids[lo:lo + 5000]
        if policy.requires_stage:
            dunned.update(Notice.objects.filter(
                account_id__in=chunk, stage=policy.requires_stage,
                outcome__in=(Notice.Outcome.QUEUED, Notice.Outcome.CALL_TASK)).values_list("account_id", flat=True))
    return _Facts(promised=frozenset(promised), dunned=frozenset(dunned))


def _ineligible(account: Account, *, owed: int, today, facts: _Facts | None = None) -> str:
    """Why an account with old enough arrears may not be proposed ("" when it may)."""
    policy = collections_policy().suspension
    if account.status != Account.Status.ACTIVE:
        return "account not active"
    if owed < policy.min_amount_fen:
        return "arrears below the minimum"
    if policy.is_protected(account.customer.protected_class):
        return "protected"
    facts = facts or _facts([account.pk], today)
    if account.pk in facts.promised:
        return "promised"
    if account.pk not in facts.dunned:
        return "not dunned"
    return ""


def _oldest_overdue(today, account_ids: list[int] | None = None) -> dict[int, object]:
    limit = today - timedelta(days=collections_policy().suspension.after_days_overdue)
    oldest: dict[int, object] = {}
    for item in open_items(kinds=("bill",), account_ids=account_ids, due_on_or_before=limit - timedelta(days=1)):
        oldest.setdefault(item.account_id, item)
    return oldest


def _propose(account: Account, item, *, owed: int, actor: User | None, as_of: datetime) -> SuspensionCase:
    today = local_date(as_of)
    case = SuspensionCase.objects.create(
        account=account, charge_id=item.charge_id, category=account.category, arrears_fen=owed,
        days_overdue=(today - item.due_date).days, proposed_at=as_of, proposed_by=actor)
    _event(case, kind="proposed", at=as_of, actor=actor,
           note=f"欠费 {yuan(owed)} 元，逾期 {case.days_overdue} 天（最早应缴日 {item.due_date}）")
    return case


def suspensions_propose(*, as_of: datetime) -> ProposalResult:
    """Propose every account eligible on `as_of` (system proposer; a person approves)."""
    today = local_date(as_of)
    arrears = arrears_by_account(as_of_date=today)
    oldest = _oldest_overdue(today)
    active = set(SuspensionCase.objects.filter(status__in=SuspensionCase.ACTIVE).values_list("account_id", flat=True))
    accounts = Account.objects.select_related("customer").in_bulk([a for a in oldest if a not in active])
    result = ProposalResult()
    facts = _facts(list(accounts), today)
    for account_id, account in sorted(accounts.items()):
        owed = arrears.get(account_id, 0)
        why = _ineligible(account, owed=owed, today=today, facts=facts)
        if why:
            if why == "protected":
                result.protected += 1
            elif why == "promised":
                result.promised += 1
            elif why == "not dunned":
                result.not_dunned += 1
            continue
        try:
            with transaction.atomic():
                _propose(account, oldest[account_id], owed=owed, actor=None, as_of=as_of)
        except IntegrityError:
            continue
        result.proposed += 1
    return result


@transaction.atomic
def suspension_propose(*, actor: User, account_id: int, as_of: datetime) -> SuspensionCase:
    """A person proposes one account (same eligibility as the nightly run); someone else approves."""
    require(actor, collections_policy().suspension.approve_capability)
    account = Account.objects.select_for_update().select_related("customer").filter(
        account_scope_q(user=actor), pk=account_id).first()
    if account is None:
        raise NotFound(_("account %(id)s not found") % {"id": account_id}, field="account_id")
    today = local_date(as_of)
    item = _oldest_overdue(today, [account.pk]).get(account.pk)
    if item is None:
        raise ValidationFailed(_("no bill overdue more than %(n)s days") % {"n": collections_policy().suspension.after_days_overdue},
                               field="account_id")
    owed = arrears_by_account(as_of_date=today, account_ids=[account.pk]).get(account.pk, 0)
    why = _ineligible(account, owed=owed, today=today)
    if why:
        raise ValidationFailed(_("not eligible: %(why)s") % {"why": _(why)}, field="account_id")
    try:
        with transaction.atomic():
            return _propose(account, item, owed=owed, actor=actor, as_of=as_of)
    except IntegrityError:
        raise UnableToChangeCase(_("the account already has an open suspension case"), field="account_id") from None


# -- approval and notice --------------------------------------------------------------------------
def _planned_at(category: str, as_of: datetime) -> datetime:
    policy = collections_policy().suspension
    day = local_date(as_of) + timedelta(days=policy.notice_days_for(category))
    cal = calendar()
    if not cal.is_working_day(day):
        day = cal.next_working_day(day)
    return datetime.combine(day, policy.execute_at, tzinfo=BUSINESS_TZ)


@transaction.atomic
def suspension_approve(*, actor: User, case_id: int, as_of: datetime, note: str = "") -> SuspensionCase:
    """Approve a proposal (a person other than the proposer) and serve the notice at once."""
    policy = collections_policy().suspension
    require(actor, policy.approve_capability)
    if actor is None:
        raise PermissionDenied(_("a person approves suspensions"))
    case = _case_for_update(actor, case_id)
    _require_status(case, (SuspensionCase.Status.PROPOSED,), _("approve"))
    if case.proposed_by_id == actor.pk:
        raise PermissionDenied(_("the proposer cannot approve their own proposal"))
    today = local_date(as_of)
    owed = arrears_by_account(as_of_date=today, account_ids=[case.account_id]).get(case.account_id, 0)
    if owed <= 0:
        raise UnableToChangeCase(_("the arrears are paid; nothing to approve"), field="status")
    if policy.is_protected(case.account.customer.protected_class):
        raise UnableToChangeCase(_("the customer is protected from suspension"), field="status")
    case.status = SuspensionCase.Status.NOTIFIED
    case.approved_by, case.approved_at = actor, as_of
    case.planned_at = _planned_at(case.category, as_of)
    case.reminder_at = calendar().subtract(case.planned_at, policy.reminder_for(case.category))
    case.save(update_fields=["status", "approved_by", "approved_at", "planned_at", "reminder_at"])
    _event(case, kind="approved", at=as_of, actor=actor, note=note)
    messages = _notify(case, template="collections_suspension_notice", purpose="suspension_notice",
                       context=_context(case, owed), as_of=as_of)
    _event(case, kind="notice_served", at=as_of,
           note=f"停电通知书：计划 {_context(case, owed)['planned']}，{len(messages)} 条消息",
           message=messages[0] if messages else None)
    return case


@transaction.atomic
def suspension_reject(*, actor: User, case_id: int, reason: str, as_of: datetime) -> SuspensionCase:
    require(actor, collections_policy().suspension.approve_capability)
    case = _case_for_update(actor, case_id)
    _require_status(case, (SuspensionCase.Status.PROPOSED,), _("reject"))
    if not (reason or "").strip():
        raise ValidationFailed(_("give a reason"), field="reason")
    case.status = SuspensionCase.Status.REJECTED
    case.closed_reason = reason.strip()[:255]
    case.save(update_fields=["status", "closed_reason"])
    _event(case, kind="rejected", at=as_of, actor=actor, note=reason)
    return case


def suspension_reminders_send(*, as_of: datetime) -> int:
    """The second notice shortly before the planned time (再通知一次); urgent so quiet hours do not
    hold it back past the suspension itself."""
    sent = 0
    for case_id in SuspensionCase.objects.filter(status=SuspensionCase.Status.NOTIFIED,
                                                 reminder_at__lte=as_of).values_list("pk", flat=True):
        with transaction.atomic():
            case = _case_for_update(None, case_id)
            if case.status != SuspensionCase.Status.NOTIFIED:
                continue
            owed = arrears_by_account(as_of_date=local_date(as_of), account_ids=[case.account_id]).get(
                case.account_id, 0)
            messages = _notify(case, template="collections_suspension_reminder", purpose="suspension_reminder",
                               context=_context(case, owed), as_of=as_of, urgent=True)
            case.status = SuspensionCase.Status.REMINDED
            case.save(update_fields=["status"])
            _event(case, kind="reminded", at=as_of, note=f"{len(messages)} 条消息",
                   message=messages[0] if messages else None)
            sent += 1
    return sent


@transaction.atomic
def suspension_execute(*, actor: User, case_id: int, as_of: datetime, note: str = "") -> SuspensionCase:
    """The crew records that supply was suspended. Refused before the planned time, without the
    final reminder, or when the arrears were paid meanwhile."""
    require(actor, collections_policy().suspension.execute_capability)
    case = _case_for_update(actor, case_id)
    _require_status(case, (SuspensionCase.Status.REMINDED,), _("execute (the final reminder has not gone out)"))
    if as_of < case.planned_at:
        raise UnableToChangeCase(_("the notice runs until %(at)s") % {
            "at": f"{case.planned_at.astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M}"},
                                 field="as_of")
    owed = arrears_by_account(as_of_date=local_date(as_of), account_ids=[case.account_id]).get(case.account_id, 0)
    if owed <= 0:
        raise UnableToChangeCase(_("the arrears are paid; cancel instead"), field="status")
    case.status = SuspensionCase.Status.SUSPENDED
    case.executed_at, case.executed_by = as_of, actor
    case.save(update_fields=["status", "executed_at", "executed_by"])
    account_update(account_id=case.account_id, changes={"status": Account.Status.SUSPENDED}, actor=None, as_of=as_of)
    _event(case, kind="suspended", at=as_of, actor=actor, note=note)
    return case


# -- follow-up: payment, promise, restoration -----------------------------------------------------
def _cleared_at(case: SuspensionCase, as_of: datetime) -> datetime:
    """When the arrears were cleared: the last payment received on the account (not the moment the
    job noticed), so a nightly run never eats into the customer's restoration time."""
    since = case.executed_at or case.proposed_at
    last = Payment.objects.filter(account_id=case.account_id, received_at__gte=since).aggregate(
        m=Max("received_at"))["m"]
    return min(last, as_of) if last else as_of


def _restore_work_order(case: SuspensionCase, *, as_of: datetime) -> WorkOrder | None:
    policy = collections_policy().suspension
    if not policy.restoration_work_order:
        return None
    return work_order_open(
        origin="collections", external_ref=f"restore:{case.pk}", channel=policy.restoration_channel,
        category=policy.restoration_category, account_number=case.account.number,
        subject=f"欠费复电：户号 {case.account.number}",
        description=(f"户号 {case.account.number} 已结清欠费（{case.cleared_at.astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M}），"
                     f"请于 {case.restore_due_at.astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M} 前恢复供电"
                     f"（{case.restore_limit}）。停电工作单 #{case.pk}。"),
        as_of=as_of,
    ).work_order


@dataclass
class FollowUpResult:
    cancelled: int = 0
    restoring: int = 0


def suspensions_follow_up(*, as_of: datetime) -> FollowUpResult:
    """Cancel cases paid, promised or protected before execution; start the restoration clock
    for suspended accounts whose arrears are now cleared."""
    policy = collections_policy().suspension
    today = local_date(as_of)
    result = FollowUpResult()
    cases = list(SuspensionCase.objects.filter(status__in=SuspensionCase.ACTIVE).exclude(
        status=SuspensionCase.Status.RESTORING).values_list("pk", "account_id"))
    arrears = arrears_by_account(as_of_date=today, account_ids=[a for _, a in cases])
    promised = accounts_with_open_promise(as_of_date=today)
    for case_id, account_id in cases:
        with transaction.atomic():
            case = _case_for_update(None, case_id)
            paid = arrears.get(account_id, 0) <= 0
            if case.status == SuspensionCase.Status.SUSPENDED:
                if not paid:
                    continue
                case.status = SuspensionCase.Status.RESTORING
                case.cleared_at = _cleared_at(case, as_of)
                limit = policy.restore_for(case.category)
                case.restore_limit = str(limit)
                case.restore_due_at = calendar().add(case.cleared_at, limit)
                case.save(update_fields=["status", "cleared_at", "restore_limit", "restore_due_at"])
                case.work_order = _restore_work_order(case, as_of=as_of)
                case.save(update_fields=["work_order"])
                _event(case, kind="cleared", at=as_of,
                       note=f"欠费已结清，复电时限 {limit}，须于 {case.restore_due_at.astimezone(BUSINESS_TZ):%Y-%m-%d %H:%M} 前复电")
                result.restoring += 1
                continue
            reason = ("arrears paid" if paid else "payment promised" if account_id in promised
                      else "customer protected" if policy.is_protected(case.account.customer.protected_class)
                      else "")
            if not reason:
                continue
            case.status = SuspensionCase.Status.CANCELLED
            case.closed_reason = reason
            case.save(update_fields=["status", "closed_reason"])
            outbox.message_cancel_for(object_type="suspension_case", object_id=case.pk)
            _event(case, kind="cancelled", at=as_of, note=reason)
            result.cancelled += 1
    return result


@transaction.atomic
def suspension_restore(*, actor: User, case_id: int, as_of: datetime, note: str = "") -> SuspensionCase:
    """Supply is back: the account is active again and the 复电 work order resolved."""
    require(actor, collections_policy().suspension.execute_capability)
    case = _case_for_update(actor, case_id)
    _require_status(case, (SuspensionCase.Status.RESTORING,), _("restore"))
    case.status = SuspensionCase.Status.RESTORED
    case.restored_at, case.restored_by = as_of, actor
    case.save(update_fields=["status", "restored_at", "restored_by"])
    account_update(account_id=case.account_id, changes={"status": Account.Status.ACTIVE}, actor=None, as_of=as_of)
    if case.work_order_id and case.work_order.status in WorkOrder.OPEN_STATUSES:
        work_order_resolve(actor=None, number=case.work_order.number, resolution=f"已复电 {note}".strip(),
                           as_of=as_of)
    met = "按时" if case.restore_met else "超时"
    _event(case, kind="restored", at=as_of, actor=actor, note=f"{met}复电 {note}".strip())
    return case

"""Suspension of supply: eligibility, protected customers, two-person approval, notice and reminder,
execution, restoration deadline on the working-day calendar, cancellation on payment."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from gridcare.collections.models import SuspensionCase
from gridcare.collections.services import (
    UnableToChangeCase,
    dunning_run,
    promise_record,
    suspension_approve,
    suspension_execute,
    suspension_propose,
    suspension_reject,
    suspension_reminders_send,
    suspension_restore,
    suspensions_follow_up,
    suspensions_propose,
)
from gridcare.core.errors import PermissionDenied, ValidationFailed
from gridcare.customers.models import Account
from gridcare.notifications.models import Message
from gridcare.service.models import WorkOrder
from tests.collections.conftest import TZ, at
from tests.collections.ledger_helpers import bill, pay


@pytest.fixture
def overdue(co):
    """The shop and the hospital owe 800 元 due 2026-10-05 and were dunned on 10-08."""
    for account in (co.shop, co.ward):
        bill(account, 80_000, due=date(2026, 10, 5))
    dunning_run(as_of=at(2026, 10, 8, 9))
    return co


def test_proposal_after_thirty_days_and_never_for_protected_customers(overdue):
    co = overdue
    assert suspensions_propose(as_of=at(2026, 11, 4, 23)).proposed == 0  # 30 days: not yet "more than 30"
    result = suspensions_propose(as_of=at(2026, 11, 5, 23))
    assert (result.proposed, result.protected) == (1, 1)
    case = SuspensionCase.objects.get()
    assert (case.account, case.status, case.arrears_fen, case.days_overdue, case.proposed_by) == (
        co.shop, "proposed", 80_000, 31, None)
    assert suspensions_propose(as_of=at(2026, 11, 6, 23)).proposed == 0  # one active case per account


def test_not_proposed_without_dunning_or_with_an_open_promise(co):
    bill(co.shop, 80_000, due=date(2026, 10, 5))  # never dunned
    assert suspensions_propose(as_of=at(2026, 11, 5, 23)).not_dunned == 1
    dunning_run(as_of=at(2026, 10, 8, 9))
    promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 10), amount_fen=80_000,
                   as_of=at(2026, 11, 5, 9))
    assert suspensions_propose(as_of=at(2026, 11, 5, 23)).promised == 1
    assert not SuspensionCase.objects.exists()


def test_full_workflow_with_notice_reminder_execution_and_restoration(overdue):
    co = overdue
    suspensions_propose(as_of=at(2026, 11, 5, 23))
    case = SuspensionCase.objects.get()
    # Thursday 2026-11-12 approval: non-residential notice 3 days → Sunday 11-15 → next working day Monday 11-16
    suspension_approve(actor=co.approver, case_id=case.pk, as_of=at(2026, 11, 12, 9))
    case.refresh_from_db()
    assert case.status == "notified"
    assert case.planned_at == datetime(2026, 11, 16, 10, 0, tzinfo=TZ)
    assert case.reminder_at == datetime(2026, 11, 16, 9, 0, tzinfo=TZ)  # one hour before
    notice = Message.objects.get(template="collections_suspension_notice", channel="sms")
    assert "将于2026-11-16 10:00中止供电" in notice.body
    assert suspension_reminders_send(as_of=at(2026, 11, 16, 8, 30)) == 0
    with pytest.raises(UnableToChangeCase):  # no final reminder yet
        suspension_execute(actor=co.approver, case_id=case.pk, as_of=at(2026, 11, 16, 10))
    assert suspension_reminders_send(as_of=at(2026, 11, 16, 9, 0)) == 1
    reminder = Message.objects.get(template="collections_suspension_reminder", channel="sms")
    assert reminder.urgent
    with pytest.raises(UnableToChangeCase):  # before the planned time
        suspension_execute(actor=co.approver, case_id=case.pk, as_of=at(2026, 11, 16, 9, 59))
    suspension_execute(actor=co.approver, case_id=case.pk, as_of=at(2026, 11, 16, 10, 5))
    co.shop.refresh_from_db()
    assert co.shop.status == Account.Status.SUSPENDED
    # Paid on Friday 11-20 at 16:00 (the payment's own time); the job notices at night.
    pay(co.shop, 80_000, on=date(2026, 11, 20), hour=16)
    result = suspensions_follow_up(as_of=at(2026, 11, 20, 23))
    assert result.restoring == 1
    case.refresh_from_db()
    assert case.status == "restoring"
    assert case.cleared_at == datetime(2026, 11, 20, 16, 0, tzinfo=TZ)
    # 2 working days for non-residential: Friday 16:00 → (Monday, Tuesday) → Tuesday 11-24 16:00
    assert case.restore_due_at == datetime(2026, 11, 24, 16, 0, tzinfo=TZ)
    assert case.restore_limit == "2 working_days"
    order = case.work_order
    assert (order.category, order.account, order.status != "closed") == ("business.reconnect", co.shop, True)
    assert order.clocks.filter(key="resolve").exists()  # the desk's own 复电 clock runs too
    suspension_restore(actor=co.approver, case_id=case.pk, as_of=at(2026, 11, 23, 11))
    case.refresh_from_db()
    co.shop.refresh_from_db()
    assert (case.status, case.restore_met, co.shop.status) == ("restored", True, "active")
    assert WorkOrder.objects.get(pk=order.pk).status == "resolved"
    assert [e.kind for e in case.events.all()] == [
        "proposed", "approved", "notice_served", "reminded", "suspended", "cleared", "restored"]


def test_approval_is_two_person_and_needs_the_capability(overdue):
    co = overdue
    case = suspension_propose(actor=co.approver, account_id=co.shop.pk, as_of=at(2026, 11, 6, 9))
    with pytest.raises(PermissionDenied):
        suspension_approve(actor=co.approver, case_id=case.pk, as_of=at(2026, 11, 6, 10))
    with pytest.raises(PermissionDenied):
        suspension_approve(actor=co.agent, case_id=case.pk, as_of=at(2026, 11, 6, 10))
    case.refresh_from_db()
    assert (case.status, case.approved_by) == ("proposed", None)
    assert not Message.objects.filter(purpose="suspension_notice").exists()
    suspension_approve(actor=co.approver2, case_id=case.pk, as_of=at(2026, 11, 6, 10))
    with pytest.raises(ValidationFailed):
        suspension_propose(actor=co.approver, account_id=co.ward.pk, as_of=at(2026, 11, 6, 9))  # protected


def test_payment_before_execution_cancels_the_case_and_its_pending_messages(overdue):
    co = overdue
    suspensions_propose(as_of=at(2026, 11, 5, 23))
    case = SuspensionCase.objects.get()
    suspension_approve(actor=co.approver, case_id=case.pk, as_of=at(2026, 11, 12, 22))  # SMS held: quiet hours
    held = Message.objects.get(template="collections_suspension_notice", channel="sms")
    assert held.status == "pending"
    pay(co.shop, 80_000, on=date(2026, 11, 12), hour=22)
    assert suspensions_follow_up(as_of=at(2026, 11, 12, 23)).cancelled == 1
    case.refresh_from_db()
    held.refresh_from_db()
    assert (case.status, case.closed_reason, held.status) == ("cancelled", "arrears paid", "cancelled")


def test_rejection_needs_a_reason(overdue):
    co = overdue
    suspensions_propose(as_of=at(2026, 11, 5, 23))
    case = SuspensionCase.objects.get()
    with pytest.raises(ValidationFailed):
        suspension_reject(actor=co.approver, case_id=case.pk, reason=" ", as_of=at(2026, 11, 6))
    suspension_reject(actor=co.approver, case_id=case.pk, reason="客户已申请分期", as_of=at(2026, 11, 6))
    case.refresh_from_db()
    assert case.status == "rejected"

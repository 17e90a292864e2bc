"""Tiered dunning: stage days, channels, quiet hours, call tasks, promises, idempotency."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from gridcare.collections.models import CallTask, Notice, Promise
from gridcare.collections.services import (
    call_task_complete,
    call_tasks_cancel_paid,
    dunning_run,
    promise_record,
    promises_settle,
)
from gridcare.core.errors import Conflict, ValidationFailed
from gridcare.notifications.models import Message
from tests.collections.conftest import TZ, at
from tests.collections.ledger_helpers import bill, pay


def _steps(account=None):
    qs = Notice.objects.order_by("business_date", "stage", "channel")
    if account is not None:
        qs = qs.filter(account=account)
    return [(n.business_date.isoformat(), n.stage, n.channel, n.outcome) for n in qs]


def test_reminders_before_on_and_after_the_due_date(co):
    bill(co.home, 12_345, due=date(2026, 11, 15))
    for day in range(12, 20):
        dunning_run(as_of=at(2026, 11, day, 9))
    assert _steps() == [
        ("2026-11-13", "before_due", "email", "queued"),
        ("2026-11-13", "before_due", "sms", "queued"),
        ("2026-11-15", "due_today", "sms", "queued"),
        ("2026-11-18", "overdue_1", "email", "queued"),
        ("2026-11-18", "overdue_1", "sms", "queued"),
    ]
    sms = Message.objects.get(channel="sms", template="dunning_overdue")
    assert sms.recipient == "13812345678"
    assert sms.body == ("【供电公司】尊敬的客户，您户号1000000001已欠费123.45元（已逾期3天），电费违约金按日计收，"
                        "请尽快缴纳。已缴请忽略。")
    assert Message.objects.get(channel="sms", template="dunning_before_due").body.startswith(
        "【供电公司】尊敬的客户，您户号1000000001的2026-11电费123.45元将于2026-11-15到期")


def test_running_twice_sends_nothing_twice(co):
    bill(co.home, 12_345, due=date(2026, 11, 15))
    first = dunning_run(as_of=at(2026, 11, 13, 9))
    second = dunning_run(as_of=at(2026, 11, 13, 15))
    assert (first.queued, second.queued) == (2, 0)
    assert Message.objects.count() == 2


def test_sms_waits_for_the_end_of_quiet_hours_and_calls_are_never_scheduled_in_them(co):
    bill(co.shop, 80_000, due=date(2026, 11, 5))
    dunning_run(as_of=at(2026, 11, 15, 22, 30))  # overdue_2 (10 days): sms + call, at 22:30
    sms = Message.objects.get(channel="sms")
    assert sms.scheduled_at == datetime(2026, 11, 16, 8, 0, tzinfo=TZ)
    task = CallTask.objects.get()
    assert task.scheduled_at == datetime(2026, 11, 16, 8, 0, tzinfo=TZ)
    assert task.due_at == datetime(2026, 11, 17, 8, 0, tzinfo=TZ)  # one working day later
    assert (task.phone, task.org_unit, task.status) == ("13900000002", co.shop.org_unit, "open")


def test_small_arrears_get_no_call_and_missing_contacts_are_recorded(co):
    co.resident.email = ""
    co.resident.save(update_fields=["email"])
    bill(co.home, 1_000, due=date(2026, 11, 5))  # 10 元: below the 50 元 threshold of the call stage
    dunning_run(as_of=at(2026, 11, 8, 9))
    dunning_run(as_of=at(2026, 11, 15, 9))
    assert _steps() == [("2026-11-08", "overdue_1", "email", "skipped"), ("2026-11-08", "overdue_1", "sms", "queued")]
    assert Notice.objects.get(channel="email").skip_reason == "no e-mail address"


def test_a_missed_stage_is_not_sent_late_beyond_catch_up(co):
    bill(co.home, 12_345, due=date(2026, 11, 15))
    dunning_run(as_of=at(2026, 11, 30, 9))  # overdue_1 was due on 11-18; catch-up is 3 days
    assert _steps() == []


def test_one_reminder_per_stage_for_an_account_with_several_bills(co):
    bill(co.home, 10_000, due=date(2026, 10, 15))
    bill(co.home, 10_000, due=date(2026, 10, 15), period="2026-08")
    dunning_run(as_of=at(2026, 10, 18, 9))
    assert [(s, c) for _, s, c, _ in _steps()] == [("overdue_1", "email"), ("overdue_1", "sms")]
    assert Message.objects.get(channel="sms").context["amount"] == "200.00"


def test_a_promise_pauses_overdue_stages_until_its_date(co):
    bill(co.shop, 80_000, due=date(2026, 11, 5))
    promise = promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 20),
                             amount_fen=80_000, as_of=at(2026, 11, 7, 11), note="月底前结清")
    dunning_run(as_of=at(2026, 11, 8, 9))
    dunning_run(as_of=at(2026, 11, 15, 9))
    assert _steps() == []
    assert promises_settle(as_of=at(2026, 11, 21, 1)) == (0, 1)
    promise.refresh_from_db()
    assert promise.status == "broken"


def test_a_kept_promise(co):
    bill(co.shop, 80_000, due=date(2026, 11, 5))
    promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 20), amount_fen=50_000,
                   as_of=at(2026, 11, 7, 11))
    pay(co.shop, 50_000, on=date(2026, 11, 12))
    assert promises_settle(as_of=at(2026, 11, 13, 1)) == (1, 0)
    assert Promise.objects.get().status == "kept"


def test_promise_rules(co):
    bill(co.shop, 80_000, due=date(2026, 11, 5))
    with pytest.raises(ValidationFailed) as too_far:
        promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 12, 31), amount_fen=1,
                       as_of=at(2026, 11, 7))
    assert too_far.value.field == "promised_date"
    with pytest.raises(ValidationFailed) as too_much:
        promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 10), amount_fen=80_001,
                       as_of=at(2026, 11, 7))
    assert too_much.value.field == "amount_fen"
    with pytest.raises(ValidationFailed):
        promise_record(actor=co.agent, account_id=co.home.pk, promised_date=date(2026, 11, 10), amount_fen=100,
                       as_of=at(2026, 11, 7))  # no arrears
    promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 10), amount_fen=100,
                   as_of=at(2026, 11, 7))
    with pytest.raises(Conflict):
        promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 12), amount_fen=100,
                       as_of=at(2026, 11, 7))
    promises_settle(as_of=at(2026, 11, 11))  # broken
    promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 14), amount_fen=100,
                   as_of=at(2026, 11, 11))
    promises_settle(as_of=at(2026, 11, 15))
    with pytest.raises(ValidationFailed) as third:
        promise_record(actor=co.agent, account_id=co.shop.pk, promised_date=date(2026, 11, 20), amount_fen=100,
                       as_of=at(2026, 11, 15))
    assert third.value.message == "该账单已有 2 次承诺，上限为 2 次"
    assert Promise.objects.count() == 2


def test_call_outcome_with_a_promise_and_cancelled_calls_after_payment(co):
    bill(co.shop, 80_000, due=date(2026, 11, 5))
    bill(co.resident.accounts.get(), 9_000, due=date(2026, 11, 5))
    dunning_run(as_of=at(2026, 11, 15, 9))
    shop_task, home_task = (CallTask.objects.get(account=co.shop), CallTask.objects.get(account=co.home))
    call_task_complete(actor=co.agent, task_id=shop_task.pk, reached=True, note="客户承诺周五缴清",
                       promised_date=date(2026, 11, 20), promised_amount_fen=80_000, as_of=at(2026, 11, 16, 10))
    shop_task.refresh_from_db()
    assert (shop_task.status, shop_task.done_by) == ("done", co.agent)
    assert Promise.objects.get().channel == "call"
    pay(co.home, 9_000, on=date(2026, 11, 16))
    assert call_tasks_cancel_paid(as_of=at(2026, 11, 16, 23)) == 1
    home_task.refresh_from_db()
    assert home_task.status == "cancelled"

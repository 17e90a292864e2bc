"""`gridcare notify dispatch | status` on a test database: real outbox rows, Django's locmem e-mail
backend (pytest-django's default) and the recording SMS backend."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from typer.testing import CliRunner

import gridcare.cli.notify  # noqa: F401 - registers the commands
from gridcare.cli.app import app
from gridcare.notifications.backends import RecordingBackend
from gridcare.notifications.models import Message
from gridcare.notifications.policy import reset_caches
from gridcare.notifications.services import message_enqueue

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def _backends(settings):
    settings.GRIDCARE_NOTIFICATION_BACKENDS = {"sms": "gridcare.notifications.backends.RecordingBackend"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    reset_caches()
    RecordingBackend.reset()
    yield
    RecordingBackend.reset()
    reset_caches()


def _queue(n_sms: int, n_email: int, *, as_of: datetime) -> None:
    for i in range(n_sms):
        message_enqueue(channel="sms", template="plain", context={"body": f"电费提醒 {i}"}, recipient="13812345678",
                        as_of=as_of, dedupe_key=f"t-sms-{i}")
    for i in range(n_email):
        message_enqueue(channel="email", template="plain", context={"subject": f"账单 {i}", "body": "本月电费"},
                        recipient=f"user{i}@example.com", as_of=as_of, dedupe_key=f"t-mail-{i}")


def test_dispatch_sends_everything_due_in_batches_and_a_second_run_sends_nothing():
    _queue(3, 2, as_of=datetime(2026, 11, 10, 9, 0, tzinfo=TZ))
    r = runner.invoke(app, ["notify", "dispatch", "--limit", "2", "--as-of", "2026-11-10T10:00"])
    assert r.exit_code == 0, r.output
    assert "sent 5, failed 0, deferred 0, retrying 0 in 3 batch(es)" in r.output
    assert len(RecordingBackend.sent) == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["user0@example.com", "user1@example.com"]
    assert mail.outbox[0].subject.startswith("账单")
    assert Message.objects.filter(status="sent").count() == 5
    again = runner.invoke(app, ["notify", "dispatch", "--as-of", "2026-11-10T10:00"])
    assert again.exit_code == 0, again.output
    assert "sent 0, failed 0, deferred 0, retrying 0 in 1 batch(es)" in again.output
    assert (len(RecordingBackend.sent), len(mail.outbox)) == (3, 2)


def test_once_sends_one_batch_and_quiet_hours_defer_sms():
    _queue(3, 0, as_of=datetime(2026, 11, 10, 9, 0, tzinfo=TZ))
    r = runner.invoke(app, ["notify", "dispatch", "--limit", "2", "--once", "--as-of", "2026-11-10T10:00"])
    assert "sent 2, failed 0, deferred 0, retrying 0 in 1 batch(es)" in r.output
    # The dispatcher was late: it is 22:00, inside quiet hours (21:00-08:00), so the SMS waits.
    r = runner.invoke(app, ["notify", "dispatch", "--as-of", "2026-11-10T22:00"])
    assert "sent 0, failed 0, deferred 1, retrying 0" in r.output
    assert Message.objects.get(status="pending").scheduled_at == datetime(2026, 11, 11, 8, 0, tzinfo=TZ)


def test_provider_failure_is_retried_later_not_in_the_same_run():
    _queue(1, 0, as_of=datetime(2026, 11, 10, 9, 0, tzinfo=TZ))
    RecordingBackend.fail_next = 1
    r = runner.invoke(app, ["notify", "dispatch", "--as-of", "2026-11-10T10:00"])
    assert r.exit_code == 0, r.output
    assert "sent 0, failed 0, deferred 0, retrying 1 in 1 batch(es)" in r.output
    r = runner.invoke(app, ["notify", "dispatch", "--as-of", "2026-11-10T10:01"])
    assert "sent 1, failed 0" in r.output


def test_status_counts_by_status():
    _queue(2, 1, as_of=datetime(2026, 11, 10, 9, 0, tzinfo=TZ))
    runner.invoke(app, ["notify", "dispatch", "--limit", "1", "--once", "--as-of", "2026-11-10T10:00"])
    r = runner.invoke(app, ["notify", "status", "--as-of", "2026-11-10T10:00"])
    assert r.exit_code == 0, r.output
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in r.output.splitlines()
             if line.count("│") == 3}
    assert {k: lines[k] for k in ("pending", "sent", "failed")} == {"pending": "2", "sent": "1", "failed": "0"}
    assert "(retries waiting included): 2" in r.output


@pytest.mark.parametrize("args, hint", [
    (["--limit", "0"], "--limit"),
    (["--as-of", "tomorrow"], "--as-of"),
    (["--limit", "many"], "--limit"),
])
def test_bad_arguments_exit_2_with_the_option_named(args, hint):
    r = runner.invoke(app, ["notify", "dispatch", *args])
    assert r.exit_code == 2
    assert hint in r.output
    assert not Message.objects.exists()

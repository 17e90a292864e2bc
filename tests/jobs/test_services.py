"""The runner: a failing job is logged and recorded and does not raise; locks keep jobs that share
one apart, survive a dead holder and are released; old run records are pruned."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from gridcare.core.errors import NotFound
from gridcare.jobs import services
from gridcare.jobs.models import JobLock, JobRun
from gridcare.jobs.registry import JOBS
from gridcare.jobs.services import job_run, lock_acquire, lock_release

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 11, 30, 2, 0, tzinfo=TZ)


def _clock(start: datetime = AS_OF):
    ticks = iter(start + timedelta(seconds=i) for i in range(10_000))
    return lambda: next(ticks)


def _boom(*, as_of):
    raise RuntimeError("ledger unreachable")


def test_a_failing_job_is_recorded_logged_and_releases_its_lock(monkeypatch, caplog):
    monkeypatch.setitem(JOBS, "kpi", _boom)
    run = job_run(name="kpi", as_of=AS_OF, trigger="schedule", clock=_clock())
    assert (run.status, run.trigger, run.summary) == ("failed", "schedule", {})
    assert run.error.rstrip().endswith("RuntimeError: ledger unreachable")
    assert "job kpi failed" in caplog.text
    assert not JobLock.objects.exists()
    assert job_run(name="outbox", as_of=AS_OF, clock=_clock()).status == "succeeded"


def test_an_expected_error_is_recorded_by_its_message(monkeypatch):
    def missing(*, as_of):
        raise NotFound("org unit 'XX' does not exist", field="org_unit")

    monkeypatch.setitem(JOBS, "experience", missing)
    run = job_run(name="experience", as_of=AS_OF, clock=_clock())
    assert (run.status, run.error) == ("failed", "org unit 'XX' does not exist")


def test_unknown_job_raises_not_found():
    with pytest.raises(NotFound, match="no job named 'payroll'"):
        job_run(name="payroll", as_of=AS_OF)
    assert not JobRun.objects.exists()


def test_a_held_lock_skips_the_run_without_calling_the_job(monkeypatch):
    called = []
    monkeypatch.setitem(JOBS, "kpi", lambda *, as_of: called.append(as_of) or {})
    assert lock_acquire(lock="kpi", job="kpi", token="other", now=AS_OF, ttl=timedelta(hours=6))
    run = job_run(name="kpi", as_of=AS_OF, clock=_clock(AS_OF + timedelta(minutes=1)))
    assert (run.status, run.summary, called) == ("skipped", {"lock": "kpi", "held_by": "kpi"}, [])
    assert JobLock.objects.get().holder == "other"  # the skipped run did not release someone else's lock


def test_jobs_sharing_a_lock_wait_for_each_other(monkeypatch):
    """collections waits (lock_wait_seconds) while receivables holds "ledger", then runs."""
    monkeypatch.setitem(JOBS, "collections", lambda *, as_of: {"ran": True})
    assert lock_acquire(lock="ledger", job="receivables", token="posting", now=AS_OF, ttl=timedelta(hours=6))
    waits = []

    def other_run_finishes(seconds):
        waits.append(seconds)
        lock_release(lock="ledger", token="posting")

    monkeypatch.setattr(services, "_sleep", other_run_finishes)
    run = job_run(name="collections", as_of=AS_OF, clock=_clock())
    assert (run.status, run.summary, waits) == ("succeeded", {"ran": True}, [5.0])
    assert not JobLock.objects.exists()


def test_a_dead_holders_lock_is_taken_over_after_its_ttl():
    assert lock_acquire(lock="kpi", job="kpi", token="dead", now=AS_OF - timedelta(hours=7), ttl=timedelta(hours=6))
    assert not lock_acquire(lock="kpi", job="kpi", token="new", now=AS_OF - timedelta(hours=2), ttl=timedelta(hours=6))
    assert job_run(name="kpi", as_of=AS_OF, clock=_clock()).status == "succeeded"
    assert not JobLock.objects.exists()


def test_old_runs_are_pruned_per_job():
    old = AS_OF - timedelta(days=15)
    for name in ("outbox", "kpi"):
        JobRun.objects.create(name=name, trigger="schedule", status="succeeded", as_of=old, started_at=old)
    recent = JobRun.objects.create(name="outbox", trigger="schedule", status="succeeded", as_of=AS_OF - timedelta(days=13),
                                   started_at=AS_OF - timedelta(days=13))
    latest = job_run(name="outbox", as_of=AS_OF, clock=_clock())
    assert set(JobRun.objects.filter(name="outbox").values_list("pk", flat=True)) == {recent.pk, latest.pk}
    assert JobRun.objects.filter(name="kpi").count() == 1  # pruned when kpi next runs


@pytest.mark.pg
@pytest.mark.django_db(transaction=True)
def test_one_of_many_concurrent_takers_gets_the_lock():
    barrier = threading.Barrier(6)
    won = []

    def take(i: int) -> None:
        try:
            barrier.wait()
            won.append(lock_acquire(lock="ledger", job="collections", token=f"t{i}", now=AS_OF,
                                    ttl=timedelta(hours=6)))
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False] * 5 + [True]
    assert JobLock.objects.count() == 1

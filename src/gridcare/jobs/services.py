"""Running one job: take its lock, call it, record the outcome, release the lock.

This module sits at the edge (beside the CLI and the Huey worker), so it is where the clock is read:
`as_of` for the job comes from the caller, the wall-clock times of the run record and the lock come
from `clock`. Not one transaction: the lock and the `running` row must be visible to other workers
while the job runs, and the job's own services commit their own work.

A job that raises is logged and recorded as failed and the error is not re-raised, so one broken job
never stops the worker, the other jobs or the next run of the same job.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from gridcare.core.errors import GridcareError, NotFound
from gridcare.jobs.models import JobLock, JobRun
from gridcare.jobs.registry import JOBS
from gridcare.jobs.schedule import Job, job_schedule

logger = logging.getLogger("gridcare.jobs")
LOCK_POLL_SECONDS = 5.0
ERROR_CHARS = 4000
_sleep = time.sleep


def job_get(name: str) -> Job:
    schedule = job_schedule()
    job = schedule.jobs.get(name)
    if job is None:
        raise NotFound(f"no job named {name!r}; jobs: {', '.join(schedule.jobs)}", field="name")
    return job


def lock_acquire(*, lock: str, job: str, token: str, now: datetime, ttl: timedelta) -> bool:
    """Take `lock` unless a live holder has it; a holder past its expiry (a killed worker) is replaced.
    The conditional UPDATE and the primary key make this safe between processes."""
    taken = JobLock.objects.filter(name=lock, expires_at__lte=now).update(
        holder=token, job=job, acquired_at=now, expires_at=now + ttl)
    if taken:
        return True
    try:
        with transaction.atomic():
            JobLock.objects.create(name=lock, holder=token, job=job, acquired_at=now, expires_at=now + ttl)
    except IntegrityError:
        return False
    return True


def lock_release(*, lock: str, token: str) -> None:
    JobLock.objects.filter(name=lock, holder=token).delete()


def _acquire_waiting(job: Job, token: str, clock: Callable[[], datetime]) -> bool:
    deadline = time.monotonic() + job.lock_wait.total_seconds()
    while True:
        if lock_acquire(lock=job.lock, job=job.name, token=token, now=clock(), ttl=job.lock_ttl):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        _sleep(min(LOCK_POLL_SECONDS, remaining))


def job_run(*, name: str, as_of: datetime, trigger: str = JobRun.Trigger.MANUAL,
            clock: Callable[[], datetime] = timezone.now) -> JobRun:
    """Run one job now (enabled or not: an operator may run a disabled job by hand).

    Raises NotFound for an unknown name; the job's own failures are recorded, not raised.
    """
    job = job_get(name)
    token = uuid.uuid4().hex
    if job.lock and not _acquire_waiting(job, token, clock):
        holder = JobLock.objects.filter(name=job.lock).values_list("job", flat=True).first() or ""
        now = clock()
        logger.warning("job %s skipped: lock %s is held by %s", name, job.lock, holder or "another run")
        return JobRun.objects.create(name=name, trigger=trigger, status=JobRun.Status.SKIPPED, as_of=as_of,
                                     started_at=now, finished_at=now, summary={"lock": job.lock, "held_by": holder})
    run = JobRun.objects.create(name=name, trigger=trigger, status=JobRun.Status.RUNNING, as_of=as_of,
                                started_at=clock())
    try:
        run.summary = JOBS[name](as_of=as_of)
        run.status = JobRun.Status.SUCCEEDED
    except GridcareError as exc:
        logger.error("job %s failed: %s", name, exc.message)
        run.status, run.error = JobRun.Status.FAILED, exc.message[:ERROR_CHARS]
    except Exception:  # noqa: BLE001 - recorded and logged; the worker and the other jobs go on
        logger.exception("job %s failed", name)
        run.status, run.error = JobRun.Status.FAILED, traceback.format_exc()[-ERROR_CHARS:]
    finally:
        if job.lock:
            lock_release(lock=job.lock, token=token)
    run.finished_at = clock()
    run.save(update_fields=["status", "summary", "error", "finished_at"])
    JobRun.objects.filter(name=name, started_at__lt=run.started_at - timedelta(days=job_schedule().history_days)
                          ).delete()
    return run

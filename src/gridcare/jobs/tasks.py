"""Huey periodic tasks, one per enabled job of the schedule (schedule.yaml), found by the consumer
(`gridcare worker`, i.e. `manage run_huey`) through Django's autodiscovery of `tasks` modules.

Each task reads the clock once (its `as_of`) and hands over to `job_run`, which records the run and
keeps locked jobs apart. Crontabs are Huey's own, evaluated in the business time zone: the
consumer's timestamps are UTC (or server-local time), so they are converted before matching.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from gridcare.core.calendars import BUSINESS_TZ
from gridcare.jobs.models import JobRun
from gridcare.jobs.schedule import Job, job_schedule
from gridcare.jobs.services import job_run

TASK_PREFIX = "job:"


def business_crontab(job: Job):
    """Huey's crontab for the job's fields, fed the consumer's timestamp as business-zone wall time."""
    matches = crontab(strict=True, **job.schedule.huey_fields())

    def validate(timestamp: datetime) -> bool:
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC) if HUEY.utc else timestamp.astimezone()
        return matches(timestamp.astimezone(BUSINESS_TZ).replace(tzinfo=None))

    return validate


def _task_for(job: Job):
    def run() -> str:
        return job_run(name=job.name, as_of=timezone.now(), trigger=JobRun.Trigger.SCHEDULE).status

    run.__name__ = run.__qualname__ = f"job_{job.name.replace('-', '_')}"
    expires = int(job.expires.total_seconds()) if job.expires else None
    return db_periodic_task(business_crontab(job), name=TASK_PREFIX + job.name, expires=expires)(run)


PERIODIC_TASKS = {job.name: _task_for(job) for job in job_schedule().enabled()}

"""The Huey periodic tasks built from the schedule: one per enabled YAML job, matching in the
business time zone, and run inline in Huey's immediate mode against the test database."""

from __future__ import annotations

from datetime import datetime

import pytest
from huey.contrib.djhuey import HUEY

from gridcare.jobs.models import JobRun
from gridcare.jobs.registry import JOBS
from gridcare.jobs.schedule import job_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def immediate():
    before = HUEY.immediate
    HUEY.immediate = True  # in-memory storage; a task call runs at once in this thread
    yield
    HUEY.immediate = before


@pytest.fixture
def tasks():
    from gridcare.jobs import tasks

    return tasks


def test_every_yaml_job_is_a_registered_periodic_task(tasks):
    names = {job.name for job in job_schedule().enabled()}
    assert names == set(JOBS) and len(names) == 7
    assert set(tasks.PERIODIC_TASKS) == names
    registered = {task.name for task in HUEY._registry.periodic_tasks}
    assert {f"job:{name}" for name in names} <= registered


@pytest.mark.parametrize("utc, due", [
    (datetime(2026, 11, 29, 18, 0), {"outbox", "sla-tick", "collections"}),  # 02:00 in Shanghai
    (datetime(2026, 11, 29, 18, 5), {"outbox", "sla-tick", "receivables"}),
    (datetime(2026, 11, 29, 19, 30), {"outbox", "sla-tick", "experience"}),
    (datetime(2026, 11, 30, 15, 0), {"outbox", "sla-tick", "reconcile-close"}),  # 23:00
    (datetime(2026, 11, 29, 18, 1), {"outbox", "sla-tick"}),
])
def test_the_consumer_enqueues_what_is_due_in_business_time(tasks, utc, due):
    assert HUEY.utc  # the consumer's timestamps are naive UTC
    jobs = {t.name.removeprefix("job:") for t in HUEY.read_periodic(utc) if t.name.startswith("job:")}
    assert jobs == due


def test_tasks_run_inline_and_a_failing_job_does_not_stop_the_others(tasks, monkeypatch):
    def boom(*, as_of):
        raise RuntimeError("kpi store down")

    monkeypatch.setitem(JOBS, "kpi", boom)
    tasks.PERIODIC_TASKS["kpi"]()
    tasks.PERIODIC_TASKS["outbox"]()
    tasks.PERIODIC_TASKS["sla-tick"]()
    runs = {r.name: (r.status, r.trigger) for r in JobRun.objects.all()}
    assert runs == {"kpi": ("failed", "schedule"), "outbox": ("succeeded", "schedule"),
                    "sla-tick": ("succeeded", "schedule")}

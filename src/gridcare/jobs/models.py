"""What the periodic jobs did (one row per run) and who holds a job lock.

Why a database lock and not Huey's lock_task: Huey's locks live in the queue's storage (a SQLite file
under one host's var/), so a cron line on another host, or an operator's `gridcare jobs run`, would
not see them; a row in the shared database does, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from django.db import models


class JobRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped"  # its lock was held by another run

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "schedule"  # the Huey worker
        MANUAL = "manual", "manual"  # `gridcare jobs run` (an operator or a cron line)

    name = models.CharField(max_length=64)
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    as_of = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["name", "-started_at"], name="jobs_run_name_started")]

    def __str__(self) -> str:
        return f"{self.name} {self.status} {self.started_at:%Y-%m-%d %H:%M}"


class JobLock(models.Model):
    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=64)  # the run's token; only the holder releases it
    job = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.job} until {self.expires_at:%Y-%m-%d %H:%M}"

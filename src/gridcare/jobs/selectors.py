"""Reads of the run history for `gridcare jobs list` and operators."""

from __future__ import annotations

from django.db.models import Max, QuerySet

from gridcare.jobs.models import JobRun


def job_last_runs() -> dict[str, JobRun]:
    """The latest run of every job that has run."""
    latest = JobRun.objects.values("name").annotate(last=Max("id")).values_list("last", flat=True)
    return {run.name: run for run in JobRun.objects.filter(pk__in=list(latest))}


def job_runs(*, name: str | None = None, limit: int = 50) -> QuerySet[JobRun]:
    qs = JobRun.objects.all() if name is None else JobRun.objects.filter(name=name)
    return qs.order_by("-started_at", "-id")[:limit]

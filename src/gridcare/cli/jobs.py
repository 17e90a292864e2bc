"""`gridcare jobs …` and `gridcare worker`: the periodic jobs of src/gridcare/jobs/schedule.yaml.

    gridcare worker [--workers 4]             the Huey consumer: runs every job on its schedule
    gridcare jobs list                        name, schedule, lock, next run, last run
    gridcare jobs run NAME [--as-of ISO]      run one job now (operators; cron lines without a worker)
    gridcare jobs check [--file F.yaml]       validate the schedule (the shipped one + GRIDCARE_JOBS_SCHEDULE)

Exit status of `jobs run`: 0 succeeded, 1 failed (the error is printed and recorded), 3 skipped
because another run holds the job's lock, 2 bad arguments (unknown job, bad date, bad schedule).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import app, parse_as_of, setup_django

jobs_app = typer.Typer(help="Periodic jobs: list the schedule, run one now.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
err = Console(stderr=True)
STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "skipped": "yellow", "running": "cyan"}


def _as_of(text: str | None) -> datetime:
    return parse_as_of(text, example="2026-11-30T02:00")

def _schedule():
    from gridcare.jobs.schedule import ScheduleError, job_schedule

    try:
        return job_schedule()
    except ScheduleError as exc:
        err.print(f"[bold red]error:[/] schedule: {exc.message}")
        raise typer.Exit(2) from None


def _local(value: datetime | None) -> str:
    from gridcare.core.calendars import BUSINESS_TZ

    return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if value else "-"


@jobs_app.command("list")
def jobs_list(as_of: str = typer.Option(None, "--as-of", help="next runs after this instant (default: now)")) -> None:
    """Every job with its schedule (business time zone), lock, next run and last run."""
    setup_django()
    at = _as_of(as_of)
    from gridcare.jobs.selectors import job_last_runs

    schedule = _schedule()
    last = job_last_runs()
    table = Table(title=f"periodic jobs ({schedule.source})", title_justify="left")
    for column in ("job", "schedule", "lock"):
        table.add_column(column, overflow="fold")
    for column in ("next run", "last run", "status"):
        table.add_column(column, no_wrap=True)
    for job in schedule.jobs.values():
        run = last.get(job.name)
        status = run.status if run else "-"
        table.add_row(job.name, job.schedule.text, job.lock or "-",
                      _local(job.schedule.next_after(at)) if job.enabled else "disabled",
                      _local(run.started_at if run else None),
                      f"[{STATUS_STYLE.get(status, '')}]{status}[/]" if run else "-")
    console = Console()
    console.print(table)
    console.print("Times are in the business time zone (Asia/Shanghai).")
    for job in schedule.jobs.values():
        console.print(f"[bold]{job.name}[/]: {job.description}", highlight=False)


@jobs_app.command("run")
def jobs_run(
    name: str = typer.Argument(..., help="job name (see `gridcare jobs list`)"),
    as_of: str = typer.Option(None, "--as-of", help="business time the job runs as of (default: now)"),
) -> None:
    """Run one job now, with its lock, and record the run like the worker does."""
    setup_django()
    at = _as_of(as_of)
    from gridcare.core.errors import NotFound
    from gridcare.jobs.services import job_run

    _schedule()
    try:
        run = job_run(name=name, as_of=at)
    except NotFound as exc:
        err.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    console = Console()
    seconds = (run.finished_at - run.started_at).total_seconds()
    details = ", ".join(f"{k} {v}" for k, v in run.summary.items()) or "-"
    style = STATUS_STYLE.get(run.status, "")
    console.print(f"{name}: [{style}]{run.status}[/] in {seconds:.1f} s as of {_local(run.as_of)} — {details}")
    if run.status == "failed":
        err.print(run.error.rstrip().splitlines()[-1] if run.error.strip() else "failed")
        raise typer.Exit(1)
    if run.status == "skipped":
        raise typer.Exit(3)


@jobs_app.command("check")
def jobs_check(file: Path = typer.Option(None, "--file", help="a company schedule file to check over the shipped one")
               ) -> None:
    """Validate the schedule; prints each job's next run, or the first error (exit 2)."""
    import os

    if file is not None:
        os.environ["GRIDCARE_JOBS_SCHEDULE"] = str(file)
    setup_django()
    from gridcare.jobs.schedule import reset_cache

    reset_cache()
    schedule = _schedule()
    at = _as_of(None)
    for job in schedule.jobs.values():
        Console().print(f"{job.name:<16} {job.schedule.text:<18} next {_local(job.schedule.next_after(at))}"
                        f"{'' if job.enabled else ' (disabled)'}")
    Console().print(f"schedule OK: {len(schedule.jobs)} jobs ({schedule.source})")


@app.command("worker")
def worker(
    workers: int = typer.Option(4, "--workers", "-w", min=1, max=64,
                                help="worker threads: a long nightly job must not hold up the every-minute ones"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log every task the worker runs"),
) -> None:
    """Run the job worker (Huey consumer) in the foreground: every job on its schedule, plus queued tasks.

    Run exactly one per installation, as a second long-running process beside the web server.
    """
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    _schedule()
    if settings.HUEY.get("immediate"):
        err.print("[bold red]error:[/] GRIDCARE_HUEY_IMMEDIATE is set: tasks run inline and nothing is scheduled; "
                  "unset it to run the worker")
        raise typer.Exit(2)
    # run_huey gives the "huey" logger its own handler; without this every line also reaches the root one.
    logging.getLogger("huey").propagate = False
    options = {"workers": workers, "worker_type": "thread", "periodic": True}
    if verbose:
        options["verbose"] = True
    call_command("run_huey", **options)

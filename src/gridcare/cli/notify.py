"""`gridcare notify …`: deliver the outbox now, and see where it stands.

    gridcare notify dispatch [--limit 500] [--as-of 2026-11-10T10:00] [--once]
    gridcare notify status [--as-of …]

`dispatch` is what the `outbox` job runs every minute under `gridcare worker`; run it from cron
instead when no worker runs. Exit status: 0 done (failed deliveries are reported, not an error: the
outbox retries them per policy), 2 bad arguments.
"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from gridcare.cli.app import app, parse_as_of, setup_django

notify_app = typer.Typer(help="Outbox delivery: SMS, e-mail and in-app messages.", no_args_is_help=True)
app.add_typer(notify_app, name="notify")

STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


def _as_of(text: str | None) -> datetime:
    return parse_as_of(text)

def _local(value: datetime) -> str:
    from gridcare.core.calendars import BUSINESS_TZ

    return value.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


@notify_app.command("dispatch")
def dispatch(
    limit: int = typer.Option(500, "--limit", min=1, max=100_000, help="messages per batch"),
    as_of: str = typer.Option(None, "--as-of", help="deliver what is due at this instant (default: now)"),
    once: bool = typer.Option(False, "--once", help="one batch only, instead of until nothing is due"),
) -> None:
    """Deliver due messages, batch after batch, until nothing more is due (idempotent)."""
    setup_django()
    at = _as_of(as_of)
    from gridcare.jobs.registry import outbox_drain
    from gridcare.notifications.selectors import outbox_due_count

    console = Console()
    pending = outbox_due_count(as_of=at)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(f"dispatching up to {pending:,} pending messages", total=None)

        def progress(r) -> None:
            bar.update(task, description=f"batch {r.batches}: {r.sent:,} sent, {r.retrying:,} retrying, "
                                         f"{r.failed:,} failed, {r.deferred:,} deferred")

        result = outbox_drain(as_of=at, limit=limit, once=once, on_batch=progress)
    table = Table(title=f"outbox at {_local(at)}", title_justify="left")
    table.add_column("outcome")
    table.add_column("messages", justify="right")
    for label, value, style in (("sent", result.sent, "green"), ("retrying later", result.retrying, "yellow"),
                                ("failed", result.failed, "red"), ("deferred (quiet hours)", result.deferred, "")):
        table.add_row(label, f"[{style}]{value:,}[/{style}]" if style and value else f"{value:,}")
    console.print(table)
    console.print(f"sent {result.sent}, failed {result.failed}, deferred {result.deferred}, "
                  f"retrying {result.retrying} in {result.batches} batch(es); "
                  f"pending (retries waiting included) {outbox_due_count(as_of=at):,}")


@notify_app.command("status")
def status(as_of: str = typer.Option(None, "--as-of", help="count what is due at this instant (default: now)")) -> None:
    """Messages by status, and how many are due now."""
    setup_django()
    at = _as_of(as_of)
    from gridcare.notifications.selectors import outbox_due_count, outbox_status_counts

    counts = outbox_status_counts()
    table = Table(title="outbox", title_justify="left")
    table.add_column("status")
    table.add_column("messages", justify="right")
    for name in (*STATUSES, *sorted(set(counts) - set(STATUSES))):
        table.add_row(name, f"{counts.get(name, 0):,}")
    console = Console()
    console.print(table)
    console.print(f"pending and scheduled by {_local(at)} (retries waiting included): "
                  f"{outbox_due_count(as_of=at):,}")

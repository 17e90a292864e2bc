"""`gridcare service …`: the SLA tick (cron), importing .eml messages, the breach report.

    gridcare service tick [--as-of 2026-11-10T10:00]     warnings, breaches, escalations (run every minute)
    gridcare service mail-import MAIL.eml [MORE.eml …]    one work order per message (idempotent)
    gridcare service breaches --start 2026-11-01 --end 2026-12-01 [--org-unit 4401]
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import app, parse_as_of, setup_django

service_app = typer.Typer(help="Service desk: SLA tick, e-mail intake, breach report.", no_args_is_help=True)
app.add_typer(service_app, name="service")
console = Console()


def _as_of(value: str | None) -> datetime:
    return parse_as_of(value)

def _day(value: str, hint: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date such as 2026-11-01", param_hint=hint) from None


@service_app.command("tick")
def tick(as_of: str = typer.Option(None, "--as-of", help="evaluate at this instant (default: now)")) -> None:
    """Warn before limits run out, record breaches (negative list), climb the escalation chain,
    expire old surveys. Idempotent; run it every minute from cron."""
    setup_django()
    from gridcare.service.models import SlaClock
    from gridcare.service.services import sla_tick

    at = _as_of(as_of)
    started = time.perf_counter()
    result = sla_tick(as_of=at)
    elapsed = time.perf_counter() - started
    running = SlaClock.objects.filter(status=SlaClock.Status.RUNNING).count()
    table = Table(title=f"SLA tick at {at.isoformat(timespec='minutes')}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value, style in (("warnings sent", result.warnings, "yellow"),
                                ("breaches recorded", result.breaches, "red"),
                                ("escalations", result.escalations, "red"),
                                ("surveys expired", result.expired_surveys, ""),
                                ("clocks still running", running, "")):
        table.add_row(label, f"[{style}]{value}[/{style}]" if style and value else str(value))
    console.print(table)
    console.print(f"done in {elapsed:.2f} s")


@service_app.command("mail-import")
def mail_import(files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                                   help=".eml files")) -> None:
    """Turn .eml messages into work orders. A message already imported (same Message-ID) is
    reported, not duplicated; a bad file is reported with its reason and the others go on."""
    setup_django()
    from django.utils import timezone

    from gridcare.core.errors import GridcareError
    from gridcare.service.services import work_order_from_email

    table = Table(title="e-mail intake")
    for column in ("file", "result", "work order", "notes"):
        table.add_column(column)
    failed = 0
    for path in files:
        try:
            result = work_order_from_email(raw=path.read_bytes(), as_of=timezone.now())
        except GridcareError as exc:
            failed += 1
            table.add_row(path.name, "[red]rejected[/red]", "", f"{exc.field}: {exc.message}")
            continue
        order = result.work_order
        notes = "; ".join(result.rejected_attachments) or f"{order.category} → {order.org_unit.code}"
        table.add_row(path.name, "[green]created[/green]" if result.created else "already imported", order.number,
                      notes)
    console.print(table)
    if failed:
        raise typer.Exit(code=1)


@service_app.command("breaches")
def breaches(start: str = typer.Option(..., "--start", help="first day (inclusive)"),
             end: str = typer.Option(..., "--end", help="last day (exclusive)"),
             org_unit: str = typer.Option("", "--org-unit", help="org unit code; its subtree")) -> None:
    """Time limits that fell due in [start, end): on time vs breached per org unit, type, milestone."""
    setup_django()
    from django.utils import timezone

    from gridcare.service.selectors import breach_report

    first, last = _day(start, "--start"), _day(end, "--end")
    if last <= first:
        raise typer.BadParameter("--end must be after --start", param_hint="--end")
    tz = timezone.get_default_timezone()
    rows = breach_report(user=None, start=datetime.combine(first, datetime.min.time(), tzinfo=tz),
                         end=datetime.combine(last, datetime.min.time(), tzinfo=tz), as_of=timezone.now(),
                         org_unit_code=org_unit)
    table = Table(title=f"time limits due {first} – {last}")
    for column in ("org unit", "type", "milestone", "due", "on time", "breached", "on-time rate"):
        table.add_column(column, justify="right" if column in ("due", "on time", "breached", "on-time rate") else "left")
    for r in rows:
        rate = f"{r.on_time_rate:.1%}" if r.on_time_rate is not None else "—"
        table.add_row(r.org_unit, r.type, r.clock, str(r.total), str(r.on_time),
                      f"[red]{r.breached}[/red]" if r.breached else "0", rate)
    console.print(table)

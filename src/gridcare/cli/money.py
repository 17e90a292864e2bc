"""`gridcare reconcile ...` (statements, day close, reports) and `gridcare collections ...` (the
nightly late-fee / dunning / suspension job, late-fee quotes).

Dates: `--as-of 2026-11-30` means 09:00 that day in the business time zone (a morning job: messages
go out at once instead of waiting for quiet hours to end); a full ISO datetime is taken as given.
Exit status of `reconcile import`: 0 imported (discrepancies are reported, not failures), 1 rows
rejected (nothing imported), 2 the file or the source is unusable.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gridcare.cli.app import app, import_app, parse_as_of, setup_django

reconcile_app = typer.Typer(help="Bank and agency statement reconciliation (电费对账).", no_args_is_help=True)
collections_app = typer.Typer(help="Late fees, dunning and suspension of supply (电费回收).", no_args_is_help=True)
app.add_typer(reconcile_app, name="reconcile")
app.add_typer(collections_app, name="collections")

MAX_ERRORS_SHOWN = 200
MORNING = time(9, 0)


def _as_of(text: str | None) -> datetime:
    return parse_as_of(text, bare_date_at=MORNING)

def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _yuan(fen: int) -> str:
    from gridcare.core.money import format_yuan

    return format_yuan(fen)


# -- reconcile ------------------------------------------------------------------------------------
def _import(file: Path, *, source: str, kind: str | None, dry_run: bool) -> None:
    setup_django()
    from gridcare.core.calendars import BUSINESS_TZ
    from gridcare.core.errors import GridcareError
    from gridcare.reconciliation.services import StatementRejected, statement_import

    console, err = Console(), Console(stderr=True)
    try:
        content = file.read_bytes()
    except OSError as exc:
        err.print(f"[bold red]error:[/] {file}: {exc.strerror}")
        raise typer.Exit(2) from None
    try:
        result = statement_import(source=source, kind=kind, content=content, file_name=file.name, actor=None,
                                  as_of=datetime.now(tz=BUSINESS_TZ), dry_run=dry_run)
    except StatementRejected as exc:
        table = Table(title=f"rejected rows in {file.name} — nothing was imported", title_justify="left")
        for column in ("line", "field", "reason"):
            table.add_column(column, justify="right" if column == "line" else "left")
        for e in exc.errors[:MAX_ERRORS_SHOWN]:
            table.add_row(str(e.line), e.field or "-", e.message)
        err.print(table)
        if len(exc.errors) > MAX_ERRORS_SHOWN:
            err.print(f"… and {len(exc.errors) - MAX_ERRORS_SHOWN} more")
        raise typer.Exit(1) from None
    except GridcareError as exc:
        err.print(f"[bold red]error:[/] {file}: {exc.message}")
        raise typer.Exit(2) from None
    if not result.created and not result.dry_run:
        console.print(f"{file.name}: already imported as statement #{result.statement.pk}; nothing changed")
        return
    table = Table(title=f"{file.name} ({source})" + (" — dry run, nothing written" if dry_run else ""),
                  title_justify="left")
    table.add_column("outcome")
    table.add_column("lines", justify="right")
    for status in ("matched", "mismatched", "duplicate", "unmatched"):
        table.add_row(status, f"{result.counts.get(status, 0):,}")
    table.add_row("already imported (skipped)", f"{result.skipped:,}")
    console.print(table)
    rate = result.auto_rate
    console.print(f"lines {result.lines:,}; discrepancies opened (督办工单) {result.discrepancies:,}; "
                  f"earlier 资金未到账 now cleared {result.resolved_missing:,}; "
                  f"auto-reconciled {rate:.2%}" if rate is not None else "no new lines")


@reconcile_app.command("import")
def reconcile_import(
    file: Path = typer.Argument(..., help="statement file in the source's configured layout", show_default=False),
    bank: str = typer.Option("", "--bank", help="bank code (policy: statements.<CODE>, kind bank)"),
    agency: str = typer.Option("", "--agency", help="agency code (kind agency)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="match and report, write nothing"),
) -> None:
    """Import a bank or agency statement and match it against the payments booked."""
    if bool(bank) == bool(agency):
        raise typer.BadParameter("give exactly one of --bank or --agency")
    _import(file, source=bank or agency, kind="bank" if bank else "agency", dry_run=dry_run)


@import_app.command("bank-statement")
def import_bank_statement(
    file: Path = typer.Argument(..., show_default=False),
    bank: str = typer.Option(..., "--bank", help="bank code"),
    dry_run: bool = typer.Option(False, "--dry-run"),
) -> None:
    """Same as `gridcare reconcile import FILE --bank X`."""
    _import(file, source=bank, kind="bank", dry_run=dry_run)


def _print_report(report) -> None:
    console = Console()
    data = report.data
    table = Table(title=f"daily reconciliation report {data['business_date']}", title_justify="left")
    for column in ("source", "statement", "payments", "matched", "mismatched", "duplicate", "unmatched",
                   "未到账", "open"):
        table.add_column(column, justify="left" if column in ("source", "statement") else "right")
    for code, row in data["sources"].items():
        lines = row["lines"]
        table.add_row(code, "yes" if row["statement"] else "-",
                      f"{row['payments']['count']:,} / {_yuan(row['payments']['amount_fen'])}",
                      *(f"{lines[s]['count']:,}" for s in ("matched", "mismatched", "duplicate", "unmatched")),
                      f"{row['missing']:,}", f"{row['open_discrepancies']:,}")
    console.print(table)
    totals = data["totals"]
    rate = f"{Decimal(totals['auto_rate']):.2%}" if totals["auto_rate"] else "-"
    console.print(f"auto-reconciliation rate (自动对账率) for the day: {rate} "
                  f"({totals['auto']:,} of {totals['lines']:,} lines + {totals['missing']:,} unseen payments)")
    if data["statements_missing"]:
        console.print(f"[yellow]no statement yet from:[/] {', '.join(data['statements_missing'])}")


@reconcile_app.command("close")
def reconcile_close(
    as_of: str = typer.Option(None, "--as-of", help="run date; closes as-of minus settlement_lag_days"),
    day: str = typer.Option(None, "--date", help="close this business date instead"),
) -> None:
    """Close a business day: payments no statement showed become 资金未到账 discrepancies; print the report."""
    setup_django()
    from gridcare.reconciliation.policy import reconciliation_policy
    from gridcare.reconciliation.services import reconciliation_day_close

    when = _as_of(as_of)
    business_date = _day(day) if day else (when.date() - timedelta(days=reconciliation_policy().settlement_lag_days))
    _print_report(reconciliation_day_close(business_date=business_date, actor=None, as_of=when))


@reconcile_app.command("report")
def reconcile_report(day: str = typer.Option(..., "--date", help="business date (YYYY-MM-DD)")) -> None:
    """Print the daily reconciliation report of a closed day."""
    setup_django()
    from gridcare.reconciliation.selectors import daily_report_get

    report = daily_report_get(business_date=_day(day))
    if report is None:
        Console(stderr=True).print(f"[bold red]error:[/] {day} is not closed yet (gridcare reconcile close --date {day})")
        raise typer.Exit(1)
    _print_report(report)


@reconcile_app.command("rate")
def reconcile_rate(
    month: str = typer.Option(..., "--month", help="YYYY-MM"),
    source: str = typer.Option("", "--source"),
) -> None:
    """自动对账率 of a month: lines matched automatically / (all lines + payments never shown)."""
    setup_django()
    from gridcare.reconciliation.selectors import auto_reconciliation_rate

    start = _day(f"{month}-01")
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    r = auto_reconciliation_rate(start=start, end=end, source=source)
    rate = f"{r.rate:.2%}" if r.rate is not None else "-"
    Console().print(f"{month}{' ' + source if source else ''}: 自动对账率 {rate} — {r.auto:,} automatic of {r.total:,} "
                    f"(manual {r.manual:,}; open discrepancies {r.open_discrepancies:,})")


@reconcile_app.command("generate")
def reconcile_generate(
    source: str = typer.Option(..., "--source", help="statement source code, e.g. ICBC"),
    day: str = typer.Option(..., "--date", help="business date of the payments"),
    out: Path = typer.Option(..., "--out", help="file to write"),
    seed: int = typer.Option(1, "--seed"),
    missing: float = typer.Option(0.01, "--missing", min=0, max=1),
    amount: float = typer.Option(0.005, "--amount", min=0, max=1),
    duplicate: float = typer.Option(0.005, "--duplicate", min=0, max=1),
    no_reference: float = typer.Option(0.03, "--no-reference", min=0, max=1),
    late: float = typer.Option(0.05, "--late", min=0, max=1),
    unknown: float = typer.Option(0.005, "--unknown", min=0, max=1),
) -> None:
    """Write a synthetic statement for a day's payments, with the given shares of problems."""
    setup_django()
    from gridcare.core.errors import GridcareError
    from gridcare.reconciliation.generate import Noise, statement_generate

    try:
        generated = statement_generate(source=source, business_date=_day(day), seed=seed, noise=Noise(
            missing=missing, amount=amount, duplicate=duplicate, no_reference=no_reference, late=late,
            unknown=unknown))
    except GridcareError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    out.write_bytes(generated.content)
    injected = ", ".join(f"{k} {v}" for k, v in generated.injected.items())
    Console().print(f"{out}: {generated.lines:,} lines for {generated.payments:,} payments ({injected})")


# -- collections ----------------------------------------------------------------------------------
STEP_LABELS = {"late_fees": "late fees (违约金)", "promises": "payment promises", "suspension_follow_up":
               "suspensions: paid / restoration", "calls": "call tasks", "dunning": "dunning (催费)",
               "suspension_proposals": "suspension proposals", "suspension_reminders": "suspension reminders"}


@collections_app.command("run")
def collections_run(
    as_of: str = typer.Option(None, "--as-of", help="business date (09:00) or ISO datetime; default now"),
    month_end: bool = typer.Option(None, "--month-end/--no-month-end",
                                   help="assess late fees on every overdue bill (default: on the last day of a month)"),
) -> None:
    """The nightly job: late fees, promises, suspension follow-up, dunning, suspension proposals, reminders."""
    setup_django()
    from gridcare.collections.services import collections_run as run
    from gridcare.collections.services.run import STEPS

    when = _as_of(as_of)
    console = Console()
    with Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        tasks = {name: bar.add_task(STEP_LABELS[name], total=None, start=False) for name in STEPS}
        current: list[str] = []

        def progress(step: str, n: int, total: int) -> None:
            if not current or current[-1] != step:
                for done in current:
                    t = bar.tasks[tasks[done]]
                    bar.update(tasks[done], total=t.total or max(t.completed, 1), completed=t.total or 1)
                current.append(step)
                bar.start_task(tasks[step])
            if total:
                bar.update(tasks[step], total=total, completed=n)

        result = run(as_of=when, month_end=month_end, progress=progress)
        for name in STEPS:
            t = bar.tasks[tasks[name]]
            bar.update(tasks[name], total=t.total or 1, completed=t.total or 1)
    fees, dunning, proposals = result.late_fees, result.dunning, result.proposals
    table = Table(title=f"collections run {when:%Y-%m-%d %H:%M}", title_justify="left")
    table.add_column("step")
    table.add_column("result")
    table.add_row("late fees", f"{fees.posted} posted, {_yuan(fees.posted_fen)} 元 "
                               f"({', '.join(f'{k} {v}' for k, v in fees.by_reason.items()) or 'none'})")
    table.add_row("promises", f"{result.promises_kept} kept, {result.promises_broken} broken")
    table.add_row("suspensions", f"{result.follow_up.cancelled} cancelled, {result.follow_up.restoring} to restore, "
                                 f"{proposals.proposed} proposed, {proposals.protected} protected skipped, "
                                 f"{result.reminders} reminders")
    table.add_row("dunning", f"{dunning.queued} messages, {dunning.calls} call tasks, {dunning.skipped} skipped "
                             f"({', '.join(f'{k} {v}' for k, v in dunning.by_stage.items()) or 'no stage due'})")
    table.add_row("calls cancelled (paid)", str(result.calls_cancelled))
    console.print(table)


@collections_app.command("quote")
def collections_quote(
    account: str = typer.Option(..., "--account", help="account number (户号)"),
    day: str = typer.Option(None, "--date", help="payment date; default today"),
) -> None:
    """Show the late fee (违约金) an account would pay on a date, with the working."""
    setup_django()
    from django.utils import timezone

    from gridcare.collections.services import late_fee_quote
    from gridcare.customers.models import Account

    found = Account.objects.filter(number=account).first()
    if found is None:
        Console(stderr=True).print(f"[bold red]error:[/] account {account} not found")
        raise typer.Exit(2)
    when = _day(day) if day else timezone.localdate()
    quotes = late_fee_quote(account_id=found.pk, as_of_date=when)
    console = Console()
    if not quotes:
        console.print(f"{account}: no overdue bill on {when}")
        return
    for q in quotes:
        console.print(f"{q.reference} due {q.due_date}: {q.fee.formula()} (assessed {_yuan(q.assessed_fen)}, "
                      f"still to assess {_yuan(q.unassessed_fen)})")
    console.print(f"total still to assess: {_yuan(sum(q.unassessed_fen for q in quotes))} 元")

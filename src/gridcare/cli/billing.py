"""`gridcare billing run|status|deliver|issue-backbilling|pdf` and `gridcare import reads FILE`.

`billing run` is idempotent and resumable: it continues the period's active run if there is one
(after a crash or a kill), never bills an account twice for a period, and prints a Rich progress
bar while chunks commit. Exit status: 0 completed, 1 the run failed (its error is printed), 2 bad
arguments (unknown org unit, closed period, bad period code).

`import reads` prints the import report (accepted, estimated, quarantined by reason); exit 0 when
the file was imported (quarantined rows are reported, not failures), 2 when the file is refused as
a whole (nothing written; every bad row listed with its line number).

Test hook: GRIDCARE_BILLING_KILL_AFTER=N makes `billing run` SIGKILL itself inside the transaction
of the chunk that reaches N accounts (tests prove a killed run resumes to the same bills).
"""

from __future__ import annotations

import os
from datetime import datetime, time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gridcare.cli.app import app, import_app, parse_as_of, setup_django

billing_app = typer.Typer(help="Billing runs, bills and their delivery (T/CI 1281 §7.2–7.5).", no_args_is_help=True)
app.add_typer(billing_app, name="billing")

KILL_ENV = "GRIDCARE_BILLING_KILL_AFTER"
MORNING = time(9, 0)
MAX_ROWS_SHOWN = 200


def _as_of(text: str | None) -> datetime:
    return parse_as_of(text, bare_date_at=MORNING)

def _yuan(fen: int) -> str:
    from gridcare.core.money import format_yuan

    return format_yuan(fen)


@billing_app.command("run")
def billing_run(
    period: str = typer.Option(..., "--period", help="billing period YYYY-MM"),
    org: str | None = typer.Option(None, "--org", help="org unit code; its whole subtree is billed"),
    chunk_size: int | None = typer.Option(None, "--chunk-size", min=1, max=100_000,
                                          help="accounts per transaction (default from billing/defaults.yaml)"),
    as_of: str | None = typer.Option(None, "--as-of", help="business time of the run (default: now)"),
) -> None:
    """Compute consumption, rate, audit and write draft bills for every account of the period."""
    setup_django()
    from gridcare.billing import services
    from gridcare.core.errors import GridcareError
    from gridcare.customers.models import OrgUnit

    console = Console()
    err = Console(stderr=True)
    when = _as_of(as_of)
    unit = None
    if org:
        unit = OrgUnit.objects.filter(code=org).first()
        if unit is None:
            err.print(f"[bold red]error:[/] no org unit {org!r}")
            raise typer.Exit(2)
    try:
        run = services.billing_run_start(period_code=period, org_unit=unit, actor=None, as_of=when,
                                         chunk_size=chunk_size)
    except GridcareError as exc:
        err.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    resumed = run.processed_accounts > 0
    console.print(f"billing run {run.pk} for {period} ({run.scope_key}): {run.total_accounts} accounts"
                  + (f", resuming after {run.processed_accounts}" if resumed else ""))
    kill_after = int(os.environ.get(KILL_ENV) or 0) or None
    with Progress(TextColumn("[bold]billing {task.fields[period]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[billed]} bills"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("run", total=max(run.total_accounts, 1), completed=run.processed_accounts,
                            period=period, billed=run.billed_accounts)

        def progress(r) -> None:
            bar.update(task, total=max(r.total_accounts, 1), completed=r.processed_accounts, billed=r.billed_accounts)

        try:
            run = services.billing_run_execute(run_id=run.pk, as_of=when, progress=progress, kill_after=kill_after)
        except GridcareError as exc:
            err.print(f"[bold red]error:[/] {exc.message}")
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - logged by the service; the run is marked failed
            err.print(f"[bold red]run failed:[/] {exc}")
            raise typer.Exit(1) from None
    _print_run(console, run)


def _print_run(console: Console, run) -> None:
    from gridcare.billing import selectors

    counts = selectors.run_bill_counts(run=run)
    table = Table(title=f"run {run.pk} · {run.period_code} · {run.scope_key} · {run.status}", title_justify="left")
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("accounts", str(run.processed_accounts))
    table.add_row("bills", str(run.billed_accounts))
    table.add_row("skipped", str(run.skipped_accounts))
    table.add_row("estimated reads", str((run.stats or {}).get("estimated_reads", 0)))
    table.add_row("open exceptions", str(counts.get("open_exceptions", 0)))
    table.add_row("amount", _yuan(counts.get("amount_fen", 0)))
    seconds = (run.stats or {}).get("seconds", {})
    total = sum(seconds.values()) or 1
    for stage, secs in seconds.items():
        table.add_row(f"time: {stage}", f"{secs:.2f} s ({secs * 100 / total:.0f}%)")
    console.print(table)
    skips = list(run.skips.select_related("account")[:MAX_ROWS_SHOWN])
    if skips:
        t = Table(title="skipped accounts", title_justify="left")
        t.add_column("account")
        t.add_column("stage")
        t.add_column("reason")
        for s in skips:
            t.add_row(s.account.number, s.stage, s.reason)
        console.print(t)


@billing_app.command("status")
def billing_status(period: str | None = typer.Option(None, "--period", help="only this period")) -> None:
    """Recent runs with their progress."""
    setup_django()
    from gridcare.billing.models import BillingRun

    console = Console()
    runs = BillingRun.objects.select_related("org_unit").order_by("-created_at", "-id")
    if period:
        runs = runs.filter(period_code=period)
    table = Table(title="billing runs", title_justify="left")
    for col in ("run", "period", "scope", "status", "progress", "bills", "skipped"):
        table.add_column(col)
    for r in runs[:30]:
        table.add_row(str(r.pk), r.period_code, r.scope_key, r.status, f"{r.processed_accounts}/{r.total_accounts}",
                      str(r.billed_accounts), str(r.skipped_accounts))
    console.print(table)


@billing_app.command("deliver")
def billing_deliver(
    period: str = typer.Option(..., "--period", help="billing period YYYY-MM"),
    as_of: str | None = typer.Option(None, "--as-of", help="business time (default: now)"),
) -> None:
    """Queue the notices of the period's issued bills in the outbox (SMS, e-mail, in-app); idempotent."""
    setup_django()
    from gridcare.billing import services
    from gridcare.billing.models import Bill

    ids = list(Bill.objects.filter(period_code=period, status=Bill.Status.ISSUED).values_list("pk", flat=True))
    report = services.bills_deliver(bill_ids=ids, as_of=_as_of(as_of))
    Console().print(f"{len(ids)} issued bills: {report.queued} notices queued, {report.skipped} without a "
                    f"contact on the channel, {report.failed} refused")


@billing_app.command("issue-backbilling")
def billing_issue_backbilling(
    case: str = typer.Argument(..., help="back-billing case number (TB…) or id"),
    user: str = typer.Option(..., "--user", help="username of the issuer (needs billing.issue)"),
    as_of: str | None = typer.Option(None, "--as-of", help="business time (default: now)"),
) -> None:
    """Issue an approved back-billing (退补) case as its own adjustment bill, once, and queue its notice.
    Exit 2 when the case or user is unknown or the case cannot be billed (not approved, already billed)."""
    setup_django()
    from gridcare.access.models import User
    from gridcare.billing import services
    from gridcare.core.errors import GridcareError
    from gridcare.parameters.models import BackBillingCase

    err = Console(stderr=True)
    issuer = User.objects.filter(username=user).first()
    found = BackBillingCase.objects.filter(number=case).first() or (
        BackBillingCase.objects.filter(pk=int(case)).first() if case.isdigit() else None)
    if issuer is None or found is None:
        err.print(f"[bold red]error:[/] no {'user' if issuer is None else 'back-billing case'} "
                  f"{user if issuer is None else case!r}")
        raise typer.Exit(2)
    when = _as_of(as_of)
    try:
        bill = services.bill_backbilling_issue(case_id=found.pk, actor=issuer, as_of=when)
    except GridcareError as exc:
        err.print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    services.bills_deliver(bill_ids=[bill.pk], as_of=when)
    kind = "补收 to collect" if bill.total_fen > 0 else "退还 credited"
    Console().print(f"{found.number}: adjustment bill {bill.number} issued, {_yuan(bill.total_fen)} yuan ({kind}), "
                    f"{bill.lines.count()} lines, due {bill.due_date}")


@billing_app.command("pdf")
def billing_pdf(
    number: str = typer.Argument(..., help="bill number, e.g. B202610-0000000002-1"),
    out: Path = typer.Option(..., "--out", "-o", help="PDF file to write"),
) -> None:
    """Write a bill's PDF document."""
    setup_django()
    from gridcare.access.models import User
    from gridcare.access.roles import Role
    from gridcare.billing.document import bill_pdf
    from gridcare.billing.models import Bill
    from gridcare.billing.selectors import bill_document

    bill = Bill.objects.filter(number=number).first()
    if bill is None:
        Console(stderr=True).print(f"[bold red]error:[/] no bill {number!r}")
        raise typer.Exit(2)
    operator = User(username="cli", role=Role.ADMINISTRATOR)  # unsaved: whole scope, personal data masked
    out.write_bytes(bill_pdf(document=bill_document(user=operator, bill_id=bill.pk)))
    Console().print(f"wrote {out}")


@import_app.command("reads")
def import_reads(
    file: Path = typer.Argument(..., help="register reads or 24/96-point interval data, CSV or Parquet",
                                show_default=False),
    as_of: str | None = typer.Option(None, "--as-of", help="business time of the import (default: now)"),
) -> None:
    """Import meter reads; every row is accepted, estimated, quarantined with a reason or unchanged."""
    setup_django()
    from django.utils import translation

    from gridcare.metering.errors import ReadFileInvalid
    from gridcare.metering.services import reads_import

    console = Console()
    err = Console(stderr=True)
    if not file.is_file():
        err.print(f"[bold red]error:[/] {file}: no such file")
        raise typer.Exit(2)
    try:
        # The CLI speaks English (its labels are English); the console shows the same messages in zh-Hans.
        with translation.override("en"):
            report = reads_import(content=file.read_bytes(), filename=file.name, actor=None, as_of=_as_of(as_of))
    except ReadFileInvalid as exc:
        err.print(f"[bold red]error:[/] {file.name}: {exc.message}")
        if exc.problems:
            table = Table(title="bad rows", title_justify="left")
            table.add_column("line", justify="right")
            table.add_column("problem")
            for line, message in exc.problems[:MAX_ROWS_SHOWN]:
                table.add_row(str(line), message)
            err.print(table)
        raise typer.Exit(2) from None
    if report.already_imported:
        console.print(f"{file.name} was already imported (import {report.import_id}); nothing changed")
    console.print(f"{file.name}: {report.rows_total} rows ({report.kind}); accepted {report.accepted} "
                  f"(estimated {report.estimated}), quarantined {report.quarantined}, unchanged {report.unchanged}")
    if report.by_reason:
        table = Table(title="quarantined by reason", title_justify="left")
        table.add_column("reason")
        table.add_column("rows", justify="right")
        for reason, n in report.by_reason.items():
            table.add_row(reason, str(n))
        console.print(table)
    if report.quarantined_rows:
        table = Table(title="quarantined rows", title_justify="left")
        for col in ("line", "meter", "register", "date", "reason", "detail"):
            table.add_column(col)
        for r in report.quarantined_rows[:MAX_ROWS_SHOWN]:
            table.add_row(str(r["line"]), r["asset_number"], r["register"], r["read_date"], r["reason"],
                          r.get("detail", ""))
        console.print(table)
    if report.estimated_by_method or report.register_check:
        console.print("interval gaps: estimated " + ", ".join(f"{m} {n}" for m, n in report.estimated_by_method.items())
                      + "; days against the register: "
                      + ", ".join(f"{k} {n}" for k, n in report.register_check.items()))

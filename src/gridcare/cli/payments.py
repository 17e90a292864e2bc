"""`gridcare payments ...`: post issued bills to the ledger, bank debit files and result files,
agency files, the ledger invariant check, balances and the payment KPIs.

Exit status of the imports: 0 every row accepted, 1 some rows rejected (the good ones posted),
2 the file, the bank or the agency is unusable (nothing posted). `check`: 0 consistent, 1 not.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gridcare.cli.app import app, parse_as_of, setup_django

payments_app = typer.Typer(help="Receivables ledger and payments (电费缴费).", no_args_is_help=True)
app.add_typer(payments_app, name="payments")
MAX_ERRORS_SHOWN = 200


def _as_of(text: str | None) -> datetime:
    return parse_as_of(text, bare_date_at=time(9, 0))

def _yuan(fen: int) -> str:
    from gridcare.core.money import format_yuan

    return format_yuan(fen)


@payments_app.command("post-bills")
def post_bills(as_of: str = typer.Option(None, "--as-of", help="YYYY-MM-DD or ISO datetime (default: now)")) -> None:
    """Post a receivable for every issued bill that has none yet (idempotent, resumable)."""
    setup_django()
    from gridcare.payments.services import receivables_post_issued_bills

    r = receivables_post_issued_bills(as_of=_as_of(as_of))
    Console().print(f"bills posted: {r.charges} ({_yuan(r.charged_fen)} 元); credit notes: {r.credit_notes} "
                    f"({_yuan(r.credited_fen)} 元); credit applied: {_yuan(r.credit_applied_fen)} 元; "
                    f"skipped: {len(r.skipped)}")
    for bill_id, reason in r.skipped[:MAX_ERRORS_SHOWN]:
        Console(stderr=True).print(f"  bill {bill_id}: {reason}")


@payments_app.command("debit-file")
def debit_file(bank: str = typer.Option(..., "--bank", help="bank code from policy/banks.yaml"),
               out: Path = typer.Option(Path("."), "--out", help="directory to write the file to"),
               as_of: str = typer.Option(None, "--as-of")) -> None:
    """Generate the auto-debit (批扣) file for one bank."""
    setup_django()
    from gridcare.core.errors import GridcareError
    from gridcare.payments.services import debit_batch_generate

    try:
        batch = debit_batch_generate(bank_code=bank, as_of=_as_of(as_of))
    except GridcareError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    if batch is None:
        Console().print("nothing to debit")
        return
    target = out / batch.file_name
    target.write_bytes(bytes(batch.content))
    Console().print(f"{batch.number}: {batch.items_count} items, {_yuan(batch.total_fen)} 元 → {target}")


def _report(file: Path, report) -> None:
    console = Console()
    console.print(f"{file.name}: rows {report.rows}, posted {report.posted} ({_yuan(report.posted_fen)} 元), "
                  f"failed debits {report.failed}, already posted {report.duplicates}, rejected {len(report.errors)}")
    if report.errors:
        table = Table(title="rejected rows (nothing posted from them)", title_justify="left")
        for column in ("line", "field", "reason"):
            table.add_column(column)
        for e in report.errors[:MAX_ERRORS_SHOWN]:
            table.add_row(str(e.line), e.field or "", e.message)
        Console(stderr=True).print(table)
        raise typer.Exit(1)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {file}: {exc.strerror}")
        raise typer.Exit(2) from None


@payments_app.command("import-debit-result")
def import_debit_result(file: Path, bank: str = typer.Option(..., "--bank"),
                        as_of: str = typer.Option(None, "--as-of")) -> None:
    """Import a bank's auto-debit result file."""
    setup_django()
    from gridcare.core.errors import GridcareError
    from gridcare.payments.services import debit_result_import

    content = _read(file)
    try:
        report = debit_result_import(bank_code=bank, content=content, file_name=file.name, as_of=_as_of(as_of))
    except GridcareError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    _report(file, report)


@payments_app.command("import-agency")
def import_agency(file: Path, agency: str = typer.Option(..., "--agency"),
                  as_of: str = typer.Option(None, "--as-of")) -> None:
    """Import an agency's collection (代收) file."""
    setup_django()
    from gridcare.core.errors import GridcareError
    from gridcare.payments.services import agency_file_import

    content = _read(file)
    try:
        report = agency_file_import(agency_code=agency, content=content, file_name=file.name, as_of=_as_of(as_of))
    except GridcareError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}")
        raise typer.Exit(2) from None
    _report(file, report)


@payments_app.command("check")
def check() -> None:
    """Prove the ledger invariants: every entry balances, every balance is the sum of its postings,
    no open item is overpaid."""
    setup_django()
    from gridcare.payments.selectors import ledger_check

    r = ledger_check()
    console = Console()
    console.print(f"entries: {r.entries}; unbalanced: {len(r.unbalanced_entries)}; "
                  f"balance mismatches: {len(r.header_mismatches)}; overpaid items: {len(r.overpaid_charges)}")
    if not r.ok:
        for account_id, header, total in r.header_mismatches[:MAX_ERRORS_SHOWN]:
            console.print(f"  account {account_id}: header {header} ≠ postings {total}")
        for entry_id in r.unbalanced_entries[:MAX_ERRORS_SHOWN]:
            console.print(f"  entry {entry_id} does not balance")
        raise typer.Exit(1)
    console.print("[green]ledger consistent[/]")


@payments_app.command("balance")
def balance(account_number: str) -> None:
    """An account's balance and open items."""
    setup_django()
    from django.utils import timezone

    from gridcare.customers.models import Account
    from gridcare.payments.selectors import account_balance, open_items

    account = Account.objects.filter(number=account_number).first()
    if account is None:
        Console(stderr=True).print(f"[bold red]error:[/] no account {account_number}")
        raise typer.Exit(2)
    b = account_balance(account_id=account.pk)
    console = Console()
    console.print(f"{account.number}: owed {_yuan(b.owed_fen)} 元, credit {_yuan(b.credit_fen)} 元, "
                  f"balance {_yuan(b.balance_fen)} 元{' (prepaid)' if b.prepaid else ''}")
    table = Table("item", "kind", "due", "outstanding", "overdue days")
    for i in open_items(account_id=account.pk, as_of_date=timezone.localdate()):
        table.add_row(i.charge.reference, i.charge.kind, i.charge.due_date.isoformat(), _yuan(i.outstanding_fen),
                      str(i.overdue_days))
    console.print(table)


@payments_app.command("kpi")
def kpi(month: str = typer.Option(None, "--month", help="YYYY-MM of the bills' due dates (default: this month)"),
        as_of: str = typer.Option(None, "--as-of")) -> None:
    """批扣代扣比率 and 电费回收率 (bills due in the month, collected by --as-of)."""
    setup_django()
    from gridcare.core.calendars import BUSINESS_TZ
    from gridcare.payments.selectors import collection_inputs, debit_ratio

    day = _as_of(as_of).astimezone(BUSINESS_TZ).date()
    try:
        start = date.fromisoformat(f"{month}-01") if month else day.replace(day=1)
    except ValueError:
        raise typer.BadParameter(f"{month!r} is not YYYY-MM") from None
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    r = debit_ratio(as_of_date=day)
    c = collection_inputs(start=start, end=end, as_of_date=day)
    console = Console()
    console.print(f"批扣代扣比率 {r.percent}% ({r.mandated_accounts}/{r.total_accounts} accounts) on {day}")
    console.print(f"电费回收率 {c.percent}% for bills due {start:%Y-%m}: collected {_yuan(c.collected_fen)} of "
                  f"{_yuan(c.receivable_fen)} 元 (billed {_yuan(c.billed_fen)}, credited {_yuan(c.credited_fen)})")
